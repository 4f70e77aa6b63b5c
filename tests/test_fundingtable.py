"""The workbook's market history: incremental refresh that loses nothing, statistics rows, and
what the Inventory takes from it (fetchers replaced by plain functions: no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from xlhedge.contracts import default_registry
from xlhedge.funding import history_frame
from xlhedge.fundingtable import (
    as_table,
    cross_hedges,
    history_of,
    refresh_market_history,
)
from xlhedge.sources import QuoteRequest
from xlhedge.sources.history import Closes, FundingHistory

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
BTC, ETH = "BINANCE:BTCUSD_PERP", "BYBIT:ETHUSD"
INVENTORY = pd.DataFrame({"Asset": ["BTC", "ETH", "SOL"], "Quantity": [1.0, 2.0, 100.0],
                          "Contract": [BTC, ETH, BTC]})


def _rows(contract: str, start: datetime, n: int, rate: float) -> list[tuple[str, datetime,
                                                                              float]]:
    return [(contract, start + timedelta(hours=8 * i), rate) for i in range(n)]


def _old() -> pd.DataFrame:
    """Ten days of both contracts at 0.01% per 8 h, up to 2026-11-21 16:00."""
    start = NOW - timedelta(days=10) - timedelta(hours=4)
    return as_table(history_frame(_rows(BTC, start, 30, 0.0001) + _rows(ETH, start, 30,
                                                                         0.0001)))


def test_history_round_trips_through_the_table() -> None:
    table = _old()
    assert list(table.columns) == ["Contract", "Time (UTC)", "Rate"]
    assert table["Time (UTC)"].dt.tz is None  # naive UTC in the workbook
    back = history_of(table)
    assert len(back) == 60 and str(back["Time"].dt.tz) == "UTC"
    assert history_of(None).empty


def test_a_failing_contract_keeps_its_history_and_says_stale() -> None:
    asked: list[Mapping[str, datetime]] = []

    def fetch(since: Mapping[str, datetime]) -> FundingHistory:
        asked.append(since)
        new = history_frame(_rows(BTC, NOW - timedelta(hours=4), 1, 0.0003))
        return FundingHistory(new, {ETH: "bybit unreachable (connection failed)"},
                              {BTC: NOW + timedelta(hours=4)})

    def closes(requests: Sequence[QuoteRequest]) -> list[Closes]:
        assert requests == [QuoteRequest("SOL", BTC)]
        days = pd.date_range("2026-11-18", periods=4, freq="D", tz="UTC")
        return [Closes(pd.Series([100, 115, 97.75, 127.075], index=days),
                       pd.Series([60000, 66000, 59400, 71280], index=days))]

    market = refresh_market_history(
        {"Inventory": INVENTORY, "Funding": _old(), "FundingStats": None}, default_registry(),
        fetch_funding=fetch, fetch_closes=closes, window_days=90, now=NOW)
    # incremental: each contract from 1 ms after its last row
    last = NOW - timedelta(days=10) - timedelta(hours=4) + timedelta(hours=8 * 29)
    assert asked == [{BTC: last + timedelta(milliseconds=1),
                      ETH: last + timedelta(milliseconds=1)}]
    counts = market.history["Contract"].value_counts()
    assert counts[BTC] == 31 and counts[ETH] == 30  # ETH's failed: its 30 rows stay
    stats = market.stats.set_index("Contract")
    assert stats.at[ETH, "Status"] == "stale: bybit unreachable (connection failed)"
    assert stats.at[BTC, "Status"] == "ok"
    assert stats.at[BTC, "Last Rate"] == pytest.approx(0.0003)
    assert stats.at[BTC, "Next Funding (UTC)"] == datetime(2026, 11, 22, 16)
    # 30 days: 30 rows of 0.0001 + 1 of 0.0003 over ~10.3 days covered, annualised
    assert stats.at[ETH, "30d (yearly)"] == pytest.approx(0.1095)
    assert market.messages == [
        "funding history of BYBIT:ETHUSD kept as it was: bybit unreachable (connection "
        "failed)"]
    # SOL gets its ratio from the closes: spot returns exactly 1.5x the contract's
    filled = market.into(INVENTORY)
    assert filled.loc[2, "Suggested Ratio"] == pytest.approx(1.5)
    assert filled.loc[2, "R²"] == pytest.approx(1.0)
    assert pd.isna(filled.loc[0, "Suggested Ratio"])  # same coin: no ratio
    assert filled.loc[1, "Funding 30d Avg (yearly)"] == pytest.approx(0.1095)


def test_cross_hedges_are_the_other_coins() -> None:
    assert cross_hedges(INVENTORY, default_registry()) == [QuoteRequest("SOL", BTC)]
    xbt = pd.DataFrame({"Asset": ["XBT"], "Contract": ["BITMEX:XBTUSD"]})
    assert cross_hedges(xbt, default_registry()) == []
