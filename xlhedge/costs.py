"""Funding payments and trading fees.

Funding is paid on the position value at the mark price, whatever the leverage; a positive rate
means longs pay shorts, so a hedging short *receives* it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from xlhedge import inputs
from xlhedge.inputs import ArrayLike, SideLike

HOURS_PER_YEAR = 365.0 * 24.0


def funding_payment(
    contracts: ArrayLike,
    contract_value: ArrayLike,
    mark_price: ArrayLike,
    funding_rate: ArrayLike,
    side: SideLike = "short",
    contract_type: str = "inverse",
) -> Any:
    """Funding for one interval, positive = received: ``-side * position_value * rate``.

    Position value is ``n*cv/P`` coin (inverse) or ``n*cs*P`` quote (linear).

    >>> funding_payment(10000, 1, 16000, 0.0001, "long")  # Bybit: long pays 0.0000625 BTC
    -6.25e-05
    """
    n = inputs.number("contracts", contracts, ge=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    p = inputs.number("mark_price", mark_price, gt=0)
    f = inputs.number("funding_rate", funding_rate, gt=-1, lt=1)
    s = inputs.side("side", side)
    kind = inputs.contract_type(contract_type)
    n, cv, p, f, s = inputs.broadcast(
        contracts=n, contract_value=cv, mark_price=p, funding_rate=f, side=s
    )
    value = n * cv / p if kind == "inverse" else n * cv * p
    return inputs.result(-s * value * f, contracts, mark_price, funding_rate, side)


def trading_fee(
    contracts: ArrayLike,
    contract_value: ArrayLike,
    price: ArrayLike,
    fee_rate: ArrayLike,
    contract_type: str = "inverse",
) -> Any:
    """Fee of one fill, positive = paid (a negative rate is a maker rebate).

    >>> round(trading_fee(10000, 1, 8000, 0.00055), 10)  # Bybit fee page
    0.0006875
    """
    n = inputs.number("contracts", contracts, ge=0)
    cv = inputs.number("contract_value", contract_value, gt=0)
    p = inputs.number("price", price, gt=0)
    rate = inputs.number("fee_rate", fee_rate, gt=-0.1, lt=0.1)
    kind = inputs.contract_type(contract_type)
    n, cv, p, rate = inputs.broadcast(contracts=n, contract_value=cv, price=p, fee_rate=rate)
    value = n * cv / p if kind == "inverse" else n * cv * p
    return inputs.result(value * rate, contracts, price, fee_rate)


def annualised_funding(funding_rate: ArrayLike, interval_hours: ArrayLike = 8.0) -> Any:
    """Simple annual rate of a per-interval funding rate: 0.01% per 8 h is 10.95% a year.

    >>> round(annualised_funding(0.0001), 6)
    0.1095
    """
    f = inputs.number("funding_rate", funding_rate, gt=-1, lt=1)
    hours = inputs.number("interval_hours", interval_hours, gt=0)
    f, hours = inputs.broadcast(funding_rate=f, interval_hours=hours)
    return inputs.result(f * HOURS_PER_YEAR / hours, funding_rate)


def funding_over(
    contracts: ArrayLike,
    contract_value: ArrayLike,
    mark_price: ArrayLike,
    funding_rate: ArrayLike,
    days: ArrayLike,
    interval_hours: ArrayLike = 8.0,
    side: SideLike = "short",
    contract_type: str = "inverse",
) -> Any:
    """Funding over ``days`` at a constant rate and mark, positive = received: one interval's
    :func:`funding_payment` times ``days * 24 / interval_hours`` intervals.

    600 contracts of 100 USD at 60,000 and 0.01% per 8 h for 30 days: 0.0001 BTC per interval,
    90 intervals, +0.009 BTC received by the short.

    >>> round(funding_over(600, 100, 60000, 0.0001, 30), 10)
    0.009
    """
    d = inputs.number("days", days, ge=0)
    hours = inputs.number("interval_hours", interval_hours, gt=0)
    one = funding_payment(contracts, contract_value, mark_price, funding_rate, side,
                          contract_type)
    d, hours, each = inputs.broadcast(days=d, interval_hours=hours, funding=np.asarray(one))
    return inputs.result(each * d * 24.0 / hours, contracts, mark_price, funding_rate, days)
