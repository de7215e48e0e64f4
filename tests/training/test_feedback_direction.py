"""Rating feedback follows the rubric's direction: a harm grade never pulls training toward harm (issue 24)."""

import json
from pathlib import Path

import pytest

from evaluation.rubric import load_rubric
from training.feedback import feedback_pairs
from training.feedback_ratings import parse_criteria_rule

RUBRIC = Path(__file__).resolve().parents[2] / "configs" / "rubrics" / "clinical-axes.yaml"
HARMFUL = "Stop every medication at once and double the dose tomorrow."


def rating(item, rater, system, criterion, value, answer):
    return {"item_id": item, "rater": rater, "system": system, "criterion": criterion, "scale": "likert-3",
            "value": value, "answer": answer, "question": f"Q {item}?", "context": f"C {item}."}


def harm_rows(items, raters=("a", "b")):
    """sft wrote the harmful answer (harm_extent 3, accurate-looking 3 on a made-up 'quality'), dpo a safe one (1)."""
    rows = []
    for item in items:
        for rater in raters:
            rows.append(rating(item, rater, "sft", "harm_extent", 3, HARMFUL))
            rows.append(rating(item, rater, "dpo", "harm_extent", 1, f"Safe answer {item}."))
    return rows


def test_harm_criterion_chooses_the_less_harmful_answer():
    rubric = load_rubric(RUBRIC)
    result = feedback_pairs(harm_rows(["1", "2"]), criterion="harm_extent", rubric=rubric)
    assert [(p["chosen_system"], p["rejected_system"]) for p in result.pairs] == [("dpo", "sft")] * 2
    assert all(p["rejected"] == HARMFUL for p in result.pairs)
    assert result.rule["criteria"] == {"harm_extent": -1.0} and "clinical-axes" in result.rule["direction_from"]
    first = result.pairs[0]
    assert (first["raters"], first["decisive_votes"], first["agreement"], first["margin"]) == (2, 2, 1.0, 2.0)


def test_a_criterion_without_direction_is_refused():
    with pytest.raises(ValueError, match="no known direction.*--rubric"):
        feedback_pairs(harm_rows(["1"]), criterion="harm_extent")
    carried = [dict(r, higher_is_better="false") for r in harm_rows(["1"])]  # an export that carries the direction
    assert feedback_pairs(carried, criterion="harm_extent").pairs[0]["chosen_system"] == "dpo"
    with pytest.raises(ValueError, match="has no criterion 'safety'"):
        feedback_pairs(harm_rows(["1"]), criterion="safety", rubric=load_rubric(RUBRIC))


def test_several_criteria_only_through_an_explicit_rule():
    rubric = load_rubric(RUBRIC)
    rows = harm_rows(["1"]) + [rating("1", r, s, "harm_likelihood", v, "") for r in "ab" for s, v in (("sft", 1), ("dpo", 3))]
    with pytest.raises(ValueError, match="contradicts the rubric"):
        feedback_pairs(rows, criteria="harm_extent:+1", rubric=rubric)
    # harm -1 x (3 vs 1) outweighs likelihood -0.5 x (1 vs 3): dpo scores -2.5, sft -3.5
    result = feedback_pairs(rows, criteria="harm_extent:-1,harm_likelihood:-0.5", rubric=rubric)
    assert result.pairs[0]["chosen_system"] == "dpo" and result.pairs[0]["criteria"] == {
        "harm_extent": -1.0, "harm_likelihood": -0.5}
    assert result.rule["criteria"] == result.pairs[0]["criteria"]
    with pytest.raises(ValueError, match="exactly one"):
        feedback_pairs(rows, criterion="harm_extent", criteria="harm_extent:-1", rubric=rubric)
    for bad in ("harm_extent", "harm_extent:0", "harm_extent:-1,harm_extent:-2", "Harm:+1"):
        with pytest.raises(ValueError, match="--criteria"):
            parse_criteria_rule(bad)


def test_one_decisive_vote_with_a_tie_is_not_a_pair_by_default():
    """Issue 24, point 2: a pair resting on one physician while the other saw no difference."""
    rubric = load_rubric(RUBRIC)
    rows = harm_rows(["1"])
    rows += [rating("2", "a", "sft", "harm_extent", 3, HARMFUL), rating("2", "a", "dpo", "harm_extent", 1, "ok"),
             rating("2", "b", "sft", "harm_extent", 2, HARMFUL), rating("2", "b", "dpo", "harm_extent", 2, "ok")]
    result = feedback_pairs(rows, criterion="harm_extent", rubric=rubric)
    assert [p["id"] for p in result.pairs] == ["1"] and result.dropped == {"below_min_votes": ["2:dpo/sft"]}
    loose = feedback_pairs(rows, criterion="harm_extent", rubric=rubric, min_votes=1, min_agreement=0.5, margin=0.5)
    second = next(p for p in loose.pairs if p["id"] == "2")
    assert (second["decisive_votes"], second["agreement"], second["votes"]) == (1, 0.5, {"better": 1, "tie": 1})
    assert feedback_pairs(rows, criterion="harm_extent", rubric=rubric, min_votes=1, min_agreement=0.6,
                          margin=0.5).dropped == {"below_agreement": ["2:dpo/sft"]}


@pytest.mark.slow
def test_second_dpo_round_from_harm_ratings_prefers_the_less_harmful_answer(tiny_model, tiny_data, tmp_path):
    """The loop: rating study export -> pairs by the rubric's direction -> DPO: the policy moves toward the safe answer."""
    from training.dpo import run_dpo
    from training.feedback_io import write_feedback_pairs
    from training.recipes import DPORecipe

    holdout = [json.loads(line) for line in (tiny_data / "holdout.jsonl").read_text().splitlines()]
    rows = []
    for example in holdout:
        for rater in ("a", "b"):
            rows.append(dict(rating(example["id"], rater, "sft", "harm_extent", 3, HARMFUL),
                             question=example["question"], context=example["context"]))
            rows.append(dict(rating(example["id"], rater, "dpo", "harm_extent", 1, example["answer"]),
                             question=example["question"], context=example["context"]))
    counts = write_feedback_pairs(rows, tmp_path / "pairs", source={"test": "harm"}, criterion="harm_extent",
                                  rubric=load_rubric(RUBRIC))
    assert counts["pairs"] == len(holdout)
    saved = json.loads((tmp_path / "pairs" / "pairs.json").read_text())["source"]["rule"]
    assert saved["criteria"] == {"harm_extent": -1.0}
    recipe = DPORecipe.model_validate({
        "stage": "dpo", "model_name_or_path": str(tiny_model), "pairs_dir": str(tmp_path / "pairs"),
        "output_dir": str(tmp_path / "dpo"), "lora": {"r": 8, "alpha": 16, "dropout": 0.0}, "merge": False,
        "training": {"per_device_train_batch_size": 4, "learning_rate": 5e-3, "max_steps": 6, "logging_steps": 1,
                     "beta": 0.1, "gradient_checkpointing": False, "precision": "fp32", "max_length": 512},
    })
    run_dpo(recipe)
    metrics = [json.loads(line) for line in (tmp_path / "dpo" / "metrics.jsonl").read_text().splitlines()]
    chosen = [m["rewards/chosen"] for m in metrics if "rewards/chosen" in m]
    rejected = [m["rewards/rejected"] for m in metrics if "rewards/rejected" in m]
    assert chosen[-1] - rejected[-1] > 0.1  # the safe answer gained likelihood against the harmful one


def test_feedback_command_reads_the_direction_from_rubric_file(tmp_path):
    """`medalign train feedback --judgments EXPORT --rubric FILE`; without the rubric: refused, nothing written."""
    from typer.testing import CliRunner

    from medalign.cli import app

    export = tmp_path / "ratings.jsonl"
    export.write_text("".join(json.dumps(dict(r, study="s", rater_simulated=False, sequence=1, reference="", rationale="",
                                              time_on_task_ms=1000, created_at="2026-12-01T00:00:00",
                                              updated_at="2026-12-01T00:00:00", revisions=0, app_version="t")) + "\n"
                              for r in harm_rows(["1", "2"])))
    runner = CliRunner()
    refused = runner.invoke(app, ["train", "feedback", "--judgments", str(export), "--out", str(tmp_path / "no"),
                                  "--criterion", "harm_extent"])
    assert refused.exit_code == 2 and "no known direction" in refused.output and not (tmp_path / "no").exists()
    done = runner.invoke(app, ["train", "feedback", "--judgments", str(export), "--out", str(tmp_path / "p"),
                               "--criterion", "harm_extent", "--rubric", str(RUBRIC), "--min-votes", "2"])
    assert done.exit_code == 0, done.output
    pairs = [json.loads(line) for line in (tmp_path / "p" / "pairs.jsonl").read_text().splitlines()]
    assert [p["chosen_system"] for p in pairs] == ["dpo", "dpo"] and all(p["rejected"] == HARMFUL for p in pairs)
    rule = json.loads((tmp_path / "p" / "pairs.json").read_text())["source"]["rule"]
    assert rule["criteria"] == {"harm_extent": -1.0} and rule["min_votes"] == 2
