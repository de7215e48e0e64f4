import json

import pytest
from openpyxl import Workbook

from data import meqsum
from data.records import DataError


def make_xlsx(path, header, rows):
    book = Workbook()
    sheet = book.active
    sheet.title = "Sheet1"
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_sample_csv():
    records, info = meqsum.load_source(None)
    assert len(records) >= 30
    assert info["kind"] == "sample" and len(info["sha256"]) == 64
    assert all(r.id.startswith("synthetic-") for r in records)
    assert "\n" in records[0].question  # subject line, then the message body


def test_xlsx_as_published(tmp_path):
    path = make_xlsx(tmp_path / "MeQSum.xlsx", ["File", "CHQ", "Summary"], [
        ["14348.txt", "SUBJECT: rash\nMESSAGE: i have a rash on my arm", "What causes an arm rash?"],
        [None, None, None],  # blank rows in a spreadsheet are skipped
        ["14349.txt", "cough for 3 weeks", "What causes a three-week cough?"],
    ])
    records = meqsum.load(path)
    assert [r.id for r in records] == ["14348.txt", "14349.txt"]
    assert records[0].answer == "What causes an arm rash?" and records[0].context == ""
    assert records[1].line == 4


def test_jsonl(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"File": "1.txt", "CHQ": "q", "Summary": "s"}) + "\n")
    (record,) = meqsum.load(path)
    assert (record.id, record.question, record.answer) == ("1.txt", "q", "s")


def test_xlsx_wrong_columns(tmp_path):
    path = make_xlsx(tmp_path / "wrong.xlsx", ["File", "Question", "Summary"], [["1.txt", "q", "s"]])
    with pytest.raises(DataError, match=r"wrong\.xlsx:1: field 'CHQ': sheet 'Sheet1' lacks column"):
        meqsum.load(path)


def test_xlsx_empty_summary(tmp_path):
    path = make_xlsx(tmp_path / "e.xlsx", ["File", "CHQ", "Summary"], [["1.txt", "q", "s"], ["2.txt", "q2", "  "]])
    with pytest.raises(DataError, match=r"e\.xlsx:3: record '2.txt': field 'Summary': empty text"):
        meqsum.load(path)


def test_not_an_excel_file(tmp_path):
    path = tmp_path / "fake.xlsx"
    path.write_text("not a zip")
    with pytest.raises(DataError, match=r"fake\.xlsx: cannot read Excel workbook"):
        meqsum.load(path)


def test_csv_missing_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("File,CHQ\n1.txt,q\n")
    with pytest.raises(DataError, match=r"m\.csv:1: field 'Summary'"):
        meqsum.load(path)
