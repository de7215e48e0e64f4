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
