"""`medalign demo`: the whole loop on the embedded default, on a laptop with no GPU or network.

The step runner and the orchestration live here; the training steps in app/demo_steps.py,
the studies, simulated raters and reports in app/demo_studies.py.

Each step shows progress, is skipped when its outputs exist and its inputs have not changed
(a stamp of input hashes and settings per step), and a failure names the step and what to do.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from app.demo_studies import DEMO_STUDIES, RATING_STUDY, READABLE_STUDY, TINY_STUDY  # noqa: F401 (re-exported)


class DemoError(RuntimeError):
    pass


@dataclass
class Step:
    name: str
    action: Callable[[], object]
    outputs: list[Path]
    inputs: list[Path] = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    hint: str = ""


def _fingerprint(step: Step) -> str:
    digest = hashlib.sha256(json.dumps(step.settings, sort_keys=True, default=str).encode())
    for path in step.inputs:
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.name).encode())
            digest.update(file.read_bytes() if file.exists() else b"<missing>")
    return digest.hexdigest()


def run_step(step: Step, stamps: Path, number: int, total: int, console: Console) -> None:
    stamp = stamps / (re.sub(r"[^a-z0-9]+", "-", step.name.lower()) + ".sha256")
    fingerprint = _fingerprint(step)
    label = f"[{number}/{total}] {step.name}"
    if all(p.exists() for p in step.outputs) and stamp.is_file() and stamp.read_text() == fingerprint:
        console.print(f"{label}: up to date, skipped")
        return
    started = time.time()
    log = stamps.parent / "logs" / (re.sub(r"[^a-z0-9]+", "-", step.name.lower()) + ".log")
    log.parent.mkdir(exist_ok=True)
    # Only stdout goes to the log (the trainers print every logging step there): libraries bind
    # logging handlers to whatever sys.stderr is at first use, so stderr is left alone.
    with console.status(f"{label} ..."), log.open("w") as handle, redirect_stdout(handle):
        try:
            step.action()
        except Exception as exc:
            raise DemoError(f"step '{step.name}' failed: {exc}\n  log: {log}\n  what to do: {step.hint or 'read the log'}; "
                            f"then run the demo again (finished steps are skipped)") from exc
    stamp.write_text(fingerprint)
    console.print(f"{label}: done in {time.time() - started:.1f} s (log: {log.relative_to(stamps.parent)})")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_server(engine, host: str, port: int):
    """The real app under uvicorn in a background thread; returns (server, url)."""
    import uvicorn

    from app.server import create_app

    # log_config=None: uvicorn would bind its log handlers to the sys.stderr of this moment.
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host=host, port=port, log_level="warning", log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise DemoError(f"the app did not start on {host}:{port}")
        time.sleep(0.05)
    return server, thread, f"http://{host}:{port}"


def run_demo(workdir: Path, *, simulate_raters: int = 0, serve: bool = True, host: str = "127.0.0.1", port: int = 7860) -> dict:
    import os

    os.environ.setdefault("TQDM_DISABLE", "1")  # rich shows step progress; trainer bars would interleave
    from app.demo_steps import DemoPaths, pipeline_steps
    from app.demo_studies import demo_logins, simulate, write_demo_reports

    console = Console(file=sys.stderr, soft_wrap=True)
    paths = DemoPaths(Path(workdir).resolve())
    paths.stamps.mkdir(parents=True, exist_ok=True)
    steps = pipeline_steps(paths, simulate_raters)
    total = len(steps) + 2
    for number, step in enumerate(steps, start=1):
        run_step(step, paths.stamps, number, total, console)

    from app.db import open_database

    engine = open_database(paths.db_url)
    logins = demo_logins(engine)
    server = thread = None
    url = f"http://{host}:{port}"
    try:
        if simulate_raters or serve:
            server, thread, url = start_server(engine, host, port if serve else free_port(host))
        with console.status(f"[{total - 1}/{total}] simulated raters ..."):
            submitted = simulate(engine, url, simulate_raters)
        console.print(f"[{total - 1}/{total}] simulated raters: " + (
            f"{submitted} new judgments by {simulate_raters} simulated physicians (marked simulated everywhere)"
            if simulate_raters else "none asked for (--simulate-raters N)"))
        with console.status(f"[{total}/{total}] reports ..."):
            reports = write_demo_reports(engine, paths)
        console.print(f"[{total}/{total}] reports: " + ", ".join(str(r / "report.html") for r in reports))
        summary = {"workdir": str(paths.root), "database": paths.db_url, "url": url if serve else None, "logins": logins,
                   "report": str(paths.reports), "simulated_judgments": submitted}
        if serve:
            _announce(console, url, logins)
            thread.join()
        return summary
    finally:
        if server is not None:
            server.should_exit = True


def _announce(console: Console, url: str, logins: dict) -> None:
    console.print(f"\n[bold]medalign app: {url}/[/bold]  (Ctrl+C to stop)")
    console.print("Demo logins (printed once; new ones on every demo run):")
    for name, password in logins.items():
        console.print(f"  {name:16s} {password}", highlight=False)
    console.print("Studies: " + "; ".join(f"{s.name} ({s.description})" for s in DEMO_STUDIES))
