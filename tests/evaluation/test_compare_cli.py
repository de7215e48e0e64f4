"""`medalign eval ...` and `medalign report compare` from the command line, including a tiny-model
run of a classification task and of MedQA through SFT, pairs, DPO, eval run and report compare."""

import json
import os

import pytest
from typer.testing import CliRunner

from medalign.cli import app

os.environ.setdefault("TQDM_DISABLE", "1")
runner = CliRunner()


def medalign(*args):
    result = runner.invoke(app, [str(a) for a in args])
    return result


def ok(*args):
    result = medalign(*args)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def triage_data(tmp_path):
    ok("data", "prepare", "triage", "--holdout", "12", "--out", tmp_path / "data")
    return tmp_path / "data"


def write_generations(path, holdout, system, answer_of):
    rows = [json.loads(x) for x in holdout.read_text().splitlines()]
    path.write_text("".join(json.dumps({"id": r["id"], "question": r["question"], "outputs": {system: answer_of(r)}})
                            + "\n" for r in rows))


def test_score_and_compare_outputs_generated_elsewhere(tmp_path, triage_data):
    """Outputs from any model (here written as a clinician's and a careless triager's answers) are scored
    with `eval score` and compared; every file of the comparison is written."""
    holdout = triage_data / "holdout.jsonl"
    write_generations(tmp_path / "a.gen.jsonl", holdout, "careless", lambda r: "Urgency: routine, I think")
    write_generations(tmp_path / "b.gen.jsonl", holdout, "careful",
                      lambda r: f"This message is {r['gold']}." if r["id"] != "syntriage001" else "cannot say")
    for system, gen in (("careless", "a"), ("careful", "b")):
        result = ok("eval", "score", "--task", "triage", "--data", holdout, "--generations", tmp_path / f"{gen}.gen.jsonl",
                    "--system", system, "--out", tmp_path / f"{system}.jsonl", "--rounds", "200")
        assert "macro_f1" in result.output
    careful = [json.loads(x) for x in (tmp_path / "careful.jsonl").read_text().splitlines()]
    assert set(careful[0]) >= {"id", "system", "raw_output", "parsed", "gold", "correct"}
    assert all(r["correct"] == (r["id"] != "syntriage001") for r in careful)
    metrics = json.loads((tmp_path / "careful.metrics.json").read_text())
    assert metrics["unparsed"] == (1 if any(r["id"] == "syntriage001" for r in careful) else 0)
    ok("report", "compare", "--task", "triage", "--predictions",
       f"careless={tmp_path / 'careless.jsonl'},careful={tmp_path / 'careful.jsonl'}", "--out", tmp_path / "cmp",
       "--rounds", "500")
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["systems"] == ["careless", "careful"] and summary["comparisons"][0]["difference"] > 0
    assert (tmp_path / "cmp" / "compare.html").read_text().startswith("<!doctype html>")


@pytest.mark.parametrize("content,field,line", [
    ('{"id": "x", "system": "sft", "raw_output": "", "parsed": null, "gold": "urgent"}\n', "correct", 1),
    ('{"id": "x", "system": "dpo", "raw_output": "", "parsed": null, "gold": "urgent", "correct": false}\n', "system", 1),
    ('{"id": "x", "system": "sft", "raw_output": "", "parsed": null, "gold": "urgent", "correct": false}\n'
     '{"id": "y", "system": "sft", "raw_output": "", "parsed": "soon", "gold": "urgent", "correct": false}\n', "parsed", 2),
])
def test_compare_bad_predictions_name_file_line_field(tmp_path, content, field, line):
    bad = tmp_path / "sft.jsonl"
    bad.write_text(content)
    result = medalign("report", "compare", "--task", "triage", "--predictions", f"sft={bad},dpo={bad}",
                      "--out", tmp_path / "cmp")
    assert result.exit_code == 2 and f"sft.jsonl:{line}" in result.output and field in result.output
    assert "Traceback" not in result.output and not (tmp_path / "cmp").exists()


def test_eval_needs_gold_answers_of_the_task(tmp_path, triage_data):
    result = medalign("eval", "score", "--task", "medqa", "--data", triage_data / "holdout.jsonl", "--generations",
                      triage_data / "holdout.jsonl", "--system", "x", "--out", tmp_path / "p.jsonl")
    assert result.exit_code == 2 and "holdout.jsonl:1" in result.output and "'task'" in result.output


def test_tasks_list_and_show():
    assert "medical-abstracts" in ok("tasks", "list").output
    shown = ok("tasks", "show", "medqa").output
    assert "prompt_template: |" in shown and "answer_idx" not in shown
    assert medalign("tasks", "show", "nosuch").exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize("task", ["triage", "medqa"])
def test_tiny_model_study_from_the_command_line(tmp_path, task):
    """prepare -> tiny model -> SFT -> SFT answers on train -> pairs -> DPO -> eval run x3 -> report compare."""
    data, runs = tmp_path / "data", tmp_path / "runs"
    ok("data", "prepare", task, "--holdout", "8", "--out", data)
    ok("train", "tiny-model", "--data", data, "--out", runs / "model", "--set", "pretrain_steps=40")
    ok("train", "sft", "--config", "configs/tiny/sft.yaml", "--set", f"model_name_or_path={runs / 'model'}",
       "--set", f"train_file={data / 'train.jsonl'}", "--set", f"output_dir={runs / 'sft'}")
    run_args = ["--task", task, "--max-new-tokens", "6", "--rounds", "200"]
    ok("eval", "run", *run_args, "--model", runs / "sft" / "merged", "--system", "sft", "--data", data / "train.jsonl",
       "--out", runs / "sft_train.jsonl")
    pairs = ok("eval", "pairs", "--task", task, "--data", data / "train.jsonl", "--predictions",
               runs / "sft_train.jsonl", "--out", runs / "pairs")
    assert "pairs:" in pairs.output
    counts = json.loads((runs / "pairs" / "pairs.json").read_text())["counts"]
    train_rows = len((data / "train.jsonl").read_text().splitlines())
    assert counts["pairs"] == train_rows
    assert counts["sft_wrong"] + counts["sft_unparsed"] + counts["sft_right_random_wrong"] == train_rows
    ok("train", "dpo", "--config", "configs/tiny/dpo.yaml", "--pairs", runs / "pairs",
       "--set", f"model_name_or_path={runs / 'sft' / 'merged'}", "--set", f"output_dir={runs / 'dpo'}",
       "--set", "training.num_train_epochs=1")
    models = {"base": runs / "model", "sft": runs / "sft" / "merged", "dpo": runs / "dpo" / "merged"}
    for system, model in models.items():
        ok("eval", "run", *run_args, "--model", model, "--system", system, "--data", data / "holdout.jsonl",
           "--out", runs / f"{system}.jsonl")
    ok("report", "compare", "--task", task, "--predictions",
       ",".join(f"{s}={runs / f'{s}.jsonl'}" for s in models), "--runs", f"sft={runs / 'sft'},dpo={runs / 'dpo'}",
       "--out", tmp_path / "compare", "--rounds", "500")
    summary = json.loads((tmp_path / "compare" / "summary.json").read_text())
    assert summary["task"]["name"] == task and summary["n_examples"] == 8
    assert len(summary["comparisons"]) == 3 and all(0 <= c["p_holm"] <= 1 for c in summary["comparisons"])
    ratio = summary["compute"]["dpo_over_sft"]
    assert ratio["wall_time_s"] > 0 and ratio["tokens_processed"] > 0 and ratio["flops"] > 0
    assert "Compute per training stage" in (tmp_path / "compare" / "compare.md").read_text()


def test_meqsum_rouge_and_physician_ratings(tmp_path):
    """MeQSum prepared by the original command, scored with ROUGE, with a rating-study export beside."""
    ok("data", "prepare", "meqsum", "--holdout", "10", "--out", tmp_path / "data")
    holdout = tmp_path / "data" / "holdout.jsonl"
    write_generations(tmp_path / "sft.gen.jsonl", holdout, "sft", lambda r: "Question about " + r["question"][:40])
    write_generations(tmp_path / "dpo.gen.jsonl", holdout, "dpo", lambda r: r["answer"])
    for system in ("sft", "dpo"):
        ok("eval", "score", "--task", "meqsum", "--data", holdout, "--generations", tmp_path / f"{system}.gen.jsonl",
           "--system", system, "--out", tmp_path / f"{system}.jsonl", "--rounds", "200")
    ids = [json.loads(x)["id"] for x in holdout.read_text().splitlines()]
    ratings = [{"study": "s", "item_id": i, "rater": f"dr{k}", "system": s, "criterion": "overall",
                "scale": "likert-5", "value": (4 + (k + n) % 2) if s == "dpo" else 3}
               for n, i in enumerate(ids) for k in range(2) for s in ("sft", "dpo")]
    (tmp_path / "ratings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ratings))
    ok("report", "compare", "--task", "meqsum", "--predictions", f"sft={tmp_path / 'sft.jsonl'},dpo={tmp_path / 'dpo.jsonl'}",
       "--ratings", tmp_path / "ratings.jsonl", "--out", tmp_path / "cmp", "--rounds", "300")
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert summary["per_system"]["dpo"]["rougeL_fmeasure"]["value"] == pytest.approx(1.0)
    assert summary["comparisons"][0]["difference"] > 0
    assert summary["ratings"]["per_system"]["dpo"]["likert_mean"]["value"] == pytest.approx(4.5)
    # two physicians: the design-aware test has t on 1 df, so even a 1.5-point difference is p ~ 0.05
    assert summary["ratings"]["comparisons"][0]["p_value"] < 0.05
    assert "Physician ratings (overall)" in (tmp_path / "cmp" / "compare.md").read_text()
