"""A light asynchronous physician for load tests: it logs in at POST /login (the app's own route,
session cookie) and speaks Gradio's queue protocol (sse_v3) with httpx, as the browser does: POST
queue/join with the event's inputs, then read queue/data (a server-sent event stream) until the
event's process_completed message. One event loop carries every client, so 100 physicians cost
the harness a few percent of a core instead of the two cores 100 gradio_client threads took
(each of its calls also re-reads the API description). Outputs are found by label (the `screen`
JSON), never by position, as in medalign.demo.simulate.
"""

from __future__ import annotations

import json
import uuid

import httpx

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

    def payload(self, name: str, args: tuple, session_hash: str) -> dict:
        fn_index, states, _screen = self.events[name]
        values, data = iter(args), []
        for is_state in states:  # the server keeps state per session: the client sends None
            data.append(None if is_state else next(values))
        return {"data": data, "fn_index": fn_index, "session_hash": session_hash, "event_data": None,
                "trigger_id": None}


async def read_endpoints(base_url: str, name: str, password: str, timeout: float = 60) -> Endpoints:
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as http:
        await login(http, name, password)
        response = await http.get("/config")
        response.raise_for_status()
        return Endpoints(response.json())


async def login(http: httpx.AsyncClient, name: str, password: str) -> None:
    response = await http.post("/login", data={"username": name, "password": password})
    if response.status_code != 200:
        raise QueueError(f"login of {name} refused ({response.status_code}): {response.text[:200]}")


class QueueClient:
    """One physician: own cookie jar, own Gradio session (its state lives on the server)."""

    def __init__(self, base_url: str, endpoints: Endpoints, timeout: float = 120) -> None:
        limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
        self.http = httpx.AsyncClient(base_url=base_url, timeout=timeout, limits=limits)
        self.endpoints = endpoints
        self.session_hash = uuid.uuid4().hex[:11]

    async def login(self, name: str, password: str) -> None:
        await login(self.http, name, password)

    async def call(self, name: str, *args) -> dict:
        """Run one named event; the screen's public fields (the JSON output labelled screen)."""
        prefix = self.endpoints.prefix
        joined = await self.http.post(f"{prefix}/queue/join", json=self.endpoints.payload(name, args, self.session_hash))
        if joined.status_code != 200:
            raise QueueError(f"{name}: queue/join answered {joined.status_code}: {joined.text[:200]}")
        event_id = joined.json()["event_id"]
        async with self.http.stream("GET", f"{prefix}/queue/data", params={"session_hash": self.session_hash}) as stream:
            if stream.status_code != 200:
                raise QueueError(f"{name}: queue/data answered {stream.status_code}")
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("msg") == "close_stream":
                    break
                if message.get("event_id") != event_id or message.get("msg") != "process_completed":
                    continue
                if not message.get("success", False):
                    raise QueueError(f"{name}: {message.get('output', {}).get('error') or 'failed'}")
                outputs = message["output"]["data"]
                screen = self.endpoints.events[name][2]
                return outputs[screen] if screen is not None else {}
        raise QueueError(f"{name}: the stream ended before the event completed")

    async def open(self, study: str) -> dict:
        return await self.call("open_study", study)

    async def submit_pairwise(self, screen: dict, choice: str, *, evasive_a: bool = False, evasive_b: bool = False,
                              rationale: str = "") -> dict:
        return await self.call("submit", screen["token"], choice, evasive_a, evasive_b, rationale)

    async def close(self) -> None:
        await self.http.aclose()
