"""HedgePlanner.xlsm: built from the code, its VBA, its cached values, and LibreOffice."""

import importlib
import math
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from xlhedge import udfs
from xlhedge.excel import vba
from xlhedge.excel.vba import MACROS_MODULE, macros_vba
from xlhedge.excel.workbook import (
    COMMITTED,
    build_workbook,
    conf_for_this_python,
    xlwings_conf,
)

REQUIRED_SHEETS = ["Read Me", "Inventory", "Positions", "Funding", "Calculator", "Scenarios",
                   "Contracts", "Settings", "xlwings.conf"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_workbook(tmp_path_factory.mktemp("wb") / "HedgePlanner.xlsm")


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


def test_committed_workbook_equals_the_build(built):
    committed, fresh = _members(COMMITTED), _members(built)
    assert sorted(committed) == sorted(fresh)
    drifted = [name for name in fresh if committed[name] != fresh[name]]
    assert not drifted, f"rebuild with: python -m xlhedge.excel.workbook (drifted: {drifted})"


def test_no_full_recalculation_on_open(built):
    # Excel without Python would turn every cached value into #NAME?
    workbook_xml = _members(built)["xl/workbook.xml"].decode()
    assert "fullCalcOnLoad" not in workbook_xml and 'calcId="191029"' in workbook_xml


def test_sheets_and_hidden_conf(built):
    book = openpyxl.load_workbook(built, keep_vba=True)
    assert book.sheetnames == REQUIRED_SHEETS
    assert book["xlwings.conf"].sheet_state == "hidden"
    conf = {row[0]: row[1] for row in book["xlwings.conf"].iter_rows(values_only=True)}
    assert conf["UDF Modules"] == "xlhedge.udfs"
    assert set(book["Inventory"].tables) == {"Inventory"}
    assert set(book["Contracts"].tables) == {"Contracts"}


def test_vba_modules_equal_their_sources(built):
    modules = vba.extract_modules(built)
    wrappers = vba.udf_wrappers("xlhedge.udfs", udfs).split("\n", 1)[1].rstrip("\n")
    assert modules["xlwings_udfs"].rstrip("\n") == wrappers
    macros = macros_vba().split("\n", 1)[1].rstrip("\n")
    assert modules[MACROS_MODULE].rstrip("\n") == macros
    assert "xlwings" in modules and "Dictionary" in modules and "Module1" not in modules


def test_xlwings_udfs_declares_every_function(built):
    text = vba.extract_modules(built)["xlwings_udfs"]
    public = [n for n in dir(udfs) if n.isupper() and callable(getattr(udfs, n))]
    for name in public:
        assert re.search(rf"^Function {name}\(", text, re.M), name


def test_every_runpython_string_resolves(built):
    text = vba.extract_modules(built)[MACROS_MODULE]
    calls = re.findall(r'RunPython "import ([\w.]+); ([\w.]+)\(\)"', text)
    assert len(calls) == 2
    for module_name, dotted in calls:
        module = importlib.import_module(module_name)
        assert dotted.startswith(module_name + ".")
        assert callable(getattr(module, dotted[len(module_name) + 1:]))


def test_buttons_call_the_macros(built):
    members = _members(built)
    drawing = b"".join(v for k, v in members.items() if k.startswith("xl/drawings/vmlDrawing"))
    assert b"RefreshInventory" in drawing and b"MakeHedgeSheet" in drawing


def _formula_cells(path: Path):
    formulas = openpyxl.load_workbook(path, keep_vba=True)
    values = openpyxl.load_workbook(path, keep_vba=True, data_only=True)
    for sheet in formulas.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                formula = cell.value
                text = getattr(formula, "text", formula)
                if isinstance(text, str) and text.startswith("="):
                    yield sheet.title, cell.coordinate, values[sheet.title][cell.coordinate].value


def test_every_formula_has_a_cached_value(built):
    cells = list(_formula_cells(built))
    assert len(cells) >= 35
    missing = [(s, c) for s, c, v in cells if v is None]
    assert not missing


def test_pycel_reproduces_every_cached_value(built):
    """An independent formula engine, with the UDFs registered, recalculates the workbook."""
    from pycel import ExcelCompiler

    compiler = ExcelCompiler(filename=str(built), plugins=["pycel_udfs"])
    cells = list(_formula_cells(built))
    for sheet, ref, _ in cells:  # load every formula, then forget the values read from the file
        compiler.evaluate(f"{sheet}!{ref}")
    for sheet, ref, _ in cells:
        compiler.cell_map[f"{sheet}!{ref}"].value = None
    checked = 0
    for sheet, ref, cached in cells:
        got = compiler.evaluate(f"{sheet}!{ref}")
        if isinstance(got, tuple):  # an array formula: pycel gives the whole array
            got = got[0][0]
        if isinstance(cached, int | float):
            assert math.isclose(float(got), cached, rel_tol=1e-9, abs_tol=1e-12), (sheet, ref)
        else:
            assert got == cached, (sheet, ref)
        checked += 1
    assert checked >= 35


def test_user_copy_points_at_this_python(tmp_path):
    import sys

    conf = dict(xlwings_conf({"Interpreter_Mac": sys.executable}))
    assert conf["Interpreter_Mac"] == sys.executable and conf["UDF Modules"] == "xlhedge.udfs"


def test_conf_rows_only_for_keys_with_values(tmp_path):
    rows = xlwings_conf({"Interpreter_Win": r"C:\Python\python.exe"})
    assert [k for k, _ in rows] == ["Interpreter_Win", "UDF Modules", "Debug UDFs",
                                    "Use UDF Server", "Show Console"]
    assert all(v for _, v in rows)  # a blank row would shadow the user's own xlwings.conf
    sheet = openpyxl.load_workbook(build_workbook(tmp_path / "B.xlsm", dict(rows)))[
        "xlwings.conf"]
    keys = [sheet.cell(r, 1).value for r in range(1, sheet.max_row + 1)]
    assert keys == [k for k, _ in rows]  # column A contiguous, no blank keys


def test_conda_on_windows_gets_conda_path_and_env(tmp_path):
    env = tmp_path / "miniconda3" / "envs" / "hedge"
    (env / "conda-meta").mkdir(parents=True)
    conf = conf_for_this_python(str(env / "python.exe"), str(env), "win32")
    assert conf["Conda Path"] == str(tmp_path / "miniconda3") and conf["Conda Env"] == "hedge"
    assert "Interpreter_Win" not in conf
    base = tmp_path / "miniconda3"
    (base / "conda-meta").mkdir()
    conf = conf_for_this_python(str(base / "python.exe"), str(base), "win32")
    assert conf["Conda Path"] == str(base) and conf["Conda Env"] == "base"
    plain = conf_for_this_python(r"C:\Py\python.exe", str(tmp_path / "venv"), "win32")
    assert plain["Interpreter_Win"] == r"C:\Py\python.exe" and "Conda Path" not in plain
    mac = conf_for_this_python("/usr/bin/python3", str(tmp_path / "venv"), "darwin")
    assert mac["Interpreter_Mac"] == "/usr/bin/python3"


def test_libreoffice_prints_calculator_with_numbers(built, pdf_text):
    text = pdf_text(built)
    page = next(p for p in text.split("\f") if "1. The guides' case" in p)
    assert "#NAME?" not in page
    for number in ("600", "119,520.00", "0.20000000", "-12,000.00", "5,625.00"):
        assert number in page, number


def test_function_wizard_help_for_every_function(built):
    text = vba.extract_modules(built)[MACROS_MODULE]
    assert "Sub Auto_Open()" in text
    public = [n for n in dir(udfs) if n.isupper() and callable(getattr(udfs, n))]
    for name in public:
        qualified = f'Application.MacroOptions Macro:="\'" & ThisWorkbook.Name & "\'!{name}"'
        assert qualified in text, name


def test_headings_and_dates_fit_their_columns(built):
    """No clipped heading, no ### for a date: each column at least as wide as what it shows."""
    book = openpyxl.load_workbook(built)
    for name in ("Inventory", "Contracts"):
        sheet = book[name]
        table = sheet.tables[name]
        widths = {i: d.width for d in sheet.column_dimensions.values()
                  for i in range(d.min, d.max + 1)}  # <col> elements may span several columns
        first_col = openpyxl.utils.cell.range_boundaries(table.ref)[0]
        for offset, column in enumerate(table.tableColumns):
            width = widths[first_col + offset]
            assert width >= len(column.name) + 2, (name, column.name, width)
    contracts = book["Contracts"]
    as_of = next(c for c in contracts[2] if c.value == "As Of")
    assert contracts.cell(3, as_of.column).number_format == "yyyy-mm-dd"
    assert contracts.column_dimensions[as_of.column_letter].width >= 11


def test_opens_on_read_me_with_the_first_steps(built):
    book = openpyxl.load_workbook(built)
    assert book.active.title == "Read Me"
    texts = [c.value for row in book["Read Me"].iter_rows() for c in row if c.value]
    assert "Your first hedge, in five steps" in texts
    assert sum(1 for t in texts if t[:2] in ("1.", "2.", "3.", "4.", "5.")) >= 5
    assert book["Settings"]["A1"].value == "Settings"
