"""`medalign demo`: the whole loop on the embedded default, on a laptop with no GPU or network.

The orchestration lives here; the step runner in stepper.py, the training and evaluation steps in
pipeline.py, the studies, simulated raters and reports in studies.py.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from pathlib import Path

import uvicorn
from rich.console import Console

from app.db import open_database
from app.server import GRACEFUL_SHUTDOWN_S, create_app
from medalign.demo.pipeline import DemoPaths, pipeline_steps
from medalign.demo.stepper import DemoError, run_step
from medalign.demo.studies import DEMO_STUDIES, demo_logins, simulate, write_demo_reports


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_server(engine, host: str, port: int):
    """The real app under uvicorn in a background thread; returns (server, thread, url)."""
    # log_config=None: uvicorn would bind its log handlers to the sys.stderr of this moment.
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host=host, port=port, log_level="warning", log_config=None,
                                           timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not server.started:
        if time.time() > deadline or not thread.is_alive():
            raise DemoError(f"the app did not start on {host}:{port}")
        time.sleep(0.05)
    return server, thread, f"http://{host}:{port}"


def run_demo(workdir: Path, *, simulate_raters: int = 0, serve: bool = True, host: str = "127.0.0.1", port: int = 7860) -> dict:
    console = Console(file=sys.stderr, soft_wrap=True)
    paths = DemoPaths(Path(workdir).resolve())
    paths.stamps.mkdir(parents=True, exist_ok=True)
    steps = pipeline_steps(paths, simulate_raters)
    total = len(steps) + 2
    for number, step in enumerate(steps, start=1):
        run_step(step, paths.stamps, number, total, console)

    engine = open_database(paths.db_url)
    logins = demo_logins(engine)
    server = thread = None
    url = f"http://{host}:{port}"
    try:
        if simulate_raters or serve:
            server, thread, url = start_server(engine, host, port if serve else free_port(host))
        from medalign.demo.judge import TINY_STUDY, declare_physician_sample, judge_report_text, run_demo_judge

        sample = declare_physician_sample(engine)  # before any physician work: PPI needs a declared random sample
        with console.status(f"[{total - 1}/{total}] simulated raters ..."):
            submitted = simulate(engine, url, simulate_raters)
        console.print(f"[{total - 1}/{total}] simulated raters: " + (
            f"{submitted} new judgments by {simulate_raters} simulated physicians (marked simulated everywhere)"
            if simulate_raters else "none asked for (--simulate-raters N)"))
        with console.status(f"[{total - 1}/{total}] model judge (tiny model) ..."):
            record = run_demo_judge(engine, paths)
        console.print(f"[{total - 1}/{total}] model judge: {record['units']} units of {TINY_STUDY} ({record['sent']} "
                      f"calls, {record['cached']} cached; physicians judge a random sample of {sample} items)\n"
                      + judge_report_text(engine), highlight=False, markup=False)
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
