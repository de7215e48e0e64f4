"""`python -m training <stage> ...`: the training stages without the web app.

So that `accelerate launch [--config_file configs/accelerate/X.yaml] -m training sft --config ...`
starts one process per device, each running the stage. `medalign train ...` runs the same
commands in one process.
"""

from __future__ import annotations

import typer

from training.cli import generate_command, train_app
from training.feedback_cli import app as feedback_app

app = typer.Typer(help="medalign training stages (python -m training STAGE --help).", no_args_is_help=True)
app.add_typer(train_app)  # no name: its commands (tiny-model, sft, pairs, dpo) sit at the top level
app.add_typer(feedback_app)  # feedback --judgments EXPORT (from a file: the database is the app's)
app.command("generate")(generate_command)


def main() -> None:
    app(prog_name="python -m training")


if __name__ == "__main__":
    main()
