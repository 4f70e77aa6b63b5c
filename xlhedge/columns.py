"""Every column of the plan and of the Inventory table, declared once.

A :class:`Column` says what a column is called where the user sees it, what unit its numbers are
in (and so how they are formatted in Excel and as text), how wide it is, whether it is totalled,
what it shows for a price that is never reached or for no value, and which faces show it. The
faces (the Inventory table and its refresh, the workbook builder, the terminal report, the plan
file, the hedge sheet) loop over :data:`COLUMNS`; adding a column to the plan means declaring it
here and computing it in :mod:`xlhedge.plan`, nothing else.

No pandas and no numpy here: the command line imports this to print its help.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

NEVER = "never"  # how every face shows a price that is never reached (a 1x short's liquidation)

Role = Literal["input", "market", "computed", "plan"]
#: Where a column shows: the Inventory table, the terminal's row table, the plan file, the
#: positions table (hedge sheet orders and the terminal's positions), and of those the few a
#: portrait hedge sheet has room for ("compact"); for the open positions
#: (:data:`POSITION_COLUMNS`): the Positions table and the monitor (``xlhedge status``, the
#: hedge sheet's open-hedge section).
Face = Literal["inventory", "report", "file", "sheet", "compact", "positions", "monitor"]
ALL_FACES: frozenset[Face] = frozenset({"inventory", "report", "file", "sheet"})  # by default


@dataclass(frozen=True)
class Unit:
    """How numbers of one kind look: an Excel number format, a text format, a minimum width."""

    name: str
    excel: str
    text: Callable[[float], str]
    width: float = 12.0


UNITS: dict[str, Unit] = {u.name: u for u in (
    Unit("text", "General", str, 10),
    Unit("usd", "#,##0.00", "{:,.2f}".format, 13),
    Unit("price", "#,##0.00", "{:,.2f}".format, 12),
    Unit("coin", "0.00000000", "{:.8f}".format, 12),
    Unit("settle", "0.00000000", "{:.8f}".format, 17),  # room for the coin's name
    Unit("percent", "0.0%", "{:.1%}".format, 8),
    Unit("ratio", "0.00", "{:.2f}".format, 7),
    Unit("distance", "+0.0%;-0.0%;0.0%", "{:+.1%}".format, 9),
    Unit("rate", "0.0000%", "{:.4%}".format, 10),
    Unit("count", "#,##0.###", "{:,.10g}".format, 10),
    Unit("size", "#,##0.##########", "{:,.10g}".format, 10),  # USD (inverse) or coin (linear)
    Unit("leverage", '0.0"x"', "{:g}x".format, 8),
    Unit("date", "yyyy-mm-dd hh:mm", str, 17),
)}


@dataclass(frozen=True)
class Column:
    """One column: ``key`` in the plan (a DataFrame column), ``heading`` as the user sees it.

    ``unit`` is a key of :data:`UNITS` (``settle``: the contract's settle coin; ``coin``: the
    holding's own coin). ``role`` is its part in the Inventory table: typed by the user
    (``input``), filled by a price source (``market``), written by a refresh (``computed``), or
    not in the table (``plan``). ``faces`` lists where it is shown; ``plan`` is False for the
    table's own columns that :func:`xlhedge.plan.plan_hedge` does not return.
    """

    key: str
    heading: str
    unit: str = "text"
    role: Role = "plan"
    total: bool = False
    faces: frozenset[Face] = ALL_FACES
    never: str = NEVER
    blank: str = ""
    min_width: float = 0.0
    aliases: tuple[str, ...] = field(default=())
    plan: bool = True  # a column of plan_hedge's result (not only of the Inventory table)
    #: In a position (:func:`xlhedge.plan.plan_positions`): the sum of its rows' figures, the
    #: figure its rows share, or not a figure of the position ("").
    position: Literal["sum", "same", ""] = ""

    @property
    def width(self) -> float:
        """Characters: the heading fits on one line, and so do the unit's numbers."""
        return max(len(self.heading) + 3.0, UNITS[self.unit].width, self.min_width)

    @property
    def excel_format(self) -> str:
        return UNITS[self.unit].excel

    def text(self, value: object) -> str:
        """The value as text: ``never`` for an infinity, ``blank`` for no value."""
        if value is None or isinstance(value, str):
            return self.blank if value is None or not value.strip() else value
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number):
            return self.blank
        if math.isinf(number):
            return self.never
        return UNITS[self.unit].text(number)

    def cell(self, value: object) -> object:
        """The value as a spreadsheet cell: a float, ``never`` for an infinity, None for none."""
        if value is None or isinstance(value, str):
            return value if value else None
        number = float(value)  # type: ignore[arg-type]
        if math.isnan(number):
            return None
        return self.never if math.isinf(number) else number


COLUMNS: tuple[Column, ...] = (
    Column("asset", "Asset", role="input", aliases=("coin",)),
    Column("quantity", "Quantity", "count", "input", faces=frozenset({"inventory", "report",
                                                                       "file"}),
           aliases=("qty",)),
    Column("contract", "Contract", role="input", faces=frozenset({"inventory", "report", "file"}),
           min_width=24, aliases=("symbol",), position="same"),
    Column("account", "Account", role="input", faces=frozenset({"inventory", "file"}),
           position="same"),
    Column("margin_mode", "Margin Mode", role="input",
           faces=frozenset({"compact", "inventory", "file", "sheet"}), position="same"),
    Column("hedge_ratio", "Hedge Ratio", "percent", "input", faces=frozenset({"inventory",
                                                                               "file"}),
           aliases=("ratio",)),
    Column("leverage", "Leverage", "leverage", "input",
           faces=frozenset({"compact", "inventory", "file", "sheet"}), position="same"),
    Column("collateral", "Collateral", "settle", "input", faces=frozenset({"inventory", "file"}),
           position="sum"),
    Column("price", "Price", "price", "market", faces=frozenset({"inventory", "file"}),
           aliases=("spotprice",)),
    Column("mark_price", "Mark Price", "price", "market", faces=frozenset({"inventory", "file"}),
           aliases=("mark",), position="same"),
    Column("funding_rate", "Funding Rate", "rate", "market",
           faces=frozenset({"inventory", "file"}), aliases=("funding",)),
    Column("funding_avg_annual", "Funding 30d Avg (yearly)", "percent", "market",
           faces=frozenset({"inventory", "file"}), aliases=("funding30d",)),
    Column("suggested_ratio", "Suggested Ratio", "percent", "market",
           faces=frozenset({"inventory", "file"})),
    Column("r_squared", "R²", "ratio", "market", faces=frozenset({"inventory", "file"}),
           aliases=("r2", "rsquared")),
    Column("updated", "Updated", "date", "market", faces=frozenset({"inventory"}), plan=False),
    Column("notional_usd", "Notional (USD)", "usd", "computed", total=True,
           faces=frozenset({"inventory", "file"}), position="sum"),
    Column("exposure_usd", "Exposure (USD)", "usd", total=True,
           faces=frozenset({"file"}), position="sum"),
    Column("target_usd", "Target (USD)", "usd", total=True, faces=frozenset({"file"}),
           position="sum"),
    Column("contracts", "Contracts", "count", "computed", position="sum",
           faces=ALL_FACES | {"compact"}),
    Column("contract_value", "Contract Value", "size", faces=frozenset({"file", "sheet"}),
           position="same"),
    Column("hedged_usd", "Hedged (USD)", "usd", "computed", total=True, position="sum"),
    Column("residual_coin", "Residual (coin)", "coin", "computed",
           faces=frozenset({"inventory", "file"})),
    Column("net_delta_usd", "Net Delta (USD)", "usd", total=True,
           faces=frozenset({"file"}), position="sum"),
    Column("initial_margin_coin", "Initial Margin (coin)", "settle",
           faces=frozenset({"file"}), position="sum"),
    Column("margin_coin", "Margin (coin)", "settle", "computed", position="sum",
           faces=ALL_FACES | {"compact"}),
    Column("settle", "Settle", role="computed", faces=frozenset({"inventory", "report", "file"}),
           position="same"),
    Column("liquidation_price", "Liq. Price", "price", "computed", position="same",
           faces=ALL_FACES | {"compact"}),
    Column("liquidation_distance", "Liq. Distance", "distance", "computed", position="same",
           faces=ALL_FACES | {"compact"}),
    Column("funding_annual", "Funding (yearly)", "percent", faces=frozenset({"file"}),
           position="same"),
    Column("funding_per_day_coin", "Funding / Day (coin)", "settle",
           faces=frozenset({"file"}), position="sum"),
    Column("funding_per_day_usd", "Funding / Day (USD)", "usd", "computed", total=True,
           faces=frozenset({"inventory", "report", "file"}), position="sum"),
    Column("fee_to_open_coin", "Fee to Open (coin)", "settle",
           faces=frozenset({"file", "sheet"}), position="sum"),
    Column("fee_to_open_usd", "Fee to Open (USD)", "usd", total=True,
           faces=frozenset({"report", "file", "sheet"}), position="sum"),
    Column("hedge_days", "Hedge Days", "count", "input", faces=frozenset({"inventory", "file"})),
    Column("funding_horizon_usd", "Funding over Horizon (USD)", "usd", total=True,
           faces=frozenset({"file"}), position="sum"),
    Column("fee_to_close_usd", "Fee to Close (USD)", "usd", total=True,
           faces=frozenset({"file"}), position="sum"),
    Column("hedge_cost_usd", "Hedge Cost (USD)", "usd", "computed", total=True,
           faces=frozenset({"inventory", "file"}), position="sum"),
    Column("funding_horizon_avg_usd", "Funding over Horizon at 30d Avg (USD)", "usd", total=True,
           faces=frozenset({"file"}), position="sum"),
    Column("hedge_cost_avg_usd", "Hedge Cost at 30d Avg (USD)", "usd", "computed", total=True,
           faces=frozenset({"inventory", "file"}), position="sum"),
    Column("hedge_cost_annual", "Hedge Cost (yearly)", "percent", faces=frozenset({"file"})),
    Column("sell_cost_usd", "Sell Cost (USD)", "usd", total=True, faces=frozenset({"file"}),
           position="sum"),
    Column("break_even_days", "Break-even (days)", "count", faces=frozenset({"file"})),
    Column("lot_size", "Lot Size", "count", faces=frozenset({"file"}), position="same"),
    Column("tick_size", "Tick Size", "count", faces=frozenset({"file"}), position="same"),
    Column("position", "Position", faces=frozenset({"file"}), position="same"),
    Column("order_unit", "Order Unit", faces=frozenset({"file"}), position="same"),
    Column("contract_type", "Type", faces=frozenset({"file"}), position="same"),
    Column("warnings", "Warnings", faces=frozenset({"file"})),
    Column("error", "Error", faces=frozenset({"file"})),
    Column("status", "Status", "text", "computed", faces=frozenset({"inventory"}), min_width=60,
           plan=False),
)


_OPEN: frozenset[Face] = frozenset({"positions", "monitor"})
_TABLE: frozenset[Face] = frozenset({"positions"})

#: The Positions table: what is open on the exchange (typed, or read from the account) and what
#: the monitor (:mod:`xlhedge.monitor`) makes of it. ``role`` as in the Inventory.
POSITION_COLUMNS: tuple[Column, ...] = (
    Column("account", "Account", role="input", faces=_OPEN),
    Column("contract", "Contract", role="input", faces=_OPEN, min_width=24, aliases=("symbol",)),
    Column("side", "Side", role="input", faces=_OPEN),
    Column("contracts", "Contracts", "count", "input", faces=_OPEN, aliases=("size", "qty")),
    Column("entry_price", "Entry Price", "price", "input", faces=_OPEN, aliases=("entry",)),
    Column("margin_mode", "Margin Mode", role="input", faces=_TABLE),
    Column("margin", "Margin", "settle", "input", faces=_OPEN),
    Column("opened", "Opened", "date", "input", faces=_TABLE),
    Column("funding_to_date", "Funding To Date", "settle", "input", faces=_OPEN,
           aliases=("funding",)),
    Column("mark_price", "Mark Price", "price", "market", faces=_OPEN, aliases=("mark",)),
    Column("updated", "Updated", "date", "market", faces=_TABLE),
    Column("upnl_coin", "Unrealised PnL", "settle", "computed", faces=_OPEN),
    Column("upnl_usd", "Unrealised PnL (USD)", "usd", "computed", total=True, faces=_OPEN),
    Column("liquidation_price", "Liq. Price", "price", "computed", faces=_OPEN),
    Column("liquidation_distance", "Liq. Distance", "distance", "computed", faces=_OPEN),
    Column("margin_ratio", "Margin Ratio", "percent", "computed", faces=_OPEN,
           never="liquidated"),  # no margin balance left
    Column("target_contracts", "Target Contracts", "count", "computed", faces=_OPEN),
    Column("drift", "Drift", "distance", "computed", faces=_OPEN, never="no target"),
    Column("adjust", "Adjust", role="computed", faces=_OPEN, min_width=12),
    Column("add_margin", "Add Margin", "settle", "computed", faces=_OPEN),
    Column("dollar_offset", "Dollar Offset", "percent", "computed", faces=_OPEN),
    Column("close_result_coin", "Result if Closed", "settle", "computed", faces=_OPEN),
    Column("close_result_usd", "Result if Closed (USD)", "usd", "computed", total=True,
           faces=_OPEN),
    Column("status", "Status", role="computed", faces=_OPEN, min_width=60),
)


def column(key: str, columns: Iterable[Column] | None = None) -> Column:
    """The declaration of the column ``key`` (of the plan, or of ``columns``)."""
    return next(c for c in (COLUMNS if columns is None else columns) if c.key == key)


def shown_in(face: Face, columns: Iterable[Column] | None = None) -> tuple[Column, ...]:
    """The columns ``face`` shows, in their declared order."""
    return tuple(c for c in (COLUMNS if columns is None else columns) if face in c.faces)


def by_role(*roles: Role, columns: Iterable[Column] | None = None,
            face: Face = "inventory") -> tuple[Column, ...]:
    """A table's columns (the Inventory's, or ``face``'s) with one of ``roles``, in order."""
    return tuple(c for c in shown_in(face, columns) if c.role in roles)


def column_key(name: object) -> str:
    """A heading reduced to letters and digits, lower case: ``Hedge Ratio`` -> ``hedgeratio``."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def is_blank(value: object) -> bool:
    """No value: None, NaN (or NaT), or text of only spaces."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)  # NaN and NaT are not equal to themselves
    except TypeError:
        return True  # pandas' NA: its truth is ambiguous
    except ValueError:
        return False  # an array
