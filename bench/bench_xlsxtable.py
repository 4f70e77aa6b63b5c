"""Benchmark: xlhedge.xlsxtable.update_columns vs a plain openpyxl load/save of the same workbook.

Builds (with xlsxwriter) a macro workbook with a 5,000-row x 25-column ``Inventory`` table (plus
a sheet with a dynamic-array formula and a chart), then measures, each run in a fresh subprocess
so that peak RSS is not shared (time and RSS from untraced runs, Python peak from a tracemalloc
run):

* ``update_columns`` rewriting every column but the first (24 x 5,000 cells), and 4 columns;
* ``openpyxl.load_workbook(keep_vba=True)`` + ``save`` (what a full round trip costs);
* ``read_table``, and ``read_tables`` of the table and two the workbook lacks (as a refresh
  asks for Inventory, Settings and Contracts in one opening).

Prints figures only (no pass/fail); the target is update_columns at most 0.5x openpyxl's time.
Run: ``python bench/bench_xlsxtable.py [--rows 5000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import xlsxwriter

WIDTH = 25
KINDS = {
    "update_all": "update_columns, 24 columns",
    "update_4": "update_columns, 4 columns",
    "openpyxl": "openpyxl load+save (vba)",
    "read_table": "read_table",
    "read_tables": "read_tables, 3 names",
}


def make_frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "Ticker": [f"COIN{i % 400}" for i in range(rows)],
        "Venue": rng.choice(["binance", "okx", "bybit", "deribit"], rows).tolist(),
        "Qty": rng.uniform(0, 1000, rows),
        "Price": rng.uniform(0.01, 70000, rows),
    }
    for j in range(len(data), WIDTH):
        data[f"Field{j}"] = rng.normal(size=rows)
    return pd.DataFrame(data)


def build(path: Path, rows: int) -> None:
    df = make_frame(rows, seed=1)
    wb = xlsxwriter.Workbook(str(path))
    spec = importlib.util.find_spec("xlwings")
    if spec is not None and spec.origin is not None and path.suffix == ".xlsm":
        src = Path(spec.origin).parent / "quickstart_standalone.xlsm"
        with zipfile.ZipFile(src) as zf:
            vba = path.with_name("vbaProject.bin")
            vba.write_bytes(zf.read("xl/vbaProject.bin"))
        wb.add_vba_project(str(vba))
    ws = wb.add_worksheet("Inventory")
    ws.add_table(0, 0, rows + 1, WIDTH - 1, {
        "name": "Inventory", "total_row": True, "data": df.values.tolist(),
        "columns": [{"header": c, **({"total_function": "sum"} if c == "Qty" else {})}
                    for c in df.columns]})
    ws.data_validation(1, 1, rows, 1, {"validate": "list",
                                       "source": ["binance", "okx", "bybit", "deribit"]})
    calc = wb.add_worksheet("Calc")
    calc.write_dynamic_array_formula("A1:A3", "=SORT(Inventory[Qty])", None, 0.5)
    chart = wb.add_chart({"type": "line"})
    chart.add_series({"values": f"=Inventory!$C$2:$C${rows + 1}"})
    calc.insert_chart("C2", chart)
    wb.close()


def run_one(kind: str, path: Path, rows: int, mode: str) -> dict[str, float]:
    """One measurement in this process.

    mode "time": wall seconds and peak RSS (MiB, and its growth over the RSS before the call);
    mode "mem": the tracemalloc peak of Python allocations (MiB), timed separately because
    tracemalloc slows allocation-heavy code several times over.
    """
    import openpyxl

    from xlhedge.xlsxtable import read_table, read_tables, update_columns

    frame = make_frame(rows, seed=2)

    def action() -> None:
        if kind == "update_all":
            update_columns(path, "Inventory", frame, list(frame.columns[1:]), backup=False)
        elif kind == "update_4":
            update_columns(path, "Inventory", frame, ["Qty", "Price", "Field4", "Field5"],
                           backup=False)
        elif kind == "read_table":
            read_table(path, "Inventory")
        elif kind == "read_tables":
            read_tables(path, ["Inventory", "Settings", "Contracts"])
        elif kind == "openpyxl":
            wb = openpyxl.load_workbook(path, keep_vba=True)
            wb.save(path)
        else:
            raise SystemExit(f"unknown kind {kind}")

    if mode == "mem":
        tracemalloc.start()
        action()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return {"py_peak_mib": peak / 2**20}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    start = time.perf_counter()
    action()
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "max_rss_mib": rss, "rss_growth_mib": rss - rss_before}


def measure(kind: str, template: Path, rows: int, repeat: int) -> dict[str, float]:
    runs: list[dict[str, float]] = []
    repo = str(Path(__file__).resolve().parents[1])
    for mode in ["time"] * repeat + ["mem"]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / template.name
            shutil.copyfile(template, path)
            out = subprocess.run([sys.executable, __file__, "--one", kind, "--mode", mode,
                                  "--path", str(path), "--rows", str(rows)],
                                 capture_output=True, text=True, check=True, cwd=repo)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    keys = {k for r in runs for k in r}
    return {k: statistics.median(r[k] for r in runs if k in r) for k in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="time", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    if args.one:
        print(json.dumps(run_one(args.one, Path(args.path), args.rows, args.mode)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "HedgePlanner.xlsm"
        build(template, args.rows)
        size = template.stat().st_size / 2**20
        print(f"workbook: {args.rows} rows x {WIDTH} columns table, {size:.1f} MiB; "
              f"median of {args.repeat} runs, each in a fresh process")
        results = {kind: measure(kind, template, args.rows, args.repeat) for kind in KINDS}
    print(f"{'':28}{'seconds':>9}{'peak RSS':>10}{'RSS growth':>12}{'py peak':>9}  (MiB)")
    for kind, r in results.items():
        print(f"{KINDS[kind]:28}{r['seconds']:>9.3f}{r['max_rss_mib']:>10.1f}"
              f"{r['rss_growth_mib']:>12.1f}{r['py_peak_mib']:>9.1f}")
    o = results["openpyxl"]["seconds"]
    for kind in ("update_all", "update_4", "read_table", "read_tables"):
        print(f"{KINDS[kind]} / openpyxl load+save: time x{results[kind]['seconds'] / o:.2f} "
              f"(target for updates: <= 0.5)")


if __name__ == "__main__":
    main()
