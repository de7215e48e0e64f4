"""SFT targets and DPO pairs of label and option tasks (training/task_data.py)."""

import pytest

from data.task_prepare import build_task_examples
from data.task_sources import load_task_source
from data.tasks import load_task
from training.pairs import write_choice_pairs
from training.task_data import choice_pairs


def examples(name):
    task = load_task(name)
    records, _ = load_task_source(task, None)
    prepared = build_task_examples(task, records, n=1000, holdout=1, seed=0)
    return task.public_dict(), [e.to_json_dict() for e in prepared.train]


def prediction(example, parsed, raw=None):
    return {"id": example["id"], "parsed": parsed, "raw_output": raw if raw is not None else (parsed or "")}


def test_option_pairs_reject_the_sft_answer_or_a_random_wrong_one():
    task, rows = examples("medqa")
    right, wrong, unparsed, empty = rows[:4]
    other = next(letter for letter in "ABCD" if letter != wrong["gold"])
    predictions = {right["id"]: prediction(right, right["gold"]), wrong["id"]: prediction(wrong, other, f"{other}. Clllll"),
                   unparsed["id"]: prediction(unparsed, None, "I am not sure"), empty["id"]: prediction(empty, None, "")}
    pairs, counts = choice_pairs(task, rows[:4], predictions, seed=1)
    by_id = {p["id"]: p for p in pairs}
    for row in rows[:4]:
        assert by_id[row["id"]]["chosen"] == row["answer"] == f"{row['gold']}. {row['options'][row['gold']]}"
        assert by_id[row["id"]]["prompt"] == row["prompt"]
    assert by_id[wrong["id"]]["rejected"] == f"{other}. Clllll"  # the model's own text (issue 24)
    assert by_id[wrong["id"]]["rejected_source"] == "model" and by_id[right["id"]]["rejected_source"] == "random-wrong"
    assert by_id[unparsed["id"]]["rejected"] == "I am not sure"
    for row in (right, empty):
        rejected = by_id[row["id"]]["rejected"]
        assert rejected != row["answer"] and rejected[0] in "ABCD" and rejected[3:] == row["options"][rejected[0]]
    assert counts == {"examples": 4, "sft_wrong": 1, "sft_unparsed": 1, "sft_right_random_wrong": 2,
                      "missing_prediction": 0, "pairs": 4}


def test_label_pairs_are_seeded_and_never_reject_the_gold():
    task, rows = examples("triage")
    predictions = {r["id"]: prediction(r, r["gold"]) for r in rows}
    first, _ = choice_pairs(task, rows, predictions, seed=3)
    again, _ = choice_pairs(task, rows, predictions, seed=3)
    assert first == again
    assert all(p["rejected"] != p["chosen"] and p["rejected"] in {"emergent", "urgent", "non-urgent"} for p in first)


def test_free_text_tasks_are_refused_and_empty_pairs_are_an_error(tmp_path):
    task, rows = examples("meqsum")
    with pytest.raises(ValueError, match="free-text"):
        choice_pairs(task, rows, {})
    task, rows = examples("triage")
    with pytest.raises(ValueError, match="no pairs"):
        write_choice_pairs(task, rows, {}, tmp_path / "pairs")
    assert not (tmp_path / "pairs").exists()
