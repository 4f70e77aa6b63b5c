"""Contract specifications and the registry users look them up in.

Margin tiers follow one of two rules, a spec's ``tier_mode``. ``cumulative`` (Binance, Bybit,
OKX): a tier's maintenance amount (the deduction in ``MM = position_value * MMR -
maintenance_amount``) is derived from the tiers below it, ``cum_n = floor_n * (MMR_n - MMR_(n-1))
+ cum_(n-1)``, so that MM is continuous across floors. ``whole`` (BitMEX risk limits): the MMR of
the step a position reaches applies to the whole position, no deduction, so MM jumps at each floor.
Tier floors are position values in the settle currency: coin for inverse, quote for linear.
"""

from __future__ import annotations

import csv
import difflib
import functools
import importlib.resources
import io
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xlhedge.columns import column_key, is_blank
from xlhedge.errors import InputError, UnknownContractError

if TYPE_CHECKING:  # pandas only for hints: the command line imports this module, not pandas
    import pandas as pd

    from xlhedge.inputs import FloatArray


class MarginTier(BaseModel):
    """One maintenance-margin tier: from ``floor`` (position value) upwards, MMR ``mmr``."""

    model_config = ConfigDict(frozen=True)

    floor: float = Field(ge=0)
    mmr: float = Field(ge=0, lt=1)
    max_leverage: float | None = Field(default=None, ge=1)


TierMode = Literal["cumulative", "whole"]
OrderUnit = Literal["contracts", "usd"]
TIER_MODES: tuple[TierMode, ...] = ("cumulative", "whole")
ORDER_UNITS: tuple[OrderUnit, ...] = ("contracts", "usd")


class ContractSpec(BaseModel):
    """What an exchange says about one contract, with the date and source of the numbers."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

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
    tier_mode: TierMode = Field(
        default="cumulative",
        description='how the tiers apply: "cumulative" (default; Binance, Bybit, OKX): each '
        "tier's rate on the whole position less a maintenance amount derived from the tiers "
        'below, so MM is continuous; "whole" (BitMEX risk limits): the rate of the step the '
        "position reaches applies to the whole position with no deduction")
    order_unit: OrderUnit = Field(
        default="contracts",
        description='what the exchange\'s order box takes: "contracts" (default) or "usd" (a USD '
        "amount, e.g. Deribit's inverse perpetuals; inverse contracts only: the amount is "
        "contracts x Contract Value). Bybit inverse and BitMEX XBTUSD count 1-USD contracts, so "
        'they are "contracts" with the USD named in Order Field')
    order_field: str = Field(
        default="", description='what the exchange calls the order quantity, e.g. "Amount (USD)"')
    close_fee_in_bankruptcy: bool = Field(
        default=False,
        description="TRUE where the exchange reserves the taker fee to close the position at the "
        "bankruptcy price out of its margin (Bybit inverse); default FALSE")
    as_of: date
    source: str

    @field_validator("symbol")
    @classmethod
    def _symbol_form(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z0-9]+:[A-Za-z0-9_.\-/]+", value):
            raise ValueError("must look like EXCHANGE:NATIVE_ID, e.g. BINANCE:BTCUSD_PERP")
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
            raise ValueError("MM Tiers must start at floor 0 with floors strictly increasing")
        mmrs = [t.mmr for t in self.tiers]
        if any(b < a for a, b in itertools.pairwise(mmrs)):
            raise ValueError("MM Tiers' MMRs must not decrease")
        if self.order_unit == "usd" and self.contract_type != "inverse":
            raise ValueError('Order Unit "usd" needs an inverse contract (its Contract Value in '
                             "USD); a linear contract's order unit is contracts")
        return self

    @property
    def native_id(self) -> str:
        return self.symbol.split(":", 1)[1]

    @property
    def order_unit_label(self) -> str:
        """The unit of the exchange's order quantity: ``USD`` or ``contracts``."""
        return "USD" if self.order_unit == "usd" else "contracts"

    def order_quantity(self, contracts: float) -> float:
        """What to type in the exchange's order box for ``contracts`` contracts: a USD amount
        (``contracts * contract_value``) where the order unit is usd, else the contracts."""
        return contracts * self.contract_value if self.order_unit == "usd" else contracts

    @property
    def maintenance_amounts(self) -> tuple[float, ...]:
        """Each tier's maintenance amount: the cumulative rule, or all 0 for ``whole`` tiers."""
        if self.tier_mode == "whole":
            return (0.0,) * len(self.tiers)
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
        text = f"{_number_text(tier.floor)}:{_number_text(tier.mmr)}"
        if tier.max_leverage is not None:
            text += f"@{_number_text(tier.max_leverage)}"
        parts.append(text)
    return "; ".join(parts)


def _number_text(value: float) -> str:
    """``value`` as short text that reads back exactly, never in exponent form (a spreadsheet
    user reads 1000000, not 1e+06)."""
    return str(np.format_float_positional(float(value), trim="-"))


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
    "tier_mode": "Tier Mode",
    "order_unit": "Order Unit",
    "order_field": "Order Field",
    "close_fee_in_bankruptcy": "Close Fee in Bankruptcy",
    "as_of": "As Of",
    "source": "Source",
}


_FIELD_BY_KEY = {column_key(k): k for k in TABLE_COLUMNS} | {
    column_key(v): k for k, v in TABLE_COLUMNS.items()}

# Cells a row must fill, unless it overrides a known symbol (whose values its blank cells keep).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "symbol", "underlying", "contract_type", "contract_value", "tick_size", "max_leverage",
    "taker_fee", "tiers",
)
USER_SOURCE = "user"
EXCEL_EPOCH = datetime(1899, 12, 30)
# Excel's date numbers that are real dates: 1900-03-01 (after Excel's phantom 1900-02-29) on.
EXCEL_SERIALS = (61, 2958465)


def spec_from_row(
    row: Mapping[str, Any], registry: ContractRegistry | None = None, *, where: str = ""
) -> ContractSpec:
    """A spec from one table row; headings may be field names or the table's headings.

    Blank cells (empty, None, NaN) of a row whose symbol ``registry`` knows keep that spec's
    values, so a row may change only the Taker Fee; As Of and Source then become today and
    ``user: <changed headings>; ...`` unless the row changes nothing. A new symbol must fill
    Symbol, Underlying, Type, Contract Value, Tick Size, Max Leverage, Taker Fee and MM Tiers;
    the rest default: Exchange from the symbol, Quote USD, Settle the Underlying (inverse) or
    the Quote (linear), Lot Size 1, Min Order the Lot Size, Funding Interval 8 h, Maker Fee the
    Taker Fee, Tier Mode cumulative, Order Unit contracts, Order Field empty, Close Fee in
    Bankruptcy FALSE, As Of today, Source ``user``. Text cells are read as the csv module gives
    them (a CSV's TRUE and FALSE are text).

    Raises one :class:`InputError` naming the row (``where``) and every broken cell, by the
    headings the user sees: ``contract X:Y (row 3): Contract Value must be greater than 0 ...``.
    """
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for heading, value in row.items():
        field = _FIELD_BY_KEY.get(column_key(heading))
        if field is None or is_blank(value):
            continue
        try:
            data[field] = _CELL_READERS[field](value)
        except InputError as exc:
            errors[field] = TABLE_COLUMNS[field] + str(exc).removeprefix(exc.argument)
    symbol = data.get("symbol")
    base = registry.find(symbol) if registry is not None and symbol else None
    derived: dict[str, str] = {}
    if base is not None:
        data["symbol"] = base.symbol
        _inherit(data, errors, base)
    else:
        if symbol and ":" in symbol:
            exchange, native = symbol.split(":", 1)
            data["symbol"] = f"{exchange.upper()}:{native}"
        derived = _defaults(data, errors)
    label = f"contract {data.get('symbol') or symbol or '?'}" + (f" ({where})" if where else "")
    try:
        spec = ContractSpec.model_validate(data)
    except ValidationError as exc:
        missing_ok = bool(errors)  # a default not derived because its source cell is broken
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            if field in errors or (error["type"] == "missing" and missing_ok):
                continue
            errors[field or f"_{len(errors)}"] = _pydantic_message(field, error)
        for field, source in derived.items():  # a Maker Fee taken from a broken Taker Fee
            if source in errors:
                errors.pop(field, None)
    if errors:
        order = {f: i for i, f in enumerate(TABLE_COLUMNS)}
        messages = [errors[f] for f in sorted(errors, key=lambda f: order.get(f, len(order)))]
        raise InputError(f"{label}:", "; ".join(messages))
    return spec


def _inherit(data: dict[str, Any], errors: Mapping[str, str], base: ContractSpec) -> None:
    """Fill a row's blank cells from the spec it overrides."""
    changed = [
        heading for f, heading in TABLE_COLUMNS.items()
        if f not in ("as_of", "source")
        and (f in errors or (f in data and data[f] != getattr(base, f)))
    ]
    blank = [f for f in TABLE_COLUMNS if f not in data and f not in errors]
    for field in blank:
        data[field] = getattr(base, field)
    if changed and "as_of" in blank:
        data["as_of"] = date.today()
    if changed and "source" in blank:
        data["source"] = (f"{USER_SOURCE}: {', '.join(changed)}; other columns as of "
                          f"{base.as_of.isoformat()}: {base.source}")


def _defaults(data: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Fill a new contract's blank cells with the defaults; name the required ones missing.

    Returns the cells filled from another cell, e.g. ``{"maker_fee": "taker_fee"}``.
    """
    for field in REQUIRED_COLUMNS:
        if field not in data and field not in errors:
            errors[field] = f"{TABLE_COLUMNS[field]} is required"
    data.setdefault("quote", "USD")
    data.setdefault("lot_size", 1.0)
    data.setdefault("funding_interval_hours", 8.0)
    for field in _OPTIONAL_FIELDS:  # the field defaults, set here so that all defaults show here
        data.setdefault(field, ContractSpec.model_fields[field].default)
    data.setdefault("as_of", date.today())
    data.setdefault("source", USER_SOURCE)
    settle_from = {"inverse": "underlying", "linear": "quote"}.get(data.get("contract_type", ""))
    derived = {"exchange": "symbol", "settle": settle_from or "contract_type",
               "min_order": "lot_size", "maker_fee": "taker_fee"}
    for field, source in list(derived.items()):
        if field in data or field in errors:
            del derived[field]
        elif source in data:
            value = data[source]
            data[field] = value.split(":", 1)[0] if field == "exchange" else value
    return derived


def _pydantic_message(field: str, error: Any) -> str:
    """A pydantic error in the table's words: ``Contract Value must be greater than 0 (got -5)``."""
    message = str(error["msg"]).removeprefix("Value error, ")
    message = re.sub(r"^Input should be\b", "must be", message)
    if error["type"] == "missing":
        message = "is required"
    if field not in TABLE_COLUMNS:
        return message
    got = "" if error["type"] == "missing" else f" (got {error['input']!r})"
    return f"{TABLE_COLUMNS[field]} {message}{got}"


def _is_bool(value: object) -> bool:
    """TRUE/FALSE: a boolean cell, or its text in a CSV file."""
    if isinstance(value, str):
        return value.strip().upper() in ("TRUE", "FALSE")
    return isinstance(value, bool | np.bool_)


def _number(heading: str) -> Callable[[object], float]:
    def read(value: object) -> float:
        if _is_bool(value):
            raise InputError(heading, "must be a number, not TRUE/FALSE", value)
        try:
            number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(heading, "must be a number", value) from None
        if not math.isfinite(number):
            raise InputError(heading, "must be a finite number", value)
        return number

    return read


def _text(heading: str, upper: bool = False) -> Callable[[object], str]:
    def read(value: object) -> str:
        if isinstance(value, bool | np.bool_):  # the text TRUE may be a coin's name
            raise InputError(heading, "must be text, not TRUE/FALSE", value)
        text = str(value).strip()
        return text.upper() if upper else text

    return read


def _contract_type(value: object) -> str:
    text = value.strip().lower() if isinstance(value, str) else None
    if text not in ("inverse", "linear"):
        raise InputError(TABLE_COLUMNS["contract_type"], 'must be "inverse" or "linear"', value)
    return text


def _choice(field: str, allowed: tuple[str, ...]) -> Callable[[object], str]:
    """A reader of a cell that is one of ``allowed`` (any case)."""
    heading = TABLE_COLUMNS[field]
    rule = "must be " + " or ".join(f'"{a}"' for a in allowed)

    def read(value: object) -> str:
        text = value.strip().lower() if isinstance(value, str) else None
        if text not in allowed:
            raise InputError(heading, rule, value)
        return text

    return read


def _boolean(field: str) -> Callable[[object], bool]:
    """A reader of a TRUE/FALSE cell: a boolean, its text (any case), or the number 1 or 0."""
    heading = TABLE_COLUMNS[field]

    def read(value: object) -> bool:
        if isinstance(value, str) and value.strip().upper() in ("TRUE", "FALSE"):
            return value.strip().upper() == "TRUE"
        if isinstance(value, bool | np.bool_):
            return bool(value)
        if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
            return bool(value)
        raise InputError(heading, "must be TRUE or FALSE", value)

    return read


def _tiers(value: object) -> tuple[MarginTier, ...]:
    if isinstance(value, str):
        return parse_tiers(value)
    if isinstance(value, list | tuple) and value:
        try:
            return tuple(MarginTier.model_validate(t) for t in value)
        except ValidationError:
            pass
    raise InputError("tiers", 'must be text "floor:mmr[@max_leverage]; ..."', value)


def _as_date(value: object, heading: str = TABLE_COLUMNS["as_of"]) -> date:
    """A date from a table cell: a date, a timestamp, ISO text or an Excel date number."""
    rule = (f"must be a date: YYYY-MM-DD or an Excel date number from {EXCEL_SERIALS[0]} "
            f"(1900-03-01) to {EXCEL_SERIALS[1]} (9999-12-31)")
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    serial: float | None = None
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
        try:
            serial = float(value)
        except ValueError:
            raise InputError(heading, rule, value) from None
    elif isinstance(value, int | float | np.integer | np.floating) and not _is_bool(value):
        serial = float(value)
    if serial is None or not EXCEL_SERIALS[0] <= serial < EXCEL_SERIALS[1] + 1:  # NaN fails too
        raise InputError(heading, rule, value)
    return (EXCEL_EPOCH + timedelta(days=serial)).date()


_OPTIONAL_FIELDS = ("tier_mode", "order_unit", "order_field", "close_fee_in_bankruptcy")
_NUMBER_FIELDS = ("contract_value", "tick_size", "lot_size", "min_order",
                  "funding_interval_hours", "maker_fee", "taker_fee", "max_leverage")
_CELL_READERS: dict[str, Callable[[object], Any]] = {
    "symbol": _text(TABLE_COLUMNS["symbol"]),
    "exchange": _text(TABLE_COLUMNS["exchange"], upper=True),
    "underlying": _text(TABLE_COLUMNS["underlying"], upper=True),
    "quote": _text(TABLE_COLUMNS["quote"], upper=True),
    "contract_type": _contract_type,
    "settle": _text(TABLE_COLUMNS["settle"], upper=True),
    "tiers": _tiers,
    "tier_mode": _choice("tier_mode", TIER_MODES),
    "order_unit": _choice("order_unit", ORDER_UNITS),
    "order_field": _text(TABLE_COLUMNS["order_field"]),
    "close_fee_in_bankruptcy": _boolean("close_fee_in_bankruptcy"),
    "as_of": _as_date,
    "source": _text(TABLE_COLUMNS["source"]),
}
_CELL_READERS |= {field: _number(TABLE_COLUMNS[field]) for field in _NUMBER_FIELDS}

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
        spec = self.find(symbol)
        if spec is not None:
            return spec
        raise UnknownContractError(str(symbol), self.closest(str(symbol).strip().upper()))

    def find(self, symbol: str) -> ContractSpec | None:
        """The spec for ``symbol`` (any case), or None."""
        return self._specs.get(str(symbol).strip().upper())

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

    def with_rows(
        self, rows: Iterable[Mapping[str, Any]], where: str = "table row {n}"
    ) -> ContractRegistry:
        """Override or add specs from table rows (see :func:`spec_from_row`); blank rows skipped.

        Each row is read against these specs, so a row for a known symbol inherits their values
        for its blank cells. ``where`` names a row in errors; ``{n}`` is its number from 1.
        """
        specs = [
            spec_from_row(row, self, where=where.format(n=n))
            for n, row in enumerate(rows, start=1)
            if not all(is_blank(v) for v in row.values())
        ]
        return self.with_specs(specs)

    def with_frame(self, frame: pd.DataFrame) -> ContractRegistry:
        """Override or add specs from a table (e.g. the workbook's Contracts sheet)."""
        records = frame.to_dict("records")
        return self.with_rows({str(k): v for k, v in row.items()} for row in records)

    def to_frame(self) -> pd.DataFrame:
        """The registry as a table with the workbook's headings; tiers as editable text."""
        import pandas as pd

        rows = []
        for spec in self:
            data = spec.model_dump()
            data["tiers"] = format_tiers(spec.tiers)
            rows.append({TABLE_COLUMNS[k]: data[k] for k in TABLE_COLUMNS})
        return pd.DataFrame(rows, columns=list(TABLE_COLUMNS.values()))


BUILTIN_FILE = "data/contracts.csv"


@functools.cache
def default_registry() -> ContractRegistry:
    """The built-in, dated specs, read from the package's ``data/contracts.csv``.

    That file is a snapshot of the exchanges' published numbers in the Contracts table's columns,
    each row with the date and source of its numbers; it is read by the same rules as a user's
    table. Users override any of it from the workbook's Contracts table or ``--contracts``.
    """
    text = importlib.resources.files("xlhedge").joinpath(BUILTIN_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(io.StringIO(text, newline=""))
    return ContractRegistry().with_rows(rows, where=f"xlhedge/{BUILTIN_FILE} row {{n}}")


def get_contract(symbol: str, registry: ContractRegistry | None = None) -> ContractSpec:
    """The spec for ``symbol`` (``EXCHANGE:NATIVE_ID``); unknown symbols name the closest ones."""
    return (registry or default_registry()).get(symbol)
