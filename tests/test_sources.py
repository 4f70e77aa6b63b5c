"""Price sources: table, CSV, and ccxt against a local server replaying exchange-format JSON.

The ccxt tests never touch the internet: every exchange URL is redirected to a server on
127.0.0.1 (``get_source(..., api_base=...)``) that serves ``tests/data/ccxt/<exchange>.json``, and
a socket guard fails the test if anything else is contacted.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from exchange_server import ExchangeServer

from xlhedge.errors import InputError, XlhedgeError
from xlhedge.sources import (
    CcxtSource,
    CsvSource,
    PriceSource,
    Progress,
    Quote,
    QuoteRequest,
    TableSource,
    get_source,
)

DATA = Path(__file__).parent / "data" / "ccxt"
NOV22 = datetime(2026, 11, 22, tzinfo=UTC)


def _progress() -> tuple[list[tuple[int, int]], Progress]:
    """A progress callback and the calls it received."""
    calls: list[tuple[int, int]] = []
    return calls, lambda done, total: calls.append((done, total))


# --- get_source ---------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", ["", "table", " TABLE "])
def test_table_is_the_default(spec: str) -> None:
    assert isinstance(get_source(spec), TableSource)


@pytest.mark.parametrize("spec", ["tables", "csv:", "ccxt:kraken", "ccxt", "http://x", "table:x"])
def test_unknown_spec_lists_the_valid_forms(spec: str) -> None:
    with pytest.raises(InputError, match=r'"table", "csv:PATH" or "ccxt:EXCHANGE".*binance, bybit'):
        get_source(spec)


def test_sources_name_themselves(tmp_path: Path) -> None:
    assert get_source("table").name == "table"
    assert get_source(f"csv:{tmp_path / 'p.csv'}").name == f"csv:{tmp_path / 'p.csv'}"


def test_ccxt_missing_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ccxt", None)  # import ccxt raises ImportError
    with pytest.raises(XlhedgeError, match=r"pip install 'xlhedge\[live\]'"):
        get_source("ccxt:binance")


def test_bitmex_without_ccxt_support_says_so() -> None:
    ccxt = pytest.importorskip("ccxt")
    if hasattr(ccxt, "bitmex"):
        pytest.skip("this ccxt still has bitmex")
    with pytest.raises(InputError, match=r"ccxt:bitmex is not available: ccxt .* has no bitmex"):
        get_source("ccxt:bitmex")


def test_timeout_must_be_positive() -> None:
    with pytest.raises(InputError, match="timeout must be > 0"):
        get_source("ccxt:binance", timeout=0)


# --- table --------------------------------------------------------------------------------------


def test_table_source_leaves_prices_as_typed() -> None:
    calls, progress = _progress()
    source: PriceSource = get_source("table")
    requests = [QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"), QuoteRequest("SOL", "")]
    assert source.quotes(requests, progress) == [Quote(), Quote()]
    assert calls == [(1, 2), (2, 2)]


# --- csv ----------------------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str, name: str = "prices.csv") -> CsvSource:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    os.utime(path, (NOV22.timestamp(), NOV22.timestamp()))
    source = get_source(f"csv:{path}")
    assert isinstance(source, CsvSource)
    return source


def test_csv_headings_ignore_case_spaces_and_underscores(tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "\ufeffAsset, Contract ,PRICE,Mark Price,funding_rate,notes\n"
        "btc,binance:btcusd_perp,62000,62015.5,0.01%,ignored\n",
    )
    calls, progress = _progress()
    [quote] = source.quotes([QuoteRequest("BTC", "BINANCE:BTCUSD_PERP")], progress)
    assert quote.funding_rate == pytest.approx(0.0001)  # 0.01%
    assert quote == Quote(
        price=62000.0, mark_price=62015.5, funding_rate=quote.funding_rate, updated=NOV22
    )
    assert calls == [(1, 1)]


def test_csv_contract_row_wins_over_asset_row(tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "asset,contract,price,mark_price,funding_rate\n"
        "BTC,,61000,61001,0.0003\n"
        "BTC,BINANCE:BTCUSD_PERP,62000,62015,0.0001\n"
        "BTC,OKX:BTC-USD-SWAP,,62011,0.0002\n",
    )
    binance, okx, bybit = source.quotes(
        [
            QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"),
            QuoteRequest("BTC", "OKX:BTC-USD-SWAP"),
            QuoteRequest("BTC", "BYBIT:BTCUSD"),
        ]
    )
    assert (binance.price, binance.mark_price, binance.funding_rate) == (62000, 62015, 0.0001)
    # OKX's row has no price: the asset's price comes from another BTC row
    assert (okx.price, okx.mark_price, okx.funding_rate) == (62000, 62011, 0.0002)
    # no Bybit row: the asset-only BTC row is the BTC contract's
    assert (bybit.price, bybit.mark_price, bybit.funding_rate) == (62000, 61001, 0.0003)


def test_csv_cross_hedge_takes_price_from_asset_and_mark_from_contract(tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "asset,contract,price,mark price,funding rate\n"
        "SOL,,142.5,142.4,0.0002\n"
        ",BINANCE:BTCUSD_PERP,62000,62015,0.0001\n",
    )
    sol, btc = source.quotes(
        [QuoteRequest("SOL", "BINANCE:BTCUSD_PERP"), QuoteRequest("BTC", "BINANCE:BTCUSD_PERP")]
    )
    assert (sol.price, sol.mark_price, sol.funding_rate, sol.error) == (142.5, 62015, 0.0001, "")
    # a contract-only row's price is its coin's (BTC, from the registry), never SOL's
    assert (btc.price, btc.mark_price) == (62000, 62015)


def test_csv_cross_hedge_never_takes_another_coins_mark(tmp_path: Path) -> None:
    source = _csv(tmp_path, "asset,price,mark price,funding rate\nSOL,142.5,142.4,0.0002\n")
    [quote] = source.quotes([QuoteRequest("SOL", "BINANCE:BTCUSD_PERP")])
    assert (quote.price, quote.mark_price, quote.funding_rate) == (142.5, None, None)
    assert quote.error == "prices.csv: no mark price or funding rate for BINANCE:BTCUSD_PERP"


def test_csv_missing_rows_and_columns(tmp_path: Path) -> None:
    source = _csv(tmp_path, "asset,price\nBTC,62000\n\n , \n")
    btc, eth, blank = source.quotes(
        [QuoteRequest("btc", "BINANCE:BTCUSD_PERP"), QuoteRequest("ETH", ""), QuoteRequest("", "")]
    )
    # the file has no mark price or funding rate column: not reported missing
    assert (btc.price, btc.error, btc.updated) == (62000, "", NOV22)
    assert eth == Quote(error="prices.csv: no price for ETH")
    assert blank == Quote()


def test_csv_missing_file_names_it(tmp_path: Path) -> None:
    source = get_source(f"csv:{tmp_path / 'nope.csv'}")
    with pytest.raises(InputError, match=r"price file .*nope\.csv does not exist"):
        source.quotes([QuoteRequest("BTC", "")])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "asset,price\nBTC,62000\nETH,abc\n",
            r"row 3 column 'price' must be a number \(got 'abc'\)",
        ),
        ("asset,mark price\nBTC,-1\n", r"row 2 column 'mark price' must be > 0 \(got '-1'\)"),
        ("asset,funding rate\nBTC,nan\n", r"row 2 column 'funding rate' must be a finite number"),
        ("asset,price\n,62000\n", r"row 2 needs an asset or a contract"),
        (
            "coin,price\nBTC,62000\n",
            r"needs an asset or contract column \(got \['coin', 'price'\]\)",
        ),
        ("asset,last\nBTC,62000\n", r"needs a price, mark price or funding rate column"),
        ("", r"is empty"),
    ],
)
def test_csv_bad_file_names_file_row_and_column(tmp_path: Path, text: str, message: str) -> None:
    source = _csv(tmp_path, text)
    with pytest.raises(InputError, match=r"price file .*prices\.csv " + message):
        source.quotes([QuoteRequest("BTC", "")])


def test_csv_is_read_on_every_call(tmp_path: Path) -> None:
    source = _csv(tmp_path, "asset,price\nBTC,62000\n")
    assert source.quotes([QuoteRequest("BTC")])[0].price == 62000
    (tmp_path / "prices.csv").write_text("asset,price\nBTC,63000\n", encoding="utf-8")
    assert source.quotes([QuoteRequest("BTC")])[0].price == 63000


def test_csv_reads_excel_ansi_files(tmp_path: Path) -> None:
    path = tmp_path / "ansi.csv"
    path.write_bytes("asset,price,note\nBTC,62000,caf\xe9\n".encode("cp1252"))
    assert get_source(f"csv:{path}").quotes([QuoteRequest("BTC")])[0].price == 62000


# --- ccxt against a local server ----------------------------------------------------------------


def _source(server: ExchangeServer, exchange: str, timeout: float = 5.0) -> CcxtSource:
    source = get_source(f"ccxt:{exchange}", timeout=timeout, api_base=server.base)
    assert isinstance(source, CcxtSource)
    return source


def _ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


BINANCE_MARKETS = [
    "/api.binance.com/api/v3/exchangeInfo",
    "/fapi.binance.com/fapi/v1/exchangeInfo",
    "/dapi.binance.com/dapi/v1/exchangeInfo",
]


def test_binance_coin_m_end_to_end(serve: Any) -> None:
    server = serve("binance")
    calls, progress = _progress()
    requests = [
        QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"),
        QuoteRequest("SOL", "BINANCE:BTCUSD_PERP"),  # cross-hedge: SOL priced from spot SOL/USDT
        QuoteRequest("eth", "binance:ethusd_perp"),
        QuoteRequest("SOL", "OKX:BTC-USD-SWAP"),
        QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"),
        QuoteRequest("BTC", "BINANCE:FOOUSD_PERP"),
        QuoteRequest("XBT", ""),  # ccxt's XBT is BTC: priced from spot BTC/USDT
        QuoteRequest("BTC", "BINANCE:BTC/USD:BTC"),  # ccxt's unified symbol
    ]
    btc, sol, eth, elsewhere, again, unknown, xbt, unified = _source(server, "binance").quotes(
        requests, progress
    )
    assert btc == Quote(
        price=62001.12727273,  # premiumIndex indexPrice
        mark_price=62015.3,
        funding_rate=0.0001,  # lastFundingRate
        updated=_ms(1795305600000),
        contract_size=100.0,  # COIN-M BTC: 100 USD per contract
    )
    assert again == unified == btc
    assert sol == Quote(
        price=142.35,
        mark_price=62015.3,
        funding_rate=0.0001,
        updated=_ms(1795305599000),
        contract_size=100.0,
    )
    assert (eth.price, eth.mark_price, eth.funding_rate, eth.contract_size) == (
        2300.4,
        2301.25,
        -0.000025,
        10.0,
    )
    assert elsewhere == Quote(
        price=142.35,
        updated=_ms(1795305599000),
        error="contract OKX:BTC-USD-SWAP is not on binance",
    )
    assert unknown.error == "contract BINANCE:FOOUSD_PERP not found on binance"
    assert (unknown.mark_price, unknown.price) == (None, 62030.01)
    assert (xbt.price, xbt.mark_price, xbt.error) == (62030.01, None, "")
    assert calls == [(i, 8) for i in range(1, 9)]
    # one load of the markets, one request per distinct market, nothing else
    assert server.hits == [
        *BINANCE_MARKETS,
        "/dapi.binance.com/dapi/v1/premiumIndex?symbol=BTCUSD_PERP",
        "/api.binance.com/api/v3/ticker/24hr?symbol=SOLUSDT",
        "/dapi.binance.com/dapi/v1/premiumIndex?symbol=ETHUSD_PERP",
        "/api.binance.com/api/v3/ticker/24hr?symbol=BTCUSDT",
    ]


def test_no_requests_no_calls(serve: Any) -> None:
    server = serve("binance")
    assert _source(server, "binance").quotes([]) == []
    assert server.hits == []


def test_binance_linear_id_shared_with_spot_picks_the_perpetual(serve: Any) -> None:
    server = serve("binance")
    [quote] = _source(server, "binance").quotes([QuoteRequest("BTC", "BINANCE:BTCUSDT")])
    assert quote == Quote(
        price=62035.21,
        mark_price=62040.1,
        funding_rate=0.0001,
        updated=_ms(1795305600000),
        contract_size=1.0,  # linear: 1 BTC per contract
    )
    assert server.hits[-1] == "/fapi.binance.com/fapi/v1/premiumIndex?symbol=BTCUSDT"


def test_bybit_inverse_end_to_end(serve: Any) -> None:
    server = serve("bybit")
    btc, sol, eth = _source(server, "bybit").quotes(
        [
            QuoteRequest("BTC", "BYBIT:BTCUSD"),
            QuoteRequest("SOL", "BYBIT:BTCUSD"),
            QuoteRequest("ETH", "BYBIT:ETHUSD"),
        ]
    )
    # v5 tickers: markPrice, indexPrice, fundingRate; ccxt's inverse contractSize is the
    # minimum order quantity, not the 1 USD contract value, so it is not reported
    assert btc == Quote(
        price=62003.48, mark_price=62008.27, funding_rate=0.00005, updated=_ms(1795305602000)
    )
    assert sol == Quote(
        price=142.31, mark_price=62008.27, funding_rate=0.00005, updated=_ms(1795305602000)
    )
    assert (eth.price, eth.mark_price, eth.funding_rate) == (2300.52, 2300.9, -0.0001)
    assert server.hits[:5] == [
        "/api.bybit.com/v5/market/instruments-info?category=spot",
        "/api.bybit.com/v5/market/instruments-info?category=linear&limit=1000",
        "/api.bybit.com/v5/market/instruments-info?category=linear&limit=1000&status=PreLaunch",
        "/api.bybit.com/v5/market/instruments-info?category=inverse&limit=1000",
        "/api.bybit.com/v5/market/instruments-info?category=inverse&limit=1000&status=PreLaunch",
    ]
    assert len(server.hits) == 8  # + two inverse tickers and one spot ticker


def test_okx_inverse_swap_end_to_end(serve: Any) -> None:
    server = serve("okx")
    btc, sol = _source(server, "okx").quotes(
        [QuoteRequest("BTC", "OKX:BTC-USD-SWAP"), QuoteRequest("SOL", "OKX:BTC-USD-SWAP")]
    )
    # funding-rate has no prices and mark-price no index: BTC is priced from spot BTC/USDT
    assert btc == Quote(
        price=62020.1,
        mark_price=62011.4,
        funding_rate=0.000079238688534,
        updated=_ms(1795305600500),
        contract_size=100.0,
    )
    assert (sol.price, sol.mark_price, sol.error) == (142.28, 62011.4, "")
    assert len(server.hits) == 6  # 2 instrument lists, funding, mark, 2 spot tickers


def test_deribit_perpetual_end_to_end(serve: Any) -> None:
    server = serve("deribit")
    btc, sol = _source(server, "deribit").quotes(
        [QuoteRequest("BTC", "DERIBIT:BTC-PERPETUAL"), QuoteRequest("SOL", "DERIBIT:BTC-PERPETUAL")]
    )
    assert btc == Quote(
        price=62004.97,
        mark_price=62012.06,
        funding_rate=0.00002131,
        updated=_ms(1795305600100),
        contract_size=10.0,
    )
    assert (sol.price, sol.mark_price) == (142.25, 62012.06)  # spot SOL_USDC


def test_http_500_fails_only_the_quotes_that_need_it(serve: Any) -> None:
    server = serve("binance")
    server.fail["/dapi.binance.com/dapi/v1/premiumIndex"] = 500
    btc, sol, eth = _source(server, "binance").quotes(
        [
            QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"),
            QuoteRequest("SOL", ""),
            QuoteRequest("ETH", "BINANCE:ETHUSD_PERP"),
        ]
    )
    assert btc.error == "BINANCE:BTCUSD_PERP: HTTP 500 Internal Server Error"
    assert (btc.mark_price, btc.funding_rate, btc.price) == (None, None, 62030.01)  # spot instead
    assert btc.contract_size == 100.0  # from the markets, which loaded
    assert sol == Quote(price=142.35, updated=_ms(1795305599000))
    assert eth.error == (
        "BINANCE:ETHUSD_PERP: HTTP 500 Internal Server Error; no ETH spot market on binance"
    )


def test_timeout_fails_only_the_quotes_that_need_it(serve: Any) -> None:
    server = serve("binance")
    server.stall.add("/api.binance.com/api/v3/ticker/24hr")
    btc, sol = _source(server, "binance", timeout=0.5).quotes(
        [QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"), QuoteRequest("SOL", "BINANCE:BTCUSD_PERP")]
    )
    assert (btc.price, btc.mark_price, btc.error) == (62001.12727273, 62015.3, "")
    assert (sol.price, sol.mark_price) == (None, 62015.3)
    assert sol.error == "SOL/USDT: timeout after 0.5 s"


@pytest.mark.parametrize(
    ("trouble", "error"),
    [
        ("stall", "binance unreachable (timeout after 0.5 s)"),
        ("fail", "binance unreachable (HTTP 503 Service Unavailable)"),
        ("down", "binance unreachable (connection failed)"),
    ],
)
def test_unreachable_exchange_stales_every_quote(serve: Any, trouble: str, error: str) -> None:
    server = serve("binance")
    source = _source(server, "binance", timeout=0.5)
    if trouble == "stall":
        server.stall.add(BINANCE_MARKETS[0])
    elif trouble == "fail":
        server.fail[BINANCE_MARKETS[0]] = 503
    else:
        server.shutdown()
        server.server_close()
    calls, progress = _progress()
    requests = [QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"), QuoteRequest("SOL")]
    assert source.quotes(requests, progress) == [Quote(error=error), Quote(error=error)]
    assert calls == [(1, 2), (2, 2)]


def test_the_guard_would_catch_a_call_to_the_exchange(no_internet: list[str]) -> None:
    pytest.importorskip("ccxt")
    source = get_source("CCXT:Binance", timeout=0.5)  # no api_base: the real exchange
    assert source.name == "ccxt:binance"
    [quote] = source.quotes([QuoteRequest("BTC", "BINANCE:BTCUSD_PERP")])
    assert quote.error == "binance unreachable (connection failed)"
    assert no_internet == ["lookup api.binance.com"]
    no_internet.clear()


def test_redirect_covers_every_api_url(serve: Any) -> None:
    for exchange in ("binance", "bybit", "okx", "deribit"):
        server = serve(exchange)
        urls = _source(server, exchange)._client.urls["api"]
        flat = urls.values() if isinstance(urls, dict) else [urls]
        assert all(str(url).startswith(server.base + "/") for url in flat), exchange


# --- issue 13: implausible data, bounded time, clear messages -----------------------------------

BTC_PREMIUM = "/dapi.binance.com/dapi/v1/premiumIndex?symbol=BTCUSD_PERP"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("asset,price\nBTC,62,000\n", r"row 2: the row has 3 fields but the header has 2"),
        ("asset,price,mark price\nBTC,62000\n", r"row 2: the row has 2 fields but the header"),
        (
            "asset,price\nBTC,62000\nETH,3000\nBTC,63000\n",
            r"rows 2 and 4 both give BTC with different price: keep one row",
        ),
        (
            "asset,contract,mark price\nBTC,BINANCE:BTCUSD_PERP,1\nBTC,binance:btcusd_perp,2\n",
            r"rows 2 and 3 both give BTC BINANCE:BTCUSD_PERP with different mark price",
        ),
        ("\x00\x01\x02asset,price\n", r"is not a text/CSV file"),
    ],
)
def test_csv_extra_fields_and_conflicting_rows_are_errors(
    tmp_path: Path, text: str, message: str
) -> None:
    source = _csv(tmp_path, text.replace("row 2: ", ""))
    with pytest.raises(InputError, match=r"price file .*prices\.csv " + message.replace(
            "row 2: ", "line 2: ")):
        source.quotes([QuoteRequest("BTC", "")])


def test_csv_identical_duplicate_rows_are_fine(tmp_path: Path) -> None:
    source = _csv(tmp_path, "asset,price\nBTC,62000\nBTC,62000\n")
    assert source.quotes([QuoteRequest("BTC")])[0].price == 62000


def test_csv_semicolon_price_file(tmp_path: Path) -> None:
    source = _csv(tmp_path, "asset;price\nBTC;62000\n")
    assert source.quotes([QuoteRequest("BTC")])[0].price == 62000


def test_csv_implausible_values_are_stale(tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "asset,contract,price,mark price,funding rate\n"
        "BTC,BINANCE:BTCUSD_PERP,0.00000001,62015,0.0001\n"
        "ETH,BINANCE:ETHUSD_PERP,3000,3001,5%\n",
    )
    btc, eth, sol = source.quotes([QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"),
                                   QuoteRequest("ETH", "BINANCE:ETHUSD_PERP"),
                                   QuoteRequest("SOL", "BINANCE:BTCUSD_PERP")])
    assert (btc.price, btc.mark_price, btc.funding_rate) == (None, None, 0.0001)
    assert "differ by more than 20%: both rejected" in btc.error
    assert (eth.price, eth.mark_price, eth.funding_rate) == (3000, 3001, None)
    assert "funding rate 0.05 rejected (must be within +-3% per interval)" in eth.error
    assert sol.mark_price is None  # the cross-hedge's mark is the same implausible one
    assert not any(q.error.startswith("stale") for q in (btc, eth, sol))


def test_implausible_exchange_data_is_stale(serve: Any) -> None:
    server = serve("binance")
    body = server.routes[BTC_PREMIUM]
    server.routes[BTC_PREMIUM] = [{**body[0], "indexPrice": "0.00000001"}]
    server.routes["/dapi.binance.com/dapi/v1/premiumIndex?symbol=ETHUSD_PERP"] = [
        {**body[0], "symbol": "ETHUSD_PERP", "markPrice": "-5", "lastFundingRate": "0.5"}]
    btc, eth = _source(server, "binance").quotes(
        [QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"), QuoteRequest("ETH", "BINANCE:ETHUSD_PERP")]
    )
    assert (btc.price, btc.mark_price, btc.funding_rate) == (None, None, 0.0001)
    assert "index price" not in btc.error and "differ by more than 20%" in btc.error
    assert eth.mark_price is None and eth.funding_rate is None
    assert "mark price -5 rejected" in eth.error and "funding rate 0.5 rejected" in eth.error


def test_refresh_keeps_the_last_good_values_of_a_stale_quote(tmp_path: Path) -> None:
    import pandas as pd

    from xlhedge.inventory import refresh_table

    class Bad:
        name = "bad"

        def quotes(self, requests: Any, progress: Any = None) -> list[Quote]:
            return [Quote(error="binance unreachable (connection failed)")]

    table = pd.DataFrame({"Asset": ["BTC"], "Quantity": [1.0],
                          "Contract": ["BINANCE:BTCUSD_PERP"], "Price": [60000.0],
                          "Mark Price": [60010.0]})
    result = refresh_table(table, Bad())
    assert result.loc[0, "Price"] == 60000 and result.loc[0, "Mark Price"] == 60010
    assert result.loc[0, "Status"].startswith("stale: binance unreachable (connection failed)")
    assert "stale: stale" not in result.loc[0, "Status"]


def test_empty_exchange_reply_is_a_clear_message(serve: Any) -> None:
    server = serve("binance")
    server.routes[BTC_PREMIUM] = []
    [btc] = _source(server, "binance").quotes([QuoteRequest("BTC", "BINANCE:BTCUSD_PERP")])
    assert "the exchange sent an empty or unexpected reply" in btc.error
    assert "IndexError" not in btc.error


def test_a_dripping_server_is_cut_off_at_the_deadline(serve: Any) -> None:
    server = serve("binance")
    server.drip.add("/dapi.binance.com/dapi/v1/premiumIndex")
    source = get_source("ccxt:binance", timeout=0.5, api_base=server.base, deadline=1.5)
    calls, progress = _progress()
    started = time.monotonic()
    btc, sol = source.quotes([QuoteRequest("BTC", "BINANCE:BTCUSD_PERP"), QuoteRequest("SOL")],
                             progress)
    assert time.monotonic() - started < 3.0  # each read is quick; the answer never ends
    assert btc == sol == Quote(error="binance: no complete answer within 1.5 s (Source Timeout)")
    assert calls == [(1, 2), (2, 2)]


def test_source_timeout_must_be_positive() -> None:
    pytest.importorskip("ccxt")
    with pytest.raises(InputError, match="source timeout must be > 0"):
        get_source("ccxt:binance", deadline=0)


def test_csv_cross_hedge_row_is_not_held_to_the_band(tmp_path: Path) -> None:
    source = _csv(tmp_path, "asset,contract,price,mark price\nSOL,BINANCE:BTCUSD_PERP,150,62015\n")
    [sol] = source.quotes([QuoteRequest("SOL", "BINANCE:BTCUSD_PERP")])
    assert (sol.price, sol.mark_price, sol.error) == (150, 62015, "")
