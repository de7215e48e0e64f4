"""Where the milliseconds of one submit go: the real submit handler (as wired in the Gradio app)
called in-process on a SQLite file, under cProfile, with every SQL statement counted and timed.
Used by bench/app_vs_bare.py."""

from __future__ import annotations

import cProfile
import inspect
import io
import pstats
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def _handler(blocks, api_name: str):
    return next(f.fn for f in blocks.fns.values() if f.api_name == api_name)


def _call(fn, **values):
    """Call a Gradio handler by its parameter names (positions change as the UI grows)."""
    names = list(inspect.signature(fn).parameters)
    return fn(**{name: values.get(name) for name in names})


def profile_submit(submits: int = 40, items: int = 300) -> dict:
    import gradio as gr
    from sqlalchemy import event

    from app import storage
    from app.db import open_database
    from app.study_files import StudyItem
    from app.ui.common import Context
    from app.ui.shell import _layout, _wire

    with tempfile.TemporaryDirectory(prefix="medalign-profile-") as tmp:
        engine = open_database(f"sqlite:///{Path(tmp) / 'profile.db'}")
        with storage.transaction(engine) as session:
            rows = [StudyItem(f"item{i}", f"Question {i}?", f"Context {i}.", None,
                              {"sft": f"First answer {i}.", "dpo": f"Second answer {i}."}) for i in range(items)]
            storage.create_study(session, name="profile", kind="pairwise", systems=("sft", "dpo"), items=rows, overlap=2)
            storage.add_user(session, "doc", "physician", "profile-password")
        ctx = Context(engine)
        with gr.Blocks() as blocks:
            ctx.ui = _layout()
            _wire(blocks, ctx.ui, ctx)
        request = SimpleNamespace(username="doc")
        out = _call(_handler(blocks, "open_study"), study_name="profile", request=request)
        state, screen = out[ctx.ui.state], out[ctx.ui.screen]
        sql = {"count": 0, "seconds": 0.0}

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, *_args):
            conn.info["started"] = time.perf_counter()

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, *_args):
            sql["count"] += 1
            sql["seconds"] += time.perf_counter() - conn.info.pop("started")

        submit = _handler(blocks, "submit")
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for n in range(submits):
            out = _call(submit, state=state, token=screen["token"], choice="abtb"[n % 4].replace("t", "tie"),
                        evasive_a=False, evasive_b=False, rationale="", request=request)
            state, screen = out[ctx.ui.state], out[ctx.ui.screen]
        profiler.disable()
        wall = time.perf_counter() - started
        engine.dispose()
    stream = io.StringIO()
    pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(18)
    top = "\n".join(line[:150] for line in stream.getvalue().splitlines() if line.strip())
    head = (f"{submits} submits on a {items}-item study: {wall / submits * 1000:.1f} ms per submit (under cProfile), "
            f"{sql['count'] / submits:.1f} SQL statements per submit taking {sql['seconds'] / submits * 1000:.1f} ms")
    return {"text": head + "\n" + top, "ms_per_submit": wall / submits * 1000, "sql_per_submit": sql["count"] / submits,
            "sql_ms_per_submit": sql["seconds"] / submits * 1000}
