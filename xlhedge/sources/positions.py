"""Where open positions come from (Settings ``Positions Source``): the table as typed, a CSV file,
or the user's exchange account through ccxt's private read-only calls.

:func:`read_positions` returns the rows a source gives, under the Positions table's headings, and
the account they replace (None: every row). A source that fails returns its error and no rows:
the caller keeps the table as it is and marks those rows stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xlhedge.errors import InputError
from xlhedge.sources.live import VENUES

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime

    import pandas as pd

    from xlhedge.sources.account import OpenPosition

ACCOUNT_EXCHANGES = ("binance", "bybit", "okx", "deribit")
_FORMS = ('"table", "csv:PATH" or "ccxt:EXCHANGE" with EXCHANGE one of '
          f"{', '.join(ACCOUNT_EXCHANGES)}")


@dataclass(frozen=True)
class PositionsRead:
    """What a positions source gave: ``rows`` (None: the table's own), the account they
    replace (None: all rows), and why it failed ("" when it did not)."""

    name: str
    rows: pd.DataFrame | None = None
    account: str | None = None
    error: str = ""
    warnings: tuple[str, ...] = ()


def check_spec(spec: str) -> tuple[str, str]:
    """(kind, argument) of a positions source; an unknown form is an error listing the valid
    ones."""
    kind, _, arg = str(spec).strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if (kind in ("", "table") and not arg) or (kind == "csv" and arg) or (
            kind == "ccxt" and arg.lower() in ACCOUNT_EXCHANGES):
        return kind or "table", arg
    raise InputError("positions source", f"must be {_FORMS}", spec)


def read_positions(spec: str, *, timeout: float = 10.0, deadline: float = 30.0,
                   api_base: str | None = None,
                   since: Callable[[str], datetime | None] | None = None) -> PositionsRead:
    """The rows ``spec`` gives (see the module's docstring). ``since(account)``: where the
    account's funding ledger is read from when the exchange gives no opening time."""
    kind, arg = check_spec(spec)
    if kind == "table":
        return PositionsRead("table")
    if kind == "csv":
        from xlhedge.tablefile import read_table_file

        path = Path(arg).expanduser()
        return PositionsRead(f"csv:{path}", read_table_file(path, "Positions"))
    exchange = arg.lower()
    assert exchange in VENUES
    from xlhedge.keys import credentials
    from xlhedge.sources.account import AccountSource

    keys = credentials(exchange)  # a missing key is an error, not a stale table
    source = AccountSource(exchange, keys, timeout=min(timeout, deadline), deadline=deadline,
                           api_base=api_base)
    name, account = f"ccxt:{exchange}", exchange.upper()
    snapshot = source.positions(since=since(account) if since is not None else None)
    if snapshot.error:
        return PositionsRead(name, None, account, snapshot.error)
    return PositionsRead(name, snapshot_rows(snapshot.positions, account), account,
                         warnings=tuple(snapshot.warnings))


def snapshot_rows(positions: Sequence[OpenPosition], account: str) -> pd.DataFrame:
    """An account's open positions under the Positions table's headings."""
    import pandas as pd

    rows = [{"Account": account, "Contract": p.contract, "Side": p.side,
             "Contracts": p.contracts, "Entry Price": p.entry_price,
             "Margin Mode": p.margin_mode, "Margin": p.margin,
             "Opened": None if p.opened is None else p.opened.replace(tzinfo=None),
             "Funding To Date": p.funding_to_date, "Mark Price": p.mark_price}
            for p in positions]
    columns = ["Account", "Contract", "Side", "Contracts", "Entry Price", "Margin Mode",
               "Margin", "Opened", "Funding To Date", "Mark Price"]
    return pd.DataFrame(rows, columns=columns)
