"""The open hedge: each position the user holds on the exchange, what it is worth, how close it is
to liquidation, how far it has drifted from the plan, and the orders that bring it back.

``monitor_positions`` takes the Positions table (typed, or read from the account) and the plan of
the Inventory (:func:`xlhedge.plan.plan_hedge`) and returns one row per position with the
computed columns of :data:`xlhedge.columns.POSITION_COLUMNS`. The position's target is the
notional that hedges ``h`` of what its holdings are worth now, counting the coin the position has
won or lost: ``N' = sum(target_usd) + h * uPnL_usd`` (``h`` the holdings' value-weighted ratio).
For a same-coin inverse hedge this is :func:`xlhedge.openhedge.rebalance_contracts`'s
``dN = P (D - (1 - h) C)``; for an alt hedged with BTC contracts and ``h`` = 1 it is
``dN = Q P_alt - N P_btc / E``. A 1:1 hedge opened at any price needs no trade at a later price.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils.datetime import from_excel

from xlhedge import crosshedge, margin, openhedge, pnl, sizing
from xlhedge.columns import POSITION_COLUMNS, column_key, is_blank
from xlhedge.contracts import ContractRegistry, ContractSpec, default_registry
from xlhedge.inputs import violations

__all__ = ["REBALANCE_BAND", "account_of", "alerts", "moment", "monitor_positions",
           "normalise_positions", "position_key"]

REBALANCE_BAND = 0.02  # no adjustment while the position is within 2% of its target
_INPUTS = [c for c in POSITION_COLUMNS if c.role in ("input", "market")]
# each numeric input's rule, in the words of inputs.violations (the plan's and the functions')
_NUMBERS: dict[str, tuple[float | None, float | None]] = {  # (gt, ge)
    "contracts": (0, None), "entry_price": (0, None), "margin": (None, 0),
    "mark_price": (0, None), "funding_to_date": (None, None)}


def normalise_positions(table: pd.DataFrame) -> pd.DataFrame:
    """The Positions table with canonical column keys (headings and aliases, any case and
    spacing), rows with neither contract nor contracts dropped, missing columns blank."""
    spellings = {column_key(name): c.key for c in _INPUTS
                 for name in (c.key, c.heading, *c.aliases)}
    renames = {h: spellings[column_key(h)] for h in table.columns if column_key(h) in spellings}
    frame = table[list(renames)].set_axis(list(renames.values()), axis=1)
    frame = frame.loc[:, ~frame.columns.duplicated()].copy()
    for c in _INPUTS:
        if c.key not in frame:
            frame[c.key] = None
    keep = ~(frame["contract"].map(is_blank) & frame["contracts"].map(is_blank))
    return frame.loc[keep]


def position_key(account: object, contract: object, registry: ContractRegistry
                 ) -> tuple[str, str]:
    """(account, symbol) of a position as the exchange holds it: the account upper-case, blank
    meaning the contract's exchange; the symbol as the registry spells it."""
    symbol = "" if is_blank(contract) else str(contract).strip()
    spec = registry.find(symbol) if symbol else None
    symbol = spec.symbol if spec is not None else symbol.upper()
    return account_of(account, symbol), symbol


def account_of(account: object, contract: object) -> str:
    """A position's account: as typed, upper-case; blank meaning the contract's exchange."""
    named = "" if is_blank(account) else str(account).strip().upper()
    return named or ("" if is_blank(contract) else str(contract)).strip().partition(":")[0].upper()


def moment(value: object, errors: list[str]) -> pd.Timestamp | None:
    """A cell's date and time as UTC (an Excel serial number too); None: blank or not a date."""
    if is_blank(value) or value is pd.NaT:
        return None
    try:
        if isinstance(value, int | float | np.integer | np.floating) and not isinstance(
                value, bool):
            value = from_excel(float(value))
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        errors.append(f"opened must be a date and time, UTC (got {value!r})")
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


@dataclass
class _Row:
    """One position's inputs, checked."""

    account: str
    spec: ContractSpec
    short: bool
    contracts: float
    entry: float
    mode: str
    margin: float  # NaN: not typed
    mark: float
    funding: float  # NaN: not known
    opened: pd.Timestamp | None


def _number(raw: Mapping[str, Any], key: str, errors: list[str]) -> float:
    value = raw.get(key)
    if is_blank(value):
        return math.nan
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        errors.append(f"{key} must be a number (got {value!r})")
        return math.nan
    gt, ge = _NUMBERS[key]
    broken = [text for bad, text in violations(np.array([number]), gt=gt, ge=ge) if bad.any()]
    if broken:
        errors.append(f"{key} {broken[0]} (got {number:g})")
        return math.nan
    return number


def _row(raw: Mapping[str, Any], registry: ContractRegistry,
         marks: Mapping[str, float]) -> tuple[_Row | None, str]:
    """The checked row, or None and every reason it cannot be read."""
    errors: list[str] = []
    symbol = "" if is_blank(raw["contract"]) else str(raw["contract"]).strip()
    spec = None
    try:
        spec = registry.get(symbol) if symbol else None
    except ValueError as exc:
        errors.append(str(exc))
    if not symbol:
        errors.append("contract must not be blank")
    side = "short" if is_blank(raw["side"]) else str(raw["side"]).strip().lower()
    if side not in ("short", "long", "sell", "buy"):
        errors.append(f'side must be "short" or "long" (got {raw["side"]!r})')
    mode = "isolated" if is_blank(raw["margin_mode"]) else str(raw["margin_mode"]).strip().lower()
    if mode not in ("isolated", "cross"):
        errors.append(f'margin_mode must be "isolated" or "cross" (got {raw["margin_mode"]!r})')
    values = {key: _number(raw, key, errors) for key in _NUMBERS}
    opened = moment(raw.get("opened"), errors)
    for key in ("contracts", "entry_price"):
        if is_blank(raw.get(key)):
            errors.append(f"{key} must not be blank")
    if spec is None or errors:
        return None, "; ".join(errors)
    mark = values["mark_price"]
    if math.isnan(mark):  # not typed: the mark the Inventory's plan used for that contract
        mark = marks.get(spec.symbol, math.nan)
    if math.isnan(mark):
        return None, (f"mark_price is needed (type it, or hold {spec.underlying} in the "
                      "Inventory, or refresh from a live source)")
    account, _ = position_key(raw["account"], spec.symbol, registry)
    return _Row(account, spec, side in ("short", "sell"), values["contracts"],
                values["entry_price"], mode, values["margin"], mark,
                values["funding_to_date"], opened), ""


def monitor_positions(
    positions: pd.DataFrame, plan: pd.DataFrame, registry: ContractRegistry | None = None, *,
    band: float = REBALANCE_BAND, min_distance: float = 0.30,
    funding_history: pd.DataFrame | None = None, now: datetime | None = None,
) -> pd.DataFrame:
    """One row per open position (index kept) with the Positions table's computed columns.

    ``plan`` is the Inventory's plan: a position's target is the plan's position of the same
    account and contract (none: 0, the position is left over). ``band``: the adjustment is
    blank while the position is within that fraction of its target. ``min_distance``: margin
    to add so that liquidation is at least that far above the mark. ``funding_history``
    (columns Contract, Time, Rate) estimates the funding since ``opened`` where the position's
    own is not known.
    """
    registry = registry or default_registry()
    frame = normalise_positions(positions)
    ok = plan[plan["error"] == ""] if len(plan) else plan
    marks = {position_key("", c, registry)[1]: float(m) for c, m in zip(
        ok.get("contract", []), ok.get("mark_price", []), strict=True) if m == m}
    rows: dict[Any, _Row] = {}
    errors: dict[Any, str] = {}
    for label, raw in frame.iterrows():
        row, error = _row({str(k): v for k, v in raw.items()}, registry, marks)
        if row is not None and any((r.account, r.spec.symbol) == (row.account, row.spec.symbol)
                                   for r in rows.values()):
            error = (f"{row.spec.symbol} in account {row.account} is listed twice: one row per "
                     "position")
            row = None
        if row is None:
            errors[label] = error
        else:
            rows[label] = row
    rates = _rates_by_contract(funding_history, now)
    books = {key: group for key, group in ok.groupby(
        [ok["account"], ok["contract"].astype(str).str.strip().str.upper()])} if len(ok) else {}
    results = {label: _figures(row, rows, books.get((row.account, row.spec.symbol.upper()),
                                                    ok.iloc[:0]),
                               band, min_distance, _estimated_funding(row, rates))
               for label, row in rows.items()}
    keys = [position_key(a, c, registry) for a, c in zip(frame["account"], frame["contract"],
                                                         strict=True)]
    out = frame.copy()
    computed = [c.key for c in POSITION_COLUMNS if c.role == "computed"]
    extra = ["adjust_contracts", "fee_to_close_coin", "settle", "symbol", "order_unit",
             "contract_value", "short", "funding_estimated", "error", "account_key"]
    table = pd.DataFrame([results.get(label, {"error": errors.get(label, ""),
                                              "status": f"error: {errors.get(label, '')}"})
                          for label in frame.index], index=frame.index,
                         columns=[*computed, *extra])
    for key in ("mark_price", "funding_to_date"):
        table[key] = pd.Series([results[i][key] if i in results else out.at[i, key]
                                for i in frame.index], index=frame.index, dtype=object)
    table["account_key"] = [k[0] for k in keys]
    table["symbol"] = [k[1] for k in keys]
    out = out.drop(columns=["mark_price", "funding_to_date"]).join(table)
    out["error"] = out["error"].fillna("")
    return out


def _rates_by_contract(history: pd.DataFrame | None, now: datetime | None
                       ) -> dict[str, pd.Series]:
    """Each contract's funding rates (upper-case symbol) indexed by UTC time, up to ``now``."""
    if history is None or history.empty:
        return {}
    times = pd.DatetimeIndex(pd.to_datetime(history["Time"], utc=True))
    keep = times <= pd.Timestamp(now) if now is not None else np.ones(len(times), dtype=bool)
    rates = pd.Series(history["Rate"].astype(float).to_numpy()[keep], index=times[keep])
    contracts = history["Contract"].astype(str).str.strip().str.upper().to_numpy()[keep]
    return {str(c): group.sort_index() for c, group in rates.groupby(contracts)}


def _estimated_funding(row: _Row, rates: dict[str, pd.Series]) -> tuple[float, str]:
    """Funding received since the position opened at the public rates and today's mark (NaN:
    unknown), and a note when the history starts after the opening (a partial sum)."""
    mine = rates.get(row.spec.symbol.upper())
    if mine is None or row.opened is None:
        return math.nan, ""
    since = mine[mine.index > row.opened]
    if not len(since):
        return math.nan, ""
    first = mine.index[0]
    note = "" if first <= row.opened else f" (partial: the history starts {first:%Y-%m-%d})"
    sign = 1.0 if row.short else -1.0
    return float(sign * _value(row, row.mark) * since.sum()), note


def _value(row: _Row, price: float) -> float:
    """Position value in the settle currency at ``price``."""
    return float(margin.position_value(row.contracts, row.spec.contract_value, price,
                                       row.spec.contract_type))


def _pnl(row: _Row, price: float) -> float:
    """Unrealised PnL in the settle currency at ``price`` (mark)."""
    value = pnl.inverse_pnl if row.spec.contract_type == "inverse" else pnl.linear_pnl
    return float(value(row.contracts, row.spec.contract_value, row.entry, price,
                       "short" if row.short else "long"))


def _maintenance(row: _Row) -> float:
    """Maintenance margin at the mark (the tier by position value there)."""
    return float(margin.maintenance_margin(_value(row, row.mark), *row.spec.tier_arrays()))


def _tier(row: _Row, price: float) -> tuple[float, float]:
    """(MMR, maintenance amount) of the position's tier at ``price``."""
    floors, mmrs, amounts = row.spec.tier_arrays()
    t = int(margin.tier_index(np.array([_value(row, price)]), floors)[0])
    return float(mmrs[t]), float(amounts[t])


def _wallet_others(row: _Row, rows: Mapping[Any, _Row]) -> tuple[float, float]:
    """Maintenance margin and unrealised PnL of the other cross positions on ``row``'s wallet."""
    mm = won = 0.0
    for other in rows.values():
        if other is row or other.mode != "cross" or (other.account, other.spec.settle) != (
                row.account, row.spec.settle):
            continue
        mm += _maintenance(other)
        won += _pnl(other, other.mark)
    return mm, won


def _liquidation(row: _Row, others: tuple[float, float]) -> float:
    """The liquidation price of the margin actually posted (NaN: margin not given)."""
    if math.isnan(row.margin):
        return math.nan
    side = "short" if row.short else "long"
    spec, kind = row.spec, row.spec.contract_type
    fee = spec.taker_fee if spec.close_fee_in_bankruptcy else 0.0
    if row.mode == "isolated" and not fee:
        floors, mmrs, amounts = spec.tier_arrays()
        return float(margin.tiered_liquidation_price(
            side, row.contracts, spec.contract_value, row.entry, row.margin, floors, mmrs,
            amounts, kind, "mark"))
    mmr, amount = _tier(row, row.mark)
    other_mm, other_pnl = others if row.mode == "cross" else (0.0, 0.0)
    return float(margin.cross_liquidation_price(
        side, row.contracts, spec.contract_value, row.entry, row.margin, mmr, amount, other_mm,
        other_pnl, kind, "mark", fee))


def _margin_to_add(row: _Row, others: tuple[float, float], min_distance: float) -> float:
    """Coin to add so that liquidation lies ``min_distance`` beyond the mark
    (:func:`~xlhedge.openhedge.margin_to_add`); a cross wallet also carries its other
    positions' maintenance margin less their unrealised PnL. Where the exchange reserves the
    fee to close (Bybit), the least margin whose liquidation price gets there."""
    if math.isnan(row.margin) or min_distance <= 0:
        return 0.0
    target = row.mark * (1.0 + (min_distance if row.short else -min_distance))
    mmr, amount = _tier(row, target)
    backing = row.margin - (others[0] - others[1] if row.mode == "cross" else 0.0)
    add = float(openhedge.margin_to_add(
        "short" if row.short else "long", row.contracts, row.spec.contract_value, row.entry,
        row.mark, max(backing, 0.0), mmr, amount, min_distance, row.spec.contract_type))
    add += max(-backing, 0.0)
    if not row.spec.close_fee_in_bankruptcy:
        return add

    def far_enough(extra: float) -> bool:
        liq = _liquidation(replace(row, margin=row.margin + extra), others)
        return liq >= target if row.short else liq <= target  # inf / 0: never liquidated

    low, high = add, add + 2.0 * row.spec.taker_fee * _value(row, target) + 1e-12
    if far_enough(low):
        return low
    while not far_enough(high):
        high *= 2.0
    for _ in range(60):  # liquidation moves away as margin is added: bisect to a satoshi
        if high - low < 1e-9:
            break
        middle = (low + high) / 2.0
        low, high = (low, middle) if far_enough(middle) else (middle, high)
    return high


def _target(row: _Row, upnl: float, mine: pd.DataFrame) -> tuple[float, float, float]:
    """(target contracts, the share of the position's PnL hedged, coins meant to be hedged by
    the same-coin rows)."""
    spec = row.spec
    if not len(mine):
        return 0.0, math.nan, 0.0
    target_usd = float(mine["target_usd"].sum())
    same = (mine["asset"].astype(str).str.upper().replace("XBT", "BTC") == spec.underlying
            ).to_numpy()
    # the coin the short has won or lost is more of the contract's coin: hedged at the
    # same-coin rows' ratio (dN = P (D - (1 - h) C)), in full when every row is a cross-hedge
    # (dN = h Q P_alt - N P_btc / E)
    own = float(mine["exposure_usd"][same].sum())
    ratio = float(mine["target_usd"][same].sum()) / own if own > 0 else 1.0
    coins = float((mine["quantity"][same] * mine["hedge_ratio"][same]).sum()
                  + (mine["collateral"][same] * mine["hedge_ratio"][same]).sum())
    if spec.contract_type == "inverse":
        raw = (target_usd + ratio * upnl * row.mark) / spec.contract_value
    else:
        raw = target_usd / (spec.contract_value * row.mark)
    return float(sizing.round_to_lot(np.array(max(raw, 0.0)), np.array(spec.lot_size))), \
        ratio, coins


def _figures(row: _Row, rows: Mapping[Any, _Row], plan: pd.DataFrame, band: float,
             min_distance: float, estimate: tuple[float, str]) -> dict[str, Any]:
    spec = row.spec
    usd = row.mark if spec.contract_type == "inverse" else 1.0
    upnl = _pnl(row, row.mark)
    others = _wallet_others(row, rows)
    liq = _liquidation(row, others)
    mmr, amount = _tier(row, row.mark)
    ratio = math.nan if math.isnan(row.margin) else float(openhedge.margin_ratio(
        "short" if row.short else "long", row.contracts, row.spec.contract_value, row.entry,
        row.mark, row.margin, mmr, amount, row.spec.contract_type))
    if row.mode == "cross" and not math.isnan(row.margin):  # the wallet's: all its positions
        balance = row.margin + upnl + others[1]
        ratio = (_maintenance(row) + others[0]) / balance if balance > 0 else math.inf
    target, _, coins = _target(row, upnl, plan)
    held = row.contracts if row.short else -row.contracts
    adjust = target - held
    drift = (held - target) / target if target > 0 else (math.inf if held else 0.0)
    if abs(adjust) <= band * target or adjust == 0:
        adjust = 0.0
    add = _margin_to_add(row, others, min_distance)
    funding, estimated = row.funding, ""
    if math.isnan(funding) and not math.isnan(estimate[0]):
        funding, estimated = estimate[0], "funding estimated from the public rates" + estimate[1]
    fee = float(spec.taker_fee) * _value(row, row.mark)
    result = upnl + (0.0 if math.isnan(funding) else funding) - fee
    distance = liq / row.mark - 1.0 if not math.isnan(liq) else math.nan
    offset = math.nan
    if row.short and coins > 0 and row.mark != row.entry:
        offset = float(crosshedge.dollar_offset(upnl * usd, coins * (row.mark - row.entry)))
    figures = {
        "mark_price": row.mark, "funding_to_date": funding, "funding_estimated": estimated,
        "upnl_coin": upnl, "upnl_usd": upnl * usd, "liquidation_price": liq,
        "liquidation_distance": distance,
        "margin_ratio": ratio,
        "target_contracts": target, "drift": drift,
        "adjust": _adjust_text(adjust, spec), "adjust_contracts": adjust, "add_margin": add,
        "dollar_offset": offset, "close_result_coin": result, "close_result_usd": result * usd,
        "fee_to_close_coin": fee, "settle": spec.settle, "symbol": spec.symbol,
        "order_unit": spec.order_unit_label, "contract_value": spec.contract_value,
        "short": row.short, "error": "",
    }
    figures["status"] = _status(figures, row, min_distance)
    return figures


def _adjust_text(contracts: float, spec: ContractSpec) -> str:
    """``SELL 240`` / ``BUY 240`` in the exchange's order unit (``SELL 2,400 USD``), or ''."""
    if contracts == 0:
        return ""
    side = "SELL" if contracts > 0 else "BUY"
    quantity = spec.order_quantity(abs(contracts))
    unit = " USD" if spec.order_unit == "usd" else ""
    return f"{side} {quantity:,.10g}{unit}"


def _status(f: Mapping[str, Any], row: _Row, min_distance: float) -> str:
    parts = []
    distance = f["liquidation_distance"]
    room = distance if row.short else -distance  # how far the mark may move against it
    if not math.isnan(room) and room <= 0:
        parts.append(f"LIQUIDATION: the mark is past the liquidation price "
                     f"{f['liquidation_price']:,.2f} of this margin: check Margin (add "
                     f"{f['add_margin']:.8f} {row.spec.settle})")
    elif not math.isnan(room) and room < min_distance:
        parts.append(f"LIQUIDATION {distance:+.1%} away: add {f['add_margin']:.8f} "
                     f"{row.spec.settle} margin")
    if math.isnan(row.margin):
        parts.append("type the Margin to see the liquidation price")
    if f["adjust"]:
        held = row.contracts if row.short else -row.contracts
        unit = " USD" if row.spec.order_unit == "usd" else ""
        parts.append(f"adjust: {f['adjust']} (holds {row.spec.order_quantity(held):,.10g}"
                     f"{unit}, target {row.spec.order_quantity(f['target_contracts']):,.10g}"
                     f"{unit})")
    if f["target_contracts"] == 0 and row.short:
        parts.append("no holding in the Inventory is hedged with this contract")
    if not row.short:
        parts.append("a long position adds to the exposure: it is not a hedge")
    if f["funding_estimated"]:
        parts.append(f["funding_estimated"])
    offset = f["dollar_offset"]
    if not math.isnan(offset) and not crosshedge.is_highly_effective(offset):
        parts.append(f"dollar offset {offset:.0%} is outside 80%-125%")
    return "; ".join(parts) or "ok"


def alerts(monitor: pd.DataFrame, min_distance: float) -> pd.DataFrame:
    """The positions liquidated within ``min_distance`` of the mark (above it for a short,
    below it for a long)."""
    distance = monitor["liquidation_distance"].astype(float)
    short = monitor["short"].map(lambda v: v is not False)  # an error row has none
    room = distance.where(short, -distance)
    return monitor[(room < min_distance) & (monitor["error"] == "")]
