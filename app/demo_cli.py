"""`medalign demo`: the README's main command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def demo_command(
    workdir: Annotated[Path, typer.Option("--workdir", help="Where every artefact goes.")] = Path("runs/demo"),
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the app at the end.")] = True,
    simulate_raters: Annotated[int, typer.Option("--simulate-raters", help="Simulated physicians who judge the studies.")] = 0,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 7860,
) -> None:
    """The whole loop on the bundled sample: data, tiny model, SFT, pairs, DPO, generations, HQ,
    studies, (simulated) judgments, report, and the app."""
    from rich.console import Console

    from app.demo import DemoError, run_demo

    try:
        run_demo(workdir, simulate_raters=simulate_raters, serve=serve, host=host, port=port)
    except DemoError as exc:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
