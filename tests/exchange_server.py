"""A local stand-in for exchanges' REST APIs, for tests of ccxt sources (no internet).

Every exchange URL is redirected to :class:`ExchangeServer` on 127.0.0.1 (``api_base``), which
replays a fixture: ``tests/data/ccxt/<name>.json`` or a dict, whose keys are
``/HOST/PATH[?QUERY]`` (a key's query must be a subset of the request's; the most specific key
wins). The ``no_internet`` and ``serve`` fixtures (registered in ``conftest.py``) fail a test
whose code contacts anything but loopback.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

DATA = Path(__file__).parent / "data" / "ccxt"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


class ExchangeServer(ThreadingHTTPServer):
    """Replays one fixture file; records every request; can fail or stall chosen paths."""

    daemon_threads = True

    def __init__(self, fixture: str | dict[str, Any]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        data = fixture if isinstance(fixture, dict) else json.loads(
            (DATA / f"{fixture}.json").read_text(encoding="utf-8"))
        self.routes = {key: body for key, body in data.items() if key.startswith("/")}
        self.hits: list[str] = []
        self.headers_seen: list[dict[str, str]] = []  # each request's headers, as hits
        self.fail: dict[str, int] = {}  # path -> HTTP status
        self.stall: set[str] = set()  # paths that answer only after the test
        self.drip: set[str] = set()  # paths that answer a byte every 0.1 s (never timing out)
        self.release = threading.Event()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, target: str) -> tuple[int, Any]:
        """The status and JSON body for ``target`` (path and query)."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query))
        if parts.path in self.stall:
            self.release.wait(10)
        if parts.path in self.fail:
            return self.fail[parts.path], None  # an empty body, as from a failing load balancer
        best: tuple[int, Any] | None = None
        for key, body in self.routes.items():
            route = urlsplit(key)
            wanted = dict(parse_qsl(route.query))
            matches = route.path == parts.path and wanted.items() <= query.items()
            if matches and (best is None or len(wanted) > best[0]):
                best = (len(wanted), body)
        return (200, best[1]) if best else (404, {"code": -1, "msg": f"no fixture for {target}"})

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a stalled answer's client has gone by the time it is written."""


class _Handler(BaseHTTPRequestHandler):
    server: ExchangeServer

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        self.server.headers_seen.append(dict(self.headers.items()))
        status, body = self.server.answer(self.path)
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if urlsplit(self.path).path in self.server.drip:
            for byte in data:
                if self.server.release.is_set():
                    return
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.1)
            return
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Connections and name lookups beyond loopback fail, are recorded, and fail the test."""
    escaped: list[str] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            escaped.append(f"connect {address}")
            raise OSError(f"test blocked a connection to {address}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK:
            escaped.append(f"lookup {host}")
            raise socket.gaierror(f"test blocked a lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    for name in PROXY_VARIABLES:  # requests would send 127.0.0.1 through a proxy
        monkeypatch.delenv(name, raising=False)
    yield escaped
    assert escaped == [], "a ccxt call left 127.0.0.1"


def serve(no_internet: list[str]) -> Iterator[Any]:
    """``serve(exchange)``: a running :class:`ExchangeServer` for that exchange's fixtures."""
    pytest.importorskip("ccxt")
    servers: list[ExchangeServer] = []

    def start(fixture: str) -> ExchangeServer:
        server = ExchangeServer(fixture)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()
