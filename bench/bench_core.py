"""Benchmark of the calculation core: prints figures, asserts nothing.

    python bench/bench_core.py
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from xlhedge import hedge_contracts, plan_hedge, scenario_table


def best_of(runs: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def inventory(n: int, rng: np.random.Generator) -> pd.DataFrame:
    contracts = ["BINANCE:BTCUSD_PERP", "BYBIT:BTCUSD", "OKX:ETH-USD-SWAP", "DERIBIT:BTC-PERPETUAL",
                 "BYBIT:BTCUSDT"]
    symbols = rng.choice(contracts, n)
    eth = np.char.find(symbols.astype(str), "ETH") >= 0
    return pd.DataFrame({
        "Asset": np.where(eth, "ETH", "BTC"),
        "Quantity": rng.uniform(0.01, 50, n),
        "Price": np.where(eth, 3000.0, 60000.0),
        "Contract": symbols,
        "Hedge Ratio": rng.choice([0.5, 1.0, 1.0, 1.2], n),
        "Leverage": rng.choice([1.0, 2.0, 3.0, 5.0], n),
        "Funding Rate": rng.normal(0.0001, 0.0002, n),
    })


def main() -> None:
    rng = np.random.default_rng(1)
    n = 1_000_000
    q, p = rng.uniform(0, 10, n), rng.uniform(1000, 100000, n)
    array_time = best_of(3, lambda: hedge_contracts(q, p, 100.0))
    start = time.perf_counter()
    for i in range(n):
        hedge_contracts(float(q[i]), float(p[i]), 100.0)
    loop_time = time.perf_counter() - start
    print(f"hedge_contracts, {n:,} rows: one array call {array_time * 1000:.1f} ms; "
          f"loop of scalar calls {loop_time:.1f} s; {loop_time / array_time:,.0f}x faster "
          "(goal >= 50x)")

    for rows, goal in ((10_000, 0.2), (100_000, 2.0)):
        frame = inventory(rows, rng)
        plan_time = best_of(3, lambda frame=frame: plan_hedge(frame))
        print(f"plan_hedge, {rows:,} holdings: {plan_time:.3f} s (goal < {goal:g} s)")

    plan = plan_hedge(inventory(1_000, rng))
    moves = np.linspace(-0.5, 1.0, 201)
    scen_time = best_of(3, lambda: scenario_table(plan, moves))
    print(f"scenario_table, 1,000 holdings x 201 moves ({1000 * 201:,} rows): {scen_time:.3f} s")


if __name__ == "__main__":
    main()
