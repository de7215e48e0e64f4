"""`medalign data prepare TASK --source FILE`: one command per task, built on demand so that a
task file added to configs/tasks/ (or given by path) needs no code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from data.records import DataError

err = Console(stderr=True, soft_wrap=True)


def prepare_task(task_name: str, *, source: str | None, labels: Path | None, n: int, holdout: int, seed: int,
                 out: Path) -> dict:
    """Load, validate, de-duplicate, split and write; nothing is written when any record is bad."""
    from data.prepare import write_prepared
    from data.task_prepare import build_task_examples
    from data.task_sources import load_task_source
    from data.tasks import load_task

    task = load_task(task_name)
    records, source_info = load_task_source(task, source, labels_file=labels)
    prepared = build_task_examples(task, records, n=n, holdout=holdout, seed=seed)
    source_info = {**source_info, "task": task.name, "task_version": task.version,
                   "dedup_fields": list(task.dedup_fields)}
    manifest = write_prepared(prepared, out, dataset=task.name, source=source_info, seed=seed, n=n, holdout=holdout,
                              template=task.prompt_template)
    return {"manifest": manifest, "warnings": prepared.warnings}


def task_prepare_command(name: str):
    """A click command for `data prepare NAME`, or None when NAME is no task (click then says so)."""
    from data.tasks import TASKS_DIR

    if not (TASKS_DIR / f"{name}.yaml").is_file() and not name.endswith((".yaml", ".yml")):
        return None
    single = typer.Typer()

    @single.command(name=name, help=f"Prepare task {name!r} (see `medalign tasks show {name}`).")
    def run(
        out: Annotated[Path, typer.Option("--out", help="Output folder for train.jsonl, holdout.jsonl, manifest.json.")],
        source: Annotated[str | None, typer.Option(help="Source file in the task's format (default: bundled sample).")] = None,
        labels: Annotated[Path | None, typer.Option("--labels", help="CSV mapping label codes to names "
                                                    "(default: the task's labels file beside the source).")] = None,
        n: Annotated[int, typer.Option("--n", help="Examples to take after de-duplication (all if fewer).")] = 5000,
        holdout: Annotated[int, typer.Option(help="Size of the disjoint holdout split.")] = 100,
        seed: Annotated[int, typer.Option(help="Seed of the shuffle.")] = 0,
    ) -> None:
        try:
            result = prepare_task(name, source=source, labels=labels, n=n, holdout=holdout, seed=seed, out=out)
        except DataError as exc:
            err.print(f"[red]error:[/red] {exc}", highlight=False)
            raise typer.Exit(2) from exc
        for warning in result["warnings"]:
            err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
        counts = result["manifest"]["counts"]
        err.print(f"{name}: read {counts['records_read']}, dropped {counts['duplicates_dropped']} duplicate(s), "
                  f"wrote {counts['train']} train + {counts['holdout']} holdout to {out}", highlight=False)

    return typer.main.get_command(single)
