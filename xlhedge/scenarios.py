"""What price moves do to a hedged holding: the payoff behind scenario tables and charts.

Every price (the asset's and the contract coin's) moves by the same fraction. The hedge is a short
opened at the current mark price; where the move reaches its liquidation price, the isolated margin
is lost and the hedge is gone.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from xlhedge import inputs
from xlhedge.inputs import ArrayLike, FloatArray

# -50% .. +100% in steps of 10%.
DEFAULT_MOVES: tuple[float, ...] = tuple(round(m / 10, 1) for m in range(-5, 11))


def scenario_values(
    quantity: FloatArray,
    price: FloatArray,
    mark_price: FloatArray,
    contracts: FloatArray,
    contract_value: FloatArray,
    collateral: FloatArray,
    liquidation_price: FloatArray,
    margin: FloatArray,
    moves: FloatArray,
    inverse: FloatArray,
) -> dict[str, FloatArray]:
    """Holdings (1-D, length h) against moves (length m): arrays of shape (h, m).

    ``inverse`` is 1.0 for inverse contracts and 0.0 for linear ones; arguments are checked by the
    callers.
    """
    col = (slice(None), None)
    factor = 1.0 + moves[None, :]
    price1 = price[col] * factor
    mark0 = mark_price[col]
    mark1 = mark0 * factor
    inv = inverse[col] > 0
    q = contracts[col] * contract_value[col]
    with np.errstate(divide="ignore", invalid="ignore"):
        pnl_settle = np.where(inv, -q * (1.0 / mark0 - 1.0 / mark1), -q * (mark1 - mark0))
    liquidated = mark1 >= liquidation_price[col]
    pnl_settle = np.where(liquidated, -margin[col], pnl_settle)
    pnl_usd = np.where(inv, pnl_settle * mark1, pnl_settle)
    unhedged = quantity[col] * price1 + np.where(inv, collateral[col] * mark1, collateral[col])
    return {
        "price": price1,
        "mark_price": mark1,
        "unhedged_usd": unhedged,
        "hedge_pnl_coin": np.where(inv, pnl_settle, pnl_settle / mark1),
        "hedge_pnl_usd": pnl_usd,
        "hedged_usd": unhedged + pnl_usd,
        "liquidated": liquidated,
    }


def check_moves(moves: ArrayLike) -> FloatArray:
    return np.ravel(inputs.number("moves", moves, gt=-1))


def hedge_scenarios(
    quantity: float,
    price: float,
    contracts: float,
    contract_value: float,
    moves: ArrayLike = DEFAULT_MOVES,
    collateral: float = 0.0,
    *,
    mark_price: float | None = None,
    liquidation_price: float = np.inf,
    margin: float = 0.0,
    contract_type: str = "inverse",
) -> pd.DataFrame:
    """Scenario table of one holding hedged with ``contracts`` short at the mark price.

    >>> t = hedge_scenarios(1, 60000, 600, 100, [-1/6, 0.2])
    >>> t[["price", "unhedged_usd", "hedge_pnl_usd", "hedged_usd"]].round(2).values.tolist()
    [[50000.0, 50000.0, 10000.0, 60000.0], [72000.0, 72000.0, -12000.0, 60000.0]]
    """
    args: dict[str, Any] = {
        "quantity": inputs.number("quantity", quantity, ge=0),
        "price": inputs.number("price", price, gt=0),
        "mark_price": inputs.number(
            "mark_price", price if mark_price is None else mark_price, gt=0
        ),
        "contracts": inputs.number("contracts", contracts, ge=0),
        "contract_value": inputs.number("contract_value", contract_value, gt=0),
        "collateral": inputs.number("collateral", collateral, ge=0),
        "liquidation_price": inputs.number(
            "liquidation_price", liquidation_price, gt=0, allow_inf=True
        ),
        "margin": inputs.number("margin", margin, ge=0),
    }
    inverse = np.array([1.0 if inputs.contract_type(contract_type) == "inverse" else 0.0])
    step = check_moves(moves)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = scenario_values(
            **{k: np.ravel(v)[:1] for k, v in args.items()}, moves=step, inverse=inverse
        )
    # Every argument but liquidation_price is finite, and an infinite liquidation price ("never")
    # only decides the boolean ``liquidated``: an inf or NaN among the figures is overflow (a
    # price, notional or 1/price past 1e308), an error as in every other function.
    for name, figures in values.items():
        if name != "liquidated":
            inputs.result(figures)
    table = pd.DataFrame({"move": step} | {k: v[0] for k, v in values.items()})
    table["liquidated"] = table["liquidated"].astype(bool)
    return table
