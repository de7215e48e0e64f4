"""`medalign demo`: the README's main command."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from medalign.errors import CommandError, guard


def demo_command(
    workdir: Annotated[Path, typer.Option("--workdir", help="Where every artefact goes.")] = Path("runs/demo"),
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the app at the end.")] = True,
    simulate_raters: Annotated[int, typer.Option("--simulate-raters", help="Simulated physicians who judge the studies.")] = 0,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 7860,
) -> None:
    """The whole loop on the bundled sample: data, tiny model, SFT, pairs, DPO, generations, HQ,
    studies, (simulated) judgments, report, and the app."""
    _check_workdir(workdir)
    # tqdm reads TQDM_DISABLE when it is imported: rich shows step progress, trainer bars would interleave.
    os.environ.setdefault("TQDM_DISABLE", "1")
    # The pipeline imports torch, TRL, Gradio and SQLModel (seconds): imported when the demo runs.
    from medalign.demo.run import run_demo
    from medalign.demo.stepper import DemoError

    try:
        run_demo(workdir, simulate_raters=simulate_raters, serve=serve, host=host, port=port)
    except DemoError as exc:
        raise CommandError(str(exc), code=1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _check_workdir(workdir: Path) -> None:
    """The demo writes fixed names (data/, model/, sft/, demo.db, ...) into its work folder: a folder
    that is not empty and not an earlier demo's (its .stamps/ step record) is refused, so no file of
    the user's is ever replaced (SECURITY.md, no-overwrite promise)."""
    if workdir.exists() and not workdir.is_dir():
        raise CommandError(f"{workdir}: --workdir is a file, not a folder; give a new or empty folder")
    if workdir.is_dir() and not (workdir / ".stamps").is_dir() and any(workdir.iterdir()):
        found = ", ".join(sorted(p.name for p in workdir.iterdir())[:3])
        raise CommandError(f"{workdir}: --workdir is a folder that is not empty (holds {found}) and not an earlier "
                           "demo's work folder; give a new or empty folder (the demo writes data/, model/, sft/, "
                           "dpo/, report/ and its database there)")


def register(root: typer.Typer) -> None:
    root.command("demo")(guard(demo_command))
