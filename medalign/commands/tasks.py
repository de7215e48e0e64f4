"""`medalign tasks list|show`: the shipped tasks (configs/tasks/*.yaml)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from medalign.errors import add_commands

out = Console()


def load_task_checked(name: str):
    """The task, with its metrics checked against the ones evaluation/ knows."""
    # data.tasks (pydantic) and evaluation.compare (numpy, scipy) cost start-up time: imported on use.
    from data.records import DataError
    from data.tasks import load_task
    from evaluation.compare import ALL_METRICS

    try:
        return load_task(name, known_metrics=set(ALL_METRICS))
    except DataError as exc:
        exc.file = exc.file or "--task"  # an unknown name: the option, not "<input>"
        raise


def tasks_list() -> None:
    """Every shipped task with its output kind and primary metric."""
    from data.tasks import load_task, task_names  # pydantic: start-up cost

    table = Table("task", "v", "output", "primary metric", "physicians")
    for name in task_names():
        task = load_task(name)
        table.add_row(name, str(task.version), task.output, task.primary_metric, task.human_evaluation)
    out.print(table)


def tasks_show(task: Annotated[str, typer.Argument(help="Task name or .yaml path.")]) -> None:
    """The task's full definition (as validated), as YAML."""
    import yaml  # PyYAML: a little start-up time, only `tasks show` needs it

    class Literal(yaml.SafeDumper):
        """Multi-line strings (the prompt template) as YAML block literals, readable as written."""

    Literal.add_representer(str, lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None))
    spec = load_task_checked(task)
    comment = "".join(f"# {line}\n" for line in spec.description.splitlines() or [""])
    # written as is, not through rich: a console wraps long lines at the terminal's width (80 when piped),
    # which breaks the YAML (issue 24); `tasks show T > T.yaml` gives a loadable file
    sys.stdout.write(comment + yaml.dump(spec.public_dict(), Dumper=Literal, sort_keys=False, allow_unicode=True,
                                         width=float("inf")))


def register(root: typer.Typer) -> None:
    group = typer.Typer(help="The shipped tasks (configs/tasks/*.yaml).", no_args_is_help=True)
    root.add_typer(add_commands(group, {"list": tasks_list, "show": tasks_show}), name="tasks")
