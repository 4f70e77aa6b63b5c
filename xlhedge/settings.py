"""The workbook's Settings table and Contracts overrides, as plain values (no Excel here).

Both faces read them the same way: the buttons (:mod:`xlhedge.macros`) from the open workbook,
the command line from the file. Each setting is declared once, with its default and its note,
and the workbook builder writes the Settings table from the same declaration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xlhedge.columns import is_blank
from xlhedge.contracts import ContractRegistry, default_registry
from xlhedge.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Setting:
    """One row of the Settings table; ``name`` is also a defined name in the workbook."""

    label: str
    default: str
    note: str
    name: str
    choices: tuple[str, ...] = ()


SETTINGS: tuple[Setting, ...] = (
    Setting("Price Source", "table",
            "table (prices as typed), csv:C:\\path\\prices.csv, or ccxt:binance / bybit / okx / "
            "deribit (live, needs pip install xlhedge[live])", "PriceSource"),
    Setting("Paper", "A4", "A4 or Letter, for the hedge sheet", "Paper", ("A4", "Letter")),
    Setting("Orientation", "landscape", "landscape or portrait", "Orientation",
            ("landscape", "portrait")),
    Setting("Hedge Sheet Folder", "", "blank: next to this workbook", "HedgeSheetFolder"),
    Setting("Min Liquidation Distance", "30%",
            "margin to post keeps each short's liquidation at least this far above the mark "
            "(0% = the initial margin only)", "MinLiquidationDistance"),
    Setting("Hedge Days", "30", "how long you mean to hold the hedge: its cost is reckoned over "
            "this many days (a row's Hedge Days overrides it)", "HedgeDays"),
    Setting("Spot Fee", "0.1%", "selling instead of hedging: your spot trading fee, paid twice "
            "(sell now, buy back later)", "SpotFee"),
    Setting("Spread", "0.05%", "selling instead of hedging: the spread lost on the round trip",
            "Spread"),
    Setting("Positions Source", "table",
            "where open positions come from: table (as typed on the Positions sheet), "
            "csv:C:\\path\\positions.csv, or ccxt:binance / bybit / okx / deribit (your account, "
            "read-only API key from the keyring: xlhedge keys set EXCHANGE)", "PositionsSource"),
    Setting("Rebalance Band", "2%", "no adjustment order while an open position is within this "
            "much of its target", "RebalanceBand"),
    Setting("Funding Window", "90", "days of funding history a live refresh keeps in the "
            "Funding table (its averages: 7, 30 and 90 days)", "FundingWindow"),
    Setting("Ratio Window", "90", "days of daily closes a live refresh uses for a cross-hedge's "
            "Suggested Ratio and R² (Hedge Ratio auto)", "RatioWindow"),
    Setting("Source Timeout", "30", "seconds a live price source may take in all; what has not "
            "come by then is marked stale and keeps its last good values", "SourceTimeout"),
)


def seconds(settings: Mapping[str, str], label: str) -> float:
    """A setting in seconds (``30`` or ``30 s``)."""
    text = str(settings[label]).strip().lower().removesuffix("s").strip()
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"setting {label!r}", "must be a number of seconds", text) from None
    if not 0 < value <= 3600:
        raise InputError(f"setting {label!r}", "must be between 0 and 3600 seconds", text)
    return value


def days(settings: Mapping[str, str], label: str, least: int = 3, most: int = 299) -> int:
    """A setting in whole days, within ``least`` and ``most``."""
    text = str(settings[label]).strip().lower().removesuffix("days").strip()
    try:
        value = int(float(text))
    except ValueError:
        raise InputError(f"setting {label!r}", "must be a number of days", text) from None
    if not least <= value <= most:
        raise InputError(f"setting {label!r}", f"must be between {least} and {most} days", text)
    return value


def monitor_options(settings: Mapping[str, str]) -> dict[str, float]:
    """The settings :func:`xlhedge.monitor.monitor_positions` takes, as keyword arguments."""
    return {"band": fraction(settings, "Rebalance Band"),
            "min_distance": fraction(settings, "Min Liquidation Distance")}


def plan_options(settings: Mapping[str, str]) -> dict[str, float]:
    """The settings :func:`xlhedge.plan.plan_hedge` takes, as its keyword arguments."""
    days = settings["Hedge Days"].strip()
    try:
        hedge_days = float(days)
    except ValueError:
        raise InputError("setting 'Hedge Days'", "must be a number of days", days) from None
    if not 0 <= hedge_days <= 3650:
        raise InputError("setting 'Hedge Days'", "must be between 0 and 3650", days)
    return {"min_distance": fraction(settings, "Min Liquidation Distance"),
            "hedge_days": hedge_days, "spot_fee": fraction(settings, "Spot Fee"),
            "spread": fraction(settings, "Spread")}


def fraction(settings: Mapping[str, str], label: str) -> float:
    """A setting given as ``30%`` or ``0.3``, as a fraction; an error names the setting."""
    text = settings[label].strip()
    try:
        value = float(text.removesuffix("%")) / (100.0 if text.endswith("%") else 1.0)
    except ValueError:
        raise InputError(f"setting {label!r}", "must be a percentage such as 30%", text) from None
    if not 0.0 <= value <= 10.0:
        raise InputError(f"setting {label!r}", "must be between 0% and 1000%", text)
    return value


def settings_from_table(frame: pd.DataFrame | None) -> dict[str, str]:
    """The Settings table (Setting, Value) as a dict, blanks taking the defaults."""
    settings = {s.label: s.default for s in SETTINGS}
    if frame is not None and {"Setting", "Value"} <= set(frame.columns):
        for name, value in zip(frame["Setting"], frame["Value"], strict=True):
            if isinstance(name, str) and not is_blank(value):
                settings[name.strip()] = str(value).strip()
    return settings


def registry_from_table(frame: pd.DataFrame | None) -> ContractRegistry:
    """Built-in specs overridden by the workbook's Contracts table."""
    registry = default_registry()
    return registry if frame is None or frame.empty else registry.with_frame(frame)
