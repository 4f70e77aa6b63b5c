"""Profit and loss, average entry and return on margin.

Inverse contracts (USD-valued, coin-settled) pay ``side * n*cv * (1/E - 1/X)`` coin; linear ones
pay ``side * n*cs * (X - E)`` in the quote currency. These are identical on BitMEX, Bybit,
Binance COIN-M, OKX and Deribit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xlhedge import inputs
from xlhedge.errors import InputError
from xlhedge.inputs import ArrayLike, SideLike


def inverse_pnl(
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    exit_price: ArrayLike,
    side: SideLike = "short",
) -> Any:
    """Profit of an inverse position, in coin.

    ``PnL = side * contracts * contract_value * (1/entry_price - 1/exit_price)``

    Examples
    --------
    Long 1,000 BTCUSD (1 USD each) from 5,000 to 5,500 (Bybit's P&L page):

    >>> round(inverse_pnl(1000, 1, 5000, 5500, "long"), 7)
    0.0181818
    """
    n = inputs.number("contracts", contracts, ge=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    entry = inputs.number("entry_price", entry_price, gt=0)
    exit_ = inputs.number("exit_price", exit_price, gt=0)
    s = inputs.side("side", side)
    n, cv, entry, exit_, s = inputs.broadcast(
        contracts=n, contract_value=cv, entry_price=entry, exit_price=exit_, side=s
    )
    return inputs.result(
        s * n * cv * (1.0 / entry - 1.0 / exit_), contracts, entry_price, exit_price, side
    )


def linear_pnl(
    contracts: ArrayLike,
    contract_size: ArrayLike,
    entry_price: ArrayLike,
    exit_price: ArrayLike,
    side: SideLike = "short",
) -> Any:
    """Profit of a linear position, in the quote currency: ``side * n*cs * (X - E)``.

    >>> linear_pnl(2, 0.5, 20000, 21000, "long")
    1000.0
    """
    n = inputs.number("contracts", contracts, ge=0)
    cs = inputs.number("contract_size", contract_size, gt=0)
    entry = inputs.number("entry_price", entry_price, gt=0)
    exit_ = inputs.number("exit_price", exit_price, gt=0)
    s = inputs.side("side", side)
    n, cs, entry, exit_, s = inputs.broadcast(
        contracts=n, contract_size=cs, entry_price=entry, exit_price=exit_, side=s
    )
    return inputs.result(s * n * cs * (exit_ - entry), contracts, entry_price, exit_price, side)


def average_entry_price(
    contracts: ArrayLike, prices: ArrayLike, contract_type: str = "inverse"
) -> Any:
    """Average entry of several fills (along the last axis).

    Inverse: the contract-weighted *harmonic* mean ``sum(n_i) / sum(n_i / E_i)`` (what the
    exchanges show; the arithmetic mean overstates it). Linear: the arithmetic weighted mean.

    >>> average_entry_price([1000, 2000], [5000, 6000])
    5625.0
    """
    n = inputs.number("contracts", contracts, ge=0)
    p = inputs.number("prices", prices, gt=0)
    kind = inputs.contract_type(contract_type)
    n, p = inputs.broadcast(contracts=n, prices=p)
    total = n.sum(axis=-1)
    if (total <= 0).any():
        raise InputError("contracts", "must have a total > 0")
    avg = total / (n / p).sum(axis=-1) if kind == "inverse" else (n * p).sum(axis=-1) / total
    return inputs.result(avg)


def roi(
    side: SideLike,
    entry_price: ArrayLike,
    exit_price: ArrayLike,
    leverage: ArrayLike,
    contract_type: str = "inverse",
) -> Any:
    """Return on initial margin as a fraction.

    Inverse: ``side * (1 - E/X) * L`` (PnL and margin both in coin); linear:
    ``side * (X/E - 1) * L``.

    >>> round(roi("long", 6800, 7000, 10), 6)  # Bybit ROI page: 28.5714%
    0.285714
    """
    s = inputs.side("side", side)
    entry = inputs.number("entry_price", entry_price, gt=0)
    exit_ = inputs.number("exit_price", exit_price, gt=0)
    lev = inputs.number("leverage", leverage, ge=1)
    kind = inputs.contract_type(contract_type)
    s, entry, exit_, lev = inputs.broadcast(
        side=s, entry_price=entry, exit_price=exit_, leverage=lev
    )
    move = 1.0 - entry / exit_ if kind == "inverse" else exit_ / entry - 1.0
    return inputs.result(s * move * lev, entry_price, exit_price)


def target_price(
    side: SideLike,
    entry_price: ArrayLike,
    target_roi: ArrayLike,
    leverage: ArrayLike,
    contract_type: str = "inverse",
) -> Any:
    """Exit price at which the position earns ``target_roi`` on its margin (inverse of ``roi``).

    Returns ``inf`` where a long inverse position can never reach the target (its coin gain is
    capped at ``Q/E``) and an error where the target would need a price <= 0.

    >>> round(target_price("long", 6800, 0.285714285714, 10), 6)
    7000.0
    """
    s = inputs.side("side", side)
    entry = inputs.number("entry_price", entry_price, gt=0)
    target = inputs.number("target_roi", target_roi)
    lev = inputs.number("leverage", leverage, ge=1)
    kind = inputs.contract_type(contract_type)
    s, entry, target, lev = inputs.broadcast(
        side=s, entry_price=entry, target_roi=target, leverage=lev
    )
    move = target / (s * lev)
    if kind == "inverse":
        with np.errstate(divide="ignore"):
            price = np.where(move < 1.0, entry / np.maximum(1.0 - move, 0.0), np.inf)
    else:
        price = entry * (1.0 + move)
    if (price <= 0).any():
        raise InputError("target_roi", "must be reachable at a price > 0", target_roi)
    return inputs.result(price, entry_price, target_roi, allow_inf=True)
