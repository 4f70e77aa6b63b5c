"""The workbook's market history: the ``Funding`` table (Contract, Time (UTC), Rate per interval),
its per-contract statistics (``FundingStats``), and what a refresh takes from them into the
Inventory (the 30-day average funding, the cross-hedge ratio from daily closes).

The history is kept and refreshed incrementally: each contract is fetched from after its last
row; a contract whose fetch fails keeps every row it had and its statistics say ``stale``. No
file, Excel or network here: the faces read and write the tables and pass the fetchers in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from xlhedge.columns import is_blank
from xlhedge.contracts import ContractRegistry
from xlhedge.errors import XlhedgeError
from xlhedge.funding import (
    CONTRACT,
    RATE,
    TIME,
    funding_stats,
    history_frame,
    merge_history,
    resume_from,
    suggested_ratio,
)
from xlhedge.monitor import moment
from xlhedge.plan import coin_of
from xlhedge.sources.base import QuoteRequest
from xlhedge.sources.history import Closes, FundingHistory

TABLE_NAME = "Funding"
STATS_TABLE = "FundingStats"
SHEET_NAME = "Funding"
TIME_HEADING = "Time (UTC)"
HEADINGS = (CONTRACT, TIME_HEADING, RATE)
STATS_HEADINGS = ("Contract", "Last Rate", "Next Funding (UTC)", "7d (yearly)", "30d (yearly)",
                  "90d (yearly)", "Shorts Paid", "Intervals", "Updated", "Status")
AVERAGE_WINDOW = 30  # days: the average the plan's cost is also reckoned at

FetchFunding = Callable[[Mapping[str, datetime]], FundingHistory]
FetchCloses = Callable[[Sequence[QuoteRequest]], list[Closes]]


def history_of(table: pd.DataFrame | None) -> pd.DataFrame:
    """The Funding table as a history frame (blank rows dropped, times as UTC)."""
    if table is None or table.empty:
        return history_frame()
    rows = table.rename(columns={TIME_HEADING: TIME})
    keep = ~rows[CONTRACT].map(is_blank)
    times = [moment(t, []) for t in rows.loc[keep, TIME]]  # Excel serials too; None: no date
    return history_frame((str(c).strip(), t.to_pydatetime(warn=False), float(r)) for c, t, r in zip(
        rows.loc[keep, CONTRACT], times, rows.loc[keep, RATE], strict=True)
        if t is not None and not is_blank(r))


def as_table(history: pd.DataFrame) -> pd.DataFrame:
    """The history under the table's headings, times as naive UTC (Excel has no time zones)."""
    times = pd.to_datetime(history[TIME], utc=True).dt.tz_localize(None)
    return pd.DataFrame({CONTRACT: history[CONTRACT].to_numpy(), TIME_HEADING: times.to_numpy(),
                         RATE: history[RATE].to_numpy(dtype=float)})


def contracts_in(tables: Iterable[pd.DataFrame | None], registry: ContractRegistry) -> list[str]:
    """The contracts the tables' ``Contract`` columns name, as the registry spells them (known
    specs only)."""
    found: dict[str, None] = {}
    for table in tables:
        if table is None or "Contract" not in table:
            continue
        for value in table["Contract"]:
            spec = None if is_blank(value) else registry.find(str(value).strip())
            if spec is not None:
                found[spec.symbol] = None
    return list(found)


def refresh_history(
    old: pd.DataFrame, contracts: Sequence[str], fetch: FetchFunding, *, window_days: int,
    now: datetime,
) -> tuple[pd.DataFrame, FundingHistory]:
    """The history with each contract fetched from after its last row, merged in, and rows
    older than the window dropped (a contract that failed keeps all its rows), and what the
    fetch returned."""
    since = {c: resume_from(old, c, window_days, now) for c in contracts}
    fetched = fetch(since) if since else FundingHistory(history_frame(), {}, {})
    merged = merge_history(old, fetched.rows, window_days=window_days, now=now)
    # a contract fetched without error but with nothing new also drops what left the window
    current = [c for c in contracts if c not in fetched.errors]
    gone = merged[CONTRACT].isin(current) & (
        merged[TIME] < pd.Timestamp(now) - pd.Timedelta(days=window_days))
    return merged[~gone].reset_index(drop=True), fetched


def stats_table(history: pd.DataFrame, fetched: FundingHistory, contracts: Sequence[str],
                now: datetime) -> pd.DataFrame:
    """One row per contract: last rate, next funding, the annualised averages, the share of
    intervals in which shorts paid, and a status (``stale: why`` where the fetch failed)."""
    stats = funding_stats(history, now)
    rows = []
    for contract in contracts:
        got = stats.loc[contract] if contract in stats.index else None
        assert got is None or isinstance(got, pd.Series)  # one row per contract
        upcoming = fetched.next_funding.get(contract)
        error = fetched.errors.get(contract, "")
        rows.append({
            "Contract": contract,
            "Last Rate": _value(got, "Last Rate"),
            "Next Funding (UTC)": None if upcoming is None else
            pd.Timestamp(upcoming).tz_convert("UTC").tz_localize(None).to_pydatetime(),
            **{f"{d}d (yearly)": _value(got, f"Annualised {d}d") for d in (7, 30, 90)},
            "Shorts Paid": _value(got, "Shorts Paid"), "Intervals": _value(got, "Intervals"),
            "Updated": None if error else now.replace(tzinfo=None),
            "Status": f"stale: {error}" if error else ("ok" if got is not None else
                                                      "no history yet"),
        })
    return pd.DataFrame(rows, columns=list(STATS_HEADINGS))


def _value(row: pd.Series | None, key: str) -> float | None:
    if row is None or key not in row or pd.isna(row[key]):
        return None
    return float(row[key])


def averages(history: pd.DataFrame, now: datetime) -> dict[str, float]:
    """Each contract's funding over the last 30 days, annualised (contracts with history)."""
    stats = funding_stats(history, now)
    column = f"Annualised {AVERAGE_WINDOW}d"
    return {str(c): float(v) for c, v in stats[column].items() if not math.isnan(v)}


def cross_hedges(inventory: pd.DataFrame, registry: ContractRegistry) -> list[QuoteRequest]:
    """The (asset, contract) pairs of the Inventory hedged with another coin's contract."""
    pairs: dict[tuple[str, str], None] = {}
    for asset, contract in zip(inventory.get("Asset", []), inventory.get("Contract", []),
                               strict=True):
        if is_blank(asset) or is_blank(contract) or str(contract).strip() not in registry:
            continue
        spec = registry.get(str(contract).strip())
        if coin_of(pd.Series([asset])).iloc[0] != spec.underlying:
            pairs[(str(asset).strip(), spec.symbol)] = None
    return [QuoteRequest(a, c) for a, c in pairs]


def ratios(requests: Sequence[QuoteRequest], closes: Sequence[Closes]
           ) -> tuple[dict[tuple[str, str], tuple[float, float]], dict[tuple[str, str], str]]:
    """(suggested ratio, R²) per (asset, contract) from the daily closes, and the pairs whose
    closes or ratio failed, with why."""
    found: dict[tuple[str, str], tuple[float, float]] = {}
    failed: dict[tuple[str, str], str] = {}
    for request, got in zip(requests, closes, strict=True):
        key = (request.asset.upper(), request.contract)
        if got.error:
            failed[key] = got.error
            continue
        try:
            ratio = suggested_ratio(got.spot, got.hedge)
        except XlhedgeError as exc:
            failed[key] = str(exc)
            continue
        found[key] = (ratio.ratio, ratio.r_squared)
    return found, failed


def with_history(inventory: pd.DataFrame, average: Mapping[str, float],
                 found: Mapping[tuple[str, str], tuple[float, float]]) -> pd.DataFrame:
    """The Inventory with its ``Funding 30d Avg (yearly)``, ``Suggested Ratio`` and ``R²``
    filled where the history gives them (other cells as they were)."""
    frame = inventory.copy()
    for heading in ("Funding 30d Avg (yearly)", "Suggested Ratio", "R²"):
        frame[heading] = frame.get(heading, pd.Series(None, index=frame.index)).astype(object)
    for row in frame.index:
        asset, contract = frame.at[row, "Asset"], frame.at[row, "Contract"]
        if is_blank(contract):
            continue
        symbol = str(contract).strip()
        if symbol in average:
            frame.at[row, "Funding 30d Avg (yearly)"] = average[symbol]
        key = ("" if is_blank(asset) else str(asset).strip().upper(), symbol)
        if key in found:
            frame.at[row, "Suggested Ratio"], frame.at[row, "R²"] = found[key]
    return frame


@dataclass(frozen=True)
class MarketHistory:
    """What a live refresh takes from market history: the Funding table's rows, its statistics,
    each contract's 30-day average funding, each cross-hedge's (suggested ratio, R²), and what
    failed (kept as it was), one line each."""

    history: pd.DataFrame
    stats: pd.DataFrame
    average: dict[str, float]
    ratios: dict[tuple[str, str], tuple[float, float]]
    messages: list[str]

    def into(self, inventory: pd.DataFrame) -> pd.DataFrame:
        """The Inventory with what the history gives it (:func:`with_history`)."""
        return with_history(inventory, self.average, self.ratios)


def refresh_market_history(
    tables: Mapping[str, pd.DataFrame | None], registry: ContractRegistry, *,
    fetch_funding: FetchFunding, fetch_closes: FetchCloses, window_days: int, now: datetime,
) -> MarketHistory:
    """The market history of the workbook's ``tables`` (Inventory, Positions, Funding,
    FundingStats, as read; None where missing) refreshed with the fetchers."""
    contracts = contracts_in([tables.get("Inventory"), tables.get("Positions")], registry)
    history, fetched = refresh_history(history_of(tables.get(TABLE_NAME)), contracts,
                                       fetch_funding, window_days=window_days, now=now)
    messages = [f"funding history of {c} kept as it was: {e}" for c, e in fetched.errors.items()]
    stats = tables.get(STATS_TABLE)
    listed = [] if stats is None else [str(c) for c in stats["Contract"].dropna()]
    inventory = tables.get("Inventory")
    requests = cross_hedges(inventory, registry) if inventory is not None else []
    found, failed = ratios(requests, fetch_closes(requests) if requests else [])
    messages += [f"no Suggested Ratio for {a} on {c}: {e}" for (a, c), e in failed.items()]
    return MarketHistory(history, stats_table(history, fetched, list(dict.fromkeys(
        [*listed, *contracts])), now), averages(history, now), found, messages)
