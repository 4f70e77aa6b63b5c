"""A local stand-in for exchanges' REST APIs, for tests of ccxt sources (no internet).

Every exchange URL is redirected to :class:`ExchangeServer` on 127.0.0.1 (``api_base``), which
replays a fixture: ``tests/data/ccxt/<name>.json`` or a dict, whose keys are
``/HOST/PATH[?QUERY]`` (a key's query must be a subset of the request's; the most specific key
wins). The ``no_internet`` and ``serve`` fixtures (registered in ``conftest.py``) fail a test
whose code contacts anything but loopback.

Private (signed) endpoints: set ``server.check`` to :func:`signature_check` (or any function of
method, target, headers and body returning ``None`` to answer or ``(status, body)`` to refuse);
each exchange's check recomputes the request's signature with the test secret and refuses an
unsigned or wrongly signed private request with HTTP 401 in the exchange's own error format.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

Check = Callable[[str, str, Mapping[str, str], bytes], "tuple[int, Any] | None"]
"""``check(method, target, headers, body)``: ``None`` to answer, ``(status, body)`` to refuse."""

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
        self.methods: list[str] = []  # each request's method, as hits
        self.bodies: list[bytes] = []  # each request's body (b"" for GET), as hits
        self.refused: list[str] = []  # targets the check refused
        self.check: Check | None = None
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
        self._respond("GET")

    def do_POST(self) -> None:
        self._respond("POST")

    def do_DELETE(self) -> None:
        self._respond("DELETE")

    def _respond(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        self.server.hits.append(self.path)
        self.server.headers_seen.append(headers)
        self.server.methods.append(method)
        self.server.bodies.append(payload)
        refusal = None
        if self.server.check is not None:
            refusal = self.server.check(method, self.path, headers, payload)
        if refusal is not None:
            self.server.refused.append(self.path)
            status, body = refusal
        else:
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


# --- signed requests ----------------------------------------------------------------------------

PRIVATE = {
    "binance": r"^/[^/]+/(?:(?:dapi|fapi)/v\d/(?:positionRisk|account|income|leverageBracket|"
               r"balance|order|allOrders|openOrders)|api/v3/(?:account|order)|sapi/)",
    "bybit": r"^/[^/]+/v5/(?:position|account|execution|user|asset|order)/",
    "okx": r"^/[^/]+/api/v5/(?:account|asset|trade)/",
    "deribit": r"^/[^/]+/api/v2/private/",
}
"""Per exchange, the paths (after the host) that need a signed request."""


def _hmac(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _binance(key: str, secret: str, password: str, method: str, target: str,
             headers: Mapping[str, str], body: bytes) -> str:
    """Binance: HMAC-SHA256 (hex) of the query string before ``&signature=``, with the key in
    ``X-MBX-APIKEY``."""
    query = urlsplit(target).query if method in ("GET", "DELETE") else body.decode()
    signed, _, signature = query.rpartition("&signature=")
    if not signature or "&" in signature:
        return "no signature"
    if _lower(headers).get("x-mbx-apikey") != key:
        return "key"
    if not hmac.compare_digest(signature, _hmac(secret, signed)):
        return "signature"
    return ""


def _bybit(key: str, secret: str, password: str, method: str, target: str,
           headers: Mapping[str, str], body: bytes) -> str:
    """Bybit v5: HMAC-SHA256 (hex) of timestamp + key + recv window + query (or JSON body)."""
    seen = _lower(headers)
    names = ("x-bapi-api-key", "x-bapi-timestamp", "x-bapi-recv-window", "x-bapi-sign")
    if not all(seen.get(name) for name in names):
        return "no signature"
    if seen["x-bapi-api-key"] != key:
        return "key"
    payload = body.decode() if method == "POST" else urlsplit(target).query
    text = seen["x-bapi-timestamp"] + key + seen["x-bapi-recv-window"] + payload
    return "" if hmac.compare_digest(seen["x-bapi-sign"], _hmac(secret, text)) else "signature"


def _okx(key: str, secret: str, password: str, method: str, target: str,
         headers: Mapping[str, str], body: bytes) -> str:
    """OKX: base64 HMAC-SHA256 of timestamp + method + request path with query + body."""
    seen = _lower(headers)
    names = ("ok-access-key", "ok-access-sign", "ok-access-timestamp", "ok-access-passphrase")
    if not all(seen.get(name) for name in names):
        return "no signature"
    if seen["ok-access-key"] != key:
        return "key"
    if seen["ok-access-passphrase"] != password:
        return "passphrase"
    parts = urlsplit(target)
    path = "/" + parts.path.split("/", 2)[2] + (f"?{parts.query}" if parts.query else "")
    text = seen["ok-access-timestamp"] + method + path + body.decode()
    expected = base64.b64encode(
        hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()).decode()
    return "" if hmac.compare_digest(seen["ok-access-sign"], expected) else "signature"


def _deribit(key: str, secret: str, password: str, method: str, target: str,
             headers: Mapping[str, str], body: bytes) -> str:
    """Deribit: ``Authorization: deri-hmac-sha256 id=KEY,ts=..,sig=..,nonce=..`` with the
    HMAC-SHA256 (hex) of ts, nonce, method, URI and body, each line ending in a newline."""
    auth = _lower(headers).get("authorization", "")
    scheme, _, fields = auth.partition(" ")
    values = dict(part.split("=", 1) for part in fields.split(",") if "=" in part)
    if scheme != "deri-hmac-sha256" or not {"id", "ts", "sig", "nonce"} <= values.keys():
        return "no signature"
    if values["id"] != key:
        return "key"
    parts = urlsplit(target)
    uri = "/" + parts.path.split("/", 2)[2] + (f"?{parts.query}" if parts.query else "")
    text = f"{values['ts']}\n{values['nonce']}\n{method}\n{uri}\n{body.decode()}\n"
    return "" if hmac.compare_digest(values["sig"], _hmac(secret, text)) else "signature"


_VERIFIERS = {"binance": _binance, "bybit": _bybit, "okx": _okx, "deribit": _deribit}


def _refusal(exchange: str, problem: str) -> tuple[int, Any]:
    """HTTP 401 with the exchange's own error body for ``problem``."""
    if exchange == "binance":
        if problem == "signature":
            return 401, {"code": -1022, "msg": "Signature for this request is not valid."}
        return 401, {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
    if exchange == "bybit":
        code, text = (10004, "error sign!") if problem == "signature" else (
            10003, "API key is invalid.")
        return 401, {"retCode": code, "retMsg": text, "result": {}, "retExtInfo": {},
                     "time": 1795305600000}
    if exchange == "okx":
        code, text = {"signature": ("50113", "Invalid Sign"),
                      "passphrase": ("50105", "Invalid OK-ACCESS-PASSPHRASE")}.get(
            problem, ("50111", "Invalid OK-ACCESS-KEY"))
        return 401, {"msg": text, "code": code}
    return 401, {"jsonrpc": "2.0", "error": {"message": "invalid_credentials", "code": 13004},
                 "testnet": False, "usIn": 0, "usOut": 0, "usDiff": 0}


def signature_check(exchange: str, key: str, secret: str, password: str = "") -> Check:
    """A ``server.check`` refusing ``exchange``'s private requests not signed with these
    credentials (HTTP 401 in the exchange's error format); public requests pass."""
    private = re.compile(PRIVATE[exchange])
    verify = _VERIFIERS[exchange]

    def check(method: str, target: str, headers: Mapping[str, str],
              body: bytes) -> tuple[int, Any] | None:
        if not private.search(urlsplit(target).path):
            return None
        problem = verify(key, secret, password, method, target, headers, body)
        return _refusal(exchange, problem) if problem else None

    return check


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
