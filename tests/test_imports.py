"""The command line imports only what a command needs: --help is instant, and no command that
does not touch Excel imports xlwings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "xlhedge" / "data" / "example_inventory.csv"


def imported(*args: str) -> set[str]:
    """The top-level packages a run of ``python -m xlhedge ARGS`` imported (-X importtime)."""
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "xlhedge", *args],
                         capture_output=True, text=True, timeout=120, check=False)
    assert "Traceback" not in run.stderr, run.stderr
    return {line.split("|")[-1].strip().split(".")[0] for line in run.stderr.splitlines()
            if line.startswith("import time:") and "|" in line}


def test_help_imports_no_heavy_package() -> None:
    found = imported("--help")
    assert "xlhedge" in found
    assert not found & {"pandas", "numpy", "pydantic", "xlwings", "xlsxwriter", "openpyxl",
                        "lxml", "ccxt"}


def test_subcommand_help_imports_no_heavy_package() -> None:
    assert not imported("plan", "--help") & {"pandas", "numpy", "xlwings"}


def test_plan_does_not_import_xlwings() -> None:
    found = imported("plan", str(EXAMPLE))
    assert "pandas" in found and "xlwings" not in found
