"""Tests for xlhedge.xlsxtable: table read/write that leaves the rest of the package alone."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xlhedge import xlsxtable as xt
from xlhedge.xlsxtable import (
    TableFileError,
    TableFileLockedError,
    TableNotFoundError,
    TableWriteError,
    read_table,
    update_columns,
    write_table,
)

SHEET = "xl/worksheets/sheet1.xml"
TABLE = "xl/tables/table1.xml"
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
ROWS = [
    ["BTC", 1.5, 30000.0, True, dt.date(2024, 1, 2), "note"],
    ["ETH", 10.0, 2000.0, False, dt.date(2024, 1, 3), None],
    ["SOL", 100.0, 100.0, True, dt.date(2024, 1, 4), "x"],
]
COLUMNS = ["Ticker", "Qty", "Price", "Active", "Date", "Note"]


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
    """The fixture: table Inventory with totals, validation, conditional formats, a button,
    cells beside/below it; sheet Calc with a dynamic array (cached value), a chart; a name."""
    path = folder / ("HedgePlanner.xlsm" if vba else "HedgePlanner.xlsx")
    wb = xlsxwriter.Workbook(str(path))
    if vba:
        bin_path = folder / "vbaProject.bin"
        bin_path.write_bytes(vba)
        wb.add_vba_project(str(bin_path))
    ws = wb.add_worksheet("Inventory")
    money = wb.add_format({"num_format": "#,##0.00"})
    datef = wb.add_format({"num_format": "yyyy-mm-dd"})
    bold = wb.add_format({"bold": True})
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
    ws.conditional_format(1, 2, len(ROWS), 2,
                          {"type": "cell", "criteria": ">", "value": 1000, "format": money})
    ws.conditional_format(1, 1, len(ROWS), 1, {"type": "data_bar", "bar_solid": True})
    if vba:
        ws.insert_button("H2", {"macro": "SampleCall", "caption": "Refresh"})
    ws.write("H10", "keep me", bold)
    ws.merge_range("H12:I12", "merged")
    ws.write("B20", "below the table")
    calc = wb.add_worksheet("Calc")
    calc.write_dynamic_array_formula("A1:A3", "=SORT(Inventory[Qty])", None, 1.5)
    calc.write_formula("B1", "=SUM(Inventory[Qty])", None, 111.5)
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
    """n rows in the table's own layout (numbers as float, as read_table gives them)."""
    return pd.DataFrame({
        "Ticker": [f"T{i}" for i in range(n)],
        "Qty": [float(i) + 0.5 for i in range(n)],
        "Price": [100.0 * (i + 1) for i in range(n)],
        "Active": [i % 2 == 0 for i in range(n)],
        "Date": [45300.0 + i for i in range(n)],
        "Note": [f"n{i}" if i % 3 else None for i in range(n)],
    })


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def raw_member(path: Path, name: str) -> tuple[int, int, bytes]:
    """(compress_type, CRC, compressed bytes) of one member."""
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        info = zf.getinfo(name)
        fh.seek(info.header_offset)
        header = fh.read(30)
        skip = int.from_bytes(header[26:28], "little") + int.from_bytes(header[28:30], "little")
        fh.seek(info.header_offset + 30 + skip)
        return info.compress_type, info.CRC, fh.read(info.compress_size)


def sheet_xml(path: Path, part: str = SHEET) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(part).decode()


def cell_xml(xml: str, ref: str) -> str:
    """The <c> element at ref, or '' when the sheet has no such cell."""
    m = re.search(rf'<c r="{ref}"(?:[^>]*/>|[^>]*>.*?</c>)', xml, re.S)
    return m.group(0) if m else ""


def table_root(path: Path) -> ET.Element:
    with zipfile.ZipFile(path) as zf:
        return ET.fromstring(zf.read(TABLE))


def assert_frames_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                  check_dtype=False, check_column_type=False)


# ----------------------------------------------------------------------------- reading


def test_read_table_values_types_and_sheet(book: Path) -> None:
    df = read_table(book, "Inventory")
    assert list(df.columns) == COLUMNS
    assert len(df) == 3  # the totals row is not data
    assert df["Ticker"].tolist() == ["BTC", "ETH", "SOL"]  # shared strings
    assert df["Qty"].tolist() == [1.5, 10.0, 100.0]
    assert df["Active"].tolist() == [True, False, True]
    assert df["Date"].tolist() == [45293.0, 45294.0, 45295.0]  # serials, as stored
    assert pd.isna(df["Note"][1])
    assert df.attrs == {"sheet_name": "Inventory", "table_name": "Inventory",
                        "table_ref": "A1:F5"}
    info = xt.table_info(book, "inventory")  # Excel table names ignore case
    assert (info.sheet_name, info.ref, info.totals_row_count) == ("Inventory", "A1:F5", 1)


def test_unknown_table_lists_the_tables(book: Path) -> None:
    with pytest.raises(TableNotFoundError, match=r"'Holdings'.*Inventory \(sheet Inventory\)"):
        read_table(book, "Holdings")


# ----------------------------------------------------------------------------- round trips


def test_round_trip_same_size(book: Path) -> None:
    df = frame(3)
    write_table(book, "Inventory", df)
    assert_frames_equal(read_table(book, "Inventory"), df)
    assert table_root(book).get("ref") == "A1:F5"


def test_grow_moves_totals_and_extends_ranges(book: Path) -> None:
    original = sheet_xml(book)
    df = frame(12)
    write_table(book, "Inventory", df)
    assert_frames_equal(read_table(book, "Inventory"), df)
    root = table_root(book)
    assert root.get("ref") == "A1:F14"
    assert root.find(f"{MAIN_NS}autoFilter").get("ref") == "A1:F13"  # type: ignore[union-attr]
    xml = sheet_xml(book)
    # totals row moved to row 14 with fresh cached values; formulas kept
    assert cell_xml(xml, "A14") == '<c r="A14" t="s"><v>0</v></c>'  # label, same shared string
    qty_sum = f"{df.Qty.sum():g}"
    assert cell_xml(xml, "B14") == f'<c r="B14"><f>SUBTOTAL(109,[Qty])</f><v>{qty_sum}</v></c>'
    assert "<f>SUBTOTAL(101,[Price])</f><v>650</v>" in cell_xml(xml, "C14")
    assert "<f>SUBTOTAL(103,[Active])</f><v>12</v>" in cell_xml(xml, "D14")
    assert "<f>SUBTOTAL(104,[Date])</f><v>45311</v>" in cell_xml(xml, "E14")
    custom = cell_xml(xml, "F14")
    assert "<f>ROWS([Note])</f>" in custom and "<v>" not in custom
    assert cell_xml(xml, "B5") == '<c r="B5"><v>3.5</v></c>'  # old totals row is now data
    # validation and conditional format ranges follow the body, incl. the x14 extension
    assert 'sqref="A2:A13"' in xml and 'sqref="C2:C13"' in xml and 'sqref="B2:B13"' in xml
    assert "<xm:sqref>B2:B13</xm:sqref>" in xml
    # cells beside and below the table untouched; dimension covers everything
    for ref in ("H10", "H12", "B20"):
        assert cell_xml(xml, ref) == cell_xml(original, ref) != ""
    assert '<mergeCell ref="H12:I12"/>' in xml
    assert '<dimension ref="A1:I20"/>' in xml
    if book.suffix == ".xlsm":
        assert '<legacyDrawing r:id="rId1"/>' in xml  # the button's drawing


def test_shrink_clears_old_cells(book: Path) -> None:
    write_table(book, "Inventory", frame(12))
    df = frame(2)
    write_table(book, "Inventory", df, backup=False)
    assert_frames_equal(read_table(book, "Inventory"), df)
    assert table_root(book).get("ref") == "A1:F4"
    xml = sheet_xml(book)
    for ref in ("A5", "B5", "F5", "A9", "B14", "F14"):
        assert cell_xml(xml, ref) == "", ref
    assert "<f>SUBTOTAL(109,[Qty])</f><v>2</v>" in cell_xml(xml, "B4")
    assert 'sqref="A2:A3"' in xml and "<xm:sqref>B2:B3</xm:sqref>" in xml
    assert cell_xml(xml, "H10") != ""  # the row survives for its other cell
    assert '<row r="7"' not in xml  # rows left empty are dropped


def test_user_columns_reorder_and_rename(book: Path) -> None:
    df = frame(4)[["Ticker", "Price", "Qty", "Date", "Note"]]  # Active dropped, order changed
    df = df.rename(columns={"Note": "note"})  # same column, new case
    df["Strategy"] = ["basis", "=1+1", None, "carry"]  # a user column
    write_table(book, "Inventory", df)
    got = read_table(book, "Inventory")
    assert list(got.columns) == ["Ticker", "Price", "Qty", "Date", "note", "Strategy"]
    assert_frames_equal(got, df)
    cols = [(c.get("id"), c.get("name"), c.get("totalsRowFunction"))
            for c in table_root(book).iter(f"{MAIN_NS}tableColumn")]
    assert cols == [("1", "Ticker", None), ("3", "Price", "average"), ("2", "Qty", "sum"),
                    ("5", "Date", "max"), ("6", "note", "custom"), ("7", "Strategy", None)]
    xml = sheet_xml(book)
    assert cell_xml(xml, "B2") == '<c r="B2" s="1"><v>100</v></c>'  # Price keeps its format
    assert cell_xml(xml, "D2") == '<c r="D2" s="2"><v>45300</v></c>'  # Date keeps its format
    assert "SUBTOTAL(101,[Price])" in cell_xml(xml, "B6")
    assert "ROWS([Note])" in cell_xml(xml, "E6")
    assert cell_xml(xml, "F6") == ""  # a new column has no total
    header = cell_xml(xml, "F1")
    assert ">Strategy</t>" in header and 't="inlineStr"' in header
    assert cell_xml(xml, "G1") == cell_xml(xml, "G2") == ""  # old width cleared


@pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
def test_formula_like_text_is_text(book: Path) -> None:
    tricky = ["=1+1", "@SUM(A1)", "+A2", "-5", "a<b&c>\"d'", "_x0041_", "tab\tline\nbreak\r"]
    df = frame(len(tricky))
    df["Note"] = tricky
    write_table(book, "Inventory", df)
    assert read_table(book, "Inventory")["Note"].tolist() == tricky
    xml = sheet_xml(book)
    body = [cell_xml(xml, f"F{r}") for r in range(2, 2 + len(tricky))]
    assert all('t="inlineStr"' in c and "<f>" not in c for c in body)
    assert '<t xml:space="preserve">=1+1</t>' in body[0]
    import openpyxl

    ws = openpyxl.load_workbook(book)["Inventory"]
    assert ws["F2"].value == "=1+1" and ws["F2"].data_type == "s"
    assert ws["F3"].value == "@SUM(A1)" and ws["F3"].data_type == "s"


def test_values_dates_nan_and_styles(book: Path) -> None:
    df = pd.DataFrame({
        "Ticker": ["A", None, "C"],
        "Qty": [1, np.nan, np.int64(7)],
        "Price": [np.float32(2.5), None, 1e-7],
        "Active": [np.bool_(True), None, False],
        "Date": [pd.Timestamp("2024-01-02 12:00"), pd.NaT, dt.date(2024, 3, 1)],
        "Note": [dt.datetime(2024, 1, 2, tzinfo=dt.UTC), "x", None],
    })
    write_table(book, "Inventory", df)
    xml = sheet_xml(book)
    assert cell_xml(xml, "E2") == '<c r="E2" s="2"><v>45293.5</v></c>'
    assert cell_xml(xml, "E3") == '<c r="E3" s="2"/>'  # empty, keeps the date style
    assert cell_xml(xml, "E4") == '<c r="E4" s="2"><v>45352</v></c>'
    assert cell_xml(xml, "C3") == '<c r="C3" s="1"/>'
    assert cell_xml(xml, "B3") == ""  # empty and unstyled: no cell at all
    assert cell_xml(xml, "C4") == '<c r="C4" s="1"><v>1e-07</v></c>'
    got = read_table(book, "Inventory")
    assert got["Qty"].tolist()[::2] == [1.0, 7.0] and pd.isna(got["Qty"][1])
    assert got["Active"].tolist() == [True, None, False]
    assert got["Note"].tolist()[0] == 45293.0


def test_empty_frame_keeps_one_blank_row(book: Path) -> None:
    write_table(book, "Inventory", frame(0))
    assert table_root(book).get("ref") == "A1:F3"
    got = read_table(book, "Inventory")
    assert len(got) == 0 and list(got.columns) == COLUMNS
    assert "<f>SUBTOTAL(101,[Price])</f><v>#DIV/0!</v>" in cell_xml(sheet_xml(book), "C3")
    assert 't="e"' in cell_xml(sheet_xml(book), "C3")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.text(max_size=20),
                          st.floats(allow_nan=False, allow_infinity=False, width=64)),
                min_size=1, max_size=15))
def test_round_trip_property(template: Path, tmp_path: Path,
                             rows: list[tuple[str, float]]) -> None:
    path = tmp_path / "prop.xlsx"
    shutil.copyfile(template, path)
    df = pd.DataFrame({"Ticker": [r[0] for r in rows], "Qty": [r[1] for r in rows]})
    write_table(path, "Inventory", df, backup=False)
    got = read_table(path, "Inventory")
    assert got["Ticker"].tolist() == df["Ticker"].tolist()
    assert got["Qty"].tolist() == df["Qty"].tolist()


# ----------------------------------------------------------------------------- the rest stays


def test_other_members_are_byte_identical(book: Path) -> None:
    before = members(book)
    write_table(book, "Inventory", frame(9))
    after = members(book)
    assert set(after) == set(before)
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {SHEET, TABLE}
    for name in before:
        if name not in changed:
            assert raw_member(book, name) == raw_member(backup_of(book), name), name
    calc = after["xl/worksheets/sheet2.xml"].decode()
    assert '<c r="A1" cm="1"><f t="array" ref="A1:A3">' in calc and "<v>1.5</v>" in calc
    assert "xl/metadata.xml" in after and "xl/charts/chart1.xml" in after
    if book.suffix == ".xlsm":
        assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
        assert "xl/drawings/vmlDrawing1.vml" in after  # the button


def backup_of(path: Path) -> Path:
    return path.with_name(f"{path.stem}.bak{path.suffix}")


def test_backup_holds_the_original(book: Path) -> None:
    original = book.read_bytes()
    write_table(book, "Inventory", frame(5))
    assert xt.backup_path(book) == backup_of(book)
    assert backup_of(book).read_bytes() == original
    write_table(book, "Inventory", frame(6), backup=False)
    assert backup_of(book).read_bytes() == original  # backup=False leaves it alone


def test_out_path_leaves_source_alone(book: Path, tmp_path: Path) -> None:
    original = book.read_bytes()
    out = tmp_path / "copy.xlsm"
    assert write_table(book, "Inventory", frame(4), out_path=out) == out
    assert book.read_bytes() == original and not backup_of(book).exists()
    assert len(read_table(out, "Inventory")) == 4


@pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
def test_openpyxl_reads_the_result(book: Path) -> None:
    import openpyxl

    write_table(book, "Inventory", frame(7))
    wb = openpyxl.load_workbook(book, keep_vba=True)
    ws = wb["Inventory"]
    assert ws.tables["Inventory"].ref == "A1:F9"
    assert [str(dv.sqref) for dv in ws.data_validations.dataValidation] == ["A2:A8"]
    assert ws["A9"].value == "Total" and ws["B9"].value == "=SUBTOTAL(109,[Qty])"
    assert ws["H10"].value == "keep me"
    assert "TotalQty" in wb.defined_names


def test_excel_namespace_prefixes_survive(book: Path, tmp_path: Path) -> None:
    """Excel's own parts declare prefixes used only by mc:Ignorable; they must survive."""
    excel_root = ('<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                  'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
                  'mc:Ignorable="xr xr3" '
                  'xmlns:xr="http://schemas.microsoft.com/office/spreadsheetml/2014/revision" '
                  'xmlns:xr3="http://schemas.microsoft.com/office/spreadsheetml/2016/revision3" '
                  'id="1" xr:uid="{00000000-000C-0000-FFFF-FFFF00000000}"')
    src = members(book)
    table = src[TABLE].decode()
    table = table.replace('<table xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
                          ' id="1"', excel_root, 1)
    table = table.replace('<tableColumn id="2" name="Qty"',
                          '<tableColumn id="2" xr3:uid="{AAAA}" name="Qty"')
    patched = tmp_path / "excel.xlsm"
    with zipfile.ZipFile(book) as zin, zipfile.ZipFile(patched, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            zout.writestr(info, table.encode() if info.filename == TABLE else zin.read(info))
    write_table(patched, "Inventory", frame(5))
    new = members(patched)[TABLE].decode()
    assert excel_root in new and 'xr3:uid="{AAAA}"' in new and 'ref="A1:F7"' in new
    sheet = members(patched)[SHEET].decode()
    assert 'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" ' \
           'mc:Ignorable="x14ac"' in sheet


def with_calc_chain(src: Path, dst: Path) -> Path:
    """A copy of src with a calcChain part, its content-type override and its relationship."""
    chain = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<calcChain '
             b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             b'<c r="B5" i="1"/><c r="A1" i="2" a="1"/></calcChain>')
    ct_override = ('<Override PartName="/xl/calcChain.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"/>')
    rel = ('<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/'
           '2006/relationships/calcChain" Target="calcChain.xml"/>')
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", ct_override.encode() + b"</Types>")
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", rel.encode() + b"</Relationships>")
            zout.writestr(info, data)
        zout.writestr("xl/calcChain.xml", chain)
    return dst


def test_calc_chain_removed_only_when_formulas_change(book: Path, tmp_path: Path) -> None:
    src = members(book)
    patched = with_calc_chain(book, tmp_path / "chain.xlsm")
    # same size: the totals formulas stay where they are, so the chain stays valid
    write_table(patched, "Inventory", frame(3))
    assert "xl/calcChain.xml" in members(patched)
    # growing moves the totals formulas: the chain goes, with its override and relationship
    write_table(patched, "Inventory", frame(8))
    after = members(patched)
    assert "xl/calcChain.xml" not in after
    assert b"calcChain" not in after["[Content_Types].xml"]
    assert b"calcChain" not in after["xl/_rels/workbook.xml.rels"]
    ct_before = src["[Content_Types].xml"]
    assert after["[Content_Types].xml"] == ct_before  # exactly the override went
    assert after["xl/_rels/workbook.xml.rels"] == src["xl/_rels/workbook.xml.rels"]


# ----------------------------------------------------------------------------- refusals


def test_growth_into_cells_below_is_refused(book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(TableWriteError) as err:
        write_table(book, "Inventory", frame(20))
    message = str(err.value)
    assert "'Inventory'" in message and "rows 20" in message and "B20" in message
    assert "never overwrites cells outside the table" in message
    assert book.read_bytes() == original and not backup_of(book).exists()
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name]


def test_growth_into_merged_cells_is_refused(book: Path) -> None:
    df = frame(3)
    for extra in ("G", "H", "I"):
        df[extra] = 1.0  # columns up to I reach the merged H12:I12 only when rows reach 12
    write_table(book, "Inventory", df)  # rows 1-5: H10/H12 are not reached
    with pytest.raises(TableWriteError, match=r"H10.*H12"):
        write_table(book, "Inventory", pd.concat([df] * 4, ignore_index=True))


def test_bad_column_names_are_refused(book: Path) -> None:
    df = frame(2)
    df.columns = ["Ticker", "Qty", "qty", "Active", "Date", "Note"]
    with pytest.raises(TableWriteError, match="unique"):
        write_table(book, "Inventory", df)


# ----------------------------------------------------------------------------- atomicity


def test_failure_half_way_leaves_original(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = book.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(xt, "_write_package", boom)
    with pytest.raises(RuntimeError, match="disk on fire") as err:
        write_table(book, "Inventory", frame(5))
    assert any("was not changed" in note for note in getattr(err.value, "__notes__", []))
    assert book.read_bytes() == original
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name]


def test_source_saved_by_another_program_meanwhile(book: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    real_write = xt._write_package

    def write_while_excel_saves(*args: object, **kwargs: object) -> None:
        real_write(*args, **kwargs)
        stat_ = book.stat()
        os.utime(book, ns=(stat_.st_atime_ns, stat_.st_mtime_ns + 10**9))

    monkeypatch.setattr(xt, "_write_package", write_while_excel_saves)
    original = book.read_bytes()
    with pytest.raises(TableFileError, match="changed while the table was being written"):
        write_table(book, "Inventory", frame(5))
    assert book.read_bytes() == original
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name]


def test_failed_replace_leaves_original(book: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = book.read_bytes()
    real_replace = os.replace

    def replace(src: str, dst: str) -> None:
        if Path(dst) == book:
            raise PermissionError(13, "Permission denied")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(TableFileError, match="original file was not changed") as err:
        write_table(book, "Inventory", frame(5))
    assert isinstance(err.value, OSError) and str(book) in str(err.value)
    assert book.read_bytes() == original
    names = sorted(p.name for p in book.parent.iterdir())
    assert names == sorted([book.name, backup_of(book).name])  # no temporary files
    assert backup_of(book).read_bytes() == original


def test_unwritable_folder_gives_clear_error(book: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    original = book.read_bytes()

    def mkstemp(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(TableFileError, match=r"Make the folder writable.*out_path"):
        write_table(book, "Inventory", frame(5))
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
            write_table(book, "Inventory", frame(5))
        assert str(folder) in str(err.value) and "out_path" in str(err.value)
        assert sorted(p.name for p in folder.iterdir()) == [book.name]
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
            write_table(book, "Inventory", frame(5))
    finally:
        book.chmod(0o644)
    assert book.read_bytes() == original


def test_file_open_in_excel_is_refused(book: Path) -> None:
    (book.parent / f"~${book.name}").write_bytes(b"owner")
    with pytest.raises(TableFileLockedError, match="close the workbook"):
        write_table(book, "Inventory", frame(5))


def test_permissions_are_kept(book: Path) -> None:
    book.chmod(0o640)
    write_table(book, "Inventory", frame(5))
    assert book.stat().st_mode & 0o777 == 0o640


# ----------------------------------------------------------------------------- other programs


def test_libreoffice_converts_result_to_pdf(book: Path, tmp_path: Path) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        if os.environ.get("CI") == "true":
            pytest.fail("soffice (LibreOffice) is not on PATH; CI must install it")
        pytest.skip("soffice (LibreOffice) is not installed")
    write_table(book, "Inventory", frame(10))
    out = tmp_path / "pdf"
    profile = tmp_path / "lo-profile"
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to", "pdf",
         "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=180, check=False)
    pdf = out / f"{book.stem}.pdf"
    assert result.returncode == 0 and pdf.exists(), result.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 1000


def test_5000_rows_by_25_columns_round_trip(tmp_path: Path) -> None:
    """Size, not speed (bench/bench_xlsxtable.py measures that): a large table round-trips."""
    n, width = 5000, 25
    df = pd.DataFrame({f"Col{j}": np.arange(n, dtype=float) * j for j in range(width)})
    df["Col0"] = [f"name {i}" for i in range(n)]
    path = tmp_path / "big.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Inventory")
    ws.add_table(0, 0, 3, width - 1, {"name": "Inventory", "total_row": True,
                                      "columns": [{"header": c, "total_function": "sum"}
                                                  for c in df.columns]})
    wb.close()
    write_table(path, "Inventory", df)
    assert_frames_equal(read_table(path, "Inventory"), df)


# ----------------------------------------------------------------------------- other layouts


def rewrite_member(path: Path, name: str, edit: Callable[[str], str]) -> None:
    """Rewrite one member of a package in place (test set-up only)."""
    data = members(path)
    with zipfile.ZipFile(path) as zin:
        infos = zin.infolist()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in infos:
            body = data[info.filename]
            zout.writestr(info, edit(body.decode()).encode() if info.filename == name else body)


def offset_workbook(folder: Path, header: bool = True) -> Path:
    """Table at C3 (optionally without header row) with cells left, right and below it."""
    path = folder / "offset.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Data")
    ws.write("A4", "left")
    ws.write("G5", "right")
    ws.write_formula("A6", "=1+1", None, 2)
    ws.add_table(2, 2, 5 if header else 4, 4, {
        "name": "Holdings", "header_row": header,
        "data": [["a", 1, 2], ["b", 3, 4], ["c", 5, 6]],
        "columns": [{"header": "K"}, {"header": "V"},
                    {"header": "W", "formula": "=[@V]*2"}]})
    ws.write("D20", "far below")
    wb.close()
    return path


def test_offset_table_keeps_neighbours(tmp_path: Path) -> None:
    path = offset_workbook(tmp_path)
    before = sheet_xml(path)
    df = pd.DataFrame({"K": list("pqrstu"), "V": [1.0, 2, 3, 4, 5, 6], "W": [9.0] * 6})
    write_table(path, "Holdings", df)
    assert_frames_equal(read_table(path, "Holdings"), df)
    xml = sheet_xml(path)
    for ref in ("A4", "G5", "A6", "D20"):
        assert cell_xml(xml, ref) == cell_xml(before, ref) != "", ref
    row5 = re.search(r'<row r="5".*?</row>', xml)
    assert row5 is not None
    assert [m.group(1) for m in re.finditer(r'<c r="([A-Z]+)5"', row5.group(0))] == \
        ["C", "D", "E", "G"]  # cells stay in column order
    assert "<f>" not in "".join(cell_xml(xml, f"E{r}") for r in range(4, 10))  # values now
    assert '<dimension ref="A3:G20"/>' in xml


def test_table_without_header_row(tmp_path: Path) -> None:
    path = offset_workbook(tmp_path, header=False)
    info = xt.table_info(path, "Holdings")
    assert info.header_row_count == 0 and info.ref == "C3:E5"
    df = pd.DataFrame({"K": ["x", "y", "z", "w"], "V": [1.0, 2, 3, 4], "W": [0.5] * 4})
    write_table(path, "Holdings", df)
    assert_frames_equal(read_table(path, "Holdings"), df)
    assert xt.table_info(path, "Holdings").ref == "C3:E6"


def test_cells_without_r_attributes(book: Path) -> None:
    want = read_table(book, "Inventory")
    rewrite_member(book, SHEET, lambda xml: re.sub(r'(<c) r="[A-Z]+[2-4]"', r"\1", xml))
    assert 'c r="B3"' not in sheet_xml(book)
    assert_frames_equal(read_table(book, "Inventory"), want)
    df = frame(6)
    write_table(book, "Inventory", df)
    assert_frames_equal(read_table(book, "Inventory"), df)


def test_prefixed_main_namespace(book: Path) -> None:
    """Some writers put the main namespace on a prefix (x:row, x:c); new cells must too."""
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"

    def prefix(xml: str) -> str:
        xml = re.sub(r"<(/?)([A-Za-z]\w*)(?=[\s/>])", r"<\1x:\2", xml)
        return xml.replace(f'xmlns="{main}"', f'xmlns:x="{main}"', 1)

    want = read_table(book, "Inventory")
    rewrite_member(book, SHEET, prefix)
    rewrite_member(book, TABLE, prefix)
    assert_frames_equal(read_table(book, "Inventory"), want)
    df = frame(8)
    df["Extra"] = "e"
    write_table(book, "Inventory", df)
    assert_frames_equal(read_table(book, "Inventory"), df)
    for part in (SHEET, TABLE):
        root = ET.fromstring(members(book)[part])
        tags = {el.tag.split("}")[0] for el in root.iter() if not el.tag.startswith("{http://sch"
                                                                                   "emas.micro")}
        assert tags == {"{" + main}, part
    assert "<x:c r=\"G2\" t=\"inlineStr\"><x:is><x:t" in sheet_xml(book)


def test_filters_dropped_and_rows_shown(book: Path) -> None:
    rewrite_member(book, TABLE, lambda xml: xml.replace(
        '<autoFilter ref="A1:F4"/>',
        '<autoFilter ref="A1:F4"><filterColumn colId="0"><filters><filter val="BTC"/>'
        '</filters></filterColumn></autoFilter><sortState ref="A2:F4"><sortCondition '
        'ref="B2:B4"/></sortState>'))
    rewrite_member(book, SHEET, lambda xml: xml.replace('<row r="3" ', '<row r="3" hidden="1" '))
    write_table(book, "Inventory", frame(5))
    table = members(book)[TABLE].decode()
    assert '<autoFilter ref="A1:F6"/>' in table and "sortState" not in table
    assert 'hidden="1"' not in sheet_xml(book)


def test_dtypes(book: Path) -> None:
    df = pd.DataFrame({
        "Ticker": pd.Categorical(["a", "b", None]),
        "Qty": pd.array([1, None, 3], dtype="Int64"),
        "Price": pd.Series([1.5, None, 2.5], dtype="Float64"),
        "Active": pd.array([True, None, False], dtype="boolean"),
        "Date": pd.to_datetime(pd.Series(["2024-01-02", None, "1900-01-01"])),
        "Note": pd.to_datetime(pd.Series(["2024-01-02 06:00", "2024-01-03 00:00", None])
                               ).dt.tz_localize("Asia/Tokyo"),
        "Span": pd.to_timedelta(["1 day", "12h", None]),
        "Exact": [Decimal("1.25"), Fraction(1, 4), None],
    })
    write_table(book, "Inventory", df)
    got = read_table(book, "Inventory")
    assert got["Ticker"].tolist()[:2] == ["a", "b"] and pd.isna(got["Ticker"][2])
    assert got["Qty"].tolist()[::2] == [1.0, 3.0] and pd.isna(got["Qty"][1])
    assert got["Price"].tolist()[::2] == [1.5, 2.5]
    assert got["Active"].tolist() == [True, None, False]
    assert got["Date"].tolist()[0] == 45293.0 and got["Date"].tolist()[2] == 1.0
    assert got["Note"].tolist()[:2] == [45293.25, 45294.0]  # wall time, zone dropped
    assert got["Span"].tolist()[:2] == [1.0, 0.5]
    assert got["Exact"].tolist()[:2] == [1.25, 0.25]


def test_unsupported_value_is_refused(book: Path) -> None:
    df = frame(2)
    df["Note"] = pd.Series([{"a": 1}, None], dtype=object)
    with pytest.raises(TableWriteError, match=r"column 'Note', row 1: .*dict"):
        write_table(book, "Inventory", df)


# ----------------------------------------------------------------------------- update_columns


def formula_workbook(folder: Path) -> Path:
    """Table Inventory (A1:E5, totals row) with a user formula column Double (=[@Quantity]*2,
    a table column formula), a plain formula in E3 and specially formatted C3 and B4."""
    path = folder / "formulas.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet("Inventory")
    money = wb.add_format({"num_format": "#,##0.00"})
    ws.add_table(0, 0, 4, 4, {
        "name": "Inventory", "total_row": True,
        "data": [["BTC", 1.5, 30000.0, None, "a"], ["ETH", 10.0, 2000.0, None, None],
                 ["SOL", 100.0, 100.0, None, "c"]],
        "columns": [{"header": "Coin", "total_string": "Total"},
                    {"header": "Quantity", "total_function": "sum"},
                    {"header": "Price", "format": money, "total_function": "average"},
                    {"header": "Double", "formula": "=[@Quantity]*2", "total_function": "sum"},
                    {"header": "Note"}]})
    ws.write("C3", 2000.0, wb.add_format({"bold": True, "font_color": "red",
                                          "num_format": "0.000%"}))
    ws.write("B4", 100.0, wb.add_format({"italic": True, "num_format": "0.0"}))
    ws.write_formula("E3", "=B3+C3", None, 2010)
    wb.close()
    return path


def without_cells(xml: str, refs: str) -> str:
    """The sheet XML without the cells whose reference matches the regex refs."""
    return re.sub(rf'<c r="(?:{refs})"(?:[^>]*/>|[^>]*>.*?</c>)', "", xml, flags=re.S)


def test_update_columns_keeps_user_formulas(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    before, table_before = sheet_xml(path), members(path)[TABLE]
    df = read_table(path, "Inventory")
    df["Quantity"] = [2.0, 20.0, 200.0]
    df["Price"] = [1.0, 2.0, 3.0]
    df["Double"] = -1.0  # frame columns that are not named are not written
    df["Note"] = "ignored"
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
    assert got["Price"].tolist() == [1.0, 2.0, 3.0]
    assert got["Note"].tolist() == ["a", 2010.0, "c"]


@pytest.mark.filterwarnings("ignore:.*extension is not supported:UserWarning")
def test_update_columns_keeps_cell_styles(tmp_path: Path) -> None:
    import openpyxl

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


def test_update_columns_new_cells_take_the_column_style(book: Path) -> None:
    rewrite_member(book, SHEET, lambda xml: xml.replace('<c r="E3" s="2"><v>45294</v></c>', ""))
    df = frame(3)
    update_columns(book, "Inventory", df, ["Date", "Note"])
    xml = sheet_xml(book)
    assert cell_xml(xml, "E3") == '<c r="E3" s="2"><v>45301</v></c>'  # the column's style
    assert cell_xml(xml, "F3") == \
        '<c r="F3" t="inlineStr"><is><t xml:space="preserve">n1</t></is></c>'
    note = read_table(book, "Inventory")["Note"]
    assert pd.isna(note[0]) and note.tolist()[1:] == ["n1", "n2"]


def test_update_columns_values_follow_write_table_rules(book: Path) -> None:
    df = frame(3).astype({"Note": object})
    df["Qty"] = [1.0, np.inf, np.nan]
    df["Note"] = ["=1+1", dt.datetime(2024, 1, 2, 12), True]
    update_columns(book, "Inventory", df, ["Qty", "Note"])
    xml = sheet_xml(book)
    assert cell_xml(xml, "B2") == '<c r="B2"><v>1</v></c>'
    assert cell_xml(xml, "B3") == '<c r="B3" t="e"><v>#NUM!</v></c>'
    assert cell_xml(xml, "B4") == ""  # empty and unstyled: no cell
    assert cell_xml(xml, "F2") == \
        '<c r="F2" t="inlineStr"><is><t xml:space="preserve">=1+1</t></is></c>'  # text
    assert cell_xml(xml, "F3") == '<c r="F3"><v>45293.5</v></c>'
    assert cell_xml(xml, "F4") == '<c r="F4" t="b"><v>1</v></c>'
    assert cell_xml(xml, "B5") == '<c r="B5" t="e"><f>SUBTOTAL(109,[Qty])</f><v>#NUM!</v></c>'
    assert cell_xml(xml, "F5") == '<c r="F5"><f>ROWS([Note])</f></c>'  # not evaluated
    assert cell_xml(xml, "E5") == cell_xml(sheet_xml(backup_of(book)), "E5")  # not updated


def test_update_columns_changes_only_the_sheet(book: Path) -> None:
    original = book.read_bytes()
    before = members(book)
    update_columns(book, "Inventory", frame(3), ["Qty", "Price"])
    after = members(book)
    assert set(after) == set(before)
    assert {name for name in before if before[name] != after[name]} == {SHEET}
    for name in before:
        if name != SHEET:
            assert raw_member(book, name) == raw_member(backup_of(book), name), name
    assert backup_of(book).read_bytes() == original


def test_update_columns_calc_chain_goes_only_with_formulas(tmp_path: Path) -> None:
    path = with_calc_chain(formula_workbook(tmp_path), tmp_path / "chain.xlsx")
    src = members(path)
    df = read_table(path, "Inventory")
    df["Quantity"] = [1.0, 2.0, 3.0]
    update_columns(path, "Inventory", df, ["Quantity"])  # no formula replaced: chain stays
    after = members(path)
    assert {name for name in src if src[name] != after[name]} == {SHEET}
    df["Double"] = [7.0, 8.0, 9.0]  # the user's formulas become values: the chain goes
    update_columns(path, "Inventory", df, ["Double"])
    after = members(path)
    assert "xl/calcChain.xml" not in after
    assert b"calcChain" not in after["[Content_Types].xml"]
    assert b"calcChain" not in after["xl/_rels/workbook.xml.rels"]
    assert "<f>" not in "".join(cell_xml(sheet_xml(path), f"D{r}") for r in (2, 3, 4))
    assert "<f>SUBTOTAL(109,[Double])</f><v>24</v>" in cell_xml(sheet_xml(path), "D5")


def test_update_columns_wrong_row_count_is_refused(book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(TableWriteError, match=r"'Inventory' has 3 body rows but the frame has "
                                              r"4 rows.*Use write_table") as err:
        update_columns(book, "Inventory", frame(4), ["Qty"])
    assert "was not changed" in str(err.value)
    assert book.read_bytes() == original
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name]


def test_update_columns_unknown_column_is_refused(book: Path) -> None:
    original = book.read_bytes()
    with pytest.raises(TableWriteError, match=r"no column 'Venue'; its columns are: 'Ticker', "
                                              r"'Qty', 'Price', 'Active', 'Date', 'Note'\. "
                                              r".*use write_table to add"):
        update_columns(book, "Inventory", frame(3).assign(Venue="x"), ["Qty", "Venue"])
    with pytest.raises(TableWriteError, match=r"the frame has no column named 'Note'"):
        update_columns(book, "Inventory", frame(3).drop(columns="Note"), ["Note"])
    with pytest.raises(TableWriteError, match=r"named twice in columns \(as 'Qty' and 'qty'\)"):
        update_columns(book, "Inventory", frame(3), ["Qty", "qty"])
    assert book.read_bytes() == original
    assert sorted(p.name for p in book.parent.iterdir()) == [book.name]


def test_update_columns_on_an_empty_table(book: Path) -> None:
    write_table(book, "Inventory", frame(0))
    empty = read_table(book, "Inventory")
    assert len(empty) == 0
    update_columns(book, "Inventory", empty, ["Qty"])  # read_table's 0 rows: the blank row
    with pytest.raises(TableWriteError, match=r"has 0 rows \(its one body row is blank\)"):
        update_columns(book, "Inventory", frame(2), ["Qty"])


def test_update_columns_cells_without_r_attributes(book: Path) -> None:
    rewrite_member(book, SHEET, lambda xml: re.sub(r'(<c) r="[A-Z]+[2-4]"', r"\1", xml))
    want = read_table(book, "Inventory")
    want["Note"] = ["p", "q", None]  # row 3 gets a cell it did not have, row 4 loses one
    want["Qty"] = [7.0, 8.0, 9.0]
    update_columns(book, "Inventory", want, ["Note", "Qty"])
    assert_frames_equal(read_table(book, "Inventory"), want)


def test_update_columns_refuses_to_break_a_shared_formula(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    rewrite_member(path, SHEET, lambda xml: xml.replace(
        '<c r="D2"><f>[[#This Row],Quantity]*2</f>',
        '<c r="D2"><f t="shared" ref="D2:E2" si="0">B2*2</f>').replace(
        '<c r="E2" t="s"><v>7</v></c>', '<c r="E2"><f t="shared" si="0"/><v>20000</v></c>'))
    original = path.read_bytes()
    df = read_table(path, "Inventory")
    with pytest.raises(TableWriteError, match=r"cell D2 holds a shared formula that cells E2"):
        update_columns(path, "Inventory", df, ["Double"])
    assert path.read_bytes() == original
    update_columns(path, "Inventory", df, ["Double", "Note"])  # the anchor and its user go
    assert "<f" not in "".join(cell_xml(sheet_xml(path), ref) for ref in ("D2", "E2"))


def test_write_table_keeps_per_cell_styles(tmp_path: Path) -> None:
    path = formula_workbook(tmp_path)
    df = read_table(path, "Inventory")
    grown = pd.concat([df, df.iloc[:2]], ignore_index=True)[
        ["Price", "Coin", "Quantity", "Double", "Note"]]  # Price moves to column A
    write_table(path, "Inventory", grown)
    xml = sheet_xml(path)
    styles = [re.search(r' s="(\d+)"', cell_xml(xml, f"A{r}")) for r in range(2, 7)]
    assert [m.group(1) if m else None for m in styles] == ["1", "2", "1", "1", "1"]
    assert ' s="' in cell_xml(xml, "C4") and ' s="' not in cell_xml(xml, "C3")  # B4's own style
