"""`medalign judge`: a model judge over a study (`run`), and is it good enough (`validate`).

    medalign judge run --study S --judge configs/judges/NAME.yaml
    medalign judge validate --study S            # or --judgments EXPORT [--physician-sample random]

Verdicts are stored as judgments of a rater of kind `model` (never a physician); `validate` prints
the judge against physicians and the prediction-powered interval beside the physicians-only one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from medalign.errors import CommandError, add_commands, fail
from medalign.options import DB

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def _study_units(db, name: str) -> tuple[str, dict | None, list[dict]]:
    from app import storage
    from app.admin import in_transaction
    from app.storage.raters import judge_units

    def read(session):
        study = storage.get_study(session, name)
        return str(study.kind), (json.loads(study.rubric) if study.rubric else None), judge_units(session, study)

    return in_transaction(db, read)


def run_command(
    study: Annotated[str, typer.Option("--study", help="Study in the database.")],
    judge: Annotated[Path, typer.Option("--judge", help="Judge configuration (configs/judges/NAME.yaml).")],
    record: Annotated[Path | None, typer.Option("--record", help="Where the run record goes (tokens, time, counts); "
                                                "default runs/judge/STUDY-JUDGE.run.json.")] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Judge only the first N units (a pilot).")] = None,
    db: DB = None,
) -> None:
    """Run a model judge over every unit of a study and store its verdicts as a model rater's judgments."""
    from app import storage
    from app.admin import in_transaction
    from app.storage.raters import model_rater, store_verdicts
    from training.judge.backends import JudgeError
    from training.judge.config import JudgeConfigError, load_judge_config
    from training.judge.runner import run_judge

    try:
        config = load_judge_config(judge)
    except JudgeConfigError as exc:
        raise fail(str(exc)) from None
    kind, rubric, units = _study_units(db, study)
    units = units[:limit] if limit else units
    if not units:
        raise fail(f"study {study!r} has no units to judge")
    try:
        result = run_judge(units, kind, config, rubric=rubric)
    except JudgeError as exc:
        raise CommandError(str(exc)) from None

    def save(session):
        found = storage.get_study(session, study)
        return store_verdicts(session, found, model_rater(session, config.name), result.verdicts)

    counts = in_transaction(db, save)
    path = record or Path("runs/judge") / f"{study}-{config.name}.run.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**result.record, "stored": counts}, indent=2) + "\n", encoding="utf-8")
    r = result.record
    out.print(f"judge {config.name} on {study}: {r['units']} units, {r['ok']} verdicts, {r['unparsed']} unparsed, "
              f"{r['errors']} failed, {r['order_inconsistent']} order-inconsistent (counted as ties); "
              f"{r['sent']} calls sent, {r['cached']} from the cache; {r['prompt_tokens']} prompt + "
              f"{r['completion_tokens']} completion tokens; stored {counts['stored']} new, {counts['updated']} updated; "
              f"record {path}")


def _rows_and_design(db, study: str | None, judgments: Path | None, physician_sample: str | None):
    """(kind, export rows of both rater kinds, target default, physician sample declared?)."""
    if (study is None) == (judgments is None):
        raise fail("give one of --study and --judgments")
    if physician_sample not in (None, "random"):
        raise fail("--physician-sample takes one value: random (the physician items were a uniform random sample)")
    if study is not None:
        from app import storage
        from app.admin import in_transaction

        def read(session):
            found = storage.get_study(session, study)
            return str(found.kind), storage.export_judgments(session, found), found.physician_sample is not None

        kind, rows, declared = in_transaction(db, read)
        return kind, rows, declared or physician_sample == "random"
    from evaluation.judgments import read_export

    kind, rows = read_export(judgments)
    return str(kind), rows, physician_sample == "random"


def validate_command(
    study: Annotated[str | None, typer.Option("--study", help="Study in the database.")] = None,
    judgments: Annotated[Path | None, typer.Option("--judgments", help="An export with both rater kinds.")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Target system of the win rate (default: dpo).")] = None,
    physician_sample: Annotated[str | None, typer.Option("--physician-sample", help="random: declare that the "
                                                         "physicians' items were a uniform random sample (PPI needs it)")] = None,
    primary: Annotated[str, typer.Option("--primary", help="decisive (wins / decisive votes) or all")] = "decisive",
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers as JSON here.")] = None,
    db: DB = None,
) -> None:
    """The judge against physicians on the units they judged, and the PPI interval."""
    from evaluation.ppi_report import judge_summary, render_text

    kind, rows, declared = _rows_and_design(db, study, judgments, physician_sample)
    systems = sorted({r.get("system_a") or r.get("system") for r in rows} | {r.get("system_b") for r in rows} - {None})
    target = system or ("dpo" if "dpo" in systems else (systems[-1] if systems else None))
    section = judge_summary(rows, kind=kind, target=target, primary=primary, declared_sample=declared)
    if section is None:
        raise fail("no model-rater judgments here: run `medalign judge run --study S --judge CONFIG` first")
    out.print(render_text(section), highlight=False)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(section, indent=2, default=str) + "\n", encoding="utf-8")


def register(root: typer.Typer) -> None:
    group = typer.Typer(help="A model judge: run it over a study, validate it against physicians.",
                        no_args_is_help=True)
    root.add_typer(add_commands(group, {"run": run_command, "validate": validate_command}), name="judge")


def _is_model(row: dict) -> bool:
    return (row.get("rater_kind") or "physician") == "model"


def physicians_only(judged, judgments_file: Path | None) -> tuple[object, list[dict] | None]:
    """(what the physicians' report reads, every row when a model rater judged too, else None). An
    export read as columns is read as rows again only when its header has a rater_kind column and the
    column reader (evaluation/table.py) did not find physicians only in it."""
    rows = judged if isinstance(judged, list) else None
    checked = getattr(judged, "physicians_only", None)  # the column reader's look at rater_kind (None: not looked)
    if rows is None and checked is True:
        return judged, None
    if rows is None and judgments_file is not None:
        with open(judgments_file, encoding="utf-8", errors="replace") as handle:
            header = handle.readline()
        if "rater_kind" in header and not checked:  # a model rater seen, or a file the column reader did not read
            from evaluation.judgments import read_export

            rows = read_export(judgments_file)[1]
    if not rows or not any(_is_model(r) for r in rows):
        return judged, None
    return [r for r in rows if not _is_model(r)], rows


def add_judge_sections(rows: list[dict], kind: str, out_dir: Path, *, target: str | None, study: str | None, db,
                       physician_sample: str | None, primary: str | None) -> list[Path]:
    """summary.json gains `judge` and, for pairwise studies, `win_rate.ppi` beside the physicians-only
    headline; report.md gains the judge's section. Returns the files written."""
    from evaluation.ppi_report import judge_summary, render_text

    declared = physician_sample == "random"
    if study is not None:
        from app import storage
        from app.admin import in_transaction

        declared = declared or in_transaction(db, lambda s: storage.get_study(s, study).physician_sample is not None)
    summary_path = out_dir / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else {}
    target = target or (summary.get("win_rate") or {}).get("system") or "dpo"
    primary = primary or (summary.get("analysis_plan") or {}).get("primary") or "decisive"
    section = judge_summary(rows, kind=kind, target=target, primary=primary, declared_sample=declared)
    if section is None:
        return []
    summary["judge"] = json.loads(json.dumps(section, default=str))
    if kind == "pairwise" and isinstance(summary.get("win_rate"), dict):
        summary["win_rate"]["ppi"] = summary["judge"]["ppi"]
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    written = [summary_path]
    report_md = out_dir / "report.md"
    if report_md.is_file():
        with report_md.open("a", encoding="utf-8") as handle:
            handle.write("\n## Model judge (not a physician)\n\n```\n" + render_text(section) + "\n```\n")
        written.append(report_md)
    return written
