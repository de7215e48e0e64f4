"""The comparison as files: compare.md, compare.html (self-contained, every text escaped) and
summary.json (strict JSON: no NaN or Infinity, sorted keys). Written through a temporary name
so a failure leaves no half-written file."""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path

from evaluation.inert import md_text
from evaluation.page import html_page
from evaluation.report import strict


def _num(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _p(value) -> str:
    if value is None:
        return "-"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _cell(entry: dict | None) -> str:
    if not entry:
        return "-"
    return f"{entry['value']:.3f} ({entry['ci_low']:.3f}-{entry['ci_high']:.3f})"


def tables(summary: dict) -> list[tuple[str, list[str], list[list[str]], str]]:
    """(title, header, rows, note) for each table; Markdown and HTML render the same tables."""
    systems = summary["systems"]
    metrics = [m for m in summary["metrics"] if m != "per_class_f1"]
    out = []
    rows = []
    # The published layout: base -> SFT -> DPO, with the P of the last stage against the one before.
    last = next((c for c in summary["comparisons"] if (c["first"], c["second"]) == (systems[-2], systems[-1])), None)
    p_header = f"P {systems[-2]} -> {systems[-1]} (Holm)"
    for metric in metrics:
        arrow = "higher is better" if summary["metrics"][metric]["higher_is_better"] else "lower is better"
        p_cell = _p(last["p_holm"]) if last and last["metric"] == metric else "-"
        rows.append([f"{metric} ({arrow})", *[_cell(summary["per_system"][s].get(metric)) for s in systems], p_cell])
    if summary["task"]["output"] != "free-text":
        rows.append(["unparseable answers (scored wrong)", *[str(summary["per_system"][s]["unparsed"]) for s in systems],
                     ""])
    out.append((f"{summary['task']['name']} (v{summary['task']['version']}), {summary['n_examples']} examples",
                ["metric", *systems, p_header], rows, "value (95% interval); " + summary["assumptions"]))
    if "per_class_f1" in summary["metrics"]:
        classes = list(summary["per_system"][systems[0]]["per_class_f1"])
        out.append(("Per-class F1", ["class", *systems],
                    [[c, *[_num(summary["per_system"][s]["per_class_f1"][c]) for s in systems]] for c in classes], ""))
    out.append(_comparison_table("Paired comparisons", summary["comparisons"], summary["multiplicity"]))
    if "by" in summary:
        out += _by_tables(summary, metrics)
    if "ratings" in summary:
        ratings = summary["ratings"]
        out.append((f"Physician ratings ({ratings['criterion']})", ["system", "mean Likert (95% interval)", "items"],
                    [[s, _cell(r["likert_mean"]), str(r["items"])] for s, r in ratings["per_system"].items()], ""))
        out.append(_comparison_table("Ratings: Wilcoxon signed-rank on item means", ratings["comparisons"],
                                     "Holm over these comparisons"))
    out.append(_compute_table(summary["compute"]))
    if summary["published"]:
        out.append(("Published numbers (for reference; not results of this run)",
                    ["model", "metric", "base", "SFT", "DPO", "P", "source"],
                    [[r["model"], r["metric"], _num(r["base"], 2), _num(r["sft"], 2), _num(r["dpo"], 2),
                      r["p_value"] or "-", r["source"]] for r in summary["published"]], ""))
    return out


def _group_cell(entry: dict | None, counts: dict, metric: str) -> str:
    """A group's value with its interval, or without one (a small group); accuracy with correct/n."""
    if not entry:
        return "-"
    text = _cell(entry) if "ci_low" in entry else f"{entry['value']:.3f}"
    return text + (f" [{counts['correct']}/{counts['n']}]" if metric == "accuracy" and "correct" in counts else "")


def _by_tables(summary: dict, metrics: list[str]) -> list:
    """Results and paired comparisons per value of the --by field."""
    by, systems = summary["by"], summary["systems"]
    field = by["field"]
    rows = []
    for group in by["groups"]:
        note = f"too small for intervals (n={group['n']} < {by['min_group']})" if group["too_small"] else ""
        for metric in metrics:
            cells = [_group_cell(group["per_system"][s].get(metric), group["per_system"][s], metric) for s in systems]
            rows.append([group["value"], str(group["n"]), metric, *cells, note])
        if summary["task"]["output"] != "free-text":
            rows.append([group["value"], str(group["n"]), "unparseable answers",
                         *[str(group["per_system"][s]["unparsed"]) for s in systems], ""])
    results = (f"Results by {field}", [field, "n", "metric", *systems, "note"], rows,
               "value (95% interval) [correct/n for accuracy], per group; intervals as in the whole table")
    tests = []
    for group in by["groups"]:
        for c in group["comparisons"]:
            if c["p_value"] is None:
                tests.append([group["value"], str(group["n"]), f"{c['first']} -> {c['second']}", c["metric"],
                              c["too_small"], "-", "-", "-", "-"])
                continue
            tests.append([group["value"], str(group["n"]), f"{c['first']} -> {c['second']}", c["metric"],
                          c.get("method", c["test"]), _num(c.get("difference")),
                          f"{_num(c['ci_low'])} to {_num(c['ci_high'])}" if "ci_low" in c else "-", _p(c["p_value"]),
                          _p(c["p_holm"])])
    comparisons = (f"Paired comparisons by {field}",
                   [field, "n", "comparison", "metric", "test", "difference", "95% interval", "P", "P (Holm)"], tests,
                   by["multiplicity"])
    return [results, comparisons]


def _comparison_table(title: str, comparisons: list[dict], note: str):
    rows = [[f"{c['first']} -> {c['second']}", c["metric"], c.get("method", c["test"]), _num(c.get("difference",
            c.get("mean_difference"))),
             f"{_num(c['ci_low'])} to {_num(c['ci_high'])}" if "ci_low" in c else "-", _p(c["p_value"]), _p(c["p_holm"])]
            for c in comparisons]
    return title, ["comparison", "metric", "test", "difference", "95% interval", "P", "P (Holm)"], rows, note


def _compute_table(compute: dict):
    keys = ("wall_time_s", "device", "gpu_hours", "cpu_hours", "tokens_processed", "flops")
    formats = {"wall_time_s": "{:.1f}", "gpu_hours": "{:.4f}", "cpu_hours": "{:.4f}", "tokens_processed": "{:,}",
               "flops": "{:.3e}"}

    def cell(key, value):
        return "-" if value is None or key not in formats else formats[key].format(value)

    rows = [[stage, *[values[k] or "-" if k == "device" else cell(k, values[k]) for k in keys]]
            for stage, values in compute["stages"].items()]
    if compute["dpo_over_sft"]:
        rows.append(["DPO / SFT", *[_num(compute["dpo_over_sft"].get(k), 2) for k in keys]])
    note = f"from each stage's run.json; {compute['notes']}" if rows else "no run records given (--runs sft=DIR,dpo=DIR)"
    return "Compute per training stage", ["stage", *keys], rows, note


def to_markdown(summary: dict) -> str:
    lines = [f"# SFT vs DPO: {md_text(summary['task']['name'])}", ""]
    for title, header, rows, note in tables(summary):
        lines += [f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(md_text(cell) for cell in row) + " |" for row in rows]
        lines += ["", note, ""] if note else [""]
    return "\n".join(lines)


STYLE = ("body{font-family:sans-serif;max-width:70em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
         "td,th{border:1px solid #bbb;padding:.3em .6em;text-align:left}th{background:#eee}p.note{color:#555}")


def to_html(summary: dict) -> str:
    esc = html.escape
    parts = [f"<h1>SFT vs DPO: {esc(summary['task']['name'])}</h1>"]
    for title, header, rows, note in tables(summary):
        parts.append(f"<h2>{esc(title)}</h2><table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{esc(cell)}</td>" for cell in row) + "</tr>" for row in rows]
        parts.append("</table>" + (f"<p class='note'>{esc(note)}</p>" if note else ""))
    return html_page(summary["task"]["name"], "".join(parts), STYLE)


def write_comparison(summary: dict, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    payloads = {
        "summary.json": json.dumps(strict(summary), indent=2, sort_keys=True, allow_nan=False) + "\n",
        "compare.md": to_markdown(summary),
        "compare.html": to_html(summary),
    }
    written = []
    for name, text in payloads.items():
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, out_dir / name)
        written.append(out_dir / name)
    return written
