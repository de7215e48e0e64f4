"""Gradio's queue as the app runs it (app.server.start_queue): no per-event analytics summary,
since the app serves no monitoring page."""

from __future__ import annotations

from app.server import STATUS_UPDATE_S, _gradio_app, create_app


def test_the_queue_never_rebuilds_the_monitoring_summary(engine, monkeypatch):
    queue = _gradio_app(create_app(engine)).get_blocks()._queue
    assert queue.update_intervals == STATUS_UPDATE_S
    assert queue.ANALYTICS_MAX_EVENTS == 1

    def no_dataframe(records):
        raise AssertionError("the analytics summary was rebuilt")

    monkeypatch.setattr(queue, "_get_df", no_dataframe)
    records = [{"time": 0.0, "status": "success", "process_time": 0.01, "function": "submit", "session_hash": "x"}]
    queue.events_recorded += 1_000
    assert queue.compute_analytics_summary(records) == {"functions": {}}


def test_gradio_still_rebuilds_it_without_the_settings(engine):
    """The check above can fail: Gradio's default queue does rebuild the summary per event."""
    import gradio as gr

    with gr.Blocks() as blocks:
        gr.Textbox()
    blocks.queue()
    queue = blocks._queue
    queue.events_recorded += 1
    records = [{"time": 0.0, "status": "success", "process_time": 0.01, "function": "submit", "session_hash": "x"}]
    assert queue.compute_analytics_summary(records)["functions"]["submit"]["total_requests"] == 1


