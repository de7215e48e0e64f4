"""The `medalign` command: one Typer app that mounts each package's sub-commands.

Sub-command modules import heavy libraries (torch, gradio) inside their functions, so
`medalign --help` stays fast.
"""

from __future__ import annotations

import typer

from data.cli import app as data_app

app = typer.Typer(
    name="medalign",
    help="Align a medical language model with SFT and DPO, and prove with physicians that it is better.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(data_app, name="data")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
