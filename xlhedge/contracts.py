"""Contract specifications and the registry users look them up in.

Margin tiers follow the exchanges' cumulative rule: a tier's maintenance amount (the deduction in
``MM = position_value * MMR - maintenance_amount``) is derived from the tiers below it,
``cum_n = floor_n * (MMR_n - MMR_(n-1)) + cum_(n-1)``, so that MM is continuous across floors.
Tier floors are position values in the settle currency: coin for inverse, quote for linear.
"""

from __future__ import annotations

import difflib
import functools
import itertools
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xlhedge.errors import InputError, UnknownContractError
from xlhedge.inputs import FloatArray


class MarginTier(BaseModel):
    """One maintenance-margin tier: from ``floor`` (position value) upwards, MMR ``mmr``."""

    model_config = ConfigDict(frozen=True)

    floor: float = Field(ge=0)
    mmr: float = Field(ge=0, lt=1)
    max_leverage: float | None = Field(default=None, ge=1)


class ContractSpec(BaseModel):
    """What an exchange says about one contract, with the date and source of the numbers."""

    model_config = ConfigDict(frozen=True)

    symbol: str = Field(description="EXCHANGE:NATIVE_ID, e.g. BINANCE:BTCUSD_PERP")
    exchange: str
    underlying: str = Field(description="coin the contract tracks, e.g. BTC")
    quote: str = "USD"
    contract_type: Literal["inverse", "linear"]
    contract_value: float = Field(gt=0, description="USD per contract (inverse), coin (linear)")
    settle: str = Field(description="currency margin and PnL are paid in")
    tick_size: float = Field(gt=0)
    lot_size: float = Field(gt=0, default=1.0)
    min_order: float = Field(gt=0, default=1.0)
    funding_interval_hours: float = Field(gt=0, default=8.0)
    maker_fee: float = Field(gt=-0.01, lt=0.01)
    taker_fee: float = Field(gt=-0.01, lt=0.01)
    max_leverage: float = Field(ge=1)
    tiers: tuple[MarginTier, ...] = Field(min_length=1)
    as_of: date
    source: str

    @field_validator("symbol")
    @classmethod
    def _symbol_form(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]+:[A-Za-z0-9_.\-/]+", value):
            raise ValueError("symbol must look like EXCHANGE:NATIVE_ID, e.g. BINANCE:BTCUSD_PERP")
        return value

    @field_validator("exchange", "underlying", "quote", "settle")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @model_validator(mode="after")
    def _consistent(self) -> ContractSpec:
        if self.symbol.split(":", 1)[0] != self.exchange:
            raise ValueError(f"symbol {self.symbol} must start with the exchange {self.exchange}:")
        floors = [t.floor for t in self.tiers]
        if floors[0] != 0 or any(b <= a for a, b in itertools.pairwise(floors)):
            raise ValueError("tiers must start at floor 0 with floors strictly increasing")
        mmrs = [t.mmr for t in self.tiers]
        if any(b < a for a, b in itertools.pairwise(mmrs)):
            raise ValueError("tier MMRs must not decrease")
        return self

    @property
    def native_id(self) -> str:
        return self.symbol.split(":", 1)[1]

    @property
    def maintenance_amounts(self) -> tuple[float, ...]:
        """Each tier's maintenance amount by the exchanges' cumulative rule."""
        amounts = [0.0]
        for lower, tier in zip(self.tiers, self.tiers[1:], strict=False):
            amounts.append(float(f"{tier.floor * (tier.mmr - lower.mmr) + amounts[-1]:.12g}"))
        return tuple(amounts)

    def tier_arrays(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(floors, MMRs, maintenance amounts) as arrays, for the vectorised maths."""
        return (
            np.array([t.floor for t in self.tiers]),
            np.array([t.mmr for t in self.tiers]),
            np.array(self.maintenance_amounts),
        )


def format_tiers(tiers: Iterable[MarginTier]) -> str:
    """Tiers as the editable text of a table cell: ``0:0.004@125; 5:0.005@100``."""
    parts = []
    for tier in tiers:
        text = f"{tier.floor:g}:{tier.mmr:g}"
        if tier.max_leverage is not None:
            text += f"@{tier.max_leverage:g}"
        parts.append(text)
    return "; ".join(parts)


def parse_tiers(text: str) -> tuple[MarginTier, ...]:
    """The inverse of :func:`format_tiers`; the leverage part is optional."""
    tiers = []
    for part in filter(None, (p.strip() for p in str(text).split(";"))):
        match = re.fullmatch(r"([0-9.eE+]+)\s*:\s*([0-9.eE+-]+)\s*(?:@\s*([0-9.eE+]+))?", part)
        if not match:
            raise InputError("tiers", 'must be "floor:mmr[@max_leverage]; ..."', part)
        floor, mmr, lev = match.groups()
        try:
            tiers.append(MarginTier(floor=float(floor), mmr=float(mmr),
                                    max_leverage=float(lev) if lev else None))
        except (ValueError, ValidationError):
            raise InputError("tiers", "must be floor >= 0, 0 <= mmr < 1, max_leverage >= 1 "
                             '("floor:mmr[@max_leverage]; ...")', part) from None
    if not tiers:
        raise InputError("tiers", "must list at least one tier", text)
    return tuple(tiers)


# Column headings of the registry's table (the workbook's Contracts sheet), in order.
TABLE_COLUMNS: Mapping[str, str] = {
    "symbol": "Symbol",
    "exchange": "Exchange",
    "underlying": "Underlying",
    "quote": "Quote",
    "contract_type": "Type",
    "contract_value": "Contract Value",
    "settle": "Settle",
    "tick_size": "Tick Size",
    "lot_size": "Lot Size",
    "min_order": "Min Order",
    "funding_interval_hours": "Funding Interval (h)",
    "maker_fee": "Maker Fee",
    "taker_fee": "Taker Fee",
    "max_leverage": "Max Leverage",
    "tiers": "MM Tiers",
    "as_of": "As Of",
    "source": "Source",
}


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


_FIELD_BY_KEY = {_key(k): k for k in TABLE_COLUMNS} | {_key(v): k for k, v in TABLE_COLUMNS.items()}


def spec_from_row(row: Mapping[str, Any]) -> ContractSpec:
    """A spec from one table row; headings may be field names or the table's headings."""
    data: dict[str, Any] = {}
    for heading, value in row.items():
        field = _FIELD_BY_KEY.get(_key(heading))
        if field is None or value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        data[field] = value
    if "tiers" in data and isinstance(data["tiers"], str):
        data["tiers"] = parse_tiers(data["tiers"])
    data["as_of"] = _as_date(data.get("as_of", date.today()))
    if "symbol" in data and "exchange" not in data:
        data["exchange"] = str(data["symbol"]).split(":", 1)[0]
    symbol = data.get("symbol", "?")
    try:
        return ContractSpec(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "spec"
        raise InputError(f"contract {symbol} {where}", first["msg"].lower()) from None


def _as_date(value: object) -> object:
    """A date from a table cell: a date, a timestamp, ISO text or an Excel serial number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (EXCEL_EPOCH + timedelta(days=float(value))).date()
    if isinstance(value, datetime):
        return value.date()
    return value


EXCEL_EPOCH = datetime(1899, 12, 30)


class ContractRegistry:
    """Specs by symbol; lookups ignore case; later specs override earlier ones."""

    def __init__(self, specs: Iterable[ContractSpec] = ()) -> None:
        self._specs: dict[str, ContractSpec] = {}
        for spec in specs:
            self._specs[spec.symbol.upper()] = spec

    def __iter__(self) -> Iterator[ContractSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def __contains__(self, symbol: object) -> bool:
        return isinstance(symbol, str) and symbol.strip().upper() in self._specs

    def get(self, symbol: str) -> ContractSpec:
        key = str(symbol).strip().upper()
        if key in self._specs:
            return self._specs[key]
        raise UnknownContractError(str(symbol), self.closest(key))

    def closest(self, symbol: str, n: int = 3) -> list[str]:
        """Known symbols nearest to ``symbol``, matching on the whole symbol or its native id."""
        key = symbol.strip().upper()
        by_native = {s.symbol.split(":", 1)[1].upper(): s.symbol for s in self}
        found = difflib.get_close_matches(key, list(self._specs), n=n, cutoff=0.5)
        native = key.split(":", 1)[-1]
        found += [by_native[k] for k in difflib.get_close_matches(native, list(by_native), n=n)]
        return [self._specs[s.upper()].symbol for s in dict.fromkeys(s.upper() for s in found)][:n]

    def with_specs(self, specs: Iterable[ContractSpec]) -> ContractRegistry:
        """A new registry where ``specs`` add to or override these."""
        return ContractRegistry([*self, *specs])

    def with_frame(self, frame: pd.DataFrame) -> ContractRegistry:
        """Override or add specs from a table (e.g. the workbook's Contracts sheet)."""
        rows = frame.dropna(how="all").to_dict("records")
        return self.with_specs(spec_from_row({str(k): v for k, v in row.items()}) for row in rows)

    def to_frame(self) -> pd.DataFrame:
        """The registry as a table with the workbook's headings; tiers as editable text."""
        rows = []
        for spec in self:
            data = spec.model_dump()
            data["tiers"] = format_tiers(spec.tiers)
            rows.append({TABLE_COLUMNS[k]: data[k] for k in TABLE_COLUMNS})
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS.values()))


@functools.cache
def default_registry() -> ContractRegistry:
    """The built-in, dated specs."""
    from xlhedge.builtin_contracts import BUILTIN_SPECS

    return ContractRegistry(BUILTIN_SPECS)


def get_contract(symbol: str, registry: ContractRegistry | None = None) -> ContractSpec:
    """The spec for ``symbol`` (``EXCHANGE:NATIVE_ID``); unknown symbols name the closest ones."""
    return (registry or default_registry()).get(symbol)
