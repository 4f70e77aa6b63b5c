"""The column registry: one declaration per column, shown by every face."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from xlhedge import columns, plan
from xlhedge.columns import NEVER, Column, column, column_key, is_blank, shown_in
from xlhedge.examples import example_inventory
from xlhedge.excel.workbook import build_workbook
from xlhedge.hedgesheet import write_hedge_sheet
from xlhedge.inventory import refresh_table
from xlhedge.report import plan_table, plan_text
from xlhedge.sources import get_source

EXTRA = Column("test_weekly_funding_usd", "Funding / Week (USD)", "usd", "computed", total=True,
               position="sum")


@pytest.fixture
def extra_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """A new plan column, added the way a developer would: declared in the registry (before
    Status) and computed in the plan; nothing else is touched."""
    declared = columns.COLUMNS
    monkeypatch.setattr(columns, "COLUMNS", (*declared[:-1], EXTRA, declared[-1]))
    row_results = plan._Position.row_results

    def with_extra(self: Any, v: Any, liq: float) -> Any:
        out = row_results(self, v, liq)
        out[EXTRA.key] = out["funding_per_day_usd"] * 7
        return out

    monkeypatch.setattr(plan._Position, "row_results", with_extra)


def _btc_row() -> pd.DataFrame:
    return pd.DataFrame([{"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0,
                          "Contract": "BINANCE:BTCUSD_PERP", "Funding Rate": 0.0001}])


WEEKLY = 126.0  # 600 contracts x 100 USD at 0.01% per 8 h: 6 USD per interval, 18 a day, x 7


def test_a_new_column_is_in_the_plan(extra_column: None) -> None:
    result = plan.plan_hedge(_btc_row())
    assert result.loc[0, EXTRA.key] == pytest.approx(WEEKLY)


def test_a_new_column_shows_in_the_inventory_refresh(extra_column: None) -> None:
    table = refresh_table(_btc_row(), get_source("table"))
    assert table.loc[0, EXTRA.heading] == pytest.approx(WEEKLY)


def test_a_new_column_shows_in_the_report_and_the_plan_file(extra_column: None) -> None:
    result = plan.plan_hedge(_btc_row())
    assert EXTRA.heading in plan_text(result)
    assert "126.00" in plan_text(result)
    assert plan_table(result).loc[0, EXTRA.heading] == pytest.approx(WEEKLY)


def test_a_new_column_shows_in_the_hedge_sheet(extra_column: None, tmp_path: Path) -> None:
    path = write_hedge_sheet(plan.plan_hedge(_btc_row()), tmp_path / "sheet.xlsx",
                             as_of=datetime(2026, 1, 1, tzinfo=UTC), source="table",
                             workbook_name="test")
    ws = openpyxl.load_workbook(path).active
    assert ws is not None
    header = next(c for row in ws.iter_rows() for c in row if c.value == EXTRA.heading)
    assert ws.cell(header.row + 1, header.column).value == pytest.approx(WEEKLY)
    assert ws.cell(header.row + 1, header.column).number_format == EXTRA.excel_format


def test_a_new_column_shows_in_the_workbook(extra_column: None, tmp_path: Path) -> None:
    book = openpyxl.load_workbook(build_workbook(tmp_path / "Book.xlsm"))
    table = book["Inventory"].tables["Inventory"]
    headers = [c.name for c in table.tableColumns]
    assert EXTRA.heading in headers and headers[-1] == "Status"
    totals = next(c for c in table.tableColumns if c.name == EXTRA.heading)
    assert totals.totalsRowFunction == "custom"


class TestRendering:
    @pytest.mark.parametrize(("key", "value", "text", "cell"), [
        ("liquidation_price", math.inf, NEVER, NEVER),
        ("liquidation_distance", math.inf, NEVER, NEVER),
        ("liquidation_price", math.nan, "", None),
        ("liquidation_price", 89654.94, "89,654.94", 89654.94),
        ("liquidation_distance", 0.494, "+49.4%", 0.494),
        ("margin_coin", 0.49991668, "0.49991668", 0.49991668),
        ("contracts", 900.0, "900", 900.0),
        ("asset", "BTC", "BTC", "BTC"),
        ("asset", None, "", None),
    ])
    def test_text_and_cell(self, key: str, value: object, text: str, cell: object) -> None:
        assert column(key).text(value) == text
        assert column(key).cell(value) == cell

    def test_headings_fit_their_columns(self) -> None:
        for declared in columns.COLUMNS:
            assert declared.width >= len(declared.heading) + 2, declared.heading

    def test_every_face_has_columns_and_keys_are_unique(self) -> None:
        keys = [c.key for c in columns.COLUMNS]
        assert len(keys) == len(set(keys))
        for face in ("inventory", "report", "file", "sheet"):
            assert shown_in(face)  # type: ignore[arg-type]

    def test_every_position_column_says_how_a_position_holds_it(self) -> None:
        for declared in shown_in("sheet"):  # the positions table (hedge sheet, terminal)
            assert declared.key == "asset" or declared.position, declared.key

    def test_plan_file_writes_never_not_inf(self, tmp_path: Path) -> None:
        result = plan.plan_hedge(example_inventory())
        table = plan_table(result)
        assert NEVER in set(table["Liq. Price"])
        assert not np.isinf(pd.to_numeric(table["Liq. Price"], errors="coerce")).any()


@pytest.mark.parametrize(("value", "blank"), [
    (None, True), (math.nan, True), ("  ", True), ("", True), (pd.NA, True), (pd.NaT, True),
    (0.0, False), ("x", False), (False, False),
])
def test_is_blank(value: object, blank: bool) -> None:
    assert is_blank(value) is blank


def test_column_key() -> None:
    assert column_key("Hedge Ratio") == column_key("hedge_ratio") == "hedgeratio"
    assert column_key(" Funding / Day (USD) ") == "fundingdayusd"
