"""`medalign tasks show T > T.yaml` is valid YAML equal to the task, whatever the terminal width (issue 24)."""

import pytest
import yaml
from typer.testing import CliRunner

from data.tasks import load_task, task_names
from medalign.cli import app


@pytest.mark.parametrize("columns", ["40", "80", "250"])
def test_tasks_show_round_trips_at_any_width(columns, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", columns)
    for name in task_names():
        result = CliRunner().invoke(app, ["tasks", "show", name])
        assert result.exit_code == 0, result.output
        assert yaml.safe_load(result.stdout) == load_task(name).public_dict()
        (tmp_path / f"{name}.yaml").write_text(result.stdout)
        assert load_task(str(tmp_path / f"{name}.yaml")).public_dict() == load_task(name).public_dict()
