"""The command line, end to end on real files (the refresh guarantees of the inventory issue)."""

import os
import shutil
import stat
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

from xlhedge import plan_hedge, xlsxtable
from xlhedge.cli import main
from xlhedge.excel.workbook import COMMITTED
from xlhedge.inventory import plan_shown

EXAMPLE = str(Path(__file__).resolve().parents[1] / "xlhedge" / "data" / "example_inventory.csv")


@pytest.fixture
def workbook(tmp_path) -> Path:
    path = tmp_path / "Book.xlsm"
    shutil.copy(COMMITTED, path)
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as package:
        return {name: package.read(name) for name in package.namelist()}


def _inventory_parts(path: Path) -> set[str]:
    info = xlsxtable.table_info(path, "Inventory")
    return {info.sheet_part, info.table_part, "xl/calcChain.xml", "[Content_Types].xml",
            "xl/_rels/workbook.xml.rels"}


def test_plan_prints_and_writes(tmp_path, capsys):
    out = tmp_path / "plan.xlsx"
    assert main(["plan", EXAMPLE, "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "BINANCE:BTCUSD_PERP" in text and "Hedged: 253,500.00 USD" in text
    assert openpyxl.load_workbook(out)["Plan"].max_row == 7


def test_plan_csv_output_keeps_formula_text_as_text(tmp_path):
    inventory = pd.read_csv(EXAMPLE)
    inventory.loc[0, "Asset"] = "=HYPERLINK(\"x\")"
    source, out = tmp_path / "inv.csv", tmp_path / "plan.csv"
    inventory.to_csv(source, index=False)
    assert main(["plan", str(source), "--out", str(out)]) == 0
    assert out.read_text().splitlines()[1].startswith("\"'=HYPERLINK(\"\"x\"\")\"")


def test_refresh_changes_only_the_table(workbook):
    before = _members(workbook)
    table = xlsxtable.read_table(workbook, "Inventory")
    table = table.astype({"Price": float})
    table.loc[0, "Price"] = 70000.0  # a price typed by the user
    table["My Notes"] = ["keep me"] * len(table)  # a column of the user's, at the right edge
    xlsxtable.update_columns(workbook, "Inventory", table, ["Price", "My Notes"], backup=False)
    typed = _members(workbook)
    assert main(["refresh", str(workbook)]) == 0
    after = _members(workbook)
    assert sorted(after) == sorted(typed)
    changed = {name for name in after if after[name] != typed[name]}
    assert changed <= _inventory_parts(workbook)
    assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
    for name in before:  # other sheets (cached values, dynamic arrays), charts, buttons, names
        if name not in _inventory_parts(workbook) and name in after:
            assert after[name] == before[name], name
    result = xlsxtable.read_table(workbook, "Inventory")
    assert result["My Notes"].tolist() == ["keep me"] * len(result)
    expected = plan_hedge(result)
    assert result.loc[0, "Contracts"] == 1050  # 1.5 BTC x 70,000 USD / 100 USD per contract
    assert result.loc[0, "Notional (USD)"] == 105000
    for column, name in {h: c.key for h, c in plan_shown().items() if c.unit != "text"}.items():
        got = pd.to_numeric(result[column], errors="coerce").to_numpy(dtype=float)
        want = expected[name].to_numpy(dtype=float)
        finite = np.isfinite(want)
        assert np.allclose(got[finite], want[finite]), column


def test_refresh_keeps_user_formulas_and_typed_price_formulas(workbook, tmp_path):
    import xlsxwriter

    path = tmp_path / "Formulas.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Inventory")
    headers = ["Asset", "Quantity", "Contract", "Price", "Double", *plan_shown(), "Status"]
    sheet.add_table(0, 0, 1, len(headers) - 1, {"name": "Inventory", "columns": [
        {"header": h} for h in headers]})
    sheet.write_row(1, 0, ["BTC", 1, "BINANCE:BTCUSD_PERP"])
    sheet.write_formula(1, 3, "=60000", None, 60000)  # a price the user computes
    sheet.write_formula(1, 4, "=B2*2", None, 2)  # a user column with a formula
    book.close()
    assert main(["refresh", str(path)]) == 0
    xml = _members(path)["xl/worksheets/sheet1.xml"].decode()
    assert "<f>60000</f>" in xml and "<f>B2*2</f>" in xml
    assert xlsxtable.read_table(path, "Inventory").loc[0, "Contracts"] == 600


def test_refresh_keeps_a_backup_equal_to_the_original(workbook):
    original = workbook.read_bytes()
    assert main(["refresh", str(workbook)]) == 0
    assert workbook.with_name("Book.bak.xlsm").read_bytes() == original


def test_refresh_bad_rows_get_status(workbook):
    table = xlsxtable.read_table(workbook, "Inventory").astype({"Quantity": object,
                                                               "Asset": object})
    table.loc[0, "Quantity"] = "lots"
    table.loc[1, "Asset"] = "=1+1"
    table.loc[2, "Contract"] = "BINANCE:BTCUSD"
    xlsxtable.update_columns(workbook, "Inventory", table, ["Quantity", "Asset", "Contract"],
                             backup=False)
    assert main(["refresh", str(workbook)]) == 0
    result = xlsxtable.read_table(workbook, "Inventory")
    assert result.loc[0, "Status"].startswith("error: quantity must be a number")
    assert result.loc[1, "Asset"] == "=1+1"
    assert "unknown contract 'BINANCE:BTCUSD' (did you mean" in result.loc[2, "Status"]
    assert result.loc[3, "Contracts"] > 0
    sheet = _members(workbook)[xlsxtable.table_info(workbook, "Inventory").sheet_part]
    assert b"<f>1+1</f>" not in sheet


def test_refresh_read_only_file_is_a_clear_error_and_unchanged(workbook, capsys):
    if os.geteuid() == 0:
        pytest.skip("root can write read-only files; xlsxtable's own tests cover the error path")
    original = workbook.read_bytes()
    workbook.chmod(stat.S_IRUSR)
    assert main(["refresh", str(workbook)]) == 2
    assert "xlhedge: error:" in capsys.readouterr().err
    assert workbook.read_bytes() == original


def test_refresh_failure_half_way_leaves_the_original(workbook, monkeypatch, capsys):
    original = workbook.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    assert main(["refresh", str(workbook)]) == 2
    assert "disk full" in capsys.readouterr().err
    assert workbook.read_bytes() == original
    assert [p.name for p in workbook.parent.iterdir()] == ["Book.xlsm"]


def test_refresh_from_csv_prices(workbook, tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text("asset,price\nBTC,65000\n")
    assert main(["refresh", str(workbook), "--source", f"csv:{prices}"]) == 0
    result = xlsxtable.read_table(workbook, "Inventory")
    assert (result.loc[result["Asset"] == "BTC", "Price"] == 65000).all()


def test_unknown_source_is_a_clear_error(workbook, capsys):
    assert main(["refresh", str(workbook), "--source", "ccxt:kraken"]) == 2
    assert 'price source must be "table"' in capsys.readouterr().err


def test_sheet_and_workbook(workbook, tmp_path, capsys):
    out = tmp_path / "sheet.xlsx"
    assert main(["sheet", str(workbook), "-o", str(out)]) == 0
    assert out.exists()
    mine = tmp_path / "Mine.xlsm"
    assert main(["workbook", str(mine)]) == 0
    assert main(["workbook", str(mine)]) == 2
    assert "exists: pass --force" in capsys.readouterr().err
    conf = openpyxl.load_workbook(mine, keep_vba=True)["xlwings.conf"]
    values = {row[0]: row[1] for row in conf.iter_rows(values_only=True)}
    import sys

    assert sys.executable in (values.get("Interpreter_Win"), values.get("Interpreter_Mac"))


def test_demo(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "demo")]) == 0
    text = capsys.readouterr().out
    assert "hedge sheet:" in text and (tmp_path / "demo" / "hedge-sheet.xlsx").exists()
    assert (tmp_path / "demo" / "HedgePlanner.xlsm").exists()


def test_refreshed_workbook_opens_in_libreoffice(workbook, pdf_text):
    table = xlsxtable.read_table(workbook, "Inventory").astype({"Price": float})
    table.loc[0, "Price"] = 71234.0
    xlsxtable.update_columns(workbook, "Inventory", table, ["Price"], backup=False)
    assert main(["refresh", str(workbook)]) == 0
    text = pdf_text(workbook)
    assert "106,851.00" in text  # 1.5 BTC at 71,234: the refreshed notional
    assert "1. The guides' case" in text  # the other sheets still print


def test_pdf_without_libreoffice_names_the_package(workbook, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("xlhedge.pdf.shutil.which", lambda name: None)
    monkeypatch.delenv("XLHEDGE_SOFFICE", raising=False)
    code = main(["sheet", str(workbook), "-o", str(tmp_path / "s.xlsx"), "--pdf",
                 str(tmp_path / "s.pdf")])
    assert code == 2
    assert "libreoffice-calc" in capsys.readouterr().err
