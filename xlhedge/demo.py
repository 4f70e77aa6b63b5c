"""``xlhedge demo``: the bundled example, planned and printed, with no network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xlhedge.examples import example_inventory
from xlhedge.excel.workbook import build_workbook, conf_for_this_python
from xlhedge.hedgesheet import write_hedge_sheet
from xlhedge.inventory import now_utc
from xlhedge.pdf import libreoffice_available, to_pdf
from xlhedge.plan import plan_hedge
from xlhedge.report import plan_text


def run_demo(folder: Path, say: Callable[[str], object]) -> dict[str, Path]:
    """Plan the example inventory; write its hedge sheet (and PDF) and a workbook to ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    plan = plan_hedge(example_inventory())
    say(plan_text(plan))
    written = {
        "hedge sheet": write_hedge_sheet(
            plan, folder / "hedge-sheet.xlsx", as_of=now_utc(),
            source="table (example prices, no network)", workbook_name="examples/inventory.csv",
        )
    }
    if libreoffice_available():
        written["PDF"] = to_pdf(written["hedge sheet"], folder / "hedge-sheet.pdf")
    else:
        say("\nPDF skipped: LibreOffice is not installed (Debian/Ubuntu: apt-get install "
            "libreoffice-calc)")
    written["workbook"] = build_workbook(folder / "HedgePlanner.xlsm", conf_for_this_python())
    say("")
    for what, path in written.items():
        say(f"{what}: {path.resolve()}")
    return written
