"""Security figures for bench/RESULTS.md (issues 7 and 13).

1. Logins, against real `medalign serve` processes, side by side with the login path as it was
   before issue 13 (Gradio's own /login calling the app's synchronous check: argon2, a database
   transaction and a 0.5 s sleep per failure, a per-user lock): /healthz latency with and
   without a flood of 40 wrong logins (10 at a time), right-password logins accepted from
   127.0.0.1 while an attacker on 127.0.0.2 guesses, cross-origin logins refused, and sessions
   ended by `medalign users passwd`.
2. The proof tests (blinding, script injection, access, formula injection, sessions), whose
   figures are collected through MEDALIGN_FIGURES.

    python bench/security.py [--results bench/RESULTS.md] [--skip-tests]
    python bench/security.py --serve-legacy DB_URL PORT   (internal: the old login path)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadtest import REPO, ServerProcess, free_port, write_results  # noqa: E402

PASSWORD = "bench-security-password"
NEW_PASSWORD = "bench-security-changed"
WRONG = "wrong-password-guess"
TEST_FILES = ["tests/app/test_security.py", "tests/app/test_login_sessions.py"]


class LegacyServer(ServerProcess):
    """The pre-issue-13 login path in its own process (for comparison only)."""

    name = "legacy server"

    def argv(self) -> list[str]:
        return [sys.executable, __file__, "--serve-legacy", self.db_url, str(self.port)]


def serve_legacy(db_url: str, port: int) -> None:
    """Gradio's /login with a synchronous check on the event loop, as app/server.py had it."""
    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    from app import storage
    from app.db import open_database

    engine = open_database(db_url)
    failures: dict[str, list[float]] = {}

    def check(username: str, password: str) -> bool:
        recent = [t for t in failures.get(username, []) if time.monotonic() - t < 300]
        if len(recent) >= 5:  # five failures lock the *user*, from anywhere
            return False
        with storage.transaction(engine) as session:
            ok = storage.authenticate(session, username, password) is not None
        if not ok:
            failures[username] = [*recent, time.monotonic()]
            time.sleep(0.5)
        return ok

    root = FastAPI()
    root.get("/healthz")(lambda: {"ok": True})
    with gr.Blocks() as blocks:
        gr.Markdown("legacy login path")
    gr.mount_gradio_app(root, blocks, path="/", auth=check, ssr_mode=False)
    uvicorn.run(root, host="127.0.0.1", port=port, log_level="warning")


def client_from(url: str, address: str = "127.0.0.1") -> httpx.Client:
    return httpx.Client(base_url=url, timeout=120, transport=httpx.HTTPTransport(local_address=address))


def log_in(client: httpx.Client, name: str, password: str, **headers) -> int:
    return client.post("/login", data={"username": name, "password": password}, headers=headers).status_code


def healthz_while(url: str, running: threading.Event | None, n: int = 50) -> list[float]:
    """Sequential /healthz latencies (ms): `n` of them, or for as long as `running` is set."""
    out = []
    with httpx.Client(base_url=url, timeout=120) as client:
        while (running is None and len(out) < n) or (running is not None and running.is_set()):
            started = time.perf_counter()
            client.get("/healthz")
            out.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
    return out


def summary(values: list[float]) -> dict:
    p99 = statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]
    return {"n": len(values), "median_ms": round(statistics.median(values), 1), "p99_ms": round(p99, 1),
            "max_ms": round(max(values), 1)}


def flood_and_physician(url: str) -> dict:
    """40 wrong logins for dr_a from 127.0.0.2, 10 at a time, while /healthz is probed and the
    real dr_a logs in from 127.0.0.1 every 0.5 s."""
    running = threading.Event()
    running.set()
    probes: list[float] = []
    physician: list[int] = []

    def probe():
        probes.extend(healthz_while(url, running))

    def real_physician():
        with client_from(url) as client:
            while running.is_set():
                physician.append(log_in(client, "dr_a", PASSWORD))
                client.cookies.clear()
                time.sleep(0.5)

    threads = [threading.Thread(target=probe), threading.Thread(target=real_physician)]
    for thread in threads:
        thread.start()

    def attack(_):
        with client_from(url, "127.0.0.2") as client:
            return log_in(client, "dr_a", WRONG)

    started = time.perf_counter()
    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(attack, range(40)))
    flood_s = time.perf_counter() - started
    running.clear()
    for thread in threads:
        thread.join()
    return {"flood_s": round(flood_s, 2), "wrong_logins": len(statuses), "wrong_logins_refused": statuses.count(400),
            "healthz_during_flood": summary(probes),
            "right_password_logins_during_attack": {"tried": len(physician), "accepted": physician.count(200)}}


def cross_origin(url: str) -> dict:
    variants = [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/x"},
                {"Origin": url, "Sec-Fetch-Site": "cross-site"}, {"Origin": "http://127.0.0.1:1"}]
    refused = 0
    for headers in variants:
        with client_from(url) as client:
            refused += log_in(client, "dr_b", PASSWORD, **headers) != 200
    with client_from(url) as client:
        same_origin_ok = log_in(client, "dr_b", PASSWORD, Origin=url) == 200
    return {"tried": len(variants), "refused": refused, "same_origin_accepted": same_origin_ok}


def password_change(url: str, db_url: str) -> dict:
    """5 sessions of dr_c, then `medalign users passwd dr_c`: how many still reach /config."""
    sessions = [client_from(url) for _ in range(5)]
    for client in sessions:
        assert log_in(client, "dr_c", PASSWORD) == 200
    env = {**os.environ, "PW": NEW_PASSWORD}
    subprocess.run([sys.executable, "-m", "medalign", "users", "passwd", "dr_c", "--db", db_url, "--password-env", "PW"],
                   cwd=REPO, env=env, check=True, capture_output=True)
    changed = time.monotonic()
    time.sleep(2.5)  # the server re-reads credentials at most once a second
    alive = sum(client.get("/config").status_code == 200 for client in sessions)
    return {"sessions": len(sessions), "ended": len(sessions) - alive, "checked_after_s": round(time.monotonic() - changed, 1)}


def login_figures(workdir: Path) -> dict:
    from app import storage
    from app.db import open_database

    out = {}
    for label, server_class in (("medalign", ServerProcess), ("before_issue_13", LegacyServer)):
        db_url = f"sqlite:///{workdir / (label + '.db')}"
        with storage.transaction(open_database(db_url)) as session:
            for name in ("dr_a", "dr_b", "dr_c"):
                storage.add_user(session, name, "physician", PASSWORD)
        server = server_class(db_url, free_port(), workdir / f"{label}.log")
        server.start()
        try:
            figures = {"healthz_without_flood": summary(healthz_while(server.url, None))}
            figures.update(flood_and_physician(server.url))
            figures["p99_ratio_flood_vs_none"] = round(
                figures["healthz_during_flood"]["p99_ms"] / figures["healthz_without_flood"]["p99_ms"], 1)
            figures["cross_origin_logins"] = cross_origin(server.url)
            figures["sessions_after_password_change"] = password_change(server.url, db_url)
            out[label] = figures
        finally:
            server.stop()
    return out


def table(logins: dict, command: str) -> str:
    """The headline figures, medalign beside the pre-issue-13 login path, as Markdown."""
    new, old = logins["medalign"], logins["before_issue_13"]

    def row(label, get):
        return f"| {label} | {get(new)} | {get(old)} |"

    rows = [
        row("/healthz p99 without a flood (ms)", lambda f: f["healthz_without_flood"]["p99_ms"]),
        row("/healthz p99 during 40 wrong logins, 10 at a time (ms)", lambda f: f["healthz_during_flood"]["p99_ms"]),
        row("/healthz median during the flood (ms)", lambda f: f["healthz_during_flood"]["median_ms"]),
        row("p99 ratio, flood / no flood", lambda f: f["p99_ratio_flood_vs_none"]),
        row("flood duration (s)", lambda f: f["flood_s"]),
        row("right-password logins accepted from 127.0.0.1 during the attack from 127.0.0.2",
            lambda f: "{accepted} of {tried}".format(**f["right_password_logins_during_attack"])),
        row("cross-origin logins refused", lambda f: "{refused} of {tried}".format(**f["cross_origin_logins"])),
        row("sessions ended by `medalign users passwd`",
            lambda f: "{ended} of {sessions}".format(**f["sessions_after_password_change"])),
    ]
    return "\n".join([
        "\n## Security: logins and sessions (issue 13)\n",
        f"2026-11-22, 2-core CPU, 24 GiB (shared with other work). Command: `{command}`. Both servers are",
        "real `uvicorn` processes on loopback, run one after the other in the same invocation; the",
        "second is the login path as it was before issue 13 (Gradio's /login calling a synchronous",
        "argon2 + database + 0.5 s sleep check on the event loop, five failures locking the user).\n",
        "| figure | medalign | before issue 13 |", "|---|---|---|", *rows, "",
    ])


def test_figures() -> tuple[dict, bool]:
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as handle:
        figures_path = Path(handle.name)
    env = {**os.environ, "MEDALIGN_FIGURES": str(figures_path)}
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:warnings", "-p", "no:cacheprovider",
                                *TEST_FILES], cwd=REPO, env=env)
    figures = {}
    for line in figures_path.read_text().splitlines():
        entry = json.loads(line)
        figures[entry["name"]] = entry["value"]
    figures_path.unlink()
    return figures, completed.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path)
    parser.add_argument("--skip-tests", action="store_true", help="only the login figures")
    parser.add_argument("--serve-legacy", nargs=2, metavar=("DB_URL", "PORT"), help=argparse.SUPPRESS)
    parser.add_argument("--issue23", action="store_true", help="only the issue-23 figures (bench/security_issue23.py)")
    args = parser.parse_args()
    if args.serve_legacy:
        serve_legacy(args.serve_legacy[0], int(args.serve_legacy[1]))
        return
    if args.issue23:
        from security_issue23 import issue23_figures

        figures = issue23_figures()
        print(json.dumps(figures, indent=2))
        if args.results:
            write_results(args.results, "Security figures (issue 23), all of them", figures,
                          "python bench/security.py " + " ".join(sys.argv[1:]))
        return
    with tempfile.TemporaryDirectory() as workdir:
        figures = {"logins": login_figures(Path(workdir))}
    passed = True
    if not args.skip_tests:
        tests, passed = test_figures()
        figures.update(tests)
        figures["tests_passed"] = passed
    print(json.dumps(figures, indent=2))
    if args.results:
        command = "python bench/security.py " + " ".join(sys.argv[1:])
        with args.results.open("a") as handle:
            handle.write(table(figures["logins"], command))
        write_results(args.results, "Security figures (issue 13), all of them", figures, command)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
