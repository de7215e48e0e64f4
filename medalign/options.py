"""Option types that more than one command group uses."""

from __future__ import annotations

from typing import Annotated

import typer

DB = Annotated[str | None, typer.Option("--db", help="Database URL (default: MEDALIGN_DATABASE_URL or sqlite:///medalign.db).")]
OVERWRITE = Annotated[bool, typer.Option("--overwrite", help="Replace what an earlier run of this command wrote at "
                                          "--out (never a file it did not write).")]
