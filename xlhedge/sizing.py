"""How many contracts hedge a holding."""

from __future__ import annotations

from typing import Any

import numpy as np

from xlhedge import inputs
from xlhedge.inputs import ArrayLike, FloatArray


def round_to_lot(raw: FloatArray, lot: FloatArray) -> FloatArray:
    """Round to the nearest multiple of ``lot``, halves away from zero (not to even).

    The tiny offset keeps a value such as 599.9999999999 (float noise) from rounding the wrong
    way at a half.
    """
    units = raw / lot
    return np.floor(units + 0.5 + 1e-12 * np.maximum(1.0, np.abs(units))) * lot


def hedge_contracts(
    quantity: ArrayLike,
    price: ArrayLike,
    contract_value: ArrayLike,
    hedge_ratio: ArrayLike = 1.0,
    contract_type: str = "inverse",
    lot_size: ArrayLike = 1.0,
    collateral: ArrayLike = 0.0,
) -> Any:
    """Contracts to short, rounded to the nearest lot.

    Inverse: ``(quantity + collateral) * price * hedge_ratio / contract_value``; coin posted as
    collateral for an inverse short is itself exposure, so it is hedged too. Linear:
    ``quantity * hedge_ratio / contract_value`` (collateral is quote currency, no exposure).

    >>> hedge_contracts(1, 60000, 100)  # 1 BTC at 60,000 with 100 USD contracts
    600.0
    >>> hedge_contracts(2, 30000, 1, lot_size=100)  # BitMEX XBTUSD trades in lots of 100
    60000.0
    """
    q = inputs.number("quantity", quantity, ge=0)
    p = inputs.number("price", price, gt=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    h = inputs.number("hedge_ratio", hedge_ratio, ge=0)
    lot = inputs.number("lot_size", lot_size, gt=0)
    c = inputs.number("collateral", collateral, ge=0)
    kind = inputs.contract_type(contract_type)
    q, p, cv, h, lot, c = inputs.broadcast(
        quantity=q, price=p, contract_value=cv, hedge_ratio=h, lot_size=lot, collateral=c
    )
    return inputs.result(round_to_lot(unrounded_contracts(q, p, cv, h, kind, c), lot),
                         quantity, price)


def unrounded_contracts(
    quantity: FloatArray, price: FloatArray, contract_value: FloatArray | float,
    hedge_ratio: FloatArray, contract_type: str, collateral: FloatArray,
) -> FloatArray:
    """:func:`hedge_contracts` before rounding, on checked arrays: what each holding asks of a
    position that several holdings share (the position is rounded once)."""
    if contract_type == "inverse":
        return (quantity + collateral) * price * hedge_ratio / contract_value
    return quantity * hedge_ratio / contract_value


def allocate(raw: FloatArray, total: float, lot: float) -> FloatArray:
    """Split ``total`` (a whole number of lots) over holdings asking for ``raw`` contracts, each
    share a whole number of lots and the shares adding up to ``total`` exactly: every share is
    rounded down, and the lots left over go to the largest remainders (Hamilton's method)."""
    units = raw / lot * (total / raw.sum() if raw.sum() > 0 else 0.0)
    floors = np.floor(units + 1e-9)
    left = round(float(total / lot - floors.sum()))
    order = np.argsort(-(units - floors), kind="stable")
    floors[order[:max(left, 0)]] += 1
    return floors * lot
