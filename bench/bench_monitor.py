"""Benchmark: the open-hedge monitor and the funding statistics, at sizes beyond any real book.

Prints the time of ``monitor_positions`` for 200 positions (one per account and contract) against
a 2,000-holding plan, and of ``funding_stats`` over 90 days of history for 14 contracts (Deribit's
hourly, the others 8-hourly). Run: ``python3 bench/bench_monitor.py``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from xlhedge.contracts import default_registry
from xlhedge.funding import funding_stats, history_frame
from xlhedge.monitor import monitor_positions
from xlhedge.plan import plan_hedge

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _book() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(7)
    inverse = [s for s in default_registry() if s.contract_type == "inverse"
               and s.exchange != "BITMEX"]
    accounts = [f"ACCOUNT{i}" for i in range(20)]
    holdings = pd.DataFrame({
        "Asset": [s.underlying for s in inverse] * 150,
        "Quantity": rng.uniform(0.1, 5, len(inverse) * 150),
        "Price": [{"BTC": 95000.0, "ETH": 3500.0}.get(s.underlying, 150.0)
                  for s in inverse] * 150,
        "Contract": [s.symbol for s in inverse] * 150,
        "Account": [accounts[i % 20] for i in range(len(inverse) * 150)],
    }).iloc[:2000]
    plan = plan_hedge(holdings)
    keys = plan[plan["error"] == ""].drop_duplicates(["account", "contract"]).iloc[:200]
    positions = pd.DataFrame({
        "Account": keys["account"].to_numpy(), "Contract": keys["contract"].to_numpy(),
        "Contracts": np.maximum(keys["contracts"].to_numpy() * 3, 1),
        "Entry Price": keys["mark_price"].to_numpy() * 0.8, "Margin": 10.0,
        "Opened": pd.Timestamp("2026-11-01")})
    return positions, plan


def _history() -> pd.DataFrame:
    rows = []
    for spec in default_registry():
        if spec.contract_type != "inverse" or spec.exchange == "BITMEX":
            continue
        step = 1 if spec.exchange == "DERIBIT" else 8
        times = [NOW - timedelta(hours=h) for h in range(0, 90 * 24, step)]
        rows += [(spec.symbol, t, 0.0001 * step / 8) for t in times]
    return history_frame(rows)


def main() -> None:
    positions, plan = _book()
    history = _history()
    start = time.perf_counter()
    monitor = monitor_positions(positions, plan, funding_history=history, now=NOW)
    took = time.perf_counter() - start
    print(f"monitor_positions: {len(monitor)} positions against {len(plan)} holdings and "
          f"{len(history):,} funding rows: {took:.2f} s")
    start = time.perf_counter()
    stats = funding_stats(history, NOW)
    print(f"funding_stats: {len(stats)} contracts, {len(history):,} rows: "
          f"{time.perf_counter() - start:.3f} s")


if __name__ == "__main__":
    main()
