"""Loading judgment exports through the judgment contract."""

import csv

import pytest

from data.records import DataError
from evaluation.contract import PAIRWISE_COLUMNS
from evaluation.judgments import load_judgments
from tests.evaluation.conftest import judgment


def write_csv(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=PAIRWISE_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_codes_and_legacy_display_labels_load_the_same(tmp_path):
    rows = [judgment(1, "r", "dpo"), judgment(2, "r", "sft"), judgment(3, "r", "tie"), judgment(4, "r", "both_bad")]
    legacy = [{**r, "choice": {"a": "A better", "b": "B better", "tie": "Tie", "both_bad": "Both bad"}[r["choice"]]}
              for r in rows]
    new = load_judgments(write_csv(tmp_path / "new.csv", rows))
    old = load_judgments(write_csv(tmp_path / "old.csv", legacy))
    assert [r["choice"] for r in new] == [r["choice"] for r in old] == ["b", "a", "tie", "both_bad"]
    assert [r["preferred_system"] for r in old] == ["dpo", "sft", "", ""]


def test_bad_choice_names_file_line_and_field(tmp_path):
    rows = [judgment(1, "r", "dpo"), {**judgment(2, "r", "dpo"), "choice": "B"}]
    with pytest.raises(DataError) as caught:
        load_judgments(write_csv(tmp_path / "j.csv", rows))
    assert "j.csv:3" in str(caught.value) and "choice" in str(caught.value)


def test_columnar_reader_agrees_with_the_contract_row_by_row(tmp_path):
    import numpy as np

    from evaluation.table import from_rows, read_judgments
    from tests.evaluation.conftest import synthetic_study

    rows = synthetic_study(0.6, items=60, raters=4, overlap=2, tie_share=0.2)
    path = write_csv(tmp_path / "j.csv", rows)
    fast, slow = read_judgments(path), from_rows(load_judgments(path))
    for column in ("item", "rater", "system_a", "system_b", "choice", "is_gold", "evasive_a", "preferred", "words_a"):
        assert np.array_equal(getattr(fast, column), getattr(slow, column)), column
    assert fast.items == slow.items and fast.raters == slow.raters and fast.systems == slow.systems


@pytest.mark.parametrize(("field", "value", "message"), [
    ("preferred_system", "sft", "preferred_system"), ("choice", "Maybe", "choice"), ("is_gold", "perhaps", "is_gold")])
def test_columnar_reader_names_the_bad_line(tmp_path, field, value, message):
    from evaluation.table import read_judgments

    rows = [judgment(i, "r", "dpo") for i in range(5)]
    rows[3] = {**rows[3], field: value}
    with pytest.raises(DataError) as caught:
        read_judgments(write_csv(tmp_path / "bad.csv", rows))
    assert "bad.csv:5" in str(caught.value) and message in str(caught.value)


def test_columnar_reader_on_empty_and_header_only_files(tmp_path):
    from evaluation.table import read_judgments

    for name, text in (("empty.csv", ""), ("header.csv", ",".join(PAIRWISE_COLUMNS) + "\n"), ("blank.jsonl", "\n")):
        (tmp_path / name).write_text(text)
        with pytest.raises(DataError) as caught:
            read_judgments(tmp_path / name)
        assert name in str(caught.value)


@pytest.mark.parametrize(("kinds", "expected"), [(["physician", " Physician", ""], True), (["physician", "model", ""], False)])
def test_the_columnar_reader_says_whether_only_physicians_judged(tmp_path, monkeypatch, kinds, expected):
    """rater_kind is checked while the file is read; an all-physician export is not parsed a second
    time to look for model raters, one with a model rater is (the judge's rows)."""
    from evaluation import judgments as judgments_module
    from evaluation.table import read_judgments
    from medalign.commands import judge

    rows = [{**judgment(i, "r", "dpo"), "rater_kind": kind} for i, kind in enumerate(kinds)]
    path = write_csv(tmp_path / "j.csv", rows)
    table = read_judgments(path)
    assert table.physicians_only is expected
    parses = []
    read_export = judgments_module.read_export
    monkeypatch.setattr(judgments_module, "read_export", lambda p: parses.append(p) or read_export(p))
    physicians, judge_rows = judge.physicians_only(table, path)
    if expected:
        assert physicians is table and judge_rows is None and parses == []
    else:
        assert parses == [path] and len(judge_rows) == 3 and len(physicians) == 2
        assert all(r["rater_kind"] == "physician" for r in physicians)


def test_an_export_without_rater_kind_is_not_checked(tmp_path):
    from evaluation.table import read_judgments

    rows = [judgment(i, "r", "dpo") for i in range(3)]
    path = tmp_path / "j.csv"
    with path.open("w", newline="") as handle:
        columns = [c for c in PAIRWISE_COLUMNS if c != "rater_kind"]
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    assert read_judgments(path).physicians_only is None
