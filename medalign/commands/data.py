"""`medalign data prepare pubmedqa|meqsum|TASK`: thin wrappers around data/'s loaders and prepare.py."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
import typer.core
from rich.console import Console

from data import meqsum, pubmedqa
from data.prepare import build_examples, write_prepared
from data.prompts import MEQSUM_TEMPLATE, PUBMEDQA_TEMPLATE, validate_template
from data.records import DataError
from data.safe_output import check_output_folder, output_folder
from data.tables import read_text
from medalign.errors import add_commands, guard, warn
from medalign.options import OVERWRITE

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
    where = "--template"
    if value.startswith("@"):
        where = value[1:]
        value = read_text(Path(where))
    # A shell passes "\n" literally; a template must end on a real newline.
    with _named(where):
        return validate_template(value.replace("\\n", "\n"), require_context=require_context)


PUSH = Annotated[str | None, typer.Option("--push-to-hub", help="Share the prepared folder (with its dataset card) "
                                          "to a Hub dataset repository user/name, or a local folder (file:///path).")]


@contextlib.contextmanager
def _named(source) -> Iterator[None]:
    """A DataError about the source as a whole (no records in it) names the source file, one
    about --n or --holdout the option: never "<input>"."""
    try:
        yield
    except DataError as exc:
        if exc.file is None and exc.field in ("n", "holdout"):  # about an option, not the source
            exc.file, exc.field = f"--{exc.field}", None
        elif exc.file is None:
            exc.file = str(source if source is not None else "the bundled sample")
        raise


def _prepare(dataset: str, loader, source, n, holdout, seed, out, template_option, default_template,
             require_context, holdout_ids: list[str] | None = None, split: dict | None = None,
             push: str | None = None, overwrite: bool = False) -> None:
    check_output_folder(out, overwrite=overwrite)  # before any work: a user's folder is never written into
    template = _template(template_option, default_template, require_context=require_context)
    with _named(source):
        records, source_info = loader(source)
        if split is not None:
            source_info = dict(source_info, split=split)
            holdout = len(holdout_ids)
        prepared = build_examples(records, n=n, holdout=holdout, seed=seed, template=template, holdout_ids=holdout_ids)
    for warning in prepared.warnings:
        warn(warning)
    with output_folder(out, overwrite=overwrite) as staging:  # written beside it, then renamed into place
        manifest = write_prepared(
            prepared, staging, dataset=dataset, source=source_info, seed=seed, n=n, holdout=holdout, template=template
        )
    counts = manifest["counts"]
    err.print(
        f"{dataset}: read {counts['records_read']}, dropped {counts['duplicates_dropped']} duplicate question(s), "
        f"wrote {counts['train']} train + {counts['holdout']} holdout to {out}",
        highlight=False,
    )
    if push:
        from training.share import push_folder

        err.print(f"shared {out} -> {push_folder(out, push, repo_type='dataset')}", highlight=False)


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
    split: Annotated[str, typer.Option(help="random (a seeded holdout of --holdout items) or official-test (the "
                                            "500 items of PQA-L's official test split as the holdout; --source "
                                            "ori_pqal.json with test_ground_truth.json beside it).")] = "random",
    push_to_hub: PUSH = None,
    overwrite: OVERWRITE = False,
) -> None:
    """PubMedQA: prompt = context then question; answer = the long answer."""
    if split not in ("random", "official-test"):
        raise typer.BadParameter("random or official-test", param_hint="--split")
    holdout_ids, split_info = None, None
    if split == "official-test":
        holdout_ids, info = pubmedqa.official_test_ids(source)
        split_info = {"kind": "official-test", "name": info["name"], "sha256": info["sha256"], "items": info["items"]}
    _prepare("pubmedqa", pubmedqa.load_source, source, n, holdout, seed, out, template, PUBMEDQA_TEMPLATE, True,
             holdout_ids=holdout_ids, split=split_info, push=push_to_hub, overwrite=overwrite)


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
    overwrite: OVERWRITE = False,
) -> None:
    """MeQSum: prompt = the consumer health question; answer = the summary."""
    _prepare("meqsum", meqsum.load_source, source, n, holdout, seed, out, template, MEQSUM_TEMPLATE, False,
             overwrite=overwrite)


def task_prepare_command(name: str):
    """A click command for `data prepare NAME`, or None when NAME is no task (click then says so)."""
    # data.task_prepare and data.tasks load pydantic and the task schema: start-up cost, so on use.
    from data.task_prepare import prepare_task
    from data.tasks import TASKS_DIR

    if not (TASKS_DIR / f"{name}.yaml").is_file() and not name.endswith((".yaml", ".yml")):
        return None

    def run(
        out: Annotated[Path, typer.Option("--out", help="Output folder for train.jsonl, holdout.jsonl, manifest.json.")],
        source: Annotated[str | None, typer.Option(help="Source file in the task's format (default: bundled sample).")] = None,
        labels: Annotated[Path | None, typer.Option("--labels", help="CSV mapping label codes to names "
                                                    "(default: the task's labels file beside the source).")] = None,
        n: N = 5000,
        holdout: HOLDOUT = 100,
        seed: SEED = 0,
        overwrite: OVERWRITE = False,
    ) -> None:
        check_output_folder(out, overwrite=overwrite)  # before any work
        with _named(source), output_folder(out, overwrite=overwrite) as staging:
            result = prepare_task(name, source=source, labels=labels, n=n, holdout=holdout, seed=seed, out=staging)
        for warning in result["warnings"]:
            warn(warning)
        counts = result["manifest"]["counts"]
        err.print(f"{name}: read {counts['records_read']}, dropped {counts['duplicates_dropped']} duplicate(s), "
                  f"wrote {counts['train']} train + {counts['holdout']} holdout to {out}", highlight=False)

    single = typer.Typer()
    single.command(name=name, help=f"Prepare task {name!r} (see `medalign tasks show {name}`).")(guard(run))
    return typer.main.get_command(single)


class _TaskPrepareGroup(typer.core.TyperGroup):
    """`data prepare T`: the fixed commands, or any task (configs/tasks/T.yaml or a .yaml path),
    built on demand so that a task file added to configs/tasks/ needs no code."""

    def list_commands(self, ctx):
        from data.tasks import task_names  # pydantic: start-up cost (only when the group is listed)

        return sorted(set(super().list_commands(ctx)) | set(task_names()))

    def get_command(self, ctx, name):
        return super().get_command(ctx, name) or task_prepare_command(name)


def register(root: typer.Typer) -> None:
    prepare = typer.Typer(
        help="Prepare train/holdout splits with a manifest: `prepare TASK --source FILE` for any task "
             "(`medalign tasks list`), or the original `prepare pubmedqa|meqsum`.",
        no_args_is_help=True, cls=_TaskPrepareGroup,
    )
    add_commands(prepare, {"pubmedqa": prepare_pubmedqa, "meqsum": prepare_meqsum})
    group = typer.Typer(help="Load and prepare data sets (PubMedQA, MeQSum, any task).", no_args_is_help=True)
    group.add_typer(prepare, name="prepare")
    root.add_typer(group, name="data")
