"""The load phases of bench/app_vs_bare.py, on one asyncio event loop (bench/queue_client.py).

- A pool of physicians logs in once per server (logins are the same code in both apps, measured
  by bench/security.py, and argon2 would otherwise dominate every phase's server CPU); a phase
  opens a fresh Gradio session per physician on its own study.
- Closed loop (`closed_phase`): N physicians, each judging, pausing 0.2-1 s, judging again.
- Open loop (`open_phase`): judgments arrive at a fixed rate (Poisson arrivals), each taken by
  an idle physician of the pool; latency counts from the arrival, so a server that falls behind
  shows it (no coordinated omission). Stepping the rate up finds where p99 passes 1 s.

Every phase reports the harness's own CPU (this process, all threads) beside the server's, per
judgment and as a share of the cores, and the 1-minute load average at its end.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from pathlib import Path

from bench.queue_client import QueueClient, read_endpoints

CHOICES = ["a", "b", "tie", "both_bad"]
PAUSE_S = (0.2, 1.0)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), all its threads, children excluded."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall, harness CPU and server CPU from `start()` to `stop()`."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid

    def start(self) -> None:
        self.began = (time.perf_counter(), time.process_time(), cpu_seconds(self.pid))

    def stop(self, latencies: list[float], errors: list[str], wall: float | None = None,
             served: int | None = None) -> dict:
        """Figures of the phase; CPU per judgment over `served` judgments (default: those timed)."""
        end = (time.perf_counter(), time.process_time(), cpu_seconds(self.pid))
        cpu_wall, harness_cpu, server_cpu = (b - a for a, b in zip(self.began, end, strict=True))
        wall = cpu_wall if wall is None else wall
        latencies = sorted(latencies)
        count = len(latencies)

        def pct(q: float) -> float:
            return latencies[min(count - 1, int(q * count))] if count else float("nan")

        done = count if served is None else served

        def per_judgment(seconds: float) -> float:
            return seconds * 1000 / done if done else float("nan")

        return {"p50_ms": pct(0.5), "p90_ms": pct(0.9), "p99_ms": pct(0.99), "max_ms": pct(1.0), "judgments": count,
                "per_s": count / wall if wall > 0 else float("nan"), "wall_s": wall,
                "errors": errors[:3], "error_count": len(errors),
                "server_cpu_ms": per_judgment(server_cpu), "harness_cpu_ms": per_judgment(harness_cpu),
                "harness_share": harness_cpu / (cpu_wall * (os.cpu_count() or 1)) if cpu_wall > 0 else float("nan"),
                "harness_vs_server": harness_cpu / server_cpu if server_cpu > 0 else float("nan"),
                "load1": os.getloadavg()[0]}


@contextlib.asynccontextmanager
async def logins_at_normal_priority(pids: list[int]):
    """While the pools log in (not measured here): the servers' niced threads (the apps check
    passwords niced, so that under a login flood physicians' requests come first) run at normal
    priority, then get their niceness back. On a machine at load 20-35 a niced argon2 check got
    under 1% of a core, about 30 s a login, and 100 physicians per server took most of an hour."""
    changed: dict[tuple[int, int], int] = {}

    def renice() -> None:
        for pid in pids:
            for task in Path(f"/proc/{pid}/task").glob("*"):
                tid = int(task.name)
                try:
                    nice = os.getpriority(os.PRIO_PROCESS, tid)
                    if nice > 0:
                        os.setpriority(os.PRIO_PROCESS, tid, 0)
                        changed.setdefault((pid, tid), nice)
                except OSError:  # ended meanwhile, or not permitted (not root): leave it
                    pass

    async def keep_renicing() -> None:  # the password threads start with the first login
        while True:
            renice()
            await asyncio.sleep(0.2)

    task = asyncio.create_task(keep_renicing())
    try:
        yield
    finally:
        task.cancel()
        for (_pid, tid), nice in changed.items():
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, nice)


async def log_in_pool(url: str, names: list[str], password: str, transport: str, at_once: int = 4) -> list[QueueClient]:
    """One logged-in client per name, `at_once` logins in flight (the login budget answers 'busy'
    to a flood; those retry after a pause)."""
    for attempt in range(10):  # a busy server answers the first login 'busy' too: try again
        try:
            endpoints = await read_endpoints(url, names[0], password)
            break
        except Exception:  # noqa: BLE001 - refused or busy
            if attempt == 9:
                raise
            await asyncio.sleep(min(2 ** attempt, 8))
    gate = asyncio.Semaphore(at_once)

    async def one(name: str, seed: int) -> QueueClient:
        rng, client = random.Random(seed), QueueClient(url, endpoints, transport=transport)
        for attempt in range(40):
            try:
                async with gate:
                    await client.login(name, password)
                return client
            except Exception:  # noqa: BLE001 - refused or busy: try again after a pause
                if attempt == 39:
                    await client.close()
                    raise
                await asyncio.sleep(rng.uniform(0.5, 1.5) * min(2 ** attempt, 8))
        raise AssertionError("unreachable")

    return list(await asyncio.gather(*(one(name, i) for i, name in enumerate(names))))


async def open_study(clients: list[QueueClient], study: str) -> tuple[list[dict | None], list[str]]:
    """Each client in a new session, on `study`; the first screens (None where it failed)."""
    errors: list[str] = []

    async def one(client: QueueClient) -> dict | None:
        client.new_session()
        try:
            return await client.open(study)
        except Exception as exc:  # noqa: BLE001 - counted and reported
            errors.append(f"open {study}: {type(exc).__name__}: {exc}"[:200])
            return None

    return list(await asyncio.gather(*(one(c) for c in clients))), errors


async def closed_phase(clients: list[QueueClient], server_pid: int, study: str, judgments: int, seed: int) -> dict:
    """Every client judges `judgments` times with a pause before each; throughput from the
    moment every client has its first screen to the last judgment."""
    screens, errors = await open_study(clients, study)
    latencies: list[float] = []
    meter = Meter(server_pid)
    meter.start()
    last = [time.perf_counter()]

    async def physician(client: QueueClient, screen: dict | None, rng: random.Random) -> None:
        for _ in range(judgments if screen is not None else 0):
            await asyncio.sleep(rng.uniform(*PAUSE_S))  # reading and thinking
            started = time.perf_counter()
            try:
                screen = await client.submit_pairwise(screen, rng.choice(CHOICES))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            latencies.append((client.completed_at - started) * 1000)
            last[0] = max(last[0], client.completed_at)

    await asyncio.gather(*(physician(c, s, random.Random(seed * 1000 + i))
                           for i, (c, s) in enumerate(zip(clients, screens, strict=True))))
    return meter.stop(latencies, errors, wall=last[0] - meter.began[0])


async def open_phase(clients: list[QueueClient], server_pid: int, study: str, rate: float, duration: float,
                     seed: int, warmup: float = 2.0) -> dict:
    """Judgments arriving at `rate` per second for `warmup + duration` seconds (Poisson), each by
    an idle physician; latency from the arrival (waiting for an idle physician included), counted
    for arrivals after the warm-up (the first submits of fresh sessions, the server's caches);
    CPU and throughput over the whole phase."""
    screens, errors = await open_study(clients, study)
    idle: asyncio.Queue = asyncio.Queue()
    for client, screen in zip(clients, screens, strict=True):
        if screen is not None:
            idle.put_nowait((client, screen))
    rng = random.Random(seed)
    latencies: list[float] = []
    served = [0]

    async def judgment(arrival: float, counted: bool) -> None:
        client, screen = await idle.get()
        try:
            screen = await client.submit_pairwise(screen, rng.choice(CHOICES))
        except Exception as exc:  # noqa: BLE001 - counted and reported; that physician leaves the pool
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            return
        if counted:
            latencies.append((client.completed_at - arrival) * 1000)
        served[0] += 1
        idle.put_nowait((client, screen))

    meter = Meter(server_pid)
    meter.start()
    begin, arrivals, tasks = meter.began[0], 0.0, []
    while True:
        arrivals += rng.expovariate(rate)
        if arrivals > warmup + duration:
            break
        await asyncio.sleep(max(0.0, begin + arrivals - time.perf_counter()))
        tasks.append(asyncio.create_task(judgment(begin + arrivals, arrivals >= warmup)))
    await asyncio.gather(*tasks)
    result = meter.stop(latencies, errors, served=served[0])
    wall = time.perf_counter() - begin
    return {**result, "per_s": served[0] / wall, "offered_per_s": len(tasks) / (warmup + duration),
            "offered": len(tasks), "served": served[0]}
