import json

import pytest

from data import pubmedqa
from data.records import DataError


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_sample_is_synthetic_and_large_enough():
    records = pubmedqa.load_original(pubmedqa.SAMPLE_PATH)
    assert len(records) >= 60
    assert all(r.id.startswith("syn") for r in records)
    assert {r.final_decision for r in records} == {"yes", "no", "maybe"}
    # section labels are kept in the joined context
    assert records[0].context.startswith("BACKGROUND: ")


def test_original_format(tmp_path):
    src = write(tmp_path / "ori.json", json.dumps({
        "111": {"QUESTION": "Q1?", "CONTEXTS": ["a.", "b."], "LABELS": ["BACKGROUND", "RESULTS"],
                "LONG_ANSWER": "Long 1.", "final_decision": "Yes"},
        "222": {"QUESTION": "Q2?", "CONTEXTS": ["c."], "LONG_ANSWER": "Long 2."},
    }, indent=1))
    r1, r2 = pubmedqa.load_original(src)
    assert (r1.id, r1.question, r1.answer, r1.final_decision) == ("111", "Q1?", "Long 1.", "yes")
    assert r1.context == "BACKGROUND: a.\nRESULTS: b."
    assert r2.context == "c." and r2.final_decision is None
    assert r1.line == 2 and r2.line > r1.line


def test_table_jsonl_and_csv(tmp_path):
    jsonl = write(tmp_path / "x.jsonl", '{"id": "a", "question": "Q?", "context": "ctx", "answer": "A."}\n\n'
                  '{"id": "b", "question": "Q2?", "context": {"contexts": ["s1"], "labels": ["METHODS"]},'
                  ' "answer": "B.", "final_decision": "no"}\n')
    a, b = pubmedqa.load_table(jsonl)
    assert a.context == "ctx" and b.context == "METHODS: s1" and b.final_decision == "no"
    csv = write(tmp_path / "x.csv", 'question,context,answer\n"Q, with comma?","multi\nline",A.\n')
    (row,) = pubmedqa.load_table(csv)
    assert row.id == "line3" and row.question == "Q, with comma?" and row.context == "multi\nline"


def test_hub_loader_offline_on_local_repo_copy(tmp_path):
    # A local folder laid out like the hub repository: one folder per config, README with configs.
    repo = tmp_path / "PubMedQA"
    (repo / "pqa_labeled").mkdir(parents=True)
    rows = [
        {"pubid": 1, "question": "Q1?", "context": {"contexts": ["x", "y"], "labels": ["A", "B"], "meshes": []},
         "long_answer": "L1", "final_decision": "yes"},
        {"pubid": 2, "question": "Q2?", "context": {"contexts": ["z"], "labels": ["A"], "meshes": []},
         "long_answer": "L2", "final_decision": "maybe"},
    ]
    write(repo / "pqa_labeled" / "train.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    write(repo / "README.md", "---\nconfigs:\n- config_name: pqa_labeled\n  data_files:\n"
          "  - split: train\n    path: pqa_labeled/train.jsonl\n---\n")
    records, info = pubmedqa.load_source(f"hf:{repo}:pqa_labeled")
    assert [r.id for r in records] == ["1", "2"]
    assert records[0].context == "A: x\nB: y" and records[1].final_decision == "maybe"
    assert info == {"kind": "hub", "repo": str(repo), "config": "pqa_labeled"}


def test_hub_rejects_unknown_config():
    with pytest.raises(DataError, match="unknown PubMedQA config"):
        pubmedqa.load_source("hf:pqa_everything")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("trunc.json", '{"1": {"QUESTION": "Q?"', r"trunc\.json:1: invalid JSON"),
        ("list.json", "[1, 2]", "expected a JSON object keyed by PubMed id"),
        ("noq.json", '{\n"77": {"CONTEXTS": ["c"], "LONG_ANSWER": "L"}}', r"noq\.json:2: record '77': field 'QUESTION': missing"),
        ("emptyq.json", '{"7": {"QUESTION": "  ", "CONTEXTS": ["c"], "LONG_ANSWER": "L"}}', "field 'QUESTION': empty text"),
        ("noctx.json", '{"7": {"QUESTION": "Q", "CONTEXTS": [], "LONG_ANSWER": "L"}}', "field 'CONTEXTS'"),
        ("labels.json", '{"7": {"QUESTION": "Q", "CONTEXTS": ["a"], "LABELS": ["A", "B"], "LONG_ANSWER": "L"}}',
         "field 'labels'"),
        ("dec.json", '{"7": {"QUESTION": "Q", "CONTEXTS": ["a"], "LONG_ANSWER": "L", "final_decision": "perhaps"}}',
         "field 'final_decision'"),
        ("bad.jsonl", '{"question": "Q", "context": "c", "answer": "A"}\n{"question": \n', r"bad\.jsonl:2: invalid JSON"),
        ("noans.jsonl", '{"id": "x", "question": "Q", "context": "c"}\n', r"noans\.jsonl:1: record 'x': field 'answer'"),
        ("arr.jsonl", '[1]\n', r"arr\.jsonl:1: expected a JSON object"),
        ("nocol.csv", "question,answer\nQ,A\n", r"nocol\.csv:1: field 'context': missing column"),
        ("emptyctx.csv", 'question,context,answer\nQ,"",A\n', r"emptyctx\.csv:2: record 'line2': field 'context'"),
        ("data.txt", "hello", "unknown source"),
    ],
)
def test_bad_input_names_place_and_field(tmp_path, name, text, expected):
    path = write(tmp_path / name, text)
    with pytest.raises(DataError, match=expected):
        pubmedqa.load_source(str(path))


def test_wrong_encoding_and_missing_file(tmp_path):
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"question": "ok", "context": "c", "answer": "a"}\n{"question": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin\.jsonl:2: not valid UTF-8"):
        pubmedqa.load_source(str(latin))
    with pytest.raises(DataError, match="cannot read file"):
        pubmedqa.load_source(str(tmp_path / "absent.json"))
