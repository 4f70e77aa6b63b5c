"""Price sources: where a refresh gets prices, mark prices and funding rates (no hedging maths).

``get_source(spec)`` is the entry point; every source turns :class:`QuoteRequest` rows into
:class:`Quote` rows, one each, in order:

- ``table`` (default): offline, empty quotes; the prices typed in the table stay.
- ``csv:PATH``: a CSV file with asset/contract, price, mark price and funding rate columns.
- ``ccxt:EXCHANGE``: live public data from binance, bybit, okx, bitmex or deribit through ccxt
  (``pip install 'xlhedge[live]'``).
"""

from __future__ import annotations

from pathlib import Path

from xlhedge.errors import InputError
from xlhedge.sources.base import PriceSource, Progress, Quote, QuoteRequest, TableSource
from xlhedge.sources.csvfile import CsvSource
from xlhedge.sources.live import VENUES, CcxtSource

__all__ = [
    "CcxtSource",
    "CsvSource",
    "PriceSource",
    "Progress",
    "Quote",
    "QuoteRequest",
    "TableSource",
    "get_source",
]

_FORMS = f'"table", "csv:PATH" or "ccxt:EXCHANGE" with EXCHANGE one of {", ".join(VENUES)}'


def get_source(
    spec: str, *, timeout: float = 10.0, api_base: str | None = None, deadline: float = 30.0
) -> PriceSource:
    """The price source ``spec`` names; raises :class:`InputError` listing the valid forms.

    ``timeout`` (seconds) bounds each ccxt socket read, ``deadline`` (seconds) a whole
    ``quotes()`` call: what is not fetched by then is stale. ``api_base`` (ccxt only) sends every
    REST call to ``{api_base}/{exchange host}/{path}`` instead of the exchange, e.g. a local test
    server or a recording proxy.
    """
    kind, _, arg = str(spec).strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind in ("", "table") and not arg:
        return TableSource()
    if kind == "csv" and arg:
        return CsvSource(Path(arg).expanduser())
    if kind == "ccxt" and arg.lower() in VENUES:
        if not timeout > 0:
            raise InputError("timeout", "must be > 0 seconds", timeout)
        if not deadline > 0:
            raise InputError("source timeout", "must be > 0 seconds", deadline)
        return CcxtSource(arg.lower(), timeout=min(timeout, deadline), api_base=api_base,
                          deadline=deadline)
    raise InputError("price source", f"must be {_FORMS}", spec)
