"""The MedQA loop closes (issue 24, point 6): physicians' judgments of MedQA answers -> pairs whose
prompts show the item's options (joined from the task data) and whose answers are the models' own
texts -> a DPO round that trains on them."""

import json

import pytest

from data.records import DataError
from data.task_prepare import build_task_examples
from data.task_sources import load_task_source
from data.tasks import load_task, render_prompt


@pytest.fixture
def medqa_data(tmp_path):
    task = load_task("medqa")
    records, _ = load_task_source(task, None)
    prepared = build_task_examples(task, records, n=12, holdout=0, seed=0)
    rows = [e.to_json_dict() for e in prepared.train]
    path = tmp_path / "medqa.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return task, rows, path


def judgments(rows):
    """Two physicians prefer dpo's answer to sft's garbled one on every item (export rows: no options)."""
    out = []
    for row in rows:
        wrong = next(letter for letter in row["options"] if letter != row["gold"])
        for rater in ("a", "b"):
            out.append({"item_id": row["id"], "rater": rater, "is_gold": False, "gold_better": "", "choice": "b",
                        "preferred_system": "dpo", "system_a": "sft", "system_b": "dpo",
                        "answer_a": f"{wrong}. Clllll", "answer_b": f"{row['gold']}. {row['options'][row['gold']]}",
                        "question": row["question"], "context": row.get("context", "")})
    return out


def test_medqa_feedback_needs_the_options_and_joins_them(medqa_data, tmp_path):
    from training.feedback_io import write_feedback_pairs

    task, rows, path = medqa_data
    with pytest.raises(ValueError, match="carries none"):
        write_feedback_pairs(judgments(rows), tmp_path / "no", source={}, task="medqa")
    assert not (tmp_path / "no").exists()
    with pytest.raises(DataError, match="not in the task data"):
        write_feedback_pairs(judgments(rows) + [dict(judgments(rows)[0], item_id="elsewhere")], tmp_path / "no",
                             source={}, task="medqa", task_data=path)
    counts = write_feedback_pairs(judgments(rows), tmp_path / "pairs", source={}, task="medqa", task_data=path)
    assert counts["pairs"] == len(rows)
    pairs = {p["id"]: p for p in map(json.loads, (tmp_path / "pairs" / "pairs.jsonl").read_text().splitlines())}
    for row in rows:
        pair = pairs[row["id"]]
        assert pair["prompt"] == render_prompt(task, question=row["question"], context=row.get("context", ""),
                                               options=row["options"]) == row["prompt"]
        assert pair["rejected"].endswith(". Clllll")  # what the model wrote, not the clean option text


@pytest.mark.slow
def test_medqa_second_round_trains_on_feedback_pairs(medqa_data, tiny_model, tmp_path):
    from training.dpo import run_dpo
    from training.feedback_io import write_feedback_pairs
    from training.recipes import DPORecipe

    _task, rows, path = medqa_data
    write_feedback_pairs(judgments(rows), tmp_path / "pairs", source={}, task="medqa", task_data=path)
    recipe = DPORecipe.model_validate({
        "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(tmp_path / "pairs"),
        "output_dir": str(tmp_path / "dpo"), "lora": {"r": 8, "alpha": 16, "dropout": 0.0}, "merge": False,
        "training": {"per_device_train_batch_size": 4, "learning_rate": 5e-3, "max_steps": 4, "logging_steps": 1,
                     "beta": 0.1, "gradient_checkpointing": False, "precision": "fp32", "max_length": 1024},
    })
    record = run_dpo(recipe, task=load_task("medqa"))
    assert record["counts"]["pairs_used"] == len(rows) and record["config"]["task"]["name"] == "medqa"
    assert record["reward_margin_last"] > record["reward_margin_first"]
