"""The report of a rating study: report.md, one self-contained report.html (plots inline, fits a
phone), summary.json (strict JSON: null where a value does not exist) and a plot per criterion
(PNG and SVG). Every number comes from evaluation.ratings.summarise_ratings."""

from __future__ import annotations

import base64
import json
import textwrap
from collections.abc import Mapping
from pathlib import Path

from data.files import write_atomic
from data.records import DataError
from evaluation.inert import md_text
from evaluation.judgments import export_kind, read_export
from evaluation.page import html_page
from evaluation.ratings import BOOTSTRAP_ASSUMES, INDEPENDENT_ASSUMES, summarise_ratings
from evaluation.report import _version, strict

KIND_SENTENCE = ("Study kind: **rating**. Each physician graded single answers on a rubric, blinded to the "
                 "system that wrote them; one rating is one physician's grade of one answer on one criterion.")


def _text(value) -> str:
    """Escaped for Markdown tables and HTML (names and questions come from user files)."""
    return md_text(value)


def _num(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _ci(entry: Mapping | None, digits: int = 2) -> str:
    if not entry or entry.get("ci_low") is None:
        return "-"
    return f"{entry['ci_low']:.{digits}f} to {entry['ci_high']:.{digits}f}"


def _setting(value) -> str:
    return ", ".join(_text(v) for v in value) if isinstance(value, (list, tuple)) else _text(value)


def _error_bars(values, lows, highs) -> list[list[float]]:
    """Error bar lengths, clipped at 0 (an interval end can sit a rounding error inside the value)."""
    return [[max(0.0, v - lo) for v, lo in zip(values, lows, strict=True)],
            [max(0.0, hi - v) for v, hi in zip(values, highs, strict=True)]]


def _direction(entry: Mapping) -> str:
    return {True: "higher is better", False: "lower is better"}.get(entry.get("higher_is_better"),
                                                                      "direction not stated (no rubric)")


def verdict(comparison: Mapping, higher_is_better: bool | None, alpha: float = 0.05) -> str:
    """The comparison in words, after Holm's correction."""
    if comparison.get("p_holm") is None:
        return "no test"
    if comparison["p_holm"] >= alpha or not comparison["mean_difference"]:
        return f"no difference shown (Holm p >= {alpha})"
    first, second = comparison["systems"]
    higher, lower = (second, first) if comparison["mean_difference"] > 0 else (first, second)
    if higher_is_better is None:
        return f"{_text(higher)} rated higher"
    return f"{_text(higher if higher_is_better else lower)} better"


def _distribution_text(distribution: Mapping, labels: Mapping | None = None) -> str:
    parts = []
    for value, count in distribution["counts"].items():
        share = distribution["shares"][value]
        name = labels.get(value, value) if labels and not value.isdigit() else value
        parts.append(f"{_text(name)}: {count} ({_num(share * 100 if share is not None else None, 0)}%)")
    return "; ".join(parts)


def _numeric_section(entry: Mapping, headline: str) -> list[str]:
    # With too few physicians the bootstrap over items is the headline: no second bootstrap column.
    beside = any((s.get("interval") or {}).get("rater_variation") for s in entry["per_system"].values())
    lines = [f"| System | Ratings | Items | Physicians | Mean | 95% {headline} | "
             + ("95% two-way bootstrap | " if beside else "") + "95% if independent | Distribution |",
             "|---" * (8 + beside) + "|"]
    for system, s in entry["per_system"].items():
        lines.append(f"| {_text(system)} | {s['n']} | {s['items']} | {s['raters']} | {_num(s['mean'])} | "
                     f"{_ci(s.get('interval'))} | " + (f"{_ci(s.get('bootstrap'))} | " if beside else "")
                     + f"{_ci(s['independent'])} | {_distribution_text(s['distribution'])} |")
    notes = dict.fromkeys(s["interval"]["note"] for s in entry["per_system"].values()
                          if (s.get("interval") or {}).get("note"))
    lines += [f"\n**Note on the {headline} interval: {_text(note)}.**" for note in notes]
    if entry["scale"] == "binary":
        lines += ["", "Binary criterion: the mean is the share of answers graded 1 (yes)."]
    if entry.get("paired"):
        lines += ["", "Paired comparison on the items both systems were rated on: difference of mean ratings, "
                  "two-way cluster-robust by physician and item (a physician's own preference between the systems "
                  "stays in the variance), t on effective physicians - 1 df, two-sided; Holm across criteria for each "
                  "pair of systems. The Wilcoxon column assumes independent judgments (it ignores physicians) and is "
                  "shown for comparison only.", "",
                  "| Difference | Items | Mean (95%) | Median of item means | p | Holm p | Verdict | "
                  "Wilcoxon p (assumes independent judgments) |", "|---|---|---|---|---|---|---|---|"]
        for c in entry["paired"]:
            interval = f" ({_num(c['ci_low'], 3)} to {_num(c['ci_high'], 3)})" if c.get("ci_low") is not None else ""
            lines.append(f"| {_text(c['difference'])} | {c['items']} | {_num(c['mean_difference'], 3)}{interval} | "
                         f"{_num(c['median_difference'], 3)} | {_num(c['p_value'], 4)} | {_num(c['p_holm'], 4)} | "
                         f"{verdict(c, entry.get('higher_is_better'))} | {_num(c.get('wilcoxon_p_value'), 4)} |")
    lines += ["", *_agreement_lines(entry.get("agreement") or {})]
    return lines


def _agreement_lines(agreement: Mapping) -> list[str]:
    if not agreement.get("units"):
        return [f"Agreement: {_text(agreement.get('note', 'not computed'))}.", ""]
    lines = [f"Agreement over {agreement['units']} answers rated by two or more physicians: Krippendorff's alpha "
             f"({agreement['metric']}) {_num(agreement['krippendorff_alpha'], 3)}"
             + (f" ({_text(agreement['note'])})" if agreement.get("note") else "") + ".", ""]
    pairs = [p for p in agreement["cohen_kappa_quadratic"] if p["kappa"] is not None]
    if pairs and len(pairs) <= 10:
        lines += ["", "| Physicians | Answers in common | Quadratic-weighted kappa |", "|---|---|---|"]
        lines += [f"| {_text(p['raters'][0])} / {_text(p['raters'][1])} | {p['n']} | {_num(p['kappa'], 3)} |"
                  for p in pairs]
    elif pairs:
        kappas = sorted(p["kappa"] for p in pairs)
        lines.append(f"Quadratic-weighted Cohen's kappa over {len(pairs)} physician pairs (two or more answers in "
                     f"common): median {_num(kappas[len(kappas) // 2], 3)}, range {_num(kappas[0], 3)} to "
                     f"{_num(kappas[-1], 3)}; every pair is in summary.json.")
    return lines + [""]


def _choice_section(entry: Mapping) -> list[str]:
    labels = entry.get("labels") or {}
    options = entry["domain"]
    lines = ["Choice criterion: options have no order, so only their distribution is shown.", "",
             "| System | Ratings | " + " | ".join(_text(labels.get(o, o)) for o in options) + " |",
             "|---" * (len(options) + 2) + "|"]
    for system, s in entry["per_system"].items():
        cells = [f"{s['distribution']['counts'][o]} ({_num(s['distribution']['shares'][o] * 100, 0)}%)" for o in options]
        lines.append(f"| {_text(system)} | {s['n']} | " + " | ".join(cells) + " |")
    return lines + [""]


def render_markdown(summary: Mapping) -> str:
    counts, interval = summary["counts"], summary["interval"]
    lines = ["# medalign rating report", "", KIND_SENTENCE, ""]
    if summary.get("rubric"):
        lines += [f"Rubric: **{_text(summary['rubric']['name'])}**. {_text(summary['rubric'].get('description'))}", ""]
    settings = {k: v for k, v in (summary.get("settings") or {}).items() if k != "rubric"}
    if settings:
        lines += ["## Study and settings", ""] + [f"- **{_text(k)}**: {_setting(v)}" for k, v in settings.items()] + [""]
    lines += [f"{counts['ratings']} ratings of {counts['items']} items by {counts['raters']} physicians on "
              f"{counts['criteria']} criteria; systems: {_text(', '.join(summary['systems']))}.", ""]
    if counts["repeats_dropped"]:
        lines += [f"{counts['repeats_dropped']} repeated ratings (same physician, item, system and criterion) were "
                  "replaced by their latest version.", ""]
    if counts["simulated_raters"]:
        lines += [f"**Simulated raters** (not physicians): {_text(', '.join(counts['simulated_raters']))}.", ""]
    headline = "two-way robust" if interval["headline"] == "two_way_robust" else "bootstrap over items"
    lines += ["## How to read the intervals", "",
              f"- **Headline, 95% {headline}**: {_text(interval['assumes'])}.",
              f"- Bootstrap ({interval['rounds']} resamples, seed {interval['seed']}): "
              + (_text(BOOTSTRAP_ASSUMES) if interval["rater_variation"] else "the headline above") + ".",
              f"- If independent: {_text(INDEPENDENT_ASSUMES)}.", ""]
    if not interval["rater_variation"]:
        lines += [f"**Warning: {_text(interval['assumes'])}.**", ""]
    if (summary.get("workload") or {}).get("warning"):
        lines += [f"**Warning: {_text(summary['workload']['warning'])}**", ""]
    lines += [f"Population: physicians and items are treated as random samples; these results rest on "
              f"{counts['raters']} physicians"
              + (f" ({summary['workload']['effective_physicians']:.1f} effective by their shares of the ratings)"
                 if summary.get("workload") and summary["workload"]["heavy"] else "") + f" and {counts['items']} items.",
              ""]
    if summary.get("note"):
        lines += [_text(summary["note"]), ""]
    for criterion_id, entry in summary["criteria"].items():
        title = entry.get("question") or criterion_id
        lines += [f"## {_text(title)}", "", f"Criterion `{_text(criterion_id)}`, scale {entry['scale']}, "
                  f"{_direction(entry) if entry['scale'] != 'choice' else 'unordered options'}.", ""]
        if entry.get("plot"):
            lines += [f"![{_text(criterion_id)}]({entry['plot']}.png)", ""]
        lines += _choice_section(entry) if entry["scale"] == "choice" else _numeric_section(entry, headline)
    lines += ["## Versions", "", ", ".join(f"{k} {_text(v)}" for k, v in summary["versions"].items()), ""]
    return "\n".join(lines)


STYLE = ("body{font-family:system-ui,sans-serif;font-size:16px;line-height:1.45;max-width:60rem;margin:1rem auto;"
         "padding:0 .75rem;color:#111}table{border-collapse:collapse;display:block;overflow-x:auto;max-width:100%}"
         "td,th{border:1px solid #bbb;padding:.3rem .5rem;text-align:left}img{max-width:100%;height:auto}"
         "code{background:#f2f2f2;padding:0 .2rem}")


def render_html(markdown_text: str, images: Mapping[str, bytes]) -> str:
    """One file: the Markdown as HTML with every plot inlined as a data-URI PNG."""
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"])
    for name, data in images.items():
        body = body.replace(f'src="{name}"', f'src="data:image/png;base64,{base64.b64encode(data).decode()}"')
    return html_page("medalign rating report", body, STYLE)


def _plot(entry: Mapping) -> tuple[bytes, bytes, bytes]:
    """(PNG, SVG, PDF: the vector forms for print) of one criterion: means with headline intervals per system, or option shares."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = list(entry["per_system"])
    fig, ax = plt.subplots(figsize=(5.4, 1.6 + 0.5 * len(systems)))  # narrow: legible on a phone
    positions = list(range(len(systems)))[::-1]
    if entry["scale"] == "choice":
        left = [0.0] * len(systems)
        for option in entry["domain"]:
            shares = [entry["per_system"][s]["distribution"]["shares"][option] or 0.0 for s in systems]
            ax.barh(positions, shares, left=left, label=(entry.get("labels") or {}).get(option, option))
            left = [a + b for a, b in zip(left, shares, strict=True)]
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of ratings", fontsize=11)
        ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=2, frameon=False)
    else:
        means = [entry["per_system"][s]["mean"] for s in systems]
        intervals = [entry["per_system"][s].get("interval") or {} for s in systems]
        lows = [i.get("ci_low") if i.get("ci_low") is not None else m for i, m in zip(intervals, means, strict=True)]
        highs = [i.get("ci_high") if i.get("ci_high") is not None else m for i, m in zip(intervals, means, strict=True)]
        ax.errorbar(means, positions, xerr=_error_bars(means, lows, highs), fmt="o", capsize=6, markersize=7)
        bottom, top = entry["domain"][0], entry["domain"][-1]
        ax.set_xlim(bottom - 0.1 * (top - bottom), top + 0.1 * (top - bottom))
        ax.set_xticks(entry["domain"])
        method = {"two_way_robust": "two-way robust", "bootstrap_item": "bootstrap over items"}.get(
            intervals[0].get("method"), "")
        ax.set_xlabel(("share graded yes" if entry["scale"] == "binary" else "mean grade")
                      + f" with 95% {method} interval\n({_direction(entry)})", fontsize=11)
    ax.set_yticks(positions, systems, fontsize=11)
    ax.set_ylim(-0.7, len(systems) - 0.3)
    ax.set_title("\n".join(textwrap.wrap(entry.get("question") or entry["id"], 60)), fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    out = []
    for form in ("png", "svg", "pdf"):
        buffer = io.BytesIO()
        # No creation date in the vector files: the same study gives the same bytes.
        fig.savefig(buffer, format=form, dpi=200, bbox_inches="tight",
                    metadata={"Date": None} if form != "png" else None)
        out.append(buffer.getvalue())
    plt.close(fig)
    return out[0], out[1], out[2]


def build_rating_summary(rows: list[Mapping], settings: Mapping | None = None, *, rounds: int = 2000,
                         seed: int = 0) -> dict:
    settings = dict(settings or {})
    systems = settings.get("systems") if isinstance(settings.get("systems"), list) else None
    summary = summarise_ratings(rows, rubric=settings.get("rubric"), systems=systems, rounds=rounds, seed=seed,
                                source=str(settings.get("judgments_file") or settings.get("study") or "<ratings>"))
    rubric = settings.get("rubric")
    if rubric is not None:
        rubric = rubric if isinstance(rubric, Mapping) else json.loads(rubric if isinstance(rubric, str) else rubric.to_json())
        summary["rubric"] = {"name": rubric.get("name"), "description": rubric.get("description") or ""}
    summary["settings"] = {**{k: v for k, v in settings.items() if k != "rubric"}, "kind": summary["kind"]}
    summary["versions"] = {p: _version(p) for p in ("medalign", "scipy", "statsmodels", "scikit-learn", "krippendorff")}
    return summary


def write_rating_report(rows: list[Mapping], settings: Mapping | None, out_dir: Path, *, rounds: int = 2000,
                        seed: int = 0) -> list[Path]:
    """Compute everything first, then write: bad input (DataError) leaves no file behind."""
    out_dir = Path(out_dir)
    summary = build_rating_summary(rows, settings, rounds=rounds, seed=seed)
    files: dict[str, bytes] = {}
    for criterion_id, entry in summary["criteria"].items():
        name = f"criterion_{criterion_id}"
        files[f"{name}.png"], files[f"{name}.svg"], files[f"{name}.pdf"] = _plot(entry)
        entry["plot"] = name
    summary["plots"] = sorted(files)
    text = render_markdown(summary)
    images = {n: data for n, data in files.items() if n.endswith(".png")}
    files = {"report.md": text.encode(), "report.html": render_html(text, images).encode(),
             "summary.json": (json.dumps(strict(summary), indent=2, allow_nan=False) + "\n").encode(),
             **files}
    for name, payload in files.items():
        write_atomic(out_dir / name, payload)
    return [out_dir / name for name in files]


def is_rating_export(path: Path) -> bool:
    """Whether a .csv/.jsonl judgment export holds ratings (by its header or first record)."""
    return export_kind(path).name == "rating"


def load_ratings(path: Path) -> list[dict]:
    """A rating export (.csv/.jsonl, one row per rating), each row checked by contract.parse_rating."""
    kind, rows = read_export(path)
    if kind != "rating":
        raise DataError("this is a pairwise export; a rating report needs a rating study's export", file=str(path))
    return [dict(row) for row in rows]
