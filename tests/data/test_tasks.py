"""Tasks as data: the shipped task files, their loaders on samples and real files, bad input."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from data.records import DataError
from data.task_prepare import build_task_examples
from data.task_sources import load_task_source
from data.tasks import TASKS_DIR, load_task, load_task_file, task_names
from evaluation.classification import CLASSIFICATION_METRICS
from evaluation.metrics import METRICS
from medalign.cli import app

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
SHIPPED = ["medical-abstracts", "medqa", "meqsum", "pubmedqa-decision", "pubmedqa-longform", "triage"]
runner = CliRunner()


def shared(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} absent (real data lives in ../shared/data)")
    return path


def test_shipped_tasks_validate_with_known_metrics():
    assert task_names() == SHIPPED
    known = set(METRICS) | set(CLASSIFICATION_METRICS)
    for name in SHIPPED:
        task = load_task(name, known_metrics=known)
        assert task.name == name and task.version >= 1


@pytest.mark.parametrize("edit,field", [
    (lambda t: t.replace("dpo_pairs:", "dpo_pair:"), "dpo_pair"),
    (lambda t: t.replace("primary_metric: macro_f1", "primary_metric: rouge1_fmeasure"), "(top level)"),
    (lambda t: t.replace("{question}", "{abstract}"), "(top level)"),
    (lambda t: t.replace("  text_column: message\n", ""), "loader"),
])
def test_bad_task_file_names_file_and_key(tmp_path, edit, field):
    bad = tmp_path / "mytriage.yaml"
    bad.write_text(edit((TASKS_DIR / "triage.yaml").read_text()))
    with pytest.raises(DataError) as info:
        load_task_file(bad)
    assert info.value.file == str(bad) and info.value.field == field


def test_unknown_metric_is_an_error():
    with pytest.raises(DataError, match="unknown metric"):
        load_task("triage", known_metrics={"accuracy"})


@pytest.mark.parametrize("name,count", [("medqa", 16), ("medical-abstracts", 15), ("triage", 30),
                                        ("pubmedqa-decision", 66), ("pubmedqa-longform", 66), ("meqsum", 33)])
def test_bundled_samples_load_and_prepare(name, count):
    task = load_task(name)
    records, info = load_task_source(task, None)
    assert len(records) == count and info["kind"] == "sample"
    prepared = build_task_examples(task, records, n=1000, holdout=4, seed=0)
    row = prepared.train[0].to_json_dict()
    assert row["task"] == name and row["prompt"].endswith("\n") and row["question"] in row["prompt"]
    if task.output == "label":
        assert row["gold"] in task.label_names and row["answer"] == row["gold"]
    if task.output == "option":
        assert row["answer"] == f"{row['gold']}. {row['options'][row['gold']]}"
        assert "A. " in row["prompt"] and "D. " in row["prompt"]


def test_real_medqa():
    task = load_task("medqa")
    records, _ = load_task_source(task, str(shared("medqa_usmle", "dev.jsonl")))
    assert len(records) == 1272
    assert {r.gold for r in records} == {"A", "B", "C", "D"}


def test_real_medical_abstracts_keep_distinct_abstracts():
    """Keyed on the question, as before, the 2,888 rows collapsed to one; keyed on the abstract, the
    118 rows that repeat an abstract (all with another label) are dropped and reported."""
    task = load_task("medical-abstracts")
    source = shared("medical_abstracts_tc", "medical_tc_test.csv")
    records, info = load_task_source(task, str(source))
    assert len(records) == 2888 and info["labels_file"]["name"] == "medical_tc_labels.csv"
    prepared = build_task_examples(task, records, n=5000, holdout=200, seed=0)
    assert len(prepared.train) + len(prepared.holdout) == 2770
    assert len(prepared.dropped_duplicates) == 118
    assert any("different answer" in w for w in prepared.warnings)


def test_real_pubmedqa_decision():
    task = load_task("pubmedqa-decision")
    records, _ = load_task_source(task, str(shared("pubmedqa", "ori_pqal.json")))
    golds = [r.gold for r in records]
    assert (golds.count("yes"), golds.count("no"), golds.count("maybe")) == (552, 338, 110)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


MEDQA_ROW = {"question": "Q?", "options": {"A": "a", "B": "b", "C": "c", "D": "d"}, "answer_idx": "B", "answer": "b",
             "meta_info": "step1"}


@pytest.mark.parametrize("task,name,text,line,field", [
    ("medqa", "q.jsonl", json.dumps(MEDQA_ROW) + "\n" + json.dumps({**MEDQA_ROW, "answer_idx": "E"}), 2, "answer_idx"),
    ("medqa", "q.jsonl", json.dumps({**MEDQA_ROW, "options": {"A": "a", "B": "b"}}), 1, "options"),
    ("medqa", "q.jsonl", json.dumps({**MEDQA_ROW, "answer": "c"}), 1, "answer"),
    ("medqa", "q.jsonl", json.dumps({k: v for k, v in MEDQA_ROW.items() if k != "question"}), 1, "question"),
    ("medqa", "q.jsonl", json.dumps(MEDQA_ROW) + "\n" + json.dumps({**MEDQA_ROW, "meta_info": ""}), 2, "meta_info"),
    ("medical-abstracts", "a.csv", "condition_label,medical_abstract\n1,text one\n7,text two\n", 3, "condition_label"),
    ("medical-abstracts", "a.csv", "label,medical_abstract\n1,text\n", 1, "condition_label"),
    ("triage", "t.csv", "id,message,urgency\nx1,chest pain,emergent\nx2,rash,whenever\n", 3, "urgency"),
    ("triage", "t.jsonl", '{"id": "x1", "message": "hi", "urgency": "urgent"}\n{"id": "x2", "urgency": "urgent"}\n',
     2, "message"),
])
def test_bad_input_names_file_line_field(tmp_path, task, name, text, line, field):
    path = write(tmp_path, name, text)
    with pytest.raises(DataError) as info:
        load_task_source(load_task(task), str(path))
    assert (info.value.file, info.value.line, info.value.field) == (str(path), line, field)


def test_labels_file_with_a_name_outside_the_task(tmp_path):
    source = write(tmp_path, "a.csv", "condition_label,medical_abstract\n1,text\n")
    write(tmp_path, "medical_tc_labels.csv", "condition_label,condition_name\n1,neoplasms\n2,skin diseases\n")
    with pytest.raises(DataError) as info:
        load_task_source(load_task("medical-abstracts"), str(source))
    assert info.value.file.endswith("medical_tc_labels.csv") and info.value.line == 3


def prepare(*args):
    return runner.invoke(app, ["data", "prepare", *args])


def test_cli_prepare_task_and_manifest(tmp_path):
    result = prepare("triage", "--holdout", "6", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["dataset"] == "triage" and manifest["source"]["task_version"] == 1
    assert manifest["counts"]["train"] == 24 and manifest["counts"]["holdout"] == 6


def test_cli_prepare_own_task_file(tmp_path):
    own = write(tmp_path, "provider.yaml", (TASKS_DIR / "triage.yaml").read_text()
                .replace("name: triage", "name: provider").replace("label_column: urgency", "label_column: provider")
                .replace("""  - {name: emergent, synonyms: [emergency, immediately]}
  - {name: urgent, synonyms: [same day, same-day]}
  - {name: non-urgent, synonyms: [routine, not urgent, nonurgent]}""", """  - {name: physician, synonyms: [doctor]}
  - {name: nurse}
  - {name: pharmacist, synonyms: [pharmacy]}
  - {name: administrative, synonyms: [admin, front desk]}""").replace("primary_metric: macro_f1", "primary_metric: macro_f1"))
    result = prepare(str(own), "--source", "data/sample/triage_sample.csv", "--holdout", "5", "--out",
                     str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert {r["gold"] for r in rows} <= {"physician", "nurse", "pharmacist", "administrative"}


def test_cli_bad_input_exits_2_and_writes_nothing(tmp_path):
    src = write(tmp_path, "t.csv", "id,message,urgency\nx1,pain,soonish\n")
    out = tmp_path / "out"
    result = prepare("triage", "--source", str(src), "--out", str(out))
    assert result.exit_code == 2
    assert "t.csv:2" in result.output and "urgency" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_existing_prepare_commands_still_work(tmp_path):
    assert prepare("pubmedqa", "--holdout", "5", "--out", str(tmp_path / "p")).exit_code == 0
    assert prepare("meqsum", "--holdout", "5", "--out", str(tmp_path / "m")).exit_code == 0
