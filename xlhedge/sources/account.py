"""The user's open coin-margined (inverse) perpetual positions, read from the exchange with a
read-only API key through ccxt.

Only read calls are made: ``load_markets``, ``fetch_positions``, ``fetch_balance`` (for the
wallet behind cross-margin positions), ``fetch_funding_history`` (the funding ledger), and on
Bybit the account-information reads ccxt's own balance call makes (``is_unified_enabled``,
``fetch_margin_mode``). No order, transfer or withdrawal endpoint is ever called.

What each exchange reports, and what is made of it:

- Binance COIN-M (``dapi``): ccxt defaults to USDⓈ-M, so every call says ``subType='inverse'``.
  Its unified ``collateral`` of a cross position is back-solved from the liquidation price (0
  where there is none), so a cross position's margin is the wallet's ``crossWalletBalance``.
  ``positionRisk`` has no opening time: ``opened`` is ``None`` and funding is counted from
  ``positions(since=...)`` when given, else not at all.
- Bybit (v5, ``category=inverse``): ``size`` is in 1 USD contracts; ``createdTime`` is when a
  position on the symbol was first created. Funding rows are ``execType=Funding`` executions, whose
  ``execFee`` is positive when paid. A classic account's ``tradeMode`` gives the margin mode; a
  unified account's is account-wide (``/v5/account/info``).
- OKX (``instType=SWAP``): ``pos`` is in contracts (100 USD for BTC-USD-SWAP), signed in net
  mode; ``cTime`` is the opening time; funding is the bills archive (type 8), kept for 3 months.
- Deribit: ``size`` is USD, divided by the market's contract size (10 USD for BTC-PERPETUAL); a
  Deribit account is one cross wallet per currency (``get_account_summary``). ccxt has no
  funding ledger for Deribit, nor an opening time: ``funding_to_date`` is ``None``.

No API key, secret or passphrase ever appears in an error, a warning, a repr or a log record:
every text taken from ccxt is scrubbed of them (and of URLs and signatures) first.
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from xlhedge.errors import InputError
from xlhedge.keys import Credentials, exchange_name
from xlhedge.sources.base import Progress
from xlhedge.sources.live import VENUES, _http_response, _import_ccxt, _redirect_urls

log = logging.getLogger(__name__)

_DAY_MS = 86_400_000


@dataclass(frozen=True)
class OpenPosition:
    """One open inverse perpetual position as the exchange reports it.

    ``contracts`` are in the exchange's contract unit (always positive; ``side`` gives the
    direction). ``margin`` is in the settle coin: an isolated position's own margin (without its
    unrealised PnL), or for a cross position the cross wallet balance of the settle coin.
    ``funding_to_date`` is the funding booked in the account's ledger since ``opened`` (settle
    coin, positive = received), ``None`` where it cannot be had.
    """

    contract: str
    side: str
    contracts: float
    entry_price: float
    margin_mode: str
    margin: float | None
    opened: datetime | None
    funding_to_date: float | None
    mark_price: float | None
    unrealised_pnl: float | None
    liquidation_price: float | None
    coin: str = ""


@dataclass(frozen=True)
class AccountSnapshot:
    """The open positions at ``fetched_at``; on failure no positions and a short ``error`` (the
    caller keeps its previous table, marked stale). ``warnings`` tell of parts that could not be
    read (a funding ledger) while the positions were."""

    positions: list[OpenPosition] = field(default_factory=list)
    error: str = ""
    fetched_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Account:
    """How ccxt reads one exchange's account."""

    market_types: tuple[str, ...] | None
    positions: dict[str, Any]
    balance: dict[str, Any]
    # funding ledger: window length per request (days), rows per page, extra params, and
    # whether ccxt's amount is a fee (positive = paid); None: no ledger
    funding_window_days: float | None
    funding_limit: int = 100
    funding_params: dict[str, Any] = field(default_factory=dict)
    funding_is_fee: bool = False
    funding_kept_days: float | None = None


_ACCOUNTS: dict[str, _Account] = {
    "binance": _Account(("inverse",), {"subType": "inverse"}, {"subType": "inverse"},
                        funding_window_days=30, funding_limit=1000,
                        funding_params={"subType": "inverse"}),
    "bybit": _Account(("inverse",), {"subType": "inverse"}, {"type": "swap", "subType": "inverse"},
                      funding_window_days=7, funding_limit=100,
                      funding_params={"subType": "inverse", "limit": 100}, funding_is_fee=True,
                      funding_kept_days=730),
    "okx": _Account(("swap",), {"instType": "SWAP"}, {}, funding_window_days=10,
                    funding_limit=100, funding_kept_days=90),
    "deribit": _Account(None, {"kind": "future"}, {}, funding_window_days=None),
}


def _utc(ms: Any) -> datetime | None:
    try:
        value = int(ms)
    except (TypeError, ValueError):
        return None
    return datetime.fromtimestamp(value / 1000, UTC) if value > 0 else None


def _num(value: Any) -> float | None:
    """A finite number, else ``None``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


class _ScrubbedLog:
    """What a ccxt client logs (its DEBUG lines carry the request headers, with the API key and
    passphrase), with the credentials replaced by ``***``, to ``xlhedge.sources.account.ccxt``."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self._secrets = secrets
        self._log = logging.getLogger(f"{__name__}.ccxt")

    def _emit(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        if not self._log.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        self._log.log(level, "%s", text)

    def debug(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.DEBUG, msg, *args)

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.INFO, msg, *args)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.WARNING, msg, *args)

    def error(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self._emit(logging.ERROR, msg, *args)


class AccountSource:
    """Reads one exchange account's open inverse perpetuals with a read-only API key."""

    def __init__(
        self, exchange: str, credentials: Credentials, *, timeout: float = 10.0,
        deadline: float = 30.0, api_base: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``timeout`` (seconds) bounds each socket read, ``deadline`` a whole
        :meth:`positions` call; ``api_base`` sends every request to
        ``{api_base}/{exchange host}/{path}`` (a test server); ``clock`` gives "now" (UTC)."""
        self.exchange = exchange_name(exchange)
        if not timeout > 0:
            raise InputError("timeout", "must be > 0 seconds", timeout)
        if not deadline > 0:
            raise InputError("source timeout", "must be > 0 seconds", deadline)
        self.timeout = min(timeout, deadline)
        self.deadline = deadline
        self._clock = clock or (lambda: datetime.now(UTC))
        self._secrets = credentials.values()
        self._ccxt = _import_ccxt(f"account {self.exchange}")
        venue = VENUES[self.exchange]
        self._account = _ACCOUNTS[self.exchange]
        factory = getattr(self._ccxt, venue.ccxt_id)
        options: dict[str, Any] = {"fetchCurrencies": False}
        if self._account.market_types is not None:
            options["fetchMarkets"] = {"types": list(self._account.market_types)}
        self._client: Any = factory({
            "apiKey": credentials.api_key,
            "secret": credentials.secret,
            "password": credentials.password or None,
            "timeout": round(self.timeout * 1000),
            "enableRateLimit": True,
            "options": options,
            "logger": _ScrubbedLog(self._secrets),
        })
        # currencies are not needed, and with a key ccxt reads them from private endpoints
        self._client.has = {**self._client.has, "fetchCurrencies": False}
        if api_base is not None:
            client = self._client
            client.urls["api"] = _redirect_urls(
                client.urls["api"], api_base, client.implode_hostname)

    def __repr__(self) -> str:
        return f"AccountSource({self.exchange!r})"

    # --- the call -------------------------------------------------------------------------------

    def positions(
        self, progress: Progress | None = None, *, since: datetime | None = None
    ) -> AccountSnapshot:
        """The open inverse perpetual positions, or an error (never raised): whatever is not
        read within ``deadline`` seconds fails the whole call.

        ``since`` is where funding is counted from for a position whose exchange does not say
        when it was opened (Binance); without it such a position's ``funding_to_date`` is None.
        ``progress(done, total)`` is called after each request.
        """
        done: list[AccountSnapshot] = []
        failure: list[BaseException] = []
        cancelled = threading.Event()

        def work() -> None:
            try:
                done.append(self._snapshot(progress, since, cancelled))
            except BaseException as exc:  # handed to the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=work, name=f"xlhedge account {self.exchange}",
                                  daemon=True)
        worker.start()
        worker.join(self.deadline)
        cancelled.set()
        if done:
            return done[0]
        now = self._clock()
        if failure:
            exc = failure[0]
            if not isinstance(exc, Exception):
                raise exc
            error = self._error(exc)
        else:
            error = (f"{self.exchange}: no complete answer within {self.deadline:g} s "
                     "(Source Timeout)")
        log.debug("account %s: %s", self.exchange, error)
        return AccountSnapshot(error=error, fetched_at=now)

    def _snapshot(
        self, progress: Progress | None, since: datetime | None, cancelled: threading.Event
    ) -> AccountSnapshot:
        steps = [0, 3]

        def step(more: int = 0) -> None:
            steps[0] += 1
            steps[1] += more
            if progress is not None and not cancelled.is_set():
                progress(steps[0], steps[1])

        client = self._client
        client.load_markets(reload=True)
        step()
        raw = client.fetch_positions(None, dict(self._account.positions))
        rows = [(row, market) for row in raw
                if (market := self._market(row)) is not None and self._contracts(row, market)]
        step(len(rows))
        warnings: list[str] = []
        modes = {id(row): self._margin_mode(row, market) for row, market in rows}
        wallets = self._wallets(rows, modes)
        step()
        now = self._clock()
        positions = []
        for row, market in rows:
            if cancelled.is_set():
                break
            positions.append(self._position(row, market, modes[id(row)], wallets, since, now,
                                            warnings))
            step()
        return AccountSnapshot(positions=positions, fetched_at=now, warnings=warnings)

    # --- one position ---------------------------------------------------------------------------

    def _market(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """The row's market when it is an inverse perpetual."""
        market = self._client.markets.get(row.get("symbol") or "")
        if market and market.get("swap") and market.get("inverse"):
            return dict(market)
        return None

    def _contracts(self, row: dict[str, Any], market: dict[str, Any]) -> float:
        """The size in the exchange's contracts (Deribit reports USD)."""
        size = abs(_num(row.get("contracts")) or 0.0)
        if self.exchange == "deribit":
            value = _num(market.get("contractSize")) or 0.0
            return size / value if value > 0 else 0.0
        return size

    def _margin_mode(self, row: dict[str, Any], market: dict[str, Any]) -> str:
        info = row.get("info") or {}
        if self.exchange == "deribit":
            return "cross"
        if self.exchange == "bybit":
            if str(info.get("tradeMode")) == "1":
                return "isolated"
            unified_margin, unified_account = self._client.is_unified_enabled()
            if unified_margin or unified_account:
                mode = self._client.fetch_margin_mode(market["symbol"]).get("marginMode")
                return "isolated" if mode == "isolated" else "cross"
            return "cross"
        mode = str(row.get("marginMode") or "").lower()
        return "isolated" if mode == "isolated" else "cross"

    def _wallets(
        self, rows: list[tuple[dict[str, Any], dict[str, Any]]], modes: dict[int, str]
    ) -> dict[str, float]:
        """Each settle coin's cross wallet balance, for the cross positions among ``rows``."""
        coins = sorted({market["settle"] for row, market in rows if modes[id(row)] == "cross"})
        wallets: dict[str, float] = {}
        if not coins:
            return wallets
        if self.exchange == "deribit":
            for coin in coins:
                balance = self._client.fetch_balance({"code": coin})
                info = balance.get("info") or {}
                summary = info.get("result", info) if isinstance(info, dict) else {}
                wallets[coin] = _num(summary.get("balance")) or _num(
                    (balance.get(coin) or {}).get("total")) or 0.0
            return wallets
        balance = self._client.fetch_balance(dict(self._account.balance))
        info = balance.get("info") or {}
        for coin in coins:
            value = _wallet_from_info(self.exchange, info, coin)
            if value is None:
                value = _num((balance.get(coin) or {}).get("total"))
            if value is not None:
                wallets[coin] = value
        return wallets

    def _position(
        self, row: dict[str, Any], market: dict[str, Any], mode: str,
        wallets: dict[str, float], since: datetime | None, now: datetime, warnings: list[str],
    ) -> OpenPosition:
        info = row.get("info") or {}
        contract = f"{self.exchange.upper()}:{market['id']}"
        coin = str(market.get("settle") or market.get("base") or "")
        if mode == "cross":
            margin = wallets.get(coin)
        else:
            margin = _isolated_margin(self.exchange, row, info)
        opened = None
        if self.exchange == "bybit":
            opened = _utc(info.get("createdTime"))
        elif self.exchange == "okx":
            opened = _utc(info.get("cTime"))
        side = str(row.get("side") or "")
        if self.exchange == "deribit":
            side = {"buy": "long", "sell": "short"}.get(str(info.get("direction")), side)
        funding = None
        start = opened or since
        if self._account.funding_window_days is not None and start is not None:
            funding = self._funding(market, contract, start, now, warnings)
        return OpenPosition(
            contract=contract,
            side=side,
            contracts=self._contracts(row, market),
            entry_price=_num(row.get("entryPrice")) or 0.0,
            margin_mode=mode,
            margin=margin,
            opened=opened,
            funding_to_date=funding,
            mark_price=_num(row.get("markPrice")),
            unrealised_pnl=_num(row.get("unrealizedPnl")),
            liquidation_price=_num(row.get("liquidationPrice")),
            coin=coin,
        )

    # --- funding ledger -------------------------------------------------------------------------

    def _funding(
        self, market: dict[str, Any], contract: str, start: datetime, now: datetime,
        warnings: list[str],
    ) -> float | None:
        """The funding booked for the market from ``start`` to ``now`` (positive = received);
        ``None`` (and a warning) when the ledger cannot be read or no longer reaches ``start``."""
        account = self._account
        kept = account.funding_kept_days
        if kept is not None and start < now - timedelta(days=kept):
            warnings.append(f"{contract}: funding since {start:%Y-%m-%d} not available (the "
                            f"exchange keeps {kept:g} days of funding history)")
            return None
        begin, end = int(start.timestamp() * 1000), int(now.timestamp() * 1000)
        window = int((account.funding_window_days or 1) * _DAY_MS)
        seen: dict[str, float] = {}
        try:
            for low in range(begin, end + 1, window):
                self._funding_window(market, low, min(low + window - 1, end), seen, depth=0)
        except Exception as exc:
            warnings.append(f"{contract}: funding history unavailable "
                            f"({self._reason(exc)})")
            return None
        total = round(math.fsum(seen.values()), 12) + 0.0
        return -total if account.funding_is_fee and total else total

    def _funding_window(
        self, market: dict[str, Any], low: int, high: int, seen: dict[str, float], depth: int
    ) -> None:
        """Adds the ledger rows from ``low`` to ``high`` (ms, inclusive) to ``seen`` by id; a
        full page is split in two halves until it is not."""
        account = self._account
        params = dict(account.funding_params)
        if self.exchange == "okx":
            params.update({"begin": str(low), "end": str(high)})
        else:
            params["until"] = high
        rows = self._client.fetch_funding_history(market["symbol"], low, account.funding_limit,
                                                  params)
        found: dict[str, float] = {}
        for entry in rows:
            stamp = entry.get("timestamp")
            amount = _num(entry.get("amount"))
            if entry.get("symbol") not in (None, market["symbol"]) or amount is None:
                continue
            if stamp is None or not low <= int(stamp) <= high:
                continue
            found[str(entry.get("id") or f"{stamp}:{amount}")] = amount
        if len(found) >= account.funding_limit and high - low > 60_000 and depth < 12:
            middle = (low + high) // 2
            self._funding_window(market, low, middle, seen, depth + 1)
            self._funding_window(market, middle + 1, high, seen, depth + 1)
            return
        seen.update(found)

    # --- errors ---------------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        """``text`` without the credentials, URLs, query strings and signatures."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = re.sub(r"https?://\S+", "<url>", text)
        text = re.sub(r"(?i)(sign(?:ature)?|api[-_]?key|passphrase|authorization)"
                      r"([\"']?\s*[:=]\s*)[^\s,&\"'}]+", r"\1\2***", text)
        return text

    def _reason(self, exc: BaseException) -> str:
        """A short, scrubbed reason for a failed call."""
        text = re.sub(rf"^{re.escape(self._client.id)} (?:[A-Z]+ \S+)?", "", str(exc)).strip()
        response = _http_response(exc)
        ccxt = self._ccxt
        if response is not None:
            status = f"{response.status_code} {response.reason or ''}".strip()
            body = text.removeprefix(status).strip()
            text = f"HTTP {status}" + (f": {body}" if body.strip("{}[] ") else "")
        elif isinstance(exc, ccxt.RequestTimeout):
            text = f"timeout after {self.timeout:g} s"
        elif isinstance(exc, ccxt.NetworkError) and not text:
            text = "connection failed"
        elif isinstance(exc, LookupError | TypeError | AttributeError) or (
                isinstance(exc, ValueError) and not isinstance(exc, ccxt.BaseError)):
            text = "the exchange sent an empty or unexpected reply"
        elif not isinstance(exc, ccxt.BaseError):
            text = f"{type(exc).__name__}: {text}"
        elif not text:
            text = type(exc).__name__
        text = self._scrub(text)
        return text if len(text) <= 120 else text[:119] + "…"

    def _error(self, exc: Exception) -> str:
        """The snapshot's error for a call that failed."""
        ccxt = self._ccxt
        if isinstance(exc, ccxt.AuthenticationError):
            secret = "secret and passphrase" if self.exchange == "okx" else "secret"
            return (f"{self.exchange} rejected the API key (check it is a read-only key for "
                    f"{self.exchange}, with its {secret}): {self._reason(exc)}")
        state = "unreachable" if isinstance(exc, ccxt.NetworkError) else "account read failed"
        return f"{self.exchange} {state} ({self._reason(exc)})"


def _wallet_from_info(exchange: str, info: Any, coin: str) -> float | None:
    """The cross wallet balance of ``coin`` in the exchange's own balance reply."""
    if exchange == "binance":
        for asset in info.get("assets") or []:
            if asset.get("asset") == coin:
                return _num(asset.get("crossWalletBalance"))
    elif exchange == "bybit":
        for account in (info.get("result") or {}).get("list") or []:
            for entry in account.get("coin") or []:
                if entry.get("coin") == coin:
                    return _num(entry.get("walletBalance"))
    elif exchange == "okx":
        for account in info.get("data") or []:
            for entry in account.get("details") or []:
                if entry.get("ccy") == coin:
                    return _num(entry.get("cashBal"))
    return None


def _isolated_margin(exchange: str, row: dict[str, Any], info: dict[str, Any]) -> float | None:
    """An isolated position's own margin, without its unrealised PnL."""
    if exchange == "binance":
        return _num(info.get("isolatedWallet"))
    if exchange == "bybit":
        return _num(info.get("positionBalance"))
    if exchange == "okx":
        return _num(info.get("margin"))
    return _num(row.get("positionMargin") or row.get("collateral"))
