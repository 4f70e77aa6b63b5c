"""Cross-hedge ratio and hedge-effectiveness measures.

The minimum-variance ratio is the OLS slope of the spot's simple returns on the hedge's:
``h* = rho * sigma_s / sigma_f``; its effectiveness is ``R^2 = rho^2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xlhedge import inputs
from xlhedge.errors import InputError
from xlhedge.inputs import ArrayLike, FloatArray


def _returns(spot_prices: ArrayLike, hedge_prices: ArrayLike) -> tuple[FloatArray, FloatArray]:
    spot = np.ravel(inputs.number("spot_prices", spot_prices, gt=0))
    hedge = np.ravel(inputs.number("hedge_prices", hedge_prices, gt=0))
    if spot.size != hedge.size:
        raise InputError(
            "hedge_prices", f"must have as many prices as spot_prices ({hedge.size} vs {spot.size})"
        )
    if spot.size < 3:
        raise InputError("spot_prices", "must hold at least 3 prices (2 returns)", spot.size)
    rs, rf = np.diff(spot) / spot[:-1], np.diff(hedge) / hedge[:-1]
    if np.var(rf) == 0:
        raise InputError("hedge_prices", "must move (their returns have zero variance)")
    return rs, rf


def min_variance_hedge_ratio(spot_prices: ArrayLike, hedge_prices: ArrayLike) -> float:
    """OLS slope of spot returns on hedge returns (``cov(rs, rf) / var(rf)``).

    >>> min_variance_hedge_ratio([100, 110, 99, 108.9], [50, 55, 49.5, 54.45])
    1.0
    """
    rs, rf = _returns(spot_prices, hedge_prices)
    return float(round(np.cov(rs, rf, bias=True)[0, 1] / np.var(rf), 15))


def hedge_effectiveness(spot_prices: ArrayLike, hedge_prices: ArrayLike) -> float:
    """Share of the spot's return variance the minimum-variance hedge removes (``R^2``)."""
    rs, rf = _returns(spot_prices, hedge_prices)
    if np.var(rs) == 0:
        raise InputError("spot_prices", "must move (their returns have zero variance)")
    return float(np.corrcoef(rs, rf)[0, 1] ** 2)


def dollar_offset(hedge_change: ArrayLike, hedged_item_change: ArrayLike) -> Any:
    """``-hedge_change / hedged_item_change``; 0.80 .. 1.25 counts as highly effective.

    >>> dollar_offset(-120, 100)  # HMRC CFM16285: loss 120 against gain 100
    1.2
    """
    dh = inputs.number("hedge_change", hedge_change)
    di = inputs.number("hedged_item_change", hedged_item_change)
    if (di == 0).any():
        raise InputError("hedged_item_change", "must not be 0")
    dh, di = inputs.broadcast(hedge_change=dh, hedged_item_change=di)
    return inputs.result(-dh / di, hedge_change, hedged_item_change)


def is_highly_effective(offset: ArrayLike, low: float = 0.80, high: float = 1.25) -> Any:
    """Whether a dollar offset lies within the 80%..125% band (IAS 39 / ASC 815 practice)."""
    value = inputs.number("offset", offset)
    return (value >= low) & (value <= high) if value.ndim else bool(low <= value <= high)
