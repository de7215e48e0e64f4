"""Submit + next screen (issue 26): SQL statements and server Python per submit, on SQLite and
PostgreSQL. The real submit handler (as wired in the Gradio app) is called in-process, every SQL
statement counted by SQLAlchemy's cursor hooks. "Server Python" is the handler thread's CPU time less
the CPU time spent inside the database driver's execute calls (SQLite's own work, or psycopg's), per
submit (median and p90 of many), measured without a profiler: CPU time, because the machine is
shared and wall times on it measure the other jobs too (the wall time is given beside it).

    python bench/submit_profile.py --databases sqlite postgresql --submits 200 --items 300
    python bench/submit_profile.py --profile        # also where the time goes (cProfile, SQLite)

Target: at most 8 statements and 5 ms of server Python per submit. Used by bench/app_vs_bare.py
(--profile-only) through profile_submit().
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import io
import pstats
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _handler(blocks, api_name: str):
    return next(f.fn for f in blocks.fns.values() if f.api_name == api_name)


def _screen(out: dict, ui) -> dict:
    """The screen's public fields; a submit handler gives them postprocessed (Gradio's JsonData)."""
    screen = out[ui.screen]
    return screen.model_dump() if hasattr(screen, "model_dump") else screen


def _call(fn, **values):
    """Call a Gradio handler by its parameter names (positions change as the UI grows)."""
    names = list(inspect.signature(fn).parameters)
    return fn(**{name: values.get(name) for name in names})


def _setup(url: str, items: int):
    import gradio as gr

    from app import storage
    from app.db import open_database
    from app.study_files import StudyItem
    from app.ui.common import Context
    from app.ui.shell import _layout, _wire

    engine = open_database(url)
    with storage.transaction(engine) as session:
        rows = [StudyItem(f"item{i}", f"Question {i}?", f"Context {i}.", None,
                          {"sft": f"First answer {i}.", "dpo": f"Second answer {i}."}) for i in range(items)]
        storage.create_study(session, name="profile", kind="pairwise", systems=("sft", "dpo"), items=rows, overlap=2)
        storage.add_user(session, "doc", "physician", "profile-password")
    ctx = Context(engine)
    with gr.Blocks() as blocks:
        ctx.ui = _layout()
        _wire(blocks, ctx.ui, ctx)
    return engine, ctx, blocks


def _measure(url: str, submits: int, items: int, profiler: cProfile.Profile | None = None) -> dict:
    from sqlalchemy import event

    engine, ctx, blocks = _setup(url, items)
    request = SimpleNamespace(username="doc")
    out = _call(_handler(blocks, "open_study"), study_name="profile", request=request)
    state, screen = out[ctx.ui.state], _screen(out, ctx.ui)
    sql = {"count": 0, "seconds": 0.0, "statements": []}

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn, _cursor, statement, *_args):
        conn.info["started"] = time.thread_time()
        sql["statements"].append(statement)  # shortened after the submit: not timed

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, *_args):
        sql["count"] += 1
        sql["seconds"] += time.thread_time() - conn.info.pop("started")

    submit = _handler(blocks, "submit")
    per = {"statements": [], "wall_ms": [], "python_ms": [], "cpu_ms": []}
    last = []
    for n in range(submits):
        sql.update(count=0, seconds=0.0, statements=[])
        cpu, wall = time.thread_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        out = _call(submit, state=state, token=screen["token"], choice=("a", "b", "tie", "b")[n % 4],
                    evasive_a=False, evasive_b=False, rationale="", request=request)
        if profiler:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        state, screen = out[ctx.ui.state], _screen(out, ctx.ui)
        if screen.get("done"):
            raise RuntimeError(f"the study ran out after {n} submits: use more --items")
        per["statements"].append(sql["count"])
        per["wall_ms"].append(wall * 1000)
        per["python_ms"].append((cpu - sql["seconds"]) * 1000)
        per["cpu_ms"].append(cpu * 1000)
        last = [" ".join(statement.split())[:90] for statement in sql["statements"]]
    engine.dispose()
    return {**per, "last_statements": last}


def _summary(name: str, per: dict) -> dict:
    def q(values, p):
        return statistics.quantiles(values, n=10)[8] if p == 90 else statistics.median(values)

    return {"database": name, "submits": len(per["wall_ms"]), "statements_max": max(per["statements"]),
            "statements_mean": statistics.fmean(per["statements"]),
            "python_ms_p50": q(per["python_ms"], 50), "python_ms_p90": q(per["python_ms"], 90),
            "wall_ms_p50": q(per["wall_ms"], 50), "cpu_ms_p50": q(per["cpu_ms"], 50),
            "last_statements": per["last_statements"]}


def run(databases: list[str], submits: int, items: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="medalign-profile-") as tmp, ExitStack() as stack:
        for name in databases:
            if name == "sqlite":
                url = f"sqlite:///{Path(tmp) / 'profile.db'}"
            else:
                from medalign.testing.postgres import postgres_server

                url = stack.enter_context(postgres_server())
            rows.append(_summary(name, _measure(url, submits, items)))
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| database | submits | SQL statements per submit (max, mean) | server Python ms p50 / p90 "
             "| handler wall ms p50 | handler CPU ms p50 (Python + driver) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['database']} | {r['submits']} | {r['statements_max']}, {r['statements_mean']:.1f} | "
                     f"{r['python_ms_p50']:.2f} / {r['python_ms_p90']:.2f} | {r['wall_ms_p50']:.2f} | "
                     f"{r['cpu_ms_p50']:.2f} |")
    return "\n".join(lines)


def profile_submit(submits: int = 40, items: int = 300) -> dict:
    """One SQLite run under cProfile: the figures and the top of the profile (bench/app_vs_bare.py)."""
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="medalign-profile-") as tmp:
        per = _measure(f"sqlite:///{Path(tmp) / 'profile.db'}", submits, items, profiler)
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(18)
    top = "\n".join(line[:150] for line in stream.getvalue().splitlines() if line.strip())
    summary = _summary("sqlite", per)
    head = (f"{submits} submits on a {items}-item study (under cProfile): {summary['wall_ms_p50']:.1f} ms per submit, "
            f"{summary['statements_mean']:.1f} SQL statements per submit; statements of the last one: "
            + "; ".join(summary["last_statements"]))
    return {"text": head + "\n" + top, "ms_per_submit": summary["wall_ms_p50"],
            "sql_per_submit": summary["statements_mean"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"])
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--items", type=int, default=300, help="non-gold items of the study (overlap 2)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of 40 SQLite submits")
    args = parser.parse_args()
    rows = run(args.databases, args.submits, args.items)
    print(table(rows))
    for r in rows:
        print(f"\n{r['database']}, the statements of the last submit:\n  " + "\n  ".join(r["last_statements"]))
    if args.profile:
        print(profile_submit()["text"])


if __name__ == "__main__":
    main()
