"""The printable hedge sheet: figures read back with openpyxl against the core, print settings,
text that looks like formulas, the chart, and the PDF printed by LibreOffice."""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from xlhedge import hedgesheet
from xlhedge.columns import COLUMNS
from xlhedge.errors import XlhedgeError
from xlhedge.hedgesheet import (
    CHART_MOVES,
    CHECKBOX,
    CHECKLIST,
    COST_HEADERS,
    COST_LABELS,
    DISCLAIMER,
    FUNDING_TITLE,
    LABELS,
    LADDER,
    NO_FUNDING_CHART,
    NO_HISTORY,
    SECTIONS,
    TAX_REMARK,
    funding_by_day,
    order_text,
    warning_lines,
    write_hedge_sheet,
)
from xlhedge.pdf import LibreOfficeMissingError, PdfConversionError, libreoffice_available, to_pdf
from xlhedge.plan import (
    margin_by_coin,
    plan_hedge,
    plan_positions,
    plan_totals,
    scenario_summary,
    scenario_table,
    transfers,
)
from xlhedge.report import cost_text

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
SOURCE = "Binance & Bybit mark prices (REST)"
WORKBOOK = "xlhedge-demo.xlsm"
# Asset names a spreadsheet would take for formulas; they must stay text.
FORMULA_LIKE = ('=HYPERLINK("http://example.com","click")', "+1", "-x", "@foo")


def _inventory() -> pd.DataFrame:
    base = pd.read_csv(ROOT / "examples" / "inventory.csv")
    extra = pd.DataFrame({
        "Asset": [*FORMULA_LIKE, "BTC", "ETH"],
        "Quantity": [0.3, 1.0, 2.0, 0.5, "abc", 0.00001],
        "Price": [60000.0, 60000.0, 3000.0, 60000.0, 60000.0, 3000.0],
        "Contract": ["OKX:BTC-USD-SWAP", "BYBIT:BTCUSD", "OKX:ETH-USD-SWAP", "BINANCE:BTCUSD_PERP",
                     "BINANCE:BTCUSD_PERP", "BINANCE:ETHUSD_PERP"],
        "Leverage": [2, 1, 3, 2, 1, 1],
        "Account": "TEST",  # each of these a position of its own, apart from the examples'
    })
    return pd.concat([base, extra], ignore_index=True)


@pytest.fixture(scope="module")
def plan() -> pd.DataFrame:
    result = plan_hedge(_inventory())
    assert (result["error"] != "").sum() == 1  # the "abc" quantity
    assert ((result["error"] == "") & (result["contracts"] == 0)).sum() == 1  # the tiny one
    return result


@pytest.fixture(scope="module")
def sheet_path(plan: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sheet") / "hedge-sheet.xlsx"
    written = write_hedge_sheet(plan, path, as_of=AS_OF, source=SOURCE, workbook_name=WORKBOOK)
    assert written == path
    return path


@pytest.fixture(scope="module")
def ws(sheet_path: Path) -> Worksheet:
    workbook = openpyxl.load_workbook(sheet_path)
    assert workbook.sheetnames[0] == hedgesheet.SHEET_NAME
    return workbook.worksheets[0]


# -- finding things by their labels -------------------------------------------------------------


def cells_with(ws: Worksheet, text: str) -> list[Any]:
    return [c for row in ws.iter_rows() for c in row if c.value == text]


def cell_with(ws: Worksheet, text: str) -> Any:
    found = cells_with(ws, text)
    assert len(found) == 1, f"{text!r} found {len(found)} times"
    return found[0]


def right_of(ws: Worksheet, label: str) -> Any:
    """The first non-empty cell right of the cell holding ``label``."""
    cell = cell_with(ws, label)
    for col in range(cell.column + 1, ws.max_column + 1):
        value = ws.cell(cell.row, col).value
        if value not in (None, ""):
            return ws.cell(cell.row, col)
    raise AssertionError(f"no value right of {label!r}")


def table_below(ws: Worksheet, header_row: int, key: str) -> list[dict[str, Any]]:
    """Rows under ``header_row`` as {header: cell}, while the ``key`` column holds a number."""
    columns = {ws.cell(header_row, c).value: c for c in range(1, ws.max_column + 1)
               if ws.cell(header_row, c).value not in (None, "")}
    rows = []
    row = header_row + 1
    while isinstance(ws.cell(row, columns[key]).value, int | float):
        rows.append({name: ws.cell(row, col) for name, col in columns.items()})
        row += 1
    return rows


def header_row_of(ws: Worksheet, *titles: str) -> int:
    """The row that holds all of ``titles``."""
    rows = {c.row for c in cells_with(ws, titles[0])}
    for title in titles[1:]:
        rows &= {c.row for c in cells_with(ws, title)}
    assert len(rows) == 1, f"header {titles} found in rows {rows}"
    return int(rows.pop())


H = {c.key: c.heading for c in COLUMNS}  # the headings the sheet shows


def orders(ws: Worksheet) -> list[dict[str, Any]]:
    return table_below(ws, header_row_of(ws, "Order", H["fee_to_open_usd"]), "#")


def approx(value: float) -> Any:
    return pytest.approx(value, rel=1e-12, abs=1e-12)


def check_number(cell: Any, expected: float, never: bool = False) -> None:
    """A number cell equal to ``expected``; ``never`` for infinite liquidation values."""
    if math.isinf(expected):
        assert never and cell.value == "never" and cell.data_type == "s"
        return
    assert cell.data_type == "n" and isinstance(cell.value, int | float), cell.coordinate
    assert cell.value == approx(expected), cell.coordinate


def live_positions(plan: pd.DataFrame) -> pd.DataFrame:
    positions = plan_positions(plan)
    return positions[positions["contracts"] > 0].reset_index(drop=True)


def sell(row: Any) -> str:
    return order_text("SELL", row["contracts"], row["contract"], row["order_quantity"],
                      row["order_unit"], row["contract_value"])


# -- figures ------------------------------------------------------------------------------------


def test_title_block(ws: Worksheet) -> None:
    assert right_of(ws, "Prices as of").value == "2024-05-01 12:00:00 UTC"
    assert right_of(ws, "Price source").value == SOURCE
    assert right_of(ws, "Inventory from").value == WORKBOOK


def test_summary_matches_plan_totals(ws: Worksheet, plan: pd.DataFrame) -> None:
    totals = plan_totals(plan)
    for key in ("holdings", "errors", "notional_usd", "exposure_usd", "hedged_usd", "coverage",
                "net_delta_usd", "margin_usd", "funding_per_day_usd", "fee_to_open_usd",
                "nearest_liquidation_distance"):
        check_number(right_of(ws, LABELS[key]), totals[key])
    # Funding per 30 days, by hand. A short in inverse contracts receives n x cv x rate USD per
    # interval (n x cv / mark coin at the mark price); every contract here pays every 8 h, so
    # 3 times a day. The rows with no Funding Rate take 0.0001. Contracts (hedged USD n x cv):
    #   BTC 1.5 x 60,000 / 100 = 900 (90,000)      ETH 20 x 3,000 / 1 = 60,000 (60,000)
    #   BTC 0.25 x 60,000 = 15,000, 150 lots of 100 (15,000)
    #   SOL 400 x 150 x 0.85 / 100 = 510 (51,000)
    #   BTC (0.4 + 0.1 collateral) x 60,000 / 10 = 3,000 (30,000)
    #   =HYPERLINK 0.3 x 60,000 / 100 = 180 (18,000)   +1 1 x 60,000 / 1 = 60,000 (60,000)
    #   -x 2 x 3,000 / 10 = 600 (6,000)                 @foo 0.5 x 60,000 / 100 = 300 (30,000)
    #   at +0.0001: 360,000 USD x 0.0001 x 3 = +108 USD a day
    #   ETH 5 x 3,000 x 0.5 / 10 = 750 (7,500) at -0.0002: 7,500 x -0.0002 x 3 = -4.5 USD a day
    #   ("abc" is in error and the 0.00001 ETH rounds to 0 contracts: no funding)
    # 108 - 4.5 = 103.5 USD a day; x 30 = 3,105 USD over the 30-day horizon (the cost block).
    check_number(right_of(ws, LABELS["funding_per_day_usd"]), 103.5)
    assert right_of(ws, COST_LABELS["hedge_days"]).value == 30
    check_number(right_of(ws, COST_LABELS["funding"]), 3105.0)
    # no row has a 30-day average: the average's column says so, once
    assert len(cells_with(ws, NO_HISTORY)) == 1
    margins = margin_by_coin(plan)
    assert set(margins.index) == {"BTC", "ETH"}
    for coin, value in margins.items():
        cell = right_of(ws, f"{LABELS['margin_coin']}, {coin}")
        check_number(cell, value)
        assert "0.00000000" in cell.number_format and coin in cell.number_format
    assert right_of(ws, LABELS["nearest_liquidation_on"]).value == "BTC (BITMEX:XBTUSD)"
    assert "#,##0.00" in right_of(ws, LABELS["notional_usd"]).number_format
    assert "%" in right_of(ws, LABELS["coverage"]).number_format


def test_orders_are_the_positions(ws: Worksheet, plan: pd.DataFrame) -> None:
    expected = live_positions(plan)
    got = orders(ws)
    # 11 holdings planned in 10 positions (1.5 BTC and 400 SOL share BINANCE:BTCUSD_PERP); the
    # TEST account's BINANCE:ETHUSD_PERP position rounds to 0 contracts: 9 orders
    assert len(got) == len(expected) == 9
    for line, row in zip(got, expected.to_dict("records"), strict=True):
        assert line["Hedges"].value == row["asset"] and line["Hedges"].data_type == "s"
        assert line["Order"].value == sell(row)
        check_number(line[H["contracts"]], row["contracts"])
        check_number(line[H["contract_value"]], row["contract_value"])
        check_number(line[H["hedged_usd"]], row["hedged_usd"])
        check_number(line[H["leverage"]], row["leverage"])
        check_number(line[H["margin_coin"]], row["margin_coin"])
        shown = row["liquidation_price"]  # printed rounded down to the tick, as exchanges do
        shown = math.floor(shown / row["tick_size"]) * row["tick_size"] if math.isfinite(
            shown) else shown
        check_number(line[H["liquidation_price"]], shown, never=True)
        check_number(line[H["liquidation_distance"]], row["liquidation_distance"], never=True)
        check_number(line[H["fee_to_open_coin"]], row["fee_to_open_coin"])
        check_number(line[H["fee_to_open_usd"]], row["fee_to_open_usd"])
        assert line[H["margin_mode"]].value == "isolated"
        assert row["settle"] in line[H["margin_coin"]].number_format
        assert ".00000000" in line[H["margin_coin"]].number_format
        assert "#,##0.00" in line[H["fee_to_open_usd"]].number_format
    # one position for BTC and SOL at the lower of their leverages (3x and 2x): 900 + 510
    assert got[0]["Order"].value == "SELL 1,410 contracts of BINANCE:BTCUSD_PERP"
    assert got[0]["Hedges"].value == "BTC, SOL"
    assert got[0][H["leverage"]].value == 2
    assert got[0][H["liquidation_price"]].value == pytest.approx(119539.9)  # 119,539.92 floored


def test_transfers_fund_every_wallet(ws: Worksheet, plan: pd.DataFrame) -> None:
    texts = [c.value for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith(f"{CHECKBOX}  Transfer")]
    wallets = transfers(live_positions(plan))
    assert texts == [f"{CHECKBOX}  {t} before you open." for t in wallets["text"]]
    assert texts[0].startswith(f"{CHECKBOX}  Transfer 1.17715381 BTC to the BINANCE COIN-M BTC")


def test_errors_are_listed_with_their_text(ws: Worksheet, plan: pd.DataFrame) -> None:
    bad = plan[plan["error"] != ""]
    title = cell_with(ws, SECTIONS["errors"])
    rows = table_below(ws, title.row + 1, "#")
    assert [(r["Asset"].value, r["Contract"].value, r["Error"].value) for r in rows] == list(
        zip(bad["asset"], bad["contract"], bad["error"], strict=True))
    assert "quantity must be a number" in rows[0]["Error"].value


def test_unwind_lines(ws: Worksheet, plan: pd.DataFrame) -> None:
    title = cell_with(ws, SECTIONS["unwind"])
    header = header_row_of(ws, "Order", H["fee_to_open_usd"])
    columns = {ws.cell(header, c).value: c for c in range(1, ws.max_column + 1)}
    unwind_header = [ws.cell(title.row + 1, c).value for c in range(1, ws.max_column + 1)]
    assert unwind_header[:3] == ["#", "Hedges", "Order"] and H["contracts"] in unwind_header
    expected = live_positions(plan)
    for i, row in enumerate(expected.to_dict("records"), start=title.row + 2):
        assert ws.cell(i, columns["Order"]).value == order_text(
            "BUY", row["contracts"], row["contract"], row["order_quantity"], row["order_unit"],
            row["contract_value"])
        check_number(ws.cell(i, columns["Contracts"]), row["contracts"])
        assert ws.cell(i, columns["Hedges"]).value == row["asset"]
    assert order_text("BUY", 1, "X:Y") == "BUY 1 contract of X:Y to close"
    assert order_text("SELL", 0.123, "X:Y") == "SELL 0.123 contracts of X:Y"
    assert order_text("SELL", 3000, "DERIBIT:BTC-PERPETUAL", 30000, "USD", 10) == (
        "SELL 30,000 USD of DERIBIT:BTC-PERPETUAL (3,000 contracts of 10 USD)")


def test_ladder_matches_scenario_summary(ws: Worksheet, plan: pd.DataFrame) -> None:
    moves = hedgesheet.ladder_moves(plan, LADDER)
    expected = scenario_summary(scenario_table(plan, moves))
    rows = table_below(ws, header_row_of(ws, "Hedges liquidated"), "Price move")
    # every 10% from -50% to +50%, +100%, and a row at each position's liquidation price
    assert {-0.4, 0.4, 1.0} <= set(moves) and len(rows) == len(moves) > len(LADDER)
    bitmex = plan[plan["contract"] == "BITMEX:XBTUSD"].iloc[0]["liquidation_distance"]
    at_bitmex = next(r for r in rows if r["Price move"].value == math.ceil(bitmex * 1e4) / 1e4)
    assert "BITMEX:XBTUSD" in at_bitmex["Hedges liquidated"].value
    for line, (_, row) in zip(rows, expected.iterrows(), strict=True):
        check_number(line["Price move"], row["move"])
        check_number(line["Unhedged value (USD)"], row["unhedged_usd"])
        check_number(line["Hedge PnL (USD)"], row["hedge_pnl_usd"])
        check_number(line["Hedged value (USD)"], row["hedged_usd"])
        flag = line["Hedges liquidated"].value
        if row["liquidated"]:
            assert flag == f"LIQUIDATED: {row['liquidated_assets']}"
        else:
            assert flag in (None, "")
    assert rows[-1]["Hedges liquidated"].value.startswith("LIQUIDATED: BTC (BINANCE:BTCUSD_PERP)")
    assert rows[0]["Price move"].number_format.startswith("+0.0%")  # a liquidation row: +99.2%


def test_chart_exists_and_prints(sheet_path: Path, ws: Worksheet, plan: pd.DataFrame) -> None:
    with zipfile.ZipFile(sheet_path) as archive:
        names = archive.namelist()
        assert "xl/charts/chart1.xml" in names
        chart = archive.read("xl/charts/chart1.xml").decode()
        drawing = archive.read("xl/drawings/drawing1.xml").decode()
    assert "<c:scatterChart>" in chart and chart.count("<c:ser>") == 2
    # the chart's corners lie inside the print area
    cols = [int(c) for c in re.findall(r"<xdr:col>(\d+)</xdr:col>", drawing)]
    rows = [int(r) for r in re.findall(r"<xdr:row>(\d+)</xdr:row>", drawing)]
    last_col = column_index_from_string(re.findall(r"\$([A-Z]+)\$", ws.print_area)[-1]) - 1
    assert cols and max(cols) <= last_col
    match = re.search(r"\$(\d+)$", ws.print_area)
    assert match
    last_row = int(match.group(1))
    assert rows and max(rows) < last_row
    # its data, outside the print area, is the core's payoff in 5% steps
    data = cell_with(ws, SECTIONS["chart_data"])
    assert data.column > last_col + 1
    payoff = scenario_summary(scenario_table(plan, CHART_MOVES))
    got = table_below(ws, data.row + 1, "Price move")
    assert len(got) == len(CHART_MOVES) == 31
    for line, (_, row) in zip(got, payoff.iterrows(), strict=True):
        check_number(line["Price move"], row["move"])
        check_number(line["Unhedged value (USD)"], row["unhedged_usd"])
        check_number(line["Hedged value (USD)"], row["hedged_usd"])


def test_formula_like_text_stays_text(sheet_path: Path, ws: Worksheet) -> None:
    for name in FORMULA_LIKE:
        found = cells_with(ws, name)
        assert len(found) >= 2, name  # the order and its unwind (its own position)
        assert all(c.data_type == "s" for c in found)
    with zipfile.ZipFile(sheet_path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
        strings = archive.read("xl/sharedStrings.xml").decode()
    assert "<f>" not in xml and "<f " not in xml  # no formula anywhere
    shared = {"".join(t.itertext()) for t in ElementTree.fromstring(strings)}
    assert set(FORMULA_LIKE) <= shared
    assert "<hyperlink" not in xml


def test_warnings_one_per_line(ws: Worksheet, plan: pd.DataFrame) -> None:
    lines = warning_lines(plan)
    texts = {c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert lines and all(line in texts for line in lines)
    cross = ("SOL / BINANCE:BTCUSD_PERP: cross-hedge: SOL hedged with BTC contracts "
             "(basis risk: check the ratio with HEDGE_RATIO)")
    assert cross in lines
    assert ("BTC / BINANCE:BTCUSD_PERP: leverage 3x lowered to 2x: one position on "
            "BINANCE:BTCUSD_PERP with SOL (2x)") in lines
    assert "ETH / BINANCE:ETHUSD_PERP: holding is smaller than one lot: no contracts" in lines
    assert DISCLAIMER in texts


def test_checklist_and_sign_off(ws: Worksheet) -> None:
    texts = [c.value for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith(CHECKBOX)
             and not c.value.startswith(f"{CHECKBOX}  Transfer")]
    assert len(texts) == 7 == len(CHECKLIST)
    steps = ["Inventory checked", "Contract picked", "Notional confirmed", "Contracts computed",
             "Margin set", "Orders executed", "Monitor and unwind plan set"]
    for n, (text, step) in enumerate(zip(texts, steps, strict=True), start=1):
        assert text.startswith(f"{CHECKBOX}  {n}. {step}")
    assert "margin mode and leverage per position as listed" in texts[4]
    signed = [c.value for row in ws.iter_rows() for c in row
              if isinstance(c.value, str) and c.value.startswith("Executed by:")]
    assert len(signed) == 1 and re.search(r"Executed by: _+ +at: _+", signed[0])


# -- print settings -----------------------------------------------------------------------------


def test_print_settings(sheet_path: Path, ws: Worksheet) -> None:
    setup = ws.page_setup
    assert setup.orientation == "landscape"
    assert setup.paperSize == 9  # A4
    assert ws.sheet_properties.pageSetUpPr.fitToPage is True
    assert setup.fitToWidth in (None, 1)  # 1 is the default, so xlsxwriter leaves it out
    assert setup.fitToHeight == 0  # as many pages tall as needed
    assert not ws.print_title_rows  # the orders sit on page 1: no header to repeat
    width = len(hedgesheet.FIRST_COLUMNS) + len(hedgesheet.sheet_columns())
    last = max(c.row for row in ws.iter_rows(max_col=width) for c in row
               if c.value not in (None, ""))
    letter = get_column_letter(width)
    assert ws.print_area == f"'{hedgesheet.SHEET_NAME}'!$A$1:${letter}${last}"
    assert ws.oddFooter.center.text == "Page &P of &N"
    assert ws.oddFooter.left.text == WORKBOOK
    # the orders come first, right under the title: no page break before them
    title = cell_with(ws, SECTIONS["orders"])
    assert title.row < 10 and not ws.row_breaks.brk
    with zipfile.ZipFile(sheet_path) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert '<pageSetUpPr fitToPage="1"/>' in xml and 'fitToHeight="0"' in xml


def test_letter_portrait(plan: pd.DataFrame, tmp_path: Path) -> None:
    path = write_hedge_sheet(plan, tmp_path / "letter.xlsx", as_of=AS_OF, source=SOURCE,
                             workbook_name=WORKBOOK, paper="letter", landscape=False)
    setup = openpyxl.load_workbook(path).worksheets[0].page_setup
    assert (setup.paperSize, setup.orientation) == (1, "portrait")


def test_bad_arguments(plan: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(XlhedgeError, match="paper"):
        write_hedge_sheet(plan, tmp_path / "x.xlsx", as_of=AS_OF, source="s", workbook_name="w",
                          paper="a3")  # type: ignore[arg-type]
    with pytest.raises(XlhedgeError, match="missing"):
        write_hedge_sheet(plan.drop(columns="contracts"), tmp_path / "x.xlsx", as_of=AS_OF,
                          source="s", workbook_name="w")
    with pytest.raises(XlhedgeError, match="moves"):
        write_hedge_sheet(plan, tmp_path / "x.xlsx", as_of=AS_OF, source="s", workbook_name="w",
                          moves=(-1.5, 0.0))
    assert list(tmp_path.iterdir()) == []


def test_no_holding_planned(tmp_path: Path) -> None:
    """Every row in error: the sheet still lists them, with no scenarios and no chart."""
    plan = plan_hedge(pd.DataFrame({"asset": ["BTC", "=1+1"], "quantity": [-1, 1],
                                    "price": [60000, 1], "contract": ["BINANCE:BTCUSD_PERP",
                                                                      "NOPE:X"]}))
    path = write_hedge_sheet(plan, tmp_path / "errors.xlsx", as_of=datetime(2024, 5, 1),
                             source="s", workbook_name="w")
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert right_of(ws, "Prices as of").value == "2024-05-01 00:00:00 (no time zone given)"
    assert right_of(ws, LABELS["errors"]).value == 2
    assert right_of(ws, LABELS["coverage"]).value == "n/a"
    assert right_of(ws, LABELS["nearest_liquidation_distance"]).value == "never"
    rows = table_below(ws, cell_with(ws, SECTIONS["errors"]).row + 1, "#")
    assert [r["Asset"].value for r in rows] == ["BTC", "=1+1"]
    assert "unknown contract 'NOPE:X'" in rows[1]["Error"].value
    assert cells_with(ws, "No holding could be planned: no scenarios.")
    assert cells_with(ws, "No orders: nothing to hedge.")
    with zipfile.ZipFile(path) as archive:
        assert not any(n.startswith("xl/charts/") for n in archive.namelist())


# -- writing ------------------------------------------------------------------------------------


def test_replaces_atomically(plan: pd.DataFrame, tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "sheet.xlsx"
    target.write_bytes(b"old sheet")
    write_hedge_sheet(plan, target, as_of=AS_OF, source="s", workbook_name="w")
    assert zipfile.is_zipfile(target)
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.xlsx"]
    good = target.read_bytes()

    def broken(self: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", broken)
    with pytest.raises(OSError, match="disk full"):
        write_hedge_sheet(plan, target, as_of=AS_OF, source="s", workbook_name="w")
    assert target.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.xlsx"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_new_sheet_gets_normal_permissions(plan: pd.DataFrame, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        path = write_hedge_sheet(plan, tmp_path / "s.xlsx", as_of=AS_OF, source="s",
                                 workbook_name="w")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644  # not mkstemp's 0o600


def test_same_plan_same_bytes(plan: pd.DataFrame, tmp_path: Path) -> None:
    """Archived sheets are reproducible: the file's dates come from ``as_of``, not the clock."""
    a = write_hedge_sheet(plan, tmp_path / "a.xlsx", as_of=AS_OF, source="s", workbook_name="w")
    b = write_hedge_sheet(plan, tmp_path / "b.xlsx", as_of=AS_OF, source="s", workbook_name="w")
    assert a.read_bytes() == b.read_bytes()


# -- PDF ----------------------------------------------------------------------------------------


def require(tool: str) -> None:
    """Skip without LibreOffice/poppler, except in CI (CI=true), where that is a failure."""
    available = libreoffice_available() if tool == "soffice" else shutil.which(tool) is not None
    if available:
        return
    message = (f"{tool} is not installed "
               "(apt-get install --no-install-recommends libreoffice-calc poppler-utils)")
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def pdf_pages(sheet_path: Path) -> list[str]:
    """Text of each page of the sheet printed to PDF (layout kept)."""
    for tool in ("soffice", "pdfinfo", "pdftotext"):
        require(tool)
    pdf = to_pdf(sheet_path, sheet_path.with_suffix(".pdf"))
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text.split("\f")[:-1]


def page_sizes(pdf: Path) -> list[tuple[float, float]]:
    info = subprocess.run(["pdfinfo", "-f", "1", "-l", "999", str(pdf)], check=True,
                          capture_output=True, text=True).stdout
    return [(float(w), float(h))
            for w, h in re.findall(r"Page +\d+ size: +([\d.]+) x ([\d.]+) pts", info)]


def test_pdf_is_one_page_wide(sheet_path: Path, pdf_pages: list[str], plan: pd.DataFrame) -> None:
    sizes = page_sizes(sheet_path.with_suffix(".pdf"))
    # the orders, the summary and the cost of the hedge on page 1, the charts, the ladder,
    # warnings and unwind after; a sheet wider than the paper would add pages holding only the
    # right-hand columns
    assert len(sizes) == len(pdf_pages) == 4
    for width, height in sizes:  # landscape A4: 297 x 210 mm
        assert width == pytest.approx(841.9, abs=1) and height == pytest.approx(595.3, abs=1)
    for n, page in enumerate(pdf_pages, start=1):
        assert f"Page {n} of {len(pdf_pages)}" in page
    first = pdf_pages[0]
    assert SECTIONS["orders"] in first and "Transfer 1.17715381 BTC" in first
    assert "Spot value of the holdings (USD)" in first
    assert SECTIONS["cost"] in first and TAX_REMARK in " ".join(first.split())
    assert "Payoff: value of the holdings after a price move" in pdf_pages[1]
    assert "Execution checklist" in "\n".join(pdf_pages)
    # page 1 holds every order line from the leftmost to the rightmost column
    assert "Fee to Open" in first and "(USD)" in first
    lines = first.splitlines()
    for row in live_positions(plan).to_dict("records"):
        line = next(text for text in lines if sell(row).split(" (")[0] in text)
        assert line.rstrip().endswith(f"{row['fee_to_open_usd']:,.2f}"), line


def test_pdf_text_holds_orders_and_totals(pdf_pages: list[str], plan: pd.DataFrame) -> None:
    text = "\n".join(pdf_pages)
    flat = " ".join(text.split())
    for row in live_positions(plan).to_dict("records"):  # a long order wraps in its cell
        assert sell(row).split(" (")[0] in flat
        assert order_text("BUY", row["contracts"], row["contract"], row["order_quantity"],
                          row["order_unit"], row["contract_value"]).split(" (")[0] in flat
    totals = plan_totals(plan)
    for key in ("notional_usd", "exposure_usd", "hedged_usd", "net_delta_usd", "margin_usd"):
        assert f"{totals[key]:,.2f}" in flat, key
    assert f"{totals['coverage']:.2%}" in flat
    for coin, value in margin_by_coin(plan).items():
        assert f"{value:,.8f} {coin}" in flat
    assert DISCLAIMER in flat
    assert '=HYPERLINK("http://example.com","click")' in flat  # printed as text, not a link


def test_pdf_conversions_in_parallel(sheet_path: Path, tmp_path: Path) -> None:
    require("soffice")
    results: dict[int, Path | BaseException] = {}

    def convert(i: int) -> None:
        try:
            results[i] = to_pdf(sheet_path, tmp_path / f"copy{i}.pdf")
        except BaseException as exc:  # reported below
            results[i] = exc

    threads = [threading.Thread(target=convert, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(2):
        result = results[i]
        assert isinstance(result, Path), result
        assert result.read_bytes().startswith(b"%PDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy0.pdf", "copy1.pdf"]


def test_pdf_without_libreoffice(sheet_path: Path, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XLHEDGE_SOFFICE", str(tmp_path / "no-such-soffice"))
    assert not libreoffice_available()
    with pytest.raises(LibreOfficeMissingError, match="apt-get install libreoffice-calc") as info:
        to_pdf(sheet_path, tmp_path / "x.pdf")
    assert isinstance(info.value, RuntimeError)
    assert not (tmp_path / "x.pdf").exists()


@pytest.fixture
def fake_soffice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    script = tmp_path / "soffice"
    monkeypatch.setenv("XLHEDGE_SOFFICE", str(script))
    yield script


@pytest.mark.skipif(os.name != "posix", reason="shell script stands in for soffice")
def test_pdf_time_out_and_failure(sheet_path: Path, tmp_path: Path, fake_soffice: Path) -> None:
    fake_soffice.write_text("#!/bin/sh\nsleep 30\n")
    fake_soffice.chmod(fake_soffice.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(PdfConversionError, match=r"longer than 0\.5 s"):
        to_pdf(sheet_path, tmp_path / "x.pdf", timeout=0.5)
    fake_soffice.write_text("#!/bin/sh\necho 'Error: source file could not be loaded'\n")
    with pytest.raises(PdfConversionError, match="could not be loaded"):
        to_pdf(sheet_path, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()


def test_no_text_under_8_points(sheet_path: Path) -> None:
    with zipfile.ZipFile(sheet_path) as archive:
        styles = archive.read("xl/styles.xml").decode()
    sizes = [float(s) for s in re.findall(r'<sz val="([0-9.]+)"', styles)]
    assert sizes and min(sizes) >= 8


def test_portrait_is_laid_out_for_portrait(plan: pd.DataFrame, tmp_path: Path) -> None:
    path = write_hedge_sheet(plan, tmp_path / "portrait.xlsx", as_of=AS_OF, source=SOURCE,
                             workbook_name=WORKBOOK, landscape=False, paper="letter")
    ws = openpyxl.load_workbook(path).worksheets[0]
    assert ws.page_setup.orientation == "portrait" and ws.page_setup.paperSize == 1
    header = header_row_of(ws, "Order", H["liquidation_distance"])
    shown = [ws.cell(header, c).value for c in range(1, ws.max_column + 1)]
    # the few columns a portrait page has room for, not the landscape table squeezed
    assert shown[:3] == ["#", "Hedges", "Order"] and H["fee_to_open_coin"] not in shown
    width = sum(ws.column_dimensions[get_column_letter(c)].width for c in range(1, 10))
    assert width < 135  # landscape is about 220: portrait holds this at a readable size
    checklist = cell_with(ws, SECTIONS["checklist"])
    ladder = cell_with(ws, SECTIONS["ladder"])
    assert checklist.row > ladder.row and checklist.column == 1  # under the ladder


# -- the cost of the hedge and the funding chart ------------------------------------------------

BTC = "BINANCE:BTCUSD_PERP"
DERIBIT = "DERIBIT:BTC-PERPETUAL"


def _one_btc(tmp_path: Path, name: str = "cost.xlsx", landscape: bool = True,
             funding_history: pd.DataFrame | None = None, **row: object) -> Worksheet:
    inventory = pd.DataFrame([{"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0,
                               "Contract": BTC, **row}])
    path = write_hedge_sheet(plan_hedge(inventory), tmp_path / name, as_of=AS_OF, source="s",
                             workbook_name="w", landscape=landscape,
                             funding_history=funding_history)
    return openpyxl.load_workbook(path).worksheets[0]


def cost_cells(ws: Worksheet, key: str) -> tuple[Any, Any]:
    """The cost block's figure ``key`` at today's rates and at the 30-day average."""
    label = cell_with(ws, COST_LABELS[key])
    today, average = (cell_with(ws, heading).column for heading in COST_HEADERS)
    return ws.cell(label.row, today), ws.cell(label.row, average)


@pytest.mark.parametrize("landscape", [True, False])
def test_cost_block_by_hand(tmp_path: Path, landscape: bool) -> None:
    # 1 BTC at 60,000 hedged with 600 BINANCE:BTCUSD_PERP contracts of 100 USD, funding 0.01%
    # per 8 h (3 a day), 30 days: 60,000 x 0.0001 x 3 x 30 = +540 USD received; the 30-day
    # average of 10.95% a year gives the same, 60,000 x 0.1095 x 30 / 365 = 540. Taker fee 0.05%
    # of 60,000 = 30 USD to open and 30 to close: 60. Cost 60 - 540 = -480 USD (a gain), a year
    # -480 / 60,000 x 365 / 30 = -9.7333%. Selling and buying back: 0.1% twice plus the 0.05%
    # spread of 60,000 = 150 USD: hedging is cheaper, and stays so (break-even never).
    ws = _one_btc(tmp_path, landscape=landscape, **{"Funding Rate": 0.0001,
                                                    "Funding 30d Avg (yearly)": 0.1095})
    assert right_of(ws, COST_LABELS["hedge_days"]).value == 30
    expected = {"funding": 540.0, "fees": 60.0, "cost": -480.0, "annual": -480 / 60000 * 365 / 30,
                "sell": 150.0}
    for key, value in expected.items():
        for cell in cost_cells(ws, key):
            assert cell.value == pytest.approx(value, rel=1e-9), (key, cell.coordinate)
    assert [c.value for c in cost_cells(ws, "cheaper")] == ["hedging", "hedging"]
    assert [c.value for c in cost_cells(ws, "break_even")] == ["never", "never"]
    assert cost_cells(ws, "funding")[0].number_format.startswith("+")
    assert "%" in cost_cells(ws, "annual")[0].number_format
    assert cells_with(ws, TAX_REMARK) and not cells_with(ws, NO_HISTORY)


def test_plan_prints_the_cost_at_the_average() -> None:
    inventory = pd.DataFrame([{"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0,
                               "Contract": BTC, "Funding Rate": 0.0001}])
    text = cost_text(plan_totals(plan_hedge(inventory.assign(
        **{"Funding 30d Avg (yearly)": 0.1095}))))
    assert text.splitlines() == [
        "Over 30 days: funding +540.00 USD at today's rates, +540.00 USD at the 30-day average; "
        "fees to open and close 60.00 USD",
        "Hedge cost (fees less funding): -480.00 USD (-9.73% a year of the hedged notional) at "
        "today's rates; -480.00 USD (-9.73% a year) at the 30-day average",
        "Selling and buying back instead: 150.00 USD: hedging is cheaper at today's rates, "
        "hedging at the 30-day average (break-even: never; at the average never); a sale may "
        "be a taxable event where a hedge may not be",
    ]
    text = cost_text(plan_totals(plan_hedge(inventory)))
    assert "30-day average: no history: refresh from a live source" in text
    assert "hedging is cheaper at today's rates (break-even: never)" in text


def test_cost_block_paying_funding_without_history(tmp_path: Path) -> None:
    # funding -0.03% per 8 h: the short pays 60,000 x 0.0003 x 3 = 54 USD a day, 1,620 over 30
    # days; with 60 of fees the hedge costs 1,680 USD (1,680 / 60,000 x 365 / 30 = 34.07% a
    # year) against 150 to sell and buy back: selling is cheaper after 60 + 54 d = 150, d = 1.67
    ws = _one_btc(tmp_path, **{"Funding Rate": -0.0003})
    today, average = cost_cells(ws, "funding")
    assert today.value == pytest.approx(-1620.0)
    assert average.value == NO_HISTORY  # one cell down the average's column
    assert cost_cells(ws, "cost")[0].value == pytest.approx(1680.0)
    assert cost_cells(ws, "annual")[0].value == pytest.approx(1680 / 60000 * 365 / 30)
    assert cost_cells(ws, "cheaper")[0].value == "selling"
    assert cost_cells(ws, "break_even")[0].value == pytest.approx(90 / 54)
    assert cost_cells(ws, "fees")[1].value is None  # inside the merged "no history" cell


def test_plan_totals_cost_of_the_whole_plan() -> None:
    inventory = pd.DataFrame({"Asset": ["BTC", "BTC"], "Quantity": [1.0, 0.5],
                              "Price": [60000.0, 60000.0], "Contract": [BTC, "BYBIT:BTCUSD"],
                              "Funding Rate": [0.0001, 0.0001],
                              "Funding 30d Avg (yearly)": [0.1095, None]})
    totals = plan_totals(plan_hedge(inventory))
    # 90,000 USD hedged at 0.01% per 8 h: 27 USD a day, 810 over 30 days
    assert totals["funding_horizon_usd"] == pytest.approx(810.0)
    assert math.isnan(totals["funding_horizon_avg_usd"]) and totals["funding_avg_missing"] == 1
    assert math.isnan(totals["hedge_cost_avg_usd"])
    assert totals["hedge_cost_annual"] == pytest.approx(
        totals["hedge_cost_usd"] / 90000 * 365 / 30)
    assert totals["break_even_days"] == math.inf
    known = plan_totals(plan_hedge(inventory.assign(**{"Funding 30d Avg (yearly)": 0.1095})))
    assert known["funding_horizon_avg_usd"] == pytest.approx(810.0)
    assert known["hedge_cost_avg_usd"] == pytest.approx(known["fees_usd"] - 810.0)


def _history(contract: str, start: str, hours: int, count: int, rate: float,
             naive: bool = False) -> pd.DataFrame:
    times = pd.date_range(start, periods=count, freq=f"{hours}h", tz=None if naive else "UTC")
    return pd.DataFrame({"Contract": contract, "Time": times, "Rate": rate})


def test_daily_aggregation_is_independent_of_the_interval() -> None:
    history = pd.concat([
        # Deribit-like hourly rows: 24 of 0.00125% in a day = 0.03% a day = 10.95% a year
        _history(DERIBIT, "2024-04-29", 1, 24 * 2 + 5, 0.0000125),  # the last day: 5 hours
        # every 8 h, naive UTC times: 3 of 0.01% a day = 10.95% a year
        _history(BTC, "2024-04-29", 8, 6, 0.0001, naive=True),
        _history("OKX:NOT-PLANNED", "2024-04-29", 8, 3, 0.01),
    ], ignore_index=True)
    days = funding_by_day(history, [BTC, DERIBIT, "BYBIT:NO-HISTORY"])
    assert list(days.columns) == [BTC, DERIBIT]
    assert [d.strftime("%Y-%m-%d") for d in days.index] == ["2024-04-29", "2024-04-30",
                                                            "2024-05-01"]
    assert days[DERIBIT].iloc[:2].tolist() == pytest.approx([0.1095, 0.1095])
    assert days[BTC].iloc[:2].tolist() == pytest.approx([0.1095, 0.1095])
    # 1 May holds 5 hourly rows of 24: a partial day would read 2.28%; it is left out
    assert days[DERIBIT].isna().iloc[2] and days[BTC].isna().iloc[2]
    # the workbook's Funding table heads its times "Time (UTC)"
    table = history.rename(columns={"Time": "Time (UTC)"})
    assert funding_by_day(table, [DERIBIT])[DERIBIT].iloc[0] == pytest.approx(0.1095)
    assert funding_by_day(None, [BTC]).empty and funding_by_day(history, []).empty


def test_funding_chart_one_series_per_contract_with_history(tmp_path: Path) -> None:
    inventory = pd.DataFrame({"Asset": ["BTC", "BTC", "ETH"], "Quantity": [1.0, 0.5, 10.0],
                              "Price": [60000.0, 60000.0, 3000.0],
                              "Contract": [BTC, DERIBIT, "OKX:ETH-USD-SWAP"]})
    history = pd.concat([_history(BTC, "2024-04-01", 8, 90, 0.0001),
                         _history(DERIBIT, "2024-04-01", 1, 720, 0.0000125),
                         _history("BYBIT:BTCUSD", "2024-04-01", 8, 90, 0.0001)])
    for landscape in (True, False):
        path = write_hedge_sheet(plan_hedge(inventory), tmp_path / f"f{landscape}.xlsx",
                                 as_of=AS_OF, source="s", workbook_name="w",
                                 landscape=landscape, funding_history=history)
        with zipfile.ZipFile(path) as archive:
            charts = {n: archive.read(n).decode() for n in archive.namelist()
                      if n.startswith("xl/charts/chart")}
            drawing = archive.read("xl/drawings/drawing1.xml").decode()
        assert len(charts) == 2
        funding = next(x for x in charts.values() if "<c:lineChart>" in x)
        assert FUNDING_TITLE in funding and "<c:dateAx>" in funding
        assert funding.count("<c:ser>") == 2  # OKX has no history, BYBIT is not in the plan
        names = re.findall(r"<c:tx><c:strRef><c:f>'Hedge sheet'!\$([A-Z]+)\$2</c:f>", funding)
        ws = openpyxl.load_workbook(path).worksheets[0]
        assert [ws[f"{col}2"].value for col in names] == [BTC, DERIBIT]
        assert '<c:numFmt formatCode="0%" sourceLinked="0"/>' in funding  # the y axis in %
        # the data outside the print area: 30 full days, each 10.95% a year
        last_col = column_index_from_string(re.findall(r"\$([A-Z]+)\$", ws.print_area)[-1])
        data = cell_with(ws, SECTIONS["funding_data"])
        assert data.column > last_col + 1
        rows = table_below(ws, data.row + 1, BTC)
        assert len(rows) == 30
        assert all(r[BTC].value == pytest.approx(0.1095) for r in rows)
        assert all(r[DERIBIT].value == pytest.approx(0.1095) for r in rows)
        assert rows[0]["Day (UTC)"].value == datetime(2024, 4, 1)
        cols = [int(c) for c in re.findall(r"<xdr:col>(\d+)</xdr:col>", drawing)]
        assert max(cols) < last_col
        assert not cells_with(ws, NO_FUNDING_CHART)


def test_no_history_no_funding_chart(tmp_path: Path) -> None:
    for landscape in (True, False):
        ws = _one_btc(tmp_path, name=f"n{landscape}.xlsx", landscape=landscape)
        assert cells_with(ws, NO_FUNDING_CHART)
        assert not cells_with(ws, SECTIONS["funding_data"])
        with zipfile.ZipFile(tmp_path / f"n{landscape}.xlsx") as archive:
            charts = [n for n in archive.namelist() if n.startswith("xl/charts/chart")]
            assert len(charts) == 1
            assert "<c:scatterChart>" in archive.read(charts[0]).decode()
    # history of other contracts only: the same
    ws = _one_btc(tmp_path, name="other.xlsx",
                  funding_history=_history("OKX:BTC-USD-SWAP", "2024-04-01", 8, 9, 0.0001))
    assert cells_with(ws, NO_FUNDING_CHART)
