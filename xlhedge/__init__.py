"""xlhedge: hedge spot crypto holdings with coin-margined (inverse) perpetual futures.

The calculation core: pure functions that broadcast over numpy arrays and pandas Series (a scalar
call returns a float), contract specs, and the plan for a whole inventory. No Excel, files or
network here; those are the faces (``xlhedge.udfs``, ``xlhedge.cli``, ...).
"""

from xlhedge.contracts import (
    ContractRegistry,
    ContractSpec,
    MarginTier,
    default_registry,
    get_contract,
)
from xlhedge.costs import annualised_funding, funding_payment, trading_fee
from xlhedge.crosshedge import (
    dollar_offset,
    hedge_effectiveness,
    is_highly_effective,
    min_variance_hedge_ratio,
)
from xlhedge.errors import InputError, UnknownContractError, XlhedgeError
from xlhedge.margin import (
    bankruptcy_price,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    position_value,
    tiered_liquidation_price,
)
from xlhedge.plan import plan_hedge, plan_totals, scenario_summary, scenario_table
from xlhedge.pnl import average_entry_price, inverse_pnl, linear_pnl, roi, target_price
from xlhedge.scenarios import DEFAULT_MOVES, hedge_scenarios
from xlhedge.sizing import hedge_contracts

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
    "default_registry",
    "dollar_offset",
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
    "min_variance_hedge_ratio",
    "plan_hedge",
    "plan_totals",
    "position_value",
    "roi",
    "scenario_summary",
    "scenario_table",
    "target_price",
    "tiered_liquidation_price",
    "trading_fee",
]
