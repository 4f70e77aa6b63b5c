"""Margin, liquidation and bankruptcy prices of isolated positions.

Equity in coin of an inverse position at mark ``P`` is ``M + side*Q*(1/E - 1/P)`` (``Q = n*cv``).
It is liquidated when equity falls to the maintenance margin, which exchanges compute in one of two
ways:

* ``mm_basis="mark"`` (Binance COIN-M, Bybit today, OKX): ``MM(P) = m*Q/P - cum``, giving
  long ``LP = Q(1+m) / (M + cum + Q/E)``, short ``LP = Q(1-m) / (Q/E - M - cum)``;
* ``mm_basis="entry"`` (classic Bybit inverse, BitMEX): ``MM = m*Q/E - cum``, giving
  long ``LP = Q / (Q/E + M - MM)``, short ``LP = Q / (Q/E - (M - MM))``.

A short whose denominator is <= 0 can never be liquidated (``inf``); a long that never can is
reported as ``0.0``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xlhedge import inputs
from xlhedge.errors import InputError
from xlhedge.inputs import ArrayLike, FloatArray, SideLike


def initial_margin(
    contracts: ArrayLike,
    contract_value: ArrayLike,
    price: ArrayLike,
    leverage: ArrayLike,
    contract_type: str = "inverse",
) -> Any:
    """Initial margin: ``n*cv / (P*L)`` coin (inverse) or ``n*cs*P / L`` quote (linear).

    >>> initial_margin(12000, 1, 8000, 50)  # Bybit initial margin page
    0.03
    """
    n = inputs.number("contracts", contracts, ge=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    p = inputs.number("price", price, gt=0)
    lev = inputs.number("leverage", leverage, ge=1)
    kind = inputs.contract_type(contract_type)
    n, cv, p, lev = inputs.broadcast(contracts=n, contract_value=cv, price=p, leverage=lev)
    value = n * cv / p if kind == "inverse" else n * cv * p
    return inputs.result(value / lev, contracts, price, leverage)


def position_value(
    contracts: ArrayLike,
    contract_value: ArrayLike,
    price: ArrayLike,
    contract_type: str = "inverse",
) -> Any:
    """Position value in the settle currency: ``n*cv/P`` coin (inverse), ``n*cs*P`` (linear)."""
    return initial_margin(contracts, contract_value, price, 1.0, contract_type)


def tier_index(value: FloatArray, floors: FloatArray) -> Any:
    """Index of the tier whose floor is the highest one <= value (floors are inclusive)."""
    return np.clip(np.searchsorted(floors, value, side="right") - 1, 0, len(floors) - 1)


def maintenance_margin(
    position_value: ArrayLike,
    tier_floors: ArrayLike,
    tier_mmrs: ArrayLike,
    tier_amounts: ArrayLike | None = None,
) -> Any:
    """Tiered maintenance margin ``PV * MMR_tier - cum_tier``, the tier chosen by position value.

    ``tier_amounts`` default to the exchanges' cumulative rule. Bybit's inverse MM page: 25 XYZ
    with tiers 1% / 2% / 3% from 0 / 10 / 20 XYZ needs 0.45 XYZ:

    >>> round(maintenance_margin(25, [0, 10, 20], [0.01, 0.02, 0.03]), 10)
    0.45
    """
    pv = inputs.number("position_value", position_value, ge=0)
    floors, mmrs, amounts = _tiers(tier_floors, tier_mmrs, tier_amounts)
    i = tier_index(pv, floors)
    return inputs.result(pv * mmrs[i] - amounts[i], position_value)


def _tiers(
    tier_floors: ArrayLike, tier_mmrs: ArrayLike, tier_amounts: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray]:
    floors = np.atleast_1d(inputs.number("tier_floors", tier_floors, ge=0))
    mmrs = np.atleast_1d(inputs.number("tier_mmrs", tier_mmrs, ge=0, lt=1))
    floors, mmrs = inputs.broadcast(tier_floors=floors, tier_mmrs=mmrs)
    if floors[0] != 0 or (np.diff(floors) <= 0).any():
        raise InputError("tier_floors", "must start at 0 and increase", tier_floors)
    if tier_amounts is None:
        amounts = np.concatenate([[0.0], np.cumsum(floors[1:] * np.diff(mmrs))])
    else:
        amounts = np.atleast_1d(inputs.number("tier_amounts", tier_amounts, ge=0))
        floors, amounts = inputs.broadcast(tier_floors=floors, tier_amounts=amounts)
    return floors, mmrs, amounts


def liquidation_price(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    margin: ArrayLike,
    mmr: ArrayLike,
    maintenance_amount: ArrayLike = 0.0,
    contract_type: str = "inverse",
    mm_basis: str = "mark",
) -> Any:
    """Liquidation price of an isolated position (``inf``/``0.0`` where it can never happen).

    ``margin`` is the isolated margin in coin (inverse) or quote (linear); ``mmr`` and
    ``maintenance_amount`` are those of the position's tier.

    Examples
    --------
    A 1x short fully collateralised in coin (Binance shows "--"):

    >>> liquidation_price("short", 300, 100, 30000, 1.0, 0.004)
    inf
    """
    s, q, entry, m_, mmr_, cum = _position(
        side, contracts, contract_value, entry_price, margin, mmr, maintenance_amount
    )
    kind = inputs.contract_type(contract_type)
    basis = inputs.mm_basis(mm_basis)
    price = _solve(s, q, entry, m_, mmr_, cum, kind, basis)
    return inputs.result(price, contracts, entry_price, margin, side)


def bankruptcy_price(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    margin: ArrayLike,
    contract_type: str = "inverse",
) -> Any:
    """Price at which the isolated margin is exhausted: the liquidation price with MMR 0.

    At leverage ``L`` (margin ``Q/(E*L)``) this is ``E*L/(L+1)`` for a long and ``E*L/(L-1)``
    for a short (``inf`` at 1x).

    >>> round(bankruptcy_price("short", 1000, 1, 10000, 0.01), 6)  # 10x short
    11111.111111
    """
    return liquidation_price(
        side, contracts, contract_value, entry_price, margin, 0.0, 0.0, contract_type, "entry"
    )


def tiered_liquidation_price(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    margin: ArrayLike,
    tier_floors: ArrayLike,
    tier_mmrs: ArrayLike,
    tier_amounts: ArrayLike | None = None,
    contract_type: str = "inverse",
    mm_basis: str = "mark",
) -> Any:
    """Liquidation price with the tier chosen by position value, re-solved as Binance says.

    The first answer uses the tier of the position value at entry; where the position value at
    that liquidation price falls in another tier, the price is solved again with that tier, until
    the tier no longer changes.
    """
    s, q, entry, m_, _, _ = _position(
        side, contracts, contract_value, entry_price, margin, 0.0, 0.0
    )
    floors, mmrs, amounts = _tiers(tier_floors, tier_mmrs, tier_amounts)
    kind = inputs.contract_type(contract_type)
    basis = inputs.mm_basis(mm_basis)
    tier = tier_index(_value(q, entry, kind), floors)
    price = _solve(s, q, entry, m_, mmrs[tier], amounts[tier], kind, basis)
    for _ in range(len(floors)):
        at_price = np.where(np.isfinite(price) & (price > 0), price, entry)
        value = _value(q, at_price, kind) if basis == "mark" else _value(q, entry, kind)
        new_tier = tier_index(value, floors)
        if (new_tier == tier).all():
            break
        tier = new_tier
        price = _solve(s, q, entry, m_, mmrs[tier], amounts[tier], kind, basis)
    return inputs.result(price, contracts, entry_price, margin, side)


def _value(q: FloatArray, price: FloatArray, kind: str) -> FloatArray:
    return q / price if kind == "inverse" else q * price


def _position(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    margin: ArrayLike,
    mmr: ArrayLike,
    maintenance_amount: ArrayLike,
) -> list[FloatArray]:
    s = inputs.side("side", side)
    n = inputs.number("contracts", contracts, gt=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    entry = inputs.number("entry_price", entry_price, gt=0)
    m_ = inputs.number("margin", margin, ge=0)
    mmr_ = inputs.number("mmr", mmr, ge=0, lt=1)
    cum = inputs.number("maintenance_amount", maintenance_amount, ge=0)
    s, n, cv, entry, m_, mmr_, cum = inputs.broadcast(
        side=s,
        contracts=n,
        contract_value=cv,
        entry_price=entry,
        margin=m_,
        mmr=mmr_,
        maintenance_amount=cum,
    )
    return [s, n * cv, entry, m_, mmr_, cum]


def _solve(
    s: FloatArray,
    q: FloatArray,
    entry: FloatArray,
    margin: FloatArray,
    mmr: FloatArray,
    cum: FloatArray,
    kind: str,
    basis: str,
) -> FloatArray:
    """Liquidation price from the closed forms in the module docstring (``q`` = n*cv)."""
    long = s > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "inverse":
            if basis == "mark":
                num = np.where(long, q * (1 + mmr), q * (1 - mmr))
                den = np.where(long, margin + cum + q / entry, q / entry - margin - cum)
            else:
                mm = mmr * q / entry - cum
                num = q
                den = np.where(long, q / entry + margin - mm, q / entry - (margin - mm))
            price = np.where(den > 0, num / den, np.inf)
            # a long whose margin is below maintenance at any price is liquidated at once
            return np.where(long & ~(den > 0), np.inf, price)
        if basis == "mark":
            price = np.where(
                long,
                (q * entry - margin - cum) / (q * (1 - mmr)),
                (q * entry + margin + cum) / (q * (1 + mmr)),
            )
        else:
            mm = mmr * q * entry - cum
            price = np.where(long, entry - (margin - mm) / q, entry + (margin - mm) / q)
        return np.where(long, np.maximum(price, 0.0), price)
