"""The Refresh button's Python side (``xlhedge.macros``) run against a stand-in for the xlwings
objects it touches (no Excel here): tables as ranges of values, the status bar, alerts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import xlwings

from xlhedge import macros, xlsxtable
from xlhedge.excel.workbook import build_workbook
from xlhedge.inventory import OPEN_NOTE

BTC = "BINANCE:BTCUSD_PERP"


class _Values:
    """A range's ``value`` (rows of cells) over a table's frame, from column ``first``."""

    def __init__(self, table: _Table, first: int = 0, last: int | None = None) -> None:
        self.table, self.first, self.last = table, first, last

    def options(self, **_: Any) -> _Values:
        return self

    def __getitem__(self, key: tuple[slice, slice]) -> _Values:
        return _Values(self.table, key[1].start, key[1].stop)

    @property
    def value(self) -> list[list[Any]]:
        return self.table.frame.iloc[:, self.first:self.last].values.tolist()

    @value.setter
    def value(self, rows: list[list[Any]]) -> None:
        frame = self.table.frame
        columns = frame.columns[self.first:self.last]
        frame[list(columns)] = frame[list(columns)].astype(object)
        frame.loc[:, list(columns)] = pd.DataFrame(rows, columns=list(columns),
                                                   index=frame.index, dtype=object)


class _Table:
    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame.astype(object)
        self.header_row_range = type("Header", (), {"value": list(frame.columns)})()

    @property
    def data_body_range(self) -> _Values:
        return _Values(self)

    @property
    def range(self) -> Any:
        """``range[0, 0].resize(rows, columns)``: what ``resize`` gets, the body rows."""
        cell = type("Cell", (), {"resize": lambda _, rows, columns: rows - 1})()
        return {(0, 0): cell}

    def resize(self, rows: int) -> None:
        self.frame = self.frame.reindex(range(rows)).astype(object)


class _Book:
    def __init__(self, path: Path, rows: dict[str, int]) -> None:
        self.fullname = str(path)
        self.alerts: list[str] = []
        self.app = self
        self.status_bar: Any = False
        self.sheets: dict[str, Any] = {}
        for info in xlsxtable.list_tables(path):
            frame = xlsxtable.read_table(path, info.name)
            frame = frame.reindex(range(max(len(frame), rows.get(info.name, 0))))
            sheet = self.sheets.setdefault(info.sheet_name, type("Sheet", (), {})())
            sheet.tables = {**getattr(sheet, "tables", {}), info.name: _Table(frame)}

    def alert(self, text: str, title: str = "") -> None:
        self.alerts.append(text)

    def table(self, name: str) -> pd.DataFrame:
        return next(s.tables[name] for s in self.sheets.values() if name in s.tables).frame


@pytest.fixture
def book(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Book:
    path = tmp_path / "Hedge.xlsm"
    build_workbook(path, inventory=pd.DataFrame({
        "Asset": ["BTC"], "Quantity": [1.5], "Price": [95000.0], "Contract": [BTC]}))
    fake = _Book(path, {"Positions": 12})
    positions = fake.table("Positions")
    for heading, value in (("Contract", BTC), ("Contracts", 900), ("Entry Price", 60000.0),
                           ("Margin", 1.5)):
        positions.loc[0, heading] = value
    monkeypatch.setattr(xlwings.Book, "caller", staticmethod(lambda: fake))
    return fake


def test_refresh_button_refreshes_inventory_and_positions(book: _Book) -> None:
    macros.refresh_inventory()
    assert book.alerts == []
    assert book.status_bar is False  # handed back to Excel
    inventory = book.table("Inventory")
    assert inventory.loc[0, "Contracts"] == 1425
    assert OPEN_NOTE in inventory.loc[0, "Status"]
    positions = book.table("Positions")
    assert positions.loc[0, "Target Contracts"] == 900
    assert positions.loc[0, "Status"] == "ok"
    assert positions.loc[0, "Unrealised PnL (USD)"] == pytest.approx(-52500)
    assert positions["Status"].iloc[1:].isna().all()  # blank rows stay blank


def test_refresh_button_with_a_failing_positions_source(book: _Book, tmp_path: Path) -> None:
    settings = book.table("Settings")
    settings.loc[settings["Setting"] == "Positions Source", "Value"] = \
        f"csv:{tmp_path / 'missing.csv'}"
    book.table("Inventory").loc[0, "Contracts"] = None
    macros.refresh_inventory()
    assert len(book.alerts) == 1 and "missing.csv" in book.alerts[0]
    assert book.table("Inventory").loc[0, "Contracts"] == 1425  # the prices are written
    assert "Traceback" not in book.alerts[0]
    assert book.status_bar is False


def test_live_refresh_button_keeps_the_funding_history(book: _Book, serve: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import json
    from datetime import UTC, datetime

    pytest.importorskip("ccxt")
    data = Path(__file__).parent / "data" / "ccxt"
    routes = json.loads((data / "binance.json").read_text(encoding="utf-8"))
    routes.update(json.loads((data / "history" / "binance.json").read_text(encoding="utf-8")))
    server = serve(routes)
    for name in ("get_source", "funding_history", "daily_closes"):
        real = getattr(macros, name)
        monkeypatch.setattr(macros, name, lambda *a, _real=real, **k: _real(
            *a, **{**k, "api_base": server.base}))
    monkeypatch.setattr(macros, "now_utc", lambda: datetime(2026, 11, 22, 12, tzinfo=UTC))
    settings = book.table("Settings")
    settings.loc[settings["Setting"] == "Price Source", "Value"] = "ccxt:binance"
    funding = book.table("Funding")
    funding.loc[0] = [BTC, datetime(2026, 11, 19, 23, 59, 59, 999000), 0.0001]
    macros.refresh_inventory()
    assert book.alerts == []
    history = book.table("Funding")
    assert len(history) == 7 and history["Rate"].iloc[-1] == 0.0001  # resized to the history
    stats = book.table("FundingStats").set_index("Contract")
    assert stats.at[BTC, "Status"] == "ok"
    assert book.table("Inventory").loc[0, "Funding 30d Avg (yearly)"] == pytest.approx(
        stats.at[BTC, "30d (yearly)"])
