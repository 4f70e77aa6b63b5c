"""An open hedge: how far the book has drifted from its target and the order that brings it back
(an inverse short on the coin held; :mod:`xlhedge.monitor` does the whole book, cross-hedges
included), its margin ratio, and the margin that keeps its liquidation far enough.

``N`` is the open short's USD notional (contracts x contract value), ``E`` its average entry
(harmonic), ``P`` the mark and ``coins`` every coin of the asset the user owns, the exchange wallet
included, without unrealised PnL. The coins are worth ``C = coins + N (1/P - 1/E)`` at ``P``, and
the net coin delta ``D = coins - N/E`` does not depend on ``P``: a 1:1 inverse short opened on all
the coins needs no trade when the price moves; it drifts only when holdings, wallet or target
ratio change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xlhedge import inputs
from xlhedge import margin as margin_module
from xlhedge.inputs import ArrayLike, FloatArray, SideLike
from xlhedge.sizing import round_to_lot


def net_coin_delta(coins: ArrayLike, contracts: ArrayLike, contract_value: ArrayLike,
                   entry_price: ArrayLike) -> Any:
    """Coins owned less those the open inverse short has locked: ``coins - N / E``.

    Coins 2.5, short 1,200 contracts of 100 USD at 60,000: 2.5 - 2 = 0.5 BTC unhedged.

    >>> net_coin_delta(2.5, 1200, 100, 60000)
    0.5
    """
    c = inputs.number("coins", coins, ge=0)
    n = inputs.number("contracts", contracts, ge=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    e = inputs.number("entry_price", entry_price, gt=0)
    c, n, cv, e = inputs.broadcast(coins=c, contracts=n, contract_value=cv, entry_price=e)
    return inputs.result(c - n * cv / e, coins, contracts, entry_price)


def rebalance_contracts(coins: ArrayLike, contracts: ArrayLike, contract_value: ArrayLike,
                        entry_price: ArrayLike, price: ArrayLike, hedge_ratio: ArrayLike = 1.0,
                        lot_size: ArrayLike = 1.0) -> Any:
    """Contracts to trade to bring an open inverse short to ``hedge_ratio`` of the coins' value at
    ``price``: positive = sell (short more), negative = buy back (reduce only), in lots.

    ``dN = P (D - (1 - h) C)`` USD with ``D`` the net coin delta and ``C`` the coins' value at
    ``P`` in coin, divided by the contract value. Coins 2.5, short 1,200 x 100 USD at 60,000,
    mark 48,000, h = 1: D = 0.5 and dN = 24,000 USD, 240 contracts to sell.

    >>> rebalance_contracts(2.5, 1200, 100, 60000, 48000)
    240.0
    >>> rebalance_contracts(1.5, 900, 100, 60000, 95000)  # a full hedge needs no trade
    0.0
    """
    c = inputs.number("coins", coins, ge=0)
    n = inputs.number("contracts", contracts, ge=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    e = inputs.number("entry_price", entry_price, gt=0)
    p = inputs.number("price", price, gt=0)
    h = inputs.number("hedge_ratio", hedge_ratio, ge=0)
    lot = inputs.number("lot_size", lot_size, gt=0)
    c, n, cv, e, p, h, lot = inputs.broadcast(coins=c, contracts=n, contract_value=cv,
                                              entry_price=e, price=p, hedge_ratio=h,
                                              lot_size=lot)
    notional = n * cv
    delta = c - notional / e
    value = c + notional * (1.0 / p - 1.0 / e)
    usd = p * (delta - (1.0 - h) * value)
    return inputs.result(round_to_lot(usd / cv, lot) + 0.0, coins, contracts, price)


def _equity_terms(side: SideLike, contracts: ArrayLike, contract_value: ArrayLike,
                  entry_price: ArrayLike, margin: ArrayLike, mmr: ArrayLike,
                  maintenance_amount: ArrayLike, contract_type: str, price: FloatArray,
                  ) -> tuple[FloatArray, ...]:
    """(side, margin, maintenance margin at ``price``, unrealised PnL at ``price``), checked
    and broadcast (:func:`xlhedge.margin.maintenance_and_pnl`)."""
    s, q, entry, m_, mmr_, cum, p = margin_module._position(
        side, contracts, contract_value, entry_price, margin, mmr, maintenance_amount,
        price=price)
    mm, pnl = margin_module.maintenance_and_pnl(s, q, entry, p, mmr_, cum,
                                                inputs.contract_type(contract_type))
    return s, m_, mm, pnl


def margin_ratio(side: SideLike, contracts: ArrayLike, contract_value: ArrayLike,
                 entry_price: ArrayLike, mark_price: ArrayLike, margin: ArrayLike,
                 mmr: ArrayLike, maintenance_amount: ArrayLike = 0.0,
                 contract_type: str = "inverse") -> Any:
    """Binance's Margin Ratio: the maintenance margin over the margin balance (margin plus
    unrealised PnL) at the mark; 100% is liquidation, ``inf`` where the balance is gone.

    Short 600 x 100 USD at 60,000 with 0.5 BTC, MMR 0.4%, mark 60,000: 0.004 / 0.5 = 0.8%.

    >>> margin_ratio("short", 600, 100, 60000, 60000, 0.5, 0.004)
    0.008
    """
    p = inputs.number("mark_price", mark_price, gt=0)
    _, m_, mm, pnl = _equity_terms(side, contracts, contract_value, entry_price, margin, mmr,
                                   maintenance_amount, contract_type, p)
    balance = m_ + pnl
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(balance > 0, mm / np.where(balance > 0, balance, 1.0), np.inf)
    return inputs.result(ratio, contracts, mark_price, margin, side, allow_inf=True)


def margin_to_add(side: SideLike, contracts: ArrayLike, contract_value: ArrayLike,
                  entry_price: ArrayLike, mark_price: ArrayLike, margin: ArrayLike,
                  mmr: ArrayLike, maintenance_amount: ArrayLike = 0.0,
                  min_distance: ArrayLike = 0.30, contract_type: str = "inverse") -> Any:
    """Isolated margin to add so that liquidation lies ``min_distance`` beyond the mark (above it
    for a short, below for a long): the margin :func:`xlhedge.margin.margin_for_liquidation`
    gives for that price, less the margin posted; 0 where it is enough. ``mmr`` and
    ``maintenance_amount`` are those of the tier at that price.

    Short 600 x 100 USD at 60,000 with 0.2338461538 BTC, mark 70,000: liquidation 30% above is
    91,000, which takes ``0.004 x 60,000/91,000 + 60,000 (1/60,000 - 1/91,000)`` = 0.3432967 BTC.

    >>> round(margin_to_add("short", 600, 100, 60000, 70000, 0.2338461538, 0.004), 8)
    0.10945055
    """
    p = inputs.number("mark_price", mark_price, gt=0)
    d = inputs.number("min_distance", min_distance, ge=0, lt=1)
    s = inputs.side("side", side)
    target = p * (1.0 - s * d)
    _, m_, mm, pnl = _equity_terms(side, contracts, contract_value, entry_price, margin, mmr,
                                   maintenance_amount, contract_type, target)
    needed = mm - pnl  # the margin whose equity at the target is its maintenance margin
    return inputs.result(np.maximum(needed - m_, 0.0) + 0.0, contracts, mark_price, margin,
                         side)
