"""Margin, liquidation and bankruptcy prices of isolated positions.

Equity in coin of an inverse position at mark ``P`` is ``M + side*Q*(1/E - 1/P)`` (``Q = n*cv``).
It is liquidated when equity falls to the maintenance margin, which exchanges compute in one of two
ways:

* ``mm_basis="mark"`` (Binance COIN-M, Bybit today, OKX): ``MM(P) = m*Q/P - cum``, giving
  long ``LP = Q(1+m) / (M + cum + Q/E)``, short ``LP = Q(1-m) / (Q/E - M - cum)``;
* ``mm_basis="entry"`` (classic Bybit inverse, BitMEX): ``MM = m*Q/E - cum``, giving
  long ``LP = Q / (Q/E + M - MM)``, short ``LP = Q / (Q/E - (M - MM))``.

A short whose denominator is <= 0 can never be liquidated (``inf``); a long that never can is
reported as ``0.0``. Where the margin does not even cover the maintenance margin at entry (an
order the exchange would refuse), the price lies on the losing side of the entry: such a position
would be liquidated at once. ``plan_hedge`` refuses such rows with a message.
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
    return inputs.result(price, contracts, entry_price, margin, side, allow_inf=True)


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
    """Liquidation price with the maintenance tier chosen by position value.

    On mark basis the position value changes with the price, so the tier at liquidation can
    differ from the tier at entry. Binance says to re-solve with the tier of the resulting
    position value; this solves it exactly instead: each tier's closed-form price counts where
    the position value there lies in that tier, and so does a tier floor where the (possibly
    discontinuous) maintenance margin jumps above the equity; the liquidation price is the first
    such price the position meets (the lowest above entry for a short, the highest below it for
    a long). On entry basis the tier is the one at entry.
    """
    s, q, entry, m_, _, _ = _position(side, contracts, contract_value, entry_price, margin, 0, 0)
    floors, mmrs, amounts = _tiers(tier_floors, tier_mmrs, tier_amounts)
    kind = inputs.contract_type(contract_type)
    basis = inputs.mm_basis(mm_basis)
    tier = tier_index(_value(q, entry, kind), floors)
    at_entry = _solve(s, q, entry, m_, mmrs[tier], amounts[tier], kind, basis)
    if basis == "entry":
        price = at_entry
    else:
        # a margin below maintenance at entry: liquidated at once, priced as in the entry tier
        covered = m_ >= (mmrs[tier] * _value(q, entry, kind) - amounts[tier]) * (1 - 1e-12)
        price = np.where(
            covered, _solve_mark_tiers(s, q, entry, m_, floors, mmrs, amounts, kind), at_entry
        )
    return inputs.result(price, contracts, entry_price, margin, side, allow_inf=True)


def _solve_mark_tiers(
    s: FloatArray, q: FloatArray, entry: FloatArray, margin: FloatArray,
    floors: FloatArray, mmrs: FloatArray, amounts: FloatArray, kind: str,
) -> FloatArray:
    col = (..., None)
    s_, q_, e_, m_ = s[col], q[col], entry[col], margin[col]
    long = s_ > 0
    within = _solve(s_, q_, e_, m_, mmrs, amounts, kind, "mark")
    upper = np.append(floors[1:], np.inf)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = _value(q_, within, kind)
        # where the maintenance margin jumps at a floor: the price at which the value is the floor
        edge = q_ / floors[1:] if kind == "inverse" else floors[1:] / q_
        equity = m_ + s_ * q_ * ((1 / e_ - 1 / edge) if kind == "inverse" else (edge - e_))
    in_tier = np.isfinite(within) & (within > 0) & (value >= floors) & (value < upper)
    jumps = equity <= floors[1:] * mmrs[1:] - amounts[1:]
    prices = np.concatenate([within, edge], axis=-1)
    hit = np.concatenate([in_tier, jumps], axis=-1)
    hit &= np.where(long, prices <= e_, prices >= e_)
    first_long = np.where(hit, prices, 0.0).max(axis=-1, initial=0.0)
    first_short = np.where(hit, prices, np.inf).min(axis=-1, initial=np.inf)
    return np.asarray(np.where(s > 0, first_long, first_short), dtype=np.float64)


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
