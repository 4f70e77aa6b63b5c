"""Funding-rate history and daily closes through ccxt's public API (no API keys).

Contracts are ``EXCHANGE:NATIVE_ID`` (``BINANCE:BTCUSD_PERP``), found among the exchange's markets
by their native id as :class:`~xlhedge.sources.live.CcxtSource` finds them, so ccxt is told the
inverse market (``BTC/USD:BTC``). Each call loads each exchange's markets once and runs in a worker
thread: what is not fetched within ``deadline`` seconds, like whatever failed, gets an error naming
the contract, and the caller keeps what it had for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pandas as pd

from xlhedge.errors import InputError
from xlhedge.funding import history_frame
from xlhedge.sources.base import Progress, QuoteRequest
from xlhedge.sources.live import _SPOT_QUOTES, CcxtSource

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(frozen=True)
class _Paging:
    """How one exchange serves funding history."""

    limit: int  # rows per request (the exchange's maximum)
    # the exchange answers the newest rows after ``since`` (OKX): older pages by ``after``
    backward: bool = False
    # the ``info`` field holding the rate per row's own interval, where ccxt's fundingRate is not
    rate_field: str = ""
    # whether fetch_funding_rate tells the next funding time
    next_funding: bool = True


PAGING: dict[str, _Paging] = {
    "binance": _Paging(1000),
    "bybit": _Paging(200),
    "okx": _Paging(400, backward=True),
    # hourly rows; ccxt's fundingRate is interest_8h, an 8-hour rate: summed it is 8x too much.
    # Funding is continuous: there is no next funding time.
    "deribit": _Paging(744, rate_field="interest_1h", next_funding=False),
}
MAX_PAGES = 50
"""Requests per contract at most (90 days of Deribit's hourly rows take 3)."""


@dataclass(frozen=True)
class FundingHistory:
    """Funding rows ``(Contract, Time, Rate)`` (:func:`xlhedge.funding.history_frame`) of the
    contracts fetched; ``errors`` says why each other contract has none; ``next_funding`` is the
    next funding time of each contract fetched (``None`` where the exchange gives none)."""

    rows: pd.DataFrame
    errors: dict[str, str]
    next_funding: dict[str, datetime | None]


@dataclass(frozen=True)
class Closes:
    """Daily closes of a request's asset (``spot``, its spot market against USD, USDT or USDC) and
    its contract (``hedge``) on the days both have one, indexed by UTC day; ``error`` says why
    they are empty."""

    spot: pd.Series
    hedge: pd.Series
    error: str = ""


class _Failed(Exception):
    """One contract or market failed: the message says why."""


class _Exchanges:
    """A :class:`CcxtSource` per exchange, its markets loaded on first use."""

    def __init__(self, contracts: Sequence[str], timeout: float, api_base: str | None) -> None:
        names = {_exchange(contract) for contract in contracts} & PAGING.keys()
        self._sources = {name: CcxtSource(name, timeout=timeout, api_base=api_base)
                         for name in sorted(names)}
        self._markets: dict[str, tuple[dict[str, list[dict[str, Any]]], str]] = {}

    def contract(self, contract: str) -> tuple[CcxtSource, dict[str, Any]]:
        """The source and ccxt market of ``EXCHANGE:NATIVE_ID``, or :class:`_Failed`."""
        exchange, native = _exchange(contract), contract.partition(":")[2].strip()
        source = self._sources.get(exchange)
        if not contract.strip():
            raise _Failed("no contract to hedge with")
        if source is None:
            raise _Failed(f"{contract}: no history from {exchange or 'an unnamed exchange'} "
                          f"(one of {', '.join(PAGING)})")
        if exchange not in self._markets:
            self._markets[exchange] = source._load_markets()
        by_id, down = self._markets[exchange]
        if down:
            raise _Failed(down)
        market = source._contract_market(native, by_id)
        if market is None:
            raise _Failed(f"contract {contract} not found on {exchange}")
        return source, market


def _exchange(contract: str) -> str:
    exchange, colon, _ = contract.strip().partition(":")
    return exchange.lower() if colon else ""


def _utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _ms(moment: datetime) -> int:
    return round(_utc(moment).timestamp() * 1000)


def _time(ms: Any) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def funding_history(
    since: Mapping[str, datetime], *, timeout: float = 10.0, deadline: float = 30.0,
    api_base: str | None = None, progress: Progress | None = None,
) -> FundingHistory:
    """Each contract's funding rates from its ``since`` (naive: UTC) to now, page by page until
    a page adds nothing new (at most :data:`MAX_PAGES`).

    ``timeout`` bounds each socket read, ``deadline`` the whole call; ``api_base`` sends every
    request to ``{api_base}/{exchange host}/{path}`` (tests); ``progress(done, total)`` is called
    as each contract is done.
    """
    contracts = list(since)
    exchanges = _Exchanges(contracts, timeout, api_base)

    def one(contract: str) -> tuple[list[tuple[str, datetime, float]], datetime | None, str]:
        try:
            source, market = exchanges.contract(contract)
            paging = PAGING[source.exchange]
            try:
                rows = _funding_rows(source, market["symbol"], paging, _ms(since[contract]))
                next_time = _next_funding(source, market["symbol"]) if paging.next_funding else None
            except Exception as exc:
                raise _Failed(f"{contract}: {source._reason(exc)}") from None
            return [(contract, time, rate) for time, rate in rows], next_time, ""
        except _Failed as failed:
            return [], None, str(failed)

    done = _within(deadline, contracts, one, progress)
    rows = [row for contract in done for row in done[contract][0]]
    errors = {contract: done[contract][2] if contract in done else _late(contract, deadline)
              for contract in contracts if contract not in done or done[contract][2]}
    next_funding = {contract: result[1] for contract, result in done.items() if not result[2]}
    return FundingHistory(history_frame(rows), errors, next_funding)


def _funding_rows(
    source: CcxtSource, symbol: str, paging: _Paging, since: int
) -> list[tuple[datetime, float]]:
    """The rows from ``since`` (ms), paged forward on ``since`` or, for a backward exchange,
    on ``after`` (the oldest row so far)."""
    rates: dict[int, float] = {}
    params: dict[str, Any] = {}
    start = since
    for _ in range(MAX_PAGES):
        page = source._client.fetch_funding_rate_history(symbol, start, paging.limit, params)
        new = {int(row["timestamp"]): float(
            row["info"][paging.rate_field] if paging.rate_field else row["fundingRate"])
            for row in page if int(row["timestamp"]) not in rates}
        if not new:
            break
        rates.update(new)
        if paging.backward:
            params = {"after": min(new)}
        else:
            start = max(new) + 1
    return [(_time(ms), rate) for ms, rate in sorted(rates.items())]


def _next_funding(source: CcxtSource, symbol: str) -> datetime | None:
    current = source._client.fetch_funding_rate(symbol)
    stamp = current.get("fundingTimestamp") or current.get("nextFundingTimestamp")
    return None if stamp is None else _time(stamp)


def daily_closes(
    requests: Sequence[QuoteRequest], *, days: int = 90, now: datetime | None = None,
    timeout: float = 10.0, deadline: float = 30.0, api_base: str | None = None,
    progress: Progress | None = None,
) -> list[Closes]:
    """For each request, the last ``days`` complete UTC days' closes of its asset's spot market
    (against USD, USDT or USDC, in that order) and of its contract, on the contract's exchange;
    each market is fetched once (``fetch_ohlcv(symbol, '1d')``). Arguments as
    :func:`funding_history`; ``now`` (default: the clock) ends the window.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 3 <= days <= 299:
        raise InputError("days", "must be a whole number from 3 to 299", days)
    today = _utc(now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    since = _ms(today - timedelta(days=days))
    exchanges = _Exchanges([request.contract for request in requests], timeout, api_base)
    cache: dict[tuple[str, str], tuple[pd.Series, str]] = {}

    def closes(source: CcxtSource, symbol: str) -> pd.Series:
        """The symbol's closes before today, fetched once."""
        key = (source.exchange, symbol)
        if key not in cache:
            try:
                candles = source._client.fetch_ohlcv(symbol, "1d", since, days + 1)
                cache[key] = pd.Series(
                    {_time(c[0]): float(c[4]) for c in candles if c[0] < _ms(today)},
                    dtype=float), ""
            except Exception as exc:
                reason = f"{source.exchange} {symbol}: {source._reason(exc)}"
                cache[key] = pd.Series(dtype=float), reason
        series, error = cache[key]
        if error:
            raise _Failed(error)
        return series

    def one(index: int) -> Closes:
        request = requests[index]
        try:
            source, market = exchanges.contract(request.contract)
            asset = source._client.safe_currency_code(request.asset.strip().upper())
            if not asset:
                raise _Failed(f"{request.contract}: no asset to price")
            spot = next((f"{asset}/{quote}" for quote in _SPOT_QUOTES
                         if source._client.markets.get(f"{asset}/{quote}", {}).get("spot")), None)
            if spot is None:
                raise _Failed(f"no {asset} spot market on {source.exchange}")
            both = pd.concat([closes(source, spot), closes(source, market["symbol"])], axis=1,
                             join="inner").dropna()
            return Closes(both.iloc[:, 0], both.iloc[:, 1])
        except _Failed as failed:
            return _no_closes(str(failed))

    done = _within(deadline, range(len(requests)), one, progress)
    return [done[i] if i in done else _no_closes(_late(requests[i].contract, deadline))
            for i in range(len(requests))]


def _no_closes(error: str) -> Closes:
    return Closes(pd.Series(dtype=float), pd.Series(dtype=float), error)


def _late(contract: str, deadline: float) -> str:
    return f"{contract}: no complete answer within {deadline:g} s (Source Timeout)"


def _within(
    deadline: float, keys: Sequence[K], one: Callable[[K], T], progress: Progress | None
) -> dict[K, T]:
    """``one(key)`` for each key in a worker thread; the keys done within ``deadline`` seconds
    (``progress`` is called for every key, the late ones at the deadline)."""
    done: dict[K, T] = {}
    lock = threading.Lock()
    cancelled = threading.Event()
    failure: list[BaseException] = []

    def work() -> None:
        try:
            for key in keys:
                result = one(key)
                with lock:
                    if cancelled.is_set():
                        return
                    done[key] = result
                    if progress is not None:
                        progress(len(done), len(keys))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=work, name="xlhedge history", daemon=True)
    worker.start()
    worker.join(deadline)
    with lock:
        cancelled.set()
        finished = dict(done)
    if failure:
        raise failure[0]
    if progress is not None:
        for count in range(len(finished) + 1, len(keys) + 1):
            progress(count, len(keys))
    return finished
