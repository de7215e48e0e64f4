"""Option types that more than one command group uses."""

from __future__ import annotations

from typing import Annotated

import typer

DB = Annotated[str | None, typer.Option("--db", help="Database URL (default: MEDALIGN_DATABASE_URL or sqlite:///medalign.db).")]
