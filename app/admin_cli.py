"""`medalign study ...`, `medalign users ...` and `medalign export`: researcher commands."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app import storage
from app.db import open_database
from app.exports import FORMATS, write_export
from app.models import Role
from app.study_files import read_study_items
from data.records import DataError
from data.tables import read_text, sha256_file
from evaluation.contract import StudyKind

err = Console(stderr=True, soft_wrap=True)
out = Console()

DB = Annotated[str | None, typer.Option("--db", help="Database URL (default: MEDALIGN_DATABASE_URL or sqlite:///medalign.db).")]

study_app = typer.Typer(help="Create and inspect judging studies.", no_args_is_help=True)
users_app = typer.Typer(help="Manage physician and researcher accounts.", no_args_is_help=True)


def fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def in_transaction(db: str | None, action):
    """Run action(session) in one transaction; a refused request exits with its message."""
    engine = open_database(db)
    try:
        with storage.transaction(engine) as session:
            return action(session)
    except (storage.StorageError, ValueError) as exc:  # ValueError: a password too short
        raise fail(str(exc)) from exc


def study_judgments(study: str, db: str | None) -> tuple[list[dict], StudyKind]:
    """A study's judgments in the export format (system names revealed) and its kind, or exit with the error."""
    def read(session):
        record = storage.get_study(session, study)
        return storage.export_judgments(session, record), StudyKind(record.kind)
    return in_transaction(db, read)


@study_app.command("create")
def study_create(
    name: Annotated[str, typer.Option("--name", help="Unique study name (physicians see it: it must not name a system).")],
    answers: Annotated[Path, typer.Option("--answers", help="JSONL: id, question, context?, reference?, outputs{system: text}.")],
    systems: Annotated[str, typer.Option("--systems", help="Systems to judge, e.g. sft,dpo or base,sft,dpo.")] = "sft,dpo",
    kind: Annotated[StudyKind, typer.Option(
        "--kind", help="pairwise: answers side by side; rating: one answer on a rubric.")] = StudyKind.pairwise,
    pairs: Annotated[str | None, typer.Option(
        "--pairs", help="Pairwise: which system pairs, e.g. sft:dpo,base:dpo (default: every pair).")] = None,
    rubric: Annotated[Path | None, typer.Option("--rubric", help="Rating: the rubric YAML (see configs/rubrics/).")] = None,
    overlap: Annotated[int, typer.Option("--overlap", help="Physicians per comparison (pairwise) or per answer (rating).")] = 1,
    seed: Annotated[int, typer.Option("--seed", help="Seed of each physician's order and sides.")] = 0,
    guidelines: Annotated[Path | None, typer.Option("--guidelines", help="Markdown shown to physicians.")] = None,
    gold: Annotated[Path | None, typer.Option("--gold", help="Pairwise: JSONL of attention-check items with 'better': system.")] = None,
    db: DB = None,
) -> None:
    """Import a generation file as a study (one transaction: all lines or none)."""
    from evaluation.rubric import load_rubric

    names = [s.strip() for s in systems.split(",")]
    needed = 2 if kind is StudyKind.pairwise else 1
    if len(names) < needed or not all(names) or len(set(names)) != len(names):
        raise fail(f"--systems needs {needed} or more different names, e.g. " + ("sft,dpo" if needed == 2 else "dpo"))
    if (rubric is None) == (kind is StudyKind.rating):
        raise fail("--rubric is needed for --kind rating, and only there")
    try:
        comparisons = storage.parse_comparisons(pairs, names) if kind is StudyKind.pairwise else None
        items = read_study_items(answers, names)
        gold_items = read_study_items(gold, names, gold=True) if gold else []
        guideline_text = read_text(guidelines) if guidelines else ""
        rubric_model = load_rubric(rubric) if rubric else None
    except (DataError, storage.StorageError) as exc:
        raise fail(str(exc)) from exc
    study = in_transaction(db, lambda session: storage.create_study(
        session, name=name, kind=kind, systems=names, comparisons=comparisons, rubric=rubric_model, items=items,
        gold_items=gold_items, overlap=overlap, seed=seed, guidelines=guideline_text, source_name=answers.name,
        source_sha256=sha256_file(answers),
    ))
    what = ", ".join(f"{a} vs {b}" for a, b in comparisons) if comparisons else f"{', '.join(names)} rated on {rubric_model.name}"
    err.print(f"{kind.value} study {study.name!r}: {len(items)} items, {len(gold_items)} gold, {what}, overlap {overlap}")


def _systems_text(study) -> str:
    return " vs ".join(study.system_names) if study.kind == StudyKind.pairwise else ", ".join(study.system_names)


@study_app.command("list")
def study_list(db: DB = None) -> None:
    engine = open_database(db)
    table = Table("study", "kind", "systems", "items", "gold", "overlap", "judgments", "target")
    with storage.transaction(engine) as session:
        for study in storage.list_studies(session):
            counts = storage.study_counts(session, study)
            table.add_row(study.name, str(study.kind), _systems_text(study), str(counts["items"]),
                          str(counts["gold_items"]), str(study.overlap), str(counts["judgments"]), str(counts["target"]))
    out.print(table)


@study_app.command("show")
def study_show(name: Annotated[str, typer.Argument(help="Study name.")], db: DB = None) -> None:
    """Progress per physician, with gold-item accuracy."""
    engine = open_database(db)
    try:
        with storage.transaction(engine) as session:
            study = storage.get_study(session, name)
            counts = storage.study_counts(session, study)
            rows = storage.study_progress(session, study)
    except storage.StorageError as exc:
        raise fail(str(exc)) from exc
    out.print(f"[bold]{study.name}[/bold] ({study.kind}): {_systems_text(study)}, {counts['items']} items "
              f"(+{counts['gold_items']} gold), overlap {study.overlap}, {counts['judgments']} judgments")
    table = Table("physician", "assigned", "judged", "gold judged", "gold accuracy")
    for row in rows:
        accuracy = "-" if row["gold_accuracy"] is None else f"{row['gold_accuracy']:.2f}"
        label = row["physician"] + (" (simulated)" if row["simulated"] else "")
        table.add_row(label, str(row["assigned"]), str(row["judged"]), str(row["gold_judged"]), accuracy)
    out.print(table)


def _password(value: str | None) -> str:
    """From --password-env VAR, else prompted twice (never echoed, never logged)."""
    if value:
        secret = os.environ.get(value)
        if not secret:
            raise fail(f"environment variable {value} is empty or unset")
        return secret
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise fail("the passwords differ")
    return first


PASSWORD_ENV = Annotated[str | None, typer.Option("--password-env", help="Read the password from this environment variable.")]


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Option("--role")],
    password_env: PASSWORD_ENV = None,
    db: DB = None,
) -> None:
    password = _password(password_env)
    in_transaction(db, lambda session: storage.add_user(session, name, role, password))
    err.print(f"added {role.value} {name!r}")


@users_app.command("passwd")
def users_passwd(name: Annotated[str, typer.Argument()], password_env: PASSWORD_ENV = None, db: DB = None) -> None:
    password = _password(password_env)
    in_transaction(db, lambda session: storage.set_password(session, name, password))
    err.print(f"password of {name!r} changed")


@users_app.command("disable")
def users_disable(name: Annotated[str, typer.Argument()], db: DB = None) -> None:
    in_transaction(db, lambda session: storage.set_disabled(session, name, True))
    err.print(f"{name!r} disabled")


@users_app.command("list")
def users_list(db: DB = None) -> None:
    engine = open_database(db)
    table = Table("name", "role", "disabled", "simulated")
    with storage.transaction(engine) as session:
        for user in storage.list_users(session):
            table.add_row(user.name, user.role.value, str(user.disabled), str(user.simulated))
    out.print(table)


def export_command(
    study: Annotated[str, typer.Option("--study")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)} (hf: a datasets folder).")] = "csv",
    db: DB = None,
) -> None:
    """Export a study's judgments, one row per judgment, with system names revealed."""
    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    rows, kind = study_judgments(study, db)
    write_export(rows, fmt, out_path, kind)
    err.print(f"wrote {len(rows)} judgments to {out_path}")
