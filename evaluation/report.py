"""The report a researcher pastes into a paper: every number in summary.json, the published
tables side by side with the measured ones in report.md / report.html, and PNG plots."""

from __future__ import annotations

import csv
import html
import io
import json
from importlib import metadata
from pathlib import Path

from evaluation import agreement as agreement_mod
from evaluation import bias, bradley_terry, helpfulness, power, rouge, winrate
from evaluation.metrics import METRICS, PUBLISHED


def _systems(rows: list[dict]) -> list[str]:
    return sorted({s for r in rows for s in (r["system_a"], r["system_b"])})


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


def build_summary(
    judgments: list[dict],
    *,
    target: str | None = None,
    generations: list[dict] | None = None,
    run: dict | None = None,
    settings: dict | None = None,
    gold_threshold: float = 0.8,
    bootstrap_rounds: int = 2000,
    seed: int = 0,
) -> dict:
    scored = [r for r in judgments if not r.get("is_gold")]
    systems = _systems(judgments) if judgments else sorted({s for g in generations or [] for s in g["outputs"]})
    summary: dict = {
        "settings": settings or {},
        "versions": {p: _version(p) for p in ("medalign", "statsmodels", "scipy", "rouge-score", "krippendorff")},
        "counts": {"judgments": len(judgments), "scored_judgments": len(scored), "gold_judgments": len(judgments) - len(scored),
                   "items": len({r["item_id"] for r in scored}), "raters": len({r["rater"] for r in judgments}),
                   "simulated_raters": sorted({r["rater"] for r in judgments if r.get("rater_simulated")})},
        "systems": systems,
        "metrics": {name: {"higher_is_better": m.higher_is_better, "description": m.description} for name, m in METRICS.items()},
    }
    target = target or (default_target(systems) if systems else None)
    # With more than two systems, the target's win rate counts only the comparisons it took part in.
    involving = [r for r in scored if target in (r["system_a"], r["system_b"])]
    if involving:
        summary["target"] = target
        summary["win_rate"] = winrate.win_rate(involving, target).as_dict()
        summary["win_rate_cluster_bootstrap"] = [
            winrate.cluster_bootstrap(involving, target, by=by, rounds=bootstrap_rounds, seed=seed) for by in ("item_id", "rater")
        ]
        summary["win_rate_gee"] = [winrate.gee_win_rate(involving, target, by=by) for by in ("rater", "item_id")]
        with_gold = [r for r in judgments if r.get("is_gold")] + involving
        summary["per_rater"] = winrate.per_rater(with_gold, target)
        kept, dropped = winrate.excluding_low_gold(with_gold, gold_threshold)
        kept_scored = [r for r in kept if not r.get("is_gold")]
        summary["gold_filter"] = {"threshold": gold_threshold, "excluded_raters": dropped,
                                  "win_rate": winrate.win_rate(kept_scored, target).as_dict() if kept_scored else None}
        summary["hq_physicians"] = [h.as_dict() for h in helpfulness.hq_from_judgments(scored)]
        summary["detector_vs_physicians"] = helpfulness.detector_vs_physicians(scored)
        summary["agreement"] = agreement_mod.agreement(scored, rounds=min(bootstrap_rounds, 1000), seed=seed)
        summary["position_bias"] = bias.position_bias(scored)
        summary["length_bias"] = bias.length_bias(involving, target)
        decisive = summary["win_rate"]["wins"] + summary["win_rate"]["losses"]
        rate = summary["win_rate"]["rate_decisive"]
        if rate is not None and 0 < rate < 1 and rate != 0.5:
            summary["power"] = {**power.sample_size(rate), "decisive_now": decisive,
                                "exact_power_now": power.exact_power(decisive, rate) if decisive else None}
        if len(systems) > 2:
            summary["bradley_terry"] = bradley_terry.bradley_terry(scored, seed=seed)
    elif not scored:
        summary["note"] = "no scored judgments: win rates, agreement and bias checks are left out"
    else:
        summary["note"] = f"no judgment involves the target system {target!r}"
    if generations:
        summary["hq"] = [h.as_dict() for h in helpfulness.hq_from_generations(generations)]
        if any(g.get("reference") for g in generations):
            summary["rouge"] = rouge.rouge_by_system(generations, rounds=min(bootstrap_rounds, 1000), seed=seed)
            gen_systems = sorted(summary["rouge"])
            if "sft" in gen_systems and "dpo" in gen_systems:
                summary["rouge_paired"] = rouge.paired_comparison(generations, "sft", "dpo", seed=seed)
    if run:
        summary["run"] = run
    return summary


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _ci(entry: dict | None, low: str = "ci_low", high: str = "ci_high") -> str:
    if not entry or entry.get(low) is None:
        return "-"
    return f"{entry[low]:.3f}-{entry[high]:.3f}"


def render_markdown(summary: dict) -> str:
    """The report as Markdown; every value is escaped (names come from user data)."""
    lines = ["# medalign evaluation report", ""]
    settings = summary.get("settings") or {}
    if settings:
        lines += ["## Study and settings", ""] + [f"- **{_fmt(k)}**: {_fmt(v)}" for k, v in settings.items()] + [""]
    counts = summary["counts"]
    lines += [f"Judgments: {counts['judgments']} ({counts['scored_judgments']} scored, {counts['gold_judgments']} on gold "
              f"items) of {counts['items']} items by {counts['raters']} raters.", ""]
    if counts["simulated_raters"]:
        lines += [f"**Simulated raters** (not physicians): {_fmt(', '.join(counts['simulated_raters']))}.", ""]

    hq_auto = {h["system"]: h for h in summary.get("hq", [])}
    wr = summary.get("win_rate")
    target = summary.get("target")
    run = summary.get("run") or {}
    lines += ["## Published vs measured", "",
              "| Model | Win rate (published) | Win rate (measured) | HQ (published) | HQ (measured) | "
              "Reward margin (published) | Reward margin (measured) |", "|---|---|---|---|---|---|---|"]
    for key, published in PUBLISHED["pubmedqa"].items():
        measured_wr = "-"
        if wr and key == target:
            measured_wr = f"{wr['rate']:.2f} ({_ci(wr)})"
        elif wr and key in summary["systems"] and len(summary["systems"]) == 2:
            measured_wr = f"{wr['losses'] / wr['n']:.2f}"
        hq = hq_auto.get(key)
        measured_hq = f"{hq['hq']:.2f} ({_ci(hq)})" if hq else "-"
        margin = _fmt(run.get("final_margin"), 2) if key == "dpo" else "-"
        lines.append(f"| {published['label']} | {_fmt(published['win_rate'], 2)} | {measured_wr} | "
                     f"{_fmt(published['hq'], 2)} | {measured_hq} | {_fmt(published['reward_margin'])} | {margin} |")
    lines += ["", "Published: Murphy, *Efficient Alignment of Medical Language Models using Direct Preference "
              "Optimization* (one physician). Measured win rates are of the target system; the other system's "
              "published-definition rate is its share of all judgments.", ""]

    if wr:
        lines += [f"## Win rate of {_fmt(target)}", "",
                  "| Definition | Rate | 95% interval | Counts |", "|---|---|---|---|",
                  f"| Published: wins / all | {wr['rate']:.3f} | Wilson {_ci(wr)}; Clopper-Pearson "
                  f"{_ci(wr, 'cp_low', 'cp_high')} | {wr['wins']} of {wr['n']} |",
                  f"| Ties (and both bad) as half | {wr['rate_ties_half']:.3f} | - | {wr['ties']} ties, {wr['both_bad']} both bad |",
                  f"| Ties excluded | {_fmt(wr['rate_decisive'])} | Wilson {_ci(wr, 'decisive_ci_low', 'decisive_ci_high')} | "
                  f"{wr['wins']} of {wr['wins'] + wr['losses']} decisive |", "",
                  f"Exact two-sided sign test on decisive votes: p = {_fmt(wr['sign_test_p'], 4)}. "
                  f"'Both bad': {wr['both_bad']} judgments ({wr['both_bad'] / wr['n']:.1%}).", "",
                  "Clustered uncertainty (published definition):", ""]
        for boot in summary["win_rate_cluster_bootstrap"]:
            lines.append(f"- cluster bootstrap by {boot['by']} ({boot['clusters']} clusters, {boot['rounds']} resamples): "
                         f"{_ci(boot)}")
        for gee in summary["win_rate_gee"]:
            lines.append(f"- GEE (logit, exchangeable, robust errors) clustered by {gee['by']}: {gee['rate']:.3f} "
                         f"({_ci(gee)})")
        gf = summary["gold_filter"]
        lines += ["", f"Raters below {gf['threshold']:.0%} gold accuracy: "
                  f"{_fmt(', '.join(gf['excluded_raters'])) or 'none'}; win rate without them: "
                  f"{_fmt(gf['win_rate']['rate'] if gf['win_rate'] else None)} ({_ci(gf['win_rate'])}).", "",
                  "### Per rater", "", "| Rater | Judgments | Win rate | 95% Wilson | Gold accuracy |", "|---|---|---|---|---|"]
        for r in summary["per_rater"]:
            name = _fmt(r["rater"]) + (" (simulated)" if r["simulated"] else "")
            lines.append(f"| {name} | {r['judgments']} | {_fmt(r.get('rate'))} | {_ci(r)} | {_fmt(r['gold_accuracy'])} |")
        lines.append("")
    if "bradley_terry" in summary:
        bt = summary["bradley_terry"]
        lines += ["## Bradley-Terry (several systems)", "", "| System | Score | 95% bootstrap |", "|---|---|---|"]
        for system, score in sorted(bt["scores"].items(), key=lambda kv: -kv[1]):
            low, high = bt["intervals"][system]
            lines.append(f"| {_fmt(system)} | {score:.3f} | {_fmt(low)}-{_fmt(high)} |")
        matrix = bt["win_matrix"]
        names = sorted(matrix)
        lines += ["", "Pairwise win rates of direct comparisons (row beats column; ties half):", "",
                  "| | " + " | ".join(_fmt(n) for n in names) + " |", "|---" * (len(names) + 1) + "|"]
        for row in names:
            lines.append(f"| {_fmt(row)} | " + " | ".join(_fmt(matrix[row][col]) for col in names) + " |")
        lines.append("")
    if summary.get("hq") or summary.get("hq_physicians"):
        lines += ["## Helpfulness Quotient", "", "| System | Source | HQ | 95% Wilson | Evasive / total |", "|---|---|---|---|---|"]
        for source, entries in (("detector", summary.get("hq", [])), ("physicians", summary.get("hq_physicians", []))):
            for h in entries:
                lines.append(f"| {_fmt(h['system'])} | {source} | {h['hq']:.3f} | {_ci(h)} | {h['n_evasive']} / {h['n_total']} |")
        dvp = summary.get("detector_vs_physicians")
        if dvp and dvp.get("n"):
            lines += ["", f"Detector against physicians' flags ({dvp['n']} answers): precision {_fmt(dvp['precision'])}, "
                      f"recall {_fmt(dvp['recall'])}, Cohen's kappa {_fmt(dvp['kappa'])}."]
        lines.append("")
    if summary.get("agreement"):
        ag = summary["agreement"]
        lines += ["## Agreement between raters", ""]
        if ag.get("items"):
            for key, label in (("fleiss_kappa", "Fleiss' kappa"), ("randolph_kappa", "Randolph's kappa"),
                               ("krippendorff_alpha", "Krippendorff's alpha")):
                lines.append(f"- {label}: {_fmt(ag[key]['value'])} ({_ci(ag[key])})")
            lines.append(f"- on {ag['items']} items judged by several raters ({ag['items_fixed_raters']} with "
                         f"{ag['raters_per_item']} raters for the kappas)")
            for pair in ag["cohen_kappa_pairs"]:
                lines.append(f"- Cohen's kappa {_fmt(pair['raters'][0])} / {_fmt(pair['raters'][1])}: "
                             f"{_fmt(pair['kappa'])} ({_ci(pair)}), n = {pair['n']}")
        else:
            lines.append(_fmt(ag.get("note")))
        lines.append("")
    if summary.get("position_bias"):
        pb, lb = summary["position_bias"], summary["length_bias"]
        lines += ["## Bias checks", ""]
        if pb.get("n"):
            lines.append(f"- Position: the left answer won {pb['left_wins']} of {pb['n']} decisive judgments "
                         f"({pb['left_share']:.3f}, {_ci(pb)}); test against 0.5: p = {pb['p_value']:.4f}.")
        if lb.get("with_length_difference"):
            lines.append(f"- Length: the longer answer won {lb['longer_wins']} of {lb['with_length_difference']} "
                         f"({lb['longer_share']:.3f}; p = {lb['longer_p_value']:.4f}).")
        if "coefficient" in lb:
            lines.append(f"- Logistic regression on the normalised length difference: coefficient {lb['coefficient']:.3f} "
                         f"(p = {lb['coefficient_p_value']:.4f}); length-controlled win rate {lb['length_controlled_win_rate']:.3f} "
                         f"({_ci(lb, 'lc_ci_low', 'lc_ci_high')}).")
        elif lb.get("note"):
            lines.append(f"- Length regression: {_fmt(lb['note'])}")
        lines.append("")
    if summary.get("power"):
        p = summary["power"]
        lines += ["## Sample size", "", f"To detect the observed decisive win rate {p['expected_win_rate']:.3f} at alpha "
                  f"{p['alpha']} with power {p['power']}: {p['exact_sign_test']} decisive judgments (exact sign test; "
                  f"normal approximation {p['normal_approximation']}, statsmodels {p['arcsine_statsmodels']}). "
                  f"Now: {p['decisive_now']} decisive, power {_fmt(p['exact_power_now'])}.", ""]
    if summary.get("rouge"):
        lines += ["## Summarization (ROUGE)", "",
                  "| Model | | R-1 F1 | R-1 P | R-1 R | R-2 F1 | R-2 P | R-2 R | R-L F1 | R-L P | R-L R |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for system, published in PUBLISHED["meqsum"].items():
            cells = [f"{v:.2f}" for t in ("rouge1", "rouge2", "rougeL") for v in published[t]]
            lines.append(f"| {system} | published | " + " | ".join(cells) + " |")
        for system, scores in summary["rouge"].items():
            cells = [f"{scores[f'{t}_{p}']['mean']:.2f}" for t in ("rouge1", "rouge2", "rougeL")
                     for p in ("fmeasure", "precision", "recall")]
            lines.append(f"| {_fmt(system)} | measured (n={scores['n']}) | " + " | ".join(cells) + " |")
        lines += ["", "F1 with 95% bootstrap intervals: " + "; ".join(
            f"{_fmt(system)} " + ", ".join(f"{t} {_ci(scores[f'{t}_fmeasure'])}" for t in ("rouge1", "rouge2", "rougeL"))
            for system, scores in summary["rouge"].items())]
        paired = summary.get("rouge_paired")
        if paired and paired.get("n"):
            lines += ["", "Paired, dpo minus sft (F1): " + "; ".join(
                f"{t} {paired[t]['mean_difference']:+.3f} ({_ci(paired[t])}, Wilcoxon p = {paired[t]['wilcoxon_p']:.4f})"
                for t in ("rouge1", "rouge2", "rougeL"))]
        lines.append("")
    if run:
        lines += ["## DPO training run", "", f"Reward margin: final {_fmt(run.get('final_margin'))}, maximum "
                  f"{_fmt(run.get('max_margin'))} over {len(run.get('curve', []))} logged steps; wall time "
                  f"{_fmt(run.get('wall_time_s'))} s; tokens {_fmt(run.get('tokens_processed'))}.", ""]
    lines += ["## Versions", "", ", ".join(f"{k} {_fmt(v)}" for k, v in summary["versions"].items()), ""]
    return "\n".join(lines)


def render_html(markdown_text: str) -> str:
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.25rem .5rem}img{max-width:100%}")
    images = "".join(f'<h2>{title}</h2><img src="{name}" alt="{title}">' for name, title in PLOTS)
    return f"<!doctype html><html><head><meta charset='utf-8'><title>medalign report</title><style>{style}</style>" \
           f"</head><body>{body}{images}</body></html>"


PLOTS = [("win_rate.png", "Win rate with 95% intervals"), ("reward_margin.png", "DPO reward margin"),
         ("position_bias.png", "Position bias"), ("hq.png", "Helpfulness Quotient per system")]


def _yerr(values, lows, highs) -> list[list[float]]:
    """Error bar lengths, clipped at 0 (interval ends can sit a rounding error inside the value)."""
    return [[max(0.0, v - lo) for v, lo in zip(values, lows, strict=True)],
            [max(0.0, hi - v) for v, hi in zip(values, highs, strict=True)]]


def write_plots(summary: dict, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []

    def save(fig, name):
        fig.tight_layout()
        fig.savefig(out_dir / name, dpi=120)
        plt.close(fig)
        written.append(name)

    wr = summary.get("win_rate")
    if wr:
        labels = ["wins / all", "ties half", "ties excluded", "bootstrap by item", "bootstrap by rater"]
        boots = summary["win_rate_cluster_bootstrap"]
        values = [wr["rate"], wr["rate_ties_half"], wr["rate_decisive"] or 0, boots[0]["rate"], boots[1]["rate"]]
        lows = [wr["ci_low"], wr["rate_ties_half"], wr["decisive_ci_low"] or 0, boots[0]["ci_low"], boots[1]["ci_low"]]
        highs = [wr["ci_high"], wr["rate_ties_half"], wr["decisive_ci_high"] or 0, boots[0]["ci_high"], boots[1]["ci_high"]]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.errorbar(range(len(values)), values, yerr=_yerr(values, lows, highs), fmt="o", capsize=5)
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1)
        ax.axhline(0.63, color="tab:red", linestyle=":", linewidth=1, label="published 0.63")
        ax.set_xticks(range(len(values)), labels, rotation=15)
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"win rate of {summary['target']}")
        ax.legend(loc="lower right")
        save(fig, "win_rate.png")
    curve = (summary.get("run") or {}).get("curve")
    if curve:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([c["step"] for c in curve], [c["margin"] for c in curve], marker="o", markersize=3, label="reward margin")
        ax.set_xlabel("step")
        ax.set_ylabel("rewards/margins")
        if any(c.get("accuracy") is not None for c in curve):
            twin = ax.twinx()
            twin.plot([c["step"] for c in curve], [c.get("accuracy") for c in curve], color="tab:orange", alpha=0.6)
            twin.set_ylabel("rewards/accuracies", color="tab:orange")
        save(fig, "reward_margin.png")
    pb = summary.get("position_bias")
    if pb and pb.get("n"):
        fig, ax = plt.subplots(figsize=(4, 3.5))
        ax.bar(["left (A)"], [pb["left_share"]], yerr=_yerr([pb["left_share"]], [pb["ci_low"]], [pb["ci_high"]]), capsize=8)
        ax.axhline(0.5, color="grey", linestyle="--")
        ax.set_ylim(0, 1)
        ax.set_ylabel("share of decisive judgments")
        save(fig, "position_bias.png")
    entries = [("detector", h) for h in summary.get("hq", [])] + [("physicians", h) for h in summary.get("hq_physicians", [])]
    if entries:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = [f"{h['system']}\n{source}" for source, h in entries]
        values = [h["hq"] for _, h in entries]
        ax.bar(range(len(entries)), values, capsize=5,
               yerr=_yerr(values, [h["ci_low"] for _, h in entries], [h["ci_high"] for _, h in entries]))
        ax.set_xticks(range(len(entries)), names)
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("HQ")
        save(fig, "hq.png")
    return written


def judgments_csv(rows: list[dict]) -> str:
    if not rows:
        return ""
    buffer = io.StringIO()
    columns = list(rows[0])
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def write_report(summary: dict, judgments: list[dict], out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plots = write_plots(summary, out_dir)
    summary = {**summary, "plots": plots}
    text = render_markdown(summary)
    (out_dir / "report.md").write_text(text)
    (out_dir / "report.html").write_text(render_html(text))
    (out_dir / "judgments.csv").write_text(judgments_csv(judgments))
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    return [out_dir / n for n in ("report.md", "report.html", "judgments.csv", "summary.json", *plots)]
