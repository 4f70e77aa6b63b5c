"""What every price source takes and gives: requests in, quotes out (no hedging maths)."""

from __future__ import annotations

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
