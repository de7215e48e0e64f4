"""`medalign serve`: the physician judging app (and the researcher view)."""

from __future__ import annotations

from typing import Annotated

import typer

from medalign.errors import guard
from medalign.options import DB


def serve_command(
    db: DB = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 7860,
) -> None:
    """Serve the physician judging app (and the researcher view)."""
    # uvicorn, Gradio and SQLModel cost seconds of start-up: imported when the server starts.
    import uvicorn

    from app.db import open_database
    from app.server import create_app

    engine = open_database(db)
    typer.echo(f"medalign app on http://{host}:{port}/  (database: {engine.url.render_as_string(hide_password=True)})")
    uvicorn.run(create_app(engine), host=host, port=port, log_level="warning")


def register(root: typer.Typer) -> None:
    root.command("serve")(guard(serve_command))
