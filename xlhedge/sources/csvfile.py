"""Prices from a CSV file (``csv:PATH``), read afresh on every call.

Columns (headings ignore case, spaces and underscores; others are ignored): ``asset`` and/or
``contract`` name the row; ``price``, ``mark price`` and ``funding rate`` are numbers (blank: not
known; ``0.01%`` means 0.0001). A row's price is its asset's price (a contract-only row's asset is
the contract's coin, when the built-in registry knows it); its mark price and funding rate belong
to its contract (an asset-only row's: to the contract on that coin). For each request, the row
naming its contract wins; otherwise the row naming its asset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from xlhedge.columns import column_key
from xlhedge.contracts import default_registry
from xlhedge.errors import InputError
from xlhedge.sources.base import Progress, Quote, QuoteRequest, sane_values
from xlhedge.tablefile import TableFileError, read_text_table

_FIELDS = {
    "asset": "asset",
    "contract": "contract",
    "price": "price",
    "markprice": "mark price",
    "fundingrate": "funding rate",
}
_VALUES = ("price", "mark price", "funding rate")


def _coin(contract: str) -> str:
    """The coin a contract is on, from the built-in registry; "" when unknown."""
    registry = default_registry()
    return registry.get(contract).underlying if contract in registry else ""


@dataclass(frozen=True)
class _Row:
    asset: str
    contract: str
    values: dict[str, float | None]

    @property
    def coin(self) -> str:
        return self.asset or _coin(self.contract)


@dataclass
class _Book:
    """The file's rows, indexed the ways requests look them up."""

    columns: tuple[str, ...]
    by_contract: dict[str, _Row] = field(default_factory=dict)
    by_coin: dict[str, _Row] = field(default_factory=dict)  # asset-only rows
    priced: dict[str, _Row] = field(default_factory=dict)  # rows with a price, by coin

    def add(self, row: _Row) -> None:
        if row.contract:
            self.by_contract[row.contract] = row
        elif row.asset:
            self.by_coin[row.asset] = row
        if row.coin and row.values.get("price") is not None:
            self.priced[row.coin] = row


class CsvSource:
    """Quotes from ``path``; a missing file or a bad cell raises :class:`InputError`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"csv:{path}"

    def quotes(
        self, requests: Sequence[QuoteRequest], progress: Progress | None = None
    ) -> list[Quote]:
        book = self._read()
        updated = datetime.fromtimestamp(self.path.stat().st_mtime, UTC)
        quotes = []
        for done, request in enumerate(requests, 1):
            quotes.append(self._quote(request, book, updated))
            if progress is not None:
                progress(done, len(requests))
        return quotes

    def _quote(self, request: QuoteRequest, book: _Book, updated: datetime) -> Quote:
        asset = request.asset.strip().upper()
        contract = request.contract.strip().upper()
        row = book.by_contract.get(contract) if contract else None
        mark_row = row or book.by_coin.get(_coin(contract) if contract else asset)
        if row is None or row.coin != asset or row.values.get("price") is None:
            row = book.priced.get(asset)
        price = row.values.get("price") if row else None
        mark_price = mark_row.values.get("mark price") if mark_row else None
        funding_rate = mark_row.values.get("funding rate") if mark_row else None
        problems: list[str] = []
        same_coin = bool(contract) and _coin(contract) == asset
        price, mark_price, funding_rate = sane_values(
            price, mark_price, funding_rate, same_coin, problems, contract or asset)
        if (not same_coin and mark_row is not None and mark_price is not None
                and mark_row.coin == _coin(contract)):
            # a cross-hedge: the mark must still fit its own coin's price in the file
            _, mark_price, _ = sane_values(mark_row.values.get("price"), mark_price, None, True,
                                           problems, contract or mark_row.coin)
        if asset and price is None and "price" in book.columns:
            problems.append(f"no price for {asset}")
        lacking = [
            name
            for name, value in (("mark price", mark_price), ("funding rate", funding_rate))
            if value is None and name in book.columns
        ]
        if contract and lacking:
            problems.append(f"no {' or '.join(lacking)} for {contract}")
        found = any(value is not None for value in (price, mark_price, funding_rate))
        return Quote(
            price=price,
            mark_price=mark_price,
            funding_rate=funding_rate,
            updated=updated if found else None,
            error="; ".join(f"{self.path.name}: {problem}" for problem in problems),
        )

    def _read(self) -> _Book:
        where = f"price file {self.path}"
        try:
            table = read_text_table(self.path)
        except TableFileError as exc:
            message = str(exc).removeprefix(f"{self.path}:").strip()
            raise InputError(where, message) from None
        header = table.header
        columns = {i: _FIELDS[column_key(h)] for i, h in enumerate(header)
                   if column_key(h) in _FIELDS}
        names = tuple(columns.values())
        if "asset" not in names and "contract" not in names:
            raise InputError(where, "needs an asset or contract column", header)
        if not set(names) & set(_VALUES):
            raise InputError(where, "needs a price, mark price or funding rate column", header)
        book = _Book(columns=names)
        lines: dict[tuple[str, str], tuple[int, dict[str, float | None]]] = {}
        for line, cells in table.rows:
            cell = {name: cells[i].strip() for i, name in columns.items()}
            if not any(cell.values()):
                continue
            at = f"{where} row {line}"
            asset, contract = cell.get("asset", "").upper(), cell.get("contract", "").upper()
            if not asset and not contract:
                raise InputError(at, "needs an asset or a contract")
            values = {
                name: _number(cell[name], f"{at} column {name!r}", name)
                for name in _VALUES
                if name in cell
            }
            key = (asset, contract)
            if key in lines and lines[key][1] != values:
                first, before = lines[key]
                differ = [n for n in values if values[n] != before.get(n)]
                raise InputError(
                    f"{where} rows {first} and {line}",
                    f"both give {' '.join(filter(None, key))} with different "
                    f"{' and '.join(differ)}: keep one row", None)
            lines.setdefault(key, (line, values))
            book.add(_Row(asset, contract, values))
        return book


def _number(text: str, where: str, name: str) -> float | None:
    """A cell's number: blank is ``None``, a trailing ``%`` divides by 100."""
    if not text:
        return None
    body, scale = (text[:-1].strip(), 0.01) if text.endswith("%") else (text, 1.0)
    try:
        value = float(body) * scale
    except ValueError:
        raise InputError(where, "must be a number", text) from None
    if not math.isfinite(value):
        raise InputError(where, "must be a finite number", text)
    if name != "funding rate" and value <= 0:
        raise InputError(where, "must be > 0", text)
    return value
