"""The report's judgments.csv neutralises spreadsheet formulas, like the exports do."""

import csv

from data.files import neutralise_formula
from evaluation.report import _write_judgments_csv
from evaluation.table import read_judgments
from tests.evaluation.conftest import judgment

PAYLOADS = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def _rows():
    rows = [judgment(i, "r1", "dpo") for i in range(len(PAYLOADS))]
    for row, payload in zip(rows, PAYLOADS, strict=True):
        row["rationale"] = payload
    return rows


def test_rows_and_tables_are_neutralised(tmp_path):
    path = tmp_path / "judgments.csv"
    _write_judgments_csv(_rows(), path)
    cells = [r["rationale"] for r in csv.DictReader(path.open(newline=""))]
    assert cells == [neutralise_formula(p) for p in PAYLOADS] and all(c.startswith("'") for c in cells)


def test_a_csv_source_is_copied_or_rewritten(tmp_path):
    clean = tmp_path / "clean.csv"
    rows = _rows()
    for row in rows:
        row["rationale"] = "plain"
    with clean.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _write_judgments_csv(read_judgments(clean), tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_bytes() == clean.read_bytes()
    risky = tmp_path / "risky.csv"
    with risky.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(_rows())
    _write_judgments_csv(read_judgments(risky), tmp_path / "out.csv")
    cells = [r["rationale"] for r in csv.DictReader((tmp_path / "out.csv").open(newline=""))]
    assert all(c.startswith("'") for c in cells), cells
