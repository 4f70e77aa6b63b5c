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

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
import xlwings as xw

import xlhedge as core
from xlhedge.contracts import TABLE_COLUMNS, format_tiers
from xlhedge.errors import InputError
from xlhedge.excel.cells import TOO_LARGE, cell_function
from xlhedge.plan import NEVER

CATEGORY = "xlhedge"
DEFAULT_MMR = 0.005  # LIQUIDATION_PRICE without an MMR: 0.5%, the base tier of most exchanges

SCENARIO_HEADER = ["Move", "Price", "Unhedged USD", "Hedge PnL (coin)", "Hedge PnL USD",
                   "Hedged USD", "Liquidated"]

#: What Excel's function wizard shows for each argument (a function may override one).
ARGUMENT_DOCS = {
    "quantity": "Coins held (a cell or a column)",
    "price": "USD price of one coin",
    "contracts": "Number of contracts",
    "contract_value": "USD per contract (inverse) or coin (linear)",
    "contract_size": "Coin per contract",
    "entry_price": "Entry price, USD per coin",
    "exit_price": "Exit (or mark) price, USD per coin",
    "mark_price": "Mark price",
    "side": '"short" (default) or "long"',
    "margin": "Isolated margin: coin (inverse) or quote (linear)",
    "leverage": "Leverage, >= 1",
    "contract_type": '"inverse" (default) or "linear"',
    "hedge_ratio": "Share of the holding to hedge; default 1",
    "lot_size": "Contracts per lot; default 1 (BitMEX XBTUSD: 100)",
    "collateral": "Coins posted as margin, hedged too; default 0",
    "mmr": "Maintenance-margin rate of the tier; default 0.005",
    "maintenance_amount": "Tier's maintenance amount (deduction); default 0",
    "mm_basis": '"mark" (Binance COIN-M, Bybit, OKX; default) or "entry" (BitMEX)',
    "funding_rate": "Funding rate per interval, e.g. 0.0001",
    "fee_rate": "Fee rate, e.g. 0.0005 for 0.05% taker",
    "wallet_balance": "Cross wallet balance: coin (inverse) or quote (linear)",
    "other_maintenance": "Maintenance margin of the wallet's other positions; default 0",
    "other_pnl": "Unrealised PnL of the wallet's other positions; default 0",
    "close_fee_rate": "Fee to close reserved at the bankruptcy price (Bybit: 0.00075); default 0",
    "target_price": "Price at which the position should be liquidated",
}


def udf(
    ranges: tuple[str, ...] = (),
    columns: tuple[str, ...] = (),
    docs: dict[str, str] | None = None,
    inf_text: str = TOO_LARGE,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """An xlwings worksheet function over :func:`cell_function`.

    ``ranges`` broadcast cell by cell (a column in, a column out); ``columns`` arrive whole, as
    lists (a series of prices); every other argument is a single cell. Argument docs come from
    :data:`ARGUMENT_DOCS`, overridden by ``docs``.
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        names = list(inspect.signature(func).parameters)
        singles = tuple(n for n in names if n not in ranges and n not in columns)
        wrapped = cell_function(elementwise=ranges, singles=singles, inf_text=inf_text)(func)
        for name in names:
            doc = (docs or {}).get(name) or ARGUMENT_DOCS[name]
            options = {"ndim": 2} if name in ranges else {"ndim": 1} if name in columns else {}
            wrapped = xw.arg(name, doc=doc, **options)(wrapped)
        return xw.func(category=CATEGORY)(wrapped)

    return decorate


@udf(ranges=("quantity", "price", "contract_value", "hedge_ratio", "lot_size", "collateral"),
     docs={"contract_value": "USD per contract (inverse), e.g. 100 on Binance COIN-M BTC"})
def HEDGE_CONTRACTS(
    quantity: Any, price: Any, contract_value: Any, hedge_ratio: Any = 1.0,
    contract_type: Any = "inverse", lot_size: Any = 1.0, collateral: Any = 0.0,
) -> Any:
    """Contracts to short to hedge a holding, rounded to the nearest lot."""
    return core.hedge_contracts(quantity, price, contract_value, hedge_ratio, contract_type,
                                lot_size, collateral)


@udf(ranges=("contracts", "contract_value", "entry_price", "exit_price", "side"),
     docs={"contract_value": "USD per contract"})
def INVERSE_PNL(
    contracts: Any, contract_value: Any, entry_price: Any, exit_price: Any, side: Any = "short"
) -> Any:
    """Profit of an inverse (coin-margined) position, in coin."""
    return core.inverse_pnl(contracts, contract_value, entry_price, exit_price, side)


@udf(ranges=("contracts", "contract_size", "entry_price", "exit_price", "side"),
     docs={"entry_price": "Entry price", "exit_price": "Exit (or mark) price"})
def LINEAR_PNL(
    contracts: Any, contract_size: Any, entry_price: Any, exit_price: Any, side: Any = "short"
) -> Any:
    """Profit of a linear (USDT-margined) position, in the quote currency."""
    return core.linear_pnl(contracts, contract_size, entry_price, exit_price, side)


@udf(ranges=("side", "contracts", "contract_value", "entry_price", "margin", "mmr",
             "maintenance_amount"),
     docs={"side": '"short" or "long"', "entry_price": "Entry price"}, inf_text=NEVER)
def LIQUIDATION_PRICE(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, margin: Any,
    mmr: Any = DEFAULT_MMR, maintenance_amount: Any = 0.0, contract_type: Any = "inverse",
    mm_basis: Any = "mark",
) -> Any:
    """Liquidation price of an isolated position; "never" where it cannot be liquidated."""
    return core.liquidation_price(side, contracts, contract_value, entry_price, margin, mmr,
                                  maintenance_amount, contract_type, mm_basis)


@udf(ranges=("side", "contracts", "contract_value", "entry_price", "margin"),
     docs={"side": '"short" or "long"', "entry_price": "Entry price"}, inf_text=NEVER)
def BANKRUPTCY_PRICE(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, margin: Any,
    contract_type: Any = "inverse",
) -> Any:
    """Price at which the isolated margin is gone; "never" for a 1x short."""
    return core.bankruptcy_price(side, contracts, contract_value, entry_price, margin,
                                 contract_type)


@udf(ranges=("side", "contracts", "contract_value", "entry_price", "wallet_balance", "mmr",
             "maintenance_amount", "other_maintenance", "other_pnl", "close_fee_rate"),
     docs={"side": '"short" or "long"', "entry_price": "Entry price"}, inf_text=NEVER)
def CROSS_LIQUIDATION_PRICE(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, wallet_balance: Any,
    mmr: Any = DEFAULT_MMR, maintenance_amount: Any = 0.0, other_maintenance: Any = 0.0,
    other_pnl: Any = 0.0, contract_type: Any = "inverse", mm_basis: Any = "mark",
    close_fee_rate: Any = 0.0,
) -> Any:
    """Liquidation price in cross margin (Binance's one-way rule); "never" where it cannot be."""
    return core.cross_liquidation_price(side, contracts, contract_value, entry_price,
                                        wallet_balance, mmr, maintenance_amount,
                                        other_maintenance, other_pnl, contract_type, mm_basis,
                                        close_fee_rate)


@udf(ranges=("side", "contracts", "contract_value", "entry_price", "target_price", "mmr",
             "maintenance_amount"),
     docs={"side": '"short" or "long"', "entry_price": "Entry price"})
def MARGIN_FOR_LIQUIDATION(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, target_price: Any,
    mmr: Any = DEFAULT_MMR, maintenance_amount: Any = 0.0, contract_type: Any = "inverse",
) -> Any:
    """Isolated margin that puts the liquidation price (mark basis) at the target price."""
    return core.margin_for_liquidation(side, contracts, contract_value, entry_price,
                                       target_price, mmr, maintenance_amount, contract_type)


@udf(ranges=("contracts", "contract_value", "price", "leverage"), docs={"price": "Entry price"})
def INITIAL_MARGIN(
    contracts: Any, contract_value: Any, price: Any, leverage: Any, contract_type: Any = "inverse"
) -> Any:
    """Initial margin: coin for inverse contracts, quote currency for linear ones."""
    return core.initial_margin(contracts, contract_value, price, leverage, contract_type)


@udf(ranges=("contracts", "contract_value", "mark_price", "funding_rate", "side"))
def FUNDING_PAYMENT(
    contracts: Any, contract_value: Any, mark_price: Any, funding_rate: Any, side: Any = "short",
    contract_type: Any = "inverse",
) -> Any:
    """Funding for one interval; positive = received (a short receives a positive rate)."""
    return core.funding_payment(contracts, contract_value, mark_price, funding_rate, side,
                                contract_type)


@udf(ranges=("contracts", "contract_value", "mark_price", "funding_rate", "days"),
     docs={"days": "Days the hedge is held", "interval_hours": "Hours between fundings (8)"})
def FUNDING_OVER(
    contracts: Any, contract_value: Any, mark_price: Any, funding_rate: Any, days: Any,
    interval_hours: Any = 8.0, side: Any = "short", contract_type: Any = "inverse",
) -> Any:
    """Funding over a number of days at a constant rate; positive = received."""
    return core.funding_over(contracts, contract_value, mark_price, funding_rate, days,
                             interval_hours, side, contract_type)


@udf(ranges=("contracts", "contract_value", "price", "fee_rate"), docs={"price": "Fill price"})
def TRADING_FEE(
    contracts: Any, contract_value: Any, price: Any, fee_rate: Any, contract_type: Any = "inverse"
) -> Any:
    """Fee of one fill in coin (inverse) or quote (linear); positive = paid."""
    return core.trading_fee(contracts, contract_value, price, fee_rate, contract_type)


@udf(columns=("contracts", "prices"),
     docs={"contracts": "Contracts of each fill (a range)",
           "prices": "Price of each fill (a range of the same size)",
           "contract_type": '"inverse" (default, harmonic mean) or "linear"'})
def AVG_ENTRY_PRICE(contracts: Any, prices: Any, contract_type: Any = "inverse") -> Any:
    """Average entry price of several fills (harmonic mean for inverse contracts)."""
    n, p = np.ravel(np.asarray(contracts, dtype=object)), np.ravel(np.asarray(prices, dtype=object))
    if n.size != p.size:
        raise InputError("prices", f"must have as many cells as contracts ({p.size} vs {n.size})")
    return core.average_entry_price(n, p, contract_type)


@udf(columns=("moves",),
     docs={"quantity": "Coins held", "price": "USD price now", "contracts": "Contracts shorted",
           "contract_value": "USD per contract",
           "moves": "Price moves as fractions (a range); default -50% to +100%",
           "collateral": "Coins posted as margin; default 0",
           "liquidation_price": 'The hedge\'s liquidation price; default "never"',
           "margin": "Isolated margin lost if liquidated (coin); default 0"})
def HEDGE_SCENARIOS(
    quantity: Any, price: Any, contracts: Any, contract_value: Any,
    moves: Any = core.DEFAULT_MOVES, collateral: Any = 0.0, liquidation_price: Any = NEVER,
    margin: Any = 0.0,
) -> Any:
    """Scenario table with a header row: value of the holding, hedge and both per price move."""
    never = isinstance(liquidation_price, str) and liquidation_price.strip().lower() == NEVER
    table = core.hedge_scenarios(
        quantity, price, contracts, contract_value, np.ravel(np.asarray(moves, dtype=object)),
        collateral, liquidation_price=np.inf if never else liquidation_price, margin=margin,
    )
    rows = table[["move", "price", "unhedged_usd", "hedge_pnl_coin", "hedge_pnl_usd",
                  "hedged_usd"]].to_numpy(dtype=float).tolist()
    flags = ["yes" if hit else "no" for hit in table["liquidated"]]
    return [list(SCENARIO_HEADER)] + [[*row, flag] for row, flag in zip(rows, flags, strict=True)]


@udf(columns=("spot_prices", "hedge_prices"),
     docs={"spot_prices": "Price history of the coin you hold (a range)",
           "hedge_prices": "Price history of the hedge contract's coin, same dates"})
def HEDGE_RATIO(spot_prices: Any, hedge_prices: Any) -> Any:
    """Minimum-variance cross-hedge ratio: OLS slope of spot returns on hedge returns."""
    return core.min_variance_hedge_ratio(spot_prices, hedge_prices)


@udf(columns=("spot_prices", "hedge_prices"),
     docs={"spot_prices": "Price history of the coin you hold (a range)",
           "hedge_prices": "Price history of the hedge contract's coin, same dates"})
def HEDGE_EFFECTIVENESS(spot_prices: Any, hedge_prices: Any) -> Any:
    """R² of the cross-hedge: the share of the spot's return variance the hedge removes."""
    return core.hedge_effectiveness(spot_prices, hedge_prices)


_OPEN_DOCS = {"coins": "Coins of the asset you own, the exchange wallet included",
              "entry_price": "Average entry of the open position", "mark_price": "Mark price now",
              "price": "Price now", "margin": "Isolated margin (coin), or the cross wallet",
              "min_distance": "How far beyond the mark liquidation must stay; default 0.3"}


@udf(ranges=("coins", "contracts", "contract_value", "entry_price"), docs=_OPEN_DOCS)
def NET_COIN_DELTA(coins: Any, contracts: Any, contract_value: Any, entry_price: Any) -> Any:
    """Coins owned less those an open inverse short has locked (coins - N/E)."""
    return core.net_coin_delta(coins, contracts, contract_value, entry_price)


@udf(ranges=("coins", "contracts", "contract_value", "entry_price", "price", "hedge_ratio",
             "lot_size"), docs=_OPEN_DOCS)
def REBALANCE_CONTRACTS(
    coins: Any, contracts: Any, contract_value: Any, entry_price: Any, price: Any,
    hedge_ratio: Any = 1.0, lot_size: Any = 1.0,
) -> Any:
    """Contracts to trade to bring an open inverse short back to the hedge ratio: + sell, - buy."""
    return core.rebalance_contracts(coins, contracts, contract_value, entry_price, price,
                                    hedge_ratio, lot_size)


@udf(ranges=("side", "contracts", "contract_value", "entry_price", "mark_price", "margin", "mmr",
             "maintenance_amount"), docs=_OPEN_DOCS)
def MARGIN_RATIO(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, mark_price: Any,
    margin: Any, mmr: Any = DEFAULT_MMR, maintenance_amount: Any = 0.0,
    contract_type: Any = "inverse",
) -> Any:
    """Maintenance margin over margin balance (margin plus unrealised PnL): 100% liquidates."""
    return core.margin_ratio(side, contracts, contract_value, entry_price, mark_price, margin,
                             mmr, maintenance_amount, contract_type)


@udf(ranges=("side", "contracts", "contract_value", "entry_price", "mark_price", "margin", "mmr",
             "maintenance_amount", "min_distance"), docs=_OPEN_DOCS)
def MARGIN_TO_ADD(
    side: Any, contracts: Any, contract_value: Any, entry_price: Any, mark_price: Any,
    margin: Any, mmr: Any = DEFAULT_MMR, maintenance_amount: Any = 0.0,
    min_distance: Any = 0.30, contract_type: Any = "inverse",
) -> Any:
    """Margin to add so that liquidation stays min_distance beyond the mark; 0 when enough."""
    return core.margin_to_add(side, contracts, contract_value, entry_price, mark_price, margin,
                              mmr, maintenance_amount, min_distance, contract_type)


SPEC_FIELDS = {key.replace("_", ""): key for key in TABLE_COLUMNS} | {
    heading.lower().replace(" ", "").replace("(h)", ""): key
    for key, heading in TABLE_COLUMNS.items()
} | {"maintenanceamounts": "maintenance_amounts", "nativeid": "native_id"}


@udf(docs={"symbol": 'Contract symbol, e.g. "BINANCE:BTCUSD_PERP"',
           "field": 'e.g. "contract_value", "tick_size", "taker_fee", "tiers"'})
def CONTRACT_SPEC(symbol: Any, field: Any) -> Any:
    """A field of a built-in contract spec, e.g. its contract value."""
    spec = core.get_contract(str(symbol))
    key = SPEC_FIELDS.get(str(field).lower().replace("_", "").replace(" ", ""))
    if key is None:
        raise InputError("field", "must be one of " + ", ".join(sorted(set(SPEC_FIELDS.values()))),
                         field)
    value = getattr(spec, key)
    if key == "tiers":
        return format_tiers(value)
    if isinstance(value, tuple):
        return "; ".join(f"{v:g}" for v in value)
    return value if isinstance(value, int | float) else str(value)
