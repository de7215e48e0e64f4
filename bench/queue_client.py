"""A light asynchronous physician for load tests: it logs in at POST /login (the app's own route,
session cookie) and speaks Gradio's queue protocol (sse_v3) as the browser does: POST queue/join
with the event's inputs, then read queue/data (a server-sent event stream) until the event's
process_completed message. One event loop carries every client. Outputs are found by label (the
`screen` JSON), never by position, as in medalign.demo.simulate.

Two transports: `light` (bench/light_http.py, hand-written HTTP/1.1 on asyncio streams, the
default) and `httpx` (the first version of this harness, kept to measure the difference in
client CPU in the same run).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

try:  # orjson parses the screens several times faster than json (it ships with gradio)
    from orjson import dumps as _dumps
    from orjson import loads
except ImportError:  # pragma: no cover - plain json works the same, slower
    import json

    def _dumps(value) -> bytes:
        return json.dumps(value).encode()

    loads = json.loads

from bench.light_http import Connection, HTTPError

SCREEN_LABEL = "screen"  # app.ui.shell.SCREEN_LABEL (not imported: the harness stays free of gradio)


class QueueError(RuntimeError):
    """The server refused or failed an event (the message says which and why)."""


class Endpoints:
    """What the app's /config says about its named events: id, inputs (with state slots) and the
    position of the screen among the outputs. Read once per server, shared by every client."""

    def __init__(self, config: dict) -> None:
        components = {c["id"]: c for c in config["components"]}
        self.prefix = config.get("api_prefix", "/gradio_api").rstrip("/")
        self.events: dict[str, tuple[int, list[bool], int | None]] = {}
        for index, dependency in enumerate(config["dependencies"]):
            name = dependency.get("api_name")
            if not name:
                continue
            states = [components.get(i, {}).get("type") == "state" for i in dependency["inputs"]]
            labels = [components.get(o, {}).get("props", {}).get("label") for o in dependency["outputs"]]
            screen = labels.index(SCREEN_LABEL) if SCREEN_LABEL in labels else None
            self.events[name] = (dependency.get("id", index), states, screen)

    def payload(self, name: str, args: tuple, session_hash: str) -> bytes:
        fn_index, states, _screen = self.events[name]
        values, data = iter(args), []
        for is_state in states:  # the server keeps state per session: the client sends None
            data.append(None if is_state else next(values))
        return _dumps({"data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None,
                       "trigger_id": None})


class HttpxConnection:
    """The same three calls as light_http.Connection, on httpx (for comparison only)."""

    def __init__(self, base_url: str, timeout: float = 120) -> None:
        import httpx

        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)

    async def post_form(self, path: str, fields: dict):
        response = await self.http.post(path, data=fields)
        response.status = response.status_code
        return response

    async def post_json(self, path: str, body: bytes):
        response = await self.http.post(path, content=body, headers={"content-type": "application/json"})
        response.status, response.body = response.status_code, response.content
        return response

    async def get(self, path: str):
        response = await self.http.get(path)
        response.status, response.body = response.status_code, response.content
        return response

    async def event_lines(self, path: str) -> AsyncIterator[bytes]:
        async with self.http.stream("GET", path) as stream:
            if stream.status_code != 200:
                raise QueueError(f"GET {path} answered {stream.status_code}")
            async for line in stream.aiter_lines():
                yield line.encode()

    async def close(self) -> None:
        await self.http.aclose()


def connect(base_url: str, transport: str = "light", timeout: float = 120):
    return HttpxConnection(base_url, timeout) if transport == "httpx" else Connection(base_url, timeout)


async def login(http, name: str, password: str) -> None:
    response = await http.post_form("/login", {"username": name, "password": password})
    if response.status != 200:
        raise QueueError(f"login of {name} refused ({response.status}): {response.text[:200]}")


async def read_endpoints(base_url: str, name: str, password: str, timeout: float = 60) -> Endpoints:
    http = connect(base_url, "light", timeout)
    try:
        await login(http, name, password)
        response = await http.request("GET", "/config")
        if response.status != 200:
            raise QueueError(f"/config answered {response.status}")
        return Endpoints(loads(response.body))
    finally:
        await http.close()


class QueueClient:
    """One physician: own connection and cookie jar, own Gradio session (its state lives on the
    server). `completed_at` is when the last event's result arrived (perf_counter): the moment a
    browser would show it; the rest of the stream (its close message) is read after that."""

    def __init__(self, base_url: str, endpoints: Endpoints, timeout: float = 120, transport: str = "light") -> None:
        self.http = connect(base_url, transport, timeout)
        self.endpoints = endpoints
        self.completed_at = 0.0
        self.new_session()

    def new_session(self) -> None:
        """A fresh Gradio session (a new browser tab); the login cookie stays."""
        self.session_hash = uuid.uuid4().hex[:11]

    async def login(self, name: str, password: str) -> None:
        await login(self.http, name, password)

    async def call(self, name: str, *args) -> dict:
        """Run one named event; the screen's public fields (the JSON output labelled screen)."""
        prefix = self.endpoints.prefix
        failure, result = None, None
        try:
            joined = await self.http.post_json(f"{prefix}/queue/join", self.endpoints.payload(name, args, self.session_hash))
            if joined.status != 200:
                raise QueueError(f"{name}: queue/join answered {joined.status}: {joined.body[:200]!r}")
            event_id = loads(joined.body)["event_id"]
            # read to the end of the stream (the server ends it after close_stream), so that the
            # connection is ready for the next request
            async for line in self.http.event_lines(f"{prefix}/queue/data?session_hash={self.session_hash}"):
                if not line.startswith(b"data:"):
                    continue
                message = loads(line[5:])
                if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                    continue
                self.completed_at = time.perf_counter()
                if not message.get("success", False):
                    failure = message.get("output", {}).get("error") or "failed"
                else:
                    screen = self.endpoints.events[name][2]
                    result = message["output"]["data"][screen] if screen is not None else {}
        except HTTPError as exc:
            raise QueueError(f"{name}: {exc}") from exc
        if failure is not None:
            raise QueueError(f"{name}: {failure}")
        if result is None:
            raise QueueError(f"{name}: the stream ended before the event completed")
        return result

    async def open(self, study: str) -> dict:
        return await self.call("open_study", study)

    async def submit_pairwise(self, screen: dict, choice: str, *, evasive_a: bool = False, evasive_b: bool = False,
                              rationale: str = "") -> dict:
        return await self.call("submit", screen["token"], choice, evasive_a, evasive_b, rationale)

    async def close(self) -> None:
        await self.http.close()
