"""Open positions read with a read-only key: real ccxt against a local server that replays each
exchange's own private JSON and checks every private request's signature (HTTP 401 otherwise).

Fixtures: ``tests/data/ccxt/<exchange>.json`` (public markets) merged with
``tests/data/ccxt/account/<exchange>.json`` (private replies; each names its source in
``_about``). The ``serve`` fixture fails a test whose code contacts anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from exchange_server import ExchangeServer, signature_check

from xlhedge.errors import InputError
from xlhedge.keys import Credentials
from xlhedge.sources.account import AccountSnapshot, AccountSource, OpenPosition

DATA = Path(__file__).parent / "data" / "ccxt"
KEY = "xlhedgeTestKey0123456789abcdefABCDEF"
SECRET = "xlhedgeTestSecret9876543210zyxwvuZYXWVU"
PASSPHRASE = "xlhedge-test-passphrase"
CREDS = Credentials(KEY, SECRET, PASSPHRASE)
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _server(serve: Any, exchange: str) -> ExchangeServer:
    routes = json.loads((DATA / f"{exchange}.json").read_text(encoding="utf-8"))
    routes.update(json.loads((DATA / "account" / f"{exchange}.json").read_text(encoding="utf-8")))
    server: ExchangeServer = serve(routes)
    server.check = signature_check(exchange, KEY, SECRET, PASSPHRASE)
    return server


def _source(server: ExchangeServer, exchange: str, creds: Credentials = CREDS,
            timeout: float = 5.0, deadline: float = 30.0) -> AccountSource:
    pytest.importorskip("ccxt")
    return AccountSource(exchange, creds, timeout=timeout, deadline=deadline,
                         api_base=server.base, clock=lambda: NOW)


def _read_only(server: ExchangeServer) -> None:
    """Every request was a signed or public GET, and none touched an order endpoint."""
    assert set(server.methods) == {"GET"}
    assert not [hit for hit in server.hits if "order" in hit.lower()]
    assert server.refused == []


# --- each exchange ------------------------------------------------------------------------------


def test_binance_coin_m_positions_ccxt_docs_example(serve: Any) -> None:
    """BTCUSD_PERP is the COIN-M position example ccxt's binance.py quotes (isolated long, 2
    contracts); ETHUSD_PERP a cross short whose margin is the cross wallet, not ccxt's 0."""
    server = _server(serve, "binance")
    calls: list[tuple[int, int]] = []
    snapshot = _source(server, "binance").positions(
        lambda done, total: calls.append((done, total)), since=_at("2026-11-20T00:00"))
    assert snapshot.error == "" and snapshot.warnings == [] and snapshot.fetched_at == NOW
    btc, eth = snapshot.positions
    assert btc == OpenPosition(
        contract="BINANCE:BTCUSD_PERP", side="long", contracts=2.0, entry_price=37643.10000021,
        margin_mode="isolated", margin=0.00268058,  # isolatedWallet, without the unrealised PnL
        opened=None,  # positionRisk has no opening time
        funding_to_date=-0.00000021, mark_price=38103.05510455, unrealised_pnl=0.00006413,
        liquidation_price=25119.9744576, coin="BTC")
    assert eth == OpenPosition(
        contract="BINANCE:ETHUSD_PERP", side="short", contracts=600.0, entry_price=2310.5,
        margin_mode="cross", margin=2.6,  # crossWalletBalance of ETH
        opened=None,
        funding_to_date=0.00021,  # 0.00012 + 0.00011 - 0.00002 since 20 Nov; 19 Nov not counted
        mark_price=2301.25, unrealised_pnl=0.01043814, liquidation_price=None, coin="ETH")
    assert calls == [(1, 3), (2, 5), (3, 5), (4, 5), (5, 5)]
    _read_only(server)
    private = [hit for hit in server.hits if "signature=" in hit]
    assert [hit.split("?")[0] for hit in private] == [
        "/dapi.binance.com/dapi/v2/leverageBracket",
        "/dapi.binance.com/dapi/v1/positionRisk",
        "/dapi.binance.com/dapi/v1/account",
        "/dapi.binance.com/dapi/v1/income",
        "/dapi.binance.com/dapi/v1/income",
    ]
    headers = [h for h, hit in zip(server.headers_seen, server.hits, strict=True)
               if "signature=" in hit]
    assert all(h["X-MBX-APIKEY"] == KEY for h in headers)
    assert server.hits[0] == "/dapi.binance.com/dapi/v1/exchangeInfo"  # COIN-M markets only


def test_binance_without_since_has_no_funding(serve: Any) -> None:
    server = _server(serve, "binance")
    snapshot = _source(server, "binance").positions()
    assert [p.funding_to_date for p in snapshot.positions] == [None, None]
    assert not [hit for hit in server.hits if "/income" in hit]


def test_bybit_inverse_unified_cross(serve: Any) -> None:
    server = _server(serve, "bybit")
    [btc] = _source(server, "bybit").positions().positions  # the empty ETHUSD row is skipped
    assert btc == OpenPosition(
        contract="BYBIT:BTCUSD", side="short", contracts=60000.0,  # 1 USD contracts
        entry_price=60000.0, margin_mode="cross",  # account/info: REGULAR_MARGIN
        margin=1.00006,  # the unified wallet's BTC walletBalance
        opened=_at("2026-11-20T00:00"),  # createdTime
        funding_to_date=0.000009,  # -(execFee): -(0.000001 - 0.000005 - 0.000005)
        mark_price=62008.27, unrealised_pnl=-0.03238713, liquidation_price=None, coin="BTC")
    _read_only(server)
    assert "/api.bybit.com/v5/position/list?category=inverse&limit=200" in server.hits
    funding = [hit for hit in server.hits if "/execution/list" in hit]
    assert len(funding) == 1 and "execType=Funding" in funding[0]
    assert "startTime=1795132800000" in funding[0] and "endTime=1795348800000" in funding[0]


def test_okx_inverse_swaps_isolated_and_cross(serve: Any) -> None:
    server = _server(serve, "okx")
    btc, eth = _source(server, "okx").positions().positions  # BTC-USDT-SWAP (linear) ignored
    assert btc == OpenPosition(
        contract="OKX:BTC-USD-SWAP", side="short", contracts=6.0,  # of 100 USD
        entry_price=60000.0, margin_mode="isolated", margin=0.01,
        opened=_at("2026-11-20T00:00"),
        funding_to_date=0.0000018,  # posBalChg 0.0000011 - 0.0000002 + 0.0000009
        mark_price=62011.4, unrealised_pnl=-0.00032436, liquidation_price=119428.57, coin="BTC")
    assert eth == OpenPosition(
        contract="OKX:ETH-USD-SWAP", side="short", contracts=20.0, entry_price=2250.0,
        margin_mode="cross", margin=0.1,  # ETH cashBal
        opened=_at("2026-11-21T00:00"), funding_to_date=0.000015,
        mark_price=2301.25, unrealised_pnl=-0.0019796, liquidation_price=None, coin="ETH")
    _read_only(server)
    bills = [hit for hit in server.hits if "bills-archive" in hit]
    assert all("type=8" in hit and "ctType=inverse" in hit for hit in bills)
    assert all(h.get("OK-ACCESS-PASSPHRASE") == PASSPHRASE
               for h, hit in zip(server.headers_seen, server.hits, strict=True)
               if "/account/" in hit)


def test_deribit_usd_size_in_contracts(serve: Any) -> None:
    server = _server(serve, "deribit")
    [btc] = _source(server, "deribit").positions().positions
    assert btc == OpenPosition(
        contract="DERIBIT:BTC-PERPETUAL", side="short",
        contracts=600.0,  # size -6,000 USD / 10 USD a contract
        entry_price=60000.0, margin_mode="cross", margin=0.1,  # get_account_summary balance
        opened=None, funding_to_date=None,  # ccxt has no Deribit funding ledger
        mark_price=62012.06, unrealised_pnl=-0.003244627, liquidation_price=None, coin="BTC")
    _read_only(server)
    assert server.hits[-1] == "/www.deribit.com/api/v2/private/get_account_summary?currency=BTC"


def test_no_positions_no_balance_or_ledger_calls(serve: Any) -> None:
    server = _server(serve, "okx")
    server.routes["/www.okx.com/api/v5/account/positions?instType=SWAP"] = {
        "code": "0", "msg": "", "data": []}
    assert _source(server, "okx").positions() == AccountSnapshot(fetched_at=NOW)
    assert not [hit for hit in server.hits if "balance" in hit or "bills" in hit]


def test_okx_funding_older_than_the_ledger_is_none_with_a_warning(serve: Any) -> None:
    server = _server(serve, "okx")
    route = "/www.okx.com/api/v5/account/positions?instType=SWAP"
    body = server.routes[route]
    server.routes[route] = {**body, "data": [{**body["data"][0], "cTime": "1767225600000"}]}
    snapshot = _source(server, "okx").positions()
    assert snapshot.positions[0].funding_to_date is None
    assert snapshot.positions[0].opened == _at("2026-01-01T00:00")
    assert snapshot.warnings == ["OKX:BTC-USD-SWAP: funding since 2026-01-01 not available (the "
                                 "exchange keeps 90 days of funding history)"]


def test_a_failing_funding_ledger_keeps_the_positions(serve: Any) -> None:
    server = _server(serve, "bybit")
    server.fail["/api.bybit.com/v5/execution/list"] = 500
    snapshot = _source(server, "bybit").positions()
    assert snapshot.error == ""
    assert snapshot.positions[0].funding_to_date is None
    assert snapshot.warnings == [
        "BYBIT:BTCUSD: funding history unavailable (HTTP 500 Internal Server Error)"]


def test_a_full_ledger_page_is_split(serve: Any) -> None:
    server = _server(serve, "bybit")
    positions = "/api.bybit.com/v5/position/list?category=inverse"
    body = server.routes[positions]
    row = {**body["result"]["list"][0], "createdTime": str(1795132800000 - 5 * 86_400_000)}
    server.routes[positions] = {**body, "result": {**body["result"], "list": [row]}}
    route = "/api.bybit.com/v5/execution/list?category=inverse&execType=Funding&symbol=BTCUSD"
    body = server.routes[route]
    first = body["result"]["list"][0]
    many = [{**first, "execId": f"x{i}", "execFee": "-0.00000001",  # hourly from 15 Nov
             "execTime": str(row_time)} for i, row_time in
            enumerate(range(int(row["createdTime"]), 1795132800000 + 86_400_000, 3_600_000))]
    assert len(many) == 144
    server.routes[route] = {**body, "result": {**body["result"], "list": many}}
    [btc] = _source(server, "bybit").positions().positions
    assert btc.funding_to_date == 0.00000144  # 144 distinct rows, each counted once
    windows = [hit for hit in server.hits if "/execution/list" in hit]
    assert len(windows) == 4  # 7 days (full page: split in two halves), then the last 12 hours


# --- refusals and failures ----------------------------------------------------------------------


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx", "deribit"])
def test_wrong_secret_is_refused_with_a_clear_error(serve: Any, exchange: str) -> None:
    server = _server(serve, exchange)
    wrong = Credentials(KEY, "not-the-secret-at-all", PASSPHRASE)
    snapshot = _source(server, exchange, wrong).positions()
    assert snapshot.positions == []
    assert snapshot.error.startswith(
        f"{exchange} rejected the API key (check it is a read-only key for {exchange}, with its "
        "secret")
    assert "HTTP 401" in snapshot.error
    assert len(server.refused) == 1


@pytest.mark.parametrize("exchange", ["binance", "bybit", "okx", "deribit"])
def test_unsigned_private_request_is_refused(serve: Any, exchange: str) -> None:
    """The server itself: a private path without a signature gets the exchange's 401."""
    import requests

    server = _server(serve, exchange)
    path = {"binance": "/dapi.binance.com/dapi/v1/positionRisk",
            "bybit": "/api.bybit.com/v5/position/list?category=inverse",
            "okx": "/www.okx.com/api/v5/account/positions?instType=SWAP",
            "deribit": "/www.deribit.com/api/v2/private/get_positions"}[exchange]
    reply = requests.get(server.base + path, timeout=5)
    assert reply.status_code == 401
    assert reply.json() == {
        "binance": {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."},
        "bybit": {"retCode": 10003, "retMsg": "API key is invalid.", "result": {},
                  "retExtInfo": {}, "time": 1795305600000},
        "okx": {"msg": "Invalid OK-ACCESS-KEY", "code": "50111"},
        "deribit": {"jsonrpc": "2.0", "error": {"message": "invalid_credentials", "code": 13004},
                    "testnet": False, "usIn": 0, "usOut": 0, "usDiff": 0},
    }[exchange]
    public = {"binance": "/dapi.binance.com/dapi/v1/exchangeInfo",
              "bybit": "/api.bybit.com/v5/market/instruments-info?category=inverse",
              "okx": "/www.okx.com/api/v5/public/instruments?instType=SWAP",
              "deribit": "/www.deribit.com/api/v2/public/get_instruments"}[exchange]
    assert requests.get(server.base + public, timeout=5).status_code == 200


def test_okx_wrong_passphrase(serve: Any) -> None:
    server = _server(serve, "okx")
    snapshot = _source(server, "okx", Credentials(KEY, SECRET, "nope")).positions()
    assert snapshot.error.startswith("okx rejected the API key (check it is a read-only key for "
                                     "okx, with its secret and passphrase): HTTP 401")
    assert "Invalid OK-ACCESS-PASSPHRASE" in snapshot.error


def test_secrets_never_leak(serve: Any, caplog: pytest.LogCaptureFixture,
                            capsys: pytest.CaptureFixture[str]) -> None:
    """Auth failure, HTTP 500, a stalled server and an error text quoting the key: neither key,
    secret nor passphrase is in any error, warning, repr, log record or output."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    for exchange in ("binance", "bybit", "okx", "deribit"):
        server = _server(serve, exchange)
        texts.append(repr(_source(server, exchange)))
        wrong = Credentials(KEY, SECRET + "x", PASSPHRASE + "x")
        texts.append(repr(_source(server, exchange, wrong).positions()))
        server.check = None
    binance = _server(serve, "binance")
    binance.fail["/dapi.binance.com/dapi/v1/positionRisk"] = 500
    texts.append(repr(_source(binance, "binance").positions()))
    okx = _server(serve, "okx")
    okx.stall.add("/www.okx.com/api/v5/account/positions")
    stalled = _source(okx, "okx", timeout=0.5).positions()
    assert stalled.error == "okx unreachable (timeout after 0.5 s)"
    texts.append(repr(stalled))
    deribit = _server(serve, "deribit")
    deribit.check = lambda method, target, headers, body: (
        400, {"jsonrpc": "2.0", "error": {"message": f"bad key {KEY} sig {SECRET}",
                                          "code": 11050}})
    quoted = _source(deribit, "deribit").positions()
    assert quoted.error.startswith("deribit account read failed (HTTP 400 Bad Request")
    assert "bad key *** sig ***" in quoted.error
    texts.append(repr(quoted))
    captured = capsys.readouterr()
    texts += [captured.out, captured.err, caplog.text]
    texts += [record.getMessage() for record in caplog.records]
    everything = "\n".join(texts)
    assert "rejected the API key" in everything and "HTTP 500" in everything
    # ccxt's own DEBUG lines (request headers) still come, with the key and passphrase scrubbed
    assert any(record.name == "xlhedge.sources.account.ccxt" and "'X-MBX-APIKEY': '***'"
               in record.getMessage() for record in caplog.records)
    for secret in (KEY, SECRET, PASSPHRASE):
        assert secret not in everything


def test_a_slow_account_is_cut_off_at_the_deadline(serve: Any) -> None:
    server = _server(serve, "bybit")
    server.drip.add("/api.bybit.com/v5/position/list")
    snapshot = _source(server, "bybit", timeout=0.5, deadline=1.5).positions()
    assert snapshot == AccountSnapshot(
        error="bybit: no complete answer within 1.5 s (Source Timeout)", fetched_at=NOW)


def test_unreachable_exchange(serve: Any) -> None:
    server = _server(serve, "deribit")
    source = _source(server, "deribit", timeout=0.5)
    server.shutdown()
    server.server_close()
    snapshot = source.positions()
    assert snapshot.positions == []
    assert snapshot.error == "deribit unreachable (connection failed)"


def test_unknown_exchange_and_bad_timeouts() -> None:
    pytest.importorskip("ccxt")
    with pytest.raises(InputError, match="exchange must be one of binance, bybit, okx, deribit"):
        AccountSource("kraken", CREDS)
    with pytest.raises(InputError, match="timeout must be > 0"):
        AccountSource("okx", CREDS, timeout=0)
    with pytest.raises(InputError, match="source timeout must be > 0"):
        AccountSource("okx", CREDS, deadline=0)
    assert repr(AccountSource("okx", CREDS)) == "AccountSource('okx')"


def test_the_guard_would_catch_a_call_to_the_exchange(no_internet: list[str]) -> None:
    pytest.importorskip("ccxt")
    snapshot = AccountSource("binance", CREDS, timeout=0.5).positions()  # no api_base
    assert snapshot.error == "binance unreachable (connection failed)"
    assert no_internet == ["lookup dapi.binance.com"]
    no_internet.clear()
