"""`medalign data ...`: thin command-line wrappers around the loaders and prepare.py."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.console import Console

from data import meqsum, pubmedqa
from data.prepare import build_examples, write_prepared
from data.prompts import MEQSUM_TEMPLATE, PUBMEDQA_TEMPLATE, validate_template
from data.records import DataError
from data.task_cli import task_prepare_command as _task_prepare_command

app = typer.Typer(help="Load and prepare data sets (PubMedQA, MeQSum).", no_args_is_help=True)
class _TaskPrepareGroup(typer.core.TyperGroup):
    """`data prepare T`: the fixed commands below, or any task (configs/tasks/T.yaml or a .yaml path)."""

    def list_commands(self, ctx):
        from data.tasks import task_names

        return sorted(set(super().list_commands(ctx)) | set(task_names()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or _task_prepare_command(name)


prepare_app = typer.Typer(
    help="Prepare train/holdout splits with a manifest: `prepare TASK --source FILE` for any task "
         "(`medalign tasks list`), or the original `prepare pubmedqa|meqsum`.",
    no_args_is_help=True, cls=_TaskPrepareGroup,
)
app.add_typer(prepare_app, name="prepare")

err = Console(stderr=True, soft_wrap=True)

N = Annotated[int, typer.Option("--n", help="Examples to take after de-duplication (all if fewer).")]
HOLDOUT = Annotated[int, typer.Option(help="Size of the disjoint holdout split.")]
SEED = Annotated[int, typer.Option(help="Seed of the shuffle.")]
OUT = Annotated[Path, typer.Option("--out", help="Output folder for train.jsonl, holdout.jsonl, manifest.json.")]
TEMPLATE = Annotated[
    str | None,
    typer.Option(help="Prompt template with {context} and {question}, ending on a newline; '@FILE' reads a file."),
]


def _template(value: str | None, default: str, *, require_context: bool) -> str:
    if value is None:
        return default
    if value.startswith("@"):
        from data.tables import read_text

        value = read_text(Path(value[1:]))
    # A shell passes "\n" literally; a template must end on a real newline.
    return validate_template(value.replace("\\n", "\n"), require_context=require_context)


def _run(dataset: str, loader, source, n, holdout, seed, out, template_option, default_template, require_context) -> None:
    try:
        template = _template(template_option, default_template, require_context=require_context)
        records, source_info = loader(source)
        prepared = build_examples(records, n=n, holdout=holdout, seed=seed, template=template)
    except DataError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(2) from exc
    for warning in prepared.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    manifest = write_prepared(
        prepared, out, dataset=dataset, source=source_info, seed=seed, n=n, holdout=holdout, template=template
    )
    counts = manifest["counts"]
    err.print(
        f"{dataset}: read {counts['records_read']}, dropped {counts['duplicates_dropped']} duplicate question(s), "
        f"wrote {counts['train']} train + {counts['holdout']} holdout to {out}",
        highlight=False,
    )


@prepare_app.command("pubmedqa")
def prepare_pubmedqa(
    out: OUT,
    source: Annotated[
        str | None,
        typer.Option(help="'sample' (default: bundled synthetic sample), 'hf:pqa_labeled' (or pqa_artificial, "
                          "pqa_unlabeled; 'hf:REPO:CONFIG' for another repo or a local copy), "
                          "an ori_pqal.json-style .json, or a .jsonl/.csv with question, context, answer."),
    ] = None,
    n: N = 5000,
    holdout: HOLDOUT = 500,
    seed: SEED = 0,
    template: TEMPLATE = None,
) -> None:
    """PubMedQA: prompt = context then question; answer = the long answer."""
    _run("pubmedqa", pubmedqa.load_source, source, n, holdout, seed, out, template, PUBMEDQA_TEMPLATE, True)


@prepare_app.command("meqsum")
def prepare_meqsum(
    out: OUT,
    source: Annotated[
        str | None,
        typer.Option(help="MeQSum .xlsx as published, or .csv/.jsonl with File, CHQ, Summary "
                          "(default: bundled synthetic sample)."),
    ] = None,
    n: N = 1000,
    holdout: HOLDOUT = 100,
    seed: SEED = 0,
    template: TEMPLATE = None,
) -> None:
    """MeQSum: prompt = the consumer health question; answer = the summary."""
    _run("meqsum", meqsum.load_source, source, n, holdout, seed, out, template, MEQSUM_TEMPLATE, False)
