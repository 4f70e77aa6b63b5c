"""Live public market data through ccxt (``ccxt:EXCHANGE``): no API keys, one exchange per source.

For each request: the mark price and funding rate of the contract it names (``EXCHANGE:NATIVE_ID``,
found by the exchange's own market id), and the asset's USD price: the contract's index price when
the asset is the contract's coin, otherwise the last price of the asset's spot market against USD,
USDT or USDC (in that order) on the same exchange. Each quotes() call loads the markets once and
fetches each market once; a failed fetch leaves an ``error`` on the quotes that needed it.

ccxt is an optional extra (``pip install 'xlhedge[live]'``), imported only when a source is made.
"""

from __future__ import annotations

import importlib
import math
import re
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from xlhedge.errors import InputError
from xlhedge.sources.base import Progress, Quote, QuoteRequest, sane_values

Fetched = tuple[dict[str, Any] | None, str]
"""A ccxt call's result, or ``None`` and the short reason it failed."""


@dataclass(frozen=True)
class _Venue:
    """How ccxt serves one exchange."""

    ccxt_id: str
    # ccxt's options.fetchMarkets.types: the market types to load (None: ccxt's default)
    market_types: tuple[str, ...] | None
    # unified calls that, merged, give the contract's markPrice, indexPrice and fundingRate
    contract_calls: tuple[str, ...]
    # whether ccxt's contractSize of an inverse market is its USD value per contract
    inverse_size_in_usd: bool
    note: str = ""


VENUES: dict[str, _Venue] = {
    # COIN-M and USDT-M markets both live in ccxt's "binance" (binancecoinm loads COIN-M only,
    # without the spot markets a cross-hedge needs); dapi premiumIndex gives all three numbers.
    "binance": _Venue("binance", ("spot", "linear", "inverse"), ("fetch_funding_rate",), True),
    # v5 tickers give all three; ccxt's inverse contractSize is the minimum order quantity.
    "bybit": _Venue("bybit", ("spot", "linear", "inverse"), ("fetch_funding_rate",), False),
    # funding-rate has no prices, mark-price has no index: the asset is priced from spot.
    "okx": _Venue("okx", ("spot", "swap"), ("fetch_funding_rate", "fetch_mark_price"), True),
    # XBTUSD's contractSize is in satoshis, not its 1 USD.
    "bitmex": _Venue(
        "bitmex", None, ("fetch_funding_rate",), False, note="BitMEX shut down on 2026-09-23"
    ),
    # the ticker has mark and index prices, get_funding_rate_value the 8-hour funding rate.
    "deribit": _Venue("deribit", None, ("fetch_ticker", "fetch_funding_rate"), True),
}

_SPOT_QUOTES = ("USD", "USDT", "USDC")
_CONTRACT_VALUES = (("markPrice", "mark price"), ("fundingRate", "funding rate"))


def _import_ccxt(spec: str) -> ModuleType:
    try:
        return importlib.import_module("ccxt")
    except ImportError:
        raise InputError(
            f"source {spec}", "needs the optional ccxt package: pip install 'xlhedge[live]'"
        ) from None


def _redirect_urls(urls: Any, api_base: str, implode: Callable[[str], str]) -> Any:
    """ccxt's ``urls['api']`` with every URL moved under ``api_base``, keeping host and path.

    ``https://dapi.binance.com/dapi/v1`` becomes ``{api_base}/dapi.binance.com/dapi/v1``;
    ``implode`` fills ccxt's ``{hostname}`` placeholders first.
    """
    if isinstance(urls, str):
        parts = urlsplit(implode(urls))
        return f"{api_base.rstrip('/')}/{parts.netloc}{parts.path}"
    if isinstance(urls, dict):
        return {key: _redirect_urls(value, api_base, implode) for key, value in urls.items()}
    return urls


class CcxtSource:
    """Quotes from one exchange's public REST API through ccxt's sync client."""

    def __init__(
        self, exchange: str, *, timeout: float, api_base: str | None = None,
        deadline: float = 30.0,
    ) -> None:
        self.name = f"ccxt:{exchange}"
        self.exchange = exchange
        self.timeout = timeout
        self.deadline = deadline
        self._ccxt = _import_ccxt(self.name)
        venue = VENUES[exchange]
        factory = getattr(self._ccxt, venue.ccxt_id, None)
        if factory is None:
            detail = f" ({venue.note})" if venue.note else ""
            raise InputError(
                f"source {self.name}",
                f"is not available: ccxt {self._ccxt.__version__} has no {venue.ccxt_id}{detail}",
            )
        config: dict[str, Any] = {"timeout": round(timeout * 1000), "enableRateLimit": True}
        if venue.market_types is not None:
            config["options"] = {"fetchMarkets": {"types": list(venue.market_types)}}
        self._venue = venue
        self._client: Any = factory(config)
        if api_base is not None:
            client = self._client
            client.urls["api"] = _redirect_urls(
                client.urls["api"], api_base, client.implode_hostname
            )

    def quotes(
        self, requests: Sequence[QuoteRequest], progress: Progress | None = None
    ) -> list[Quote]:
        """One quote per request; whatever is not fetched within ``deadline`` seconds is stale
        (ccxt's own timeout bounds each socket read, not a slowly dripping answer)."""
        if not requests:
            return []
        done: list[Quote] = []
        cancelled = threading.Event()
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self._quotes(requests, done, cancelled, progress)
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=work, name=f"xlhedge {self.name}", daemon=True)
        worker.start()
        worker.join(self.deadline)
        cancelled.set()
        if failure:
            raise failure[0]
        quotes = list(done[:len(requests)])
        if len(quotes) < len(requests):
            late = Quote(error=f"{self.exchange}: no complete answer within {self.deadline:g} s "
                         "(Source Timeout)")
            for _ in range(len(requests) - len(quotes)):
                quotes.append(late)
                if progress is not None:
                    progress(len(quotes), len(requests))
        return quotes

    def _quotes(
        self, requests: Sequence[QuoteRequest], done: list[Quote], cancelled: threading.Event,
        progress: Progress | None,
    ) -> None:
        by_id, down = self._load_markets()
        cache: dict[tuple[str, str], Fetched] = {}
        for request in requests:
            quote = Quote(error=down) if down else self._quote(request, by_id, cache)
            if cancelled.is_set():
                return
            done.append(quote)
            if progress is not None:
                progress(len(done), len(requests))

    def _load_markets(self) -> tuple[dict[str, list[dict[str, Any]]], str]:
        """The markets by upper-case id, or why every quote is stale."""
        try:
            self._client.load_markets(reload=True)
        except Exception as exc:
            state = "unreachable" if isinstance(exc, self._ccxt.NetworkError) else "markets failed"
            return {}, f"{self.exchange} {state} ({self._reason(exc)})"
        by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for market_id, markets in self._client.markets_by_id.items():
            by_id[market_id.upper()].extend(markets)
        return by_id, ""

    def _quote(
        self,
        request: QuoteRequest,
        by_id: dict[str, list[dict[str, Any]]],
        cache: dict[tuple[str, str], Fetched],
    ) -> Quote:
        errors: list[str] = []
        stamps: list[int] = []
        contract = request.contract.strip()
        market: dict[str, Any] | None = None
        data: dict[str, Any] = {}
        if contract:
            venue, _, native = contract.partition(":") if ":" in contract else ("", "", contract)
            if venue and venue.lower() != self.exchange:
                errors.append(f"contract {contract} is not on {self.exchange}")
            elif (market := self._contract_market(native, by_id)) is None:
                errors.append(f"contract {contract} not found on {self.exchange}")
            else:
                data, error = self._contract_data(market["symbol"], cache)
                missing = [name for key, name in _CONTRACT_VALUES if data.get(key) is None]
                if error or missing:
                    errors.append(f"{contract}: {error or 'no ' + ' or '.join(missing)}")
                stamps += [data["timestamp"]] if data.get("timestamp") else []
        asset = request.asset.strip().upper()
        asset = self._client.safe_currency_code(asset) if asset else ""  # XBT -> BTC
        price = None
        if market is not None and market["base"] == asset and data.get("indexPrice") is not None:
            price = data["indexPrice"]
        elif asset:
            ticker, error = self._spot_ticker(asset, cache)
            price = _ticker_price(ticker) if ticker else None
            stamps += [ticker["timestamp"]] if ticker and ticker.get("timestamp") else []
            if price is None:
                errors.append(error or f"{asset}: spot ticker has no price")
        same_coin = market is not None and market["base"] == asset
        price, mark, funding = sane_values(
            _number(price), _number(data.get("markPrice")), _number(data.get("fundingRate")),
            same_coin, errors, contract or asset)
        if contract and same_coin is False and market is not None and mark is not None:
            _, mark, _ = sane_values(_number(data.get("indexPrice")), mark, None, True, errors,
                                     contract, price_name="index price")
        values = (price, mark, funding)
        updated = None
        if any(value is not None for value in values):
            updated = (
                datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else datetime.now(UTC)
            )
        return Quote(
            price=price,
            mark_price=mark,
            funding_rate=funding,
            updated=updated,
            error="; ".join(errors),
            contract_size=self._contract_size(market),
        )

    def _contract_market(
        self, native: str, by_id: dict[str, list[dict[str, Any]]]
    ) -> dict[str, Any] | None:
        """The contract a native id (any case) or ccxt symbol names; of several markets sharing
        an id (spot and linear BTCUSDT), a perpetual first, inverse before linear."""
        unified = self._client.markets.get(native)
        markets = by_id.get(native.upper(), []) + ([unified] if unified else [])
        contracts = [m for m in markets if m.get("contract")]
        contracts.sort(key=lambda m: (not m.get("swap"), not m.get("inverse")))
        return contracts[0] if contracts else None

    def _fetch(self, method: str, symbol: str, cache: dict[tuple[str, str], Fetched]) -> Fetched:
        """``client.method(symbol)``, once per call."""
        if (method, symbol) not in cache:
            try:
                cache[method, symbol] = (getattr(self._client, method)(symbol), "")
            except Exception as exc:
                cache[method, symbol] = (None, self._reason(exc))
        return cache[method, symbol]

    def _contract_data(
        self, symbol: str, cache: dict[tuple[str, str], Fetched]
    ) -> tuple[dict[str, Any], str]:
        """The venue's contract calls merged (first value wins), and the first error."""
        merged: dict[str, Any] = {}
        errors = []
        for method in self._venue.contract_calls:
            result, error = self._fetch(method, symbol, cache)
            errors.append(error)
            for key in ("markPrice", "indexPrice", "fundingRate", "timestamp"):
                if merged.get(key) is None and result is not None:
                    merged[key] = result.get(key)
        return merged, next(filter(None, errors), "")

    def _spot_ticker(self, asset: str, cache: dict[tuple[str, str], Fetched]) -> Fetched:
        markets = self._client.markets
        for quote in _SPOT_QUOTES:
            symbol = f"{asset}/{quote}"
            if markets.get(symbol, {}).get("spot"):
                ticker, error = self._fetch("fetch_ticker", symbol, cache)
                return ticker, f"{symbol}: {error}" if error else ""
        return None, f"no {asset} spot market on {self.exchange}"

    def _contract_size(self, market: dict[str, Any] | None) -> float | None:
        """ccxt's contractSize as xlhedge's contract value, when it means that."""
        if market is None or (market.get("inverse") and not self._venue.inverse_size_in_usd):
            return None
        return _float(market.get("contractSize"))

    def _reason(self, exc: Exception) -> str:
        """A short reason: the HTTP status and ccxt's message without exchange, method and URL."""
        text = re.sub(rf"^{re.escape(self._client.id)} (?:[A-Z]+ \S+)?", "", str(exc)).strip()
        response = _http_response(exc)
        if response is not None:
            status = f"{response.status_code} {response.reason or ''}".strip()
            body = text.removeprefix(status).strip()
            text = f"HTTP {status}" + (f": {body}" if body.strip("{}[] ") else "")
        elif isinstance(exc, LookupError | TypeError | AttributeError) or (
                isinstance(exc, ValueError) and not isinstance(exc, self._ccxt.BaseError)):
            text = "the exchange sent an empty or unexpected reply"  # ccxt parsing [] or {}
        elif not isinstance(exc, self._ccxt.BaseError):
            text = f"{type(exc).__name__}: {text}"
        elif not text:
            if isinstance(exc, self._ccxt.RequestTimeout):
                text = f"timeout after {self.timeout:g} s"
            elif isinstance(exc, self._ccxt.NetworkError):
                text = "connection failed"
            else:
                text = type(exc).__name__
        return text if len(text) <= 100 else text[:99] + "…"


def _http_response(exc: BaseException | None) -> Any:
    """The HTTP error response behind a ccxt error (requests' HTTPError is in its chain)."""
    while exc is not None:
        response = getattr(exc, "response", None)
        if isinstance(getattr(response, "status_code", None), int):
            return response
        exc = exc.__cause__ or exc.__context__
    return None


def _ticker_price(ticker: dict[str, Any]) -> float | None:
    """The last price, else the bid/ask midpoint."""
    if ticker.get("last") is not None:
        return float(ticker["last"])
    bid, ask = ticker.get("bid"), ticker.get("ask")
    return (float(bid) + float(ask)) / 2 if bid is not None and ask is not None else None


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _number(value: Any) -> float | None:
    """A reply's number; text that is no number is none (the sanity rules then say so)."""
    try:
        return _float(value)
    except (TypeError, ValueError):
        return math.nan
