"""The researcher dashboard's pieces computed from export rows (evaluation/contract.py rows):
judgments over time, time on task per physician, agreement so far, the per-item view, and the
two small charts as inline SVG (numbers and escaped names only; no script, no external file).
"""

from __future__ import annotations

import html
import statistics
from collections import defaultdict
from datetime import datetime

from app.ui.pairwise import PANEL as PAIRWISE_PANEL

ITEM_HEADERS = ["item", "physician", "verdict", "rationale", "seconds", "revisions"]
AGREEMENT_ROUNDS = 200  # a live view: fewer item resamples than `medalign report`


def without_simulated(rows: list[dict], progress: list[dict], exclude: bool) -> tuple[list[dict], list[dict]]:
    rows = [r for r in rows if r.get("rater_kind", "physician") != "model"]  # a model judge is no physician (issue 21)
    if not exclude:
        return rows, progress
    return [r for r in rows if not r["rater_simulated"]], [p for p in progress if not p["simulated"]]


def time_on_task(rows: list[dict]) -> dict[str, float]:
    """Median seconds per judgment, per physician (a rating judgment is one row per criterion:
    counted once per item)."""
    per_rater: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        per_rater[r["rater"]][(r["item_id"], r.get("system_a") or r.get("system"))] = int(r["time_on_task_ms"] or 0)
    return {rater: statistics.median(times.values()) / 1000 for rater, times in per_rater.items() if times}


def agreement_text(rows: list[dict], panel: str) -> str:
    if panel != PAIRWISE_PANEL:
        return "Agreement so far: computed per criterion in the full rating report (`medalign report`)."
    from evaluation.agreement import agreement

    scored = [r for r in rows if not r["is_gold"]]
    result = agreement(scored, rounds=AGREEMENT_ROUNDS) if scored else {"items": 0, "note": "no judgments"}
    if not result.get("items"):
        return "Agreement so far: " + html.escape(result.get("note", "no comparison judged twice yet")) + "."
    parts = []
    for key, label in (("krippendorff_alpha", "Krippendorff's alpha"), ("fleiss_kappa", "Fleiss' kappa")):
        entry = result[key]
        if entry["value"] is not None:
            interval = "" if entry["ci_low"] is None else f" (95% {entry['ci_low']:.2f} to {entry['ci_high']:.2f})"
            parts.append(f"{label} {entry['value']:.2f}{interval}")
    return (f"Agreement so far on {result['units']} comparisons judged by two or more physicians "
            f"({result['items']} items): " + "; ".join(parts) +
            f". Intervals: percentile bootstrap over items ({AGREEMENT_ROUNDS} rounds), final judgments only.")


def item_table(rows: list[dict], panel: str) -> list[list]:
    """Every judgment, grouped by item, with its rationale (the per-item view)."""
    out = []
    if panel == PAIRWISE_PANEL:
        for r in sorted(rows, key=lambda r: (r["item_id"], r["rater"])):
            verdict = f"{r['choice']} ({r['system_a']} vs {r['system_b']})"
            out.append([r["item_id"], r["rater"], verdict, r["rationale"], round(r["time_on_task_ms"] / 1000, 1),
                        r["revisions"]])
        return out
    grouped: dict[tuple, dict] = {}
    for r in rows:
        entry = grouped.setdefault((r["item_id"], r["rater"], r["system"]), {"grades": [], "row": r})
        entry["grades"].append(f"{r['criterion']}={r['value']}")
    for (item, rater, system), entry in sorted(grouped.items()):
        r = entry["row"]
        out.append([item, rater, f"{system}: " + ", ".join(entry["grades"]), r["rationale"],
                    round(r["time_on_task_ms"] / 1000, 1), r["revisions"]])
    return out


def _when(row: dict) -> datetime:
    return datetime.fromisoformat(str(row["created_at"]))


def timeline_svg(rows: list[dict], planned: int, width: int = 640, height: int = 180) -> str:
    """Cumulative judgments over time against the planned total."""
    stamps = sorted({(_when(r), r["rater"], r["item_id"]) for r in rows})
    if not stamps:
        return "<p>No judgments yet.</p>"
    start, end = stamps[0][0], stamps[-1][0]
    span = max((end - start).total_seconds(), 1.0)
    top = max(planned, len(stamps), 1)
    pad = 36
    points = " ".join(
        f"{pad + (when - start).total_seconds() / span * (width - 2 * pad):.1f},"
        f"{height - pad - (n + 1) / top * (height - 2 * pad):.1f}" for n, (when, _, _) in enumerate(stamps))
    goal_y = height - pad - planned / top * (height - 2 * pad)
    return (f'<svg role="img" aria-label="Judgments over time: {len(stamps)} of {planned} planned" '
            f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" xmlns="http://www.w3.org/2000/svg">'
            f'<line x1="{pad}" y1="{goal_y:.1f}" x2="{width - pad}" y2="{goal_y:.1f}" stroke="#999" stroke-dasharray="4"/>'
            f'<text x="{pad}" y="{goal_y - 4:.1f}" font-size="11">planned {planned}</text>'
            f'<polyline fill="none" stroke="#2563eb" stroke-width="2" points="{points}"/>'
            f'<text x="{pad}" y="{height - 8}" font-size="11">{html.escape(start.strftime("%Y-%m-%d %H:%M"))}</text>'
            f'<text x="{width - pad}" y="{height - 8}" font-size="11" text-anchor="end">'
            f'{html.escape(end.strftime("%Y-%m-%d %H:%M"))}</text>'
            f'<text x="4" y="14" font-size="11">judgments (cumulative)</text></svg>')


def interval_svg(rows: list[list], title: str, axis: str, *, scale: tuple[float, float] | None = None,
                 reference: float | None = None, width: int = 640) -> str:
    """One quantity on one axis: per result row its estimate (dot) and 95% interval (line).
    `axis` names the quantity in words under the axis; `scale` fixes its ends (else 0..max);
    `reference` draws a dashed line (0.5 for win rates), labelled, inside the scale."""
    drawn = []
    for row in rows:
        label, estimate, interval = row[0], row[2], row[3]
        if not isinstance(estimate, (int, float)) or " to " not in str(interval):
            continue
        low, high = (float(x) for x in str(interval).split(" to "))
        drawn.append((str(label), float(estimate), low, high))
    if not drawn:
        return ""
    bottom, top = scale or (min(0.0, *(d[2] for d in drawn)), max(1.0, *(d[3] for d in drawn)))
    left, right, step = 200, width - 20, 26
    height = 70 + step * len(drawn)
    base = height - 40
    x = lambda v: left + (min(max(v, bottom), top) - bottom) / (top - bottom) * (right - left)  # noqa: E731
    parts = [f'<text x="4" y="14" font-size="12">{html.escape(title)}</text>',
             f'<line x1="{left}" y1="{base}" x2="{right}" y2="{base}" stroke="#555"/>']
    ticks = sorted({bottom, top, *([reference] if reference is not None else [])})
    for tick in ticks:
        parts.append(f'<line x1="{x(tick):.1f}" y1="{base}" x2="{x(tick):.1f}" y2="{base + 4}" stroke="#555"/>'
                     f'<text x="{x(tick):.1f}" y="{base + 16}" font-size="11" text-anchor="middle">{tick:g}</text>')
    parts.append(f'<text x="{(left + right) / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle">'
                 f'{html.escape(axis)}</text>')
    if reference is not None and bottom <= reference <= top:
        parts.append(f'<line x1="{x(reference):.1f}" y1="24" x2="{x(reference):.1f}" y2="{base}" stroke="#374151" '
                     'stroke-width="1.5" stroke-dasharray="5 3"/>')
    for n, (label, estimate, low, high) in enumerate(drawn):
        y = 36 + n * step
        parts.append(f'<text x="4" y="{y + 4}" font-size="11">{html.escape(label[:34])}</text>'
                     f'<line x1="{x(low):.1f}" y1="{y}" x2="{x(high):.1f}" y2="{y}" stroke="#1d4ed8" stroke-width="2"/>'
                     f'<circle cx="{x(estimate):.1f}" cy="{y}" r="4" fill="#1e3a8a"/>')
    return (f'<svg role="img" aria-label="{html.escape(title)}; axis: {html.escape(axis)}" '
            f'viewBox="0 0 {width} {height}" width="100%" style="max-width:{width}px" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')
