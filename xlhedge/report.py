"""Plain-text rendering of a plan for the terminal."""

from __future__ import annotations

import math

import pandas as pd

from xlhedge.plan import NEVER, margin_by_coin, plan_totals

PLAN_COLUMNS = {
    "asset": "Asset",
    "contract": "Contract",
    "quantity": "Quantity",
    "contracts": "Short",
    "hedged_usd": "Hedged USD",
    "margin_coin": "Margin",
    "settle": "In",
    "liquidation_price": "Liq. Price",
    "liquidation_distance": "Liq. Dist.",
    "funding_per_day_usd": "Funding/day USD",
    "fee_to_open_usd": "Fee USD",
}


def _price(value: float) -> str:
    if math.isnan(value):
        return ""
    return NEVER if math.isinf(value) else f"{value:,.2f}"


def _percent(value: float) -> str:
    if math.isnan(value):
        return ""
    return NEVER if math.isinf(value) else f"{value:+.1%}"


def _money(value: float) -> str:
    return "" if math.isnan(value) else f"{value:,.2f}"


def _count(value: float) -> str:
    return "" if math.isnan(value) else f"{value:,.10g}"


def _coin(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.8f}"


FORMATS = {
    "quantity": _count,
    "contracts": _count,
    "hedged_usd": _money,
    "margin_coin": _coin,
    "liquidation_price": _price,
    "liquidation_distance": _percent,
    "funding_per_day_usd": _money,
    "fee_to_open_usd": _money,
}


def plan_text(plan: pd.DataFrame) -> str:
    """The plan as an aligned table, then the notes per row and the totals."""
    table = plan[list(PLAN_COLUMNS)].copy()
    for name, fmt in FORMATS.items():
        table[name] = plan[name].astype(float).map(fmt)
    table = table.rename(columns=PLAN_COLUMNS)
    lines = [table.to_string(index=False)]
    notes = [
        f"  {i + 1}. {asset} {contract}: {error or warnings}"
        for i, (asset, contract, error, warnings) in enumerate(
            zip(plan["asset"], plan["contract"], plan["error"], plan["warnings"], strict=True)
        )
        if error or warnings
    ]
    if notes:
        lines += ["", "Notes (row: warning or error):", *notes]
    lines += ["", totals_text(plan)]
    return "\n".join(lines)


def totals_text(plan: pd.DataFrame) -> str:
    t = plan_totals(plan)
    margins = ", ".join(f"{v:.8f} {k}" for k, v in margin_by_coin(plan).items()) or "none"
    return "\n".join([
        f"Spot value: {t['notional_usd']:,.2f} USD; exposure incl. collateral "
        f"{t['exposure_usd']:,.2f} USD",
        f"Hedged: {t['hedged_usd']:,.2f} USD ({t['coverage']:.1%} coverage); "
        f"net delta left {t['net_delta_usd']:,.2f} USD",
        f"Margin to post: {margins}",
        f"Funding per day: {t['funding_per_day_usd']:+,.2f} USD (positive = received); "
        f"fees to open {t['fee_to_open_usd']:,.2f} USD",
        f"Nearest liquidation: {_percent(t['nearest_liquidation_distance'])}; "
        f"rows with errors: {int(t['errors'])}",
    ])
