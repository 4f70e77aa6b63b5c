"""Time the hedge sheet for a 50-holding inventory (goal: under 1 s), and its PDF when possible.

Run: ``.venv/bin/python bench/bench_hedgesheet.py [--holdings 50] [--repeat 5] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from xlhedge.hedgesheet import write_hedge_sheet
from xlhedge.pdf import libreoffice_available, to_pdf
from xlhedge.plan import plan_hedge

GOAL_SECONDS = 1.0
PRICES = {"BTC": 60000.0, "ETH": 3000.0, "SOL": 150.0}
CONTRACTS = (
    ("BTC", "BINANCE:BTCUSD_PERP"), ("BTC", "BYBIT:BTCUSD"), ("BTC", "OKX:BTC-USD-SWAP"),
    ("BTC", "DERIBIT:BTC-PERPETUAL"), ("BTC", "BITMEX:XBTUSD"), ("ETH", "BINANCE:ETHUSD_PERP"),
    ("ETH", "BYBIT:ETHUSD"), ("ETH", "OKX:ETH-USD-SWAP"), ("ETH", "DERIBIT:ETH-PERPETUAL"),
    ("SOL", "BINANCE:BTCUSD_PERP"),
)


def synthetic_inventory(holdings: int, seed: int = 7) -> pd.DataFrame:
    """``holdings`` rows over the built-in inverse contracts, with varied sizes and leverage."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(holdings):
        asset, contract = CONTRACTS[i % len(CONTRACTS)]
        price = PRICES[asset]
        rows.append({
            "asset": asset,
            "quantity": round(float(rng.uniform(1_000, 200_000)) / price, 6),
            "price": price,
            "contract": contract,
            "hedge_ratio": float(rng.choice([1.0, 1.0, 0.8, 0.5])),
            "leverage": float(rng.choice([1, 2, 3, 5])),
            "funding_rate": float(rng.choice([0.0001, 0.0001, -0.0002, 0.0003])),
            "mark_price": PRICES["BTC"] if asset == "SOL" else price * 1.0002,
        })
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--holdings", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="write the sheet (and PDF) here")
    args = parser.parse_args()

    plan = plan_hedge(synthetic_inventory(args.holdings))
    as_of = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="xlhedge-bench-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        xlsx = folder / f"hedge-sheet-{args.holdings}.xlsx"
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            write_hedge_sheet(plan, xlsx, as_of=as_of, source="synthetic prices",
                              workbook_name="bench.xlsm")
            times.append(time.perf_counter() - start)
        best, median = min(times), statistics.median(times)
        verdict = "ok" if median < GOAL_SECONDS else "SLOW"
        print(f"sheet: {args.holdings} holdings, best {best:.3f} s, median {median:.3f} s "
              f"of {args.repeat} (goal < {GOAL_SECONDS:g} s: {verdict}); "
              f"{xlsx.stat().st_size / 1024:.0f} KiB")
        if libreoffice_available():
            start = time.perf_counter()
            pdf = to_pdf(xlsx, xlsx.with_suffix(".pdf"))
            print(f"pdf:   {time.perf_counter() - start:.2f} s (LibreOffice, fresh profile); "
                  f"{pdf.stat().st_size / 1024:.0f} KiB")
        else:
            print("pdf:   skipped (LibreOffice not installed)")


if __name__ == "__main__":
    main()
