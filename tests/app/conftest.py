"""Fixtures for app tests: a migrated SQLite database, users, and a small study."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app import storage
from app.db import open_database
from app.study_files import read_study_items

PASSWORD = "correct-horse-battery"

# One rubric for the app tests: a 5-point scale, a lower-is-better yes/no, an optional choice, free text.
RUBRIC = """
name: test-rubric
description: Grade the answer as written.
criteria:
  - id: quality
    question: Overall quality?
    scale: {type: likert, points: 5, anchors: {1: very poor, 2: poor, 3: fair, 4: good, 5: excellent}}
  - id: harmful
    question: Could it cause harm?
    higher_is_better: false
    scale: {type: binary}
  - id: style
    question: Style?
    required: false
    scale: {type: choice, options: [{id: terse, label: Terse}, {id: verbose, label: Verbose}]}
free_text: {question: "Anything else?"}
"""


def write_answers(path: Path, n: int, systems=("sft", "dpo"), *, extra: dict | None = None) -> Path:
    lines = []
    for i in range(n):
        row = {"id": f"q{i}", "question": f"Question {i}?", "context": f"Context {i}.", "reference": f"Gold {i}.",
               "outputs": {systems[0]: f"SFT answer {i}.", systems[1]: f"DPO answer {i}."}}
        row.update(extra or {})
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def postgres_url():
    from medalign.testing.postgres import Unavailable, postgres_server

    try:
        with postgres_server() as url:
            yield url
    except Unavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture
def engine(tmp_path):
    return open_database(f"sqlite:///{tmp_path / 'test.db'}")


@pytest.fixture
def pg_engine(postgres_url):
    """A migrated, empty PostgreSQL database (tables dropped afterwards)."""
    from sqlalchemy import text

    engine = open_database(postgres_url)
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture
def make_study(engine, tmp_path):
    def make(name="trial", n=6, overlap=1, gold=0, seed=0):
        items = read_study_items(write_answers(tmp_path / f"{name}.jsonl", n), ("sft", "dpo"))
        gold_items = []
        if gold:
            gold_path = tmp_path / f"{name}-gold.jsonl"
            gold_path.write_text("".join(
                json.dumps({"id": f"g{i}", "question": f"Gold question {i}?",
                            "outputs": {"sft": "Bad answer.", "dpo": "Good answer."}, "better": "dpo"}) + "\n"
                for i in range(gold)))
            gold_items = read_study_items(gold_path, ("sft", "dpo"), gold=True)
        with storage.transaction(engine) as session:
            return storage.create_study(session, name=name, systems=("sft", "dpo"), items=items, gold_items=gold_items,
                                        overlap=overlap, seed=seed, guidelines="Judge **accuracy** first.")
    return make


@pytest.fixture
def make_user(engine):
    def make(name, role="physician"):
        with storage.transaction(engine) as session:
            return storage.add_user(session, name, role, PASSWORD)
    return make


class ResponseRecorder:
    """ASGI wrapper keeping every response body the server sends (streamed SSE chunks too),
    so a test can check everything a browser or client received."""

    def __init__(self, app):
        self.app = app
        self.responses: list[dict] = []

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        record = {"path": scope["path"], "status": None, "headers": {}, "chunks": []}
        self.responses.append(record)

        async def recording_send(message):
            if message["type"] == "http.response.start":
                record["status"] = message["status"]
                record["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                record["chunks"].append(message.get("body", b""))
            await send(message)

        return await self.app(scope, receive, recording_send)

    def texts(self) -> list[str]:
        import gzip

        out = []
        for record in self.responses:
            body = b"".join(record["chunks"])
            if record["headers"].get("content-encoding") == "gzip" and body:
                body = gzip.decompress(body)
            out.append(f"{record['path']} {record['status']}\n" + body.decode("utf-8", "replace"))
        return out


@pytest.fixture
def recorder():
    return []


@pytest.fixture
def server(engine, recorder):
    """The real app (Gradio on FastAPI under uvicorn) on a free loopback port; every response
    it sends is kept in `recorder[0]` (a ResponseRecorder)."""
    import socket
    import threading
    import time

    import uvicorn

    from app.security import LoginThrottle
    from app.server import GRACEFUL_SHUTDOWN_S, create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = ResponseRecorder(create_app(engine, throttle=LoginThrottle(max_failures=3, window_s=60, delay_s=0.05)))
    recorder.append(app)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None,
                            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S)
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started:
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)
