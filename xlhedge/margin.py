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

:func:`cross_liquidation_price` is the same equation with the cross wallet (less the other
positions' maintenance margin, plus their unrealised PnL) in place of the isolated margin;
:func:`margin_for_liquidation` inverts it. A ``close_fee_rate`` reserves the fee to close at the
bankruptcy price out of the margin, as Bybit does (derivation in :func:`cross_liquidation_price`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

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
    close_fee_rate: ArrayLike = 0.0,
) -> Any:
    """Liquidation price of an isolated position (``inf``/``0.0`` where it can never happen).

    ``margin`` is the isolated margin in coin (inverse) or quote (linear); ``mmr`` and
    ``maintenance_amount`` are those of the position's tier. ``close_fee_rate`` (default 0)
    reserves the fee to close at the bankruptcy price out of the margin, as Bybit does; see
    :func:`cross_liquidation_price` for the derivation.

    Examples
    --------
    A 1x short fully collateralised in coin (Binance shows "--"):

    >>> liquidation_price("short", 300, 100, 30000, 1.0, 0.004)
    inf
    """
    fee = _fee_rate(close_fee_rate)
    s, q, entry, m_, mmr_, cum, fee = _position(
        side, contracts, contract_value, entry_price, margin, mmr, maintenance_amount,
        close_fee_rate=fee,
    )
    kind = inputs.contract_type(contract_type)
    basis = inputs.mm_basis(mm_basis)
    price = _solve(s, q, entry, m_ - _close_fee(s, q, entry, m_, fee, kind), mmr_, cum, kind, basis)
    return inputs.result(price, contracts, entry_price, margin, side, allow_inf=True)


def bankruptcy_price(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    margin: ArrayLike,
    contract_type: str = "inverse",
    close_fee_rate: ArrayLike = 0.0,
) -> Any:
    """Price at which the isolated margin is exhausted: the liquidation price with MMR 0.

    At leverage ``L`` (margin ``Q/(E*L)``) this is ``E*L/(L+1)`` for a long and ``E*L/(L-1)``
    for a short (``inf`` at 1x). With ``close_fee_rate`` ``f`` it is the price at which the
    margin is down to the fee to close there (Bybit): ``Q(s+f) / (M + s*Q/E)`` inverse, i.e.
    ``E*L*(1+f)/(L+1)`` for a long, and ``(s*q*E - M) / (q*(s-f))`` linear.

    >>> round(bankruptcy_price("short", 1000, 1, 10000, 0.01), 6)  # 10x short
    11111.111111
    >>> round(bankruptcy_price("long", 10000, 1, 8000, 0.5, close_fee_rate=0.00075), 2)  # Bybit
    5718.57
    """
    return liquidation_price(
        side, contracts, contract_value, entry_price, margin, 0.0, 0.0, contract_type, "entry",
        close_fee_rate,
    )


def cross_liquidation_price(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    wallet_balance: ArrayLike,
    mmr: ArrayLike,
    maintenance_amount: ArrayLike = 0.0,
    other_maintenance: ArrayLike = 0.0,
    other_pnl: ArrayLike = 0.0,
    contract_type: str = "inverse",
    mm_basis: str = "mark",
    close_fee_rate: ArrayLike = 0.0,
) -> Any:
    """Liquidation price of a one-way position in cross margin (Binance's published rule).

    Parameters
    ----------
    side : "long"/"short" (or +1/-1)
    contracts : number of contracts, > 0
    contract_value : USD per contract (inverse) or coin per contract (linear), > 0
    entry_price : entry price, > 0
    wallet_balance : the cross wallet balance ``WB``, coin (inverse) or quote (linear), >= 0
    mmr, maintenance_amount : the position tier's maintenance-margin rate and amount ``cum``
    other_maintenance : ``TMM1``, the maintenance margin of the other positions on the wallet
    other_pnl : ``UPNL1``, their unrealised PnL (either sign)
    contract_type : "inverse" (default, COIN-M) or "linear" (USDⓈ-M)
    mm_basis : "mark" (default; Binance, Bybit today) or "entry" (classic Bybit inverse)
    close_fee_rate : fee rate reserved to close at the bankruptcy price (Bybit); default 0

    Returns
    -------
    The mark price at which the position is liquidated: ``inf`` for a short that never is,
    ``0.0`` for a long that never is; a float for a scalar call, an array or Series otherwise.

    Notes
    -----
    With ``s`` = +1 long / -1 short and ``B = WB - TMM1 + UPNL1`` the balance that backs the
    position, liquidation is where equity meets the maintenance margin.

    Inverse (``N = contracts x contract_value`` USD): equity ``B + s N (1/EP - 1/P)`` coin, mark
    basis maintenance ``MMR N/P - cum``, so ``(MMR + s) N / P = B + cum + s N/EP`` and::

        LP = N (MMR + s) / (WB - TMM1 + UPNL1 + cum + s N/EP)

    (Binance COIN-M). A denominator <= 0 means the balance covers every loss: a short is never
    liquidated (``inf``), e.g. a 1x short whose wallet holds the hedged coins, ``N/EP - WB - cum
    <= 0``; a long whose denominator is <= 0 is below maintenance at every price (``inf``, past
    its entry: liquidated at once). On entry basis ``MM = MMR N/EP - cum`` and
    ``LP = s N / (B + s N/EP - MM)``.

    Linear (``q = contracts x contract_size`` coin): equity ``B + s q (P - EP)``, maintenance
    ``MMR q P - cum`` (mark), so::

        LP = (WB - TMM1 + UPNL1 + cum - s q EP) / (q MMR - s q)

    (Binance USDⓈ-M one-way); the denominator is never 0. A long whose price comes out <= 0 is
    never liquidated and a short whose does is liquidated at every price: both are clamped to
    ``0.0``. A linear short always has a finite price. On entry basis
    ``LP = EP - s (B - MM) / q`` with ``MM = MMR q EP - cum``.

    Fee to close (``close_fee_rate`` ``f``): Bybit holds back from the balance the fee to close
    the position at its bankruptcy price ``BP``, the price at which the balance less that fee is
    gone: ``B + s N (1/EP - 1/BP) = f N/BP``, so ``N/BP = (B + s N/EP)/(s + f)`` and the fee is
    ``F = f N/BP = f (B + s N/EP)/(s + f)`` coin (0 where ``BP`` is infinite). Linear:
    ``B + s q (BP - EP) = f q BP`` gives ``q BP = (s q EP - B)/(s - f)`` and
    ``F = f q BP`` (0 where ``BP <= 0``). The liquidation price is the one above with ``B - F``
    for ``B``. For a long (inverse, entry basis) that is
    ``LP = N (1+f) / (B + N/EP - (1+f) MM)``.

    Examples
    --------
    Binance's calculator (dev.binance.vision thread 6292): wallet 101 BTC, long 100,000
    BTCUSD (100 USD) at 45,000, tier 12.5% with cum 11.605 BTC:
    ``11,250,000 / (101 + 11.605 + 222.222) = 33,599.42`` (Binance shows 33,599.40).

    >>> round(cross_liquidation_price("long", 100000, 100, 45000, 101, 0.125, 11.605), 2)
    33599.42

    Bybit's inverse liquidation help, cross: 0.5 BTC, long 10,000 BTCUSD (1 USD) at 8,000,
    MMR 0.5% of the entry value, taker fee 0.075%: ``BP = 1.00075 x 10,000 / (1.25 + 0.5) =
    5,718.57``, fee ``10,000 x 0.00075 / 5,718.57 = 0.0013115``,
    ``LP = 10,000 / (1.25 + 0.5 - 0.00625 - 0.0013115) = 5,739.08`` (shown as 5,739.50, rounded
    up to the 0.5 tick):

    >>> round(cross_liquidation_price("long", 10000, 1, 8000, 0.5, 0.005, mm_basis="entry",
    ...                               close_fee_rate=0.00075), 2)
    5739.08

    A 1x short whose wallet holds the hedged coin (a synthetic dollar) is never liquidated:

    >>> cross_liquidation_price("short", 600, 100, 60000, 1.0, 0.004)
    inf
    """
    tmm = inputs.number("other_maintenance", other_maintenance, ge=0)
    upnl = inputs.number("other_pnl", other_pnl)
    fee = _fee_rate(close_fee_rate)
    s, q, entry, wallet, mmr_, cum, tmm, upnl, fee = _position(
        side, contracts, contract_value, entry_price, wallet_balance, mmr, maintenance_amount,
        margin_name="wallet_balance", other_maintenance=tmm, other_pnl=upnl, close_fee_rate=fee,
    )
    kind = inputs.contract_type(contract_type)
    basis = inputs.mm_basis(mm_basis)
    balance = wallet - tmm + upnl
    balance = balance - _close_fee(s, q, entry, balance, fee, kind)
    price = _solve(s, q, entry, balance, mmr_, cum, kind, basis)
    if kind == "linear":
        price = np.maximum(price, 0.0)  # a short below 0: liquidated at every price
    return inputs.result(
        price, contracts, entry_price, wallet_balance, other_maintenance, other_pnl, side,
        allow_inf=True,
    )


def margin_for_liquidation(
    side: SideLike,
    contracts: ArrayLike,
    contract_value: ArrayLike,
    entry_price: ArrayLike,
    target_price: ArrayLike,
    mmr: ArrayLike,
    maintenance_amount: ArrayLike = 0.0,
    contract_type: str = "inverse",
) -> Any:
    """Isolated margin that puts the liquidation price (mark basis) exactly at ``target_price``.

    Solves ``M + PnL(T) = MM(T)`` for ``M``, ``s`` = +1 long / -1 short:

    * inverse (``N = contracts x contract_value`` USD, coin): ``MM(T) = mmr N/T - cum``,
      ``PnL(T) = s N (1/E - 1/T)``, so ``M = mmr N/T - cum - s N (1/E - 1/T)``;
    * linear (``q = contracts x contract_size`` coin, quote): ``MM(T) = mmr q T - cum``,
      ``PnL(T) = s q (T - E)``, so ``M = mmr q T - cum - s q (T - E)``.

    ``liquidation_price(side, contracts, contract_value, entry_price, M, mmr,
    maintenance_amount, contract_type, "mark")`` is then ``target_price``. The target must lie
    on the losing side of the entry (below it for a long, above it for a short), and far enough
    that the margin is not negative; otherwise an ``InputError`` names ``target_price``.

    Examples
    --------
    Short 600 BTCUSD (100 USD) at 60,000, MMR 0.4%, liquidated 30% up at 78,000:
    ``M = 0.004 x 60,000/78,000 + 60,000 (1/60,000 - 1/78,000) = 0.0030769 + 0.2307692``:

    >>> round(margin_for_liquidation("short", 600, 100, 60000, 78000, 0.004), 10)
    0.2338461538
    """
    target = inputs.number("target_price", target_price, gt=0)
    s, q, entry, target, mmr_, cum = _position(
        side, contracts, contract_value, entry_price, target, mmr, maintenance_amount,
        margin_name="target_price",
    )
    kind = inputs.contract_type(contract_type)
    wrong = np.where(s > 0, target >= entry, target <= entry)
    if wrong.any():
        i = tuple(np.argwhere(wrong)[0])
        raise InputError(
            "target_price",
            "must be below entry_price for a long and above it for a short (got "
            f"{target[i].item()!r} with entry_price {entry[i].item()!r} for a "
            f"{'long' if s[i] > 0 else 'short'}{_at(wrong, i)})",
        )
    with np.errstate(over="ignore", invalid="ignore"):
        mm, pnl = maintenance_and_pnl(s, q, entry, target, mmr_, cum, kind)
        margin = mm - pnl
    short = margin < 0
    if short.any():
        i = tuple(np.argwhere(short)[0])
        raise InputError(
            "target_price",
            "is nearer the entry than the liquidation price with no margin, which would need "
            f"a margin of {margin[i].item():.6g} (got {target[i].item()!r}{_at(short, i)})",
        )
    return inputs.result(margin, contracts, entry_price, target_price, side)


def _at(mask: npt.NDArray[np.bool_], index: tuple[Any, ...]) -> str:
    """`` at position i`` for an array argument, as :func:`inputs.number` reports it."""
    if mask.size == 1:
        return ""
    position = int(index[0]) if mask.ndim == 1 else tuple(int(i) for i in index)
    return f" at position {position}"


def _fee_rate(close_fee_rate: ArrayLike) -> FloatArray:
    return inputs.number("close_fee_rate", close_fee_rate, ge=0, lt=1)


def _close_fee(
    s: FloatArray, q: FloatArray, entry: FloatArray, balance: FloatArray, fee: FloatArray,
    kind: str,
) -> FloatArray:
    """Fee to close at the bankruptcy price, the price where ``balance`` less that fee is gone.

    Inverse: ``q/BP = (balance + s q/E) / (s + f)``; linear: ``q BP = (s q E - balance)/(s - f)``
    (derivation in :func:`cross_liquidation_price`); 0 where ``BP`` is infinite or <= 0.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if kind == "inverse":
            value = (balance + s * q / entry) / (s + fee)
        else:
            value = (s * q * entry - balance) / (s - fee)
        return np.asarray(np.where(fee > 0, fee * np.maximum(value, 0.0), 0.0), dtype=np.float64)


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


def maintenance_and_pnl(s: FloatArray, q: FloatArray, entry: FloatArray, price: FloatArray,
                        mmr: FloatArray, cum: FloatArray, kind: str
                        ) -> tuple[FloatArray, FloatArray]:
    """Maintenance margin and unrealised PnL at ``price`` (mark basis) of checked, broadcast
    arrays (:func:`_position`): inverse ``MM = mmr N/P - cum``, ``PnL = s N (1/E - 1/P)``;
    linear ``MM = mmr q P - cum``, ``PnL = s q (P - E)``."""
    if kind == "inverse":
        return mmr * q / price - cum, s * q * (1.0 / entry - 1.0 / price)
    return mmr * q * price - cum, s * q * (price - entry)


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
    margin_name: str = "margin",
    **extra: FloatArray,
) -> list[FloatArray]:
    """The checked arguments broadcast together: side, ``n*cv``, entry, margin (checked as
    ``margin_name``), mmr, maintenance amount, then the ``extra`` (already checked) arrays."""
    s = inputs.side("side", side)
    n = inputs.number("contracts", contracts, gt=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    entry = inputs.number("entry_price", entry_price, gt=0)
    m_ = inputs.number(margin_name, margin, ge=0)
    mmr_ = inputs.number("mmr", mmr, ge=0, lt=1)
    cum = inputs.number("maintenance_amount", maintenance_amount, ge=0)
    s, n, cv, entry, m_, mmr_, cum, *rest = inputs.broadcast(
        side=s,
        contracts=n,
        contract_value=cv,
        entry_price=entry,
        **{margin_name: m_},
        mmr=mmr_,
        maintenance_amount=cum,
        **extra,
    )
    return [s, n * cv, entry, m_, mmr_, cum, *rest]


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
