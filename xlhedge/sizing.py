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
    raw = (q + c) * p * h / cv if kind == "inverse" else q * h / cv
    return inputs.result(round_to_lot(raw, lot), quantity, price)
