"""The ``xlhedge`` command line: a face over the core; it reads, calls, prints and writes."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from xlhedge.contracts import ContractRegistry, default_registry
from xlhedge.errors import XlhedgeError
from xlhedge.files import write_frame
from xlhedge.plan import plan_hedge
from xlhedge.report import plan_text


def read_table_file(path: Path) -> pd.DataFrame:
    """A CSV or the first sheet of an .xlsx file, text kept as text."""
    if not path.exists():
        raise XlhedgeError(f"file not found: {path}")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, skipinitialspace=True)
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return pd.read_excel(path, engine="openpyxl")
    raise XlhedgeError(f"{path.name}: expected a .csv or .xlsx file")


def _registry(contracts: Path | None) -> ContractRegistry:
    registry = default_registry()
    return registry.with_frame(read_table_file(contracts)) if contracts else registry


def cmd_plan(args: argparse.Namespace) -> int:
    plan = plan_hedge(read_table_file(args.inventory), _registry(args.contracts))
    print(plan_text(plan))
    if args.out:
        print(f"\nwrote {write_frame(plan, args.out)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xlhedge", description="Hedge spot crypto holdings with inverse perpetual futures."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="print the hedge plan for an inventory file")
    plan.add_argument("inventory", type=Path, help="CSV or .xlsx with one row per holding")
    plan.add_argument("--out", type=Path, help="also write the plan to this .csv or .xlsx")
    plan.add_argument("--contracts", type=Path, help="CSV/.xlsx of contract specs to override")
    plan.set_defaults(run=cmd_plan)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (XlhedgeError, OSError, ValueError) as exc:
        print(f"xlhedge: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
