import json

import pytest

from data import pubmedqa
from data.prepare import build_examples, normalise_text, question_key, write_prepared
from data.prompts import PUBMEDQA_TEMPLATE, validate_template
from data.records import DataError, RawRecord


def rec(i, question, answer="A.", context="ctx"):
    return RawRecord(id=str(i), question=question, context=context, answer=answer, final_decision=None,
                     file="f.jsonl", line=i)


def test_normalise_and_key():
    assert normalise_text("  a \t b\u00a0c \n\n d ") == "a b c\nd"
    assert question_key("Is X  safe?") == question_key("is x safe") != question_key("Is Y safe?")


def test_dedupe_shuffle_split_disjoint():
    records = [rec(i, f"Question {i}?") for i in range(20)] + [rec(99, "question 3")]
    prepared = build_examples(records, n=15, holdout=5, seed=1, template=PUBMEDQA_TEMPLATE)
    assert prepared.dropped_duplicates == [{"id": "99", "duplicate_of": "3"}]
    assert len(prepared.train) == 10 and len(prepared.holdout) == 5
    assert not {e.id for e in prepared.train} & {e.id for e in prepared.holdout}
    again = build_examples(records, n=15, holdout=5, seed=1, template=PUBMEDQA_TEMPLATE)
    other = build_examples(records, n=15, holdout=5, seed=2, template=PUBMEDQA_TEMPLATE)
    assert again.train == prepared.train
    assert other.train != prepared.train


def test_fewer_than_n_warns_and_uses_all():
    prepared = build_examples([rec(i, f"Q{i}") for i in range(5)], n=50, holdout=1, seed=0, template=PUBMEDQA_TEMPLATE)
    assert len(prepared.train) + len(prepared.holdout) == 5
    assert "only 5 unique" in prepared.warnings[0]


def test_duplicate_id_names_both_places():
    with pytest.raises(DataError, match=r"f\.jsonl:2: record '1': field 'id': duplicate id \(first seen at f\.jsonl:1\)"):
        build_examples([rec(1, "a"), RawRecord("1", "b", "", "c", None, "f.jsonl", 2)], n=5, holdout=0, seed=0,
                       template=PUBMEDQA_TEMPLATE)


def test_holdout_too_large():
    with pytest.raises(DataError, match="^--holdout: 3 leaves no training examples"):
        build_examples([rec(i, f"Q{i}") for i in range(3)], n=3, holdout=3, seed=0, template=PUBMEDQA_TEMPLATE)


@pytest.mark.parametrize(("template", "message"), [
    ("{question}\n{context}\n", "before"),
    ("{context} {question}", "newline"),
    ("{context} {answer}\n", "unknown placeholder"),
    ("{context}\n", "must contain {question}"),
    ("{context {question}\n", "not valid format"),
])
def test_bad_templates(template, message):
    with pytest.raises(DataError, match=message):
        validate_template(template, require_context=True)


def test_write_is_byte_identical_and_manifest_complete(tmp_path):
    records, source = pubmedqa.load_source(None)
    outputs = []
    for name in ("a", "b"):
        prepared = build_examples(records, n=40, holdout=10, seed=3, template=PUBMEDQA_TEMPLATE)
        write_prepared(prepared, tmp_path / name, dataset="pubmedqa", source=source, seed=3, n=40, holdout=10,
                       template=PUBMEDQA_TEMPLATE)
        outputs.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert outputs[0] == outputs[1]
    assert sorted(outputs[0]) == ["README.md", "holdout.jsonl", "manifest.json", "train.jsonl"]  # README: dataset card
    manifest = json.loads(outputs[0]["manifest.json"])
    assert manifest["counts"]["train"] == 30 and manifest["counts"]["holdout"] == 10
    assert manifest["seed"] == 3 and manifest["source"]["kind"] == "sample"
    import hashlib
    assert manifest["files"]["train.jsonl"]["sha256"] == hashlib.sha256(outputs[0]["train.jsonl"]).hexdigest()
    first = json.loads(outputs[0]["train.jsonl"].splitlines()[0])
    assert set(first) == {"id", "question", "context", "prompt", "answer", "final_decision"}
    assert first["prompt"].index(first["context"]) < first["prompt"].index(first["question"])
    assert first["prompt"].endswith("### Answer:\n")
