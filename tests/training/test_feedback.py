"""Judgments -> DPO pairs: majority, evidence (votes, agreement over all votes), gold filter, merge."""

from training.feedback import gold_accuracy, merge_pairs, pairs_from_judgments


def row(item, rater, preferred, *, choice=None, gold=False, gold_better=""):
    return {
        "item_id": item, "rater": rater, "is_gold": gold, "gold_better": gold_better,
        "choice": choice or ("a" if preferred == "sft" else "b"),
        "preferred_system": preferred, "system_a": "sft", "system_b": "dpo",
        "answer_a": f"sft answer {item}", "answer_b": f"dpo answer {item}",
        "question": f"Q {item}?", "context": f"C {item}.",
    }


def test_majority_ties_and_agreement():
    rows = [
        row("1", "a", "dpo"), row("1", "b", "dpo"), row("1", "c", "sft"),   # 2/3 dpo
        row("2", "a", "sft"), row("2", "b", "dpo"),                          # split
        row("3", "a", "", choice="tie"), row("3", "b", "", choice="both_bad"),  # no decisive vote
        row("4", "a", "sft"),                                                 # single vote
    ]
    result = pairs_from_judgments(rows, min_agreement=0.6, min_votes=1)
    assert [p["id"] for p in result.pairs] == ["1", "4"]
    first = result.pairs[0]
    assert first["chosen"] == "dpo answer 1" and first["rejected"] == "sft answer 1"
    assert first["prompt"].startswith("### Context:\nC 1.") and first["prompt"].endswith("### Answer:\n")
    assert first["agreement"] == round(2 / 3, 4)
    assert (first["raters"], first["decisive_votes"], first["margin"]) == (3, 3, 1)
    assert result.counts["split_vote"] == 1 and result.counts["no_decisive_vote"] == 1
    assert result.dropped == {"split_vote": ["2:dpo/sft"], "no_decisive_vote": ["3:dpo/sft"]}
    strict = pairs_from_judgments(rows, min_agreement=0.7, min_votes=1)
    assert [p["id"] for p in strict.pairs] == ["4"] and strict.counts["below_agreement"] == 1
    # the study asked two physicians per comparison: by default one decisive vote is not enough
    default = pairs_from_judgments(rows)
    assert [p["id"] for p in default.pairs] == ["1"] and default.rule["min_votes"] == 2
    assert default.dropped["below_min_votes"] == ["4:dpo/sft"]


def test_raters_below_gold_threshold_are_excluded():
    rows = [
        row("g1", "good", "dpo", gold=True, gold_better="dpo"), row("g1", "bad", "sft", gold=True, gold_better="dpo"),
        row("1", "good", "dpo"), row("1", "bad", "sft"),
    ]
    assert gold_accuracy(rows) == {"good": 1.0, "bad": 0.0}
    result = pairs_from_judgments(rows, min_gold_accuracy=0.5, min_votes=1)
    assert result.excluded_raters == ["bad"]
    assert [(p["id"], p["chosen_system"]) for p in result.pairs] == [("1", "dpo")]  # gold items never become pairs
    assert pairs_from_judgments(rows).counts["split_vote"] == 1


def test_merge_without_duplicates():
    original = [{"prompt": "P1", "chosen": "gold", "rejected": "sft"}, {"prompt": "P2", "chosen": "A", "rejected": "B"}]
    feedback = [{"prompt": "P1", "chosen": "gold", "rejected": "sft"}, {"prompt": "P2", "chosen": "B", "rejected": "A"}]
    merged, counts = merge_pairs(original, feedback)
    assert merged == feedback
    assert counts == {"previous_pairs": 2, "duplicates_dropped": 2, "merged_pairs": 2}


def test_three_systems_make_one_pair_per_item_and_system_pair():
    def three(item, rater, a, b, preferred):
        return dict(row(item, rater, preferred), system_a=a, system_b=b, choice="a" if preferred == a else "b",
                    answer_a=f"{a} answer {item}", answer_b=f"{b} answer {item}")

    rows = [three("1", "x", "base", "dpo", "dpo"), three("1", "x", "sft", "dpo", "sft"),
            three("1", "y", "dpo", "base", "dpo"), three("1", "x", "base", "sft", "sft")]
    pairs = pairs_from_judgments(rows).pairs
    assert sorted((p["chosen_system"], p["rejected_system"]) for p in pairs) == [
        ("dpo", "base"), ("sft", "base"), ("sft", "dpo")]
    assert all(p["chosen"].startswith(p["chosen_system"]) and p["rejected"].startswith(p["rejected_system"]) for p in pairs)
    assert next(p for p in pairs if p["chosen_system"] == "dpo")["votes"] == {"dpo": 2}


def test_prompts_use_the_study_task_template():
    """Default pubmedqa-longform; a MeQSum study's pairs get the MeQSum template; option tasks are refused."""
    import pytest

    from data.tasks import load_task
    from training.feedback import feedback_pairs

    rows = [row("1", "a", "dpo"), row("1", "b", "dpo")]
    default = pairs_from_judgments(rows).pairs[0]["prompt"]
    assert default == load_task("pubmedqa-longform").prompt_template.format(context="C 1.", question="Q 1?")
    meqsum = load_task("meqsum")
    prompt = pairs_from_judgments(rows, task=meqsum).pairs[0]["prompt"]
    assert prompt == meqsum.prompt_template.format(question="Q 1?") and "### Context" not in prompt
    ratings = [{"item_id": "1", "rater": "a", "system": s, "criterion": "quality", "scale": "likert-5", "value": v,
                "answer": f"{s} answer", "question": "Q 1?", "context": ""} for s, v in (("sft", 2), ("dpo", 5))]
    assert feedback_pairs(ratings, criteria="quality:+1", task=meqsum).pairs[0]["prompt"] == prompt
    with pytest.raises(ValueError, match="options"):
        pairs_from_judgments(rows, task=load_task("medqa"))


def test_feedback_cli_records_the_task_and_refuses_another_tasks_pairs(tmp_path):
    import json

    from typer.testing import CliRunner

    from training.__main__ import app

    export = tmp_path / "judgments.jsonl"
    export.write_text("".join(json.dumps(dict(row("1", r, "dpo"), study="s", unit_id=1, physician_seconds=3.0,
                                              created_at="2026-11-22T00:00:00", rationale="", rater_simulated=False))
                              + "\n" for r in ("a", "b")))
    runner = CliRunner()
    result = runner.invoke(app, ["feedback", "--judgments", str(export), "--out", str(tmp_path / "p"), "--task", "meqsum"])
    assert result.exit_code == 0, result.output
    source = json.loads((tmp_path / "p" / "pairs.json").read_text())["source"]
    assert (source["task"], source["task_version"]) == ("meqsum", 1)
    result = runner.invoke(app, ["feedback", "--judgments", str(export), "--out", str(tmp_path / "q"),
                                 "--merge", str(tmp_path / "p")])  # default task pubmedqa-longform
    assert result.exit_code == 2 and "pairs of task 'meqsum'" in result.output
    assert not (tmp_path / "q").exists()
