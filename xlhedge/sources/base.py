"""What every price source takes and gives: requests in, quotes out (no hedging maths)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

Progress = Callable[[int, int], None]
"""``progress(done, total)``: called as each request's quote is complete."""


@dataclass(frozen=True)
class QuoteRequest:
    """One row to price: the coin the user holds and the contract hedging it."""

    asset: str
    contract: str = ""


@dataclass(frozen=True)
class Quote:
    """What a source found for one request; ``None`` where it found nothing.

    ``error`` is a short reason when (part of) the quote is missing: the caller keeps its previous
    values and marks the row stale.
    """

    price: float | None = None
    mark_price: float | None = None
    funding_rate: float | None = None
    updated: datetime | None = None
    error: str = ""
    contract_size: float | None = None


MAX_PRICE_GAP = 0.20
"""A price and the mark price of a contract on the same coin differ by at most this fraction."""
MAX_FUNDING_RATE = 0.03
"""A funding rate (per interval) beyond +-3% is not believed."""


def sane_values(
    price: float | None, mark: float | None, funding: float | None, same_coin: bool,
    errors: list[str], what: str, *, price_name: str = "price",
) -> tuple[float | None, float | None, float | None]:
    """The values that pass the sanity rules; each one that fails is dropped (the caller keeps
    its previous value) and a reason appended to ``errors``.

    Prices must be positive and finite; a funding rate finite and within
    +-:data:`MAX_FUNDING_RATE`; where price and mark price are of the same coin
    (``same_coin``), they must lie within :data:`MAX_PRICE_GAP` of each other, else neither
    is believed.
    """
    def positive(value: float | None, name: str) -> float | None:
        if value is None or (math.isfinite(value) and value > 0):
            return value
        errors.append(f"{what}: {name} {value:g} rejected (must be a positive number)")
        return None

    price, mark = positive(price, price_name), positive(mark, "mark price")
    if same_coin and price is not None and mark is not None and not (
            abs(price - mark) <= MAX_PRICE_GAP * max(price, mark)):
        errors.append(f"{what}: {price_name} {price:,.10g} and mark price {mark:,.10g} differ "
                      f"by more than {MAX_PRICE_GAP:.0%}: both rejected")
        price = mark = None
    if funding is not None and not (math.isfinite(funding)
                                    and abs(funding) <= MAX_FUNDING_RATE):
        errors.append(f"{what}: funding rate {funding:g} rejected (must be within "
                      f"+-{MAX_FUNDING_RATE:.0%} per interval)")
        funding = None
    return price, mark, funding


class PriceSource(Protocol):
    """Turns requests into quotes, one quote per request, in order."""

    name: str

    def quotes(
        self, requests: Sequence[QuoteRequest], progress: Progress | None = None
    ) -> list[Quote]: ...


class TableSource:
    """Offline: every quote is empty, so the prices typed in the table stay as they are."""

    name = "table"

    def quotes(
        self, requests: Sequence[QuoteRequest], progress: Progress | None = None
    ) -> list[Quote]:
        quotes = []
        for done, _ in enumerate(requests, 1):
            quotes.append(Quote())
            if progress is not None:
                progress(done, len(requests))
        return quotes
