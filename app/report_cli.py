"""`medalign report ...`: the evaluation package applied to a study (from the database) or to a
judgment export file, plus generation files and a DPO run folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.admin_cli import DB, fail
from data.records import DataError

out = Console()
err = Console(stderr=True, soft_wrap=True)
report_app = typer.Typer(
    help="Evaluation report (win rate, HQ, ROUGE, agreement, bias); `report hq`, `report power`.",
    invoke_without_command=True,
)


def study_rows(study: str, db: str | None) -> tuple[list[dict], dict]:
    from app import storage
    from app.db import open_database

    engine = open_database(db)
    try:
        with storage.transaction(engine) as session:
            record = storage.get_study(session, study)
            rows = storage.export_judgments(session, record)
            settings = storage.study_settings(session, record)
    except storage.StorageError as exc:
        raise fail(str(exc)) from exc
    return rows, settings


@report_app.callback()
def report(
    ctx: typer.Context,
    study: Annotated[str | None, typer.Option("--study", help="Study in the database.")] = None,
    judgments: Annotated[Path | None, typer.Option("--judgments", help="A judgment export (.csv/.jsonl) instead of --study.")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="DPO run folder (metrics.jsonl, run.json).")] = None,
    generations: Annotated[Path | None, typer.Option("--generations", help="Generation JSONL (HQ, ROUGE).")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Target system of the win rate (default: dpo).")] = None,
    gold_threshold: Annotated[float, typer.Option("--gold-threshold")] = 0.8,
    out_dir: Annotated[Path | None, typer.Option("--out")] = None,
    db: DB = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    from evaluation.contract import parse_rating
    from evaluation.judgments import load_generations, normalise_row
    from evaluation.rating_report import is_rating_export, is_rating_study, load_ratings
    from evaluation.report import build_summary, read_run, write_report
    from evaluation.table import from_rows, read_judgments

    if out_dir is None or (study is None and judgments is None and generations is None):
        raise fail("give --out and at least one of --study, --judgments, --generations")
    try:
        if study is not None:
            raw, settings = study_rows(study, db)
            if is_rating_study(raw, settings):  # a rating study has its own report
                return _rating_report([parse_rating(r, file=f"study {study}", line=k) for k, r in enumerate(raw, 1)],
                                      settings, out_dir, unused=generations or run)
            # columns (evaluation.table) keep a large study's report fast; every row still passes the contract
            rows = from_rows([normalise_row(r, file=f"study {study}", line=k) for k, r in enumerate(raw, 1)]) if raw else []
        elif judgments is not None:
            if is_rating_export(judgments):
                return _rating_report(load_ratings(judgments), {"judgments_file": str(judgments)}, out_dir,
                                      unused=generations or run)
            rows, settings = read_judgments(judgments), {"judgments_file": str(judgments)}
        else:
            rows, settings = [], {}
        gens = load_generations(generations) if generations else None
        run_info = read_run(run)
    except (DataError, FileNotFoundError) as exc:
        raise fail(str(exc)) from exc
    if generations:
        settings["generations_file"] = str(generations)
    summary = build_summary(rows, target=system, generations=gens, run=run_info, settings=settings,
                            gold_threshold=gold_threshold)
    written = write_report(summary, rows, out_dir)
    err.print(f"report: {', '.join(p.name for p in written)} in {out_dir}")


def _rating_report(rows: list[dict], settings: dict, out_dir: Path, *, unused=None) -> None:
    """Rating study: means, intervals, paired tests and agreement per criterion (no win rate)."""
    from evaluation.rating_report import write_rating_report

    if unused:
        err.print("note: --generations and --run belong to pairwise reports; the rating report leaves them out")
    written = write_rating_report(rows, settings, out_dir)
    err.print(f"rating study report: {', '.join(p.name for p in written if not p.name.startswith('criterion_'))} "
              f"and {sum(p.name.startswith('criterion_') for p in written)} plot files in {out_dir}")


@report_app.command("hq")
def report_hq(
    generations: Annotated[Path, typer.Option("--generations", help="Generation JSONL with outputs per system.")],
    task: Annotated[str, typer.Option("--task", help="Kind of task: question_answering (all checks, a stance "
                                      "outweighs them) or summarization (refusals only).")] = "question_answering",
    no_stance_check: Annotated[bool, typer.Option("--no-stance-check", help="Count evasion signals even when the "
                                                  "answer states a position.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers to this file.")] = None,
) -> None:
    """Helpfulness Quotient of every system in a generation file (automatic detector)."""
    from evaluation.helpfulness import EvasionDetector, hq_from_generations
    from evaluation.judgments import load_generations

    try:
        rows = load_generations(generations)
    except DataError as exc:
        raise fail(str(exc)) from exc
    try:
        detector = EvasionDetector.for_task(task)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if no_stance_check:
        detector = EvasionDetector(require_stance=False, signals=detector.signals)
    results = hq_from_generations(rows, detector)
    table = Table("system", "answers", "evasive", "HQ", "95% Wilson", "reasons")
    for h in results:
        table.add_row(h.system, str(h.n_total), str(h.n_evasive), f"{h.hq:.3f}", f"{h.ci_low:.3f}-{h.ci_high:.3f}",
                      ", ".join(f"{k} {v}" for k, v in sorted(h.reasons.items())))
    out.print(table)
    if json_out:
        json_out.write_text(json.dumps([h.as_dict() for h in results], indent=2) + "\n")


@report_app.command("power")
def report_power(
    expected: Annotated[float, typer.Option("--expected", help="Expected win rate among decisive judgments.")],
    alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
    power: Annotated[float, typer.Option("--power")] = 0.8,
) -> None:
    """Decisive judgments needed to tell the expected win rate from 0.5 (two-sided)."""
    from evaluation.power import sample_size

    try:
        result = sample_size(expected, alpha=alpha, power=power)
    except ValueError as exc:
        raise fail(str(exc)) from exc
    out.print(f"expected win rate {expected}, alpha {alpha}, power {power}: "
              f"{result['exact_sign_test']} decisive judgments (exact sign test); "
              f"normal approximation {result['normal_approximation']}, statsmodels (arcsine) {result['arcsine_statsmodels']}")
