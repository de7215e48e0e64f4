"""Cards are written beside every adapter, merged model and prepared dataset; `--push-to-hub` shares
them, tested offline against a local folder (issue 24, point 7)."""

import json

import pytest
import yaml
from typer.testing import CliRunner

from medalign.cli import app
from training.share import is_local_target, model_card, push_folder


def front_matter(text: str) -> dict:
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_prepared_dataset_has_a_card_and_is_shared(tmp_path):
    target = tmp_path / "hub" / "pubmedqa-tiny"
    result = CliRunner().invoke(app, ["data", "prepare", "pubmedqa", "--n", "20", "--holdout", "4",
                                      "--out", str(tmp_path / "data"), "--push-to-hub", f"file://{target}"])
    assert result.exit_code == 0, result.output
    card = (tmp_path / "data" / "README.md").read_text()
    manifest = json.loads((tmp_path / "data" / "manifest.json").read_text())
    assert front_matter(card)["license"] and manifest["files"]["train.jsonl"]["sha256"] in card
    assert sorted(p.name for p in target.iterdir()) == ["README.md", "holdout.jsonl", "manifest.json", "train.jsonl"]
    assert (target / "train.jsonl").read_bytes() == (tmp_path / "data" / "train.jsonl").read_bytes()


def test_a_folder_without_card_is_not_shared_and_hub_names_are_not_local(tmp_path):
    (tmp_path / "bare").mkdir()
    with pytest.raises(ValueError, match="no README.md card"):
        push_folder(tmp_path / "bare", str(tmp_path / "out"))
    assert is_local_target("file:///x") and is_local_target("./x") and not is_local_target("user/model")


def test_model_card_names_recipe_data_metrics_and_licence():
    run = {"stage": "dpo", "config": {"model_name_or_path": "runs/sft/merged", "output_dir": "runs/dpo",
                                      "training": {"beta": 0.1}},
           "inputs": {"pairs": {"path": "runs/pairs/pairs.jsonl", "sha256": "ab" * 32}}, "counts": {"pairs_used": 3},
           "reward_margin_first": 0.0, "reward_margin_last": 0.4, "chat_template": {"used": False}}
    card = model_card(run, kind="adapter", license_id="apache-2.0")
    assert front_matter(card) == {"license": "apache-2.0", "base_model": "runs/sft/merged", "library_name": "peft",
                                  "tags": ["medalign", "dpo", "trl", "medical"]}
    assert "ab" * 32 in card and "reward_margin_last: 0.4" in card and "beta: 0.1" in card


@pytest.mark.slow
def test_sft_writes_cards_and_pushes_adapter_and_merged(tiny_model, tiny_data, tmp_path):
    recipe = tmp_path / "sft.yaml"
    recipe.write_text(yaml.safe_dump({
        "stage": "sft", "model_name_or_path": str(tiny_model), "train_file": str(tiny_data / "train.jsonl"),
        "output_dir": str(tmp_path / "sft"), "lora": {"r": 4, "alpha": 8, "dropout": 0.0},
        "training": {"per_device_train_batch_size": 4, "learning_rate": 1e-3, "max_steps": 1,
                     "gradient_checkpointing": False, "precision": "fp32", "max_length": 512}}))
    result = CliRunner().invoke(app, ["train", "sft", "--config", str(recipe), "--push-to-hub", str(tmp_path / "hub-a"),
                                      "--push-merged-to-hub", f"file://{tmp_path / 'hub-m'}"])
    assert result.exit_code == 0, result.output
    for local, shared in (("adapter", "hub-a"), ("merged", "hub-m")):
        card = (tmp_path / "sft" / local / "README.md").read_text()
        assert "medalign" in front_matter(card)["tags"] and str(tiny_data / "train.jsonl") in card
        assert (tmp_path / shared / "README.md").read_text() == card
    assert (tmp_path / "hub-a" / "adapter_model.safetensors").is_file()
    assert (tmp_path / "hub-m" / "model.safetensors").is_file()
