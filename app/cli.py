"""The `medalign` command: one Typer app that mounts each package's sub-commands.

Sub-command modules import heavy libraries (torch, gradio) inside their functions, so
`medalign --help` stays fast.
"""

from __future__ import annotations

import typer

from app.admin_cli import export_command, study_app, users_app
from app.compute_cli import compute_command  # noqa: F401 (registers `report compute`)
from app.demo_cli import demo_command
from app.eval_cli import eval_app, tasks_app  # also registers `report compare`
from app.feedback_cli import feedback_command
from app.report_cli import report_app
from app.serve_cli import serve_command
from data.cli import app as data_app
from training.cli import generate_command, train_app

app = typer.Typer(
    name="medalign",
    help="Align a medical language model with SFT and DPO, and prove with physicians that it is better.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")
app.add_typer(study_app, name="study")
app.add_typer(users_app, name="users")
train_app.command("feedback")(feedback_command)  # reads the database, so it lives in app/
app.add_typer(train_app, name="train")
app.command("generate")(generate_command)
app.command("serve")(serve_command)
app.command("export")(export_command)
app.add_typer(report_app, name="report")
app.command("demo")(demo_command)
app.add_typer(tasks_app, name="tasks")
app.add_typer(eval_app, name="eval")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
