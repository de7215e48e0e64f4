"""The `medalign` command (also `python -m medalign`): the root and every command group, registered
here and nowhere else. Each group's module under medalign/commands/ holds its commands; errors reach
the exit code through medalign/errors.py."""

from __future__ import annotations

import typer

from medalign.commands import data, demo, eval, export, judge, report, serve, study, tasks, train, users


def _read_study(db: str | None, name: str):
    """`train feedback --study`: the study's judgments in the export format, its kind and settings
    (rubric, overlap: the feedback pairs' direction and evidence); the database is app/'s."""
    from app.admin import study_judgments  # SQLModel: start-up cost

    return study_judgments(db, name)


def build() -> typer.Typer:
    root = typer.Typer(
        name="medalign",
        help="Align a medical language model with SFT and DPO, and prove with physicians that it is better.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
    )
    data.register(root)
    tasks.register(root)
    train.register(root, read_study=_read_study)  # `train ...` and `generate`
    eval.register(root)
    study.register(root)
    users.register(root)
    serve.register(root)
    export.register(root)
    report.register(root)
    judge.register(root)
    demo.register(root)
    return root


app = build()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
