"""What the researcher commands and the demo read from a study, in one transaction each.

The command line and the demo call these instead of opening sessions themselves; storage
functions do the work, and their refusals (StorageError) reach the caller unchanged."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from app import storage
from app.db import open_database


@dataclass(frozen=True)
class StudyJudgments:
    """A study's judgments in the export format (system names revealed), its kind, and what a
    report states about it."""

    rows: list[dict]
    kind: str  # a name in evaluation.kinds.KINDS
    settings: dict


def engine_for(db: str | Engine | None) -> Engine:
    """An engine for a URL (None: MEDALIGN_DATABASE_URL or the default), migrated; an engine as it is."""
    return db if isinstance(db, Engine) else open_database(db)


def in_transaction(db: str | Engine | None, action: Callable):
    """action(session) in one transaction; returns what it returns."""
    with storage.transaction(engine_for(db)) as session:
        return action(session)


def study_judgments(db: str | Engine | None, name: str) -> StudyJudgments:
    def read(session) -> StudyJudgments:
        study = storage.get_study(session, name)
        return StudyJudgments(storage.export_judgments(session, study), study.kind,
                              storage.study_settings(session, study))
    return in_transaction(db, read)


REPORT_TIMEOUT_S = 600


class ReportFailed(RuntimeError):
    """`medalign report` refused or failed; its one-line message."""


def build_study_report(engine: Engine, study: str) -> bytes:
    """The study's report.html (self-contained: figures inline), made by `medalign report --study`
    itself in a child process: the same code path as the command line, and the app's process
    never runs matplotlib or holds the figures. Blocking: call it from a worker thread. The
    database URL goes by environment, not argv (other users can read a process's arguments)."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="medalign-report-") as folder:
        out = Path(folder) / "report"
        env = {**os.environ, "MEDALIGN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
               "MPLBACKEND": "Agg"}
        done = subprocess.run([sys.executable, "-m", "medalign", "report", "--study", study, "--out", str(out)],
                              env=env, capture_output=True, text=True, timeout=REPORT_TIMEOUT_S, cwd=folder)
        page = out / "report.html"
        if done.returncode != 0 or not page.is_file():
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            raise ReportFailed(lines[-1] if lines else f"medalign report exited with {done.returncode}")
        return page.read_bytes()
