"""The Positions table: what is open on the exchange, and a refresh that fills the monitor's
columns.

Rows come from the user (typed, the default), from a CSV file, or from the exchange account
(:mod:`xlhedge.sources.account`). A source's rows replace the rows of its own account only:
positions typed for other accounts stay. A source that fails changes no row; the rows it would
have replaced are marked stale. No file, no Excel and no network here: the faces read and write
the table and fetch the rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from xlhedge.columns import POSITION_COLUMNS, Role, by_role, is_blank, shown_in
from xlhedge.contracts import ContractRegistry
from xlhedge.errors import XlhedgeError
from xlhedge.inventory import plan_of
from xlhedge.monitor import (
    REBALANCE_BAND,
    account_of,
    moment,
    monitor_positions,
    normalise_positions,
    position_key,
)
from xlhedge.settings import monitor_options, plan_options
from xlhedge.sources import PriceSource, QuoteRequest
from xlhedge.sources.base import Progress, TableSource
from xlhedge.sources.positions import PositionsRead

TABLE_NAME = "Positions"
SHEET_NAME = "Positions"
STATUS = "Status"


def headings(*roles: Role) -> tuple[str, ...]:
    """The Positions table's headings with one of ``roles`` (all of them without), in order."""
    columns = by_role(*roles, columns=POSITION_COLUMNS, face="positions") if roles else \
        shown_in("positions", POSITION_COLUMNS)
    return tuple(c.heading for c in columns)


def refreshed_columns(rows_from_source: bool, live_marks: bool) -> tuple[str, ...]:
    """The columns a refresh writes: the computed ones; the inputs too when a source gave the
    rows; the mark price when it came from a live source (a typed one may be a formula)."""
    written = list(headings("computed"))
    if live_marks or rows_from_source:
        written[:0] = headings("market")
    if rows_from_source:
        written[:0] = headings("input")
    return tuple(written)


def _blank_rows(frame: pd.DataFrame) -> list[object]:
    inputs = [h for h in headings("input") if h in frame.columns]
    return [i for i in frame.index if all(is_blank(frame.at[i, h]) for h in inputs)]


KEPT = ("Opened", "Funding To Date")  # typed values a source that gives none does not erase


def _account(row: pd.Series) -> str:
    """A row's account, as the monitor reads it (:func:`~xlhedge.monitor.account_of`)."""
    return account_of(row["Account"], row["Contract"])


def _key(row: pd.Series) -> tuple[str, str]:
    """A row's (account, contract), both upper-case."""
    return _account(row), str(row["Contract"]).strip().upper()


def replace_account(table: pd.DataFrame, account: str | None,
                    incoming: pd.DataFrame, room: int = 0) -> pd.DataFrame:
    """``table`` with the rows of ``account`` (None: every row; a blank Account is the
    contract's exchange) replaced by ``incoming`` (input headings): rows are reused in place,
    further ones go to blank rows, rows left over are cleared. Where the source gives no
    Opened or Funding To Date, the ones typed for that contract stay. ``room``: the table's
    body rows, when ``table`` (as read) leaves out its trailing blank ones. Refused when the
    table has too few rows (the user adds rows in Excel)."""
    frame = with_standard_columns(table)
    if len(frame) < room and isinstance(frame.index, pd.RangeIndex):
        frame = frame.reindex(range(room)).astype(object)
    inputs = [h for h in headings("input", "market") if h in incoming.columns]
    blank = _blank_rows(frame)
    mine = [i for i in frame.index if i not in blank and (
        account is None or _account(frame.loc[i]) == account.upper())]
    free = mine + blank
    if len(incoming) > len(free):
        raise XlhedgeError(f"the {TABLE_NAME} table has room for {len(free)} positions "
                           f"{'' if account is None else 'of ' + account + ' '}but the source "
                           f"gives {len(incoming)}: add rows to the table (drag its corner "
                           "down in Excel), then refresh again")
    typed: dict[tuple[str, str], dict[str, Any]] = {
        _key(frame.loc[i]): {h: frame.at[i, h] for h in KEPT} for i in mine}
    for h in headings("input", "market"):
        frame.loc[mine, h] = None
    for row, values in zip(free, incoming[inputs].itertuples(index=False), strict=False):
        for h, value in zip(inputs, values, strict=True):
            frame.at[row, h] = None if is_blank(value) else value
        if account is not None:
            frame.at[row, "Account"] = account
        before = typed.get(_key(frame.loc[row]), {})
        for h in KEPT:
            if is_blank(frame.at[row, h]) and not is_blank(before.get(h)):
                frame.at[row, h] = before[h]
    return frame


def open_keys(table: pd.DataFrame, registry: ContractRegistry) -> set[tuple[str, str]]:
    """The (account, contract) of every position the table holds (:func:`position_key`; rows
    whose Contracts is not a positive number are not positions)."""
    frame = normalise_positions(table)
    held = pd.to_numeric(frame["contracts"], errors="coerce") > 0
    return {position_key(a, c, registry) for a, c, h in zip(
        frame["account"], frame["contract"], held, strict=True) if h and not is_blank(c)}


def opened_since(table: pd.DataFrame | None, account: str) -> datetime | None:
    """The earliest Opened typed for ``account``'s rows (UTC): where its funding ledger is read
    from when the exchange gives no opening time (Binance)."""
    if table is None or table.empty or "Opened" not in table:
        return None
    frame = with_standard_columns(table)
    times = [moment(v, []) for (_, row), v in zip(frame.iterrows(), frame["Opened"], strict=True)
             if _account(row) == account.upper()]
    known = [t for t in times if t is not None and not pd.isna(t)]
    return min(known).to_pydatetime() if known else None


def with_standard_columns(table: pd.DataFrame) -> pd.DataFrame:
    frame = table.copy()
    for heading in headings():
        if heading not in frame.columns:
            frame[heading] = None
    return frame.astype({h: object for h in headings()})


def refresh_positions(
    table: pd.DataFrame, plan: pd.DataFrame, registry: ContractRegistry, *,
    marks: Mapping[str, float] | None = None, stale: Mapping[str | None, str] | None = None,
    band: float = REBALANCE_BAND, min_distance: float = 0.30,
    funding_history: pd.DataFrame | None = None, now: datetime | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table with its computed columns filled from :func:`monitor_positions`, and Mark
    Price and Updated from ``marks`` (contract -> mark price, from a live source) where given.

    ``stale`` maps an account (None: every row) to why its source failed: its rows keep what
    they held and their Status says so.
    """
    frame = with_standard_columns(table)
    rows = normalise_positions(frame).index
    for row in rows:
        contract = frame.at[row, "Contract"]
        mark = (marks or {}).get("" if is_blank(contract) else str(contract).strip())
        if mark is not None:
            frame.at[row, "Mark Price"] = mark
            if now is not None:
                frame.at[row, "Updated"] = now.replace(tzinfo=None)
    monitor = monitor_positions(frame.loc[rows], plan, registry, band=band,
                                min_distance=min_distance, funding_history=funding_history,
                                now=now)
    for column in POSITION_COLUMNS:
        if column.role == "computed":
            frame[column.heading] = frame[column.heading].astype(object)
            frame.loc[rows, column.heading] = pd.Series(
                [column.cell(v) for v in monitor[column.key]], index=rows, dtype=object)
    for account, reason in (stale or {}).items():
        hit = [i for i in rows if account is None or _account(frame.loc[i]) == account.upper()]
        frame.loc[hit, STATUS] = pd.Series(
            [f"stale: {reason}; {s}" for s in frame.loc[hit, STATUS]], index=hit, dtype=object)
    frame.loc[_blank_rows(frame), [h for h in headings("computed")]] = None
    return frame, monitor


def source_marks(table: pd.DataFrame, source: PriceSource, registry: ContractRegistry,
                 progress: Progress | None = None) -> dict[str, float]:
    """Mark prices of the table's contracts from a live price source (none from the table
    source: marks typed, or the Inventory's, stay)."""
    if isinstance(source, TableSource):
        return {}
    symbols = sorted({str(c).strip() for c in normalise_positions(table)["contract"]
                      if not is_blank(c) and str(c).strip() in registry})
    requests = [QuoteRequest(registry.get(s).underlying, s) for s in symbols]
    quotes = source.quotes(requests, progress) if requests else []
    return {s: q.mark_price for s, q in zip(symbols, quotes, strict=True)
            if q.mark_price is not None}


def refresh_from(
    table: pd.DataFrame, plan: pd.DataFrame, registry: ContractRegistry, read: PositionsRead,
    *, marks: Mapping[str, float] | None = None, options: Mapping[str, float] | None = None,
    funding_history: pd.DataFrame | None = None, now: datetime | None = None, room: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The table and its monitor (:func:`refresh_positions`) with what a positions source
    ``read`` gave: its rows replace its account's (a failed read changes none and marks them
    stale); ``room`` as in :func:`replace_account`."""
    stale: dict[str | None, str] = {}
    if read.rows is not None:
        table = replace_account(table, read.account, read.rows, room)
    elif read.error:
        stale[read.account] = read.error
    return refresh_positions(table, plan, registry, marks=marks, stale=stale,
                             funding_history=funding_history, now=now, **(options or {}))


def refresh_with_settings(
    table: pd.DataFrame, inventory: pd.DataFrame, registry: ContractRegistry,
    read: PositionsRead, settings: Mapping[str, str], source: PriceSource, *,
    funding_history: pd.DataFrame | None, now: datetime, room: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`refresh_from` as a workbook's refresh does it: against the plan of the refreshed
    Inventory, marks from the price source, the Settings' band and liquidation distance."""
    return refresh_from(table, plan_of(inventory, registry, plan_options(settings)), registry,
                        read, marks=source_marks(table, source, registry),
                        options=monitor_options(settings), funding_history=funding_history,
                        now=now, room=room)
