"""Worksheet functions: thin xlwings wrappers over the calculation core.

This is the module the workbook's ``xlwings.conf`` names under ``UDF Modules``. Names, argument
order and meaning are a public contract. Every function goes through
:func:`xlhedge.excel.cells.cell_function`: blank optional arguments take their defaults, ranges
broadcast (a column in, a column out, which spills in Excel 365), a failure shows as a short
``#...`` text naming the argument and the rule, and a price that is never reached shows ``never``.

Arguments and results are annotated ``Any`` on purpose: xlwings reads a UDF's type hints as
converters, and ``Any`` is its default (plain values; ``ndim`` from ``xw.arg``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xlwings as xw

import xlhedge as core
from xlhedge.contracts import TABLE_COLUMNS, format_tiers
from xlhedge.errors import InputError
from xlhedge.excel.cells import NEVER, cell_function, scalar

CATEGORY = "xlhedge"
DEFAULT_MMR = 0.005  # LIQUIDATION_PRICE without an MMR: 0.5%, the base tier of most exchanges

SCENARIO_HEADER = ["Move", "Price", "Unhedged USD", "Hedge PnL (coin)", "Hedge PnL USD",
                   "Hedged USD", "Liquidated"]


def _text(name: str, value: object) -> str:
    return str(scalar(name, value))


@xw.func(category=CATEGORY)
@xw.arg("quantity", ndim=2, doc="Coins held (a cell or a column)")
@xw.arg("price", ndim=2, doc="USD price of one coin")
@xw.arg("contract_value", ndim=2, doc="USD per contract (inverse), e.g. 100 on Binance COIN-M BTC")
@xw.arg("hedge_ratio", ndim=2, doc="Share of the holding to hedge; default 1")
@xw.arg("contract_type", doc='"inverse" (default) or "linear"')
@xw.arg("lot_size", ndim=2, doc="Contracts per lot; default 1 (BitMEX XBTUSD: 100)")
@xw.arg("collateral", ndim=2, doc="Coins posted as margin, hedged too; default 0")
@cell_function(elementwise=("quantity", "price", "contract_value", "hedge_ratio", "lot_size",
                            "collateral"))
def HEDGE_CONTRACTS(
    quantity: Any, price: Any, contract_value: Any, hedge_ratio: Any = 1.0,
    contract_type: Any = "inverse", lot_size: Any = 1.0, collateral: Any = 0.0,
) -> Any:
    """Contracts to short to hedge a holding, rounded to the nearest lot."""
    return core.hedge_contracts(quantity, price, contract_value, hedge_ratio,
                                _text("contract_type", contract_type), lot_size, collateral)


@xw.func(category=CATEGORY)
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_value", ndim=2, doc="USD per contract")
@xw.arg("entry_price", ndim=2, doc="Entry price, USD per coin")
@xw.arg("exit_price", ndim=2, doc="Exit (or mark) price, USD per coin")
@xw.arg("side", ndim=2, doc='"short" (default) or "long"')
@cell_function(elementwise=("contracts", "contract_value", "entry_price", "exit_price", "side"))
def INVERSE_PNL(
    contracts: Any, contract_value: Any, entry_price: Any, exit_price: Any, side: Any = "short"
) -> Any:
    """Profit of an inverse (coin-margined) position, in coin."""
    return core.inverse_pnl(contracts, contract_value, entry_price, exit_price, side)


@xw.func(category=CATEGORY)
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_size", ndim=2, doc="Coin per contract")
@xw.arg("entry_price", ndim=2, doc="Entry price")
@xw.arg("exit_price", ndim=2, doc="Exit (or mark) price")
@xw.arg("side", ndim=2, doc='"short" (default) or "long"')
@cell_function(elementwise=("contracts", "contract_size", "entry_price", "exit_price", "side"))
def LINEAR_PNL(
    contracts: Any, contract_size: Any, entry_price: Any, exit_price: Any, side: Any = "short"
) -> Any:
    """Profit of a linear (USDT-margined) position, in the quote currency."""
    return core.linear_pnl(contracts, contract_size, entry_price, exit_price, side)


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc='"short" or "long"')
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_value", ndim=2, doc="USD per contract (inverse) or coin (linear)")
@xw.arg("entry_price", ndim=2, doc="Entry price")
@xw.arg("margin", ndim=2, doc="Isolated margin: coin (inverse) or quote (linear)")
@xw.arg("mmr", ndim=2, doc="Maintenance-margin rate of the tier; default 0.005")
@xw.arg("maintenance_amount", ndim=2, doc="Tier's maintenance amount (deduction); default 0")
@xw.arg("contract_type", doc='"inverse" (default) or "linear"')
@xw.arg("mm_basis", doc='"mark" (Binance COIN-M, Bybit, OKX; default) or "entry" (BitMEX)')
@cell_function(elementwise=("side", "contracts", "contract_value", "entry_price", "margin", "mmr",
                            "maintenance_amount"), inf_text=NEVER)
def LIQUIDATION_PRICE(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, margin: Any,
    mmr: Any = DEFAULT_MMR, maintenance_amount: Any = 0.0, contract_type: Any = "inverse",
    mm_basis: Any = "mark",
) -> Any:
    """Liquidation price of an isolated position; "never" where it cannot be liquidated."""
    return core.liquidation_price(side, contracts, contract_value, entry_price, margin, mmr,
                                  maintenance_amount, _text("contract_type", contract_type),
                                  _text("mm_basis", mm_basis))


@xw.func(category=CATEGORY)
@xw.arg("side", ndim=2, doc='"short" or "long"')
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_value", ndim=2, doc="USD per contract (inverse) or coin (linear)")
@xw.arg("entry_price", ndim=2, doc="Entry price")
@xw.arg("margin", ndim=2, doc="Isolated margin: coin (inverse) or quote (linear)")
@xw.arg("contract_type", doc='"inverse" (default) or "linear"')
@cell_function(elementwise=("side", "contracts", "contract_value", "entry_price", "margin"),
               inf_text=NEVER)
def BANKRUPTCY_PRICE(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, margin: Any,
    contract_type: Any = "inverse",
) -> Any:
    """Price at which the isolated margin is gone; "never" for a 1x short."""
    return core.bankruptcy_price(side, contracts, contract_value, entry_price, margin,
                                 _text("contract_type", contract_type))


@xw.func(category=CATEGORY)
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_value", ndim=2, doc="USD per contract (inverse) or coin (linear)")
@xw.arg("price", ndim=2, doc="Entry price")
@xw.arg("leverage", ndim=2, doc="Leverage, >= 1")
@xw.arg("contract_type", doc='"inverse" (default) or "linear"')
@cell_function(elementwise=("contracts", "contract_value", "price", "leverage"))
def INITIAL_MARGIN(
    contracts: Any, contract_value: Any, price: Any, leverage: Any, contract_type: Any = "inverse"
) -> Any:
    """Initial margin: coin for inverse contracts, quote currency for linear ones."""
    return core.initial_margin(contracts, contract_value, price, leverage,
                               _text("contract_type", contract_type))


@xw.func(category=CATEGORY)
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_value", ndim=2, doc="USD per contract (inverse) or coin (linear)")
@xw.arg("mark_price", ndim=2, doc="Mark price")
@xw.arg("funding_rate", ndim=2, doc="Funding rate per interval, e.g. 0.0001")
@xw.arg("side", ndim=2, doc='"short" (default) or "long"')
@xw.arg("contract_type", doc='"inverse" (default) or "linear"')
@cell_function(elementwise=("contracts", "contract_value", "mark_price", "funding_rate", "side"))
def FUNDING_PAYMENT(
    contracts: Any, contract_value: Any, mark_price: Any, funding_rate: Any, side: Any = "short",
    contract_type: Any = "inverse",
) -> Any:
    """Funding for one interval; positive = received (a short receives a positive rate)."""
    return core.funding_payment(contracts, contract_value, mark_price, funding_rate, side,
                                _text("contract_type", contract_type))


@xw.func(category=CATEGORY)
@xw.arg("contracts", ndim=2, doc="Number of contracts")
@xw.arg("contract_value", ndim=2, doc="USD per contract (inverse) or coin (linear)")
@xw.arg("price", ndim=2, doc="Fill price")
@xw.arg("fee_rate", ndim=2, doc="Fee rate, e.g. 0.0005 for 0.05% taker")
@xw.arg("contract_type", doc='"inverse" (default) or "linear"')
@cell_function(elementwise=("contracts", "contract_value", "price", "fee_rate"))
def TRADING_FEE(
    contracts: Any, contract_value: Any, price: Any, fee_rate: Any, contract_type: Any = "inverse"
) -> Any:
    """Fee of one fill in coin (inverse) or quote (linear); positive = paid."""
    return core.trading_fee(contracts, contract_value, price, fee_rate,
                            _text("contract_type", contract_type))


@xw.func(category=CATEGORY)
@xw.arg("contracts", ndim=1, doc="Contracts of each fill (a range)")
@xw.arg("prices", ndim=1, doc="Price of each fill (a range of the same size)")
@xw.arg("contract_type", doc='"inverse" (default, harmonic mean) or "linear"')
@cell_function()
def AVG_ENTRY_PRICE(contracts: Any, prices: Any, contract_type: Any = "inverse") -> Any:
    """Average entry price of several fills (harmonic mean for inverse contracts)."""
    n, p = np.ravel(np.asarray(contracts, dtype=object)), np.ravel(np.asarray(prices, dtype=object))
    if n.size != p.size:
        raise InputError("prices", f"must have as many cells as contracts ({p.size} vs {n.size})")
    return core.average_entry_price(n, p, _text("contract_type", contract_type))


@xw.func(category=CATEGORY)
@xw.arg("quantity", doc="Coins held")
@xw.arg("price", doc="USD price now")
@xw.arg("contracts", doc="Contracts shorted")
@xw.arg("contract_value", doc="USD per contract")
@xw.arg("moves", ndim=1, doc="Price moves as fractions (a range); default -50% to +100%")
@xw.arg("collateral", doc="Coins posted as margin; default 0")
@xw.arg("liquidation_price", doc='The hedge\'s liquidation price; default "never"')
@xw.arg("margin", doc="Isolated margin lost if liquidated (coin); default 0")
@cell_function()
def HEDGE_SCENARIOS(
    quantity: Any, price: Any, contracts: Any, contract_value: Any,
    moves: Any = core.DEFAULT_MOVES, collateral: Any = 0.0, liquidation_price: Any = "never",
    margin: Any = 0.0,
) -> Any:
    """Scenario table with a header row: value of the holding, hedge and both per price move."""
    liq = scalar("liquidation_price", liquidation_price)
    table = core.hedge_scenarios(
        _number("quantity", quantity), _number("price", price), _number("contracts", contracts),
        _number("contract_value", contract_value), np.ravel(np.asarray(moves, dtype=object)),
        _number("collateral", collateral),
        liquidation_price=np.inf if str(liq).strip().lower() == "never" else _number(
            "liquidation_price", liq),
        margin=_number("margin", margin),
    )
    rows = table[["move", "price", "unhedged_usd", "hedge_pnl_coin", "hedge_pnl_usd",
                  "hedged_usd"]].to_numpy(dtype=float).tolist()
    flags = ["yes" if hit else "no" for hit in table["liquidated"]]
    return [list(SCENARIO_HEADER)] + [[*row, flag] for row, flag in zip(rows, flags, strict=True)]


def _number(name: str, value: object) -> float:
    value = scalar(name, value)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InputError(name, "must be a number", value) from None


@xw.func(category=CATEGORY)
@xw.arg("spot_prices", ndim=1, doc="Price history of the coin you hold (a range)")
@xw.arg("hedge_prices", ndim=1, doc="Price history of the hedge contract's coin, same dates")
@cell_function()
def HEDGE_RATIO(spot_prices: Any, hedge_prices: Any) -> Any:
    """Minimum-variance cross-hedge ratio: OLS slope of spot returns on hedge returns."""
    return core.min_variance_hedge_ratio(spot_prices, hedge_prices)


SPEC_FIELDS = {key.replace("_", ""): key for key in TABLE_COLUMNS} | {
    heading.lower().replace(" ", "").replace("(h)", ""): key
    for key, heading in TABLE_COLUMNS.items()
} | {"maintenanceamounts": "maintenance_amounts", "nativeid": "native_id"}


@xw.func(category=CATEGORY)
@xw.arg("symbol", doc='Contract symbol, e.g. "BINANCE:BTCUSD_PERP"')
@xw.arg("field", doc='e.g. "contract_value", "tick_size", "taker_fee", "tiers"')
@cell_function()
def CONTRACT_SPEC(symbol: Any, field: Any) -> Any:
    """A field of a built-in contract spec, e.g. its contract value."""
    spec = core.get_contract(_text("symbol", symbol))
    key = SPEC_FIELDS.get(_text("field", field).lower().replace("_", "").replace(" ", ""))
    if key is None:
        raise InputError("field", "must be one of " + ", ".join(sorted(set(SPEC_FIELDS.values()))),
                         field)
    value = getattr(spec, key)
    if key == "tiers":
        return format_tiers(value)
    if isinstance(value, tuple):
        return "; ".join(f"{v:g}" for v in value)
    return value if isinstance(value, int | float) else str(value)
