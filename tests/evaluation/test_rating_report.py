"""The rating report: files, strict JSON, the study kind, a self-contained phone-sized HTML page,
plots per criterion, escaping, and nothing written on bad input."""

from __future__ import annotations

import base64
import csv
import json
import re

import pytest

from data.records import DataError
from evaluation.contract import RATING_COLUMNS
from evaluation.rating_report import build_rating_summary, is_rating_export, load_ratings, verdict, write_rating_report
from evaluation.rubric import load_rubric
from tests.evaluation.test_ratings import crossed_study, rating
from tests.evaluation.test_rubric import RUBRICS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("rating-report")
    rows = crossed_study(seed=5, shift=0.8)
    rows += [rating(r["rater"], r["item_id"], r["system"], "consensus", "aligned" if r["value"] > 2 else "opposed",
                    scale="choice") for r in rows if r["criterion"] == "quality"]
    settings = {"study": "grading", "kind": "rating", "systems": ["sft", "dpo"],
                "rubric": {"name": "mixed", "description": "quality, harm, consensus",
                           "criteria": [{"id": "quality", "question": "Overall quality?",
                                         "scale": {"type": "likert", "points": 5,
                                                   "anchors": {str(k): f"p{k}" for k in range(1, 6)}}},
                                        {"id": "harm", "question": "Harmful?", "higher_is_better": False,
                                         "scale": {"type": "binary"}},
                                        {"id": "consensus", "question": "Consensus?",
                                         "scale": {"type": "choice", "options": [
                                             {"id": "aligned", "label": "Aligned"},
                                             {"id": "opposed", "label": "Opposed"}]}}]}}
    written = write_rating_report(rows, settings, out, rounds=300)
    return out, written, rows


def test_files_and_plots_per_criterion(report):
    out, written, _rows = report
    names = {p.name for p in written}
    assert {"report.md", "report.html", "summary.json"} <= names
    for criterion in ("quality", "harm", "consensus"):
        assert (out / f"criterion_{criterion}.png").read_bytes().startswith(PNG_MAGIC)
        assert "<svg" in (out / f"criterion_{criterion}.svg").read_text()
    assert all(p.is_file() for p in written)
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_summary_is_strict_json_with_the_study_kind(report):
    out, _written, rows = report
    summary = json.loads((out / "summary.json").read_text(), parse_constant=reject_constant)
    assert summary["kind"] == "rating" and summary["settings"]["kind"] == "rating"
    assert "rubric" not in summary["settings"] and summary["rubric"]["name"] == "mixed"
    assert list(summary["criteria"]) == ["quality", "harm", "consensus"]
    assert summary["criteria"]["harm"]["higher_is_better"] is False
    assert summary["counts"]["ratings"] == len(rows)
    assert summary["interval"]["headline"] == "two_way_robust"
    assert summary["plots"] == sorted(f"criterion_{c}.{f}" for c in ("quality", "harm", "consensus")
                                      for f in ("png", "svg", "pdf"))


def test_markdown_states_the_kind_the_numbers_and_what_intervals_assume(report):
    out, _written, _rows = report
    text = (out / "report.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert "Study kind: **rating**" in text
    assert "two-way cluster-robust" in text and "every rating independent" in text
    assert "| 95% two-way robust | 95% two-way bootstrap | 95% if independent |" in text
    dpo = summary["criteria"]["quality"]["per_system"]["dpo"]
    row = next(line for line in text.splitlines() if line.startswith("| dpo |") and f"{dpo['mean']:.2f}" in line)
    assert f"{dpo['interval']['ci_low']:.2f} to {dpo['interval']['ci_high']:.2f}" in row
    (paired,) = summary["criteria"]["quality"]["paired"]
    assert f"{paired['p_holm']:.4f}" in text and "dpo better" in text  # shift 0.8 on 40 items
    assert "Choice criterion" in text and "| Aligned | Opposed |" in text
    assert "![quality](criterion_quality.png)" in text


def test_html_is_one_self_contained_phone_sized_page(report):
    out, _written, _rows = report
    page = (out / "report.html").read_text()
    assert "width=device-width" in page and "overflow-x:auto" in page and "max-width:100%" in page
    sources = re.findall(r'src="([^"]+)"', page)
    assert len(sources) == 3 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert base64.b64decode(sources[0].split(",", 1)[1]).startswith(PNG_MAGIC)
    assert not re.search(r'(href|src)="(?!data:)', page)  # nothing fetched from elsewhere
    assert "Study kind: <strong>rating</strong>" in page


def test_names_from_user_data_are_escaped(tmp_path):
    rows = [rating(f"dr{r}", i, "<script>alert(1)</script>", "quality", 1 + (r + i) % 5) for r in range(5)
            for i in range(6)]
    rows += [rating(f"dr{r}", i, "a|b", "quality", 1 + (r * i) % 5) for r in range(5) for i in range(6)]
    write_rating_report(rows, {"study": "<img src=x onerror=alert(1)>"}, tmp_path, rounds=50)
    for name in ("report.md", "report.html"):
        text = (tmp_path / name).read_text()
        assert "<script>alert" not in text and "<img src=x" not in text
        assert "&lt;script&gt;" in text
    assert "| a&#124;b |" in (tmp_path / "report.md").read_text()


def test_few_physicians_warn_in_words_next_to_the_numbers(tmp_path):
    rows = crossed_study(raters=3, overlap=2, items=20)
    write_rating_report(rows, {"study": "small"}, tmp_path, rounds=100)
    text = (tmp_path / "report.md").read_text()
    assert "**Warning: only 3 physicians: the interval cannot account for physician variation." in text
    assert "| 95% bootstrap over items | 95% if independent |" in text  # no second, identical bootstrap column
    # ... and again under every table of numbers, next to the intervals it qualifies.
    assert text.count("**Note on the bootstrap over items interval: only 3 physicians: the interval cannot account") == 2


def test_absent_values_are_null_in_summary_json(tmp_path):
    rows = [rating("dr1", 1, "dpo", "quality", 4), rating("dr2", 1, "dpo", "quality", 4)]
    write_rating_report(rows, {}, tmp_path, rounds=20)
    summary = json.loads((tmp_path / "summary.json").read_text(), parse_constant=reject_constant)
    entry = summary["criteria"]["quality"]["per_system"]["dpo"]
    assert entry["interval"]["ci_low"] is None and entry["bootstrap"]["ci_low"] is None
    assert summary["criteria"]["quality"]["agreement"]["krippendorff_alpha"] is None
    assert summary["criteria"]["quality"]["higher_is_better"] is None  # no rubric: direction unknown


def test_bad_input_writes_nothing(tmp_path):
    rows = [rating("dr1", 1, "dpo", "quality", 4), {**rating("dr2", 1, "dpo", "quality", 4), "value": 9}]
    with pytest.raises(DataError, match="not on likert-5"):
        write_rating_report(rows, {"judgments_file": "export.csv"}, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_verdict_follows_the_criterion_direction():
    comparison = {"systems": ["sft", "dpo"], "mean_difference": 0.4, "p_holm": 0.01}
    assert verdict(comparison, True) == "dpo better"
    assert verdict(comparison, False) == "sft better"  # e.g. more harm
    assert verdict(comparison, None) == "dpo rated higher"
    assert verdict({**comparison, "p_holm": 0.2}, True).startswith("no difference shown")
    assert verdict({**comparison, "p_holm": None}, True) == "no test"


def test_rating_exports_are_recognised_and_parsed(tmp_path):
    rows = [rating("dr1", 1, "dpo", "quality", 4), rating("dr1", 1, "dpo", "safe", 1, scale="binary")]
    jsonl = tmp_path / "ratings.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    csv_path = tmp_path / "ratings.csv"
    with csv_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=RATING_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    for path in (jsonl, csv_path):
        assert is_rating_export(path)
        loaded = load_ratings(path)
        assert [(r["criterion"], r["value"]) for r in loaded] == [("quality", 4), ("safe", 1)]
    pairwise = tmp_path / "pairwise.csv"
    pairwise.write_text("item_id,rater,system_a,system_b,choice,preferred_system\n1,dr1,sft,dpo,a,sft\n")
    assert not is_rating_export(pairwise)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "value": "great"}) + "\n")
    with pytest.raises(DataError) as caught:
        load_ratings(bad)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(bad), 1, "value")


def test_shipped_rubric_drives_the_summary():
    rubric = load_rubric(RUBRICS / "summary-quality.yaml")
    rows = [rating(f"dr{r}", i, s, "quality", 1 + (r + i + (s == "dpo")) % 5) for r in range(5) for i in range(8)
            for s in ("sft", "dpo")]
    summary = build_rating_summary(rows, {"rubric": rubric.to_json(), "systems": ["sft", "dpo"]}, rounds=50)
    assert summary["rubric"]["name"] == "summary-quality"
    assert summary["criteria"]["quality"]["higher_is_better"] is True
    assert summary["criteria"]["quality"]["labels"]["5"].startswith("5: Excellent")
