"""The hedge plan for a whole inventory of holdings, and its scenario table.

``plan_hedge`` takes one row per holding and returns one row per holding. A row with bad input
gets an ``error`` text naming the column and the rule, and empty results; the other rows are still
computed. Everything is vectorised per contract, so 10,000 holdings take a fraction of a second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlhedge import costs, margin, scenarios, sizing
from xlhedge.contracts import ContractRegistry, ContractSpec, default_registry
from xlhedge.errors import InputError
from xlhedge.inputs import ArrayLike, FloatArray

LIQUIDATION_WARNING = 0.30  # warn when the liquidation price is within 30% of the mark
FUNDING_WARNING = 0.20  # warn when funding exceeds 20% a year, either way
RESIDUAL_WARNING = 0.01  # warn when lot rounding leaves more than 1% of the target unhedged
DEFAULT_FUNDING_RATE = 0.0001  # the exchanges' baseline: 0.01% per 8 h
NEVER = "never"  # how every face shows a price that is never reached (a 1x short's liquidation)


@dataclass(frozen=True)
class Column:
    """An inventory input column: its rule and its default (None = required)."""

    name: str
    default: float | None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None

    @property
    def rule(self) -> str:
        parts = [
            f"> {self.gt:g}" if self.gt is not None else "",
            f">= {self.ge:g}" if self.ge is not None else "",
            f"< {self.lt:g}" if self.lt is not None else "",
        ]
        return "must be a number " + " and ".join(p for p in parts if p)


NUMERIC_COLUMNS: tuple[Column, ...] = (
    Column("quantity", None, ge=0),
    Column("price", None, gt=0),
    Column("hedge_ratio", 1.0, ge=0),
    Column("leverage", 1.0, ge=1),
    Column("collateral", 0.0, ge=0),
    Column("funding_rate", DEFAULT_FUNDING_RATE, gt=-1, lt=1),
    Column("mark_price", np.nan, gt=0),
)
TEXT_COLUMNS = ("asset", "contract")
ALIASES = {
    "symbol": "contract",
    "coin": "asset",
    "ratio": "hedge_ratio",
    "mark": "mark_price",
    "funding": "funding_rate",
    "qty": "quantity",
    "spotprice": "price",
}


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def normalise_inventory(inventory: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns (``Hedge Ratio`` -> ``hedge_ratio``), blank rows dropped, defaults set.

    Values are left as they came (text included), so that errors can quote them.
    """
    wanted = {_key(c.name): c.name for c in NUMERIC_COLUMNS} | {k: k for k in TEXT_COLUMNS}
    wanted |= ALIASES
    renames: dict[str, str] = {}
    for heading in inventory.columns:
        target = wanted.get(_key(heading))
        if target in renames.values():
            first = next(k for k, v in renames.items() if v == target)
            raise InputError("inventory", f"must have one column for {target} "
                             f"(got {first!r} and {heading!r})")
        if target:
            renames[str(heading)] = target
    frame = inventory[list(renames)].set_axis(list(renames.values()), axis=1)
    for name in ("asset", "contract", "quantity", "price"):
        if name not in frame:
            frame[name] = np.nan
    blank = frame[["asset", "contract", "quantity"]].map(_is_blank).astype(bool).all(axis=1)
    frame = frame.loc[~blank]
    for column in NUMERIC_COLUMNS:
        if column.name not in frame:
            frame[column.name] = column.default
    for name in TEXT_COLUMNS:
        frame[name] = frame[name].map(lambda v: "" if _is_blank(v) else str(v).strip())
    return frame


def _is_blank(value: object) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _shown(value: object) -> str:
    if isinstance(value, int | float | np.number):
        return f"{float(value):g}"
    return repr(value)


def _numbers(frame: pd.DataFrame, errors: list[str]) -> pd.DataFrame:
    """Numeric inputs as floats; a row's first broken rule goes into ``errors``."""
    out = pd.DataFrame(index=frame.index)
    for column in NUMERIC_COLUMNS:
        raw = frame[column.name]
        blank = raw.map(_is_blank).astype(bool)
        logical = raw.map(lambda v: isinstance(v, bool | np.bool_)).astype(bool)
        raw = raw.where(~logical, "TRUE/FALSE")  # TRUE is not a quantity, whatever Excel says
        values = pd.to_numeric(raw.where(~blank), errors="coerce").astype(float)
        if column.default is not None:
            values = values.where(~blank, column.default)
        bad = (values.isna() & ~(blank & (column.default is not None))) | np.isinf(values)
        if column.gt is not None:
            bad |= values <= column.gt
        if column.ge is not None:
            bad |= values < column.ge
        if column.lt is not None:
            bad |= values >= column.lt
        for index in np.flatnonzero(bad.to_numpy() & (np.array(errors) == "")):
            shown = "blank" if blank[index] else _shown(raw[index])
            errors[index] = f"{column.name} {column.rule} (got {shown})"
        out[column.name] = values
    return out


def plan_hedge(inventory: pd.DataFrame, registry: ContractRegistry | None = None) -> pd.DataFrame:
    """One row per holding (blank rows dropped, index kept): the short that hedges it.

    Input columns (case and spacing ignored): ``asset``, ``quantity``, ``price`` (USD per unit of
    the asset), ``contract`` (symbol in the registry); optional ``hedge_ratio`` (1), ``leverage``
    (1), ``collateral`` (0; coin of the contract's settle currency posted on the exchange, which is
    hedged too), ``funding_rate`` (0.0001 per interval), ``mark_price`` (the contract coin's mark
    price; defaults to ``price`` when the asset is the contract's coin, or to the price of another
    row holding that coin; a cross-hedge needs one of the two).

    The margin is the isolated margin at ``leverage``; the liquidation price uses the spec's tiers
    on mark-price basis, re-solved where it lands in another tier.
    """
    registry = registry or default_registry()
    frame = normalise_inventory(inventory)
    labels = frame.index
    frame = frame.reset_index(drop=True)
    errors = ["asset must not be blank" if a == "" else "" for a in frame["asset"]]
    values = _numbers(frame, errors)
    specs = _specs(frame, registry, errors)
    values["mark_price"] = values["mark_price"].fillna(_coin_prices(frame, values, specs))
    plan = _empty_plan(frame, values)
    for spec in {s.symbol: s for s in specs if s is not None}.values():
        rows = [i for i, s in zip(frame.index, specs, strict=True) if s is spec]
        _check_spec_rules(rows, frame, values, spec, errors)
        good = [i for i in rows if errors[i] == ""]
        if good:
            _fill(plan, good, frame.loc[good], values.loc[good], spec, errors)
    plan["error"] = errors
    failed = plan["error"] != ""
    plan.loc[failed, RESULT_COLUMNS] = np.nan
    plan.loc[failed, "warnings"] = ""
    plan.index = labels
    return plan


def _specs(
    frame: pd.DataFrame, registry: ContractRegistry, errors: list[str]
) -> list[ContractSpec | None]:
    """Each row's spec, or None with the reason in ``errors``."""
    found: list[ContractSpec | None] = []
    for index, symbol in enumerate(frame["contract"]):
        try:
            if not symbol:
                raise ValueError("contract must not be blank")
            found.append(registry.get(symbol))
        except ValueError as exc:
            found.append(None)
            if not errors[index]:
                errors[index] = str(exc)
    return found


RESULT_COLUMNS = [
    "notional_usd",
    "exposure_usd",
    "target_usd",
    "contracts",
    "hedged_usd",
    "residual_coin",
    "net_delta_usd",
    "margin_coin",
    "liquidation_price",
    "liquidation_distance",
    "funding_annual",
    "funding_per_day_coin",
    "funding_per_day_usd",
    "fee_to_open_coin",
    "fee_to_open_usd",
    "contract_value",
    "lot_size",
]


def _empty_plan(frame: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    plan = pd.DataFrame({"asset": frame["asset"], "contract": frame["contract"]})
    for column in NUMERIC_COLUMNS:
        plan[column.name] = values[column.name]
    for name in RESULT_COLUMNS:
        plan[name] = np.nan
    plan["contract_type"] = ""
    plan["settle"] = ""
    plan["warnings"] = ""
    return plan


def _coin_prices(
    frame: pd.DataFrame, values: pd.DataFrame, specs: list[ContractSpec | None]
) -> pd.Series:
    """Each row's contract-coin price: its own price when it holds that coin, else the mark
    price (or failing that the price) of another row holding that coin."""
    asset = frame["asset"].map(_coin)
    known = values["price"].where(values["price"] > 0)
    marked = values["mark_price"].where(values["mark_price"] > 0).fillna(known)
    by_coin = {str(k): float(v) for k, v in marked.groupby(asset).first().dropna().items()}
    guess = pd.Series(np.nan, index=frame.index)
    for index, spec in zip(frame.index, specs, strict=True):
        coin = spec.underlying if spec is not None else None
        if coin is not None and asset[index] == coin:
            guess[index] = known[index]
        elif coin is not None and coin in by_coin:
            guess[index] = by_coin[coin]
    return guess


def _coin(asset: object) -> str:
    """Ticker as exchanges' specs name it (XBT is BitMEX's name for BTC)."""
    name = str(asset).strip().upper()
    return "BTC" if name == "XBT" else name


def _check_spec_rules(
    rows: list[int], frame: pd.DataFrame, values: pd.DataFrame, spec: ContractSpec,
    errors: list[str],
) -> None:
    """Rules that depend on the contract: its maximum leverage, a coin price to size with."""
    for index in rows:
        leverage = float(values["leverage"].iloc[index])
        if errors[index]:
            continue
        if leverage > spec.max_leverage:
            errors[index] = (
                f"leverage must be <= {spec.max_leverage:g} for {spec.symbol} (got {leverage:g})"
            )
        elif np.isnan(float(values["mark_price"].iloc[index])):
            errors[index] = (
                f"mark_price is needed to hedge {frame['asset'].iloc[index]} with "
                f"{spec.underlying} contracts (the {spec.underlying} price)"
            )


def _fill(
    plan: pd.DataFrame,
    rows: list[int],
    frame: pd.DataFrame,
    v: pd.DataFrame,
    spec: ContractSpec,
    errors: list[str],
) -> None:
    """Compute the plan columns for rows that all use ``spec``; refused orders go to ``errors``."""
    inverse = spec.contract_type == "inverse"
    cv, kind = spec.contract_value, spec.contract_type
    q, p, mark = v["quantity"].to_numpy(), v["price"].to_numpy(), v["mark_price"].to_numpy()
    ratio, lev = v["hedge_ratio"].to_numpy(), v["leverage"].to_numpy()
    coll, rate = v["collateral"].to_numpy(), v["funding_rate"].to_numpy()
    coin_equiv = q * p / mark
    n = sizing.hedge_contracts(coin_equiv, mark, cv, ratio, kind, spec.lot_size, coll)
    notional = q * p
    exposure = notional + (coll * mark if inverse else 0.0)
    target = exposure * ratio
    hedged = n * cv if inverse else n * cv * mark
    m_coin = margin.initial_margin(n, cv, mark, lev, kind)
    refused = _refused_by_tier(n, mark, lev, m_coin, spec)
    for row, reason in zip(rows, refused, strict=True):
        if reason:
            errors[row] = reason
    liq = _liquidation(n, cv, mark, m_coin, spec, np.array([not r for r in refused]))
    per_day = 24.0 / spec.funding_interval_hours
    funding = costs.funding_payment(n, cv, mark, rate, "short", kind) * per_day
    fee = costs.trading_fee(n, cv, mark, spec.taker_fee, kind)
    usd = mark if inverse else 1.0
    out = {
        "notional_usd": notional,
        "exposure_usd": exposure,
        "target_usd": target,
        "contracts": n,
        "hedged_usd": hedged,
        "residual_coin": (target - hedged) / p,
        "net_delta_usd": exposure - hedged,
        "margin_coin": m_coin,
        "liquidation_price": liq,
        "liquidation_distance": liq / mark - 1.0,
        "funding_annual": costs.annualised_funding(rate, spec.funding_interval_hours),
        "funding_per_day_coin": funding,
        "funding_per_day_usd": funding * usd,
        "fee_to_open_coin": fee,
        "fee_to_open_usd": fee * usd,
        "contract_value": np.full(len(rows), cv),
        "lot_size": np.full(len(rows), spec.lot_size),
    }
    for name, column in out.items():
        plan.loc[rows, name] = np.asarray(column, dtype=float)
    plan.loc[rows, "contract_type"] = kind
    plan.loc[rows, "settle"] = spec.settle
    plan.loc[rows, "warnings"] = _warnings(frame, plan.loc[rows], spec)


def _refused_by_tier(
    n: FloatArray, mark: FloatArray, lev: FloatArray, m_coin: FloatArray, spec: ContractSpec
) -> list[str]:
    """Why the exchange would refuse each order ('' where it would not): the position's tier
    allows less leverage, or the margin does not cover the maintenance margin at entry."""
    floors, mmrs, amounts = spec.tier_arrays()
    value = margin.position_value(n, spec.contract_value, mark, spec.contract_type)
    tier = margin.tier_index(value, floors)
    caps = np.array([t.max_leverage or np.inf for t in spec.tiers])[tier]
    needed = mmrs[tier] * value - amounts[tier]
    reasons = []
    for size, cap, lev_, have, need in zip(value, caps, lev, m_coin, needed, strict=True):
        if lev_ > cap:
            reasons.append(f"leverage must be <= {cap:g} for a position of {size:.6g} "
                           f"{spec.settle} on {spec.symbol} (its margin tier; got {lev_:g})")
        elif have < need:
            reasons.append(f"margin at {lev_:g}x ({have:.8g} {spec.settle}) must cover the "
                           f"maintenance margin ({need:.8g})")
        else:
            reasons.append("")
    return reasons


def _liquidation(
    n: FloatArray, cv: float, mark: FloatArray, m_coin: FloatArray, spec: ContractSpec,
    allowed: npt.NDArray[np.bool_],
) -> FloatArray:
    """Tier-aware, mark-basis liquidation price of the short; NaN where there is no position."""
    floors, mmrs, amounts = spec.tier_arrays()
    live = (n > 0) & allowed
    out = np.full(n.shape, np.nan)
    if live.any():
        out[live] = margin.tiered_liquidation_price(
            "short",
            n[live],
            cv,
            mark[live],
            m_coin[live],
            floors,
            mmrs,
            amounts,
            spec.contract_type,
            "mark",
        )
    return out


def _warnings(frame: pd.DataFrame, rows: pd.DataFrame, spec: ContractSpec) -> list[str]:
    columns = ["liquidation_distance", "funding_annual", "hedge_ratio", "target_usd", "hedged_usd",
               "residual_coin", "contracts"]
    records = rows[columns].to_numpy(dtype=float).tolist()
    return [
        "; ".join(_row_warnings(str(asset), *record, spec=spec))
        for asset, record in zip(frame["asset"], records, strict=True)
    ]


def _row_warnings(
    asset: str, distance: float, funding: float, ratio: float, target: float, hedged: float,
    residual: float, contracts: float, *, spec: ContractSpec,
) -> list[str]:
    notes = []
    if _coin(asset) != spec.underlying:
        notes.append(f"cross-hedge: {asset} hedged with {spec.underlying} contracts "
                     "(basis risk: check the ratio with HEDGE_RATIO)")
    if distance < LIQUIDATION_WARNING:
        notes.append(f"liquidation within {distance:.0%} of the mark price")
    if abs(funding) > FUNDING_WARNING:
        who = "you receive" if funding > 0 else "you pay"
        notes.append(f"funding {funding:+.0%} a year ({who})")
    if ratio != 1:
        notes.append(f"{'over' if ratio > 1 else 'under'}-hedged (ratio {ratio:g})")
    if contracts == 0 and target > 0:
        notes.append("holding is smaller than one lot: no contracts")
    elif target > 0 and abs(target - hedged) > RESIDUAL_WARNING * target:
        notes.append(f"lot rounding leaves {residual:+.8g} {asset} unhedged")
    return notes


def plan_totals(plan: pd.DataFrame) -> pd.Series:
    """Totals of a plan: values in USD, coverage, the nearest liquidation, counts."""
    ok = plan[plan["error"] == ""]
    exposure = float(ok["exposure_usd"].sum())
    distances = ok["liquidation_distance"].replace(np.inf, np.nan).dropna()
    return pd.Series(
        {
            "holdings": float(len(plan)),
            "errors": float((plan["error"] != "").sum()),
            "notional_usd": float(ok["notional_usd"].sum()),
            "exposure_usd": exposure,
            "hedged_usd": float(ok["hedged_usd"].sum()),
            "coverage": float(ok["hedged_usd"].sum()) / exposure if exposure > 0 else np.nan,
            "net_delta_usd": float(ok["net_delta_usd"].sum()),
            "margin_usd": float((ok["margin_coin"] * _usd_per_settle(ok)).sum()),
            "funding_per_day_usd": float(ok["funding_per_day_usd"].sum()),
            "fee_to_open_usd": float(ok["fee_to_open_usd"].sum()),
            "nearest_liquidation_distance": float(distances.min()) if len(distances) else np.inf,
        }
    )


def _usd_per_settle(plan: pd.DataFrame) -> pd.Series:
    return plan["mark_price"].where(plan["contract_type"] == "inverse", 1.0)


def margin_by_coin(plan: pd.DataFrame) -> pd.Series:
    """Margin to post, summed per settle currency (coin for inverse contracts)."""
    ok = plan[plan["error"] == ""]
    return ok.groupby("settle")["margin_coin"].sum()


def scenario_table(plan: pd.DataFrame, moves: ArrayLike = scenarios.DEFAULT_MOVES) -> pd.DataFrame:
    """Every holding of a plan against every price move: one row per (holding, move)."""
    step = scenarios.check_moves(moves)
    ok = plan[plan["error"] == ""]

    def col(name: str) -> FloatArray:
        return ok[name].to_numpy(dtype=float)

    values = scenarios.scenario_values(
        col("quantity"),
        col("price"),
        col("mark_price"),
        col("contracts"),
        col("contract_value"),
        col("collateral"),
        np.nan_to_num(col("liquidation_price"), nan=np.inf),
        col("margin_coin"),
        step,
        np.where(ok["contract_type"] == "inverse", 1.0, 0.0),
    )
    h, m = len(ok), len(step)
    table = pd.DataFrame(
        {
            "asset": np.repeat(ok["asset"].to_numpy(), m),
            "contract": np.repeat(ok["contract"].to_numpy(), m),
            "move": np.tile(step, h),
        }
    )
    for name, array in values.items():
        table[name] = array.reshape(-1)
    return table


def scenario_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The whole book per move: values summed, and which holdings' hedges would be liquidated."""
    grouped = table.groupby("move", sort=True)
    summary = grouped[["unhedged_usd", "hedge_pnl_usd", "hedged_usd"]].sum()
    summary["liquidated"] = grouped["liquidated"].any()
    summary["liquidated_assets"] = [_liquidated_names(g) for _, g in grouped]
    return summary.reset_index()


def _liquidated_names(group: pd.DataFrame) -> str:
    hit = group.loc[group["liquidated"]]
    return ", ".join(
        dict.fromkeys(f"{a} ({c})" for a, c in zip(hit["asset"], hit["contract"], strict=True))
    )
