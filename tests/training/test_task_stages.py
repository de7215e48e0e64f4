"""`--task T` on the training stages: the task's template, SFT targets and pairs, `{task}` in the
study recipes' paths, and examples or pairs of another task refused with file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from data.records import DataError
from data.task_prepare import build_task_examples
from data.task_sources import load_task_source
from data.tasks import load_task, render_prompt, task_names
from medalign.cli import app
from training.recipes import load_recipe
from training.task_data import check_pairs_task, resolve_recipe_paths, task_examples

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
STUDY_RECIPES = sorted((CONFIGS / "study").rglob("*.yaml"))
runner = CliRunner()


def prepared(name: str) -> list[dict]:
    task = load_task(name)
    records, _ = load_task_source(task, None)
    return [e.to_json_dict() for e in build_task_examples(task, records, n=1000, holdout=1, seed=0).train]


def test_examples_take_the_task_template_and_targets():
    task = load_task("medqa")
    rows = prepared("medqa")
    rows[0] = dict(rows[0], prompt="an old template\n", answer="stale")
    shown, rerendered = task_examples(task, rows, file="train.jsonl")
    assert rerendered == 1
    first = shown[0]
    assert first["prompt"] == render_prompt(task, question=first["question"], context=first["context"],
                                            options=first["options"])
    assert first["answer"] == f"{first['gold']}. {first['options'][first['gold']]}"
    assert [r["prompt"] for r in shown[1:]] == [r["prompt"] for r in rows[1:]]


@pytest.mark.parametrize("change, field, message", [
    ({"task": "triage"}, "task", "example of task 'triage', not 'medqa'"),
    ({"task_version": 7}, "task_version", "prepared with version 7"),
    ({"gold": "E"}, "gold", "'E' is not one of the task's answers"),
])
def test_examples_of_another_task_are_refused(change, field, message):
    rows = prepared("medqa")
    rows[2] = dict(rows[2], **change)
    with pytest.raises(DataError, match=message) as caught:
        task_examples(load_task("medqa"), rows, file="train.jsonl")
    error = caught.value
    assert (error.file, error.line, error.field, error.record) == ("train.jsonl", 3, field, rows[2]["id"])


def test_free_text_examples_prepared_without_a_task():
    """`data prepare pubmedqa` rows (no task field) train as pubmedqa-longform unchanged; a label task refuses them."""
    rows = [{"id": "1", "question": "Q?", "context": "C.", "prompt": "### Context:\nC.\n\n### Question:\nQ?\n\n### Answer:\n",
             "answer": "Yes, it does."}]
    shown, rerendered = task_examples(load_task("pubmedqa-longform"), rows, file="t.jsonl")
    assert rerendered == 0 and shown[0]["answer"] == "Yes, it does." and shown[0]["task"] == "pubmedqa-longform"
    with pytest.raises(DataError, match="data prepare pubmedqa-decision"):
        task_examples(load_task("pubmedqa-decision"), rows, file="t.jsonl")


@pytest.mark.parametrize("name", task_names())
@pytest.mark.parametrize("path", STUDY_RECIPES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_study_recipes_resolve_for_every_task(path, name):
    recipe = resolve_recipe_paths(load_recipe(path), load_task(name), source=str(path))
    for field in ("model_name_or_path", "train_file", "pairs_dir", "output_dir"):
        value = getattr(recipe, field, None)
        assert value is None or "{task}" not in value
    assert recipe.output_dir.startswith(f"runs/{name}/")
    with pytest.raises(DataError, match="give --task") as caught:
        resolve_recipe_paths(load_recipe(path), None, source=str(path))
    assert caught.value.file == str(path)


def test_study_recipes_use_the_study_models_with_the_published_settings():
    biomistral = {stage: load_recipe(CONFIGS / "pubmedqa" / f"{stage}.yaml") for stage in ("sft", "dpo")}
    for folder, hub in (("llama3-8b", "meta-llama/Meta-Llama-3-8B-Instruct"),
                        ("mistral-7b", "mistralai/Mistral-7B-Instruct-v0.2")):
        sft, dpo = (load_recipe(CONFIGS / "study" / folder / f"{stage}.yaml") for stage in ("sft", "dpo"))
        assert sft.model_name_or_path == hub and dpo.model_name_or_path == f"runs/{{task}}/{folder}/sft/merged"
        assert dpo.pairs_dir == f"runs/{{task}}/{folder}/pairs"
        # the study's abstract gives no hyperparameters: the BioMistral recipe's, base model aside
        assert sft.lora == biomistral["sft"].lora and dpo.lora == biomistral["dpo"].lora
        assert dpo.quantization == biomistral["dpo"].quantization and dpo.training.beta == 0.01
        assert sft.training.learning_rate == 2e-5 and dpo.training.learning_rate == 5e-6


def test_pairs_of_another_task_are_refused(tmp_path):
    (tmp_path / "pairs.json").write_text(json.dumps({"counts": {}, "source": {"task": "triage"}}))
    with pytest.raises(DataError, match="pairs built for task 'triage', not 'medqa'"):
        check_pairs_task(load_task("medqa"), tmp_path)
    assert check_pairs_task(load_task("triage"), tmp_path) is None
    assert "do not record a task" in check_pairs_task(load_task("triage"), tmp_path / "none")


def medalign(*args) -> object:
    return runner.invoke(app, [str(a) for a in args])


def ok(*args) -> str:
    result = medalign(*args)
    assert result.exit_code == 0, f"medalign {' '.join(map(str, args))}\n{result.output}\n{result.exception!r}"
    return result.output


@pytest.mark.slow
def test_triage_study_stages_with_task_from_the_command_line(tmp_path, monkeypatch):
    """prepare -> tiny model -> sft --task -> pairs --task -> dpo --task -> generate --task, with the
    study's tiny recipes ({task} in their paths), run from a fresh folder as a user would."""
    import torch
    from safetensors.torch import load_file

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TQDM_DISABLE", "1")
    runs = Path("runs/triage")
    ok("data", "prepare", "triage", "--holdout", "8", "--out", runs / "data")
    ok("train", "tiny-model", "--data", runs / "data", "--out", runs / "tiny/model", "--config", CONFIGS / "tiny/model.yaml",
       "--set", "pretrain_steps=40")
    assert medalign("train", "sft", "--config", CONFIGS / "study/tiny/sft.yaml").exit_code == 2  # {task} needs --task
    ok("train", "sft", "--task", "triage", "--config", CONFIGS / "study/tiny/sft.yaml")
    sft_run = json.loads((runs / "tiny/sft/run.json").read_text())
    assert sft_run["config"]["task"] == {"name": "triage", "version": 1}
    assert sft_run["counts"]["examples_used"] == 22 and sft_run["counts"]["prompts_rerendered_from_task_template"] == 0
    base = load_file(runs / "tiny/model/model.safetensors")
    tuned = load_file(runs / "tiny/sft/merged/model.safetensors")
    assert any(not torch.equal(base[k], tuned[k]) for k in base)  # SFT changed the weights

    result = medalign("train", "pairs", "--task", "medqa", "--model", runs / "tiny/sft/merged",
                      "--data", runs / "data/train.jsonl", "--out", runs / "wrong")
    assert result.exit_code == 2 and "train.jsonl:1: record 'syntriage" in result.output
    assert "field 'task': example of task 'triage', not 'medqa'" in result.output and not (runs / "wrong").exists()
    ok("train", "pairs", "--task", "triage", "--model", runs / "tiny/sft/merged", "--data", runs / "data/train.jsonl",
       "--out", runs / "tiny/pairs", "--max-new-tokens", "8")
    record = json.loads((runs / "tiny/pairs/pairs.json").read_text())
    assert record["source"]["task"] == "triage" and record["counts"]["pairs"] == 22
    labels = {"emergent", "urgent", "non-urgent"}
    pairs = [json.loads(line) for line in (runs / "tiny/pairs/pairs.jsonl").read_text().splitlines()]
    assert all(p["chosen"] in labels and p["rejected"] != p["chosen"] for p in pairs)

    assert medalign("train", "dpo", "--task", "medqa", "--config", CONFIGS / "study/tiny/dpo.yaml",
                    "--pairs", runs / "tiny/pairs", "--set", f"model_name_or_path={runs / 'tiny/sft/merged'}").exit_code == 2
    ok("train", "dpo", "--task", "triage", "--config", CONFIGS / "study/tiny/dpo.yaml")
    dpo_run = json.loads((runs / "tiny/dpo/run.json").read_text())
    assert dpo_run["config"]["task"]["name"] == "triage" and dpo_run["counts"]["pairs_used"] == 22
    assert dpo_run["reward_margin_last"] > dpo_run["reward_margin_first"]

    ok("generate", "--task", "triage", "--model", runs / "tiny/dpo/merged", "--data", runs / "data/holdout.jsonl",
       "--system", "dpo", "--out", runs / "generations.jsonl", "--max-new-tokens", "8")
    rows = [json.loads(line) for line in (runs / "generations.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and all(r["task"] == "triage" and "dpo" in r["outputs"] for r in rows)
    generation_record = json.loads((runs / "generations.run.json").read_text())
    assert generation_record["systems"]["dpo"]["task"] == {"name": "triage", "version": 1}
