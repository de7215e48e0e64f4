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


def test_lists_and_minus_signs_inside_a_cell_are_not_formulas(tmp_path):
    """A cell spanning lines ("...\\n- a bullet") or holding ", -3" starts no formula: the file is
    read column-wise (not by the row-by-row fallback) and copied byte for byte (issue 26)."""
    source = tmp_path / "lists.csv"
    rows = _rows()
    for row in rows:
        row["rationale"] = "plain"
        row["answer_a"] = "Two points:\n- first, -3 mmHg\n- second\n+ third"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    table = read_judgments(source)
    assert table.formula_cells is False and table.source == source
    _write_judgments_csv(table, tmp_path / "copy.csv")
    assert (tmp_path / "copy.csv").read_bytes() == source.read_bytes()


def test_table_neutralisation_reads_first_bytes_of_any_layout():
    """Chunked, sliced, large_string and null cells: the same cells as neutralise_formula."""
    import pyarrow as pa

    from data.files import has_formula_cells, neutralise_formula_table

    values = ["=1+1", "", None, "a", "-3", "\tx", "ok", "@SUM", "+", "é=", "\rcmd"]
    expected = [neutralise_formula(v) for v in values]
    table = pa.table({"chunked": pa.chunked_array([pa.array(values[:4]), pa.array(values[4:])]),
                      "large": pa.array(values, pa.large_string()), "number": pa.array(range(len(values)))})
    out = neutralise_formula_table(table)
    assert out.column("chunked").to_pylist() == expected == out.column("large").to_pylist()
    assert out.column("number").to_pylist() == list(range(len(values)))
    sliced = pa.array(values).slice(3, 5)
    assert neutralise_formula_table(pa.table({"s": sliced})).column("s").to_pylist() == expected[3:8]
    assert not has_formula_cells(pa.table({"s": pa.array(["a", "b ="])}))


def test_a_file_of_many_blocks_reads_as_one(tmp_path, monkeypatch):
    """Blocks of a few KiB (a real export: 4 MiB): cells spanning lines cross block ends, and a
    formula in the last block is found; the columns are those read in one block."""
    import numpy as np

    from evaluation import table as table_module

    source = tmp_path / "blocks.csv"
    rows = [judgment(i, f"r{i % 7}", "dpo" if i % 3 else "sft", left="sft" if i % 2 else "dpo",
                     answers=(f"Points for {i}:\n- first, -{i} mmHg\n- second", "short")) for i in range(400)]
    rows[-1]["answer_b"] = "=1+1"
    with source.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    whole = read_judgments(source)
    monkeypatch.setattr(table_module, "_BLOCK_BYTES", 4096)
    blocks = read_judgments(source)
    assert source.stat().st_size > 10 * 4096 and blocks.source == source
    assert whole.formula_cells is True and blocks.formula_cells is True
    for name in ("item", "rater", "system_a", "system_b", "choice", "words_a", "words_b", "answer_a", "answer_b",
                 "order"):
        assert np.array_equal(getattr(blocks, name), getattr(whole, name)), name
    assert blocks.answer_texts.equals(whole.answer_texts) and blocks.raw.equals(whole.raw)
    assert blocks.raw.column("item_id").num_chunks > 10 and whole.raw.column("item_id").num_chunks == 1
