"""An open hedge: how far the book has drifted from its target, and the order that brings it
back (an inverse short on the coin held; cross-hedges are not covered here yet).

``N`` is the open short's USD notional (contracts x contract value), ``E`` its average entry
(harmonic), ``P`` the mark and ``coins`` every coin of the asset the user owns, the exchange wallet
included, without unrealised PnL. The coins are worth ``C = coins + N (1/P - 1/E)`` at ``P``, and
the net coin delta ``D = coins - N/E`` does not depend on ``P``: a 1:1 inverse short opened on all
the coins needs no trade when the price moves; it drifts only when holdings, wallet or target
ratio change.
"""

from __future__ import annotations

from typing import Any

from xlhedge import inputs
from xlhedge.inputs import ArrayLike
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
