"""The report a researcher pastes into a paper: every number in summary.json (strict JSON), the
published tables side by side with the measured ones in report.md / report.html, and PNG plots.
Rendering lives in report_render.py, plots in report_plots.py."""

from __future__ import annotations

import json
import math
from concurrent.futures import Future, wait
from importlib import metadata
from pathlib import Path

import numpy as np

from evaluation import agreement as agreement_mod
from evaluation import bias, bradley_terry, helpfulness, power, rouge, winrate
from evaluation.intervals import population_sentence
from evaluation.metrics import METRICS
from evaluation.table import BOTH_BAD, TIE, JudgmentTable, from_rows

#: Judgment exports do not record a task: without generations that say otherwise, the report is
#: on today's physician studies, PubMedQA long answers.
DEFAULT_TASK = "pubmedqa-longform"
#: The analysis plan when a study declared none: the paper's decisive-vote rate, alpha 0.05.
DEFAULT_PLAN = {"primary": "decisive", "target": None, "alpha": 0.05, "planned_physicians": None,
                "planned_items": None, "max_share": None, "declared": False, "source": None}


def generations_task(generations: list[dict] | None) -> str | None:
    """The task the generation rows were prepared for (`medalign generate --task` writes it); None
    when they do not say, or disagree."""
    names = {g.get("task") for g in generations or []}
    return next(iter(names)) if len(names) == 1 else None


def published_numbers(task_name: str) -> dict:
    """The task file's published reference rows (configs/tasks/NAME.yaml), shown beside measured
    numbers of that task only; none for a task that is not shipped."""
    from data.records import DataError
    from data.tasks import load_task

    try:
        rows = [row.model_dump() for row in load_task(task_name).published]
    except DataError:
        rows = []
    return {"task": task_name, "rows": rows}


def default_target(systems: list[str]) -> str:
    return "dpo" if "dpo" in systems else systems[-1]


def read_run(run_dir: Path | None) -> dict | None:
    """Reward margin curve and final values from a DPO run folder (metrics.jsonl, run.json)."""
    if run_dir is None:
        return None
    run_dir = Path(run_dir)
    metrics_path, run_path = run_dir / "metrics.jsonl", run_dir / "run.json"
    if not metrics_path.is_file():
        raise FileNotFoundError(f"{metrics_path} not found (is {run_dir} a DPO run folder?)")
    metrics = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    curve = [{"step": m["step"], "epoch": m.get("epoch"), "margin": m["rewards/margins"],
              "accuracy": m.get("rewards/accuracies")} for m in metrics if "rewards/margins" in m]
    run = json.loads(run_path.read_text()) if run_path.is_file() else {}
    return {"dir": str(run_dir), "curve": curve, "final_margin": curve[-1]["margin"] if curve else None,
            "max_margin": max(c["margin"] for c in curve) if curve else None,
            "wall_time_s": run.get("wall_time_s"), "tokens_processed": run.get("tokens_processed"),
            "peak_memory": run.get("peak_memory"), "device": run.get("device")}


def _counts(table: JudgmentTable | None) -> dict:
    if table is None:
        return {"judgments": 0, "scored_judgments": 0, "gold_judgments": 0, "items": 0, "raters": 0,
                "simulated_raters": []}
    scored = ~table.is_gold
    return {"judgments": len(table), "scored_judgments": int(scored.sum()), "gold_judgments": int(table.is_gold.sum()),
            "items": int(len(np.unique(table.item[scored]))), "raters": len(table.raters),
            "simulated_raters": sorted({table.raters[r] for r in np.unique(table.rater[table.simulated])})}


def _pair_mask(table: JudgmentTable, x: str, y: str) -> np.ndarray:
    cx, cy = table.system_code(x), table.system_code(y)
    return ~table.is_gold & (((table.system_a == cx) & (table.system_b == cy)) | ((table.system_a == cy) & (table.system_b == cx)))


def published_comparison(table: JudgmentTable, target: str, decisive_interval: dict, *, rounds: int = 1000,
                         seed: int = 0, pairwise: list[dict] | None = None) -> dict:
    """Like with like: the paper's 0.63 / 0.37 are shares of decisive votes (they sum to 1), so they
    are set beside the measured decisive-vote rate, with the tie and both-bad shares apart."""
    other = "sft" if target == "dpo" and "sft" in table.systems else None
    mask = _pair_mask(table, target, other) if other else winrate.target_mask(table, target)
    n = int(mask.sum())
    code = table.system_code(target)
    wins = int(np.sum(table.preferred[mask] == code))
    decisive = int(np.sum(table.preferred[mask] >= 0))
    out = {"target": target, "against": other or "all its comparisons", "judgments": n,
           "decisive_rate": wins / decisive if decisive else None,
           "tie_share": float(np.mean(table.choice[mask] == TIE)) if n else None,
           "both_bad_share": float(np.mean(table.choice[mask] == BOTH_BAD)) if n else None,
           "note": "published rates are shares of decisive votes (0.63 + 0.37 = 1); the measured rate beside them "
                   "is the decisive-vote rate, and ties and both-bad are shown apart"}
    entry = decisive_interval["headline"]  # two systems: the pair is all of the target's comparisons
    if other and len(table.systems) > 2:
        known = {tuple(p["systems"]): p["decisive_headline"] for p in pairwise or []}
        entry = known.get((target, other)) or winrate.win_rate_table(
            table, target, mask, rounds=rounds, seed=seed)["intervals"]["decisive"]["headline"]
    out["interval"] = {k: entry[k] for k in ("ci_low", "ci_high", "method")}
    return out


def _pairwise(table: JudgmentTable, rounds: int, seed: int, primary: str = "decisive") -> list[dict]:
    """With three or more systems: each compared pair's win rate (first named system's wins)."""
    out = []
    for i, x in enumerate(table.systems):
        for y in table.systems[i + 1:]:
            mask = _pair_mask(table, x, y)
            if mask.any():
                result = winrate.win_rate_table(table, x, mask, rounds=rounds, seed=seed, primary=primary)
                out.append({"systems": [x, y], "n": result["n"], "rate": result["rate"],
                            "rate_decisive": result["rate_decisive"], "headline": result["headline"],
                            "decisive_headline": result["intervals"]["decisive"]["headline"]})
    return out


def _judgment_sections(table: JudgmentTable, target: str, *, gold_threshold: float, rounds: int, seed: int,
                       on_plot, primary: str = "decisive", alpha: float = 0.05, hq_final: bool = True) -> dict:
    summary: dict = {"target": target}
    wr = winrate.win_rate_table(table, target, rounds=rounds, seed=seed, primary=primary, alpha=alpha)
    summary["win_rate"] = wr
    on_plot("win_rate", summary)
    summary["per_rater"] = winrate.per_rater_table(table, target)
    summary["gold_filter"] = _gold_filter(table, target, summary["per_rater"], gold_threshold, rounds, seed, primary)
    if len(table.systems) > 2:
        summary["pairwise"] = _pairwise(table, rounds, seed, primary)
    summary["hq_physicians"] = helpfulness.hq_physicians_table(table, rounds=rounds, seed=seed)
    if hq_final:  # no detector HQ from generations will join it
        on_plot("hq", summary)
    summary["detector_vs_physicians"] = helpfulness.detector_vs_physicians_table(table)
    summary["agreement"] = agreement_mod.agreement_table(table, rounds=rounds, seed=seed)
    summary["position_bias"] = bias.position_bias_table(table)
    on_plot("position_bias", summary)
    summary["length_bias"] = bias.length_bias_table(table, target)
    rate = wr["rate_decisive"]
    if rate is not None and 0 < rate < 1 and rate != 0.5:
        summary["power"] = {**power.sample_size(rate), "decisive_now": wr["wins"] + wr["losses"],
                            "note": "judgments needed to detect the observed decisive rate; no post hoc power is given"}
    summary["published_comparison"] = published_comparison(table, target, wr["intervals"]["decisive"], rounds=rounds,
                                                          seed=seed, pairwise=summary.get("pairwise"))
    if len(table.systems) > 2:
        summary["bradley_terry"] = bradley_terry.bradley_terry_table(table, rounds=rounds, seed=seed)
    return summary


def _gold_filter(table, target, per_rater, threshold, rounds, seed, primary="decisive") -> dict:
    dropped = [r["rater"] for r in per_rater
               if r["gold_judged"] and winrate.credibly_below(round(r["gold_accuracy"] * r["gold_judged"]),
                                                              r["gold_judged"], threshold)]
    out = {"threshold": threshold, "excluded_raters": dropped, "win_rate": None,
           "rule": "excluded only when their gold accuracy is credibly below the threshold (one-sided exact "
                   "binomial test, p < 0.05)"}
    if dropped:
        codes = [table.raters.index(r) for r in dropped]
        mask = winrate.target_mask(table, target) & ~np.isin(table.rater, codes)
        if mask.any():
            out["win_rate"] = winrate.win_rate_table(table, target, mask, rounds=rounds, seed=seed,
                                                     primary=primary)["headline"]
    return out


def build_summary(
    judgments: list[dict] | JudgmentTable,
    *,
    target: str | None = None,
    generations: list[dict] | None = None,
    run: dict | None = None,
    settings: dict | None = None,
    gold_threshold: float = 0.8,
    bootstrap_rounds: int = 1000,
    seed: int = 0,
    task: str | None = None,
    plan: dict | None = None,
    on_plot=None,
) -> dict:
    """`task`: what the answers were for; by default the generation rows' task, else not recorded.
    `plan`: the study's analysis plan (primary, target, alpha, planned physicians
    and items, max_share), declared before the study; the headline follows it. `on_plot(name,
    entries)`: called as soon as a plot's summary entries are final (report_plots.PlotWorker.offer),
    so that it is drawn while the statistics go on."""
    on_plot = on_plot or (lambda _plot, _entries: None)
    if run:
        on_plot("reward_margin", {"run": run})
    declared = (settings or {}).get("analysis_plan") or {}  # a study's stored plan; `plan` (command line) wins
    plan = {**DEFAULT_PLAN, **{k: v for k, v in {**declared, **(plan or {})}.items() if v is not None}}
    target = target or plan.get("target")
    table = judgments if isinstance(judgments, JudgmentTable) else (from_rows(judgments) if judgments else None)
    systems = table.systems if table is not None else sorted({s for g in generations or [] for s in g["outputs"]})
    counts = _counts(table)
    summary: dict = {
        "analysis_plan": plan,
        "settings": settings or {},
        "versions": {p: _version(p) for p in ("medalign", "numpy", "statsmodels", "scipy", "rouge-score", "krippendorff")},
        "counts": counts, "systems": systems,
        "metrics": {name: {"higher_is_better": m.higher_is_better, "description": m.description} for name, m in METRICS.items()},
    }
    target = target or (default_target(systems) if systems else None)
    if table is not None and winrate.target_mask(table, target).any():
        summary.update(_judgment_sections(table, target, gold_threshold=gold_threshold, rounds=bootstrap_rounds, seed=seed,
                                          primary=plan["primary"], alpha=float(plan["alpha"]), on_plot=on_plot,
                                          hq_final=not generations))
    elif not counts["scored_judgments"]:
        summary["note"] = "no scored judgments: win rates, agreement and bias checks are left out"
    else:
        summary["note"] = f"no judgment involves the target system {target!r}"
    summary["detector_validation"] = helpfulness.validation_summary()
    if generations:
        summary["hq"] = [h.as_dict() for h in helpfulness.hq_from_generations(generations)]
        on_plot("hq", summary)
        if any(g.get("reference") for g in generations):
            summary["rouge"] = rouge.rouge_by_system(generations, rounds=bootstrap_rounds, seed=seed)
            gen_systems = sorted(summary["rouge"])
            if "sft" in gen_systems and "dpo" in gen_systems:
                summary["rouge_paired"] = rouge.paired_comparison(generations, "sft", "dpo", seed=seed)
    if run:
        summary["run"] = run
    summary["task"] = task or generations_task(generations)
    summary["published"] = published_numbers(summary["task"] or DEFAULT_TASK)
    return {"headline": _lead(summary), **summary} if summary.get("win_rate") else summary


def _lead(summary: dict) -> dict:
    """summary.json's first entry: the analysis plan's one number, labelled by what it is."""
    h = summary["win_rate"]["headline"]
    return {"what": f"win rate of {summary['target']}: {h['label']}", "definition": h["definition"],
            "estimate": h["estimate"], "ci_low": h["ci_low"], "ci_high": h["ci_high"], "method": h["method"],
            "p_value_vs_0_5": h.get("p_value"), "population": population_sentence(h["physicians"], h["items"], h),
            "physicians": h["physicians"], "effective_physicians": h.get("effective_physicians"),
            "declared_in_plan": bool(summary["analysis_plan"].get("declared"))}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def strict(value):
    """JSON-ready: NaN and infinities become null, numpy scalars plain numbers, tuples lists."""
    if isinstance(value, dict):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, np.ndarray):
        return [strict(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def write_report(summary: dict, judgments: list[dict] | JudgmentTable, out_dir: Path, *, plotter=None,
                 judgments_csv: Future | None = None) -> list[Path]:
    """report.md, report.html, judgments.csv, summary.json and the plots in out_dir. `plotter`: a
    report_plots.PlotWorker started earlier (else the plots are drawn here); `judgments_csv`: the
    copy of judgments.csv already under way (start_judgments_csv)."""
    from evaluation.report_plots import write_plots
    from evaluation.report_render import render_html, render_markdown

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if judgments_csv is None:
        judgments_csv = start_judgments_csv(judgments, out_dir)
    plots = plotter.draw(summary, out_dir) if plotter is not None else write_plots(summary, out_dir)
    summary = strict({**summary, "plots": plots})
    text = render_markdown(summary)
    (out_dir / "report.md").write_text(text)
    (out_dir / "report.html").write_text(render_html(text, plots, out_dir))
    judgments_csv.result()  # raises what the copy raised
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return [out_dir / n for n in ("report.md", "report.html", "judgments.csv", "summary.json", *plots)]


def start_judgments_csv(judgments, out_dir: Path) -> Future:
    """judgments.csv written in a thread: a byte copy of a large export (or pyarrow's CSV writer)
    runs outside the GIL, beside the statistics (1M judgments: ~1 GiB, 1-3 s)."""
    from concurrent.futures import ThreadPoolExecutor

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    pool = ThreadPoolExecutor(1, thread_name_prefix="judgments-csv")
    future = pool.submit(_write_judgments_csv, judgments, Path(out_dir) / "judgments.csv")
    pool.shutdown(wait=False)  # the thread ends when the copy does
    return future


def _write_judgments_csv(judgments, path: Path) -> None:
    """The judgments as CSV, with spreadsheet formulas neutralised (a rationale may hold one)."""
    from pyarrow import csv

    from data.files import neutralise_formula_table

    if isinstance(judgments, JudgmentTable) and judgments.source and judgments.source.suffix.lower() == ".csv":
        _copy_csv_neutralised(judgments.source, path, judgments.formula_cells)
    elif isinstance(judgments, JudgmentTable):
        csv.write_csv(neutralise_formula_table(judgments.raw), path)
    elif judgments:
        csv.write_csv(neutralise_formula_table(from_rows(judgments).raw), path)
    else:
        path.write_text("")


def _copy_csv_neutralised(source: Path, path: Path, formula_cells: bool | None = None) -> None:
    """The export as read, byte for byte when no cell could start a formula (the usual case: a
    medalign export is neutralised already; the reader checked every cell's first character);
    otherwise rewritten with formulas neutralised."""
    import shutil

    from pyarrow import csv

    from data.files import has_formula_cells, neutralise_formula_table

    if formula_cells is False:
        shutil.copyfile(source, path)
        return
    table = csv.read_csv(source, convert_options=csv.ConvertOptions(strings_can_be_null=False))
    if formula_cells is None and not has_formula_cells(table):
        shutil.copyfile(source, path)
        return
    csv.write_csv(neutralise_formula_table(table), path)


# What the report imports only when it gets there (the renderers, the detector): evaluation.judgments
# imports these too in its thread while the export is read. Kappa, the pooled odds ratio and the
# planner are own code (agreement, contingency, power): the report imports no statsmodels.
LATER_IMPORTS = ("evaluation.report_render", "evaluation.report_plots", "evaluation.evasion_model")


def write_pairwise_report(judgments: list[dict] | JudgmentTable, settings: dict, out_dir: Path,
                          **options) -> list[Path]:
    """The pairwise kind's report (evaluation.kinds.pairwise names it): typed rows as storage
    exported them (checked when they entered, not parsed again) or a table read from an export;
    `options` are build_summary's (target, generations, run, gold_threshold, ...). The plots' process
    and the copy of judgments.csv start first and run beside the statistics."""
    from evaluation.report_plots import PlotWorker

    table = from_rows(judgments, checked=True) if isinstance(judgments, list) and judgments else judgments
    plotter, copying = PlotWorker(), None
    try:
        copying = start_judgments_csv(table, out_dir)
        summary = build_summary(table, settings=settings, on_plot=lambda plot, entries: plotter.offer(
            plot, entries, out_dir), **options)
        return write_report(summary, table, out_dir, plotter=plotter, judgments_csv=copying)
    finally:
        plotter.close()
        if copying is not None:  # on an error too: no thread is left writing into a folder the caller removes
            wait([copying])
