"""`medalign serve`: run the annotation app."""

from __future__ import annotations

from typing import Annotated

import typer

from app.admin_cli import DB


def serve_command(
    db: DB = None,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 7860,
) -> None:
    """Serve the physician judging app (and the researcher view)."""
    import uvicorn

    from app.db import open_database
    from app.server import create_app

    engine = open_database(db)
    typer.echo(f"medalign app on http://{host}:{port}/  (database: {engine.url.render_as_string(hide_password=True)})")
    uvicorn.run(create_app(engine), host=host, port=port, log_level="warning")
