"""The one path from an error to an exit code.

Every command is registered through `guard`, which turns a refusal (the project's errors all
subclass ValueError: DataError, StorageError, RecipeError, ResumeError, LaunchError) or a file
that cannot be read into one line on stderr and exit code 2; commands that check options themselves raise
`fail(...)`. Nothing else prints an error or picks an exit code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import typer
from rich.console import Console
from rich.markup import escape

err = Console(stderr=True, soft_wrap=True)


class CommandError(RuntimeError):
    """A refusal that is not a ValueError (a pipeline step that failed, an engine that cannot run)."""

    def __init__(self, message: str, *, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, *, code: int = 2) -> typer.Exit:
    """Print the message as an error and return the Exit to raise: `raise fail("...")`."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    return typer.Exit(code)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", highlight=False)


def guard(command: Callable) -> Callable:
    """The command with refusals turned into a message and exit code; its signature (which Typer
    reads for the options) is kept."""

    @functools.wraps(command)
    def guarded(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except CommandError as exc:
            raise fail(str(exc), code=exc.code) from exc
        except (ValueError, OSError) as exc:  # OSError: a file or model folder that cannot be read
            raise fail(str(exc)) from exc

    return guarded


def add_commands(group: typer.Typer, commands: dict[str, Callable]) -> typer.Typer:
    """Register each command under its name, guarded; returns the group."""
    for name, command in commands.items():
        group.command(name)(guard(command))
    return group
