"""medalign's judging app against a bare Gradio app of the same shape (bench/bare_app.py: same
login, components and events; handlers only echo), side by side in one run, with the physician
loop of bench/loadtest.py (gradio_client sessions with login, pauses 0.2-1 s between judgments).

For each database (SQLite file, throwaway PostgreSQL) all servers run at once; each round runs
every client count against each server in turn, the order rotated from round to round, and the
figures are medians over rounds. Each phase has its own study, so no physician runs out of
work. Latency is one submit (store + next screen) as the client sees it; throughput counts
judgments from the moment every client of the phase is logged in (logins are the same code in
both apps and are measured by bench/security.py). `--baseline REV` adds the app as it was at git
revision REV (extracted with git archive, served from a temporary folder): before and after a
change, measured in the same run.

    python bench/app_vs_bare.py [--baseline REV] [--rounds 2] [--results bench/RESULTS.md]
    python bench/app_vs_bare.py --profile-only        # where the milliseconds of one submit go
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.loadtest import PASSWORD, ServerProcess, free_port, machine  # noqa: E402
from bench.submit_profile import profile_submit  # noqa: E402

# Judgments per client, by client count: each phase takes about 10-40 s on 2 shared cores, so
# the whole run (2 databases, 3 servers, 2 rounds) stays near 15 minutes.
JUDGMENTS = {1: 12, 10: 12, 50: 10, 100: 8}
CAPACITY_STEPS = [10, 25, 50, 100, 150, 200]  # clients, until p99 passes 1 s
CAPACITY_JUDGMENTS = 6
PAUSE_S = (0.2, 1.0)
CHOICES = ["a", "b", "tie", "both_bad"]


class Server(ServerProcess):
    """A server process started by an arbitrary command (ServerProcess starts `medalign serve`)."""

    def __init__(self, name: str, command: list[str], cwd: Path, log: Path) -> None:
        super().__init__("", free_port(), log)
        self.name, self.command, self.cwd = name, [*command, "--port", str(self.port)], cwd

    def argv(self) -> list[str]:
        return self.command

    def environment(self) -> dict:
        return {**super().environment(), "PYTHONPATH": str(self.cwd)}

    def start(self, timeout: float = 180) -> float:
        return super().start(timeout)


def extract_revision(revision: str, into: Path) -> Path:
    """The tracked files of `revision`, without touching the working tree or the index."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", revision], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def prepare(db_url: str, phases: list[tuple[str, int, int]], physicians: int) -> None:
    """Users doc000.. and one pairwise study per (server, round, clients) phase (overlap 2)."""
    from app import storage
    from app.db import open_database
    from app.study_files import StudyItem

    engine = open_database(db_url)
    with storage.transaction(engine) as session:
        for p in range(physicians):
            storage.add_user(session, f"doc{p:03d}", "physician", PASSWORD)
    for name, clients, judgments in phases:
        items = max(-(-clients * (judgments + 1) // 2), judgments + 1)  # one physician sees an item once
        rows = [StudyItem(f"item{i}", f"Question {i}: is treatment {i} effective?", f"Context {i}.", None,
                          {"sft": f"First answer to {i}.", "dpo": f"Second answer to {i}."}) for i in range(items)]
        with storage.transaction(engine) as session:
            storage.create_study(session, name=name, kind="pairwise", systems=("sft", "dpo"), items=rows, overlap=2)
    engine.dispose()


def _client_threaded(url: str, name: str, study: str, judgments: int, seed: int, ready: threading.Barrier,
                     out: dict) -> None:
    """The old harness (--harness gradio_client): one gradio_client session per thread."""
    from medalign.demo.simulate import JudgingClient

    rng = random.Random(seed)
    for attempt in range(20):  # the login budget may refuse a flood of logins: back off, retry
        try:
            client = JudgingClient(url, name, PASSWORD)
            screen = client.open(study)
            break
        except Exception:  # noqa: BLE001 - refused or busy: try again
            time.sleep(rng.uniform(0.5, 1.5) * min(2 ** attempt, 8))
    else:
        out["errors"].append(f"{name}: could not log in")
        ready.abort()
        return
    ready.wait()
    for _ in range(judgments):
        time.sleep(rng.uniform(*PAUSE_S))  # reading and thinking, as in bench/loadtest.py
        started = time.perf_counter()
        try:
            screen = client.submit_pairwise(screen, rng.choice(CHOICES))
        except Exception as exc:  # noqa: BLE001 - counted and reported
            out["errors"].append(f"{name}: {type(exc).__name__}: {exc}"[:200])
            return
        out["latencies"].append((time.perf_counter() - started) * 1000)
        out["done_at"] = max(out.get("done_at", 0.0), time.perf_counter())


def _phase_threaded(url: str, study: str, clients: int, judgments: int, seed: int, out: dict, mark) -> None:
    ready = threading.Barrier(clients + 1, action=mark)
    threads = [threading.Thread(target=_client_threaded, args=(url, f"doc{c:03d}", study, judgments, seed * 1000 + c,
                                                               ready, out)) for c in range(clients)]
    for thread in threads:
        thread.start()
    try:
        ready.wait(timeout=300)
    except threading.BrokenBarrierError:
        pass
    for thread in threads:
        thread.join(timeout=600)


async def _client_async(url: str, endpoints, name: str, study: str, judgments: int, seed: int, ready, out: dict):
    from bench.queue_client import QueueClient

    rng = random.Random(seed)
    client = QueueClient(url, endpoints)
    try:
        screen = None
        for attempt in range(20):  # the login budget may refuse a flood of logins: back off, retry
            try:
                await client.login(name, PASSWORD)
                screen = await client.open(study)
                break
            except Exception:  # noqa: BLE001 - refused or busy: try again
                await asyncio.sleep(rng.uniform(0.5, 1.5) * min(2 ** attempt, 8))
        await ready()
        if screen is None:
            out["errors"].append(f"{name}: could not log in")
            return
        for _ in range(judgments):
            await asyncio.sleep(rng.uniform(*PAUSE_S))
            started = time.perf_counter()
            try:
                screen = await client.submit_pairwise(screen, rng.choice(CHOICES))
            except Exception as exc:  # noqa: BLE001 - counted and reported
                out["errors"].append(f"{name}: {type(exc).__name__}: {exc}"[:200])
                return
            out["latencies"].append((time.perf_counter() - started) * 1000)
            out["done_at"] = max(out.get("done_at", 0.0), time.perf_counter())
    finally:
        await client.close()


def _phase_async(url: str, study: str, clients: int, judgments: int, seed: int, out: dict, mark) -> None:
    from bench.queue_client import read_endpoints

    async def run() -> None:
        endpoints = await read_endpoints(url, "doc000", PASSWORD)
        everyone = asyncio.Event()
        waiting = [clients]

        async def ready() -> None:  # a barrier: judging starts when every client is logged in
            waiting[0] -= 1
            if waiting[0] == 0:
                mark()
                everyone.set()
            await everyone.wait()

        await asyncio.gather(*(_client_async(url, endpoints, f"doc{c:03d}", study, judgments, seed * 1000 + c, ready,
                                             out) for c in range(clients)))

    asyncio.run(run())


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc), children excluded."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def phase(server: Server, study: str, clients: int, judgments: int, seed: int, harness: str = "async") -> dict:
    out: dict = {"latencies": [], "errors": []}
    pid = server.process.pid

    def mark() -> None:  # judging starts: wall clock, harness CPU (all its threads), server CPU
        out.setdefault("start", (time.perf_counter(), time.process_time(), _cpu_seconds(pid)))

    (_phase_async if harness == "async" else _phase_threaded)(server.url, study, clients, judgments, seed, out, mark)
    end_wall, end_cpu = time.perf_counter(), time.process_time()
    server_end = _cpu_seconds(pid)
    latencies = sorted(out["latencies"])
    start_wall, start_cpu, server_start = out.get("start", (end_wall, end_cpu, server_end))
    wall = out["done_at"] - start_wall if "done_at" in out else float("nan")
    cpu_wall = end_wall - start_wall
    harness_cpu, server_cpu_s = end_cpu - start_cpu, server_end - server_start

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {"p50_ms": pct(0.5), "p99_ms": pct(0.99), "per_s": len(latencies) / wall if wall > 0 else float("nan"),
            "judgments": len(latencies), "errors": out["errors"][:3], "error_count": len(out["errors"]),
            "wall_s": wall, "harness_cpu_s": harness_cpu, "server_cpu_s": server_cpu_s,
            "harness_share": harness_cpu / (cpu_wall * (os.cpu_count() or 1)) if cpu_wall > 0 else float("nan"),
            "harness_vs_server": harness_cpu / server_cpu_s if server_cpu_s > 0 else float("nan"),
            "server_cpu_ms": server_cpu_s * 1000 / len(latencies) if latencies else float("nan")}


def servers_for(db_url: str, workdir: Path, baseline: Path | None) -> list[Server]:
    python = sys.executable
    servers = [Server("medalign", [python, "-m", "medalign", "serve", "--db", db_url], REPO, workdir / "medalign.log"),
               Server("bare", [python, str(REPO / "bench" / "bare_app.py"), "--db", db_url], REPO, workdir / "bare.log")]
    if baseline is not None:
        servers.insert(1, Server("baseline", [python, "-m", "medalign", "serve", "--db", db_url], baseline,
                                 workdir / "baseline.log"))
    return servers


def run_database(db_url: str, workdir: Path, baseline: Path | None, counts: list[int], rounds: int,
                 harnesses: list[str], capacity: bool) -> list[dict]:
    servers = servers_for(db_url, workdir, baseline)
    plan = [(h, r, n, s.name) for h in harnesses for r in range(rounds) for n in counts for s in servers]
    studies = [(f"{s}-{h}-r{r}-n{n}", n, JUDGMENTS[n]) for h, r, n, s in plan]
    if capacity:
        studies += [(f"{s.name}-cap-n{n}", n, CAPACITY_JUDGMENTS) for n in CAPACITY_STEPS for s in servers]
    prepare(db_url, studies, max(counts + (CAPACITY_STEPS if capacity else [])))
    rows = []
    try:
        for server in servers:
            server.start()
        for harness in harnesses:
            for r in range(rounds):
                for n in counts:
                    shift = (r + counts.index(n)) % len(servers)  # rotate who goes first
                    for server in servers[shift:] + servers[:shift]:
                        result = phase(server, f"{server.name}-{harness}-r{r}-n{n}", n, JUDGMENTS[n], r * 7 + n, harness)
                        rows.append({"server": server.name, "harness": harness, "round": r, "clients": n, **result})
                        print(json.dumps(rows[-1]), flush=True)
        for server in servers if capacity else []:
            for n in CAPACITY_STEPS:  # more clients until p99 passes 1 s
                result = phase(server, f"{server.name}-cap-n{n}", n, CAPACITY_JUDGMENTS, 99 + n)
                rows.append({"server": server.name, "harness": "capacity", "round": 0, "clients": n, **result})
                print(json.dumps(rows[-1]), flush=True)
                if result["p99_ms"] > 1000:
                    break
    finally:
        for server in servers:
            server.stop()
    return rows


def capacity_at_1s(rows: list[dict]) -> dict[tuple[str, str], str]:
    """(database, server) -> judgments/s at which p99 passes 1 s, interpolated between the last
    step under 1 s and the first over it."""
    found = {}
    for key in sorted({(r["database"], r["server"]) for r in rows if r["harness"] == "capacity"}):
        steps = sorted((r for r in rows if r["harness"] == "capacity" and (r["database"], r["server"]) == key),
                       key=lambda r: r["clients"])
        over = next((i for i, r in enumerate(steps) if r["p99_ms"] > 1000), None)
        if over is None:
            found[key] = f"> {steps[-1]['per_s']:.1f} (p99 {_ms(steps[-1]['p99_ms'])} at {steps[-1]['clients']} clients)"
        elif over == 0:
            found[key] = f"< {steps[0]['per_s']:.1f} (p99 {_ms(steps[0]['p99_ms'])} at {steps[0]['clients']} clients)"
        else:
            low, high = steps[over - 1], steps[over]
            share = (1000 - low["p99_ms"]) / (high["p99_ms"] - low["p99_ms"])
            found[key] = (f"{low['per_s'] + share * (high['per_s'] - low['per_s']):.1f} (between {low['clients']} "
                          f"and {high['clients']} clients: {low['per_s']:.1f}/s at p99 {_ms(low['p99_ms'])}, "
                          f"{high['per_s']:.1f}/s at p99 {_ms(high['p99_ms'])})")
    return found


METRICS = ("p50_ms", "p99_ms", "per_s", "harness_share", "harness_vs_server", "server_cpu_ms")


def medians(rows: list[dict]) -> dict:
    """(database + harness, server, clients) -> median over rounds of each metric."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        if row["harness"] != "capacity":
            groups.setdefault((f"{row['database']}, {row['harness']}", row["server"], row["clients"]), []).append(row)
    return {key: {m: statistics.median(r[m] for r in group) for m in METRICS}
            | {"errors": sum(r["error_count"] for r in group), "rounds": len(group)}
            for key, group in groups.items()}


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def table(summary: dict, servers: list[str]) -> list[str]:
    apps = [s for s in servers if s != "bare"]
    head = "| database | clients | " + " | ".join(f"{s} p50 / p99" for s in servers) + " | " + \
           " | ".join(f"{s} judgments/s" for s in servers) + " | " + \
           " | ".join(f"{s}/bare p50, p99, throughput" for s in apps) + " | client errors | " + \
           "server CPU ms per judgment | harness CPU, share of all cores (vs the server's CPU) |"
    lines = [head, "|" + "---|" * (5 + 2 * len(servers) + len(apps))]
    for database, _server, clients in sorted({(d, "", n) for d, _s, n in summary}):
        cells = [summary.get((database, s, clients)) for s in servers]
        if any(c is None for c in cells):
            continue
        bare = summary[(database, "bare", clients)]
        ratios = [f"{c['p50_ms'] / bare['p50_ms']:.2f}x, {c['p99_ms'] / bare['p99_ms']:.2f}x, "
                  f"{c['per_s'] / bare['per_s']:.2f}x" for s, c in zip(servers, cells, strict=True) if s != "bare"]
        lines.append(f"| {database} | {clients} | " + " | ".join(f"{_ms(c['p50_ms'])} / {_ms(c['p99_ms'])}" for c in cells)
                     + " | " + " | ".join(f"{c['per_s']:.1f}" for c in cells) + " | " + " | ".join(ratios) + " | "
                     + " / ".join(str(c["errors"]) for c in cells) + " | "
                     + " / ".join(f"{c['server_cpu_ms']:.0f}" for c in cells) + " | "
                     + " / ".join(f"{c['harness_share']:.0%} ({c['harness_vs_server']:.2f}x)" for c in cells) + " |")
    return lines


def plot(summary: dict, servers: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    databases = sorted({d for d, _s, _n in summary})
    fig, axes = plt.subplots(len(databases), 2, figsize=(10, 3.6 * len(databases)), squeeze=False)
    for row, database in enumerate(databases):
        for server in servers:
            points = sorted((n, v) for (d, s, n), v in summary.items() if d == database and s == server)
            counts = [n for n, _v in points]
            line = axes[row][0].plot(counts, [v["p50_ms"] for _n, v in points], marker="o", label=f"{server} p50")
            axes[row][0].plot(counts, [v["p99_ms"] for _n, v in points], marker="x", linestyle="--",
                              color=line[0].get_color(), label=f"{server} p99")
            axes[row][1].plot(counts, [v["per_s"] for _n, v in points], marker="o", label=server)
        axes[row][0].set(xscale="log", yscale="log", xlabel="clients", ylabel="submit latency (ms)", title=database)
        axes[row][1].set(xscale="log", xlabel="clients", ylabel="judgments/s", title=database)
        for ax in axes[row]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=list(JUDGMENTS), choices=list(JUDGMENTS))
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--baseline", help="also serve the app as of this git revision (before a change)")
    parser.add_argument("--harness", nargs="+", default=["async"], choices=["async", "gradio_client"],
                        help="async: httpx clients on one event loop (bench/queue_client.py); gradio_client: the "
                             "old harness, one gradio_client session per thread")
    parser.add_argument("--capacity", action="store_true",
                        help="also step up the clients (async) until p99 passes 1 s, per app")
    parser.add_argument("--profile-only", action="store_true", help="only profile one submit in this process")
    parser.add_argument("--results", type=Path, help="append the table and the profile to this Markdown file")
    parser.add_argument("--plot", type=Path, default=REPO / "bench" / "app_vs_bare.svg")
    args = parser.parse_args()
    profile = profile_submit()
    print(profile["text"])
    if args.profile_only:
        if args.results:
            write_results(args.results, None, [], profile, "python bench/app_vs_bare.py " + " ".join(sys.argv[1:]))
        return
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="medalign-vs-bare-") as tmp, ExitStack() as stack:
        baseline = extract_revision(args.baseline, Path(tmp) / "baseline") if args.baseline else None
        for database in args.databases:
            workdir = Path(tmp) / database
            workdir.mkdir()
            try:
                if database == "postgresql":
                    from medalign.testing.postgres import postgres_server

                    url = stack.enter_context(postgres_server())
                else:
                    url = f"sqlite:///{Path(tmp) / 'vs-bare.db'}"
                rows += [{**row, "database": database} for row in run_database(url, workdir, baseline, args.clients,
                                                                                 args.rounds, args.harness,
                                                                                 args.capacity)]
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - includes pytest's skip: say so, keep the other database
                print(f"{database}: not measured: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    servers = ["medalign", *(["baseline"] if args.baseline else []), "bare"]
    summary = medians(rows)
    print("\n".join(table(summary, servers)))
    for (database, server), text in capacity_at_1s(rows).items():
        print(f"{database}: {server} passes p99 1 s at {text} judgments/s")
    plot(summary, servers, args.plot)
    if args.results:
        write_results(args.results, (summary, servers, args), rows, profile,
                      "python bench/app_vs_bare.py " + " ".join(sys.argv[1:]))


def write_results(path: Path, compared, rows: list[dict], profile: dict, command: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = ["\n## medalign against a bare Gradio app (bench/app_vs_bare.py)\n", f"- date: {stamp}",
             f"- machine: {machine()}; load average at the end {load} (1/5/15 min)", f"- command: `{command}`"]
    if compared is not None:
        summary, servers, args = compared
        lines += [f"- judgments per client by client count: {JUDGMENTS}; rounds: {args.rounds}, order rotated per "
                  "round; medians of rounds; p50/p99 of one submit as the client sees it; judgments/s from the "
                  f"moment every client is logged in. baseline = revision {args.baseline or '-'}",
                  f"- plot: `{args.plot.relative_to(REPO)}`", "", *table(summary, servers), "",
                  f"- errors seen by clients: {sum(r['error_count'] for r in rows)}"]
        lines += [f"- {database}: {server} passes p99 1 s at {text} judgments/s"
                  for (database, server), text in capacity_at_1s(rows).items()]
    lines += ["", "Where one submit's time goes (in-process, SQLite, one physician):", "```", profile["text"], "```"]
    with path.open("a") as handle:
        handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
