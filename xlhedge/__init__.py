"""xlhedge: hedge spot crypto holdings with coin-margined (inverse) perpetual futures.

The calculation core: pure functions that broadcast over numpy arrays and pandas Series (a scalar
call returns a float), contract specs, and the plan for a whole inventory. No Excel, files or
network here; those are the faces (``xlhedge.udfs``, ``xlhedge.cli``, ...).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xlhedge.contracts import (
        ContractRegistry,
        ContractSpec,
        MarginTier,
        default_registry,
        get_contract,
    )
    from xlhedge.costs import annualised_funding, funding_over, funding_payment, trading_fee
    from xlhedge.crosshedge import (
        dollar_offset,
        hedge_effectiveness,
        is_highly_effective,
        min_variance_hedge_ratio,
    )
    from xlhedge.errors import InputError, UnknownContractError, XlhedgeError
    from xlhedge.margin import (
        bankruptcy_price,
        cross_liquidation_price,
        initial_margin,
        liquidation_price,
        maintenance_margin,
        margin_for_liquidation,
        position_value,
        tiered_liquidation_price,
    )
    from xlhedge.openhedge import margin_ratio, margin_to_add, net_coin_delta, rebalance_contracts
    from xlhedge.plan import plan_hedge, plan_totals, scenario_summary, scenario_table
    from xlhedge.pnl import average_entry_price, inverse_pnl, linear_pnl, roi, target_price
    from xlhedge.scenarios import DEFAULT_MOVES, hedge_scenarios
    from xlhedge.sizing import hedge_contracts

# Where each public name lives: imported on first use, so that ``import xlhedge`` (and the command
# line's --help) does not pay for numpy, pandas and pydantic.
_HOMES = {
    "xlhedge.contracts": ("ContractRegistry", "ContractSpec", "MarginTier", "default_registry",
                          "get_contract"),
    "xlhedge.costs": ("annualised_funding", "funding_over", "funding_payment", "trading_fee"),
    "xlhedge.openhedge": ("margin_ratio", "margin_to_add", "net_coin_delta",
                          "rebalance_contracts"),
    "xlhedge.crosshedge": ("dollar_offset", "hedge_effectiveness", "is_highly_effective",
                           "min_variance_hedge_ratio"),
    "xlhedge.errors": ("InputError", "UnknownContractError", "XlhedgeError"),
    "xlhedge.margin": ("bankruptcy_price", "cross_liquidation_price", "initial_margin",
                       "liquidation_price", "maintenance_margin", "margin_for_liquidation",
                       "position_value", "tiered_liquidation_price"),
    "xlhedge.plan": ("plan_hedge", "plan_totals", "scenario_summary", "scenario_table"),
    "xlhedge.pnl": ("average_entry_price", "inverse_pnl", "linear_pnl", "roi", "target_price"),
    "xlhedge.scenarios": ("DEFAULT_MOVES", "hedge_scenarios"),
    "xlhedge.sizing": ("hedge_contracts",),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _HOME_OF:
        value = getattr(importlib.import_module(_HOME_OF[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'xlhedge' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MOVES",
    "ContractRegistry",
    "ContractSpec",
    "InputError",
    "MarginTier",
    "UnknownContractError",
    "XlhedgeError",
    "annualised_funding",
    "average_entry_price",
    "bankruptcy_price",
    "cross_liquidation_price",
    "default_registry",
    "dollar_offset",
    "funding_over",
    "funding_payment",
    "get_contract",
    "hedge_contracts",
    "hedge_effectiveness",
    "hedge_scenarios",
    "initial_margin",
    "inverse_pnl",
    "is_highly_effective",
    "linear_pnl",
    "liquidation_price",
    "maintenance_margin",
    "margin_for_liquidation",
    "margin_ratio",
    "margin_to_add",
    "min_variance_hedge_ratio",
    "net_coin_delta",
    "plan_hedge",
    "plan_totals",
    "position_value",
    "rebalance_contracts",
    "roi",
    "scenario_summary",
    "scenario_table",
    "target_price",
    "tiered_liquidation_price",
    "trading_fee",
]
