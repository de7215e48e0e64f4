"""A minimal HTTP/1.1 client on asyncio streams, for load generation only (bench/queue_client.py).

Why not httpx: the issue-26 harness measured httpx at about 5 ms of client CPU per judgment (one
POST and one event stream), a quarter of the bare server's own CPU; on 2 shared cores that is
load the server then competes with. This client writes requests by hand on one keep-alive
connection per physician and reads Content-Length or chunked bodies, nothing else (no TLS, no
redirects, no proxies, no compression): about a tenth of that per judgment. It talks to the
servers this project starts on 127.0.0.1 and is not a general client.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlencode, urlsplit


class HTTPError(RuntimeError):
    """The connection broke or the answer was not HTTP/1.1 this client understands."""


class Response:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Connection:
    """One keep-alive connection and one cookie jar (a physician's browser, reduced)."""

    def __init__(self, base_url: str, timeout: float = 120) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _send(self, method: str, path: str, body: bytes, content_type: str | None) -> None:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=2**22)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept-Encoding: identity"]
        if self.cookies:
            head.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if body or method == "POST":
            head += [f"Content-Length: {len(body)}", f"Content-Type: {content_type or 'application/octet-stream'}"]
        self._writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()

    async def _head(self) -> tuple[int, list[tuple[str, str]]]:
        raw = await self._reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status_line = lines[0].split(" ", 2)
        if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
            raise HTTPError(f"not an HTTP/1.1 answer: {lines[0][:80]!r}")
        headers = []
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers.append((name.strip().lower(), value.strip()))
                if name.lower() == "set-cookie":
                    pair = value.split(";", 1)[0].strip()
                    if "=" in pair:
                        key, val = pair.split("=", 1)
                        self.cookies[key] = val
        return int(status_line[1]), headers

    async def _chunks(self, headers: list[tuple[str, str]]) -> AsyncIterator[bytes]:
        """The body in the pieces the server sent (chunked) or whole (Content-Length)."""
        if dict(headers).get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await self._reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
                if size == 0:
                    while await self._reader.readuntil(b"\r\n") != b"\r\n":  # trailers, then the end
                        pass
                    return
                chunk = await self._reader.readexactly(size + 2)
                yield chunk[:-2]
        else:
            length = int(dict(headers).get("content-length", "0"))
            if length:
                yield await self._reader.readexactly(length)

    async def _exchange(self, method: str, path: str, body: bytes, content_type: str | None):
        """Send and read the answer's head. The server closes a keep-alive connection idle for a
        few seconds: a reused connection that ends before the first byte of the answer is
        opened again and the request sent once more, as browsers do."""
        reused = self._writer is not None and not self._reader.at_eof()
        if self._writer is not None and not reused:
            await self.close()
        try:
            await self._send(method, path, body, content_type)
            return await self._head()
        except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError) as exc:
            if not reused or getattr(exc, "partial", b""):
                raise
            await self.close()
            await self._send(method, path, body, content_type)
            return await self._head()

    async def request(self, method: str, path: str, *, body: bytes = b"", content_type: str | None = None) -> Response:
        try:
            async with asyncio.timeout(self.timeout):
                status, headers = await self._exchange(method, path, body, content_type)
                content = b"".join([chunk async for chunk in self._chunks(headers)])
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise HTTPError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if dict(headers).get("connection", "").lower() == "close":
            await self.close()
        return Response(status, headers, content)

    async def post_form(self, path: str, fields: dict[str, str]) -> Response:
        return await self.request("POST", path, body=urlencode(fields).encode(),
                                  content_type="application/x-www-form-urlencoded")

    async def post_json(self, path: str, body: bytes) -> Response:
        return await self.request("POST", path, body=body, content_type="application/json")

    async def event_lines(self, path: str) -> AsyncIterator[bytes]:
        """GET a server-sent event stream; its lines as they arrive, until the server ends it.
        Whoever stops early must close the connection (the rest of the stream is unread)."""
        try:
            async with asyncio.timeout(self.timeout):
                status, headers = await self._exchange("GET", path, b"", None)
                if status != 200:
                    body = b"".join([chunk async for chunk in self._chunks(headers)])
                    raise HTTPError(f"GET {path} answered {status}: {body[:200]!r}")
                pending = b""
                async for chunk in self._chunks(headers):
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in lines:
                        yield line
                if pending:
                    yield pending
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise HTTPError(f"GET {path}: {type(exc).__name__}: {exc}") from exc

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = self._reader = None
