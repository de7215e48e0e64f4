"""Issue-23 attack figures, re-measured (run by bench/security.py --issue23):

1. Bad inputs refused in time and memory: each bad input as its own `python -m medalign`
   process (wall time, peak RSS from wait4), beside the same command on a small valid file
   (the baseline: start-up and imports), so the refusal's own cost is the difference.
2. Logins under 60 attacking addresses: 60 loopback addresses (127.0.0.10-69) each send 5
   wrong passwords at once against a real `medalign serve`, while a physician on 127.0.0.2
   logs in every 0.5 s; the longest wait of a right password and how often it was refused.
3. The bad-input corpora (ours and the independent one) through every command: tracebacks,
   hangs, database changes after a refusal, user files deleted.
4. The browser and HTTP attack tests (same-origin, hostile report, spoofed X-Forwarded-For),
   whose assertions are the figures: forged judgments 0, report requests 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "bench-security-password"
ATTACK_TESTS = ["tests/app/test_same_origin.py", "tests/evaluation/test_report_inert.py", "tests/app/test_forwarded.py"]


def _measure(argv: list[str], env: dict) -> dict:
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "medalign", *argv], cwd=REPO, env={**os.environ, **env},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    err = process.stderr.read().decode("utf-8", "replace")
    return {"exit": os.waitstatus_to_exitcode(status), "seconds": round(seconds, 2),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1), "message": err.strip().splitlines()[-1][:160] if err.strip() else ""}


def bounded_inputs(workdir: Path) -> dict:
    db = {"MEDALIGN_DATABASE_URL": f"sqlite:///{workdir / 'inputs.db'}"}
    good = workdir / "good.jsonl"
    good.write_text("".join(json.dumps({"id": f"q{i}", "question": f"Q{i}?", "outputs": {"sft": f"a{i}", "dpo": f"b{i}"}})
                            + "\n" for i in range(4)))
    long_line = workdir / "long_line.jsonl"
    long_line.write_bytes(b'{"id": "q1", "question": "' + b"x" * (9 << 20))
    deep_yaml = workdir / "deep.yaml"
    deep_yaml.write_bytes(b"a: " + b"[" * 500_000 + b"\n")
    binary = workdir / "binary.jsonl"
    binary.write_bytes(bytes(range(256)) * 4096)
    create = ["study", "create", "--name", "s{n}", "--answers"]
    rubric = ["study", "create", "--kind", "rating", "--name", "r{n}", "--answers", str(good), "--rubric"]
    cases = {
        "baseline: study create, valid 4-item file": (create, str(good)),
        "study create --answers /dev/zero": (create, "/dev/zero"),
        "study create --answers (one 9 MiB line)": (create, str(long_line)),
        "study create --answers (1 MiB binary)": (create, str(binary)),
        "baseline: rating study, shipped rubric": (rubric, "configs/rubrics/summary-quality.yaml"),
        "study create --rubric /dev/zero": (rubric, "/dev/zero"),
        "study create --rubric (500k-deep YAML)": (rubric, str(deep_yaml)),
        "baseline: report --judgments, valid 24-row CSV": (["report", "--out", str(workdir / "r{n}"), "--judgments"],
                                                          "tests/corpus/bad_inputs/ok_judgments.csv"),
        "report --judgments /dev/zero": (["report", "--out", str(workdir / "r{n}"), "--judgments"], "/dev/zero"),
    }
    out = {}
    for n, (label, (argv, path)) in enumerate(cases.items()):
        out[label] = _measure([a.replace("{n}", str(n)) for a in argv] + [path], db)
    return out


def _log_in(url: str, address: str, name: str, password: str) -> tuple[int, float]:
    """(status, seconds); status 0 when no answer came within 60 s (or the connection failed)."""
    transport = httpx.HTTPTransport(local_address=address)
    started = time.perf_counter()
    try:
        with httpx.Client(base_url=url, timeout=60, transport=transport) as client:
            status = client.post("/login", data={"username": name, "password": password}).status_code
    except httpx.HTTPError:
        status = 0
    return status, time.perf_counter() - started


def login_many_addresses(workdir: Path, attackers: int = 60, per_address: int = 5) -> dict:
    sys.path.insert(0, str(REPO / "bench"))
    from loadtest import ServerProcess, free_port

    from app import storage
    from app.db import open_database

    db_url = f"sqlite:///{workdir / 'logins.db'}"
    with storage.transaction(open_database(db_url)) as session:
        for name in ("dr_real", "dr_a", "dr_b"):
            storage.add_user(session, name, "physician", PASSWORD)
    server = ServerProcess(db_url, free_port(), workdir / "serve.log")
    server.start()
    waits: list[tuple[int, float]] = []
    running = threading.Event()
    running.set()

    def physician():
        while running.is_set():
            waits.append(_log_in(server.url, "127.0.0.2", "dr_real", PASSWORD))
            time.sleep(0.5)

    def attacker(k: int) -> list[int]:
        return [_log_in(server.url, f"127.0.0.{10 + k}", ("dr_a", "dr_b", "dr_real", "nobody")[j % 4],
                        f"wrong-{k}-{j}") for j in range(per_address)]

    thread = threading.Thread(target=physician)
    try:
        thread.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(attackers) as pool:
            answers = [a for batch in pool.map(attacker, range(attackers)) for a in batch]
        statuses = [s for s, _ in answers]
        flood_s = time.perf_counter() - started
        running.clear()
        thread.join()
    finally:
        server.stop()
    ok = [w for s, w in waits if s == 200]
    return {"attacker_wait_max_s": round(max(w for _, w in answers), 2),
            "attacking_addresses": attackers, "wrong_logins": len(statuses), "flood_s": round(flood_s, 1),
            "physician_logins_tried": len(waits), "physician_logins_accepted": len(ok),
            "physician_refused": [s for s, _ in waits if s != 200],
            "attacker_answers": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            "physician_wait_max_s": round(max((w for _, w in waits), default=0), 2),
            "physician_wait_median_s": round(sorted(w for _, w in waits)[len(waits) // 2], 2) if waits else None}


def corpora() -> dict:
    from medalign.testing.corpus import load_cases, run_all

    out = {}
    cwd = os.getcwd()
    for name in ("bad_inputs", "independent"):
        cases_file = REPO / "tests" / "corpus" / name / "cases.json"
        if not cases_file.is_file():
            continue
        results = run_all(load_cases(cases_file.parent))
        os.chdir(cwd)
        out[name] = {"cases": len(results), "tracebacks": sum(r["traceback"] for r in results),
                     "hung": sum(r["hung"] for r in results),
                     "database_changed_after_refusal": sum(any("database changed" in p for p in r["problems"])
                                                           for r in results),
                     "user_files_deleted": sum(any("user's file" in p for p in r["problems"]) for r in results),
                     "max_seconds": max(r["seconds"] for r in results)}
    return out


def attack_tests() -> dict:
    completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ATTACK_TESTS],
                               cwd=REPO, capture_output=True, text=True)
    return {"files": ATTACK_TESTS, "passed": completed.returncode == 0,
            "summary": completed.stdout.strip().splitlines()[-1] if completed.stdout.strip() else ""}


def issue23_figures() -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        figures = {"bounded_inputs": bounded_inputs(Path(workdir))}
        figures["logins_60_addresses"] = login_many_addresses(Path(workdir))
    figures["corpora"] = corpora()
    figures["attack_tests"] = attack_tests()
    return figures
