"""Python side of the workbook's buttons (``RunPython`` from the ``xlhedge_macros`` VBA module).

Everything here talks to Excel through xlwings (``Book.caller()``), cannot run without it, and
stays thin. What it calls are plain functions over DataFrames and values, tested without Excel
and shared with the command line: the settings and contract overrides (:mod:`xlhedge.settings`),
the refreshes (:func:`xlhedge.inventory.refresh_table`,
:func:`xlhedge.openpositions.refresh_from`), the values of one range write
(:func:`xlhedge.excel.cells.cell_values`) and the hedge sheet
(:func:`xlhedge.hedgesheet.make_sheet_file`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import xlwings as xw

from xlhedge import fundingtable as ft
from xlhedge.contracts import ContractRegistry
from xlhedge.errors import XlhedgeError
from xlhedge.excel.cells import cell_values
from xlhedge.fundingtable import SHEET_NAME as FUNDING_SHEET
from xlhedge.hedgesheet import make_sheet_file
from xlhedge.inventory import (
    SHEET_NAME,
    TABLE_NAME,
    canonical_inputs,
    column_blocks,
    missing_inputs,
    now_utc,
    refresh_table,
    refreshed_columns,
)
from xlhedge.openpositions import SHEET_NAME as POSITIONS_SHEET
from xlhedge.openpositions import TABLE_NAME as POSITIONS_TABLE
from xlhedge.openpositions import (
    open_keys,
    opened_since,
    refresh_with_settings,
    replace_account,
)
from xlhedge.openpositions import refreshed_columns as refreshed_columns_of_positions
from xlhedge.settings import (
    days,
    plan_options,
    registry_from_table,
    seconds,
    settings_from_table,
)
from xlhedge.sources import PriceSource, get_source
from xlhedge.sources.base import TableSource
from xlhedge.sources.history import daily_closes, funding_history
from xlhedge.sources.positions import PositionsRead, read_positions


def _table_frame(book: xw.Book, sheet: str, table: str) -> pd.DataFrame | None:
    """The data of a table of the calling workbook (no totals row); None when it is not there."""
    try:
        found = book.sheets[sheet].tables[table]
    except (KeyError, AttributeError):
        return None
    header = found.header_row_range.value if found.header_row_range is not None else []
    body = found.data_body_range
    rows = body.options(ndim=2).value if body is not None else []
    return pd.DataFrame(rows, columns=header)


def _status(book: xw.Book, text: str | bool) -> None:
    book.app.status_bar = text


def _context(book: xw.Book) -> tuple[dict[str, str], ContractRegistry, pd.DataFrame]:
    settings = settings_from_table(_table_frame(book, "Settings", "Settings"))
    registry = registry_from_table(_table_frame(book, "Contracts", "Contracts"))
    inventory = _table_frame(book, SHEET_NAME, TABLE_NAME)
    return settings, registry, inventory if inventory is not None else pd.DataFrame()


def refresh_inventory() -> None:
    """Button *Refresh inventory*: price and plan the Inventory table, write back only the
    columns a refresh owns (user columns and formulas stay), one range write per run of them."""
    book = xw.Book.caller()
    settings, registry, inventory = _context(book)
    source: PriceSource = get_source(settings["Price Source"],
                                     deadline=seconds(settings, "Source Timeout"))
    inventory = canonical_inputs(inventory)
    owned = refreshed_columns(source)
    missing = [c for c in owned if c not in inventory.columns]
    try:
        missing_inputs(inventory.columns)
        if missing:
            raise XlhedgeError(f"the {TABLE_NAME} table has no column {', '.join(missing)}: "
                               "add it at the table's right edge (or run xlhedge refresh on the "
                               "file, which adds it), then press Refresh again")
    except XlhedgeError as exc:
        book.app.alert(str(exc), title="xlhedge")
        return
    try:
        market = None
        if not isinstance(source, TableSource):
            market = _market_history(book, settings, registry)
            inventory = market.into(inventory)
        positions = _table_frame(book, POSITIONS_SHEET, POSITIONS_TABLE)
        try:  # a positions source that cannot be read (no key) must not stop the prices
            read, later = _read_positions(book, positions, settings), None
            if positions is not None and read.rows is not None:
                positions = replace_account(positions, read.account, read.rows)
        except XlhedgeError as exc:
            read, later = PositionsRead("table"), exc
        result = refresh_table(inventory, source, registry,
                               lambda done, total: _status(book, f"xlhedge: {done}/{total}"),
                               plan_options(settings), open_positions=open_keys(
                                   positions, registry) if positions is not None else ())
        _write_back(book, SHEET_NAME, TABLE_NAME, result, owned)
        if market is not None:
            _write_whole(book, FUNDING_SHEET, ft.TABLE_NAME, ft.as_table(market.history))
            _write_whole(book, FUNDING_SHEET, ft.STATS_TABLE, market.stats)
        if later is not None:
            raise later
        if positions is not None:
            _status(book, "xlhedge: positions")
            _refresh_positions(book, positions, read, result, settings, registry, source)
    except XlhedgeError as exc:  # the user's input or a source: one readable line
        book.app.alert(str(exc), title="xlhedge")
    finally:
        _status(book, False)


def _market_history(book: xw.Book, settings: dict[str, str], registry: ContractRegistry
                    ) -> ft.MarketHistory:
    """Funding history and cross-hedge ratios, progress in the status bar."""
    deadline = seconds(settings, "Source Timeout")

    def progress(done: int, total: int) -> None:
        _status(book, f"xlhedge: market history {done}/{total}")

    tables = {name: _table_frame(book, sheet, name) for sheet, name in (
        (SHEET_NAME, TABLE_NAME), (POSITIONS_SHEET, POSITIONS_TABLE),
        (FUNDING_SHEET, ft.TABLE_NAME), (FUNDING_SHEET, ft.STATS_TABLE))}
    now = now_utc()
    market = ft.refresh_market_history(
        tables, registry, window_days=days(settings, "Funding Window", 1, 3650), now=now,
        fetch_funding=lambda since: funding_history(since, deadline=deadline,
                                                    progress=progress),
        fetch_closes=lambda requests: daily_closes(requests, days=days(settings, "Ratio Window"),
                                                   now=now, deadline=deadline,
                                                   progress=progress))
    if market.messages:
        book.app.alert("\n".join(market.messages[:10]), title="xlhedge: kept as it was")
    return market


def _write_whole(book: xw.Book, sheet: str, table: str, frame: pd.DataFrame) -> None:
    """A table's body replaced by ``frame`` (the table resized to its rows)."""
    try:
        found = book.sheets[sheet].tables[table]
    except (KeyError, AttributeError):
        return
    found.resize(found.range[0, 0].resize(max(len(frame), 1) + 1, len(frame.columns)))
    body = found.data_body_range
    if len(frame) and body is not None:
        body.value = cell_values(frame)


def _write_back(book: xw.Book, sheet: str, table: str, frame: pd.DataFrame,
                owned: Sequence[str]) -> None:
    """One range write per contiguous run of the columns a refresh owns."""
    body = book.sheets[sheet].tables[table].data_body_range
    if body is not None:
        for start, stop in column_blocks(list(frame.columns), owned):
            body[:, start:stop].value = cell_values(frame.iloc[:, start:stop])


def _read_positions(book: xw.Book, positions: pd.DataFrame | None,
                    settings: dict[str, str]) -> PositionsRead:
    """What the Positions Source gives (a failure is said in an alert)."""
    if positions is None:
        return PositionsRead("table")
    read = read_positions(settings["Positions Source"],
                          deadline=seconds(settings, "Source Timeout"),
                          since=lambda account: opened_since(positions, account))
    if read.error:
        book.app.alert(f"positions from {read.name} failed: {read.error}; the table keeps its "
                       "rows, marked stale", title="xlhedge")
    return read


def _refresh_positions(book: xw.Book, positions: pd.DataFrame, read: PositionsRead,
                       inventory: pd.DataFrame, settings: dict[str, str],
                       registry: ContractRegistry, source: PriceSource) -> None:
    """The Positions table (its rows already those of the source): the monitor's columns."""
    funding = ft.history_of(_table_frame(book, FUNDING_SHEET, ft.TABLE_NAME))
    done = PositionsRead(read.name, None, read.account, read.error)  # rows placed already
    table, _ = refresh_with_settings(positions, inventory, registry, done, settings, source,
                                     funding_history=funding, now=now_utc())
    owned = refreshed_columns_of_positions(read.rows is not None,
                                           not isinstance(source, TableSource))
    _write_back(book, POSITIONS_SHEET, POSITIONS_TABLE, table, owned)


def make_hedge_sheet() -> None:
    """Button *Make hedge sheet*: write HedgeSheet-<date-time>.xlsx, open it, save a PDF of it."""
    book = xw.Book.caller()
    settings, registry, inventory = _context(book)
    path = make_sheet_file(inventory, settings, registry, Path(book.fullname), now_utc(),
                           positions=_table_frame(book, POSITIONS_SHEET, POSITIONS_TABLE),
                           funding_history=ft.history_of(
                               _table_frame(book, FUNDING_SHEET, ft.TABLE_NAME)))
    sheet_book = book.app.books.open(str(path))
    sheet_book.to_pdf(str(path.with_suffix(".pdf")))
