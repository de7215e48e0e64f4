"""`medalign export`: a study's judgments as a file, one row per judgment, system names revealed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.exports import FORMATS
from medalign.errors import fail, guard
from medalign.options import DB, OVERWRITE

err = Console(stderr=True, soft_wrap=True)


def export_command(
    study: Annotated[str, typer.Option("--study")],
    out_path: Annotated[Path, typer.Option("--out", help="Output file.")],
    fmt: Annotated[str, typer.Option("--format", help=f"One of {', '.join(FORMATS)} (hf: a datasets folder).")] = "csv",
    db: DB = None,
    overwrite: OVERWRITE = False,
) -> None:
    """Export a study's judgments, one row per judgment, with system names revealed."""
    from app.admin import study_judgments  # SQLModel: start-up cost
    from app.exports import write_export
    from data.safe_output import check_output_file, check_output_folder

    if fmt not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    (check_output_folder if fmt == "hf" else check_output_file)(out_path, overwrite=overwrite)  # before any work
    judgments = study_judgments(db, study)
    write_export(judgments.rows, fmt, out_path, judgments.kind, overwrite=overwrite)
    err.print(f"wrote {len(judgments.rows)} judgments to {out_path}")


def register(root: typer.Typer) -> None:
    root.command("export")(guard(export_command))
