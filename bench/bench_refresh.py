"""Benchmark of ``xlhedge refresh`` on a 5,000-row inventory: prints figures, asserts nothing.

Compares the whole refresh (read the table, plan, write only the table's parts of the package)
with a plain openpyxl ``load_workbook(keep_vba=True)`` + ``save`` of the same file, in time and
in Python peak memory (tracemalloc).

    python bench/bench_refresh.py [--rows 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl

from xlhedge.cli import main as cli
from xlhedge.examples import example_inventory
from xlhedge.excel.workbook import build_workbook


def measure(func: Callable[[], object], runs: int = 3) -> tuple[float, float]:
    """(best time in s, peak traced memory in MiB of one more run)."""
    best = min(_timed(func) for _ in range(runs))
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20


def _timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def big_workbook(folder: Path, rows: int) -> Path:
    table = example_inventory()
    repeat = table.iloc[np.arange(rows) % len(table)].reset_index(drop=True)
    repeat["Quantity"] = np.linspace(0.01, 20, rows)
    return build_workbook(folder / "Big.xlsm", inventory=repeat)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as folder:
        path = big_workbook(Path(folder), rows)
        size = path.stat().st_size / 2**20
        refresh = measure(lambda: cli(["refresh", str(path), "--no-backup"]))

        def round_trip() -> None:
            openpyxl.load_workbook(path, keep_vba=True).save(Path(folder) / "copy.xlsm")

        plain = measure(round_trip)
    print(f"{rows:,}-row inventory, workbook {size:.1f} MiB")
    print(f"xlhedge refresh (table source): {refresh[0]:.2f} s, peak {refresh[1]:.0f} MiB")
    print(f"openpyxl load + save:           {plain[0]:.2f} s, peak {plain[1]:.0f} MiB")
    print(f"ratio: time {refresh[0] / plain[0]:.2f}x, memory {refresh[1] / plain[1]:.2f}x "
          "(goal: time <= 0.5x)")


if __name__ == "__main__":
    main()
