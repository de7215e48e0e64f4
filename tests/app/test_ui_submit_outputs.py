"""The submit events (app/ui/shell.py): wired with postprocess=False, their handlers postprocess
the values themselves (shell.postprocessed); what Gradio sends must be what it sends when it
postprocesses them itself."""

from __future__ import annotations

import asyncio

import gradio as gr
from gradio.state_holder import SessionState

from app.ui.common import Context
from app.ui.screen import Screen
from app.ui.shell import _layout, _wire, postprocessed
from evaluation.rubric import load_rubric
from tests.app.conftest import RUBRIC


def _sent(blocks, fn, updates: dict, *, postprocess: bool) -> list:
    fn.postprocess = postprocess
    try:
        return asyncio.run(blocks.postprocess_data(fn, dict(updates), SessionState(blocks)))
    finally:
        fn.postprocess = False


def test_postprocessed_submit_outputs_are_what_gradio_would_send(tmp_path):
    path = tmp_path / "rubric.yaml"
    path.write_text(RUBRIC)
    rubric = load_rubric(path)
    ctx = Context(None)
    with gr.Blocks() as blocks:
        ctx.ui = _layout()
        _wire(blocks, ctx.ui, ctx)
    ui = ctx.ui
    common = {"judged": 3, "total": 9, "question": "  Is it\n    indented?\n", "context": "Context *with* markup.",
              "token": "t", "judging": True, "study": "s", "saved": True}
    screens = {"submit": Screen(state={"user": "doc", "study": "s"}, kind="pairwise", answer_a="A", answer_b="B",
                                previous={"choice": "a", "evasive_a": True, "rationale": "why"}, revising=True,
                                **common),
               "submit_rating": Screen(state={"user": "doc", "study": "s"}, kind="rating", answer_a="One answer.",
                                       rubric=rubric, **common)}
    for api_name, screen in screens.items():
        fn = next(f for f in blocks.fns.values() if f.api_name == api_name)
        assert fn.postprocess is False
        kept = {id(o) for o in fn.outputs}
        updates = {c: v for c, v in ui.updates(screen).items() if id(c) in kept}
        assert len(updates) < len(ui.screen_outputs())  # the other kind's panel is not an output
        sent = _sent(blocks, fn, postprocessed(updates), postprocess=False)
        assert sent == _sent(blocks, fn, updates, postprocess=True)
        assert "Is it\nindented?" in sent  # Markdown's own postprocess (cleandoc) ran
