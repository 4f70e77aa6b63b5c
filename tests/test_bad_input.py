"""Bad input never gives a silent wrong result or a traceback (issue 13): one line naming the file
(line, column) and the rule, exit code 2, and no file changed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from xlhedge import xlsxtable
from xlhedge.cli import main
from xlhedge.excel.workbook import COMMITTED
from xlhedge.files import atomic_path, backup_path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "xlhedge" / "data" / "example_inventory.csv"
HEADER = EXAMPLE.read_text().splitlines()[0]
ROWS = EXAMPLE.read_text().splitlines()[1:]


def _sums(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links not followed) and its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.is_symlink()}


def _fails(argv: list[str], capsys: pytest.CaptureFixture[str], folder: Path,
           *needles: str) -> str:
    """``main(argv)`` exits 2 with one line naming every needle, and changes no file."""
    before = _sums(folder)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("xlhedge: error: ") and "\n" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)
    assert _sums(folder) == before
    return err


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = tmp_path / "Book.xlsm"
    shutil.copy(COMMITTED, path)
    return path


# --- silent wrong results -----------------------------------------------------------------------


def test_unquoted_decimal_comma_names_the_line(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", "\n".join([HEADER, ROWS[0].replace("1.5", "1,5"),
                                                  *ROWS[1:]]) + "\n")
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: line 2:", "10 fields",
           "header has 9", "column 10", "decimal comma")


def test_short_row_names_the_line(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", "\n".join([HEADER, *ROWS[:2], "BTC,1"]) + "\n")
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: line 4:", "2 fields",
           "header has 9")


@pytest.mark.parametrize("separator", [";", "\t"])
def test_semicolon_and_tab_files_are_read(tmp_path, capsys, separator):
    path = _write(tmp_path, "inv.csv", EXAMPLE.read_text().replace(",", separator))
    assert main(["plan", str(path)]) == 0
    assert "Hedged: 253,500.00 USD" in capsys.readouterr().out


def test_semicolon_file_with_decimal_commas_is_read(tmp_path, capsys):
    text = "Asset;Quantity;Contract;Price\nBTC;1,5;BINANCE:BTCUSD_PERP;60000\n"
    path = _write(tmp_path, "inv.csv", text)
    # the decimal comma is not a number here: an error in the plan, never a shifted column
    assert main(["plan", str(path)]) == 0
    assert "quantity must be a number (got '1,5')" in capsys.readouterr().out


def test_two_separators_in_the_header_are_refused(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", "Asset;Quantity,Contract\nBTC,1;X\nETH;1;2,3,4\n")
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: line 1:",
           "cannot tell the separator")


def test_no_recognised_column_names_the_missing_one(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", "Coin, Amount\nBTC, 1\n")
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: no column Quantity (or Qty)",
           "headings: Coin, Amount")


def test_file_without_holdings_is_an_error(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", HEADER + "\n,,,,,,,,\n")
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: has no holdings")


def test_plan_of_a_workbook_reads_its_inventory_table(workbook, capsys):
    assert main(["plan", str(workbook)]) == 0
    out = capsys.readouterr().out
    assert "BINANCE:BTCUSD_PERP" in out and "nan%" not in out


def test_repeated_heading_is_named(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", "Asset,Quantity,Contract,Quantity\n"
                                       "BTC,1,BINANCE:BTCUSD_PERP,2\n")
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: line 1: column 4 'Quantity' "
           "repeats column 2")


def test_refresh_and_plan_accept_the_qty_alias(tmp_path, capsys):
    import xlsxwriter

    path = tmp_path / "Qty.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Inventory")
    headers = ["Asset", "Qty", "Contract", "Price"]
    sheet.add_table(0, 0, 1, 3, {"name": "Inventory", "columns": [{"header": h}
                                                                   for h in headers]})
    sheet.write_row(1, 0, ["BTC", 1, "BINANCE:BTCUSD_PERP", 60000])
    book.close()
    assert main(["refresh", str(path), "--no-backup"]) == 0
    table = xlsxtable.read_table(path, "Inventory")
    assert "Qty" in table.columns and "Quantity" not in table.columns
    assert table.loc[0, "Contracts"] == 600
    assert main(["plan", str(path)]) == 0
    assert "Hedged: 60,000.00 USD" in capsys.readouterr().out


def test_refresh_through_a_symlink_writes_the_target(workbook, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    target = real / "Book.xlsm"
    workbook.rename(target)
    link = tmp_path / "Link.xlsm"
    link.symlink_to(target)
    original = target.read_bytes()
    assert main(["refresh", str(link)]) == 0
    assert link.is_symlink() and link.resolve() == target
    assert target.read_bytes() != original
    assert (real / "Book.bak.xlsm").read_bytes() == original  # the backup beside the target
    assert sorted(p.name for p in real.iterdir()) == ["Book.bak.xlsm", "Book.xlsm"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Link.xlsm", "real"]


def test_hard_links_are_broken_by_a_refresh(workbook, tmp_path):
    """Documented in files.atomic_path: the named path gets the new file, other names keep
    the old content (an atomic replace cannot update every name of a file)."""
    other = tmp_path / "Other.xlsm"
    os.link(workbook, other)
    original = other.read_bytes()
    assert main(["refresh", str(workbook), "--no-backup"]) == 0
    assert other.read_bytes() == original
    assert workbook.read_bytes() != original
    assert workbook.stat().st_nlink == 1


def test_refresh_refuses_a_change_of_extension(workbook, capsys):
    _fails(["refresh", str(workbook), "--out", str(workbook.with_name("copy.xlsx"))], capsys,
           workbook.parent, "copy.xlsx: --out must keep the workbook's extension '.xlsm'")


# --- tracebacks ---------------------------------------------------------------------------------


def test_damaged_zip_is_one_line(workbook, capsys):
    damaged = workbook.with_name("Damaged.xlsm")
    damaged.write_bytes(workbook.read_bytes()[:4000])
    for command in (["plan"], ["refresh"], ["sheet", "-o", str(workbook.with_name("s.xlsx"))]):
        _fails([command[0], str(damaged), *command[1:]], capsys, workbook.parent,
               f"{damaged}: ", "not an Excel workbook")


def test_malformed_xml_is_one_line(workbook, capsys):
    broken = workbook.with_name("Broken.xlsm")
    with zipfile.ZipFile(workbook) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, b"<worksheet><sheetData>" if item.filename ==
                         xlsxtable.table_info(workbook, "Inventory").sheet_part else data)
    _fails(["refresh", str(broken)], capsys, workbook.parent, str(broken))


def test_csv_named_xlsx_is_one_line(tmp_path, capsys):
    path = tmp_path / "inv.xlsx"
    shutil.copy(EXAMPLE, path)
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: is not an Excel workbook",
           "looks like a text/CSV file")


def test_contracts_as_of_1e10_is_one_line(tmp_path, capsys):
    path = _write(tmp_path, "c.csv", "Symbol,As Of\nBINANCE:BTCUSD_PERP,1e10\n")
    _fails(["plan", str(EXAMPLE), "--contracts", str(path)], capsys, tmp_path,
           f"{path}: ", "As Of must be a date")


def test_sheet_on_a_full_disk_is_one_line(workbook, tmp_path, monkeypatch, capsys):
    from xlsxwriter.exceptions import FileCreateError

    def full(*args, **kwargs):
        raise FileCreateError(OSError(28, "No space left on device"))

    monkeypatch.setattr("xlsxwriter.workbook.Workbook.close", full)
    out = tmp_path / "out"
    out.mkdir()
    _fails(["sheet", str(workbook), "-o", str(out / "s.xlsx")], capsys, tmp_path,
           "No space left on device")
    assert list(out.iterdir()) == []


def test_ctrl_c_exits_130_and_leaves_no_temporary_file(workbook, monkeypatch, capsys):
    before = _sums(workbook.parent)

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupt)
    assert main(["refresh", str(workbook)]) == 130
    assert "interrupted" in capsys.readouterr().err
    assert _sums(workbook.parent) == before


def test_unexpected_error_is_one_line_exit_3(monkeypatch, capsys):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("xlhedge.plan.plan_hedge", bug)
    monkeypatch.delenv("XLHEDGE_DEBUG", raising=False)
    assert main(["plan", str(EXAMPLE)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("xlhedge: internal error (ZeroDivisionError): oops") and "report" in err
    monkeypatch.setenv("XLHEDGE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["plan", str(EXAMPLE)])


def _corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    files = {
        "empty.csv": b"",
        "garbage.csv": bytes(range(256)) * 8,
        "csv-renamed.xlsx": EXAMPLE.read_bytes(),
        "truncated.xlsm": COMMITTED.read_bytes()[:5000],
        "garbage.xlsx": bytes(range(256)) * 8,
        "empty.xlsx": b"",
    }
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    no_inventory = folder / "no-inventory.xlsx"
    import xlsxwriter

    book = xlsxwriter.Workbook(str(no_inventory))
    book.add_worksheet("Other").write_row(0, 0, ["a", "b"])
    book.close()
    paths["no-inventory.xlsx"] = no_inventory
    paths["missing.xlsx"] = folder / "missing.xlsx"
    (folder / "dir.xlsx").mkdir()
    paths["dir.xlsx"] = folder / "dir.xlsx"
    return paths


def test_corpus_of_broken_files_never_gives_a_traceback(tmp_path):
    paths = _corpus(tmp_path / "corpus")
    out = tmp_path / "out"
    out.mkdir()
    runs = []
    for path in paths.values():
        runs += [["plan", str(path)], ["plan", str(EXAMPLE), "--contracts", str(path)],
                 ["refresh", str(path)], ["sheet", str(path), "-o", str(out / "s.xlsx")]]
    before = _sums(tmp_path)
    env = {**os.environ, "XLHEDGE_DEBUG": ""}

    def run(argv: list[str]) -> tuple[list[str], int, str]:
        done = subprocess.run([sys.executable, "-m", "xlhedge", *argv], capture_output=True,
                              text=True, env=env, timeout=120, cwd=ROOT)
        return argv, done.returncode, done.stdout + done.stderr

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(run, runs))
    for argv, code, output in results:
        assert "Traceback" not in output, (argv, output)
        assert code == 2, (argv, code, output)
        lines = output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("xlhedge: error: "), (argv, output)
        assert Path(argv[-3] if argv[0] == "sheet" else argv[-1]).name in lines[0], (argv,
                                                                                   output)
    assert _sums(tmp_path) == before


# --- smaller --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["cp1252", "utf-16", "utf-8-sig"])
def test_excel_ansi_and_utf16_exports_are_read(tmp_path, capsys, encoding):
    path = tmp_path / "inv.csv"
    text = f"{HEADER},Note\r\n" + "".join(f"{row},caf\u00e9\r\n" for row in ROWS)
    path.write_bytes(text.encode(encoding))
    assert main(["plan", str(path)]) == 0
    assert "Hedged: 253,500.00 USD" in capsys.readouterr().out


def test_binary_file_says_it_is_not_a_text_file(tmp_path, capsys):
    path = tmp_path / "inv.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    _fails(["plan", str(path)], capsys, tmp_path, f"{path}: is not a text/CSV file")


def test_stale_temporaries_of_ours_are_removed_on_the_next_write(tmp_path):
    target = tmp_path / "Book.xlsm"
    target.write_bytes(b"old")
    old = tmp_path / ".Book.abcd_123.new.tmp"
    fresh = tmp_path / ".Book.zzzz9999.bak.tmp"
    other = tmp_path / ".Book.notours.tmp"
    for path in (old, fresh, other):
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    for path in (old, other):
        os.utime(path, (an_hour_ago, an_hour_ago))
    with atomic_path(target, backup=True) as temp:
        temp.write_bytes(b"new")
    assert target.read_bytes() == b"new" and backup_path(target).read_bytes() == b"old"
    assert not old.exists() and fresh.exists() and other.exists()


def test_terminal_escapes_in_asset_names_are_escaped(tmp_path, capsys):
    path = _write(tmp_path, "inv.csv", "Asset,Quantity,Contract,Price,Mark Price\n"
                  "\x1b[31mBTC,1,BINANCE:BTCUSD_PERP,60000,60000\n")
    main(["plan", str(path)])
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b[31mBTC" in out
