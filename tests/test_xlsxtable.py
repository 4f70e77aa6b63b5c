"""Tests for xlhedge.xlsxtable: read a table, update some of its columns, leave the rest alone."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import zipfile
import zlib
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.cell import column_index_from_string, get_column_letter
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, to_excel

from xlhedge import xlsxtable as xt
from xlhedge.errors import XlhedgeError
from xlhedge.xlsxtable import (
    TableFileError,
    TableFileLockedError,
    TableNotFoundError,
    TableWriteError,
    WorkbookFormatError,
    read_table,
    update_columns,
)

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "workbook" / "HedgePlanner.xlsm"
SHEET = "xl/worksheets/sheet1.xml"
TABLE = "xl/tables/table1.xml"
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
ROWS = [
    ["BTC", 1.5, 30000.0, True, dt.date(2024, 1, 2), "note"],
    ["ETH", 10.0, 2000.0, False, dt.date(2024, 1, 3), None],
    ["SOL", 100.0, 100.0, True, dt.date(2024, 1, 4), "x"],
]
COLUMNS = ["Ticker", "Qty", "Price", "Active", "Date", "Note"]
pytestmark = pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")


def _vba_project() -> bytes | None:
    """xl/vbaProject.bin from xlwings' quickstart workbook, when xlwings is installed."""
    spec = importlib.util.find_spec("xlwings")
    if spec is None or spec.origin is None:
        return None
    src = Path(spec.origin).parent / "quickstart_standalone.xlsm"
    if not src.exists():
        return None
    with zipfile.ZipFile(src) as zf:
        return zf.read("xl/vbaProject.bin")


def build_workbook(folder: Path, vba: bytes | None) -> Path:
    """Table Inventory (A1:F5) with totals, validation, conditional formats, a button, cells
    beside and below it; sheet Calc with a dynamic array (cached value) and a chart; a name."""
    path = folder / ("HedgePlanner.xlsm" if vba else "HedgePlanner.xlsx")
    wb = xlsxwriter.Workbook(str(path))
    if vba:
        bin_path = folder / "vbaProject.bin"
        bin_path.write_bytes(vba)
        wb.add_vba_project(str(bin_path))
    ws = wb.add_worksheet("Inventory")
    money = wb.add_format({"num_format": "#,##0.00"})
    datef = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.add_table(0, 0, len(ROWS) + 1, len(COLUMNS) - 1, {
        "name": "Inventory", "total_row": True, "data": ROWS,
        "columns": [
            {"header": "Ticker", "total_string": "Total"},
            {"header": "Qty", "total_function": "sum"},
            {"header": "Price", "total_function": "average", "format": money},
            {"header": "Active", "total_function": "count"},
            {"header": "Date", "format": datef, "total_function": "max"},
            {"header": "Note", "total_function": "=ROWS([Note])"},
        ]})
    ws.data_validation(1, 0, len(ROWS), 0,
                       {"validate": "list", "source": ["BTC", "ETH", "SOL", "XRP"]})
    ws.conditional_format(1, 1, len(ROWS), 1, {"type": "data_bar", "bar_solid": True})
    if vba:
        ws.insert_button("H2", {"macro": "SampleCall", "caption": "Refresh"})
    ws.write("H10", "keep me", wb.add_format({"bold": True}))
    ws.merge_range("H12:I12", "merged")
    ws.write("B20", "below the table")
    calc = wb.add_worksheet("Calc")
    calc.write_dynamic_array_formula("A1:A3", "=SORT(Inventory[Qty])", None, 1.5)
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"values": "=Inventory!$B$2:$B$4", "categories": "=Inventory!$A$2:$A$4"})
    calc.insert_chart("D2", chart)
    wb.define_name("TotalQty", "=Calc!$B$1")
    wb.close()
    return path


@pytest.fixture(scope="session")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("template"), _vba_project())


@pytest.fixture
def book(template: Path, tmp_path: Path) -> Path:
    path = tmp_path / template.name
    shutil.copyfile(template, path)
    return path


def frame(n: int) -> pd.DataFrame:
    """n rows in the Inventory table's layout."""
    return pd.DataFrame({
        "Ticker": [f"T{i}" for i in range(n)],
        "Qty": [float(i) + 0.5 for i in range(n)],
        "Price": [100.0 * (i + 1) for i in range(n)],
        "Active": [i % 2 == 0 for i in range(n)],
        "Date": [dt.datetime(2024, 1, 1) + dt.timedelta(days=i, hours=6) for i in range(n)],
        "Note": [f"n{i}" if i % 3 else None for i in range(n)],
    })


def blank_table(folder: Path, rows: int, columns: list[str], name: str = "T") -> Path:
    """A table at A1 with ``rows`` blank body rows (no body cells at all) and no totals."""
    path = folder / f"{name}.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("S").add_table(0, 0, rows, len(columns) - 1, {
        "name": name, "columns": [{"header": c} for c in columns]})
    wb.close()
    return path


def formula_workbook(folder: Path) -> Path:
    """Table Inventory (A1:E5, totals row) with a user formula column Double (=[@Quantity]*2,
    a table column formula), a plain formula in E3 and specially formatted C3 and B4."""
    path = folder / "formulas.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Inventory")
    ws.add_table(0, 0, 4, 4, {
        "name": "Inventory", "total_row": True,
        "data": [["BTC", 1.5, 30000.0, None, "a"], ["ETH", 10.0, 2000.0, None, None],
                 ["SOL", 100.0, 100.0, None, "c"]],
        "columns": [{"header": "Coin", "total_string": "Total"},
                    {"header": "Quantity", "total_function": "sum"},
                    {"header": "Price", "format": wb.add_format({"num_format": "#,##0.00"}),
                     "total_function": "average"},
                    {"header": "Double", "formula": "=[@Quantity]*2", "total_function": "sum"},
                    {"header": "Note"}]})
    ws.write("C3", 2000.0, wb.add_format({"bold": True, "font_color": "red",
                                          "num_format": "0.000%"}))
    ws.write("B4", 100.0, wb.add_format({"italic": True, "num_format": "0.0"}))
    ws.write_formula("E3", "=B3+C3", None, 2010)
    wb.close()
    return path


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def sheet_xml(path: Path, part: str = SHEET) -> str:
    return members(path)[part].decode()


def cell_xml(xml: str, ref: str) -> str:
    """The <c> element at ref, or '' when the sheet has no such cell."""
    m = re.search(rf'<c r="{ref}"(?:[^>]*/>|[^>]*>.*?</c>)', xml, re.S)
    return m.group(0) if m else ""


def without_cells(xml: str, refs: str) -> str:
    """The sheet XML without the cells whose reference matches the regex refs."""
    return re.sub(rf'<c r="(?:{refs})"(?:[^>]*/>|[^>]*>.*?</c>)', "", xml, flags=re.S)


def table_root(path: Path) -> ET.Element:
    return ET.fromstring(members(path)[TABLE])


def rewrite_member(path: Path, name: str, edit: Callable[[bytes], bytes],
                   compress_type: int = zipfile.ZIP_DEFLATED) -> None:
    """Rewrite one member of a package in place (test set-up only); others as they were."""
    data = members(path)
    with zipfile.ZipFile(path) as zin:
        infos = zin.infolist()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            if info.filename == name:
                zout.writestr(name, edit(data[name]), compress_type=compress_type)
            else:
                zout.writestr(info, data[info.filename])


def edit_text(path: Path, name: str, edit: Callable[[str], str]) -> None:
    rewrite_member(path, name, lambda data: edit(data.decode()).encode())


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def backup_of(path: Path) -> Path:
    return path.with_name(f"{path.stem}.bak{path.suffix}")


def assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_dtype=False, check_column_type=False)


# ----------------------------------------------------------------------------- reading


def test_read_table_values_types_and_sheet(book: Path) -> None:
    df = read_table(book, "Inventory")
    assert list(df.columns) == COLUMNS and len(df) == 3  # the totals row is not data
    assert df["Ticker"].tolist() == ["BTC", "ETH", "SOL"]  # shared strings
    assert df["Qty"].tolist() == [1.5, 10.0, 100.0]
    assert df["Active"].tolist() == [True, False, True]
    assert df["Date"].tolist() == [dt.datetime(2024, 1, d) for d in (2, 3, 4)]  # date format
    assert pd.isna(df["Note"][1])
    assert df.attrs == {"sheet_name": "Inventory", "table_name": "Inventory",
                        "table_ref": "A1:F5"}
    info = xt.table_info(book, "inventory")  # Excel table names ignore case
    assert (info.sheet_name, info.ref, info.totals_row_count) == ("Inventory", "A1:F5", 1)
    assert (info.sheet_part, info.table_part, info.columns) == (SHEET, TABLE, tuple(COLUMNS))
    assert [t.name for t in xt.list_tables(book)] == ["Inventory"]


def test_read_tables_reads_several_tables_from_one_opening(
        book: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "two.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    first, second = wb.add_worksheet("First"), wb.add_worksheet("Second")
    first.add_table(0, 0, 2, 1, {"name": "Prices", "data": [["BTC", 1.5], ["ETH", 2.0]],
                                 "columns": [{"header": "Asset"}, {"header": "Price"}]})
    first.add_table(0, 3, 1, 3, {"name": "Notes", "data": [["hello"]],
                                 "columns": [{"header": "Note"}]})  # the same sheet
    second.add_table(0, 0, 1, 0, {"name": "Settings", "data": [[7]],
                                  "columns": [{"header": "Value"}]})
    wb.close()
    opened, parsed = [], []
    monkeypatch.setattr(xt._Package, "__init__", lambda self, p, init=xt._Package.__init__: (
        opened.append(p), init(self, p))[-1])
    monkeypatch.setattr(xt._Package, "parse", lambda self, data, name, parse=xt._Package.parse: (
        parsed.append(name), parse(self, data, name))[-1])
    got = xt.read_tables(path, ["settings", "Prices", "Missing", "NOTES"])
    assert len(opened) == 1 and parsed.count("xl/workbook.xml") == 1
    assert list(got) == ["settings", "Prices", "Missing", "NOTES"]  # the names as given
    assert got["Missing"] is None
    for name in ("settings", "Prices", "NOTES"):
        frame = got[name]
        assert frame is not None
        assert_frames_equal(frame, read_table(path, name))
        assert frame.attrs == read_table(path, name).attrs
    assert got["Prices"]["Price"].tolist() == [1.5, 2.0]  # type: ignore[index]
    assert got["NOTES"].attrs["table_name"] == "Notes"  # type: ignore[union-attr]
    assert xt.read_tables(path, "prices")["prices"] is not None  # one name alone
    assert xt.read_tables(path, []) == {}
    assert_frames_equal(xt.read_tables(book, ["Inventory"])["Inventory"],  # type: ignore[arg-type]
                        read_table(book, "Inventory"))


def test_unknown_table_lists_the_tables(book: Path) -> None:
    with pytest.raises(TableNotFoundError, match=r"'Holdings'.*Inventory \(sheet Inventory\)"):
        read_table(book, "Holdings")
    with pytest.raises(TableNotFoundError, match="Holdings"):
        update_columns(book, "Holdings", frame(3), ["Qty"])


def test_text_stays_text(tmp_path: Path) -> None:
    path = blank_table(tmp_path, 4, ["Code"])
    wb_path = tmp_path / "text.xlsx"
    wb = xlsxwriter.Workbook(str(wb_path))
    ws = wb.add_worksheet("S")
    ws.add_table(0, 0, 4, 0, {"name": "T", "columns": [{"header": "Code"}]})
    for r, text in enumerate(["007", "=1+1", "1e5", "TRUE"], 1):
        ws.write_string(r, 0, text)
    wb.close()
    assert read_table(wb_path, "T")["Code"].tolist() == ["007", "=1+1", "1e5", "TRUE"]
    assert len(read_table(path, "T")) == 0  # blank body rows are no rows


def test_dates_follow_the_1904_setting(tmp_path: Path) -> None:
    path = tmp_path / "mac.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"date_1904": True})
    when = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    wb.add_worksheet("S").add_table(0, 0, 2, 1, {
        "name": "T", "columns": [{"header": "When", "format": when}, {"header": "N"}],
        "data": [[dt.datetime(2024, 1, 2, 6), 1], [dt.datetime(1904, 1, 5), 2]]})
    wb.close()
    df = read_table(path, "T")
    assert df["When"].tolist() == [dt.datetime(2024, 1, 2, 6), dt.datetime(1904, 1, 5)]
    new = [dt.datetime(2030, 5, 6, 12), dt.datetime(2000, 1, 1)]
    df["When"] = new
    update_columns(path, "T", df, ["When"])
    serial = repr(float(to_excel(new[0], MAC_EPOCH))).removesuffix(".0")
    assert f"<v>{serial}</v>" in cell_xml(sheet_xml(path), "A2")
    assert float(serial) != to_excel(new[0], WINDOWS_EPOCH)
    assert read_table(path, "T")["When"].tolist() == new


# ----------------------------------------------------------------------------- values


def test_values_are_written_by_type(tmp_path: Path) -> None:
    path = blank_table(tmp_path, 10, ["Text", "Value"])
    text = ["=1+1", "@SUM(A1)", "+A2", "-5", "a<b&c>\"d'", "_x0041_", "tab\tline\nbreak\r",
            "ctl\x01\x1f\x00", "x" * 40_000, "  spaced  "]
    value = [1.5, 7, np.inf, -np.inf, np.nan, None, True, dt.datetime(2024, 1, 2, 12),
             dt.date(1899, 1, 1), "text"]
    update_columns(path, "T", pd.DataFrame({"Text": text, "Value": pd.Series(value, dtype=object)}),
                   ["Text", "Value"])
    xml = sheet_xml(path)
    cells = [cell_xml(xml, f"A{r}") for r in range(2, 12)]
    assert all('t="inlineStr"' in c and "<f>" not in c for c in cells)  # text is never a formula
    assert cells[0] == '<c r="A2" t="inlineStr"><is><t xml:space="preserve">=1+1</t></is></c>'
    assert "_x005F_x0041_" in cells[5] and "ctl_x0001__x001F__x0000_" in cells[7]
    got = read_table(path, "T")
    assert got["Text"].tolist() == [*text[:8], "x" * xt.MAX_CELL_TEXT, "  spaced  "]
    assert [cell_xml(xml, f"B{r}") for r in range(2, 10)] == [
        '<c r="B2"><v>1.5</v></c>', '<c r="B3"><v>7</v></c>', '<c r="B4" t="e"><v>#NUM!</v></c>',
        '<c r="B5" t="e"><v>#NUM!</v></c>', "", "", '<c r="B8" t="b"><v>1</v></c>',
        '<c r="B9"><v>45293.5</v></c>']  # NaN and None: no cell; +/-inf: #NUM!
    assert 'inlineStr"><is><t xml:space="preserve">1899-01-01</t>' in cell_xml(xml, "B10")
    ws = openpyxl.load_workbook(path)["S"]
    assert (ws["A2"].value, ws["A2"].data_type) == ("=1+1", "s")
    assert (ws["A3"].value, ws["A3"].data_type) == ("@SUM(A1)", "s")


def test_dtypes(tmp_path: Path) -> None:
    df = pd.DataFrame({
        "Cat": pd.Categorical(["a", "b", None]),
        "Int": pd.array([1, None, 3], dtype="Int64"),
        "Float": pd.Series([1.5, None, 2.5], dtype="Float64"),
        "Bool": pd.array([True, None, False], dtype="boolean"),
        "Date": pd.to_datetime(pd.Series(["2024-01-02", None, "1900-01-01"])),
        "Tz": pd.to_datetime(pd.Series(["2024-01-02 06:00", "2024-01-03 00:00", None])
                             ).dt.tz_localize("Asia/Tokyo"),
        "Span": pd.to_timedelta(["1 day", "12h", None]),
        "Exact": [Decimal("1.25"), Fraction(1, 4), None],
        "Np": pd.Series([np.datetime64("2024-01-02"), np.timedelta64(1, "D"), None],
                        dtype=object),
    })
    path = blank_table(tmp_path, 3, list(df.columns))
    update_columns(path, "T", df, list(df.columns))
    got = read_table(path, "T")  # no date formats here: the serials come back
    assert got["Cat"].tolist()[:2] == ["a", "b"] and pd.isna(got["Cat"][2])
    assert got["Int"].tolist()[::2] == [1.0, 3.0] and pd.isna(got["Int"][1])
    assert got["Float"].tolist()[::2] == [1.5, 2.5]
    assert got["Bool"].tolist() == [True, None, False]
    assert got["Date"].tolist()[::2] == [45293.0, 1.0]  # 1900-01-01 is day 1
    assert got["Tz"].tolist()[:2] == [45293.25, 45294.0]  # wall time, zone dropped
    assert got["Span"].tolist()[:2] == [1.0, 0.5]
    assert got["Exact"].tolist()[:2] == [1.25, 0.25]
    assert got["Np"].tolist()[:2] == [45293.0, 1.0]


def test_unsupported_value_is_refused(book: Path) -> None:
    original = book.read_bytes()
    df = frame(3)
    df["Note"] = pd.Series([{"a": 1}, None, None], dtype=object)
    with pytest.raises(TableWriteError, match=r"column 'Note' holds a dict"):
        update_columns(book, "Inventory", df, ["Note"])
    assert book.read_bytes() == original


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(max_size=20),
                          st.floats(allow_nan=False, allow_infinity=False, width=64)),
                min_size=1, max_size=15))
def test_round_trip_property(tmp_path: Path, rows: list[tuple[str, float]]) -> None:
    path = blank_table(Path(tempfile.mkdtemp(dir=tmp_path)), 15, ["Text", "Number"])
    df = pd.DataFrame({"Text": [r[0] for r in rows], "Number": [r[1] for r in rows]})
    update_columns(path, "T", df, ["Text", "Number"], backup=False)
    got = read_table(path, "T")
    assert [None if pd.isna(t) else t for t in got["Text"]] == [t or None for t in df["Text"]]
    assert got["Number"].tolist() == df["Number"].tolist()


# ----------------------------------------------------------------------------- what stays


def test_update_keeps_user_formulas_and_other_bytes(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    before, table_before = sheet_xml(path), members(path)[TABLE]
    df = read_table(path, "Inventory")
    df["Quantity"] = [2.0, 20.0, 200.0]
    df["Price"] = [1.0, 2.0, 3.0]
    df["Double"] = -1.0  # frame columns that are not named are not written
    assert update_columns(path, "Inventory", df, ["Quantity", "price"]) == path
    after = sheet_xml(path)
    for ref in ("D2", "D3", "D4", "E3"):  # the formulas and their cached values, as they were
        assert "<f>" in cell_xml(before, ref) and cell_xml(after, ref) == cell_xml(before, ref)
    # every byte outside the updated body cells and their totals is as it was
    assert without_cells(after, "[BC][2-5]") == without_cells(before, "[BC][2-5]")
    assert cell_xml(after, "B3") == '<c r="B3"><v>20</v></c>'
    assert cell_xml(after, "B5") == '<c r="B5"><f>SUBTOTAL(109,[Quantity])</f><v>222</v></c>'
    assert cell_xml(after, "C5") == '<c r="C5" s="1"><f>SUBTOTAL(101,[Price])</f><v>2</v></c>'
    assert members(path)[TABLE] == table_before
    got = read_table(path, "Inventory")
    assert got["Quantity"].tolist() == [2.0, 20.0, 200.0]
    assert got["Note"].tolist() == ["a", 2010.0, "c"]


def test_update_keeps_cell_styles(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    before = sheet_xml(path)
    df = read_table(path, "Inventory")
    df["Quantity"] = [2.0, 20.0, 200.0]
    df["Price"] = [1.0, 0.25, None]
    update_columns(path, "Inventory", df, ["Quantity", "Price"], backup=False)
    xml = sheet_xml(path)
    style = re.compile(r' s="\d+"')
    for ref in ("C2", "C3", "C4", "B4"):  # each cell keeps its own s attribute
        assert style.findall(cell_xml(xml, ref)) == style.findall(cell_xml(before, ref)) != []
    assert cell_xml(xml, "C4") == '<c r="C4" s="1"/>'  # empty, still formatted
    ws = openpyxl.load_workbook(path)["Inventory"]
    c3 = ws["C3"]
    assert (c3.value, c3.font.b, c3.font.color.rgb, c3.number_format) == \
        (0.25, True, "FFFF0000", "0.000%")
    assert (ws["B4"].font.i, ws["B4"].number_format) == (True, "0.0")
    assert ws["C2"].number_format == "#,##0.00" and not ws["C2"].font.b


def test_new_cells_take_the_column_style(book: Path) -> None:
    edit_text(book, SHEET, lambda xml: re.sub(r'<c r="E3" s="2"><v>[\d.]+</v></c>', "", xml))
    update_columns(book, "Inventory", frame(3), ["Date", "Note"])
    xml = sheet_xml(book)
    assert cell_xml(xml, "E3") == '<c r="E3" s="2"><v>45293.25</v></c>'  # the column's style
    assert cell_xml(xml, "F3") == \
        '<c r="F3" t="inlineStr"><is><t xml:space="preserve">n1</t></is></c>'
    assert read_table(book, "Inventory")["Date"].tolist()[1] == dt.datetime(2024, 1, 2, 6)
    # totals: MAX over the new dates is fresh; ROWS([Note]) is not evaluated here: no stale value
    assert cell_xml(xml, "E5") == '<c r="E5" s="2"><f>SUBTOTAL(104,[Date])</f><v>45294.25</v></c>'
    assert cell_xml(xml, "F5") == '<c r="F5"><f>ROWS([Note])</f></c>'
    assert "<v>" in cell_xml(sheet_xml(backup_of(book)), "F5")


def test_totals_get_fresh_cached_values(tmp_path: Path) -> None:
    functions = ["sum", "average", "count", "count_nums", "max", "min", "std_dev", "var"]
    path = tmp_path / "totals.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("S").add_table(0, 0, 5, len(functions) - 1, {
        "name": "T", "total_row": True, "data": [[1.0] * len(functions)] * 4,
        "columns": [{"header": f, "total_function": f} for f in functions]})
    wb.close()
    values = [3.0, "text", 1.5, None]
    df = pd.DataFrame({f: pd.Series(values, dtype=object) for f in functions})
    update_columns(path, "T", df, functions)
    xml = sheet_xml(path)
    cached = [re.search(r"<v>(.*)</v>", cell_xml(xml, f"{c}6")) for c in "ABCDEFGH"]
    assert [float(m.group(1)) if m else None for m in cached] == pytest.approx(
        [4.5, 2.25, 3, 2, 3, 1.5, 1.0606601717798212, 1.125])


def test_update_changes_only_the_sheet(book: Path) -> None:
    original = book.read_bytes()
    with zipfile.ZipFile(book) as zf:
        order = zf.namelist()
    before = members(book)
    update_columns(book, "Inventory", frame(3), ["Qty", "Price"])
    after = members(book)
    with zipfile.ZipFile(book) as zf:
        assert zf.namelist() == order and zf.testzip() is None
    assert {name for name in before if before[name] != after[name]} == {SHEET}
    calc = after["xl/worksheets/sheet2.xml"].decode()
    assert '<c r="A1" cm="1"><f t="array" ref="A1:A3">' in calc and "<v>1.5</v>" in calc
    if book.suffix == ".xlsm":
        assert "xl/vbaProject.bin" in after and "xl/drawings/vmlDrawing1.vml" in after
    assert backup_of(book).read_bytes() == original


def with_calc_chain(src: Path, dst: Path) -> Path:
    """A copy of src with a calcChain part, its content-type override and its relationship."""
    chain = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain '
             b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             b'<c r="D2" i="1"/><c r="B5" i="1"/></calcChain>')
    ct_override = (b'<Override PartName="/xl/calcChain.xml" ContentType="application/'
                   b'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/>')
    rel = (b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/'
           b'2006/relationships/calcChain" Target="calcChain.xml"/>')
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", ct_override + b"</Types>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", rel + b"</Relationships>")
            zout.writestr(info, data)
        zout.writestr("xl/calcChain.xml", chain)
    return dst


def test_calc_chain_goes_only_with_formulas(tmp_path: Path) -> None:
    plain = members(formula_workbook(tmp_path))
    path = with_calc_chain(tmp_path / "formulas.xlsx", tmp_path / "chain.xlsx")
    src = members(path)
    df = read_table(path, "Inventory")
    df["Quantity"] = [1.0, 2.0, 3.0]
    update_columns(path, "Inventory", df, ["Quantity"])  # no formula replaced: the chain stays
    after = members(path)
    assert {name for name in src if src[name] != after[name]} == {SHEET}
    df["Double"] = [7.0, 8.0, 9.0]  # the user's formulas become values: the chain goes
    update_columns(path, "Inventory", df, ["Double"])
    after = members(path)
    assert "xl/calcChain.xml" not in after
    assert after["[Content_Types].xml"] == plain["[Content_Types].xml"]  # exactly the override
    assert after["xl/_rels/workbook.xml.rels"] == plain["xl/_rels/workbook.xml.rels"]
    assert "<f>" not in "".join(cell_xml(sheet_xml(path), f"D{r}") for r in (2, 3, 4))
    assert "<f>SUBTOTAL(109,[Double])</f><v>24</v>" in cell_xml(sheet_xml(path), "D5")


def test_shared_formula_anchor_is_not_broken(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    edit_text(path, SHEET, lambda xml: xml.replace(
        '<c r="D2"><f>[[#This Row],Quantity]*2</f>',
        '<c r="D2"><f t="shared" ref="D2:E2" si="0">B2*2</f>').replace(
        '<c r="E2" t="s"><v>7</v></c>', '<c r="E2"><f t="shared" si="0"/><v>20000</v></c>'))
    assert 'si="0"/>' in sheet_xml(path)
    original = path.read_bytes()
    df = read_table(path, "Inventory")
    with pytest.raises(TableWriteError, match=r"cell D2 holds a shared formula that cells E2"):
        update_columns(path, "Inventory", df, ["Double"])
    assert path.read_bytes() == original
    update_columns(path, "Inventory", df, ["Double", "Note"])  # the anchor and its user go
    assert "<f" not in "".join(cell_xml(sheet_xml(path), ref) for ref in ("D2", "E2"))


def test_namespace_prefixes_and_declarations_survive(book: Path) -> None:
    """Excel's parts declare prefixes used only by mc:Ignorable; they must survive."""
    declarations = [
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"',
        'mc:Ignorable="xr xr3"',
        'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision"',
        'xmlns:xr3="http://schemas.microsoft.com/office/spreadsheetml/2016/revision3"',
        'id="1"', 'xr:uid="{00000000-000C-0000-FFFF-FFFF00000000}"']
    excel_root = "<table " + " ".join(declarations)  # as Excel orders them
    edit_text(book, TABLE, lambda xml: xml.replace(
        '<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" id="1"',
        excel_root, 1).replace('<tableColumn id="2" name="Qty"',
                               '<tableColumn id="2" xr3:uid="{AAAA}" name="Qty"'))
    df = frame(3).assign(Venue=["a", "b", "c"])
    update_columns(book, "Inventory", df, ["Qty", "Venue"])
    table = members(book)[TABLE].decode()
    assert table.startswith('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n')
    head = table[table.index("<table"):table.index(">", table.index("<table"))]
    assert all(f" {d}" in head for d in declarations)  # lxml puts xmlns first: the same XML
    assert 'xr3:uid="{AAAA}"' in table and 'ref="A1:G5"' in table
    assert 'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" ' \
           'mc:Ignorable="x14ac"' in sheet_xml(book)


def test_prefixed_main_namespace(book: Path) -> None:
    """Some writers put the main namespace on a prefix (x:row, x:c); new cells must too."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

    def prefix(xml: str) -> str:
        xml = re.sub(r"<(/?)([A-Za-z]\w*)(?=[\s/>])", r"<\1x:\2", xml)
        return xml.replace(f'xmlns="{main}"', f'xmlns:x="{main}"', 1)

    want = read_table(book, "Inventory")
    edit_text(book, SHEET, prefix)
    edit_text(book, TABLE, prefix)
    assert_frames_equal(read_table(book, "Inventory"), want)
    df = frame(3).assign(Extra="e")
    update_columns(book, "Inventory", df, [*COLUMNS, "Extra"])
    assert_frames_equal(read_table(book, "Inventory"), df)
    for part in (SHEET, TABLE):
        assert f'xmlns="{main}"' not in members(book)[part].decode()
    assert '<x:c r="G2" t="inlineStr"><x:is><x:t xml:space="preserve">e</x:t>' in sheet_xml(book)
    assert '<x:tableColumn id="7" name="Extra"/>' in members(book)[TABLE].decode()


def test_cells_and_rows_without_r_attributes(book: Path) -> None:
    want = read_table(book, "Inventory")
    edit_text(book, SHEET, lambda xml: re.sub(r'(<c) r="[A-Z]+[2-4]"', r"\1", xml))
    assert 'c r="B3"' not in sheet_xml(book)
    assert_frames_equal(read_table(book, "Inventory"), want)
    want["Note"] = ["p", "q", None]  # row 3 gets a cell it did not have, row 4 loses one
    want["Qty"] = [7.0, 8.0, 9.0]
    update_columns(book, "Inventory", want, ["Note", "Qty"])
    assert_frames_equal(read_table(book, "Inventory"), want)


# ----------------------------------------------------------------------------- rows and columns


def test_row_count_rules(tmp_path: Path, book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(TableWriteError, match=r"'Inventory' has 3 body rows \(3 up to the last "
                                              r"one in use\) but the frame has 4 rows") as err:
        update_columns(book, "Inventory", frame(4), ["Qty"])
    assert "was not changed" in str(err.value)
    with pytest.raises(TableWriteError, match="but the frame has 2 rows"):
        update_columns(book, "Inventory", frame(2), ["Qty"])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]
    # an empty table (one blank body row) reads as 0 rows and takes 0 or 1
    path = blank_table(tmp_path, 1, ["A", "B"])
    empty = read_table(path, "T")
    assert len(empty) == 0
    update_columns(path, "T", empty, ["A"])
    update_columns(path, "T", pd.DataFrame({"A": [1.0]}), ["A"])
    assert read_table(path, "T")["A"].tolist() == [1.0]
    # trailing blank rows may be left out of the frame
    path = blank_table(tmp_path, 5, ["A", "B"], name="Five")
    update_columns(path, "Five", pd.DataFrame({"A": [1.0, 2.0]}), ["A"])
    assert read_table(path, "Five")["A"].tolist() == [1.0, 2.0]
    update_columns(path, "Five", pd.DataFrame({"B": ["x", "y", "z"]}), ["B"])
    assert len(read_table(path, "Five")) == 3
    with pytest.raises(TableWriteError, match=r"5 body rows .3 up to the last one in use. "
                                              r"but the frame has 2 rows"):
        update_columns(path, "Five", pd.DataFrame({"A": [0.0] * 2}), ["A"])
    update_columns(path, "Five", pd.DataFrame({"A": [0.0] * 6}), ["A"])  # no totals row: grows
    assert xt.table_info(path, "Five").ref == "A1:B7"


def test_column_names_are_checked(book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(TableWriteError, match=r"the frame needs one column named 'Note'"):
        update_columns(book, "Inventory", frame(3).drop(columns="Note"), ["Note"])
    with pytest.raises(TableWriteError, match=r"name each column once, ignoring case"):
        update_columns(book, "Inventory", frame(3), ["Qty", "qty"])
    with pytest.raises(TableWriteError, match=r"the frame needs one column named ' '"):
        update_columns(book, "Inventory", frame(3).assign(**{" ": 1}), [" "])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


def test_new_column_is_added_at_the_right_edge(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    before = members(path)
    df = read_table(path, "Inventory").assign(Venue=["okx", None, 3.5], Desk="d")
    update_columns(path, "Inventory", df, ["Quantity", "venue", "Desk"])
    after = members(path)
    assert {name for name in before if before[name] != after[name]} == {SHEET, TABLE}
    root = table_root(path)
    assert root.get("ref") == "A1:G5"
    assert root.find(f"{MAIN_NS}autoFilter").get("ref") == "A1:G4"  # type: ignore[union-attr]
    columns = root.find(f"{MAIN_NS}tableColumns")
    assert columns is not None and columns.get("count") == "7"
    assert [(c.get("id"), c.get("name")) for c in columns][-2:] == [("6", "venue"), ("7", "Desk")]
    xml = sheet_xml(path)
    assert '<dimension ref="A1:G5"/>' in xml
    assert cell_xml(xml, "F1").endswith('<is><t xml:space="preserve">venue</t></is></c>')
    assert cell_xml(xml, "F3") == "" and cell_xml(xml, "F4") == '<c r="F4"><v>3.5</v></c>'
    assert cell_xml(xml, "F5") == ""  # no total for a new column
    got = read_table(path, "Inventory")
    assert list(got.columns)[-2:] == ["venue", "Desk"] and got["Desk"].tolist() == ["d"] * 3
    ws = openpyxl.load_workbook(path)["Inventory"]
    assert ws.tables["Inventory"].ref == "A1:G5"
    assert ws.tables["Inventory"].tableColumns[-1].name == "Desk"


def test_new_column_refuses_to_cover_cells(tmp_path: Path) -> None:
    path = tmp_path / "crowded.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.add_table(0, 0, 3, 1, {"name": "T", "columns": [{"header": "A"}, {"header": "B"}],
                              "data": [[1, 2], [3, 4], [5, 6]]})
    ws.write("C3", "in the way")
    ws.add_table(0, 4, 3, 4, {"name": "Other", "columns": [{"header": "E"}]})
    ws.write("D9", "below the table: fine")
    wb.close()
    original = path.read_bytes()
    df = read_table(path, "T").assign(New=1, Newer=2, Newest=3)
    with pytest.raises(TableWriteError, match=r"cell C3 is in the way") as err:
        update_columns(path, "T", df, ["New"])
    assert "'T'" in str(err.value) and "was not changed" in str(err.value)
    edit_text(path, SHEET, lambda xml: re.sub(r'<c r="C3"[^>]*>.*?</c>', "", xml))
    original = path.read_bytes()
    with pytest.raises(TableWriteError, match=r"table Other is in the way"):
        update_columns(path, "T", df, ["New", "Newer", "Newest"])
    assert path.read_bytes() == original and files_in(tmp_path) == [path.name]
    update_columns(path, "T", df, ["New", "Newer"])
    assert xt.table_info(path, "T").ref == "A1:D4"


def test_whole_column_table(tmp_path: Path) -> None:
    """Excel makes A5:C1048576 when the user selects whole columns: blank rows are no rows."""
    path = tmp_path / "whole.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    ws.write("A1", "title")
    ws.add_table(4, 0, 7, 2, {"name": "T", "columns": [{"header": h} for h in "ABC"],
                              "data": [["x", 1, 2], ["y", 3, 4], ["z", 5, 6]]})
    wb.close()
    edit_text(path, TABLE, lambda xml: xml.replace('ref="A5:C8"', 'ref="A5:C1048576"'))
    assert xt.table_info(path, "T").ref == "A5:C1048576"
    df = read_table(path, "T")
    assert df["A"].tolist() == ["x", "y", "z"]
    df["B"] = [10.0, 30.0, 50.0]
    start = time.perf_counter()
    update_columns(path, "T", df.assign(D=["d1", "d2", "d3"]), ["B", "D"])
    assert time.perf_counter() - start < 2
    xml = sheet_xml(path)
    assert xml.count("<row ") == 5 and '<dimension ref="A1:D8"/>' in xml
    assert xt.table_info(path, "T").ref == "A5:D1048576"
    assert read_table(path, "T")["D"].tolist() == ["d1", "d2", "d3"]
    more = pd.DataFrame({"A": [f"r{i}" for i in range(5)]})  # two rows more: made, in order
    update_columns(path, "T", more, ["A"])
    assert [int(r) for r in re.findall(r'<row r="(\d+)"', sheet_xml(path))] == [1, 5, 6, 7, 8,
                                                                                 9, 10]
    assert read_table(path, "T")["A"].tolist() == more["A"].tolist()


def test_5000_rows_by_25_columns_round_trip(tmp_path: Path) -> None:
    """Size, not speed (bench/bench_xlsxtable.py measures that)."""
    n, width = 5000, 25
    df = pd.DataFrame({f"Col{j}": np.arange(n, dtype=float) * j for j in range(width)})
    path = tmp_path / "big.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    wb.add_worksheet("S").add_table(0, 0, n + 1, width - 1, {
        "name": "T", "total_row": True, "data": df.values.tolist(),
        "columns": [{"header": c, "total_function": "sum"} for c in df.columns]})
    wb.close()
    df = df * 2 + 1
    df["Col0"] = [f"name {i}" for i in range(n)]
    update_columns(path, "T", df, list(df.columns))
    assert_frames_equal(read_table(path, "T"), df)
    total = repr(float(df["Col3"].sum())).removesuffix(".0")
    assert f"<v>{total}</v>" in cell_xml(sheet_xml(path), f"D{n + 2}")


# ----------------------------------------------------------------------------- growing


def check_rows(xml: str) -> None:
    """Rows in ascending r, cells in ascending column, every spans hint covering its cells."""
    rows = list(ET.fromstring(xml).iter(f"{MAIN_NS}row"))
    numbers = [int(row.get("r", "0")) for row in rows]
    assert numbers == sorted(set(numbers))
    for row in rows:
        cols = [column_index_from_string(c.get("r", "").rstrip("0123456789"))
                for c in row.iter(f"{MAIN_NS}c")]
        assert cols == sorted(set(cols)), row.get("r")
        if (spans := row.get("spans")) and cols:
            bounds = [int(x) for span in spans.split() for x in span.split(":")]
            assert min(bounds) <= cols[0] and cols[-1] <= max(bounds), (row.get("r"), spans)


def small_table(folder: Path, rows: int = 2, name: str = "small.xlsx",
                extra: Callable[[Any, Any], None] | None = None) -> Path:
    """Table T (Name, Qty, When; A1:C{rows + 1}, no totals) with styled body cells."""
    path = folder / name
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("S")
    money, day = wb.add_format({"num_format": "#,##0.00"}), wb.add_format(
        {"num_format": "yyyy-mm-dd"})
    ws.add_table(0, 0, rows, 2, {"name": "T", "data": [[f"s{i}", float(i), dt.date(2024, 1, 1)]
                                                       for i in range(rows)],
                                 "columns": [{"header": "Name"},
                                             {"header": "Qty", "format": money},
                                             {"header": "When", "format": day}]})
    if extra is not None:
        extra(wb, ws)
    wb.close()
    return path


def long_frame(n: int) -> pd.DataFrame:
    return pd.DataFrame({"Name": [f"n{i}" for i in range(n - 1)] + ["=1+1"],
                         "Qty": np.arange(n) * 1.5,
                         "When": [dt.datetime(2024, 1, 1) + dt.timedelta(days=i)
                                  for i in range(n)]})


@pytest.fixture
def grown(tmp_path: Path) -> tuple[Path, pd.DataFrame, dict[str, bytes]]:
    """small_table (with E2 beside the table and a styled blank A30) grown from 2 to 2,000 rows."""
    def extra(wb: Any, ws: Any) -> None:
        ws.write("E2", "beside")
        ws.write_blank("A30", None, wb.add_format({"bold": True}))

    path = small_table(tmp_path, extra=extra)
    before, df = members(path), long_frame(2000)
    update_columns(path, "T", df, ["Name", "Qty", "When"])
    return path, df, before


def test_a_table_without_totals_grows_to_hold_the_frame(
        grown: tuple[Path, pd.DataFrame, dict[str, bytes]]) -> None:
    path, df, before = grown
    after = members(path)
    assert {name for name in before if before[name] != after[name]} == {SHEET, TABLE}
    assert_frames_equal(read_table(path, "T"), df)
    root = table_root(path)
    assert root.get("ref") == "A1:C2001"
    assert root.find(f"{MAIN_NS}autoFilter").get("ref") == "A1:C2001"  # type: ignore[union-attr]
    xml = sheet_xml(path)
    check_rows(xml)
    assert '<dimension ref="A1:E2001"/>' in xml
    assert cell_xml(xml, "A2001") == \
        '<c r="A2001" t="inlineStr"><is><t xml:space="preserve">=1+1</t></is></c>'  # text
    assert re.search(r'<c r="A30" s="(\d+)" t="inlineStr">', xml)  # the blank kept its style
    ws = openpyxl.load_workbook(path)["S"]
    assert ws.tables["T"].ref == "A1:C2001" and ws.max_row == 2001
    assert [ws.cell(2001, c).value for c in (1, 2, 3)] == ["=1+1", 2998.5,
                                                           dt.datetime(2029, 6, 22)]
    assert ws["A2001"].data_type == "s" and ws["A30"].font.b
    assert (ws["B2001"].number_format, ws["C1500"].number_format) == ("#,##0.00", "yyyy-mm-dd")
    assert ws["E2"].value == "beside" and members(backup_of(path)) == before
    update_columns(path, "T", df.assign(Qty=np.nan), ["Qty"])  # fewer values: the size stays
    assert xt.table_info(path, "T").ref == "A1:C2001"


def test_grown_table_opens_in_libreoffice(grown: tuple[Path, pd.DataFrame, dict[str, bytes]],
                                          soffice: str, tmp_path: Path) -> None:
    path, _, _ = grown
    out = tmp_path / "out"
    for kind in ("csv", "xlsx"):
        subprocess.run([soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}",
                        "--headless", "--convert-to", kind, "--outdir", str(out), str(path)],
                       check=True, capture_output=True, timeout=180)
    lines = (out / f"{path.stem}.csv").read_text().splitlines()
    assert len(lines) == 2001 and lines[-1].startswith("=1+1,2998.5,")
    assert lines[1999].startswith("n1998,") and "2029-06-21" in lines[1999]
    assert xt.table_info(out / f"{path.stem}.xlsx", "T").ref == "A1:C2001"  # as LibreOffice saw it


def test_a_table_with_totals_does_not_grow(book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(TableWriteError, match=r"'Inventory' has 3 body rows \(3 up to the "
                                              r"last one in use\) but the frame has 4 rows: frame "
                                              r"row k goes to body row k"):
        update_columns(book, "Inventory", frame(4), ["Qty"])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


def test_a_filled_cell_or_merged_range_below_blocks_growth(tmp_path: Path) -> None:
    def extra(wb: Any, ws: Any) -> None:
        ws.write("B6", "in the way")
        ws.write_formula("C8", "=1+1", None, 2)
        ws.write("D4", "beside")
        ws.merge_range("C20:D20", "", None)

    path = small_table(tmp_path, extra=extra)
    original = path.read_bytes()
    with pytest.raises(TableWriteError, match=r"cannot grow table 'T' to 30 body rows \(to row "
                                              r"31\): cell B6, cell C8, merged cells C20:D20 is "
                                              r"in the way") as err:
        update_columns(path, "T", long_frame(30), ["Qty"])
    assert "insert rows" in str(err.value) and "was not changed" in str(err.value)
    with pytest.raises(TableWriteError, match=r"grow table 'T' .*: cell D4 is in the way"):
        update_columns(path, "T", long_frame(3).assign(D=1), ["Qty", "D"])  # D: a new column
    assert path.read_bytes() == original and files_in(tmp_path) == [path.name]
    update_columns(path, "T", long_frame(4), ["Qty"])  # rows 4 and 5 are free
    assert xt.table_info(path, "T").ref == "A1:C5"
    assert read_table(path, "T")["Name"].tolist()[:2] == ["s0", "s1"]
    assert read_table(path, "T")["Qty"].tolist() == [0.0, 1.5, 3.0, 4.5]


def test_another_table_below_blocks_growth(tmp_path: Path) -> None:
    def extra(wb: Any, ws: Any) -> None:
        ws.add_table(8, 1, 10, 1, {"name": "Below", "columns": [{"header": "X"}]})  # B9:B11
        ws.add_table(0, 4, 30, 4, {"name": "Beside", "columns": [{"header": "Y"}]})  # E1:E31

    path = small_table(tmp_path, extra=extra)
    original = path.read_bytes()
    with pytest.raises(TableWriteError, match=r"cannot grow table 'T' .*: cell B9, table Below "
                                              r"is in the way") as err:
        update_columns(path, "T", long_frame(10), ["Name"])
    assert "Beside" not in str(err.value)
    assert path.read_bytes() == original and files_in(tmp_path) == [path.name]
    update_columns(path, "T", long_frame(7), ["Name"])  # down to row 8: just above it
    assert xt.table_info(path, "T").ref == "A1:C8"


def test_growth_stops_at_the_sheet_and_size_limits(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    path = small_table(tmp_path)
    original = path.read_bytes()
    with pytest.raises(TableWriteError, match=r"the frame has 1,048,576 rows, but from row 2 a "
                                              r"sheet has 1,048,575"):
        update_columns(path, "T", pd.DataFrame({"Qty": np.zeros(xt.MAX_ROW)}), ["Qty"])
    monkeypatch.setattr(xt, "MAX_PART_BYTES", 20_000)  # the grown sheet could not be read back
    with pytest.raises(TableWriteError, match=r"its sheet would unpack to [\d,]+ bytes, over "
                                              r"20,000"):
        update_columns(path, "T", long_frame(2000), ["Name", "Qty"])
    assert path.read_bytes() == original and files_in(tmp_path) == [path.name]


def test_committed_settings_table_grows_and_nothing_else_changes(tmp_path: Path) -> None:
    path = tmp_path / COMMITTED.name
    shutil.copyfile(COMMITTED, path)
    info = xt.table_info(path, "Settings")
    c1, r1, c2, r2 = info.bounds
    last = r2 + 2
    assert info.totals_row_count == 0 and info.header_row_count == 1
    before, df = members(path), read_table(path, "Settings")
    k = last - r1 - len(df)  # rows to add: two below the table
    more = pd.concat([df, pd.DataFrame({c: [f"extra {c} {i}" for i in range(k)]
                                        for c in df.columns})], ignore_index=True)
    more.iloc[-1, -1] = "=NOT_A_FORMULA()"
    update_columns(path, "Settings", more, list(more.columns), backup=False)
    after = members(path)
    assert {n for n in before if before[n] != after[n]} == {info.sheet_part, info.table_part}
    assert list(after) == list(before)
    assert_frames_equal(read_table(path, "Settings"), more.replace("", None))  # "": no cell
    xml = after[info.sheet_part].decode()
    check_rows(xml)
    dimension = re.search(r'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"', xml)
    assert dimension is not None and int(dimension.group(1)) >= last
    style = re.compile(r' s="(\d+)"')
    assert [style.findall(cell_xml(xml, f"{get_column_letter(c)}{last}")) for c in
            range(c1, c2 + 1)] == [style.findall(cell_xml(xml, f"{get_column_letter(c)}{r1 + 1}"))
                                   for c in range(c1, c2 + 1)]  # the first body row's styles
    ws = openpyxl.load_workbook(path, keep_vba=True)["Settings"]
    ref = f"{get_column_letter(c1)}{r1}:{get_column_letter(c2)}{last}"
    assert ws.tables["Settings"].ref == ref and xt.table_info(path, "Settings").ref == ref
    assert ws.cell(last, c2).value == "=NOT_A_FORMULA()" and ws.cell(last, c2).data_type == "s"


# ----------------------------------------------------------------------------- hostile input


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "prices.xlsx"
    path.write_text("a,b\n1,2\n")
    for call in (lambda: read_table(path, "T"), lambda: xt.list_tables(path),
                 lambda: update_columns(path, "T", frame(1), ["Qty"])):
        with pytest.raises(WorkbookFormatError,
                           match=r"prices\.xlsx is not an Excel workbook \(not a zip package\)"):
            call()
    assert path.read_text() == "a,b\n1,2\n" and files_in(tmp_path) == [path.name]


def _flip_member_bytes(path: Path, name: str, garbage: bool) -> None:
    """Damage a member's stored bytes in the file: one byte changed, or all of them garbage."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    raw = bytearray(path.read_bytes())
    header = info.header_offset
    start = header + 30 + int.from_bytes(raw[header + 26:header + 28], "little") + \
        int.from_bytes(raw[header + 28:header + 30], "little")
    if garbage:
        raw[start:start + info.compress_size] = b"\xff" * info.compress_size
    else:
        at = raw.index(b"<v>1.5</v>", start) + 3
        raw[at] = ord("7")
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("garbage", [False, True], ids=["bad-crc", "bad-deflate"])
def test_damaged_member(book: Path, garbage: bool) -> None:
    rewrite_member(book, SHEET, lambda data: data,
                   compress_type=zipfile.ZIP_DEFLATED if garbage else zipfile.ZIP_STORED)
    _flip_member_bytes(book, SHEET, garbage)
    original = book.read_bytes()
    with pytest.raises(WorkbookFormatError, match=rf"part {SHEET} is damaged") as err:
        read_table(book, "Inventory")
    assert str(book) in str(err.value)
    assert isinstance(err.value.__cause__, zlib.error | zipfile.BadZipFile)
    with pytest.raises(WorkbookFormatError, match="is damaged"):
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


def test_damaged_member_elsewhere_stops_the_write(book: Path) -> None:
    name = "docProps/app.xml"
    rewrite_member(book, name, lambda data: data)
    _flip_member_bytes(book, name, garbage=True)
    original = book.read_bytes()
    assert len(read_table(book, "Inventory")) == 3  # reading does not need that part
    with pytest.raises(WorkbookFormatError, match=f"part {name} is damaged"):
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


@pytest.mark.parametrize("part", ["xl/workbook.xml", TABLE, SHEET, "xl/sharedStrings.xml"])
def test_malformed_xml(book: Path, part: str) -> None:
    rewrite_member(book, part, lambda data: data[:-30])
    with pytest.raises(WorkbookFormatError, match=rf"{re.escape(str(book))}: part {part} is not "
                                                  r"well-formed XML"):
        read_table(book, "Inventory")


XXE = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
LOL = '<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">' + "".join(
    f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8)) + "]>"


@pytest.mark.parametrize("doctype, ref", [(XXE, "&e;"), (LOL, "&i;")], ids=["xxe", "lol"])
@pytest.mark.parametrize("part", [SHEET, "xl/sharedStrings.xml", "xl/workbook.xml"])
def test_entities_are_never_expanded(book: Path, part: str, doctype: str, ref: str) -> None:
    def inject(xml: str) -> str:
        xml = xml.replace("?>", "?>" + doctype, 1)
        return xml.replace("<v>1.5</v>", f"<v>{ref}</v>").replace("<t>BTC</t>", f"<t>{ref}</t>")

    edit_text(book, part, inject)
    original = book.read_bytes()
    with pytest.raises(WorkbookFormatError, match=r"DOCTYPE|well-formed") as err:
        read_table(book, "Inventory")
    assert "root:" not in str(err.value) and "aaaaaaaaaa" not in str(err.value)
    before = members(book)[part]
    try:  # a part the update needs is refused; one it does not is copied as it is
        update_columns(book, "Inventory", frame(3), ["Qty"], backup=False)
        assert part == "xl/sharedStrings.xml" and members(book)[part] == before
    except WorkbookFormatError:
        assert book.read_bytes() == original


def test_shared_string_index_out_of_range(book: Path) -> None:
    edit_text(book, SHEET, lambda xml: xml.replace('<c r="A2" t="s"><v>', '<c r="A2" t="s"><v>99'))
    with pytest.raises(WorkbookFormatError, match=r"cell A2 of xl/worksheets/sheet1.xml names "
                                                  r"shared string 99\d*, but the workbook has"):
        read_table(book, "Inventory")


def test_bad_references_are_clear_errors(book: Path, tmp_path: Path) -> None:
    other = tmp_path / "other" / book.name
    other.parent.mkdir()
    shutil.copyfile(book, other)
    edit_text(book, TABLE, lambda xml: xml.replace('ref="A1:F5"', 'ref="nonsense"', 1))
    edit_text(other, SHEET, lambda xml: xml.replace('<c r="B3"', '<c r="3B"', 1))
    for path in (book, other):
        with pytest.raises(WorkbookFormatError, match="is damaged or not a workbook this module "
                                                      "can read"):
            read_table(path, "Inventory")


def test_oversized_and_bomb_members_are_refused(book: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    with zipfile.ZipFile(book, "a", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/media/bomb.bin", b"\0" * (11 * 2**20))  # packs about 1000:1
    original = book.read_bytes()
    assert len(read_table(book, "Inventory")) == 3  # reading does not unpack it
    with pytest.raises(WorkbookFormatError, match=r"part xl/media/bomb.bin unpacks to "
                                                  r"11,534,336 bytes from .* 200:1 packing"):
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]
    monkeypatch.setattr(xt, "MAX_PART_BYTES", 1000)
    with pytest.raises(WorkbookFormatError, match=r"refused \(limits 1,000 bytes"):
        read_table(book, "Inventory")


# ----------------------------------------------------------------------------- files


def test_backup_holds_the_original(book: Path) -> None:
    original = book.read_bytes()
    update_columns(book, "Inventory", frame(3), ["Qty"])
    assert xt.backup_path(book) == backup_of(book)
    assert backup_of(book).read_bytes() == original
    update_columns(book, "Inventory", frame(3), ["Price"], backup=False)
    assert backup_of(book).read_bytes() == original  # backup=False leaves it alone


def test_out_path_leaves_source_alone(book: Path, tmp_path: Path) -> None:
    original = book.read_bytes()
    out = tmp_path / "copy.xlsm"
    assert update_columns(book, "Inventory", frame(3), ["Qty"], out_path=out) == out
    assert book.read_bytes() == original and not backup_of(book).exists()
    assert read_table(out, "Inventory")["Qty"].tolist() == [0.5, 1.5, 2.5]


def test_permissions_are_kept(book: Path) -> None:
    book.chmod(0o640)
    update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.stat().st_mode & 0o777 == 0o640


def test_failure_half_way_leaves_original(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = book.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(xt._Package, "copy_to", boom)
    with pytest.raises(RuntimeError, match="disk on fire") as err:
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert any("was not changed" in note for note in getattr(err.value, "__notes__", []))
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


def test_source_saved_by_another_program_meanwhile(book: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = xt._Package.copy_to

    def write_while_excel_saves(*args: object, **kwargs: object) -> None:
        real_write(*args, **kwargs)  # type: ignore[arg-type]
        stat_ = book.stat()
        os.utime(book, ns=(stat_.st_atime_ns, stat_.st_mtime_ns + 10**9))

    monkeypatch.setattr(xt._Package, "copy_to", write_while_excel_saves)
    original = book.read_bytes()
    with pytest.raises(TableFileError, match="changed while the table was being written"):
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


def test_failed_replace_leaves_original(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = book.read_bytes()
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if Path(dst) == book:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(TableFileError, match="original file was not changed") as err:
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert isinstance(err.value, OSError) and str(book) in str(err.value)
    assert book.read_bytes() == original
    assert files_in(book.parent) == sorted([book.name, backup_of(book).name])  # no temp files
    assert backup_of(book).read_bytes() == original


def test_unwritable_folder_gives_clear_error(book: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    original = book.read_bytes()

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(TableFileError, match=r"Make the folder writable.*out_path"):
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.read_bytes() == original


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_folder_for_real(book: Path) -> None:
    """A folder nobody may write to: chmod, or (root ignores modes) chattr +i."""
    original = book.read_bytes()
    folder = book.parent
    as_root = os.geteuid() == 0
    if as_root:
        chattr = shutil.which("chattr")
        if chattr is None or subprocess.run([chattr, "+i", str(folder)],
                                            capture_output=True, check=False).returncode:
            pytest.skip("running as root and the folder cannot be made immutable")
    else:
        folder.chmod(0o555)
    try:
        with pytest.raises(TableFileError, match=r"no temporary file can be created in") as err:
            update_columns(book, "Inventory", frame(3), ["Qty"])
        assert str(folder) in str(err.value) and "out_path" in str(err.value)
        assert files_in(folder) == [book.name]
    finally:
        if as_root:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)
    assert book.read_bytes() == original


def test_read_only_file_is_refused(book: Path) -> None:
    original = book.read_bytes()
    book.chmod(0o444)
    try:
        with pytest.raises(TableFileError, match="read-only"):
            update_columns(book, "Inventory", frame(3), ["Qty"])
    finally:
        book.chmod(0o644)
    assert book.read_bytes() == original and files_in(book.parent) == [book.name]


def test_file_open_in_excel_is_refused(book: Path) -> None:
    original = book.read_bytes()
    (book.parent / f"~${book.name}").write_bytes(b"owner")
    with pytest.raises(TableFileLockedError, match="is open in Excel"):
        update_columns(book, "Inventory", frame(3), ["Qty"])
    assert book.read_bytes() == original


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_killed_mid_write_leaves_the_workbook_whole(book: Path, tmp_path: Path) -> None:
    """A process killed after writing the new package, before the replace: the old file stays
    (a killed process cannot remove its temporary file; it is named .<stem>.*.tmp)."""
    original = book.read_bytes()
    flag = tmp_path / "written.flag"
    script = f"""
import time
from pathlib import Path
from xlhedge import xlsxtable as xt
real = xt._Package.copy_to
def slow(*args):
    real(*args)
    Path({str(flag)!r}).touch()
    time.sleep(120)
xt._Package.copy_to = slow
df = xt.read_table({str(book)!r}, "Inventory")
df["Qty"] = [7.0, 8.0, 9.0]
xt.update_columns({str(book)!r}, "Inventory", df, ["Qty"])
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
        "PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 120
        while not flag.exists():
            assert proc.poll() is None, "the writer ended early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert book.read_bytes() == original
    assert read_table(book, "Inventory")["Qty"].tolist() == [1.5, 10.0, 100.0]
    left = [name for name in files_in(book.parent) if name not in (book.name, flag.name)]
    assert all(name.startswith(f".{book.stem}.") and name.endswith(".tmp") for name in left)


def test_no_private_zipfile_attributes() -> None:
    """Members are copied through zipfile's public API only (no _writecheck, _lock, ...)."""
    source = Path(xt.__file__).read_text()
    owners = set(re.findall(r"([\w\]\)]+)\._[a-z]\w*", source))
    assert owners <= {"self"}, owners  # only the module's own objects' private state


# ----------------------------------------------------------------------------- the real workbook


def test_committed_inventory_sheet_round_trips_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / COMMITTED.name
    shutil.copyfile(COMMITTED, path)
    info = xt.table_info(path, "Inventory")
    with xt._Package(path) as pkg:
        for part in (info.sheet_part, info.table_part):
            data = pkg.part(part)
            assert xt._Package.serialize(pkg.parse(data, part), data) == data, part


def test_committed_workbook_updated_opens_everywhere(tmp_path: Path,
                                                    pdf_text: Callable[[Path], str]) -> None:
    path = tmp_path / "book" / COMMITTED.name
    path.parent.mkdir()
    shutil.copyfile(COMMITTED, path)
    df = read_table(path, "Inventory")
    df["Status"] = [f"marker{i}" for i in range(len(df))]
    df["Desk"] = "deskname"
    df["Quantity"] = df["Quantity"] * 2
    update_columns(path, "Inventory", df, ["Status", "Quantity", "Desk"], backup=False)
    assert_frames_equal(read_table(path, "Inventory"), df)
    ws = openpyxl.load_workbook(path, keep_vba=True)["Inventory"]
    assert ws.tables["Inventory"].tableColumns[-1].name == "Desk"
    text = pdf_text(path)
    assert "marker0" in text and f"marker{len(df) - 1}" in text


def test_update_with_a_function_of_the_table_reads_and_writes_in_one_parse(book: Path) -> None:
    seen: list[pd.DataFrame] = []

    def doubled(table: pd.DataFrame) -> pd.DataFrame:
        seen.append(table)
        return table.assign(Price=table["Price"] * 2)

    before = read_table(book, "Inventory")
    update_columns(book, "Inventory", doubled, ["Price"])
    assert len(seen) == 1 and seen[0].equals(before)  # it got the table as read_table reads it
    assert read_table(book, "Inventory")["Price"].tolist() == (before["Price"] * 2).tolist()


def test_an_error_in_the_function_leaves_the_file_unchanged(book: Path) -> None:
    original = book.read_bytes()

    def failing(table: pd.DataFrame) -> pd.DataFrame:
        raise XlhedgeError("the price source failed")

    with pytest.raises(XlhedgeError) as raised:
        update_columns(book, "Inventory", failing, ["Price"])
    assert str(raised.value) == "the price source failed"  # as it was raised, not "damaged"
    assert book.read_bytes() == original
