"""The load generator's HTTP client (bench/bench_api.py): HTTP/1.1 over keep-alive connections on
plain asyncio streams, nothing else. httpx costs about as much CPU per request as the API itself
does, and on a 2-core machine that CPU is taken from the server being measured; this client
spends a small fraction of it (the bench prints the client's CPU per request).

It speaks just what the bench needs: requests with a JSON body or none, answers with a
Content-Length (uvicorn sends one for every body the routes produce)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> Reply:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return Reply(status, await self.reader.readexactly(length) if length else b"")

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """Keep-alive connections to one `http://host:port`, each used by one request at a time."""

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        self.host, self.port = url.hostname or "127.0.0.1", url.port or 80
        self.headers: dict[str, str] = {}
        self._idle: list[_Connection] = []

    async def request(
        self, method: str, path: str, *, json_body: Any = None, params: dict[str, str] | None = None
    ) -> Reply:
        if params:
            path = f"{path}?{urlencode(params)}"
        body = b"" if json_body is None else json.dumps(json_body).encode()
        headers = {"host": f"{self.host}:{self.port}", **self.headers}
        if json_body is not None:
            headers["content-type"] = "application/json"
        if body or method != "GET":
            headers["content-length"] = str(len(body))
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body
        # An idle connection the server closed (its keep-alive timeout) fails before any answer:
        # the request is sent again on a new connection (a fresh one is not retried).
        while True:
            fresh = not self._idle
            connection = self._idle.pop() if self._idle else await self._open()
            try:
                reply = await connection.exchange(request)
            except (ConnectionError, asyncio.IncompleteReadError):
                connection.close()
                if fresh:
                    raise
                continue
            self._idle.append(connection)
            return reply

    async def get(self, path: str, params: dict[str, str] | None = None) -> Reply:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> Reply:
        return await self.request("POST", path, json_body=json)

    async def _open(self) -> _Connection:
        return _Connection(*await asyncio.open_connection(self.host, self.port))

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()
