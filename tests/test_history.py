"""Funding history and daily closes through ccxt, against a local server replaying each
exchange's own JSON (``tests/data/ccxt/history/*.json``, markets from ``tests/data/ccxt/*.json``).

One server holds all four exchanges (routes are keyed by host). Pages are keyed by the query
value that starts them, so the pagination is ccxt's real requests.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xlhedge.errors import InputError
from xlhedge.funding import funding_stats, history_frame, merge_history, suggested_ratio
from xlhedge.sources import QuoteRequest
from xlhedge.sources.history import daily_closes, funding_history

DATA = Path(__file__).parent / "data" / "ccxt"
EXCHANGES = ("binance", "bybit", "okx", "deribit")
SINCE = datetime(2026, 11, 20, tzinfo=UTC)  # the fixtures' first page starts here
TODAY = datetime(2026, 11, 22, tzinfo=UTC)
H = timedelta(hours=1)
CONTRACTS = ["BINANCE:BTCUSD_PERP", "BYBIT:BTCUSD", "OKX:BTC-USD-SWAP", "DERIBIT:BTC-PERPETUAL"]
FUNDING_PATHS = {
    "BINANCE:BTCUSD_PERP": "/dapi.binance.com/dapi/v1/fundingRate",
    "BYBIT:BTCUSD": "/api.bybit.com/v5/market/funding/history",
    "OKX:BTC-USD-SWAP": "/www.okx.com/api/v5/public/funding-rate-history",
    "DERIBIT:BTC-PERPETUAL": "/www.deribit.com/api/v2/public/get_funding_rate_history",
}


def _routes() -> dict[str, Any]:
    routes: dict[str, Any] = {}
    for exchange in EXCHANGES:
        for path in (DATA / f"{exchange}.json", DATA / "history" / f"{exchange}.json"):
            routes.update(json.loads(path.read_text(encoding="utf-8")))
    return routes


@pytest.fixture
def server(serve: Any) -> Any:
    return serve(_routes())


def _history(server: Any, contracts: list[str] = CONTRACTS, since: datetime = SINCE,
             **kwargs: Any) -> Any:
    return funding_history({c: since for c in contracts}, timeout=2.0, api_base=server.base,
                           **kwargs)


def _hits(server: Any, path: str) -> list[str]:
    return [hit for hit in server.hits if hit.startswith(path + "?")]


def _rates(result: Any, contract: str) -> list[tuple[datetime, float]]:
    rows = result.rows[result.rows["Contract"] == contract]
    return list(zip(rows["Time"].dt.to_pydatetime(), rows["Rate"], strict=True))


# --- funding history ----------------------------------------------------------------------------


def test_every_exchange_pages_its_funding_history(server: Any) -> None:
    calls: list[tuple[int, int]] = []
    result = _history(server, progress=lambda done, total: calls.append((done, total)))
    assert result.errors == {}
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    eight = [SINCE + i * 8 * H for i in range(6)]
    # Binance COIN-M: startTime pages forward, ascending; 3 requests, the last answers []
    assert _rates(result, "BINANCE:BTCUSD_PERP") == list(zip(
        eight, [0.0001, 0.0001, -0.00005, 0.0002, 0.0001, 0.0001], strict=True))
    assert _hits(server, FUNDING_PATHS["BINANCE:BTCUSD_PERP"]) == [
        "/dapi.binance.com/dapi/v1/fundingRate?symbol=BTCUSD_PERP&startTime=1795132800000"
        "&limit=1000",
        "/dapi.binance.com/dapi/v1/fundingRate?symbol=BTCUSD_PERP&startTime=1795190400001"
        "&limit=1000",
        "/dapi.binance.com/dapi/v1/fundingRate?symbol=BTCUSD_PERP&startTime=1795276800001"
        "&limit=1000",
    ]
    # Bybit v5: newest-first lists, a startTime..endTime window of 200 intervals per page
    assert _rates(result, "BYBIT:BTCUSD") == list(zip(
        eight, [0.0001, -0.0001, 0.0001, 0.0001, 0.00005, -0.00002], strict=True))
    assert len(_hits(server, FUNDING_PATHS["BYBIT:BTCUSD"])) == 3
    # OKX: `before` gives the newest page, `after` the older ones
    assert _rates(result, "OKX:BTC-USD-SWAP") == list(zip(
        eight, [0.0001, 0.00008, 0.00012, -0.00003, 0.0001, 0.00009], strict=True))
    assert [hit.partition("&before=1795132799999")[2] for hit in
            _hits(server, FUNDING_PATHS["OKX:BTC-USD-SWAP"])] == [
        "&limit=400", "&limit=400&after=1795219200000", "&limit=400&after=1795132800000"]
    # Deribit: hourly rows (the repeated 02:00 row of page 2 counted once)
    assert [t for t, _ in _rates(result, "DERIBIT:BTC-PERPETUAL")] == [
        SINCE + i * H for i in range(6)]
    assert len(_hits(server, FUNDING_PATHS["DERIBIT:BTC-PERPETUAL"])) == 3
    assert result.next_funding == {
        "BINANCE:BTCUSD_PERP": TODAY + 8 * H,  # premiumIndex nextFundingTime
        "BYBIT:BTCUSD": TODAY + 16 * H,  # tickers nextFundingTime
        "OKX:BTC-USD-SWAP": TODAY + 8 * H,  # funding-rate fundingTime
        "DERIBIT:BTC-PERPETUAL": None,  # continuous funding: none, and not asked
    }
    assert not any("get_funding_rate_value" in hit for hit in server.hits)
    assert str(result.rows["Time"].dt.tz) == "UTC"


def test_deribit_hourly_rows_use_the_hourly_rate_not_interest_8h(server: Any) -> None:
    # Deribit API docs, get_funding_rate_history: interest_8h is an 8-hour rate on an hourly
    # row. The fixture's rows: interest_1h 0.00125%, interest_8h 0.01%. Six hours at 0.00125%
    # an hour is 10.95% a year (0.0000125 x 24 x 365); summing interest_8h would say 87.6%.
    result = _history(server, ["DERIBIT:BTC-PERPETUAL"], since=SINCE.replace(tzinfo=None))
    assert [rate for _, rate in _rates(result, "DERIBIT:BTC-PERPETUAL")] == [0.0000125] * 6
    stats = funding_stats(result.rows, SINCE + 6 * H, windows=(1,))
    assert stats.loc["DERIBIT:BTC-PERPETUAL", "Annualised 1d"] == pytest.approx(0.1095)


def test_http_500_fails_one_contract_and_the_others_keep_their_rows(server: Any) -> None:
    server.fail[FUNDING_PATHS["BYBIT:BTCUSD"]] = 500
    result = _history(server)
    assert result.errors == {"BYBIT:BTCUSD": "BYBIT:BTCUSD: HTTP 500 Internal Server Error"}
    assert set(result.rows["Contract"]) == set(CONTRACTS) - {"BYBIT:BTCUSD"}
    assert "BYBIT:BTCUSD" not in result.next_funding
    # merged into what was held: Bybit's old rows stay, the others are updated
    old = history_frame([("BYBIT:BTCUSD", SINCE - 8 * H, 0.0003),
                         ("BINANCE:BTCUSD_PERP", SINCE, 0.0009)])
    merged = merge_history(old, result.rows, now=TODAY)
    assert merged[merged["Contract"] == "BYBIT:BTCUSD"]["Rate"].tolist() == [0.0003]
    assert merged[merged["Contract"] == "BINANCE:BTCUSD_PERP"]["Rate"].tolist()[0] == 0.0001


def test_a_failing_second_page_fails_the_contract(server: Any) -> None:
    # a contract's rows are all or nothing: a later page failing leaves no partial history
    # (OKX v5 error codes: 50011 is "Too Many Requests")
    server.routes["/www.okx.com/api/v5/public/funding-rate-history?instId=BTC-USD-SWAP"
                  "&before=1795132799999&after=1795219200000"] = {
        "code": "50011", "msg": "Too Many Requests", "data": []}
    result = _history(server, ["OKX:BTC-USD-SWAP", "BINANCE:BTCUSD_PERP"])
    assert result.errors["OKX:BTC-USD-SWAP"].startswith("OKX:BTC-USD-SWAP: ")
    assert "Too Many Requests" in result.errors["OKX:BTC-USD-SWAP"]
    assert set(result.rows["Contract"]) == {"BINANCE:BTCUSD_PERP"}


def test_unknown_contracts_and_exchanges_are_named(server: Any) -> None:
    result = _history(server, ["BINANCE:FOOUSD_PERP", "BITMEX:XBTUSD", "BTCUSD"])
    assert result.errors == {
        "BINANCE:FOOUSD_PERP": "contract BINANCE:FOOUSD_PERP not found on binance",
        "BITMEX:XBTUSD": "BITMEX:XBTUSD: no history from bitmex (one of binance, bybit, okx, "
                         "deribit)",
        "BTCUSD": "BTCUSD: no history from an unnamed exchange (one of binance, bybit, okx, "
                  "deribit)",
    }
    assert result.rows.empty and list(result.rows.columns) == ["Contract", "Time", "Rate"]


def test_unreachable_exchange_fails_its_contracts(server: Any) -> None:
    server.fail["/api.bybit.com/v5/market/instruments-info"] = 503
    result = _history(server, ["BYBIT:BTCUSD", "BINANCE:BTCUSD_PERP"])
    assert result.errors == {
        "BYBIT:BTCUSD": "bybit unreachable (HTTP 503 Service Unavailable)"}


def test_the_deadline_cuts_off_a_stalled_contract(server: Any) -> None:
    server.stall.add(FUNDING_PATHS["OKX:BTC-USD-SWAP"])
    calls: list[tuple[int, int]] = []
    started = time.monotonic()
    contracts = ["BINANCE:BTCUSD_PERP", "OKX:BTC-USD-SWAP", "DERIBIT:BTC-PERPETUAL"]
    result = funding_history({c: SINCE for c in contracts}, timeout=5.0, deadline=3.0,
                             api_base=server.base,
                             progress=lambda done, total: calls.append((done, total)))
    assert time.monotonic() - started < 4.5  # the stalled answer would take 10 s
    assert set(result.rows["Contract"]) == {"BINANCE:BTCUSD_PERP"}
    late = "no complete answer within 3 s (Source Timeout)"
    assert result.errors == {"OKX:BTC-USD-SWAP": f"OKX:BTC-USD-SWAP: {late}",
                             "DERIBIT:BTC-PERPETUAL": f"DERIBIT:BTC-PERPETUAL: {late}"}
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_nothing_asked_nothing_fetched(server: Any) -> None:
    result = funding_history({}, api_base=server.base)
    assert (result.rows.empty, result.errors, result.next_funding) == (True, {}, {})
    assert server.hits == []


# --- daily closes -------------------------------------------------------------------------------


def _closes(server: Any, requests: list[QuoteRequest], **kwargs: Any) -> Any:
    return daily_closes(requests, days=4, now=TODAY + 12 * H, timeout=2.0,
                        api_base=server.base, **kwargs)


def test_daily_closes_give_the_suggested_ratio(server: Any) -> None:
    binance, bybit, okx, again = _closes(server, [
        QuoteRequest("SOL", "BINANCE:BTCUSD_PERP"),
        QuoteRequest("SOL", "BYBIT:BTCUSD"),
        QuoteRequest("sol", "OKX:BTC-USD-SWAP"),
        QuoteRequest("SOL", "BINANCE:BTCUSD_PERP"),
    ])
    days = pd.date_range("2026-11-18", periods=4, freq="D", tz="UTC")
    # Binance: BTCUSD_PERP +10%, -10%, +20%; spot SOL/USDT +15%, -15%, +30%; today's open
    # candle is left out
    assert binance.error == ""
    assert binance.hedge.tolist() == [60000, 66000, 59400, 71280]
    assert binance.spot.tolist() == [100, 115, 97.75, 127.075]
    assert list(binance.spot.index) == list(binance.hedge.index) == list(days)
    ratio = suggested_ratio(binance.spot, binance.hedge)
    assert (ratio.ratio, ratio.r_squared) == (pytest.approx(1.5), pytest.approx(1.0))
    # Bybit: hedge +10%, 0, -10%; spot +10%, +10%, -10%: R² 0.75 by hand (see test_funding)
    ratio = suggested_ratio(bybit.spot, bybit.hedge)
    assert (ratio.ratio, ratio.r_squared) == (pytest.approx(1.0), pytest.approx(0.75))
    assert okx.spot.tolist() == binance.spot.tolist() and okx.error == ""
    assert again.spot.equals(binance.spot)
    # each market once: Binance's two, then Bybit's two and OKX's two
    klines = [hit for hit in server.hits if "klines" in hit]
    assert klines[0] == ("/api.binance.com/api/v3/klines?interval=1d&limit=5&symbol=SOLUSDT"
                         "&startTime=1794960000000")
    assert len(klines) == 2


def test_daily_closes_errors_name_the_market(server: Any) -> None:
    server.fail["/www.deribit.com/api/v2/public/get_tradingview_chart_data"] = 500
    deribit, eth, unknown, blank = _closes(server, [
        QuoteRequest("SOL", "DERIBIT:BTC-PERPETUAL"),
        QuoteRequest("ETH", "BINANCE:BTCUSD_PERP"),
        QuoteRequest("SOL", "BINANCE:FOOUSD_PERP"),
        QuoteRequest("SOL", ""),
    ])
    assert deribit.error == "deribit SOL/USDC: HTTP 500 Internal Server Error"
    assert deribit.spot.empty and deribit.hedge.empty
    assert eth.error == "no ETH spot market on binance"
    assert unknown.error == "contract BINANCE:FOOUSD_PERP not found on binance"
    assert blank.error == "no contract to hedge with"


@pytest.mark.parametrize("days", [2, 300, 7.0, True])
def test_days_must_be_a_whole_number_in_range(days: Any) -> None:
    with pytest.raises(InputError, match="days must be a whole number from 3 to 299"):
        daily_closes([QuoteRequest("SOL", "BINANCE:BTCUSD_PERP")], days=days)
