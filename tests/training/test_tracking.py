"""training.report_to: a tracker is used when installed and named clearly when not (issue 24, point 7)."""

import pytest

from training.common import tracking, trainer_arguments
from training.recipes import RecipeError, TrainingSettings


def settings(report_to):
    return TrainingSettings(per_device_train_batch_size=1, learning_rate=1e-4, report_to=report_to)


def test_none_by_default_and_in_trainer_arguments(tmp_path):
    assert TrainingSettings.model_fields["report_to"].default == "none"
    assert trainer_arguments(settings("none"), tmp_path, "fp32")["report_to"] == "none"


@pytest.mark.parametrize("tracker", ["tensorboard", "trackio", "wandb"])
def test_missing_tracker_is_a_clear_error_and_an_installed_one_is_used(tracker, monkeypatch, tmp_path):
    from transformers.integrations import integration_utils

    check = {"tensorboard": "is_tensorboard_available", "trackio": "is_trackio_available", "wandb": "is_wandb_available"}
    monkeypatch.setattr(integration_utils, check[tracker], lambda: False)
    with pytest.raises(RecipeError, match=f"report_to={tracker}: the '{tracker}' package is not installed"):
        tracking(tracker)
    monkeypatch.setattr(integration_utils, check[tracker], lambda: True)
    assert trainer_arguments(settings(tracker), tmp_path, "fp32")["report_to"] == tracker


def test_unknown_tracker_is_a_recipe_error():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        settings("mlflow")
