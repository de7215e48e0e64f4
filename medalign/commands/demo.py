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


def register(root: typer.Typer) -> None:
    root.command("demo")(guard(demo_command))
