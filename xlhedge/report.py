"""Plain-text rendering of a plan for the terminal."""

from __future__ import annotations

import math
import re
from typing import Literal

import pandas as pd

from xlhedge.columns import POSITION_COLUMNS, column, shown_in
from xlhedge.monitor import alerts
from xlhedge.plan import margin_by_coin, plan_positions, plan_totals, transfers


def plan_table(plan: pd.DataFrame) -> pd.DataFrame:
    """The plan as the plan file shows it: the user's headings, ``never`` for a price never
    reached, blank for no value."""
    return pd.DataFrame({c.heading: [c.cell(v) for v in plan[c.key]]
                         for c in shown_in("file")}, index=plan.index)


def plan_file_formats() -> dict[str, tuple[float, str]]:
    """Each plan-file column's width and Excel number format."""
    return {c.heading: (c.width, c.excel_format) for c in shown_in("file")}


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, newlines, bidi
    overrides) shown as ``repr`` shows them, ``\\x1b``."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def plan_text(plan: pd.DataFrame) -> str:
    """The plan as an aligned table, then the notes per row and the totals."""
    table = pd.DataFrame({c.heading: [printable(c.text(v)) for v in plan[c.key]]
                          for c in shown_in("report")})
    lines = [table.to_string(index=False)]
    notes = [
        printable(f"  {i + 1}. {asset} {contract}: {error or warnings}")
        for i, (asset, contract, error, warnings) in enumerate(
            zip(plan["asset"], plan["contract"], plan["error"], plan["warnings"], strict=True)
        )
        if error or warnings
    ]
    if notes:
        lines += ["", "Notes (row: warning or error):", *notes]
    positions = plan_positions(plan)
    if len(positions):
        lines += ["", "Positions to open (one per contract and account):",
                  positions_text(positions), "",
                  *(printable(f"{line}.") for line in transfers(positions)["text"])]
    lines += ["", totals_text(plan)]
    return "\n".join(lines)


def count(value: float) -> str:
    """A number of contracts or USD as text: ``60,000`` or ``0.123`` (no float noise)."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.10f}".rstrip("0").rstrip(".")


def order_text(side: Literal["SELL", "BUY"], contracts: float, symbol: str,
               order_quantity: float | None = None, order_unit: str = "contracts",
               contract_value: float = 1.0) -> str:
    """What to type on the exchange: ``SELL 900 contracts of BINANCE:BTCUSD_PERP``, or where
    the exchange takes USD, ``SELL 30,000 USD of DERIBIT:BTC-PERPETUAL (3,000 contracts of 10
    USD)``; BUY lines end with ``to close``."""
    if order_unit == "USD" and order_quantity is not None:
        text = (f"{side} {count(order_quantity)} USD of {symbol} ({count(contracts)} contracts "
                f"of {count(contract_value)} USD)")
    else:
        word = "contract" if contracts == 1 else "contracts"
        text = f"{side} {count(contracts)} {word} of {symbol}"
    return f"{text} to close" if side == "BUY" else text


def positions_text(positions: pd.DataFrame) -> str:
    """The positions as an aligned table: the order, then the position's figures."""
    table = pd.DataFrame({
        "Order": [printable(order_text("SELL", p["contracts"], p["contract"],
                                       p["order_quantity"], p["order_unit"],
                                       p["contract_value"]))
                  for p in positions.to_dict("records")],
        "Hedges": [printable(str(a)) for a in positions["asset"]],
        **{c.heading: [printable(c.text(v)) for v in positions[c.key]] for c in shown_in("sheet")
           if c.key not in ("asset", "contracts", "contract_value")},
    })
    return table.to_string(index=False)


def totals_text(plan: pd.DataFrame) -> str:
    t = plan_totals(plan)
    margins = ", ".join(f"{v:.8f} {k}" for k, v in margin_by_coin(plan).items()) or "none"
    nearest = column("liquidation_distance").text(t["nearest_liquidation_distance"])
    return "\n".join([
        f"Spot value: {t['notional_usd']:,.2f} USD; exposure incl. collateral "
        f"{t['exposure_usd']:,.2f} USD",
        f"Hedged: {t['hedged_usd']:,.2f} USD ({t['coverage']:.1%} coverage); "
        f"net delta left {t['net_delta_usd']:,.2f} USD",
        f"Margin to post: {margins}",
        f"Funding per day: {t['funding_per_day_usd']:+,.2f} USD (positive = received); "
        f"fees to open {t['fee_to_open_usd']:,.2f} USD",
        cost_text(t),
        f"Nearest liquidation: {nearest}; "
        f"rows with errors: {int(t['errors'])}",
    ])


def cost_text(t: pd.Series) -> str:
    """The cost of the insurance over the horizon (``plan_totals``), at today's funding and at
    the 30-day average where known, against selling and buying back."""
    if math.isnan(t["hedge_days"]):
        return "Cost of the hedge: nothing planned"
    known = not math.isnan(t["hedge_cost_avg_usd"])

    def yearly(value: float, of: str = " of the hedged notional") -> str:
        return "" if math.isnan(value) else f" ({value:+.2%} a year{of})"

    def cheaper(cost: float) -> str:
        return "hedging" if cost <= t["sell_cost_usd"] else "selling"

    def even(days: float) -> str:
        return "never" if math.isinf(days) else f"{days:,.1f} days"

    if known:
        funding = f"{t['funding_horizon_avg_usd']:+,.2f} USD at the 30-day average"
        cost = (f"{t['hedge_cost_avg_usd']:+,.2f} USD{yearly(t['hedge_cost_avg_annual'], '')} "
                "at the 30-day average")
        verdict = (f"{cheaper(t['hedge_cost_usd'])} is cheaper at today's rates, "
                   f"{cheaper(t['hedge_cost_avg_usd'])} at the 30-day average (break-even: "
                   f"{even(t['break_even_days'])}; at the average "
                   f"{even(t['break_even_avg_days'])})")
    else:
        funding = "30-day average: no history: refresh from a live source"
        cost = "30-day average not known"
        verdict = (f"{cheaper(t['hedge_cost_usd'])} is cheaper at today's rates (break-even: "
                   f"{even(t['break_even_days'])})")
    return "\n".join([
        f"Over {t['hedge_days']:g} days: funding {t['funding_horizon_usd']:+,.2f} USD at "
        f"today's rates, {funding}; fees to open and close {t['fees_usd']:,.2f} USD",
        f"Hedge cost (fees less funding): {t['hedge_cost_usd']:+,.2f} USD"
        f"{yearly(t['hedge_cost_annual'])} at today's rates; {cost}",
        f"Selling and buying back instead: {t['sell_cost_usd']:,.2f} USD: {verdict}; a sale may "
        "be a taxable event where a hedge may not be",
    ])


def monitor_text(monitor: pd.DataFrame, min_distance: float) -> str:
    """The open positions as an aligned table, then what to do: adjustments, margin to add,
    liquidation alerts, and the totals (funding so far, the result of closing now)."""
    if not len(monitor):
        return "No open positions (the Positions table is empty)."
    shown = [c for c in shown_in("monitor", POSITION_COLUMNS) if c.key != "status"]
    table = pd.DataFrame({c.heading: [printable(c.text(v)) for v in monitor[c.key]]
                          for c in shown})
    lines = [table.to_string(index=False), ""]
    for i, row in enumerate(monitor.to_dict("records"), 1):
        lines.append(printable(f"  {i}. {row['contract']}: {row['status']}"))
    ok = monitor[monitor["error"] == ""]
    near = alerts(monitor, min_distance)
    for settle, rows in ok.groupby("settle"):
        funding = rows["funding_to_date"].astype(float)
        so_far = f"{funding.sum():+.8f}" if funding.notna().any() else "not known"
        lines.append(f"{settle}: unrealised {rows['upnl_coin'].sum():+.8f}, funding so far "
                     f"{so_far}, result if closed now {rows['close_result_coin'].sum():+.8f} "
                     f"{settle} ({rows['close_result_usd'].sum():+,.2f} USD)")
    lines.append(f"{len(ok)} positions: {int((ok['adjust'] != '').sum())} to adjust, "
                 f"{len(near)} within the minimum liquidation distance "
                 f"({min_distance:.0%})" + (": ADD MARGIN NOW" if len(near) else ""))
    return "\n".join(lines)
