"""Many physicians at once against a real server process, optionally killed with SIGKILL and
restarted mid-run. Every acknowledged judgment must be stored exactly once with the values
sent, no unit (a pair, or one answer in a rating study) may exceed its overlap, no physician may
see a unit twice. Clients read the screen by name (medalign.demo.simulate.JudgingClient).

The engine of bench/loadtest.py (full runs, figures in bench/RESULTS.md) and tests/app/test_load.py
(scaled-down runs)."""

from __future__ import annotations

import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlmodel import select

from app import storage
from app.db import open_database
from app.models import Assignment, Judgment
from app.study_files import StudyItem
from evaluation.contract import Choice
from evaluation.rubric import load_rubric

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "load-test-password"
RUBRIC = REPO / "configs" / "rubrics" / "summary-quality.yaml"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """`medalign serve` in its own process, so that it can be SIGKILLed."""

    def __init__(self, db_url: str, port: int, log: Path) -> None:
        self.db_url, self.port, self.log = db_url, port, log
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    name = "server"
    cwd: Path = REPO

    def argv(self) -> list[str]:
        """The command that starts the server (subclasses start other servers the same way)."""
        return [sys.executable, "-m", "medalign", "serve", "--db", self.db_url, "--port", str(self.port)]

    def environment(self) -> dict:
        return {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}

    def start(self, timeout: float = 120) -> float:
        """Start the process and wait until /healthz answers; seconds it took."""
        started = time.time()
        self.process = subprocess.Popen(self.argv(), cwd=self.cwd, stdout=self.log.open("a"), stderr=subprocess.STDOUT,
                                        env=self.environment())
        while time.time() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}; see {self.log}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200:
                    return time.time() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not come up; see {self.log}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class ClientLog:
    name: str
    acknowledged: list[tuple[str, object]] = field(default_factory=list)  # (token, choice code or grades)
    units_seen: list[tuple] = field(default_factory=list)  # (question, answers) as shown
    latencies_ms: list[float] = field(default_factory=list)
    retries: int = 0
    errors: list[str] = field(default_factory=list)


def _shown(screen: dict) -> tuple:
    if screen["kind"] == "rating":
        return screen["question"], screen["answer"]
    return screen["question"], frozenset((screen["answer_a"], screen["answer_b"]))


def _verdict(screen: dict, rng: random.Random) -> tuple[object, dict]:
    """What a physician sends: a choice code (pairwise) or grades (rating), with its flags."""
    if screen["kind"] == "rating":
        grades = {c["id"]: rng.choice(c["options"])["value"] for c in screen["criteria"]}
        return grades, {"free_text": ""}
    return rng.choice(list(Choice)).value, {"evasive_a": rng.random() < 0.2, "evasive_b": rng.random() < 0.2}


def _send(client, screen: dict, verdict, extra: dict) -> dict:
    if screen["kind"] == "rating":
        return client.submit_rating(screen, verdict, **extra)
    return client.submit_pairwise(screen, verdict, **extra)


def physician(server: ServerProcess, name: str, study: str, judgments: int, pause: tuple[float, float], seed: int,
              log: ClientLog, deadline: float) -> None:
    # gradio_client and Gradio cost seconds: loaded by the clients only (tests/app/test_forwarded.py uses ServerProcess alone)
    from medalign.demo.simulate import JudgingClient

    rng = random.Random(seed)

    def connect():
        wait = 0.5
        while True:
            if time.time() > deadline:
                raise TimeoutError("deadline passed while reconnecting")
            try:
                client = JudgingClient(server.url, name, PASSWORD)
                return client, client.open(study)
            except Exception:  # noqa: BLE001 - server down or restarting: back off (with jitter) and log in again
                time.sleep(wait * rng.uniform(0.5, 1.5))
                wait = min(wait * 2, 8)

    client, screen = connect()
    log.units_seen.append(_shown(screen))
    done = 0
    while done < judgments and not screen["done"]:
        time.sleep(rng.uniform(*pause))  # reading and thinking
        verdict, extra = _verdict(screen, rng)
        started = time.perf_counter()
        try:
            next_screen = _send(client, screen, verdict, extra)
        except Exception:  # noqa: BLE001 - no reply: the server may have died before or after storing it
            log.retries += 1
            client, _reopened = connect()
            # the same submission for the same unit (its token), as a browser retry would send it
            next_screen = _send(client, screen, verdict, extra)
        log.latencies_ms.append((time.perf_counter() - started) * 1000)
        log.acknowledged.append((screen["token"], verdict))
        done += 1
        screen = next_screen
        if not screen["done"]:
            log.units_seen.append(_shown(screen))


def setup_database(db_url: str, physicians: int, items: int, overlap: int, kind: str) -> str:
    engine = open_database(db_url)
    with storage.transaction(engine) as session:
        rows = [StudyItem(f"item{i}", f"Question {i}: is treatment {i} effective?", f"Context {i}.", None,
                          {"sft": f"First answer to {i}.", "dpo": f"Second answer to {i}."}) for i in range(items)]
        storage.create_study(session, name="load", kind=kind, systems=("sft", "dpo"), items=rows, overlap=overlap,
                             rubric=load_rubric(RUBRIC) if kind == "rating" else None)
        for p in range(physicians):
            storage.add_user(session, f"doc{p:03d}", "physician", PASSWORD)
    engine.dispose()
    return "load"


def _stored_verdict(judgment) -> object:
    return json.loads(judgment.ratings) if judgment.ratings else judgment.choice


def verify(db_url: str, logs: list[ClientLog], overlap: int) -> dict:
    engine = open_database(db_url)
    with storage.transaction(engine) as session:
        rows = session.exec(select(Judgment, Assignment).join(Assignment, Assignment.id == Judgment.assignment_id)).all()
        assignments = session.exec(select(Assignment)).all()
    by_token: dict[str, list] = {}
    for judgment, assignment in rows:
        by_token.setdefault(assignment.token, []).append(judgment)
    acknowledged = [a for log in logs for a in log.acknowledged]
    lost = [t for t, _ in acknowledged if t not in by_token]
    wrong = [t for t, v in acknowledged if t in by_token and _stored_verdict(by_token[t][0]) != v]
    per_user_unit = Counter((a.user_id, a.unit_id) for a in assignments)
    per_unit = Counter(a.unit_id for a in assignments)
    latencies = sorted(x for log in logs for x in log.latencies_ms)

    def pct(q):
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 1) if latencies else None

    return {
        "acknowledged": len(acknowledged),
        "stored": len(rows),
        "lost": len(lost),
        "duplicated": sum(len(v) - 1 for v in by_token.values()) + sum(c - 1 for c in per_user_unit.values() if c > 1),
        "stored_with_other_values": len(wrong),
        "units_over_overlap": sum(1 for c in per_unit.values() if c > overlap),
        "units_at_overlap": sum(1 for c in per_unit.values() if c == overlap),  # the limit was reached, so tested
        "physicians_seeing_a_unit_twice": sum(1 for log in logs if len(log.units_seen) != len(set(log.units_seen))),
        "retries": sum(log.retries for log in logs),
        "client_errors": [e for log in logs for e in log.errors][:5],
        "latency_ms": {"p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99), "max": latencies[-1] if latencies else None},
    }


def study_items(physicians: int, judgments: int, overlap: int, kind: str) -> int:
    """Items enough that every physician can make all their judgments in any order of requests.

    Counting slots (physicians x (judgments + 1 open unit)) is not enough: a physician never gets a
    unit twice, so one who comes late can find the last free slots all on units they already hold,
    and is told "all done" early (tests/app/test_storage_queue.py replays such an order). At their
    k-th unit (k <= judgments) a physician holds k - 1 units and the others at most judgments + 1
    each; some unit they do not hold has a free slot when overlap x (units - judgments + 1) exceeds
    the others' share. A rating study has one unit per answer, two per item here.
    """
    others = (physicians - 1) * (judgments + 1)
    units = max(-(-physicians * (judgments + 1) // overlap), others // overlap + 1 + judgments - 1)
    return -(-units // (2 if kind == "rating" else 1))


def run(db_url: str, *, physicians: int, judgments: int, overlap: int, crash: bool, pause: tuple[float, float],
        workdir: Path, timeout: float = 540, kind: str = "pairwise") -> dict:
    items = study_items(physicians, judgments, overlap, kind)
    study = setup_database(db_url, physicians, items, overlap, kind)
    server = ServerProcess(db_url, free_port(), workdir / "server.log")
    startup = server.start()
    logs = [ClientLog(f"doc{p:03d}") for p in range(physicians)]
    deadline = time.time() + timeout
    threads = [threading.Thread(target=_guard, args=(physician, server, log.name, study, judgments, pause, i, log, deadline))
               for i, log in enumerate(logs)]
    started = time.time()
    for thread in threads:
        thread.start()
    kill_info = None
    if crash:
        target = physicians * judgments // 2
        while sum(len(log.acknowledged) for log in logs) < target and time.time() < deadline:
            time.sleep(0.05)
        acked_before = sum(len(log.acknowledged) for log in logs)
        server.kill()
        restart = server.start()
        kill_info = {"acknowledged_before_kill": acked_before, "restart_s": round(restart, 1)}
    for thread in threads:
        thread.join(max(1, deadline - time.time()))
    elapsed = time.time() - started
    server.stop()
    result = verify(db_url, logs, overlap)
    result.update(kind=kind, physicians=physicians, judgments_each=judgments, overlap=overlap, items=items, crash=kill_info,
                  wall_s=round(elapsed, 1), server_start_s=round(startup, 1), unfinished_clients=sum(t.is_alive() for t in threads),
                  database=db_url.split(":")[0])
    return result


def _guard(fn, *args):
    log = args[-2]
    try:
        fn(*args)
    except Exception as exc:  # noqa: BLE001 - recorded and reported
        log.errors.append(f"{type(exc).__name__}: {exc}")


def machine() -> str:
    memory = ""
    if Path("/proc/meminfo").is_file():  # Linux: "MemTotal:  25165824 kB"
        kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        memory = f", {kib / 2**20:.0f} GiB"
    return f"{platform.machine()}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}, {platform.platform()}"
