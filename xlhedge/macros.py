"""Python side of the workbook's buttons (``RunPython`` from the ``xlhedge_macros`` VBA module).

Only the few lines marked *Excel adapter* talk to Excel through xlwings (``Book.caller()``); they
cannot run here and stay thin. Everything they call is a plain function over DataFrames and
values, tested without Excel: reading the settings, building the price source and the contract
registry, refreshing the table (:func:`xlhedge.inventory.refresh_table`), turning the result into
the values of one range write, and writing the hedge sheet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlwings as xw

from xlhedge.contracts import ContractRegistry, default_registry
from xlhedge.files import FORMULA_START
from xlhedge.hedgesheet import write_hedge_sheet
from xlhedge.inventory import (
    SHEET_NAME,
    TABLE_NAME,
    column_blocks,
    now_utc,
    refresh_table,
    refreshed_columns,
)
from xlhedge.plan import plan_hedge
from xlhedge.sources import PriceSource, get_source

SETTING_DEFAULTS = {
    "Price Source": "table", "Paper": "A4", "Orientation": "landscape", "Hedge Sheet Folder": "",
}


def settings_from_table(frame: pd.DataFrame | None) -> dict[str, str]:
    """The Settings table (Setting, Value) as a dict, blanks taking the defaults."""
    settings = dict(SETTING_DEFAULTS)
    if frame is not None and {"Setting", "Value"} <= set(frame.columns):
        for name, value in zip(frame["Setting"], frame["Value"], strict=True):
            if isinstance(name, str) and not pd.isna(value) and str(value).strip():
                settings[name.strip()] = str(value).strip()
    return settings


def registry_from_table(frame: pd.DataFrame | None) -> ContractRegistry:
    """Built-in specs overridden by the workbook's Contracts table."""
    registry = default_registry()
    return registry if frame is None or frame.empty else registry.with_frame(frame)


def cell_values(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows for one range write: blanks as None, text that looks like a formula kept as text."""

    def value(item: object) -> Any:
        if item is None or (isinstance(item, float) and np.isnan(item)):
            return None
        if isinstance(item, str) and item.startswith(FORMULA_START):
            return "'" + item  # Excel stores it as text; the apostrophe is not part of the text
        if isinstance(item, np.generic):
            return item.item()
        return item

    return [[value(v) for v in row] for row in frame.itertuples(index=False)]


def hedge_sheet_path(workbook: Path, folder: str, now: datetime) -> Path:
    """``HedgeSheet-YYYYMMDD-HHMMSS.xlsx`` in ``folder`` or next to the workbook."""
    target = Path(folder) if folder else workbook.parent
    return target / f"HedgeSheet-{now:%Y%m%d-%H%M%S}.xlsx"


def make_sheet_file(
    inventory: pd.DataFrame, settings: Mapping[str, str], registry: ContractRegistry,
    workbook: Path, now: datetime, path: Path | None = None,
) -> Path:
    """Plan from the inventory's inputs and prices (never its computed columns); write the sheet.

    ``path`` defaults to :func:`hedge_sheet_path`.
    """
    path = path or hedge_sheet_path(workbook, settings["Hedge Sheet Folder"], now)
    plan = plan_hedge(inventory, registry)
    return write_hedge_sheet(
        plan, path, as_of=now, source=settings["Price Source"], workbook_name=workbook.name,
        paper="letter" if settings["Paper"].lower() == "letter" else "a4",
        landscape=settings["Orientation"].lower() != "portrait",
    )


# --- Excel adapters: the only code that needs Excel ----------------------------------------


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
    source: PriceSource = get_source(settings["Price Source"])
    owned = refreshed_columns(source)
    missing = [c for c in owned if c not in inventory.columns]
    if missing:
        book.app.alert(f"The Inventory table has no column {', '.join(missing)}: add it, then "
                       "press Refresh again.", title="xlhedge")
        return
    try:
        result = refresh_table(inventory, source, registry,
                               lambda done, total: _status(book, f"xlhedge: {done}/{total}"))
        body = book.sheets[SHEET_NAME].tables[TABLE_NAME].data_body_range
        if body is not None:
            for start, stop in column_blocks(list(result.columns), owned):
                body[:, start:stop].value = cell_values(result.iloc[:, start:stop])
    finally:
        _status(book, False)


def make_hedge_sheet() -> None:
    """Button *Make hedge sheet*: write HedgeSheet-<date-time>.xlsx, open it, save a PDF of it."""
    book = xw.Book.caller()
    settings, registry, inventory = _context(book)
    path = make_sheet_file(inventory, settings, registry, Path(book.fullname), now_utc())
    sheet_book = book.app.books.open(str(path))
    sheet_book.to_pdf(str(path.with_suffix(".pdf")))
