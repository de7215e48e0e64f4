from pathlib import Path

import pytest

from training.recipes import DPORecipe, RecipeError, SFTRecipe, load_recipe, parse_overrides

CONFIGS = Path(__file__).resolve().parents[2] / "configs"
NOT_RECIPES = {"accelerate", "rubrics", "tasks", "judges"}  # other YAML kinds under configs/, validated by their own tests
RECIPE_FILES = sorted(p for p in CONFIGS.rglob("*.yaml") if not NOT_RECIPES & set(p.relative_to(CONFIGS).parts))
ACCELERATE_FILES = sorted((CONFIGS / "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPE_FILES, ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_recipe_loads_and_validates(path):
    recipe = load_recipe(path)
    assert recipe.stage in ("sft", "dpo", "tiny-model")


@pytest.mark.parametrize("path", ACCELERATE_FILES, ids=lambda p: p.name)
def test_accelerate_configs_load(path):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(path))
    assert config.num_processes >= 1 and config.mixed_precision == "bf16"


def test_published_recipe_values():
    sft = load_recipe(CONFIGS / "pubmedqa" / "sft.yaml")
    dpo = load_recipe(CONFIGS / "pubmedqa" / "dpo.yaml")
    assert isinstance(sft, SFTRecipe) and isinstance(dpo, DPORecipe)
    assert sft.model_name_or_path == "BioMistral/BioMistral-7B"
    assert (sft.lora.r, sft.lora.alpha, sft.lora.dropout) == (64, 16, 0.1)
    assert (sft.training.num_train_epochs, sft.training.per_device_train_batch_size, sft.training.learning_rate) == (1, 4, 2e-5)
    assert (dpo.lora.r, dpo.lora.alpha, dpo.lora.dropout) == (128, 128, 0.05)
    assert (dpo.training.beta, dpo.training.loss_type, dpo.training.learning_rate) == (0.01, "sigmoid", 5e-6)
    assert dpo.training.per_device_train_batch_size == 8 and dpo.training.num_train_epochs == 1
    q = dpo.quantization
    assert q.load_in_4bit and q.quant_type == "nf4" and q.double_quant and q.compute_dtype == "bfloat16"
    # hours-long runs keep checkpoints to resume from
    assert sft.training.save_steps > 0 and dpo.training.save_steps > 0


@pytest.mark.parametrize("override, key", [
    ("training.save_steps=-1", "training.save_steps"),
    ("training.eval_fraction=1.0", "training.eval_fraction"),
    ("training.eval_steps=0", "training.eval_steps"),
    ("training.save_strategy=steps", "training.save_strategy"),  # replaced by save_steps: unknown now
])
def test_checkpoint_and_eval_keys_are_validated(override, key):
    with pytest.raises(RecipeError, match=rf"sft\.yaml: .*{key}"):
        load_recipe(CONFIGS / "tiny" / "sft.yaml", [override])


def test_unknown_key_is_an_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text((CONFIGS / "tiny" / "sft.yaml").read_text().replace("learning_rate:", "learnig_rate:"))
    with pytest.raises(RecipeError, match=r"bad\.yaml: .*training\.learnig_rate: Extra inputs are not permitted"):
        load_recipe(path)


def test_overrides_from_the_command_line():
    recipe = load_recipe(CONFIGS / "tiny" / "sft.yaml", ["training.learning_rate=1e-4", "lora.r=4", "output_dir=/tmp/x"])
    assert recipe.training.learning_rate == 1e-4 and recipe.lora.r == 4 and recipe.output_dir == "/tmp/x"
    with pytest.raises(RecipeError, match="lora.r"):
        load_recipe(CONFIGS / "tiny" / "sft.yaml", ["lora.r=-1"])
    with pytest.raises(RecipeError, match="key=value"):
        parse_overrides(["lora.r"])
    with pytest.raises(RecipeError, match="expected 'dpo'"):
        load_recipe(CONFIGS / "tiny" / "sft.yaml", stage="dpo")


def test_bad_yaml(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("stage: sft\n  bad: [indent")
    with pytest.raises(RecipeError, match=r"x\.yaml: invalid YAML"):
        load_recipe(path)
