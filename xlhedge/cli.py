"""The ``xlhedge`` command line: a face over the core; it reads, calls, prints and writes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from xlhedge.errors import XlhedgeError
from xlhedge.pdf import LibreOfficeMissingError, PdfConversionError

if TYPE_CHECKING:  # the commands import what they need: --help imports no pandas
    import pandas as pd

    from xlhedge.contracts import ContractRegistry


def read_table_file(path: Path) -> pd.DataFrame:
    """A CSV or the first sheet of an .xlsx file, text kept as text."""
    import pandas as pd

    if not path.exists():
        raise XlhedgeError(f"file not found: {path}")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, skipinitialspace=True)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return pd.read_excel(path, engine="openpyxl")
    raise XlhedgeError(f"{path.name}: expected a .csv or .xlsx file")


def _registry(contracts: Path | None) -> ContractRegistry:
    from xlhedge.contracts import default_registry

    registry = default_registry()
    return registry.with_frame(read_table_file(contracts)) if contracts else registry


def cmd_plan(args: argparse.Namespace) -> int:
    from xlhedge.files import write_frame
    from xlhedge.plan import plan_hedge
    from xlhedge.report import plan_file_formats, plan_table, plan_text

    plan = plan_hedge(read_table_file(args.inventory), _registry(args.contracts))
    print(plan_text(plan))
    if args.out:
        written = write_frame(plan_table(plan), args.out, formats=plan_file_formats())
        print(f"\nwrote {written}")
    return 0


def _workbook_tables(path: Path) -> tuple[pd.DataFrame, dict[str, str], ContractRegistry]:
    """The Inventory table, the settings and the contract registry of a workbook file."""
    from xlhedge import xlsxtable
    from xlhedge.inventory import TABLE_NAME
    from xlhedge.settings import registry_from_table, settings_from_table

    if not path.exists():
        raise XlhedgeError(f"file not found: {path}")
    names = {info.name.lower(): info.name for info in xlsxtable.list_tables(path)}
    if TABLE_NAME.lower() not in names:
        raise XlhedgeError(f"{path.name} has no table named {TABLE_NAME!r} (tables: "
                           f"{', '.join(sorted(names.values())) or 'none'})")

    def table(name: str) -> pd.DataFrame | None:
        found = names.get(name.lower())
        return xlsxtable.read_table(path, found) if found else None

    return (table(TABLE_NAME), settings_from_table(table("Settings")),  # type: ignore[return-value]
            registry_from_table(table("Contracts")))


def _progress(done: int, total: int) -> None:
    width = 30
    filled = width * done // max(total, 1)
    end = "\n" if done >= total else ""
    print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", end=end,
          file=sys.stderr, flush=True)


def cmd_refresh(args: argparse.Namespace) -> int:
    from xlhedge import xlsxtable
    from xlhedge.inventory import TABLE_NAME, missing_inputs, refresh_table, refreshed_columns
    from xlhedge.settings import fraction
    from xlhedge.sources import get_source

    inventory, settings, registry = _workbook_tables(args.workbook)
    missing_inputs(inventory.columns)
    spec = args.source or settings["Price Source"]
    source = get_source(spec)
    live = spec.strip().lower().startswith("ccxt:")
    result = refresh_table(inventory, source, registry, _progress if live else None,
                           fraction(settings, "Min Liquidation Distance"))
    # only the columns a refresh owns (any missing are added at the table's right edge): user
    # columns, formulas and cell formats stay
    written = xlsxtable.update_columns(args.workbook, TABLE_NAME, result,
                                       refreshed_columns(source), out_path=args.out,
                                       backup=not args.no_backup)
    status = result["Status"].fillna("").astype(str)
    print(f"refreshed {len(result)} rows from {source.name}: "
          f"{(status.str.contains('error:')).sum()} with errors, "
          f"{(status.str.startswith('stale:')).sum()} stale")
    print(f"wrote {written}")
    if not args.no_backup and args.out is None:
        print(f"backup {xlsxtable.backup_path(Path(args.workbook))}")
    return 0


def cmd_sheet(args: argparse.Namespace) -> int:
    from xlhedge.hedgesheet import make_sheet_file
    from xlhedge.inventory import now_utc

    inventory, settings, registry = _workbook_tables(args.workbook)
    sheet = make_sheet_file(inventory, settings, registry, args.workbook, now_utc(),
                            path=args.output)
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

    workbook = commands.add_parser("workbook", help="write HedgePlanner.xlsm set up for this "
                                   "Python")
    workbook.add_argument("path", nargs="?", type=Path, default=Path("HedgePlanner.xlsm"))
    workbook.add_argument("--force", action="store_true", help="replace an existing file")
    workbook.set_defaults(run=cmd_workbook)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (XlhedgeError, OSError, ValueError, LibreOfficeMissingError, PdfConversionError) as exc:
        print(f"xlhedge: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
