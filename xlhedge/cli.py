"""The ``xlhedge`` command line: a face over the core; it reads, calls, prints and writes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xlhedge.columns import column_key
from xlhedge.errors import XlhedgeError
from xlhedge.pdf import LibreOfficeMissingError, PdfConversionError
from xlhedge.tablefile import TableFileError

if TYPE_CHECKING:  # the commands import what they need: --help imports no pandas
    import pandas as pd

    from xlhedge.contracts import ContractRegistry
    from xlhedge.sources import PriceSource


def read_table_file(path: Path, table: str = "Inventory") -> pd.DataFrame:
    """A CSV, or a workbook's table ``table`` (else its first sheet): :mod:`xlhedge.tablefile`."""
    from xlhedge.tablefile import read_table_file as read

    return read(path, table)


def _read_inventory(path: Path) -> pd.DataFrame:
    """The inventory file's holdings, refused when a required column or every holding is missing."""
    from xlhedge.inventory import REQUIRED
    from xlhedge.plan import HEADINGS
    from xlhedge.tablefile import require_columns, require_holdings

    frame = read_table_file(path)
    require_columns(path, frame, [HEADINGS[column_key(h)] for h in REQUIRED])
    require_holdings(path, frame, [h for h in frame.columns
                                   if HEADINGS.get(column_key(h)) in ("asset", "quantity",
                                                                      "contract")])
    return frame


def _in_file(path: Path, exc: XlhedgeError) -> TableFileError:
    """``exc`` as an error of the file it came from (unless it names it already)."""
    if isinstance(exc, TableFileError):
        return exc
    return TableFileError(path, str(exc))


def _registry(contracts: Path | None) -> ContractRegistry:
    from xlhedge.contracts import default_registry

    registry = default_registry()
    if not contracts:
        return registry
    from xlhedge.tablefile import require_holdings

    frame = read_table_file(contracts, "Contracts")
    symbols = [h for h in frame.columns if column_key(h) == "symbol"]
    if not symbols:
        found = ", ".join(str(h) for h in frame.columns) or "none"
        raise TableFileError(contracts, f"no column Symbol (headings: {found}): a contracts file "
                             "has one row per contract, named in its Symbol column")
    require_holdings(contracts, frame, symbols, what="contracts")
    try:
        return registry.with_rows(({str(k): v for k, v in row.items()}
                                   for row in frame.to_dict("records")), where="row {n}")
    except XlhedgeError as exc:
        raise _in_file(contracts, exc) from None


def cmd_plan(args: argparse.Namespace) -> int:
    from xlhedge.files import write_frame
    from xlhedge.plan import plan_hedge
    from xlhedge.report import plan_file_formats, plan_table, plan_text

    inventory = _read_inventory(args.inventory)
    registry = _registry(args.contracts)
    try:
        plan = plan_hedge(inventory, registry)
    except XlhedgeError as exc:
        raise _in_file(args.inventory, exc) from None
    print(plan_text(plan))
    if args.out:
        written = write_frame(plan_table(plan), args.out, formats=plan_file_formats())
        print(f"\nwrote {written}")
    return 0


OPEN_TABLES = ("Positions", "Funding", "FundingStats")  # read with the settings, once


def _workbook_tables(path: Path) -> tuple[pd.DataFrame, dict[str, str], ContractRegistry,
                                          dict[str, pd.DataFrame | None]]:
    """The Inventory table, the settings, the contract registry and the :data:`OPEN_TABLES`
    of a workbook file."""
    from xlhedge.inventory import TABLE_NAME

    found, settings, registry = _workbook_settings(path, TABLE_NAME, *OPEN_TABLES)
    inventory = found[TABLE_NAME]
    assert inventory is not None  # _workbook_settings checked that the table is there
    return inventory, settings, registry, found


def _workbook_settings(path: Path, *tables: str) -> tuple[
        dict[str, pd.DataFrame | None], dict[str, str], ContractRegistry]:
    """``tables`` (None where missing), the settings and the contract registry of a workbook
    file, in one reading of it; refused when it has no Inventory table."""
    from xlhedge import xlsxtable
    from xlhedge.inventory import TABLE_NAME
    from xlhedge.settings import registry_from_table, settings_from_table

    if not path.exists():
        raise XlhedgeError(f"file not found: {path}")
    names = {info.name.lower(): info.name for info in xlsxtable.list_tables(path)}
    if TABLE_NAME.lower() not in names:
        raise XlhedgeError(f"{path.name} has no table named {TABLE_NAME!r} (tables: "
                           f"{', '.join(sorted(names.values())) or 'none'})")
    found = xlsxtable.read_tables(path, [*tables, "Settings", "Contracts"])
    return ({name: found[name] for name in tables}, settings_from_table(found["Settings"]),
            registry_from_table(found["Contracts"]))


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end,
          file=sys.stderr, flush=True)


def _check_workbook(path: Path) -> None:
    """Refuse a workbook argument that is missing, a folder, or not a workbook, by name."""
    from xlhedge.tablefile import WORKBOOK_SUFFIXES, check_readable, workbook_tables

    check_readable(path)
    if path.suffix.lower() not in WORKBOOK_SUFFIXES:
        raise TableFileError(path, "expected an .xlsm or .xlsx workbook")
    workbook_tables(path)


def _about(path: Path, exc: XlhedgeError) -> XlhedgeError:
    """An error while working on ``path``: named after it, unless it names its own file."""
    from xlhedge.errors import InputError

    if isinstance(exc, InputError) and exc.argument.startswith("price file"):
        return exc
    return _in_file(path, exc)


def cmd_refresh(args: argparse.Namespace) -> int:
    from xlhedge import xlsxtable
    from xlhedge.inventory import (
        TABLE_NAME,
        canonical_inputs,
        missing_inputs,
        refresh_table,
        refreshed_columns,
    )
    from xlhedge.settings import plan_options, seconds
    from xlhedge.sources import get_source

    if args.out is not None and args.out.suffix.lower() != args.workbook.suffix.lower():
        raise TableFileError(args.out, f"--out must keep the workbook's extension "
                             f"{args.workbook.suffix!r} (got {args.out.suffix or 'none'!r}): "
                             "a workbook's format (.xlsm keeps macros, .xlsx has none) cannot "
                             "change by renaming")
    _check_workbook(args.workbook)
    tables, settings, registry = _workbook_settings(args.workbook, *OPEN_TABLES)
    spec = args.source or settings["Price Source"]
    source = get_source(spec, deadline=seconds(settings, "Source Timeout"))
    live = spec.strip().lower().startswith("ccxt:")
    options = plan_options(settings)
    results: list[pd.DataFrame] = []
    history = _market_history(args.workbook, settings, registry, tables) if live else None
    try:  # a positions source that cannot be read (no key) must not stop the prices
        book, later = _Positions(args.workbook, settings, tables), None
    except XlhedgeError as exc:
        book, later = None, exc

    def refreshed(inventory: pd.DataFrame) -> pd.DataFrame:
        """The table as read, refreshed (read and written in one parse of the sheet)."""
        inventory = canonical_inputs(inventory)
        try:
            missing_inputs(inventory.columns)
        except XlhedgeError as exc:
            raise _in_file(args.workbook, exc) from None
        if history is not None:
            inventory = history.into(inventory)
        try:
            results.append(refresh_table(inventory, source, registry,
                                         _progress if live else None, options,
                                         open_positions=book.keys(registry) if book else ()))
        except XlhedgeError as exc:
            raise _about(args.workbook, exc) from None
        return results[-1]

    # only the columns a refresh owns (any missing are added at the table's right edge): user
    # columns, formulas and cell formats stay
    written = xlsxtable.update_columns(args.workbook, TABLE_NAME, refreshed,
                                       refreshed_columns(source), out_path=args.out,
                                       backup=not args.no_backup)
    result = results[-1]
    status = result["Status"].fillna("").astype(str)
    print(f"refreshed {len(result)} rows from {source.name}: "
          f"{(status.str.contains('error:')).sum()} with errors, "
          f"{(status.str.startswith('stale:')).sum()} stale")
    if history is not None:
        history.write(written)
    if book is not None:
        _refresh_positions(written, book, result, settings, registry, source)
    print(f"wrote {written}")
    if later is not None:  # the prices are written; the positions are not
        raise _about(args.workbook, later)
    if not args.no_backup and args.out is None:
        from xlhedge.files import real_target

        print(f"backup {xlsxtable.backup_path(real_target(args.workbook))}")
    return 0


class _History:
    """A live refresh's market history (:func:`xlhedge.fundingtable.refresh_market_history`)
    from the workbook's tables, and its writing back."""

    def __init__(self, path: Path, settings: dict[str, str], registry: ContractRegistry,
                 tables: dict[str, pd.DataFrame | None]) -> None:
        from xlhedge import fundingtable as ft
        from xlhedge import xlsxtable
        from xlhedge.inventory import canonical_inputs, now_utc
        from xlhedge.settings import days, seconds
        from xlhedge.sources.history import daily_closes, funding_history

        now = now_utc()
        deadline = seconds(settings, "Source Timeout")
        # the Inventory as read now (the refresh reads it again as it writes it)
        inventory = xlsxtable.read_table(path, "Inventory")
        tables = {**tables, "Inventory": canonical_inputs(inventory)}  # Coin: as the plan reads
        self.rows = len(held) if (held := tables[ft.TABLE_NAME]) is not None else 0
        self.present = tables[ft.TABLE_NAME] is not None and tables[ft.STATS_TABLE] is not None
        print("market history (funding, daily closes)", file=sys.stderr)
        self.market = ft.refresh_market_history(
            tables, registry, window_days=days(settings, "Funding Window", 1, 3650), now=now,
            fetch_funding=lambda since: funding_history(since, deadline=deadline,
                                                        progress=_progress),
            fetch_closes=lambda requests: daily_closes(
                requests, days=days(settings, "Ratio Window"), now=now, deadline=deadline,
                progress=_progress))
        for message in self.market.messages:
            print(message, file=sys.stderr)

    def into(self, inventory: pd.DataFrame) -> pd.DataFrame:
        return self.market.into(inventory)

    def write(self, path: Path) -> None:
        from xlhedge import fundingtable as ft
        from xlhedge import xlsxtable

        if not self.present:
            print(f"{path.name} has no Funding sheet: history not kept (xlhedge workbook "
                  "makes one)", file=sys.stderr)
            return
        history = ft.as_table(self.market.history)  # rows out of the window leave blanks
        history = history.reindex(range(max(len(history), self.rows))).astype(object)
        history = history.where(history.notna(), None)
        xlsxtable.update_columns(path, ft.TABLE_NAME, history, list(ft.HEADINGS), backup=False)
        xlsxtable.update_columns(path, ft.STATS_TABLE, self.market.stats,
                                 list(ft.STATS_HEADINGS), backup=False)
        print(f"funding history: {len(self.market.history)} rows")


def _market_history(path: Path, settings: dict[str, str], registry: ContractRegistry,
                    tables: dict[str, pd.DataFrame | None]) -> _History:
    try:
        return _History(path, settings, registry, tables)
    except XlhedgeError as exc:
        raise _about(path, exc) from None


class _Positions:
    """The workbook's Positions table, its funding history and what its Positions Source
    gives, read once per run (the source before the Inventory is written, so that the
    Inventory's Status can say which holdings are hedged already)."""

    def __init__(self, path: Path, settings: dict[str, str],
                 tables: dict[str, pd.DataFrame | None]) -> None:
        from xlhedge import xlsxtable
        from xlhedge.fundingtable import TABLE_NAME as FUNDING
        from xlhedge.fundingtable import history_of
        from xlhedge.openpositions import TABLE_NAME, opened_since
        from xlhedge.settings import seconds
        from xlhedge.sources.positions import PositionsRead, read_positions

        self.table, self.funding = tables[TABLE_NAME], history_of(tables[FUNDING])
        self.room = 0
        self.read = PositionsRead("table")
        if self.table is None:
            return
        info = xlsxtable.table_info(path, TABLE_NAME)
        self.room = (info.bounds[3] - info.bounds[1] + 1 - info.header_row_count
                     - info.totals_row_count)
        table = self.table
        self.read = read_positions(settings["Positions Source"],
                                   deadline=seconds(settings, "Source Timeout"),
                                   since=lambda account: opened_since(table, account))
        if self.read.error:
            print(f"positions from {self.read.name} failed: {self.read.error} (the table keeps "
                  "its rows, marked stale)", file=sys.stderr)
        for warning in self.read.warnings:
            print(f"positions from {self.read.name}: {warning}", file=sys.stderr)

    def keys(self, registry: ContractRegistry) -> set[tuple[str, str]]:
        """The (account, contract) of every position open after this refresh."""
        from xlhedge.openpositions import open_keys, replace_account

        if self.table is None:
            return set()
        try:
            table = self.table if self.read.rows is None else replace_account(
                self.table, self.read.account, self.read.rows, self.room)
        except XlhedgeError:  # too few rows: said when the Positions table is written
            table = self.table
        return open_keys(table, registry)

    def refresh(self, positions: pd.DataFrame, inventory: pd.DataFrame,
                settings: dict[str, str], registry: ContractRegistry, source: PriceSource
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The table (as read now) and its monitor: the source's rows, marks from the price
        source, the monitor's columns against the refreshed Inventory's plan."""
        from xlhedge.inventory import now_utc
        from xlhedge.openpositions import refresh_with_settings

        return refresh_with_settings(positions, inventory, registry, self.read, settings, source,
                                     funding_history=self.funding, now=now_utc(),
                                     room=self.room)


def _refresh_positions(path: Path, book: _Positions, inventory: pd.DataFrame,
                       settings: dict[str, str], registry: ContractRegistry,
                       source: PriceSource) -> None:
    """Write the Positions table of the workbook at ``path``, if it has one."""
    from xlhedge import xlsxtable
    from xlhedge.monitor import normalise_positions
    from xlhedge.openpositions import TABLE_NAME, refreshed_columns
    from xlhedge.sources import TableSource

    if book.table is None or (normalise_positions(book.table).empty
                              and not _rows_from_source(settings)):
        return  # nothing open, nothing to read: the sheet stays as it is
    try:
        xlsxtable.update_columns(
            path, TABLE_NAME,
            lambda table: book.refresh(table, inventory, settings, registry, source)[0],
            refreshed_columns(_rows_from_source(settings), not isinstance(source, TableSource)),
            backup=False)
    except XlhedgeError as exc:
        raise _about(path, exc) from None
    print(f"positions refreshed from {book.read.name}")


def _rows_from_source(settings: dict[str, str]) -> bool:
    from xlhedge.sources.positions import check_spec

    return check_spec(settings["Positions Source"])[0] != "table"


def cmd_status(args: argparse.Namespace) -> int:
    from xlhedge.inventory import canonical_inputs, refresh_table
    from xlhedge.monitor import alerts
    from xlhedge.openpositions import TABLE_NAME
    from xlhedge.report import monitor_text
    from xlhedge.settings import fraction, plan_options, seconds
    from xlhedge.sources import get_source

    _check_workbook(args.workbook)
    inventory, settings, registry, tables = _workbook_tables(args.workbook)
    if args.source:
        settings["Price Source"] = args.source
    if args.positions:
        settings["Positions Source"] = args.positions
    positions = tables[TABLE_NAME]
    if positions is None:
        raise XlhedgeError(f"{args.workbook.name} has no {TABLE_NAME} table: rebuild the "
                           "workbook (xlhedge workbook) or add one")
    source = get_source(settings["Price Source"], deadline=seconds(settings, "Source Timeout"))
    try:
        book = _Positions(args.workbook, settings, tables)
        inventory = refresh_table(canonical_inputs(inventory), source, registry, None,
                                  plan_options(settings))
        _, monitor = book.refresh(positions, inventory, settings, registry, source)
    except XlhedgeError as exc:
        raise _about(args.workbook, exc) from None
    distance = fraction(settings, "Min Liquidation Distance")
    print(monitor_text(monitor, distance))
    return 1 if len(alerts(monitor, distance)) else 0


def cmd_keys(args: argparse.Namespace) -> int:
    from xlhedge.keys import delete_credentials, store_credentials

    if args.action == "set":
        store_credentials(args.exchange)
    else:
        delete_credentials(args.exchange)
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    from xlhedge.fundingtable import history_of
    from xlhedge.hedgesheet import make_sheet_file
    from xlhedge.inventory import canonical_inputs, now_utc

    _check_workbook(args.workbook)
    inventory, settings, registry, tables = _workbook_tables(args.workbook)
    inventory = canonical_inputs(inventory)
    try:
        sheet = make_sheet_file(inventory, settings, registry, args.workbook, now_utc(),
                                path=args.output, positions=tables["Positions"],
                                funding_history=history_of(tables["Funding"]))
    except XlhedgeError as exc:
        raise _about(args.workbook, exc) from None
    print(f"wrote {sheet}")
    if args.pdf:
        from xlhedge.pdf import to_pdf

        print(f"wrote {to_pdf(sheet, args.pdf)}")
    return 0


def cmd_workbook(args: argparse.Namespace) -> int:
    from xlhedge.excel.workbook import build_workbook, conf_for_this_python

    if args.path.exists() and not args.force:
        raise XlhedgeError(f"{args.path} exists: pass --force to replace it (a backup is kept)")
    print(f"wrote {build_workbook(args.path, conf_for_this_python(), backup=True)}")
    print("open it in Excel and enable macros; formulas need Excel for Windows with xlwings")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from xlhedge.demo import run_demo

    run_demo(args.dir, print)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xlhedge", description="Hedge spot crypto holdings with inverse perpetual futures."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="plan the bundled example and write its hedge sheet")
    demo.add_argument("--dir", type=Path, default=Path("xlhedge-demo"),
                      help="folder for the results (default ./xlhedge-demo)")
    demo.set_defaults(run=cmd_demo)

    plan = commands.add_parser("plan", help="print the hedge plan for an inventory file")
    plan.add_argument("inventory", type=Path, help="CSV or .xlsx with one row per holding")
    plan.add_argument("--out", type=Path, help="also write the plan to this .csv or .xlsx")
    plan.add_argument("--contracts", type=Path, help="CSV/.xlsx of contract specs to override")
    plan.set_defaults(run=cmd_plan)

    refresh = commands.add_parser("refresh", help="refresh the Inventory table of a workbook")
    refresh.add_argument("workbook", type=Path, help="HedgePlanner .xlsm (or .xlsx)")
    refresh.add_argument("--source", help="table (default: the workbook's Settings), "
                         "csv:PATH or ccxt:EXCHANGE")
    refresh.add_argument("--out", type=Path, help="write here instead of updating the workbook")
    refresh.add_argument("--no-backup", action="store_true", help="keep no .bak copy")
    refresh.set_defaults(run=cmd_refresh)

    sheet = commands.add_parser("sheet", help="write the printable hedge sheet of a workbook")
    sheet.add_argument("workbook", type=Path)
    sheet.add_argument("-o", "--output", type=Path, required=True, help="the sheet (.xlsx)")
    sheet.add_argument("--pdf", type=Path, help="also a PDF (needs LibreOffice)")
    sheet.set_defaults(run=cmd_sheet)

    status = commands.add_parser(
        "status", help="print the open hedge: positions, drift, adjustments, margin alerts; "
        "exit 1 when a position is within the minimum liquidation distance (for a scheduler)")
    status.add_argument("workbook", type=Path)
    status.add_argument("--source", help="price source (default: the workbook's Settings)")
    status.add_argument("--positions", help="positions source: table, csv:PATH or "
                        "ccxt:EXCHANGE (default: the workbook's Settings)")
    status.set_defaults(run=cmd_status)

    keys = commands.add_parser("keys", help="store or delete an exchange's read-only API key "
                               "in the OS keyring")
    keys.add_argument("action", choices=("set", "delete"))
    keys.add_argument("exchange", choices=("binance", "bybit", "okx", "deribit"))
    keys.set_defaults(run=cmd_keys)

    workbook = commands.add_parser("workbook", help="write HedgePlanner.xlsm set up for this "
                                   "Python")
    workbook.add_argument("path", nargs="?", type=Path, default=Path("HedgePlanner.xlsm"))
    workbook.add_argument("--force", action="store_true", help="replace an existing file")
    workbook.set_defaults(run=cmd_workbook)
    return parser


def _expected_errors() -> tuple[type[BaseException], ...]:
    """Errors that are the user's input or environment, not a bug: one line, exit code 2."""
    import zipfile

    from xlhedge.xlsxtable import XlsxTableError

    errors: list[type[BaseException]] = [XlhedgeError, OSError, XlsxTableError,
                                         zipfile.BadZipFile, LibreOfficeMissingError,
                                         PdfConversionError]
    try:
        from xlsxwriter.exceptions import XlsxFileError
    except ImportError:  # pragma: no cover - xlsxwriter is a dependency
        pass
    else:
        errors.append(XlsxFileError)
    return tuple(errors)


def error_message(exc: BaseException) -> str:
    """One line: the file first where the error knows it, then what is wrong."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror and type(exc) in (
            OSError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
            FileExistsError):
        return f"{exc.filename}: {exc.strerror}"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def main(argv: Sequence[str] | None = None) -> int:
    import os

    args = build_parser().parse_args(argv)
    debug = os.environ.get("XLHEDGE_DEBUG", "") not in ("", "0")
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("\nxlhedge: interrupted (files are replaced whole or not at all)", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        if isinstance(exc, (*_expected_errors(), ValueError)):
            print(f"xlhedge: error: {error_message(exc)}", file=sys.stderr)
            return 2
        print(f"xlhedge: internal error ({type(exc).__name__}): {error_message(exc)}; "
              "please report this (XLHEDGE_DEBUG=1 shows the details)", file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
