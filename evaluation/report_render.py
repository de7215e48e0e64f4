"""report.md and report.html from a summary (already strict JSON values). Every value from user
data is escaped; every interval says what it assumes."""

from __future__ import annotations

import html
from pathlib import Path

from evaluation.intervals import ASSUMES, MIN_RATERS, population_sentence
from evaluation.page import html_page
from evaluation.report_render_checks import appendix, bias_section, p_text, tests_listed
from evaluation.report_render_checks import ci as _ci
from evaluation.report_render_checks import fmt as _fmt

_METHOD_NAMES = {"two_way_robust": "two-way cluster-robust", "two_way_bootstrap": "two-way (pigeonhole) bootstrap",
                 "bootstrap_item": "bootstrap over items", "bootstrap_rater": "bootstrap over physicians"}


def _headline_text(headline: dict) -> str:
    text = f"{_fmt(headline['estimate'])} (95% {_ci(headline)}, {_METHOD_NAMES[headline['method']]})"
    return text + (f" **{headline['note']}**" if headline.get("note") else "")


def _overview(summary: dict) -> list[str]:
    lines = ["# medalign evaluation report", ""]
    settings = summary.get("settings") or {}
    if settings:
        lines += ["## Study and settings", ""] + [f"- **{_fmt(k)}**: {_fmt(v)}" for k, v in settings.items()] + [""]
    counts = summary["counts"]
    lines += [f"Judgments: {counts['judgments']} ({counts['scored_judgments']} scored, {counts['gold_judgments']} on gold "
              f"items) of {counts['items']} items by {counts['raters']} raters.", ""]
    if counts["simulated_raters"]:
        lines += [f"**Simulated raters** (not physicians): {_fmt(', '.join(counts['simulated_raters']))}.", ""]
    if summary.get("win_rate"):
        lines += _headline(summary)
    if summary.get("note"):
        lines += [_fmt(summary["note"]), ""]
    return lines


def _headline(summary: dict) -> list[str]:
    """The one primary number of the analysis plan, labelled by what it is, with its population,
    its design-aware test against 0.5 and the workload warning."""
    wr, plan = summary["win_rate"], summary.get("analysis_plan") or {}
    h = wr["headline"]
    declared = ("declared in the study's analysis plan" if plan.get("declared") else
                "chosen with --primary when the report was made, not declared before the study"
                if plan.get("source") == "--primary" else "the default: no analysis plan was declared")
    lines = ["## Headline", "", f"**Primary estimand** ({declared}): win rate of {_fmt(summary['target'])}, "
             f"{_fmt(h['label'])}: {_headline_text(h)}.", "",
             f"Test against 0.5 with the headline's design: p = {p_text(h.get('p_value'))} ({_fmt(h.get('test'))}).", "",
             population_sentence(h["physicians"], h["items"], h) + f" The interval assumes {h['assumes']}.", ""]
    if h.get("workload_warning"):
        lines += [f"**Warning: {_fmt(h['workload_warning'])}**", ""]
    planned = [plan.get("planned_physicians"), plan.get("planned_items")]
    if any(planned):
        lines += [f"Planned size: {_fmt(planned[0])} physicians, {_fmt(planned[1])} items; reached: {h['physicians']} "
                  f"physicians, {h['items']} items.", ""]
    return lines


STAGES = ("base", "sft", "dpo")
ROUGE_COLUMNS = [f"{t}_{p}" for t in ("rouge1", "rouge2", "rougeL") for p in ("fmeasure", "precision", "recall")]


def _published_by_stage(summary: dict, task: str, metrics: list[str]) -> dict[str, dict]:
    """{stage: {metric: value}} from the task file's published rows (summary["published"]), for that task only."""
    published = summary.get("published") or {}
    if published.get("task") != task:
        return {}
    rows = [r for r in published.get("rows", []) if r["metric"] in metrics]
    table = {stage: {r["metric"]: r[stage] for r in rows} for stage in STAGES}
    return {stage: values for stage, values in table.items() if any(v is not None for v in values.values())}


def _published(summary: dict) -> list[str]:
    """PubMedQA long answers only: the published win rates, HQ and reward margin beside the measured ones."""
    by_stage = _published_by_stage(summary, "pubmedqa-longform", ["win_rate_decisive", "hq", "reward_margin"])
    if not by_stage:
        return []
    labels = {"base": "Unmodified BioMistral-7B", "sft": "SFT Model", "dpo": "DPO Model"}
    comparison = summary.get("published_comparison")
    hq_auto = {h["system"]: h for h in summary.get("hq", [])}
    hq_doc = {h["system"]: h for h in summary.get("hq_physicians", [])}
    run = summary.get("run") or {}
    lines = ["## Published vs measured", "",
             "| Model | Win rate, published (decisive votes) | Measured decisive-vote rate (95%) | Ties | Both bad | "
             "HQ published | HQ physicians, primary (95%) | HQ detector, screening aid (95% Wilson) | Reward margin published | "
             "measured |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, published in by_stage.items():
        measured = ties = both_bad = "-"
        if comparison and comparison["decisive_rate"] is not None and key in (comparison["target"], comparison["against"]):
            rate = comparison["decisive_rate"]
            interval = comparison["interval"]
            if key == comparison["target"]:
                measured = f"{rate:.2f} ({_ci(interval)})"
            else:  # the other side of the same decisive votes
                flipped = {"ci_low": 1 - interval["ci_high"], "ci_high": 1 - interval["ci_low"]} \
                    if interval.get("ci_low") is not None else None
                measured = f"{1 - rate:.2f} ({_ci(flipped)})"
            ties, both_bad = f"{comparison['tie_share']:.2f}", f"{comparison['both_bad_share']:.2f}"
        doc, auto = hq_doc.get(key), hq_auto.get(key)
        doc_text = f"{doc['hq']:.2f} ({_ci(doc['headline'])})" if doc else "-"
        auto_text = f"{auto['hq']:.2f} ({_ci(auto)})" if auto else "-"
        margin = _fmt(run.get("final_margin"), 2) if key == "dpo" else "-"
        lines.append(f"| {labels[key]} | {_fmt(published.get('win_rate_decisive'), 2)} | {measured} | {ties} | "
                     f"{both_bad} | {_fmt(published.get('hq'), 2)} | {doc_text} | {auto_text} | "
                     f"{_fmt(published.get('reward_margin'))} | {margin} |")
    note = comparison["note"] if comparison else ""
    lines += ["", "Published: Murphy, *Efficient Alignment of Medical Language Models using Direct Preference "
              f"Optimization* (one physician). Like with like: {_fmt(note)}. Ties and Both bad are shares of all "
              f"judgments of that comparison"
              + (f" ({_fmt(comparison['target'])} vs {_fmt(comparison['against'])})." if comparison else "."), ""]
    return lines


def _win_rate(summary: dict) -> list[str]:
    wr = summary["win_rate"]
    primary = wr.get("primary", "decisive")
    lines = [f"## Win rate of {_fmt(summary['target'])}", "",
             "Every definition; the first row is the primary estimand, the others are secondary. Tests against 0.5 "
             "use the headline's design (physicians and items).", "",
             "| Definition | Rate | Headline 95% interval | p vs 0.5 (same design) | Bootstrap over items only | "
             "Bootstrap over physicians only | Counts |", "|---|---|---|---|---|---|---|"]
    counts = {"all": f"{wr['wins']} of {wr['n']}", "ties_half": f"{wr['ties']} ties, {wr['both_bad']} both bad",
              "decisive": f"{wr['wins']} of {wr['wins'] + wr['losses']} decisive"}
    order = [primary] + [name for name in wr["intervals"] if name != primary]
    for name in order:
        entry, m = wr["intervals"][name], wr["intervals"][name]["methods"]
        physicians = entry["headline"]["physicians"]
        # with too few physicians a physician-clustered interval would only look valid
        by_rater = _ci(m["bootstrap_rater"]) if physicians >= MIN_RATERS else f"not valid with {physicians} physicians"
        role = "**primary**: " if name == primary else "secondary: "
        lines.append(f"| {role}{_fmt(entry['definition'])} | {_fmt(entry['estimate'])} | "
                     f"{_headline_text(entry['headline'])} | {p_text(entry['headline'].get('p_value'))} | "
                     f"{_ci(m['bootstrap_item'])} | {by_rater} | {counts[name]} |")
    lines += ["", "What each interval assumes: " + "; ".join(f"*{_METHOD_NAMES[k]}*: {v}" for k, v in ASSUMES.items()
                                                           if k in _METHOD_NAMES) +
              ". The headline method was chosen by simulated coverage (bench/coverage.py, bench/RESULTS.md), where "
              "the two-way bootstrap over physicians and items covered 98-100% (too wide) with 20 or more physicians; "
              "it is used here only for Bradley-Terry scores.", ""]
    gf = summary["gold_filter"]
    lines += [f"Gold items (threshold {gf['threshold']:.0%}): a physician is {gf['rule']}. Excluded: "
              f"{_fmt(', '.join(gf['excluded_raters'])) or 'none'}"
              + (f"; win rate without them: {_headline_text(gf['win_rate'])}." if gf["win_rate"] else "."), "",
              "### Per rater", "", "| Rater | Judgments | Win rate | 95% Wilson (independence) | Gold accuracy |",
              "|---|---|---|---|---|"]
    for r in summary["per_rater"]:
        name = _fmt(r["rater"]) + (" (simulated)" if r["simulated"] else "")
        lines.append(f"| {name} | {r['judgments']} | {_fmt(r.get('rate'))} | {_ci(r)} | {_fmt(r['gold_accuracy'])} |")
    return lines + [""]


def _several_systems(summary: dict) -> list[str]:
    lines = ["## Several systems", "", "Each compared pair (first named system's win rate):", "",
             "| Pair | Judgments | Wins / all (95%) | Decisive-vote rate (95%) |", "|---|---|---|---|"]
    for pair in summary["pairwise"]:
        lines.append(f"| {_fmt(pair['systems'][0])} vs {_fmt(pair['systems'][1])} | {pair['n']} | "
                     f"{_headline_text(pair['headline'])} | {_headline_text(pair['decisive_headline'])} |")
    bt = summary["bradley_terry"]
    lines += ["", f"Bradley-Terry scores (log-strength, centred; ties half a win); intervals: {_fmt(bt['interval'])}, "
              f"{bt['rounds']} resamples.", "", "| System | Score | 95% interval |", "|---|---|---|"]
    for system, score in sorted(bt["scores"].items(), key=lambda kv: -kv[1]):
        low, high = bt["intervals"][system]
        lines.append(f"| {_fmt(system)} | {score:.3f} | {_fmt(low)}-{_fmt(high)} |")
    matrix = bt["win_matrix"]
    names = sorted(matrix)
    lines += ["", "Win matrix of direct comparisons (row beats column; ties half):", "",
              "| | " + " | ".join(_fmt(n) for n in names) + " |", "|---" * (len(names) + 1) + "|"]
    for row in names:
        lines.append(f"| {_fmt(row)} | " + " | ".join(_fmt(matrix[row][col]) for col in names) + " |")
    return lines + [""]


def _helpfulness(summary: dict) -> list[str]:
    lines = ["## Helpfulness Quotient", ""]
    if summary.get("hq_physicians"):
        lines += ["**Primary HQ: the physicians' evasive flags**, counted per answer (an answer seen by several "
                  "physicians is one answer with a flag rate; HQ = 1 - mean flag rate), with the headline interval "
                  "(answers clustered by item and by physician):", "",
                  "| System | Answers | Views | Flagged by anyone | HQ | Headline 95% | Clustered by item | "
                  "Wilson on answers (independence) |", "|---|---|---|---|---|---|---|---|"]
        for h in summary["hq_physicians"]:
            lines.append(f"| {_fmt(h['system'])} | {h['answers']} | {h['views']} | {h['flagged_by_any']} | "
                         f"{_fmt(h['hq'])} | {_headline_text(h['headline'])} | {_ci(h['item_clustered'])} | {_ci(h)} |")
        lines.append("")
    if summary.get("hq"):
        lines += ["Screening aid, not the primary HQ: the automatic evasion detector on the generation file (its "
                  "figures below are from answers it was not tuned on):", "",
                  "| System | HQ | 95% Wilson (answers independent) | Evasive / total | Reasons |", "|---|---|---|---|---|"]
        for h in summary["hq"]:
            reasons = ", ".join(f"{_fmt(k)} {v}" for k, v in sorted(h["reasons"].items()))
            lines.append(f"| {_fmt(h['system'])} | {h['hq']:.3f} | {_ci(h)} | {h['n_evasive']} / {h['n_total']} | {reasons} |")
        lines.append("")
    validation = summary.get("detector_validation")
    if validation and "precision" not in validation:
        lines += [f"Detector validation: {_fmt(validation.get('note'))}", ""]
    elif validation:
        lines += [f"Detector validation on held-out answers written independently of its code "
                  f"({_fmt(validation['set'])}): {validation['evasive']} evasive and "
                  f"{validation['direct']} direct answers; precision {_fmt(validation['precision'])}, recall "
                  f"{_fmt(validation['recall'])}; real expert conclusions flagged: see bench/RESULTS.md "
                  f"(PubMedQA gold long answers).", ""]
    dvp = summary.get("detector_vs_physicians")
    if dvp and dvp.get("n"):
        lines += [f"Detector against physicians' flags ({dvp['n']} views): precision {_fmt(dvp['precision'])}, "
                  f"recall {_fmt(dvp['recall'])}, Cohen's kappa {_fmt(dvp['kappa'])}.", ""]
    return lines


def _agreement(ag: dict) -> list[str]:
    lines = ["## Agreement between raters", ""]
    if not ag.get("units"):
        return lines + [_fmt(ag.get("note")), ""]
    for key, label in (("fleiss_kappa", "Fleiss' kappa"), ("randolph_kappa", "Randolph's kappa (4 categories)"),
                       ("krippendorff_alpha", "Krippendorff's alpha (nominal)")):
        lines.append(f"- {label}: {_fmt(ag[key]['value'])} (95% bootstrap over items, physicians fixed: "
                     f"{_ci(ag[key])})")
    lines.append(f"- each physician's final judgment per comparison; {ag['units']} comparisons of {ag['items']} items "
                 f"judged by several physicians ({ag['units_fixed_raters']} with {ag['raters_per_unit']} for the "
                 f"kappas); categories: {', '.join(ag['categories'])}")
    pairs = ag["cohen_kappa_pairs"]
    if isinstance(pairs, dict):
        lines.append(f"- {_fmt(pairs['note'])}")
    else:
        for pair in pairs:
            lines.append(f"- Cohen's kappa {_fmt(pair['raters'][0])} / {_fmt(pair['raters'][1])}: "
                         f"{_fmt(pair['kappa'])} ({_ci(pair)}), n = {pair['n']}")
    return lines + [""]


def _power(p: dict) -> list[str]:
    return ["## Sample size", "", f"One physician judging independent items would need {_fmt(p['exact_sign_test'])} "
            f"decisive judgments to detect the observed decisive win rate {p['expected_win_rate']:.3f} at alpha "
            f"{p['alpha']} with power {p['power']} (exact sign test: the smallest n from which power stays at or above "
            f"the target; normal approximation {p['normal_approximation']}, statsmodels {p['arcsine_statsmodels']}). "
            f"Decisive judgments now: {p['decisive_now']}. No post hoc power is given (it only restates the p-value). "
            f"With several physicians who differ, the number of physicians is the real sample size: plan with "
            f"`medalign report power --expected {p['expected_win_rate']:.2f} --physicians N --items M --overlap K "
            f"--pilot judgments.csv`, which simulates this report's own headline test.", ""]


def _rouge(summary: dict) -> list[str]:
    """ROUGE labelled by the answers' task; MeQSum's published numbers only beside MeQSum answers."""
    task = summary.get("task")
    title = f"ROUGE against the reference answers, task {_fmt(task)}" if task else \
        "ROUGE against the reference answers (task not recorded)"
    lines = [f"## {'Summarization: ' if task == 'meqsum' else ''}{title}", "",
             "| Model | | R-1 F1 | R-1 P | R-1 R | R-2 F1 | R-2 P | R-2 R | R-L F1 | R-L P | R-L R |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    published = _published_by_stage(summary, "meqsum", ROUGE_COLUMNS) if task == "meqsum" else {}
    for system, values in published.items():
        lines.append(f"| {system} | published | " + " | ".join(_fmt(values.get(c), 2) for c in ROUGE_COLUMNS) + " |")
    for system, scores in summary["rouge"].items():
        cells = [f"{scores[c]['mean']:.2f}" for c in ROUGE_COLUMNS]
        lines.append(f"| {_fmt(system)} | measured (n={scores['n']}) | " + " | ".join(cells) + " |")
    lines += ["", "F1 with 95% bootstrap intervals over examples: " + "; ".join(
        f"{_fmt(system)} " + ", ".join(f"{t} {_ci(scores[f'{t}_fmeasure'])}" for t in ("rouge1", "rouge2", "rougeL"))
        for system, scores in summary["rouge"].items())]
    paired = summary.get("rouge_paired")
    if paired and paired.get("n"):
        lines += ["", "Paired, dpo minus sft (F1): " + "; ".join(
            f"{t} {paired[t]['mean_difference']:+.3f} ({_ci(paired[t])}, Wilcoxon p = {paired[t]['wilcoxon_p']:.4f})"
            for t in ("rouge1", "rouge2", "rougeL"))]
    if published:
        lines += ["", "Published: BioMistral-7B on MeQSum (*Efficient Alignment of Medical Language Models using "
                  "Direct Preference Optimization*, ancillary experiment), from configs/tasks/meqsum.yaml."]
    elif task:
        lines += ["", f"No published ROUGE numbers for task {_fmt(task)}: published numbers are shown only beside "
                  "answers of the task they were measured on."]
    else:
        lines += ["", "The generation file does not record its task (generate with `--task T`), so no published "
                  "numbers are set beside these."]
    return lines + [""]


def render_markdown(summary: dict) -> str:
    """The report as Markdown; every value is escaped (names come from user data)."""
    lines = _overview(summary) + _published(summary)
    if summary.get("win_rate"):
        lines += _win_rate(summary)
    if summary.get("bradley_terry"):
        lines += _several_systems(summary)
    if summary.get("hq") or summary.get("hq_physicians") or summary.get("detector_validation"):
        lines += _helpfulness(summary)
    if summary.get("agreement"):
        lines += _agreement(summary["agreement"])
    if summary.get("position_bias"):
        lines += bias_section(summary["position_bias"], summary["length_bias"])
    if summary.get("power"):
        lines += _power(summary["power"])
    if summary.get("rouge"):
        lines += _rouge(summary)
    if summary.get("win_rate"):
        lines += tests_listed()
    lines += appendix(summary)
    run = summary.get("run")
    if run:
        lines += ["## DPO training run", "", f"Reward margin: final {_fmt(run.get('final_margin'))}, maximum "
                  f"{_fmt(run.get('max_margin'))} over {len(run.get('curve', []))} logged steps; wall time "
                  f"{_fmt(run.get('wall_time_s'))} s; tokens {_fmt(run.get('tokens_processed'))}.", ""]
    lines += ["## Versions", "", ", ".join(f"{k} {_fmt(v)}" for k, v in summary["versions"].items()), ""]
    return "\n".join(lines)


HTML_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    # Wide tables scroll inside themselves, so the page itself never scrolls sideways on a phone.
    "table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}"
    "td,th{border:1px solid #ccc;padding:.25rem .5rem}img{max-width:100%;height:auto}"
    "code,pre{white-space:pre-wrap;overflow-wrap:anywhere}p,li{overflow-wrap:anywhere}"
    "@media print{body{max-width:none;margin:0}img{page-break-inside:avoid}}"
)


def render_html(markdown_text: str, plots: list[str] | None = None, plot_dir: Path | None = None) -> str:
    """One self-contained page: the plots embedded as SVG data URIs read from `plot_dir` (no
    other file is requested when it is opened; shared alone, it keeps its figures)."""
    import base64

    import markdown

    from evaluation.report_plots import PLOTS

    body = markdown.markdown(markdown_text, extensions=["tables"])
    shown = set(plots) if plots is not None else {name for name, _ in PLOTS}
    images = []
    for name, title in PLOTS:
        svg = Path(plot_dir) / (name.rsplit(".", 1)[0] + ".svg") if plot_dir is not None else None
        if name not in shown or svg is None or not svg.is_file():
            continue
        data = base64.b64encode(svg.read_bytes()).decode()
        images.append(f'<h2>{html.escape(title)}</h2><img src="data:image/svg+xml;base64,{data}" '
                      f'alt="{html.escape(title)}">')
    return html_page("medalign report", body + "".join(images), HTML_STYLE)
