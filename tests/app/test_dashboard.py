"""The researcher dashboard's numbers (app/ui/dashboard.py) against independent references:
agreement against the krippendorff package, time on task against numpy's median; the simulated
filter, the per-item view and the charts' contents (numbers and escaped names only)."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from app.ui import dashboard
from evaluation.contract import Choice, StudyKind, parse_pairwise
from tests.evaluation.conftest import synthetic_study


@pytest.fixture
def rows():
    raw = synthetic_study(0.65, items=40, raters=3, overlap=3, seed=4, tie_share=0.1)
    out = []
    for n, r in enumerate(raw):
        out.append(parse_pairwise({**r, "study": "s", "sequence": n, "rationale": f"why {n} <b>",
                                   "time_on_task_ms": 1000 + 37 * (n % 11) + 500 * (r["rater"] == "r1"),
                                   "created_at": f"2026-11-22T07:{n // 60:02d}:{n % 60:02d}+00:00",
                                   "updated_at": "", "revisions": 0, "app_version": "t",
                                   "rater_simulated": r["rater"] == "r2"}))
    return out


def test_agreement_matches_the_krippendorff_package(rows):
    text = dashboard.agreement_text(rows, StudyKind.pairwise)
    items = sorted({r["item_id"] for r in rows})
    raters = sorted({r["rater"] for r in rows})
    # Position-free categories: the system preferred (A/B sides are swapped between physicians), tie, both bad.
    codes = {"sft": 0, "dpo": 1, Choice.tie.value: 2, Choice.both_bad.value: 3}
    data = np.full((len(raters), len(items)), np.nan)
    for r in rows:
        data[raters.index(r["rater"]), items.index(r["item_id"])] = codes[r["preferred_system"] or r["choice"]]
    reference = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert f"Krippendorff's alpha {reference:.2f}" in text
    assert "percentile bootstrap over items" in text  # the interval says what it assumes


def test_time_on_task_and_the_simulated_filter(rows):
    progress = [{"physician": p, "simulated": p == "r2"} for p in ("r0", "r1", "r2")]
    kept, kept_progress = dashboard.without_simulated(rows, progress, True)
    assert {r["rater"] for r in kept} == {"r0", "r1"} and [p["physician"] for p in kept_progress] == ["r0", "r1"]
    seconds = dashboard.time_on_task(kept)
    for rater in ("r0", "r1"):
        reference = np.median([r["time_on_task_ms"] for r in kept if r["rater"] == rater]) / 1000
        assert seconds[rater] == pytest.approx(reference)
    assert dashboard.without_simulated(rows, progress, False) == (rows, progress)


def test_item_view_and_charts(rows):
    table = dashboard.item_table(rows, StudyKind.pairwise)
    assert len(table) == len(rows) and [t[0] for t in table] == sorted(t[0] for t in table)
    assert {t[3] for t in table} == {r["rationale"] for r in rows}  # rationales shown as they were written
    svg = dashboard.timeline_svg(rows, planned=200)
    assert svg.startswith("<svg") and f"{len(rows)} of 200 planned" in svg
    chart = dashboard.interval_svg([["x:<y>", "win rate of <y>", 0.6, "0.500 to 0.700", 10, ""]], "t <i>", "a <b>")
    assert "<y>" not in chart and "&lt;y&gt;" in chart and "<script" not in chart
    assert chart.count("<circle") == 1
    assert dashboard.interval_svg([["x:y", "win rate", "-", "-", 0, "no judgments yet"]], "t", "a") == ""


def test_charts_draw_one_quantity_per_axis_in_words():
    """Issue 22: win rates alone on a 0-1 axis with the 0.5 line; Bradley-Terry log-strengths
    (another quantity) stay in the table; a rating study gets one chart per criterion."""
    from app.ui.researcher import pairwise_chart, rating_chart

    results = [["sft:dpo", "win rate of dpo over sft", 0.62, "0.540 to 0.700", 80, ""],
               ["dpo", "Bradley-Terry log-strength (mean 0; ties half a win)", 1.089, "0.800 to 1.300", 80, ""],
               ["base", "Bradley-Terry log-strength (mean 0; ties half a win)", -1.083, "-1.300 to -0.800", 80, ""]]
    chart = pairwise_chart(results)
    assert chart.count("<circle") == 1 and "1.089" not in chart and "-1.083" not in chart
    assert "win rate (share of judgments won; dashed line: 0.5, no difference)" in chart
    assert 'stroke-dasharray="5 3"' in chart and ">0.5<" in chart and ">0<" in chart and ">1<" in chart
    rubric = {"criteria": [{"id": "quality", "question": "Overall quality?"}, {"id": "harmful", "question": "Harm?",
                                                                              "higher_is_better": False}]}
    rated = [["sft", "quality: mean", 3.1, "2.800 to 3.400", 20, ""], ["dpo", "quality: mean", 3.9, "3.600 to 4.200", 20, ""],
             ["sft", "harmful: mean (lower is better)", 0.2, "0.100 to 0.300", 20, ""]]
    charts = rating_chart(rated, rubric)
    assert charts.count("<svg") == 2 and "Overall quality?: mean grade per system" in charts
    assert "mean grade (lower is better)" in charts
