"""The printable hedge sheet: one plan, one standalone .xlsx, ready to print and archive.

``write_hedge_sheet`` lays out a plan already computed by :func:`xlhedge.plan.plan_hedge` on one
worksheet: the orders to place first, then the summary and the cost of the hedge (over the
horizon, at today's funding and at the 30-day average, against selling and buying back), the
payoff chart (unhedged against hedged value) and the chart of each planned contract's funding
history, the scenario ladder with the execution checklist, the warnings, the holdings that could
not be planned and the unwind orders. Landscape: the summary and the cost side by side, the two
charts side by side under them; portrait (compact): the payoff chart beside the summary, the
funding chart beside the cost. A band with a chart that would straddle the end of a page
starts a new one (a manual page break, from an estimate of the page's height).

Totals and scenarios come from the core (``plan_totals``, ``margin_by_coin``, ``scenario_table``,
``scenario_summary``); this module only formats. Every text goes through ``write_string`` (an asset
called ``=HYPERLINK(...)`` stays text) and every figure through ``write_number``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from xlhedge.columns import NEVER, POSITION_COLUMNS, UNITS, Column, Face, is_blank, shown_in
from xlhedge.columns import column as declared_column
from xlhedge.contracts import ContractRegistry
from xlhedge.errors import InputError
from xlhedge.files import atomic_path
from xlhedge.monitor import monitor_positions, normalise_positions
from xlhedge.plan import (
    margin_by_coin,
    plan_hedge,
    plan_positions,
    plan_totals,
    scenario_summary,
    scenario_table,
    transfers,
)
from xlhedge.report import order_text
from xlhedge.settings import monitor_options, plan_options

LADDER: tuple[float, ...] = (-0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.0)
CHART_MOVES: tuple[float, ...] = tuple(round(step * 0.05, 2) for step in range(-10, 21))
PAPER_SIZES: dict[str, int] = {"a4": 9, "letter": 1}
PAPER_INCHES: dict[int, tuple[float, float]] = {9: (8.27, 11.69), 1: (8.5, 11.0)}
SHEET_NAME = "Hedge sheet"
TITLE = "Hedge sheet: short coin-margined perpetuals against spot holdings"
DISCLAIMER = (
    "This sheet is a calculation aid, not financial advice. "
    "Check every number on your exchange before you trade."
)
CHECKBOX = "\u2610"
CHECKLIST: tuple[str, ...] = (
    "Inventory checked: assets, quantities and prices match your wallets.",
    "Contract picked: symbol and contract value match the exchange's page.",
    "Notional confirmed: each order's USD notional is the part to hedge.",
    "Contracts computed: contracts per order as on this sheet (whole lots).",
    "Margin set: transfers done; margin mode and leverage per position as listed.",
    "Orders executed: every SELL order filled; prices and fees noted.",
    "Monitor and unwind plan set: liquidation alerts on, BUY orders ready.",
)
SIGN_OFF: tuple[str, ...] = (
    "Executed by: ______________________   at: ____________________",
    "Checked by:  ______________________   at: ____________________",
)

# Summary labels (column B); the tests find the figures by these.
LABELS: dict[str, str] = {
    "holdings": "Holdings on this sheet",
    "errors": "Holdings with errors (not planned)",
    "notional_usd": "Spot value of the holdings (USD)",
    "exposure_usd": "Exposure incl. coin collateral (USD)",
    "hedged_usd": "Hedged notional (USD)",
    "coverage": "Coverage (hedged / exposure)",
    "net_delta_usd": "Net USD delta left (unhedged)",
    "margin_coin": "Margin to post",  # one line per coin: "Margin to post, BTC"
    "margin_usd": "Margin to post, all coins at mark (USD)",
    "funding_per_day_usd": "Funding per day at current rates (USD, + = you receive)",
    "fee_to_open_usd": "Fees to open all orders, taker (USD)",
    "nearest_liquidation_distance": "Nearest liquidation (price rise from mark)",
    "nearest_liquidation_on": "Nearest liquidation is on",
}
# The cost block's labels; its columns: today's funding rates, the 30-day average.
COST_LABELS: dict[str, str] = {
    "hedge_days": "Horizon (days)",
    "funding": "Funding (USD, + = you receive)",
    "fees": "Fees to open and close, taker (USD)",
    "cost": "Total cost: fees less funding (USD)",
    "annual": "Total cost a year, % of hedged notional",
    "sell": "Selling and buying back instead (USD)",
    "cheaper": "Cheaper over the horizon",
    "break_even": "Break-even horizon (days)",
}
COST_HEADERS = ("Today's rates", "30-day average")
NO_HISTORY = "no history: refresh from a live source"
TAX_REMARK = ("A sale may be a taxable event where a hedge may not be (a remark, not tax "
              "advice).")
FUNDING_TITLE = "Funding, annualised (daily)"
NO_FUNDING_CHART = "Funding chart: no history (refresh from a live source)."
SECTIONS: dict[str, str] = {
    "summary": "Summary",
    "ladder": "Scenario ladder: every price moves by the same fraction",
    "checklist": "Execution checklist",
    "warnings": "Warnings",
    "errors": "Not planned: fix these inputs first",
    "orders": "Orders to place: open the hedge",
    "open": "Open hedge: adjust the positions you hold to the plan",
    "unwind": "Unwind: close the hedge later",
    "chart_data": "Chart data (not printed)",
    "cost": "Cost of this hedge",
    "funding_data": "Funding chart data (not printed)",
}

# The open hedge's figures, in the order of the orders table's columns whose widths suit them
# (coin amounts land in the wide coin columns): landscape, then portrait.
OPEN_KEYS = ("contracts", "target_contracts", "entry_price", "mark_price", "upnl_usd",
             "upnl_coin", "liquidation_price", "liquidation_distance", "add_margin",
             "close_result_usd")
OPEN_KEYS_COMPACT = ("contracts", "target_contracts", "mark_price", "add_margin",
                     "liquidation_price", "liquidation_distance")


def _adjust_order(line: Mapping[str, Any]) -> str:
    """The adjustment as an order line, or why there is none."""
    if line["error"]:
        return f"error: {line['error']}"
    if not line["adjust"]:
        return "No adjustment: within the band"
    side: Literal["SELL", "BUY"] = "SELL" if line["adjust_contracts"] > 0 else "BUY"
    text = _open_order(side, abs(float(line["adjust_contracts"])), line)
    return text.replace("to close", "reduce only")


def _records(monitor: pd.DataFrame) -> list[dict[str, Any]]:
    """The monitor's rows as dicts by column name."""
    return [{str(k): v for k, v in r.items()} for r in monitor.to_dict("records")]


def _open_order(side: Literal["SELL", "BUY"], contracts: float, line: Mapping[str, Any]) -> str:
    """An order on an open position (a monitor row), in the exchange's unit."""
    value = float(line["contract_value"])
    quantity = contracts * value if line["order_unit"] == "USD" else None
    return order_text(side, contracts, str(line["symbol"]), quantity, str(line["order_unit"]),
                      value)


def _action_lines(monitor: pd.DataFrame) -> list[str]:
    """What to do about the open positions: margin first, then the adjustments."""
    lines = []
    records = _records(monitor[monitor["error"] == ""])
    for line in records:
        if line["add_margin"] > 0:
            lines.append(f"Add {line['add_margin']:.8f} {line['settle']} margin to the "
                         f"{line['symbol']} position (keeps liquidation at the minimum "
                         "distance)")
    for line in records:
        if line["adjust"]:
            lines.append(f"{_adjust_order(line)} (to {line['target_contracts']:,.10g} "
                         "contracts)")
    return lines


def _closing_lines(opened: pd.DataFrame | None) -> list[str]:
    """Closing each open position now: the order, its result at the mark and the fee."""
    if opened is None:
        return []
    lines = []
    for line in _records(opened):
        order = _open_order("BUY" if line["short"] else "SELL", float(line["contracts"]), line)
        coin = line["settle"]
        funding = line["funding_to_date"]
        known = not is_blank(funding)
        lines.append(f"{order} (open now): at the mark {line['mark_price']:,.2f} it realises "
                     f"{line['close_result_coin']:+.8f} {coin} ({line['close_result_usd']:+,.2f} "
                     f"USD) after the taker fee to close {line['fee_to_close_coin']:.8f} {coin}"
                     + (f" and funding so far {float(funding):+.8f} {coin}" if known else
                        " (funding so far not known)"))
    return lines


def _sheet_width(column: Column) -> float:
    """A sheet column's width: its numbers fit; its heading wraps, so only its longest word."""
    longest = max(len(word) for word in column.heading.split())
    return max(UNITS[column.unit].width, longest + 2.0, column.min_width)


def sheet_columns(compact: bool = False) -> tuple[Column, ...]:
    """The plan columns the orders table shows after #, Hedges and Order, as declared in
    :mod:`xlhedge.columns` (``compact``: the few a portrait page has room for); the unwind
    table shows the ``UNWIND_KEYS`` among them."""
    face: Face = "compact" if compact else "sheet"
    return tuple(c for c in shown_in(face) if c.key != "asset")


UNWIND_KEYS = ("contracts", "contract_value", "hedged_usd")
FIRST_COLUMNS: tuple[tuple[str, float], ...] = (("#", 4), ("Hedges", 13), ("Order", 52))
COMPACT_FIRST_COLUMNS: tuple[tuple[str, float], ...] = (("#", 4), ("Hedges", 14), ("Order", 34))
LADDER_HEADERS: tuple[str, ...] = (
    "Price move", "Hedges liquidated", "Unhedged value (USD)", "Hedge PnL (USD)",
    "Hedged value (USD)",
)
CHART_HEADERS: tuple[str, ...] = ("Price move", "Unhedged value (USD)", "Hedged value (USD)")
CHART_COL = 5  # the chart sits right of the summary, from column F
RIGHT_COL = 6  # the checklist sits right of the ladder, from column G
SUMMARY_VALUE_COL = 3  # summary figures in column D
CHART_ROWS = 18  # the chart's height in rows
COST_COLUMNS = (5, 9, 11)  # landscape cost block: labels from F, today's rates J..K, average L..M
COMPACT_COST_COLUMNS = (1, 3, 4)  # portrait: labels B..C, today's rates D, average E
COMPACT_VALUE_WIDTH = 14.0  # portrait widens D and E to hold the cost block's figures
FUNDING_COLOURS = ("#1F4E79", "#C55A11", "#548235", "#7030A0", "#BF9000", "#2E75B6", "#C00000")
ROW_PX = 20  # default row height (15 pt) in pixels
STABLE = {"USD", "USDT", "USDC", "BUSD", "FDUSD", "DAI", "TUSD"}

FMT_USD = "#,##0.00;-#,##0.00"
FMT_USD_SIGNED = "+#,##0.00;-#,##0.00;0.00"
FMT_COIN = "#,##0.00000000"
FMT_PCT = "0.00%"
FMT_MOVE = "+0%;-0%;0%"
FMT_DIST = "+0.0%;-0.0%;0.0%"
FMT_LEVERAGE = '0.0"x"'
FMT_COUNT = "0"
GREY = "#D9D9D9"
RED = "#C00000"

REQUIRED_COLUMNS = ("asset", "contract", "contracts", "contract_type", "settle", "warnings",
                    "error")


def hedge_sheet_path(workbook: Path, folder: str, now: datetime) -> Path:
    """``HedgeSheet-YYYYMMDD-HHMMSS.xlsx`` in ``folder`` or next to the workbook."""
    target = Path(folder) if folder else workbook.parent
    return target / f"HedgeSheet-{now:%Y%m%d-%H%M%S}.xlsx"


def prices_as_of(inventory: pd.DataFrame, now: datetime) -> tuple[datetime, list[str]]:
    """When the inventory's prices were fetched (its oldest ``Updated``, UTC; ``now`` when none
    is recorded: typed prices), and its stale rows as ``ASSET: reason``."""
    updated = pd.to_datetime(inventory.get("Updated", pd.Series(dtype=object)),
                             errors="coerce").dropna()
    as_of = now if updated.empty else updated.min().to_pydatetime().replace(tzinfo=UTC)
    status = inventory.get("Status", pd.Series("", index=inventory.index)).fillna("").astype(str)
    stale = [f"{asset}: {text.split(';')[0].removeprefix('stale:').strip()}"
             for asset, text in zip(inventory.get("Asset", status), status, strict=True)
             if text.startswith("stale:")]
    return as_of, stale


def make_sheet_file(
    inventory: pd.DataFrame, settings: Mapping[str, str], registry: ContractRegistry,
    workbook: Path, now: datetime, path: Path | None = None,
    positions: pd.DataFrame | None = None, funding_history: pd.DataFrame | None = None,
) -> Path:
    """Plan from the inventory's inputs and prices (never its computed columns), monitor the
    open ``positions`` (the Positions table's inputs) against it; write the sheet with the
    workbook's settings. ``path`` defaults to :func:`hedge_sheet_path`."""
    path = path or hedge_sheet_path(workbook, settings["Hedge Sheet Folder"], now)
    as_of, stale = prices_as_of(inventory, now)
    plan = plan_hedge(inventory, registry, **plan_options(settings))
    monitor = None
    if positions is not None and not normalise_positions(positions).empty:
        monitor = monitor_positions(positions, plan, registry, **monitor_options(settings),
                                    funding_history=funding_history, now=now)
    return write_hedge_sheet(
        plan, path, as_of=as_of, stale=stale, monitor=monitor,
        source=settings["Price Source"],
        workbook_name=workbook.name,
        paper="letter" if settings["Paper"].lower() == "letter" else "a4",
        landscape=settings["Orientation"].lower() != "portrait",
        funding_history=funding_history,
    )


def write_hedge_sheet(
    plan: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    as_of: datetime,
    source: str,
    workbook_name: str,
    paper: Literal["a4", "letter"] = "a4",
    landscape: bool = True,
    moves: Sequence[float] = LADDER,
    stale: Sequence[str] = (),
    monitor: pd.DataFrame | None = None,
    funding_history: pd.DataFrame | None = None,
) -> Path:
    """Write the printable hedge sheet of ``plan`` (from ``plan_hedge``) to ``path``; return it.

    ``as_of`` is the time of the prices, ``source`` where they came from, ``workbook_name`` the
    workbook or file the plan was made from; ``moves`` are the scenario ladder's price moves
    (fractions), to which the ladder adds a row at each position's liquidation; ``stale`` lists
    the holdings whose prices are the last good ones (``ASSET: reason``), printed in red.
    ``monitor`` (:func:`xlhedge.monitor.monitor_positions`) lists the positions already open:
    they get adjustment orders and margin top-ups, not a second full order, and the unwind
    closes them with the result at the current mark. ``funding_history`` (rows ``Contract``,
    ``Time`` (UTC; ``Time (UTC)`` as the workbook's Funding table heads it), ``Rate`` per
    interval) gives the chart of each planned contract's funding, annualised per UTC day
    (:func:`funding_by_day`); without it the sheet says there is none.
    The file is written next to ``path`` and renamed into place (:func:`xlhedge.files.atomic_path`),
    so a reader never sees half a file and a failed write leaves an earlier sheet untouched.
    """
    paper_key = str(paper).strip().lower()
    if paper_key not in PAPER_SIZES:
        raise InputError("paper", 'must be "a4" or "letter"', paper)
    required = (*REQUIRED_COLUMNS, *(c.key for c in sheet_columns()))
    missing = [c for c in dict.fromkeys(required) if c not in plan.columns]
    if missing:
        raise InputError("plan", f"must come from plan_hedge (missing {', '.join(missing)})")
    plan = plan.reset_index(drop=True)
    # no scenarios (and no chart) when no holding could be planned
    planned = bool((plan["error"] == "").any())
    ladder = scenario_summary(scenario_table(plan, ladder_moves(plan, moves))) if planned else None
    chart_moves = sorted({round(float(m), 10) for m in (*CHART_MOVES, *moves)})
    payoff = scenario_summary(scenario_table(plan, chart_moves)) if planned else None
    ok = plan[(plan["error"] == "") & (plan["contracts"] > 0)]
    funding = funding_by_day(funding_history, list(dict.fromkeys(ok["contract"].astype(str))))

    target = Path(path)
    with atomic_path(target) as temp:
        workbook = xlsxwriter.Workbook(str(temp), {
            "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
            "default_format_properties": {"font_name": "Arial", "font_size": 10},
        })
        workbook.set_properties({
            "title": f"Hedge sheet: {workbook_name}",
            "subject": "Short inverse perpetuals against spot holdings",
            "comments": f"Prices as of {_when(as_of)} from {source}",
            "created": _naive_utc(as_of),
        })
        _SheetWriter(workbook, compact=not landscape).write(
            plan, ladder, payoff, as_of=as_of, source=source, workbook_name=workbook_name,
            stale=stale, monitor=monitor, funding=funding,
            paper=PAPER_SIZES[paper_key], landscape=landscape,
        )
        workbook.close()
    return target


def funding_by_day(history: pd.DataFrame | None, contracts: Sequence[str]) -> pd.DataFrame:
    """Each of ``contracts``' funding per UTC day, annualised: the day's rates summed x 365,
    whatever the interval (3 rows of 0.01% a day and 24 hourly rows of 0.00125% are both
    10.95%). One column per contract that has history (in the order given, matched without
    regard to case or surrounding spaces), indexed by day (naive dates at midnight); NaN where a
    contract has no full day: a day with fewer rows than the contract's usual (median) day, such
    as today's or the first of the window, would understate the rate and is left out.
    ``history``: rows ``Contract``, ``Time`` (or ``Time (UTC)``; tz-aware or naive UTC),
    ``Rate`` per interval; rows without a time or a rate are skipped."""
    if history is None or history.empty:
        return pd.DataFrame()
    frame = history.rename(columns={"Time (UTC)": "Time"})
    missing = [c for c in ("Contract", "Time", "Rate") if c not in frame.columns]
    if missing:
        raise InputError("funding_history", f"must have columns Contract, Time, Rate (missing "
                         f"{', '.join(missing)})")
    frame = pd.DataFrame({
        "contract": frame["Contract"].astype(str).str.strip().str.upper(),
        "time": pd.to_datetime(frame["Time"], utc=True, errors="coerce"),
        "rate": pd.to_numeric(frame["Rate"], errors="coerce"),
    }).dropna().drop_duplicates(["contract", "time"], keep="last")
    days: dict[str, pd.Series] = {}
    for contract in dict.fromkeys(contracts):
        rows = frame[frame["contract"] == contract.strip().upper()]
        if rows.empty:
            continue
        day = rows["time"].dt.floor("D").dt.tz_localize(None)
        grouped = rows["rate"].groupby(day)
        counts = grouped.count()
        days[contract] = (grouped.sum() * 365.0).where(counts >= counts.median())
    return pd.DataFrame(days).sort_index() if days else pd.DataFrame()


def ladder_moves(plan: pd.DataFrame, moves: Sequence[float]) -> list[float]:
    """``moves`` and, for each position, the move to its liquidation price (rounded up to a
    hundredth of a percent, so that the row shows it liquidated)."""
    ok = plan[plan["error"] == ""]
    at = [math.ceil(d * 10000) / 10000 for d in ok["liquidation_distance"]
          if math.isfinite(d) and -0.99 < d <= 10]
    return sorted({round(float(m), 10) for m in (*moves, *at)})


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _when(moment: datetime) -> str:
    """The as-of time as text, with its time zone (or a note that it has none)."""
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.tzinfo is None:
        return f"{text} (no time zone given)"
    return f"{text} {moment.tzname() or moment.strftime('%z')}"


def warning_lines(plan: pd.DataFrame) -> list[str]:
    """The plan's warnings, one per line: ``ASSET / CONTRACT: text``."""
    ok = plan[plan["error"] == ""]
    return [f"{asset} / {contract}: {part}"
            for asset, contract, text in zip(ok["asset"], ok["contract"], ok["warnings"],
                                             strict=True)
            for part in str(text).split("; ") if part.strip()]


def _unit(currency: str) -> str:
    """A currency as a number-format literal (quotes and backslashes removed)."""
    return "".join(ch for ch in str(currency) if ch not in '"\\')


def _amount_format(currency: str) -> str:
    """Coin amounts with 8 decimals, stablecoins with 2; the unit shown after the number."""
    unit = _unit(currency)
    return f'#,##0.00 "{unit}"' if unit.upper() in STABLE else f'{FMT_COIN} "{unit}"'


def _contracts_format(value: float) -> str:
    return "#,##0" if float(value).is_integer() else "#,##0.##########"


def _number_format(column: Column, line: Mapping[Any, Any]) -> str:
    """A plan figure's number format on the sheet; coin amounts name their coin."""
    value = float(line[column.key])
    if column.unit == "settle":
        return _amount_format(str(line["settle"]))
    if column.unit == "count":
        return _contracts_format(value)
    if column.unit == "size":
        unit = "USD" if line["contract_type"] == "inverse" else "coin"
        return f'#,##0 "{unit}"' if value.is_integer() else f'#,##0.########## "{unit}"'
    return column.excel_format


def _lines(text: str, width: float, *, bold: bool = False) -> int:
    """Lines a wrapped cell ``width`` characters wide needs (a greedy word wrap).

    Sized for the widest common substitute font (DejaVu Sans, used where Arial is missing).
    """
    room = max(width * (1.0 if bold else 1.1), 4.0)
    count = 0
    for paragraph in str(text).split("\n"):
        count += 1
        used = 0.0
        for word in paragraph.split(" "):
            if used and used + 1 + len(word) <= room:
                used += 1 + len(word)
                continue
            if used:
                count += 1
            extra = max(math.ceil(len(word) / room) - 1, 0)
            count += extra
            used = len(word) - extra * room
    return count


def _col_px(width: float) -> int:
    """Pixels of a column ``width`` characters wide (xlsxwriter's rule for 7-pixel digits)."""
    return int(width * 7 + 0.5) + 5 if width >= 1 else int(width * 12 + 0.5)


def _footer_text(value: str, limit: int) -> str:
    """Text safe in a header/footer: one line, at most ``limit`` characters, ``&`` doubled."""
    text = " ".join(str(value).split())
    if len(text) > limit:
        text = text[: limit - 1] + "\u2026"
    return text.replace("&", "&&")


class _SheetWriter:
    """Writes the sections top to bottom; ``row`` is the next free row."""

    def __init__(self, workbook: xlsxwriter.Workbook, compact: bool = False) -> None:
        """``compact``: laid out for a portrait page (fewer order columns, the checklist under
        the ladder rather than beside it)."""
        self.workbook = workbook
        self.compact = compact
        self.ws: Worksheet = workbook.add_worksheet(SHEET_NAME)
        self.columns = sheet_columns(compact)
        first = COMPACT_FIRST_COLUMNS if compact else FIRST_COLUMNS
        self.headers = [h for h, _ in first] + [c.heading for c in self.columns]
        self.widths = [w for _, w in first] + [_sheet_width(c) for c in self.columns]
        if compact:  # room for the cost block's figures
            for col in COMPACT_COST_COLUMNS[1:]:
                self.widths[col] = max(self.widths[col], COMPACT_VALUE_WIDTH)
        self.last_col = len(self.widths) - 1  # the print area ends here
        self.data_col = self.last_col + 2  # the chart's data, outside the print area
        self.funding_col = self.data_col + len(CHART_HEADERS) + 1  # the funding chart's data
        self.row = 0
        self.breaks: list[int] = []  # manual page breaks: before these rows
        self.heights: dict[int, float] = {}
        self._formats: dict[tuple[tuple[str, Any], ...], Format] = {}

    def width(self, first: int, last: int) -> float:
        """Characters across columns ``first..last``."""
        return sum(self.widths[first:last + 1])

    # -- cells -------------------------------------------------------------------------------

    def fmt(self, **props: Any) -> Format:
        """A cached format; properties as in ``Workbook.add_format``."""
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.workbook.add_format(props)
        return self._formats[key]

    def text(self, row: int, col: int, value: object, **props: Any) -> None:
        self.ws.write_string(row, col, "" if value is None else str(value), self.fmt(**props))

    def number(
        self, row: int, col: int, value: Any, num_format: str, *, inf_text: str = NEVER,
        through: int = -1, **props: Any,
    ) -> None:
        """A number cell (merged up to column ``through``); NaN is written as the text ``n/a``,
        infinity as ``inf_text``."""
        number = float(value)
        if math.isfinite(number):
            cell = self.fmt(num_format=num_format, **props)
        else:
            cell = self.fmt(align="right", **props)
        if through > col:
            self.ws.merge_range(row, col, row, through, "", cell)
        if math.isfinite(number):
            self.ws.write_number(row, col, number, cell)
        else:
            self.ws.write_string(row, col, "n/a" if math.isnan(number) else inf_text, cell)

    def span(self, row: int, first: int, last: int, value: str, **props: Any) -> None:
        """Text across columns ``first..last``, wrapped, the row made tall enough."""
        cell = self.fmt(**({"text_wrap": True, "valign": "top"} | props))
        if last > first:
            self.ws.merge_range(row, first, row, last, "", cell)
        self.ws.write_string(row, first, value, cell)
        self.tall(row, _lines(value, self.width(first, last), bold=bool(props.get("bold"))))

    def tall(self, row: int, lines: int = 1, points: float = 0.0) -> None:
        """Make ``row`` at least ``lines`` text lines (or ``points``) high."""
        height = max(points, 13.0 * lines + 2.0 if lines > 1 else 0.0)
        if height > self.heights.get(row, 0.0):
            self.heights[row] = height

    def section(self, title: str, first: int = 0, last: int = -1, row: int = -1) -> int:
        """A section title with a rule under it (to the last column by default); returns its
        row."""
        row = self.row + 1 if row < 0 else row
        last = self.last_col if last < 0 else last
        self.tall(row, points=21)
        self.text(row, first, title, bold=True, font_size=12, bottom=2, valign="bottom")
        for col in range(first + 1, last + 1):
            self.text(row, col, "", bottom=2)
        return row

    def header(self, row: int, headers: Sequence[str], first: int = 0) -> None:
        for col, title in enumerate(headers, start=first):
            self.text(row, col, title, bold=True, text_wrap=True, valign="top", bg_color=GREY,
                      border=1)
        self.tall(row, points=27)

    def note(self, row: int, text: str, first: int = 1, last: int = -1) -> None:
        self.span(row, first, self.last_col if last < 0 else last, text, italic=True,
                  font_size=9)

    # -- the page ----------------------------------------------------------------------------

    def write(
        self, plan: pd.DataFrame, ladder: pd.DataFrame | None, payoff: pd.DataFrame | None, *,
        as_of: datetime, source: str, workbook_name: str, paper: int, landscape: bool,
        stale: Sequence[str], monitor: pd.DataFrame | None = None,
        funding: pd.DataFrame | None = None,
    ) -> None:
        for col, width in enumerate(self.widths):
            self.ws.set_column(col, col, width)
        self.ws.set_column(self.last_col + 1, self.last_col + 1, 3)
        self.ws.set_column(self.data_col, self.data_col + len(CHART_HEADERS) - 1, 14)
        funding = pd.DataFrame() if funding is None else funding
        self.ws.set_column(self.funding_col, self.funding_col + len(funding.columns), 22)
        ok = plan[plan["error"] == ""]
        positions = plan_positions(plan)
        live = positions[positions["contracts"] > 0]
        opened = monitor[monitor["error"] == ""] if monitor is not None else None
        if monitor is not None:  # a position already open (even one with a typo) is
            # adjusted, not opened again
            held = {(a, str(c).upper()) for a, c in zip(monitor["account_key"],
                                                         monitor["symbol"], strict=True)}
            live = live[[(a, str(c).strip().upper()) not in held for a, c in zip(
                live["account"], live["contract"], strict=True)]]
        self.title(as_of, source, workbook_name, stale)
        self.orders(live, ok[~(ok["contracts"] > 0)], monitor is not None and not monitor.empty)
        if monitor is not None:
            self.open_hedge(monitor)
        totals = plan_totals(plan)
        top = self.summary(plan, totals)
        if self.compact:  # the payoff chart beside the summary, the funding chart beside the cost
            if payoff is not None:
                self.chart(payoff, top, CHART_COL, self.last_col)
            self.row = max(self.row, top + CHART_ROWS)
            self.keep_together(top - 1, self.row - 1, paper, landscape)
            top = self.cost(plan, totals)
            if not funding.empty:  # room for the chart's legend, one line per contract
                self.row = max(self.row, top + CHART_ROWS - 4 + len(funding.columns))
                self.keep_together(top - 1, self.row - 1, paper, landscape)
            self.funding_chart(funding, top, CHART_COL, self.last_col, self.row - top)
            self.ladder_and_checklist(ladder)
        else:  # the summary and the cost side by side, then the charts side by side
            self.cost(plan, totals, row=top - 1)
            if payoff is not None:
                top = self.row + 1
                self.chart(payoff, top, 1, CHART_COL - 1)
                self.funding_chart(funding, top, CHART_COL, self.last_col, CHART_ROWS)
                self.row = top + CHART_ROWS
                self.keep_together(top - 1, self.row - 1, paper, landscape)
            self.ladder_and_checklist(ladder)
        self.warnings(plan)
        self.errors(plan[plan["error"] != ""])
        self.unwind(live, opened)
        for row, height in sorted(self.heights.items()):
            self.ws.set_row(row, height)
        self.page_setup(paper, landscape, as_of, workbook_name)

    def title(self, as_of: datetime, source: str, workbook_name: str,
              stale: Sequence[str]) -> None:
        self.tall(0, points=24)
        self.text(0, 0, TITLE, bold=True, font_size=16, valign="top")
        facts = (("Prices as of", _when(as_of)), ("Price source", source),
                 ("Inventory from", workbook_name))
        for row, (label, value) in enumerate(facts, start=1):
            self.text(row, 1, label, bold=True)
            self.text(row, 2, value)
        self.row = len(facts)
        if stale:
            self.row += 1
            self.span(self.row, 1, self.last_col, f"STALE PRICES for {len(stale)} holding(s): "
                      f"the last good prices are used. {'; '.join(stale)}", bold=True,
                      font_color=RED)

    def summary(self, plan: pd.DataFrame, totals: pd.Series) -> int:
        """Key figures: labels in B, values in D. Returns the first row (the chart's top)."""
        top = self.section(SECTIONS["summary"], 0, CHART_COL - 1) + 1
        figures: list[tuple[str, float, str]] = [
            (LABELS["holdings"], totals["holdings"], FMT_COUNT),
            (LABELS["errors"], totals["errors"], FMT_COUNT),
            (LABELS["notional_usd"], totals["notional_usd"], FMT_USD),
            (LABELS["exposure_usd"], totals["exposure_usd"], FMT_USD),
            (LABELS["hedged_usd"], totals["hedged_usd"], FMT_USD),
            (LABELS["coverage"], totals["coverage"], FMT_PCT),
            (LABELS["net_delta_usd"], totals["net_delta_usd"], FMT_USD),
        ]
        figures += [(f"{LABELS['margin_coin']}, {coin}", value, _amount_format(str(coin)))
                    for coin, value in margin_by_coin(plan).items()]
        figures += [
            (LABELS["margin_usd"], totals["margin_usd"], FMT_USD),
            (LABELS["funding_per_day_usd"], totals["funding_per_day_usd"], FMT_USD_SIGNED),
            (LABELS["fee_to_open_usd"], totals["fee_to_open_usd"], FMT_USD),
            (LABELS["nearest_liquidation_distance"], totals["nearest_liquidation_distance"],
             FMT_DIST),
        ]
        row = top
        for label, value, num_format in figures:
            self.text(row, 1, label)
            self.number(row, SUMMARY_VALUE_COL, value, num_format, bottom=4,
                        bottom_color="#BFBFBF", through=CHART_COL - 1)
            row += 1
        nearest = totals["nearest_liquidation_distance"]
        if math.isfinite(nearest):
            ok = plan[plan["error"] == ""]
            hit = ok[ok["liquidation_distance"] == nearest]
            names = ", ".join(dict.fromkeys(
                f"{a} ({c})" for a, c in zip(hit["asset"], hit["contract"], strict=True)))
            self.text(row, 1, LABELS["nearest_liquidation_on"])
            self.span(row, SUMMARY_VALUE_COL, CHART_COL - 1, names)
            row += 1
        if totals["errors"]:
            self.note(row, f"The totals leave out the {int(totals['errors'])} holding(s) with "
                      "errors (listed below): fix them and make the sheet again.", 1,
                      CHART_COL - 1)
            row += 1
        self.row = row
        return top

    def keep_together(self, first: int, last: int, paper: int, landscape: bool) -> None:
        """A page break before row ``first`` when rows ``first..last`` (a band with a chart:
        a chart cut by the end of a page is unreadable) would straddle the end of a page, as
        estimated from the paper, the margins, the scale that fits the columns to its width and
        the rows' heights."""
        width, height = PAPER_INCHES[paper]
        if landscape:
            width, height = height, width
        sheet = sum(_col_px(w) for w in self.widths) * 0.75  # points
        scale = min(1.0, (width - 0.8) * 72 / sheet)
        room = (height - 1.1) * 72 / scale * 0.97  # margins 0.5 + 0.6 in; a little to spare

        def tall(row: int) -> float:
            return self.heights.get(row, 15.0)

        used = 0.0
        for row in range(max([0, *(b for b in self.breaks if b <= first)]), first):
            used = used + tall(row) if used + tall(row) <= room else tall(row)
        band = sum(tall(row) for row in range(first, last + 1))
        if used + band > room >= band and used > 0:
            self.breaks.append(first)

    def chart(self, payoff: pd.DataFrame, top: int, first: int, through: int) -> None:
        """Unhedged vs hedged value across moves: data outside the print area, the chart over
        columns ``first..through`` from the row above ``top``."""
        data = self.data_col
        self.text(0, data, SECTIONS["chart_data"], bold=True)
        self.header(1, CHART_HEADERS, data)
        for i, row in enumerate(payoff.itertuples(index=False), start=2):
            self.number(i, data, row.move, FMT_MOVE)
            self.number(i, data + 1, row.unhedged_usd, FMT_USD)
            self.number(i, data + 2, row.hedged_usd, FMT_USD)
        last = 1 + len(payoff)
        chart = self.workbook.add_chart({"type": "scatter", "subtype": "straight"})
        assert chart is not None
        for offset, colour, dash in ((1, RED, "dash"), (2, "#1F4E79", "solid")):
            chart.add_series({
                "name": [SHEET_NAME, 1, data + offset],
                "categories": [SHEET_NAME, 2, data, last, data],
                "values": [SHEET_NAME, 2, data + offset, last, data + offset],
                "line": {"color": colour, "width": 2.25, "dash_type": dash},
            })
        grid = {"visible": True, "line": {"color": "#E0E0E0"}}
        chart.set_title({"name": "Payoff: value of the holdings after a price move",
                         "name_font": {"size": 11, "bold": True}})
        chart.set_x_axis({
            "name": "Price move (every asset and contract coin)", "num_format": FMT_MOVE,
            "min": float(payoff["move"].min()), "max": float(payoff["move"].max()),
            "major_unit": 0.1, "major_gridlines": grid, "num_font": {"size": 8},
            "name_font": {"size": 9, "bold": False}, "crossing": float(payoff["move"].min()),
        })
        chart.set_y_axis({
            "name": "Value (USD)", "num_format": "#,##0", "major_gridlines": grid,
            "num_font": {"size": 8}, "name_font": {"size": 9, "bold": False},
        })
        chart.set_legend({"position": "bottom", "font": {"size": 9}})
        chart.set_chartarea({"border": {"color": "#808080"}})
        width = sum(_col_px(w) for w in self.widths[first:through + 1]) - 4
        chart.set_size({"width": width, "height": CHART_ROWS * ROW_PX + 14})
        self.ws.insert_chart(top - 1, first, chart,
                             {"x_offset": 2, "y_offset": 6, "object_position": 3})

    def cost(self, plan: pd.DataFrame, totals: pd.Series, row: int = -1) -> int:
        """The cost of this hedge over the horizon, at today's funding rates and at the 30-day
        average, against selling and buying back: landscape right of the summary (from its
        title ``row``), portrait under it. Returns the block's first row."""
        label, today, average = COMPACT_COST_COLUMNS if self.compact else COST_COLUMNS
        last = CHART_COL - 1 if self.compact else self.last_col
        top = self.section(SECTIONS["cost"], 0 if self.compact else label, last, row=row) + 1
        r = top
        if math.isnan(totals["hedge_days"]):
            self.note(r, "No holding could be planned: no cost.", label, last)
            self.row = max(self.row, r + 1)
            return top
        cell: dict[str, Any] = {"border": 1, "valign": "top"}
        self.span(r, label, today - 1, COST_LABELS["hedge_days"], indent=1, **cell)
        self.number(r, today, totals["hedge_days"], _contracts_format(totals["hedge_days"]),
                    through=last, **cell)
        r += 1
        for first, end, heading in ((today, average - 1, COST_HEADERS[0]),
                                    (average, last, COST_HEADERS[1])):
            self.span(r, first, end, heading, bold=True, bg_color=GREY, **cell)
        r += 1
        known = not math.isnan(totals["hedge_cost_avg_usd"])
        sell = totals["sell_cost_usd"]

        def cheaper(cost: float) -> str:
            return "n/a" if math.isnan(cost) else "hedging" if cost <= sell else "selling"

        lines: list[tuple[str, float | str, float | str, str]] = [
            ("funding", totals["funding_horizon_usd"], totals["funding_horizon_avg_usd"],
             FMT_USD_SIGNED),
            ("fees", totals["fees_usd"], totals["fees_usd"], FMT_USD),
            ("cost", totals["hedge_cost_usd"], totals["hedge_cost_avg_usd"], FMT_USD_SIGNED),
            ("annual", totals["hedge_cost_annual"], totals["hedge_cost_avg_annual"],
             "+0.00%;-0.00%;0.00%"),
            ("sell", sell, sell, FMT_USD),
            ("cheaper", cheaper(totals["hedge_cost_usd"]), cheaper(totals["hedge_cost_avg_usd"]),
             ""),
            ("break_even", totals["break_even_days"], totals["break_even_avg_days"], "#,##0.0"),
        ]
        first_line = r
        for key, now, at_average, num_format in lines:
            self.span(r, label, today - 1, COST_LABELS[key], indent=1, **cell)
            self.figure(r, today, average - 1, now, num_format, **cell)
            if known:
                self.figure(r, average, last, at_average, num_format, **cell)
            r += 1
        if not known:  # one cell down the average's column says why it is empty
            hedged = int(((plan["error"] == "") & (plan["hedged_usd"] > 0)).sum())
            missing = int(totals["funding_avg_missing"])
            why = NO_HISTORY if missing >= hedged else (
                f"no history for {missing} of {hedged} holdings: refresh from a live source")
            self.ws.merge_range(first_line, average, r - 1, last, why, self.fmt(
                border=1, italic=True, text_wrap=True, align="center", valign="vcenter",
                font_size=9))
        days = plan.loc[plan["error"] == "", "hedge_days"]
        horizons = (f" Holdings with their own Hedge Days: {days.min():g} to {days.max():g} "
                    "days; the horizon shown is the longest." if days.min() < days.max() else "")
        for note in ("Cost: the fees to open and close less the funding received (below 0: a "
                     "gain)." + horizons, "Break-even: the horizon at which hedging and selling "
                     "cost the same."):
            self.note(r, note, label, last)
            r += 1
        self.span(r, label, last, TAX_REMARK, bold=True)
        self.row = max(self.row, r + 1)
        return top

    def figure(self, row: int, first: int, last: int, value: float | str, num_format: str,
               **props: Any) -> None:
        """A figure of the cost block across columns ``first..last``: a number, or a word."""
        if isinstance(value, str):
            self.span(row, first, last, value, align="right", **props)
        else:
            self.number(row, first, value, num_format, through=last, **props)

    def funding_chart(self, funding: pd.DataFrame, top: int, first: int, last: int,
                      rows: int) -> None:
        """Each planned contract's funding per UTC day, annualised (:func:`funding_by_day`):
        data outside the print area, a line per contract over columns ``first..last`` from the
        row above ``top``, ``rows`` rows high; without history, a one-line note."""
        if funding.empty:
            self.span(top, first, last, NO_FUNDING_CHART, italic=True, font_size=9, indent=1)
            return
        data = self.funding_col
        self.text(0, data, SECTIONS["funding_data"], bold=True)
        self.header(1, ["Day (UTC)", *(str(c) for c in funding.columns)], data)
        day_format = self.fmt(num_format="yyyy-mm-dd")
        for i, (day, values) in enumerate(funding.iterrows(), start=2):
            self.ws.write_datetime(i, data, pd.Timestamp(str(day)).to_pydatetime(), day_format)
            for col, value in enumerate(values, start=data + 1):
                if math.isfinite(float(value)):
                    self.number(i, col, value, FMT_PCT)
        end = 1 + len(funding)
        chart = self.workbook.add_chart({"type": "line"})
        assert chart is not None
        for i in range(len(funding.columns)):
            colour = FUNDING_COLOURS[i % len(FUNDING_COLOURS)]
            col = data + 1 + i
            few = len(funding) < 10  # a line needs two points: markers show lone days
            chart.add_series({
                "name": [SHEET_NAME, 1, col],
                "categories": [SHEET_NAME, 2, data, end, data],
                "values": [SHEET_NAME, 2, col, end, col],
                "line": {"color": colour, "width": 1.75},
                "marker": {"type": "circle", "size": 5, "border": {"color": colour},
                           "fill": {"color": colour}} if few else {"type": "none"},
            })
        chart.show_blanks_as("gap")
        grid = {"visible": True, "line": {"color": "#E0E0E0"}}
        chart.set_title({"name": FUNDING_TITLE, "name_font": {"size": 11, "bold": True}})
        span = (funding.index.max() - funding.index.min()).days
        chart.set_x_axis({
            "date_axis": True, "num_format": "d mmm", "num_font": {"size": 8, "rotation": 0},
            "label_position": "low",
            "major_unit": max(1, math.ceil(span / 6)), "major_unit_type": "days",
        })
        chart.set_y_axis({
            "name": "% a year (+: shorts receive)", "num_format": "0%",
            "major_gridlines": grid, "num_font": {"size": 8},
            "name_font": {"size": 9, "bold": False},
        })
        chart.set_legend({"position": "bottom", "font": {"size": 9}})
        chart.set_chartarea({"border": {"color": "#808080"}})
        width = sum(_col_px(w) for w in self.widths[first:last + 1]) - 4
        height = sum(round(self.heights.get(r, 15.0) * 4 / 3) for r in range(top - 1, top + rows))
        chart.set_size({"width": width, "height": max(height - 12, 8 * ROW_PX)})
        self.ws.insert_chart(top - 1, first, chart,
                             {"x_offset": 2, "y_offset": 6, "object_position": 3})

    def ladder_and_checklist(self, ladder: pd.DataFrame | None) -> None:
        """The scenario ladder in B..F and the execution checklist beside it (under it when
        compact)."""
        start = self.section(SECTIONS["ladder"], 0, RIGHT_COL - 1)
        if not self.compact:
            self.section(SECTIONS["checklist"], RIGHT_COL, self.last_col, row=start)
        row = start + 1
        if ladder is None:
            self.note(row, "No holding could be planned: no scenarios.", 1, RIGHT_COL - 1)
            row += 1
        else:
            self.header(row, LADDER_HEADERS, 1)
            row += 1
            for line in ladder.itertuples(index=False):
                flag = f"LIQUIDATED: {line.liquidated_assets}" if line.liquidated else ""
                cell: dict[str, Any] = {"border": 1, "valign": "top"}
                self.number(row, 1, line.move, FMT_DIST, **cell)  # +99.2%: a liquidation row
                self.text(row, 2, flag, text_wrap=True, bold=True, font_color=RED, **cell)
                self.number(row, 3, line.unhedged_usd, FMT_USD, **cell)
                self.number(row, 4, line.hedge_pnl_usd, FMT_USD_SIGNED, **cell)
                self.number(row, 5, line.hedged_usd, FMT_USD, **cell)
                self.tall(row, _lines(flag, self.width(2, 2), bold=True))
                row += 1
            self.note(row, "USD values after the move. A liquidated hedge loses its isolated "
                      "margin and stops hedging. The chart shows the same in 5% steps.",
                      1, RIGHT_COL - 1)
            row += 1
        left = RIGHT_COL
        check = start + 1
        if self.compact:
            self.row = row
            left, check = 1, self.section(SECTIONS["checklist"]) + 1
        indented: dict[str, Any] = {"align": "left", "indent": 1}
        for n, step in enumerate(CHECKLIST, start=1):
            self.span(check, left, self.last_col, f"{CHECKBOX}  {n}. {step}", **indented)
            self.tall(check, points=17)
            check += 1
        for signature in SIGN_OFF:
            self.span(check, left, self.last_col, signature, valign="bottom", **indented)
            self.tall(check, points=27)
            check += 1
        self.row = max(row, check)

    def warnings(self, plan: pd.DataFrame) -> None:
        row = self.section(SECTIONS["warnings"]) + 1
        for line in warning_lines(plan) or ["None."]:
            self.span(row, 1, self.last_col, line)
            row += 1
        self.span(row, 1, self.last_col, DISCLAIMER, bold=True)
        self.tall(row, points=20)
        self.row = row + 1

    def errors(self, bad: pd.DataFrame) -> None:
        if bad.empty:
            return
        row = self.section(SECTIONS["errors"]) + 1
        self.header(row, ["#", "Asset", "Contract"])
        self.span(row, 3, self.last_col, "Error", bold=True, bg_color=GREY, border=1)
        row += 1
        for n, line in enumerate(bad.itertuples(index=False), start=1):
            cell: dict[str, Any] = {"border": 1, "valign": "top", "text_wrap": True}
            self.number(row, 0, n, FMT_COUNT, border=1, valign="top")
            self.text(row, 1, line.asset, **cell)
            self.text(row, 2, line.contract, **cell)
            self.span(row, 3, self.last_col, str(line.error), border=1, font_color=RED)
            self.tall(row, max(_lines(str(line.asset), self.width(1, 1)),
                               _lines(str(line.contract), self.width(2, 2))))
            row += 1
        self.row = row

    def orders(self, live: pd.DataFrame, idle: pd.DataFrame, opened: bool = False) -> None:
        """The SELL orders, one per position, and the transfers that fund them (page 1)."""
        header_row = self.section(SECTIONS["orders"]) + 1
        self.header(header_row, self.headers)
        row = header_row + 1
        for n, line in enumerate(live.to_dict("records"), start=1):
            self.first_columns(row, n, line, "SELL")
            self.plan_cells(row, line, self.columns)
            row += 1
        if live.empty:
            self.note(row, "No new position to open: every planned position is open (see "
                      "Open hedge)." if opened else "No orders: nothing to hedge.")
            row += 1
        if not idle.empty:
            names = ", ".join(f"{a} ({c})" for a, c in zip(idle["asset"], idle["contract"],
                                                          strict=True))
            self.note(row, f"No order for {names}: 0 contracts (see the warnings).")
            row += 1
        if not live.empty:
            for line in transfers(live)["text"]:
                self.span(row, 1, self.last_col, f"{CHECKBOX}  {line} before you open.",
                          bold=True)
                row += 1
        self.note(row, "One order per position: holdings hedged with the same contract in one "
                  "account are one position on the exchange. Liq. Price: the contract coin's "
                  "mark price at which the short is liquidated, rounded down to the tick (never "
                  "= it cannot be). Margin and fees are in the contract's settle coin; a "
                  "transfer adds the fees to open and to close.")
        self.row = row + 1

    def first_columns(self, row: int, n: int, line: Mapping[Any, Any],
                      side: Literal["SELL", "BUY"]) -> None:
        """#, asset and order line of one order."""
        cell: dict[str, Any] = {"border": 1, "valign": "top"}
        order = order_text(side, line["contracts"], str(line["contract"]),
                           line["order_quantity"], line["order_unit"], line["contract_value"])
        self.number(row, 0, n, FMT_COUNT, **cell)
        self.text(row, 1, line["asset"], text_wrap=True, **cell)
        self.text(row, 2, order, text_wrap=True, bold=side == "SELL", **cell)
        self.tall(row, max(_lines(str(line["asset"]), self.width(1, 1)),
                           _lines(order, self.width(2, 2), bold=side == "SELL")))

    def plan_cells(self, row: int, line: Mapping[Any, Any], columns: Sequence[Column]) -> None:
        """The plan's figures of one order, each in its column of the orders table."""
        for column in columns:
            col = 3 + self.columns.index(column)
            value = line[column.key]
            if column.unit == "text":
                self.text(row, col, column.text(value), border=1, valign="top", text_wrap=True)
                continue
            if column.key == "liquidation_price" and math.isfinite(value):
                value = math.floor(value / line["tick_size"]) * line["tick_size"]  # safe side
            self.number(row, col, value, _number_format(column, line),
                        inf_text=column.never, border=1, valign="top")

    def unwind(self, live: pd.DataFrame, opened: pd.DataFrame | None = None) -> None:
        """The BUY orders that close the hedge, in the orders' columns, under their own header;
        for positions already open, the result of closing them at the current mark."""
        row = self.section(SECTIONS["unwind"]) + 1
        unwound = [c for c in self.columns if c.key in UNWIND_KEYS]
        self.header(row, self.headers[:3])
        for column in unwound:
            self.header(row, [column.heading], 3 + self.columns.index(column))
        row += 1
        for n, line in enumerate(live.to_dict("records"), start=1):
            self.first_columns(row, n, line, "BUY")
            self.plan_cells(row, line, unwound)
            row += 1
        for closing in _closing_lines(opened):
            self.span(row, 1, self.last_col, f"{CHECKBOX}  {closing}")
            row += 1
        if live.empty and (opened is None or opened.empty):
            self.note(row, "Nothing to unwind.")
            row += 1
        self.note(row, "Close with reduce-only orders on the same contract before you sell the "
                  "spot holding; closing releases the isolated margin.")
        self.row = row + 1

    def open_hedge(self, monitor: pd.DataFrame) -> None:
        """The positions already open: what they hold and are worth, and the adjustment and
        margin orders that bring them back to the plan."""
        row = self.section(SECTIONS["open"]) + 1
        keys = OPEN_KEYS_COMPACT if self.compact else OPEN_KEYS
        shown = [declared_column(k, POSITION_COLUMNS) for k in keys][:self.last_col - 2]
        self.header(row, ["#", "Contract", "Adjustment", *(c.heading for c in shown)])
        row += 1
        for n, line in enumerate(_records(monitor), start=1):
            cell: dict[str, Any] = {"border": 1, "valign": "top"}
            order = _adjust_order(line)
            self.number(row, 0, n, FMT_COUNT, **cell)
            self.text(row, 1, line["contract"], text_wrap=True, **cell)
            self.text(row, 2, order, text_wrap=True, bold=bool(line["adjust"]), **cell)
            self.tall(row, max(_lines(str(line["contract"]), self.width(1, 1)),
                               _lines(order, self.width(2, 2))))
            for col, declared in enumerate(shown, start=3):
                value = line.get(declared.key)
                if declared.unit == "text" or value is None or isinstance(value, str):
                    self.text(row, col, declared.text(value), text_wrap=True, **cell)
                else:
                    fmt = _amount_format(str(line["settle"])) if declared.unit == "settle" \
                        else declared.excel_format
                    self.number(row, col, value, fmt, inf_text=declared.never, **cell)
            row += 1
        for action in _action_lines(monitor):
            alarm = action.startswith(("LIQUIDATION", "Add "))
            self.span(row, 1, self.last_col, f"{CHECKBOX}  {action}", bold=True,
                      font_color=RED if alarm else "black")
            row += 1
        self.note(row, "Target: the contracts that hedge the Inventory's holdings now, counting "
                  "what the open short has won or lost. Adjustments inside the Rebalance Band "
                  "are left out; BUY orders are reduce-only. Liq. Price is that of the margin "
                  "posted (Margin on the Positions sheet). The summary, cost and scenarios "
                  "below are those of the whole planned hedge, as if it were opened today.")
        self.row = row + 1

    def page_setup(
        self, paper: int, landscape: bool, as_of: datetime,
        workbook_name: str,
    ) -> None:
        ws = self.ws
        if landscape:
            ws.set_landscape()
        else:
            ws.set_portrait()
        ws.set_paper(paper)
        ws.fit_to_pages(1, 0)
        if self.breaks:
            ws.set_h_pagebreaks(sorted(self.breaks))
        ws.print_area(0, 0, self.row - 1, self.last_col)
        ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.6)
        ws.set_footer(
            f"&L&8{_footer_text(workbook_name, 70)}&C&8Page &P of &N"
            f"&R&8Prices as of {_footer_text(_when(as_of), 50)}",
            {"margin": 0.25},
        )
        ws.set_selection(0, 0, 0, 0)
