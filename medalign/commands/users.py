"""`medalign users add|passwd|disable|list`: physician and researcher accounts."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.roles import Role
from medalign.errors import add_commands, fail
from medalign.options import DB

err = Console(stderr=True, soft_wrap=True)
out = Console()

NAME = Annotated[str, typer.Argument()]
PASSWORD_ENV = Annotated[str | None, typer.Option("--password-env", help="Read the password from this environment variable.")]


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


def users_add(name: NAME, role: Annotated[Role, typer.Option("--role")], password_env: PASSWORD_ENV = None,
              db: DB = None) -> None:
    # SQLModel, argon2 and the storage functions cost start-up time: imported when a command runs.
    from app import storage
    from app.admin import in_transaction

    password = _password(password_env)
    in_transaction(db, lambda session: storage.add_user(session, name, role, password))
    err.print(f"added {role.value} {name!r}")


def users_passwd(name: NAME, password_env: PASSWORD_ENV = None, db: DB = None) -> None:
    from app import storage  # start-up cost
    from app.admin import in_transaction

    password = _password(password_env)
    in_transaction(db, lambda session: storage.set_password(session, name, password))
    err.print(f"password of {name!r} changed")


def users_disable(name: NAME, db: DB = None) -> None:
    from app import storage  # start-up cost
    from app.admin import in_transaction

    in_transaction(db, lambda session: storage.set_disabled(session, name, True))
    err.print(f"{name!r} disabled")


def users_list(db: DB = None) -> None:
    from app import storage  # start-up cost
    from app.admin import in_transaction

    table = Table("name", "role", "disabled", "simulated")
    for user in in_transaction(db, storage.list_users):
        table.add_row(user.name, user.role.value, str(user.disabled), str(user.simulated))
    out.print(table)


def register(root: typer.Typer) -> None:
    group = typer.Typer(help="Manage physician and researcher accounts.", no_args_is_help=True)
    commands = {"add": users_add, "passwd": users_passwd, "disable": users_disable, "list": users_list}
    root.add_typer(add_commands(group, commands), name="users")
