"""The Inventory table: its columns, and a refresh that prices and plans it.

The table is the user's own record. A refresh reads it, asks a price source for market data,
computes the plan with the core's :func:`~xlhedge.plan.plan_hedge` and returns the same table with
the market and computed columns filled in. Columns the user added are kept with their values;
blank rows stay blank. No file, no Excel and no network here: the faces (command line, macros)
read and write the table, and the source fetches the prices.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from xlhedge.columns import Column, Role, by_role, column_key, is_blank, shown_in
from xlhedge.contracts import ContractRegistry, default_registry
from xlhedge.errors import XlhedgeError
from xlhedge.plan import plan_hedge
from xlhedge.sources import PriceSource, Quote, QuoteRequest
from xlhedge.sources.base import Progress, TableSource

TABLE_NAME = "Inventory"
SHEET_NAME = "Inventory"
STATUS = "Status"


def headings(*roles: Role) -> tuple[str, ...]:
    """The Inventory table's headings with one of ``roles`` (all of them without), in order."""
    return tuple(c.heading for c in by_role(*roles)) if roles else tuple(
        c.heading for c in shown_in("inventory"))


def plan_shown() -> dict[str, Column]:
    """The columns a refresh fills from the plan (every computed one but Status), by heading."""
    return {c.heading: c for c in by_role("computed") if c.heading != STATUS}


REQUIRED = ("Asset", "Quantity", "Contract")  # the user's own: a refresh cannot make them up


def missing_inputs(columns: Iterable[object]) -> None:
    """Refuse a table without a required input column (renamed or deleted): a refresh adds the
    columns it fills itself, never the user's."""
    have = {column_key(c) for c in columns}
    missing = [c for c in REQUIRED if column_key(c) not in have]
    if missing:
        raise XlhedgeError(f"the {TABLE_NAME} table has no column {', '.join(missing)} (renamed "
                           "or deleted?): give the table back that heading, then refresh again")


def canonical_inputs(table: pd.DataFrame) -> pd.DataFrame:
    """The table with documented aliases of input columns (``Qty``) under the column's heading
    (``Quantity``), so that a refresh reads them as ``plan`` does."""
    renames = {}
    for column in by_role("input"):
        keys = {column_key(a) for a in column.aliases}
        for heading in table.columns:
            if column_key(heading) in keys and column.heading not in table.columns:
                renames[heading] = column.heading
    return table.rename(columns=renames)


def with_standard_columns(table: pd.DataFrame) -> pd.DataFrame:
    """The table with every standard column present; user columns kept, in their places."""
    frame = table.copy()
    for column in headings():
        if column not in frame.columns:
            frame[column] = np.nan
    return frame


def holding_rows(table: pd.DataFrame) -> pd.Index:
    """Labels of the rows that hold something (asset, quantity or contract filled in)."""
    filled = ~table[["Asset", "Quantity", "Contract"]].map(is_blank).all(axis=1)
    return table.index[filled]


def apply_quotes(
    table: pd.DataFrame, rows: Sequence[object], quotes: Sequence[Quote]
) -> dict[object, str]:
    """Write each quote's values into its row; return the rows whose quote had a problem."""
    stale: dict[object, str] = {}
    for row, quote in zip(rows, quotes, strict=True):
        for column, value in (("Price", quote.price), ("Mark Price", quote.mark_price),
                              ("Funding Rate", quote.funding_rate)):
            if value is not None:
                table.at[row, column] = float(value)
        if quote.updated is not None and not quote.error:
            table.at[row, "Updated"] = quote.updated.replace(tzinfo=None)
        if quote.error:
            stale[row] = quote.error
    return stale


def refresh_table(
    table: pd.DataFrame,
    source: PriceSource,
    registry: ContractRegistry | None = None,
    progress: Progress | None = None,
    options: Mapping[str, float] | None = None,
    now: datetime | None = None,
    open_positions: Collection[tuple[str, str]] = (),
) -> pd.DataFrame:
    """Price the table's holdings with ``source`` and fill the computed columns from the plan.

    ``open_positions``: the (account, contract) positions already open (the Positions
    table's, :func:`xlhedge.monitor.position_key`): the Status of their rows says that their
    Contracts are a hedge from nothing and that the Positions sheet has the adjustment.

    With the table's own prices, ``Updated`` becomes the time of this refresh (``now``, default
    the current time): the prices typed are the prices as of now. ``options`` are
    :func:`~xlhedge.plan.plan_hedge`'s keyword arguments (:func:`xlhedge.settings.plan_options`).
    """
    frame = with_standard_columns(table).astype(
        {c: object for c in headings("market", "computed")}
    )
    rows = list(holding_rows(frame))
    requests = [
        QuoteRequest(asset=_text(asset), contract=_text(contract))
        for asset, contract in zip(frame.loc[rows, "Asset"], frame.loc[rows, "Contract"],
                                   strict=True)
    ]
    quotes = source.quotes(requests, progress) if rows else []
    stale = apply_quotes(frame, rows, quotes)
    if isinstance(source, TableSource):  # typed prices: they are as of this refresh
        frame.loc[rows, "Updated"] = (now or now_utc()).replace(tzinfo=None)
    plan = plan_hedge(frame.loc[rows], registry or default_registry(), **(options or {}))
    computed = {h: [c.cell(v) for v in plan[c.key]] for h, c in plan_shown().items()}
    held = {(a, c.upper()) for a, c in open_positions}
    computed[STATUS] = [
        _status(error, _with_size_check(warnings, quote, spec_value), stale.get(row, ""),
                (account, str(contract).strip().upper()) in held)
        for row, error, warnings, quote, spec_value, account, contract in zip(
            rows, plan["error"], plan["warnings"], quotes, plan["contract_value"],
            plan["account"], plan["contract"], strict=True
        )
    ]
    frame.loc[rows, list(computed)] = pd.DataFrame(computed, index=rows, dtype=object)
    return frame


def plan_of(table: pd.DataFrame, registry: ContractRegistry | None = None,
            options: Mapping[str, float] | None = None) -> pd.DataFrame:
    """The plan of a (refreshed) Inventory table's holdings."""
    frame = with_standard_columns(table)
    return plan_hedge(frame.loc[holding_rows(frame)], registry or default_registry(),
                      **(options or {}))


def refreshed_columns(source: PriceSource) -> tuple[str, ...]:
    """The columns a refresh writes: the computed ones, and the market ones unless the prices
    are the table's own (where a price may be the user's formula, which must stay: then only
    the time of the refresh, ``Updated``)."""
    if isinstance(source, TableSource):
        return ("Updated", *headings("computed"))
    return headings("market", "computed")


def column_blocks(header: Sequence[str], columns: Sequence[str]) -> list[tuple[int, int]]:
    """``columns``' positions in ``header`` as contiguous [start, stop) runs: one range write
    per run (a single one in the workbook's own layout)."""
    positions = sorted(header.index(c) for c in columns)
    blocks: list[tuple[int, int]] = []
    for position in positions:
        if blocks and blocks[-1][1] == position:
            blocks[-1] = (blocks[-1][0], position + 1)
        else:
            blocks.append((position, position + 1))
    return blocks


def _text(value: object) -> str:
    return "" if is_blank(value) else str(value).strip()


def _with_size_check(warnings: str, quote: Quote, spec_value: float) -> str:
    """Add a warning where the exchange's contract value differs from the spec's."""
    reported = quote.contract_size
    if reported is None or np.isnan(spec_value) or np.isclose(reported, spec_value):
        return warnings
    note = (f"exchange reports a contract value of {reported:g}, the spec {spec_value:g}: "
            "check the Contracts sheet")
    return f"{warnings}; {note}" if warnings else note


OPEN_NOTE = ("a position on this contract is open: its Contracts here are a hedge from "
             "nothing; trade the Adjust on the Positions sheet instead")


def _status(error: str, warnings: str, stale: str, opened: bool = False) -> str:
    parts = [f"stale: {stale}"] if stale else []
    if error:
        parts.append(f"error: {error}")
    else:
        parts += [OPEN_NOTE] if opened else []
        parts += [warnings] if warnings else []
    return "; ".join(parts) or "ok"


def now_utc() -> datetime:
    """The time now, in UTC, to the second (time-zone aware)."""
    return datetime.now(UTC).replace(microsecond=0)
