"""`medalign report ...`: the evaluation package applied to a study (from the database) or to a
judgment export file, plus generation files and a DPO run folder; `report hq|power|compare|compute`."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from data.records import DataError
from medalign.commands.tasks import load_task_checked
from medalign.errors import add_commands, fail, guard
from medalign.options import DB, OVERWRITE

out = Console()
err = Console(stderr=True, soft_wrap=True)
TASK = Annotated[str, typer.Option("--task", help="Task name (`medalign tasks list`) or a task .yaml path.")]


def report(
    ctx: typer.Context,
    study: Annotated[str | None, typer.Option("--study", help="Study in the database.")] = None,
    judgments: Annotated[Path | None, typer.Option("--judgments", help="A judgment export (.csv/.jsonl) instead of --study.")] = None,
    run: Annotated[Path | None, typer.Option("--run", help="DPO run folder (metrics.jsonl, run.json).")] = None,
    generations: Annotated[Path | None, typer.Option("--generations", help="Generation JSONL (HQ, ROUGE).")] = None,
    system: Annotated[str | None, typer.Option("--system", help="Target system of the win rate (default: dpo).")] = None,
    gold_threshold: Annotated[float, typer.Option("--gold-threshold")] = 0.8,
    out_dir: Annotated[Path | None, typer.Option("--out")] = None,
    overwrite: OVERWRITE = False,
    primary: Annotated[str | None, typer.Option("--primary", help="The number that heads the report: decisive "
                                                "(wins / (wins + losses), default) or all (wins / all judgments); a "
                                                "study's declared analysis plan otherwise.")] = None,
    physician_sample: Annotated[str | None, typer.Option("--physician-sample", help="random: the export's physician "
                                                         "items were a uniform random sample (the model judge's PPI "
                                                         "interval needs it)")] = None,
    db: DB = None,
) -> None:
    if ctx.invoked_subcommand is not None:
        return
    # statsmodels, scipy, matplotlib and SQLModel cost seconds of start-up: imported when a report is made.
    from data.generations import read_generations
    from evaluation.judgments import read_for_report
    from evaluation.kinds import DEFAULT_KIND, get_kind
    from evaluation.report import read_run

    if out_dir is None or (study is None and judgments is None and generations is None):
        raise fail("give --out and at least one of --study, --judgments, --generations")
    from data.safe_output import check_output_folder, output_folder

    check_output_folder(out_dir, overwrite=overwrite)  # before any work: a user's folder is never written into
    if study is not None:
        from app.admin import study_judgments

        stored = study_judgments(db, study)
        # checked when they were stored: the study's rows reach its kind's report as they are
        kind, judged, settings = get_kind(stored.settings["kind"]), stored.rows, stored.settings
    elif judgments is not None:
        kind, judged = read_for_report(judgments)  # every row checked by its kind's parser
        settings = {"judgments_file": str(judgments)}
    else:
        kind, judged, settings = get_kind(DEFAULT_KIND), [], {}
    unused = kind.unused_options(generations=generations, run=run, target=system)
    if unused:
        flags = {"generations": "--generations", "run": "--run", "target": "--system"}
        err.print(f"note: {', '.join(flags[k] for k in unused)} not used by the {kind.name} report; left out")
    options = {}
    if primary is not None:
        from evaluation.plan import AnalysisPlan

        options["plan"] = {"primary": AnalysisPlan(primary=primary).primary, "declared": False, "source": "--primary"}
    if generations and "generations" not in unused:
        options["generations"] = read_generations(generations)
        settings["generations_file"] = str(generations)
    if run and "run" not in unused:
        options["run"] = read_run(run)
    from medalign.commands.judge import add_judge_sections, physicians_only

    judged, judge_rows = physicians_only(judged, judgments)  # model raters never count as physicians (issue 21)
    with output_folder(out_dir, overwrite=overwrite) as staging:  # written beside it, then renamed into place
        written = kind.write_report(judged, settings, staging, target=system, gold_threshold=gold_threshold, **options)
        if judge_rows:
            written += add_judge_sections(judge_rows, kind.name, staging, target=system, study=study, db=db,
                                          physician_sample=physician_sample,
                                          primary=options.get("plan", {}).get("primary"))
    err.print(f"{kind.name} study report: {', '.join(p.name for p in written)} in {out_dir}")
    _quick_exit()


@functools.cache  # registered once; in a longer-lived process (tests) it runs only when that process ends
def _quick_exit() -> None:
    """At the interpreter's exit, freeze what the report left (gc.freeze): the exit's garbage
    collections then skip the report's objects, a large share of the command's end (100k judgments:
    finalisation ~0.2-0.5 s -> ~0.04 s)."""
    import atexit
    import gc

    atexit.register(gc.freeze)


def report_hq(
    generations: Annotated[Path, typer.Option("--generations", help="Generation JSONL with outputs per system.")],
    task: Annotated[str, typer.Option("--task", help="Kind of task: question_answering (all checks, a stance "
                                      "outweighs them) or summarization (refusals only).")] = "question_answering",
    no_stance_check: Annotated[bool, typer.Option("--no-stance-check", help="Count evasion signals even when the "
                                                  "answer states a position.")] = False,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the numbers to this file.")] = None,
) -> None:
    """Helpfulness Quotient of every system in a generation file (automatic detector)."""
    from data.generations import read_generations
    from evaluation.helpfulness import EvasionDetector, hq_from_generations  # scipy: start-up cost

    rows = read_generations(generations)
    detector = EvasionDetector.for_task(task)
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


def report_power(
    expected: Annotated[float, typer.Option("--expected", help="Expected win rate among decisive judgments.")],
    physicians: Annotated[int | None, typer.Option("--physicians", help="Physicians in the planned study.")] = None,
    items: Annotated[int | None, typer.Option("--items", help="Items in the planned study.")] = None,
    overlap: Annotated[int, typer.Option("--overlap", help="Physicians per item.")] = 3,
    target_power: Annotated[float | None, typer.Option("--target-power", help="Search the physicians and items that "
                                                       "reach this power.")] = None,
    pilot: Annotated[Path | None, typer.Option("--pilot", help="A pilot study's judgment export: physician and item "
                                               "variance estimated from it (else logit sd 0.5 and 1.0).")] = None,
    ties: Annotated[float, typer.Option("--ties", help="Expected share of ties and both-bad votes.")] = 0.0,
    studies: Annotated[int, typer.Option("--studies", help="Simulated studies per design.")] = 1000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    alpha: Annotated[float, typer.Option("--alpha")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Power for the plain binomial n.")] = 0.8,
    judge_agreement: Annotated[float | None, typer.Option(
        "--judge-agreement", help="A model judge's agreement with one physician's decisive vote (from `judge "
        "validate` on a pilot): simulate the prediction-powered interval with physicians judging a share of the "
        "items.")] = None,
    largest_share: Annotated[float | None, typer.Option(
        "--largest-share", help="The share of all judgments the busiest physician will do (default: the work "
        "evenly shared; an uneven workload needs more judgments).")] = None,
    shares: Annotated[str, typer.Option("--shares", help="Physician shares of the items to try with "
                                        "--judge-agreement, comma-separated.")] = "1,0.75,0.5,0.35,0.25",
) -> None:
    """Power of the report's own headline test for a design of physicians x items (simulated with
    the report's code), the design that reaches a target power, or the plain binomial n."""
    from evaluation import power as planner  # statsmodels: start-up cost

    sd = {"sd_physician": planner.DEFAULT_SD_PHYSICIAN, "sd_item": planner.DEFAULT_SD_ITEM}
    if pilot is not None:
        from evaluation.table import read_judgments

        found = planner.pilot_components(read_judgments(pilot))
        sd = {k: found[k] for k in sd}
        out.print(f"pilot {pilot.name}: {found['judgments']} decisive votes on {found['target']}, "
                  f"{found['physicians']} physicians, {found['items']} items; logit sd physicians "
                  f"{found['sd_physician']:.2f}, items {found['sd_item']:.2f}; intraclass correlation physicians "
                  f"{found['icc_physician']:.3f}, items {found['icc_item']:.3f} ({found['method']})")
    common = dict(tie_share=ties, alpha=alpha, seed=seed, largest_share=largest_share, **sd)
    workload = (f"the busiest physician does {largest_share:.0%} of the judgments" if largest_share else
                "physicians share the work evenly (--largest-share if one will do more)")
    if pilot is not None:
        workload += ("; the standard deviations are the pilot's point estimates (a pilot of few physicians can "
                     "misread them by a third either way)")
    if target_power is not None:
        plan = planner.plan_design(expected, target_power, overlap=overlap, physicians=physicians,
                                   studies=studies, **common)
        for row in plan["rows"]:
            out.print(row["text"])
        out.print(f"assumed: {workload}")
    elif judge_agreement is not None:
        if physicians is None or items is None:
            raise fail("--judge-agreement needs --physicians and --items (the judge judges every item)")
        _print_judge_plan(expected, physicians, items, overlap, judge_agreement, shares, studies=studies, **common)
        out.print(f"assumed: {workload}")
    elif physicians is not None and items is not None:
        result = planner.headline_power(expected, physicians, items, overlap, studies=studies, **common)
        out.print(f"power {result['power']:.2f} (± {result['mc_se']:.2f} Monte-Carlo error; {studies} simulated "
                  f"studies, seed {seed}): {physicians} physicians x {items} items, overlap {overlap} "
                  f"({result['judgments']} judgments), expected decisive win rate {expected}, the report's headline "
                  f"test at alpha {alpha}; logit sd physicians {sd['sd_physician']:.2f}, items {sd['sd_item']:.2f}; "
                  f"{workload}")
    elif physicians is not None or items is not None:
        raise fail("give both --physicians and --items (or --target-power to search them)")
    result = planner.sample_size(expected, alpha=alpha, power=power)
    out.print(f"one physician judging independent items: {result['exact_sign_test']} decisive judgments for power "
              f"{power} (exact sign test; normal approximation {result['normal_approximation']}, statsmodels "
              f"{result['arcsine_statsmodels']}). With several physicians who differ, plan with --physicians and "
              f"--items: the number of physicians is the real sample size.")


def _print_judge_plan(expected, physicians, items, overlap, agreement, shares_text, *, studies, seed, **common):
    from evaluation.ppi_power import Design, plan_judge

    try:
        shares = [float(s) for s in shares_text.split(",") if s.strip()]
    except ValueError:
        raise fail(f"--shares: {shares_text!r} is not a comma-separated list of numbers") from None
    design = Design(expected, physicians, items, overlap, agreement, common["sd_physician"], common["sd_item"],
                    tie_share=common["tie_share"], alpha=common["alpha"], largest_share=common["largest_share"])
    plan = plan_judge(design, shares, studies=studies, seed=seed)
    d = plan["design"]
    out.print(f"model judge on all {items} items, physicians on a random share ({physicians} physicians, overlap "
              f"{overlap}); judge agrees with one physician {agreement} (with the physicians' majority "
              f"{d['judge_accuracy_vs_majority']:.2f}; the majority itself agrees with a physician "
              f"{d['majority_agreement_ceiling']:.3f}); {studies} simulated studies, seed {seed}, the report's PPI code")
    out.print("share | physician judgments | PPI width, power, coverage | physicians alone: width, power | lambda")
    for r in plan["rows"]:
        p, c = r["ppi"], r["physicians_only"]
        out.print(f"{r['share']:.2f} | {r['physician_judgments']:.0f} | {p['width']:.3f}, {p['power']:.2f}, "
                  f"{p['coverage']:.3f} | {c['width']:.3f}, {c['power']:.2f} | {r['lambda']:.2f}")
    out.print(plan["verdict"])


def _named_paths(value: str, option: str) -> dict[str, str]:
    """"name=PATH,name=PATH" in the order given (the order of the stages)."""
    pairs = {}
    for part in [p for p in value.split(",") if p.strip()]:
        name, sep, path = part.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise DataError(f"expected NAME=PATH, got {part!r}", field=option)
        if name.strip() in pairs:
            raise DataError(f"{name.strip()!r} given twice", field=option)
        pairs[name.strip()] = path.strip()
    return pairs


def report_compare(
    task: TASK,
    predictions: Annotated[str, typer.Option("--predictions", help="base=FILE,sft=FILE,dpo=FILE (stage order).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for compare.md, compare.html, summary.json.")],
    runs: Annotated[str, typer.Option("--runs", help="Training runs for the compute table: sft=DIR,dpo=DIR.")] = "",
    ratings: Annotated[Path | None, typer.Option("--ratings", help="Rating-study export (Likert grades).")] = None,
    criterion: Annotated[str | None, typer.Option("--criterion", help="Likert criterion of --ratings.")] = None,
    by: Annotated[str | None, typer.Option("--by", help="Also split every metric and test by a per-item field the "
                                           "task keeps (its `fields:`, e.g. medqa's step).")] = None,
    min_group: Annotated[int, typer.Option("--min-group", help="With --by: a smaller group gets no interval or "
                                           "test.")] = 10,
    rounds: Annotated[int, typer.Option(help="Resamples of bootstrap intervals and permutation tests.")] = 10000,
    seed: Annotated[int, typer.Option()] = 0,
    overwrite: OVERWRITE = False,
) -> None:
    """The comparative study's table for one task: each system's metrics with 95% intervals, paired
    tests between stages with Holm's correction, compute per training stage."""
    # numpy, scipy, statsmodels and matplotlib cost start-up time: imported when the table is made.
    from data.safe_output import check_output_folder, output_folder
    from evaluation.compare import compare_systems
    from evaluation.compare_render import write_comparison
    from evaluation.compute import read_run_record
    from evaluation.predictions import read_predictions
    from evaluation.rating_report import load_ratings

    check_output_folder(out_dir, overwrite=overwrite)
    spec = load_task_checked(task)
    files = _named_paths(predictions, "--predictions")
    loaded = {system: read_predictions(Path(path), system, spec) for system, path in files.items()}
    records = {stage: read_run_record(Path(path)) for stage, path in _named_paths(runs, "--runs").items()}
    rating_rows = load_ratings(ratings) if ratings else None
    summary = compare_systems(spec.public_dict(), loaded, runs=records, ratings=rating_rows,
                              rating_criterion=criterion, by=by, min_group=min_group, rounds=rounds, seed=seed)
    summary["inputs"] = {"predictions": files, "runs": _named_paths(runs, "--runs"),
                         "ratings": str(ratings) if ratings else None, "rounds": rounds, "seed": seed, "by": by}
    with output_folder(out_dir, overwrite=overwrite) as staging:
        written = write_comparison(summary, staging)
    err.print(f"compare: {', '.join(p.name for p in written)} in {out_dir}", highlight=False)


COMPUTE_COLUMNS = (("wall_time_s", "wall s", "{:.1f}"), ("cpu_time_s", "CPU time s", "{:.1f}"),
                   ("gpu_hours", "GPU h", "{:.4f}"), ("cpu_hours", "CPU h (wall)", "{:.4f}"),
                   ("tokens_processed", "tokens", "{:,}"), ("flops", "FLOPs", "{:.3g}"),
                   ("peak_memory_mib", "peak MiB", "{:,.0f}"))


def _cell(value, form: str) -> str:
    return "-" if value is None else form.format(value)


def report_compute(
    runs: Annotated[list[Path], typer.Argument(help="Run folders (or run.json files) of training stages.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the table as JSON.")] = False,
) -> None:
    """Stage-by-stage cost of training (wall time, CPU time, CPU or GPU hours, tokens, FLOPs, peak
    memory) and the DPO/SFT ratios."""
    from evaluation.compute import compute_summary, stage_records  # numpy through evaluation.compare: start-up cost

    summary = compute_summary(stage_records(runs))
    wide = Console(width=150)  # the table has nine columns
    if as_json:
        wide.print_json(json.dumps(summary))
        return
    table = Table(title="Training compute per stage")
    for header in ("stage", "device", *(c[1] for c in COMPUTE_COLUMNS)):
        table.add_column(header)
    for stage, row in summary["stages"].items():
        table.add_row(stage, row["device"] or "-", *(_cell(row.get(k), f) for k, _, f in COMPUTE_COLUMNS))
    if summary["dpo_over_sft"]:
        ratios = summary["dpo_over_sft"]
        table.add_row("DPO / SFT", "", *(_cell(ratios.get(k), "{:.2f}x") for k, _, _ in COMPUTE_COLUMNS))
    wide.print(table)
    wide.print(f"Notes: {summary['notes']}; peak MiB = GPU memory allocated on CUDA, else the host's resident set "
               "during the stage.", highlight=False)


def register(root: typer.Typer) -> None:
    group = typer.Typer(help="Evaluation report (win rate, HQ, ROUGE, agreement, bias); `report hq`, `report power`, "
                             "`report compare`, `report compute`.", invoke_without_command=True)
    group.callback()(guard(report))
    commands = {"hq": report_hq, "power": report_power, "compare": report_compare, "compute": report_compute}
    root.add_typer(add_commands(group, commands), name="report")
