"""medalign's judging app against a bare Gradio app of the same shape (bench/bare_app.py: same
login, components and events; handlers only echo), side by side in one run.

The load generator is bench/load_phases.py: asynchronous physicians on one event loop speaking
the app's login and Gradio's queue protocol over a hand-written HTTP/1.1 client
(bench/light_http.py); it reports its own CPU beside the servers'. By default this process is
pinned to the last core while it drives the servers (they keep every core).

For each database (SQLite file, throwaway PostgreSQL) both servers run at once. Closed loop: each
round runs every client count against each server in turn (order rotated per round); physicians
pause 0.2-1 s between judgments; figures are medians over rounds, ratios are medians of the
same-round ratios. Open loop (`--capacity`): judgments arrive at a rate stepped up, the servers
interleaved per step, until p99 passes 1 s for each. `--revision REV` serves both apps from git
revision REV (git archive into a temporary folder, the database prepared by that revision's own
code), so the measured commit is known while others edit the working tree; `--baseline REV` adds
the app at REV as a third server.

    python bench/app_vs_bare.py --revision HEAD --clients 50 100 --rounds 3 --capacity [--results bench/RESULTS.md]
    python bench/app_vs_bare.py --clients 10 --rounds 1 --databases sqlite --transport light httpx
    python bench/app_vs_bare.py --profile-only        # where the milliseconds of one submit go
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.load_phases import closed_phase, log_in_pool, logins_at_normal_priority, open_phase  # noqa: E402
from medalign.testing.load import PASSWORD, ServerProcess, free_port  # noqa: E402

# Judgments per client, by client count (closed loop).
JUDGMENTS = {2: 3, 10: 12, 50: 10, 100: 8}
# judgments/s offered, until p99 passes 1 s (up to 140: the bare app passed 80/s once Gradio's per-event work was cut)
CAPACITY_RATES = [2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 100, 120, 140]


def capacity_seconds(rate: float) -> float:
    """Measured seconds of an open-loop step (after 2 s of warm-up): at least 8 s and about 60
    arrivals, so that p99 is not just the slowest of a handful."""
    return max(8.0, 60 / rate)


CAPACITY_POOL = 140  # logged-in physicians taking the arrivals (140 in flight at 140/s is a 1 s wait)


class Server(ServerProcess):
    """A server process started by an arbitrary command, from the tree at `cwd`."""

    def __init__(self, name: str, command: list[str], cwd: Path, log: Path) -> None:
        super().__init__("", free_port(), log)
        self.name, self.command, self.cwd = name, [*command, "--port", str(self.port)], cwd

    def argv(self) -> list[str]:
        return self.command

    def environment(self) -> dict:
        return {**super().environment(), "PYTHONPATH": str(self.cwd)}

    def start(self, timeout: float = 180) -> float:
        return super().start(timeout)


def extract_revision(revision: str, into: Path) -> tuple[Path, str]:
    """The tracked files of `revision` (without touching the working tree or the index), and its
    commit id."""
    into.mkdir(parents=True)
    commit = subprocess.run(["git", "rev-parse", revision], cwd=REPO, check=True, capture_output=True,
                            text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into, commit


# Run in a child process with the served tree first on the path, so the schema and the study
# are that tree's own (the working tree may hold someone's unfinished migration).
PREPARE = """
import functools, json, sys
from app import storage
from app.storage import users
# one argon2 hash for every bench user (same password): a valid hash with the app's parameters,
# made once instead of once per user (seconds each on a loaded machine)
users.hash_password = functools.cache(users.hash_password)
from app.db import open_database
from app.study_files import StudyItem
spec = json.load(sys.stdin)
engine = open_database(spec["db_url"])
with storage.transaction(engine) as session:
    for p in range(spec["physicians"]):
        storage.add_user(session, f"doc{p:03d}", "physician", spec["password"])
for name, items in spec["studies"]:
    rows = [StudyItem(f"item{i}", f"Question {i}: is treatment {i} effective?", f"Context {i}.", None,
                      {"sft": f"First answer to {i}.", "dpo": f"Second answer to {i}."}) for i in range(items)]
    with storage.transaction(engine) as session:
        storage.create_study(session, name=name, kind="pairwise", systems=("sft", "dpo"), items=rows, overlap=2)
engine.dispose()
"""


def prepare(tree: Path, db_url: str, studies: list[tuple[str, int]], physicians: int) -> None:
    """Users doc000.. and one pairwise study (overlap 2) per (name, items)."""
    spec = json.dumps({"db_url": db_url, "physicians": physicians, "password": PASSWORD, "studies": studies})
    subprocess.run([sys.executable, "-c", PREPARE], input=spec, text=True, check=True, cwd=tree,
                   env={**os.environ, "PYTHONPATH": str(tree)})


def items_for(clients: int, judgments: int) -> int:
    """Enough items that no physician runs out (each also holds one open unit; overlap 2)."""
    return max(-(-clients * (judgments + 1) // 2), judgments + 1) + 5


@contextmanager
def pinned(enabled: bool):
    """This process (the load generator) on the last core while it measures; servers started
    before keep every core."""
    everything = os.sched_getaffinity(0)
    if enabled and len(everything) > 1:
        os.sched_setaffinity(0, {max(everything)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, everything)


def capacity_study(server: str, rate: float) -> tuple[str, int]:
    return f"{server}-cap-{rate}", items_for(1, int(rate * (capacity_seconds(rate) + 2) * 1.3)) + CAPACITY_POOL


async def measure(servers: list[Server], counts: list[int], rounds: int, transports: list[str],
                  capacity: bool, add_studies) -> list[dict]:
    rows: list[dict] = []
    names = [f"doc{p:03d}" for p in range(max([*counts, CAPACITY_POOL if capacity else 0]))]
    # every server's logins at once, not measured here (bench/security.py measures logins)
    keys = [(server, transport) for transport in transports for server in servers]
    async with logins_at_normal_priority([server.process.pid for server in servers]):
        logged_in = await asyncio.gather(*(log_in_pool(s.url, names, PASSWORD, t) for s, t in keys))
    pools = {(s.name, t): pool for (s, t), pool in zip(keys, logged_in, strict=True)}

    def emit(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    for transport in transports:
        for r in range(rounds):
            for n in counts:
                shift = (r + counts.index(n)) % len(servers)  # rotate who goes first
                for server in servers[shift:] + servers[:shift]:
                    study = f"{server.name}-{transport}-r{r}-n{n}"
                    result = await closed_phase(pools[(server.name, transport)][:n], server.process.pid, study,
                                                JUDGMENTS[n], r * 7 + n)
                    emit({"server": server.name, "mode": "closed", "transport": transport, "round": r,
                          "clients": n, **result})
    active = list(servers) if capacity else []
    for step, rate in enumerate(CAPACITY_RATES if capacity else []):
        if not active:
            break
        # made when reached (most steps never are on a loaded machine; thousands of items each)
        add_studies([capacity_study(server.name, rate) for server in active])
        for server in active[step % len(active):] + active[:step % len(active)]:
            result = await open_phase(pools[(server.name, transports[0])][:CAPACITY_POOL], server.process.pid,
                                      f"{server.name}-cap-{rate}", rate, capacity_seconds(rate), 99 + rate)
            emit({"server": server.name, "mode": "open", "transport": transports[0], "round": 0, "rate": rate,
                  "clients": CAPACITY_POOL, **result})
            if result["p99_ms"] > 1000 or result["judgments"] == 0:
                active.remove(server)
    for pool in pools.values():
        await asyncio.gather(*(client.close() for client in pool))
    return rows


def run_database(db_url: str, workdir: Path, tree: Path, baseline: Path | None, args) -> list[dict]:
    python = sys.executable
    servers = [Server("medalign", [python, "-m", "medalign", "serve", "--db", db_url], tree, workdir / "medalign.log"),
               Server("bare", [python, str(tree / "bench" / "bare_app.py"), "--db", db_url], tree, workdir / "bare.log")]
    if baseline is not None:
        servers.insert(1, Server("baseline", [python, "-m", "medalign", "serve", "--db", db_url], baseline,
                                 workdir / "baseline.log"))
    studies = [(f"{s.name}-{t}-r{r}-n{n}", items_for(n, JUDGMENTS[n]))
               for t in args.transport for r in range(args.rounds) for n in args.clients for s in servers]
    prepare(tree, db_url, studies, max([*args.clients, CAPACITY_POOL if args.capacity else 0]))
    try:
        for server in servers:
            server.start()
        with pinned(args.pin):
            return asyncio.run(measure(servers, args.clients, args.rounds, args.transport, args.capacity,
                                       lambda more: prepare(tree, db_url, more, 0)))
    finally:
        for server in servers:
            server.stop()


def main() -> None:
    from bench.app_vs_bare_report import capacity_rows, plot, summarise, tables, write_results

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[50, 100], choices=list(JUDGMENTS))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--revision", help="serve both apps from this git revision (default: the working tree)")
    parser.add_argument("--baseline", help="also serve the app as of this git revision (before a change)")
    parser.add_argument("--transport", nargs="+", default=["light"], choices=["light", "httpx"],
                        help="the harness's HTTP client: light (bench/light_http.py) or httpx (for comparison)")
    parser.add_argument("--no-pin", dest="pin", action="store_false", help="do not pin the harness to one core")
    parser.add_argument("--capacity", action="store_true",
                        help="also step the offered judgments/s up (open loop) until p99 passes 1 s, per app")
    parser.add_argument("--profile-only", action="store_true", help="only profile one submit in this process")
    parser.add_argument("--results", type=Path, help="replace this section of this Markdown file")
    parser.add_argument("--rows", type=Path, help="also write every phase's figures here (JSON lines)")
    parser.add_argument("--from-rows", type=Path, help="measure nothing: tables (and --results) from a --rows file")
    parser.add_argument("--commit", default="working tree", help="with --from-rows: what the rows measured")
    parser.add_argument("--plot", type=Path, default=REPO / "bench" / "app_vs_bare.svg")
    args = parser.parse_args()
    if args.profile_only:
        from bench.submit_profile import profile_submit

        print(profile_submit()["text"])
        return
    if args.from_rows:
        rows, commit = [json.loads(line) for line in args.from_rows.read_text().splitlines()], args.commit
    else:
        rows, commit = measure_all(args)
    if args.rows and not args.from_rows:
        args.rows.write_text("".join(json.dumps(row) + "\n" for row in rows))
    servers = ["medalign", *(["baseline"] if args.baseline else []), "bare"]
    summary = summarise(rows, servers)
    text = tables(summary, servers) + [""] + capacity_rows(rows, servers)
    print("\n".join(text))
    if summary:
        plot(summary, servers, args.plot)
    if args.results:
        write_results(args.results, text, rows, args, commit, "python bench/app_vs_bare.py " + " ".join(sys.argv[1:]))


def measure_all(args) -> tuple[list[dict], str]:
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="medalign-vs-bare-") as tmp, ExitStack() as stack:
        tree, commit = (extract_revision(args.revision, Path(tmp) / "served") if args.revision
                        else (REPO, "working tree"))
        baseline = extract_revision(args.baseline, Path(tmp) / "baseline")[0] if args.baseline else None
        for database in args.databases:
            workdir = Path(tmp) / database
            workdir.mkdir()
            try:
                if database == "postgresql":
                    from medalign.testing.postgres import postgres_server

                    url = stack.enter_context(postgres_server())
                else:
                    url = f"sqlite:///{Path(tmp) / 'vs-bare.db'}"
                rows += [{**row, "database": database} for row in run_database(url, workdir, tree, baseline, args)]
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # noqa: BLE001 - includes PostgreSQL missing: say so, keep the other database
                print(f"{database}: not measured: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
    return rows, commit


if __name__ == "__main__":
    main()
