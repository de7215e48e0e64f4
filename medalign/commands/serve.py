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
    forwarded_allow_ips: Annotated[str, typer.Option(
        "--forwarded-allow-ips", help="Addresses of the TLS proxy whose X-Forwarded-For/-Proto are believed "
        "(comma-separated). Default: none, not even loopback: a header is only trusted from a proxy you name.")] = "",
    public_url: Annotated[str | None, typer.Option(
        "--public-url", help="The address physicians open (https://judge.example.org) when behind a proxy: the "
        "only origin whose requests are served (default: MEDALIGN_PUBLIC_URL, else the requested host).")] = None,
    idle_timeout: Annotated[float, typer.Option(
        "--idle-timeout", min=0, help="Minutes without activity after which a login ends (shared ward computers); "
        "0: never. The login page then says so.")] = 30,
) -> None:
    """Serve the physician judging app (and the researcher view)."""
    # uvicorn, Gradio and SQLModel cost seconds of start-up: imported when the server starts.
    import os

    import uvicorn

    from app.db import open_database
    from app.server import GRACEFUL_SHUTDOWN_S, create_app

    if public_url:  # read by app/middleware.py (same-origin check, Secure cookie)
        os.environ["MEDALIGN_PUBLIC_URL"] = public_url
    engine = open_database(db)
    typer.echo(f"medalign app on http://{host}:{port}/  (database: {engine.url.render_as_string(hide_password=True)})")
    proxies = [ip.strip() for ip in forwarded_allow_ips.split(",") if ip.strip()]
    # uvicorn trusts X-Forwarded-* from 127.0.0.1 by default (and FORWARDED_ALLOW_IPS): any local
    # process could then pick the client address the login throttle counts. Only named proxies.
    app = create_app(engine, idle_timeout_s=idle_timeout * 60 or None)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                proxy_headers=bool(proxies), forwarded_allow_ips=proxies or [])


def register(root: typer.Typer) -> None:
    root.command("serve")(guard(serve_command))
