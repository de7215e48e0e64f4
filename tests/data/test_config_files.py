"""Shipped configs are found through importlib.resources; a user's own path wins (issue 24, point 3)."""

from pathlib import Path

from data.config_files import configs_dir, resolve_config

REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_one_copy_of_the_configs():
    """The packaged folder is the repository's configs/ (a link in the source tree), not a second copy."""
    assert configs_dir().resolve() == REPO_CONFIGS.resolve()
    assert (configs_dir() / "tasks" / "medqa.yaml").is_file() and (configs_dir() / "rubrics").is_dir()


def test_user_path_relative_to_the_current_folder_wins(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_config("configs/tiny/sft.yaml") == configs_dir() / "tiny" / "sft.yaml"  # none here: shipped
    own = tmp_path / "configs" / "tiny" / "sft.yaml"
    own.parent.mkdir(parents=True)
    own.write_text("stage: sft\n")
    assert resolve_config("configs/tiny/sft.yaml") == Path("configs/tiny/sft.yaml")  # the user's file
    assert resolve_config("mine/missing.yaml") == Path("mine/missing.yaml")  # the reader's error names it


def test_recipe_task_and_rubric_load_from_another_folder(tmp_path, monkeypatch):
    from data.tasks import load_task, task_names
    from evaluation.rubric import load_rubric
    from training.recipes import RecipeError, load_recipe

    monkeypatch.chdir(tmp_path)
    assert "medqa" in task_names() and load_task("configs/tasks/meqsum.yaml").name == "meqsum"
    assert load_recipe("configs/tiny/sft.yaml").stage == "sft"
    assert load_rubric("configs/rubrics/clinical-axes.yaml").name == "clinical-axes"
    try:
        load_recipe("configs/tiny/missing.yaml")
    except RecipeError as exc:
        assert "configs/tiny/missing.yaml: cannot read" in str(exc)
    else:
        raise AssertionError("a missing recipe must be an error")
