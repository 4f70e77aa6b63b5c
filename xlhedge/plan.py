"""The hedge plan for a whole inventory of holdings, and its scenario table.

``plan_hedge`` takes one row per holding and returns one row per holding. A row with bad input
gets an ``error`` text naming the column and the rule, and empty results; the other rows are still
computed. Each input column is checked once for all rows, and the maths runs once per contract
over all its rows (10,000 holdings in well under a second).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlhedge import columns, costs, margin, scenarios, sizing
from xlhedge.columns import NEVER, column_key
from xlhedge.contracts import ContractRegistry, ContractSpec, default_registry
from xlhedge.errors import InputError
from xlhedge.inputs import ArrayLike, FloatArray, violations

__all__ = ["NEVER", "margin_by_coin", "plan_hedge", "plan_totals", "scenario_summary",
           "scenario_table"]

LIQUIDATION_WARNING = 0.30  # warn when the liquidation price is within 30% of the mark
FUNDING_WARNING = 0.20  # warn when funding exceeds 20% a year, either way
RESIDUAL_WARNING = 0.01  # warn when lot rounding leaves more than 1% of the target unhedged
DEFAULT_FUNDING_RATE = 0.0001  # the exchanges' baseline: 0.01% per 8 h

Texts = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Rule:
    """An inventory input column: its rule and its default (None = required)."""

    name: str
    default: float | None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None


NUMERIC_INPUTS: tuple[Rule, ...] = (
    Rule("quantity", None, ge=0),
    Rule("price", None, gt=0),
    Rule("hedge_ratio", 1.0, ge=0),
    Rule("leverage", 1.0, ge=1),
    Rule("collateral", 0.0, ge=0),
    Rule("funding_rate", DEFAULT_FUNDING_RATE, gt=-1, lt=1),
    Rule("mark_price", np.nan, gt=0),
)
TEXT_INPUTS = ("asset", "contract")


def _headings() -> dict[str, str]:
    """Every accepted spelling of an input column (its key, heading or alias) -> its key."""
    inputs = {r.name for r in NUMERIC_INPUTS} | set(TEXT_INPUTS)
    found: dict[str, str] = {}
    for column in columns.COLUMNS:
        if column.key in inputs:
            for name in (column.key, column.heading, *column.aliases):
                found[column_key(name)] = column.key
    return found


HEADINGS = _headings()


def normalise_inventory(inventory: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns (``Hedge Ratio`` -> ``hedge_ratio``), blank rows dropped, defaults set.

    Values are left as they came (text included), so that errors can quote them.
    """
    renames: dict[str, str] = {}
    for heading in inventory.columns:
        target = HEADINGS.get(column_key(heading))
        if target in renames.values():
            first = next(k for k, v in renames.items() if v == target)
            raise InputError("inventory", f"must have one column for {target} "
                             f"(got {first!r} and {heading!r})")
        if target:
            renames[str(heading)] = target
    frame: pd.DataFrame = inventory[list(renames)].set_axis(list(renames.values()), axis=1)
    for name in ("asset", "contract", "quantity", "price"):
        if name not in frame:
            frame[name] = np.nan
    blank = np.all([blank_mask(frame[c]) for c in ("asset", "contract", "quantity")], axis=0)
    frame = frame.loc[~blank].copy()
    for rule in NUMERIC_INPUTS:
        if rule.name not in frame:
            frame[rule.name] = rule.default
    for name in TEXT_INPUTS:
        text = frame[name].astype(object)
        frame[name] = text.where(~blank_mask(text), "").astype(str).str.strip()
    return frame


def blank_mask(values: pd.Series) -> npt.NDArray[np.bool_]:
    """True where a column holds no value: None, NaN or text of only spaces."""
    blank = values.isna().to_numpy(copy=True)
    if values.dtype.kind not in "biufcmM":  # object or string columns may hold spaces
        is_text = values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        if is_text.any():
            texts = pd.Series(values.to_numpy()[is_text], dtype=str)
            blank[is_text] = texts.str.strip().eq("").to_numpy()
    return blank


def _shown(value: object) -> str:
    if isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_):
        return f"{float(value):g}"
    return repr(value)


def _note(errors: Texts, bad: npt.NDArray[np.bool_],
          message: str | Callable[[npt.NDArray[np.intp]], list[str]]) -> None:
    """Write ``message`` into the rows of ``bad`` that have no error yet; a callable makes the
    texts of just those rows."""
    rows = np.flatnonzero(bad & (errors == ""))
    if len(rows):
        errors[rows] = message if isinstance(message, str) else message(rows)


def _quoting(said: str, raw: Texts, blank: npt.NDArray[np.bool_]
             ) -> Callable[[npt.NDArray[np.intp]], list[str]]:
    """Messages ``<said> (got <value>)`` for the given rows."""
    return lambda rows: [f"{said} (got {'blank' if blank[i] else _shown(raw[i])})" for i in rows]


def _numbers(frame: pd.DataFrame, errors: Texts) -> dict[str, FloatArray]:
    """Numeric inputs as floats; a row's first broken rule goes into ``errors``, in the words
    the worksheet functions use for the same argument."""
    out: dict[str, FloatArray] = {}
    for rule in NUMERIC_INPUTS:
        raw = frame[rule.name]
        blank = blank_mask(raw)
        if raw.dtype == bool:
            logical = np.ones(len(raw), dtype=bool)
        elif raw.dtype == object:
            logical = raw.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
        else:
            logical = np.zeros(len(raw), dtype=bool)
        numeric = pd.to_numeric(raw.where(~(blank | logical)), errors="coerce")
        values: FloatArray = numeric.to_numpy(dtype=float, na_value=np.nan)
        if rule.default is not None:
            values = np.where(blank, rule.default, values)
        raw_values = raw.to_numpy(dtype=object)
        _note(errors, logical, f"{rule.name} must be a number, not TRUE/FALSE")
        _note(errors, np.isnan(values) & ~blank & ~logical,
              _quoting(f"{rule.name} must be a number", raw_values, blank))
        optional = rule.default is not None and np.isnan(rule.default)  # blank = not given
        for bad, text in violations(values, gt=rule.gt, ge=rule.ge, lt=rule.lt):
            _note(errors, bad & ~np.isnan(values) if optional else bad,
                  _quoting(f"{rule.name} {text}", raw_values, blank))
        out[rule.name] = values
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
    n = len(frame)
    errors: Texts = np.full(n, "", dtype=object)
    _note(errors, (frame["asset"] == "").to_numpy(), "asset must not be blank")
    values = _numbers(frame, errors)
    specs = _specs(frame["contract"], registry, errors)
    values["mark_price"] = np.where(np.isnan(values["mark_price"]),
                                    _coin_prices(frame, values, specs), values["mark_price"])
    results: dict[str, FloatArray] = {}
    kinds: Texts = np.full(n, "", dtype=object)
    settles: Texts = np.full(n, "", dtype=object)
    warnings: Texts = np.full(n, "", dtype=object)
    symbols = pd.Series([s.symbol if s is not None else "" for s in specs])
    for symbol, indices in symbols.groupby(symbols).indices.items():
        rows = np.asarray(indices, dtype=np.intp)
        if not symbol:
            continue
        spec = specs[rows[0]]
        assert spec is not None
        _check_spec_rules(rows, frame["asset"].to_numpy(dtype=object), values, spec, errors)
        good = rows[errors[rows] == ""]
        if len(good):
            v = {name: array[good] for name, array in values.items()}
            out, refused = _fill(v, spec)
            errors[good] = refused
            for name, array in out.items():
                results.setdefault(name, np.full(n, np.nan))[good] = array
            kinds[good], settles[good] = spec.contract_type, spec.settle
            warnings[good] = _warnings(frame["asset"].to_numpy(dtype=object)[good], v, out, spec)
    failed = errors != ""
    for array in results.values():
        array[failed] = np.nan
    warnings[failed] = ""
    data: dict[str, object] = {"asset": frame["asset"].to_numpy(dtype=object),
                               "contract": frame["contract"].to_numpy(dtype=object),
                               "contract_type": kinds, "settle": settles,
                               "warnings": warnings, "error": errors, **values, **results}
    # the declared columns in their order (a result no row has is all NaN), then any other
    plan = pd.DataFrame({**{c.key: data.get(c.key, np.full(n, np.nan)) for c in columns.COLUMNS
                            if c.plan}, **data}, index=labels)
    return plan


def _specs(
    symbols: pd.Series, registry: ContractRegistry, errors: Texts
) -> list[ContractSpec | None]:
    """Each row's spec (one lookup per distinct symbol), or None with the reason in ``errors``."""
    found: dict[str, ContractSpec | str] = {}
    for symbol in symbols.unique():
        try:
            found[symbol] = registry.get(symbol) if symbol else "contract must not be blank"
        except ValueError as exc:
            found[symbol] = str(exc)
    looked_up = symbols.map(found)
    reasons = looked_up.map(lambda v: v if isinstance(v, str) else "").to_numpy(dtype=object)
    _note(errors, reasons != "", lambda rows: list(reasons[rows]))
    return [v if isinstance(v, ContractSpec) else None for v in looked_up]


def coin_of(assets: pd.Series) -> pd.Series:
    """Tickers as exchanges' specs name them (XBT is BitMEX's name for BTC)."""
    names = assets.astype(str).str.strip().str.upper()
    return names.where(names != "XBT", "BTC")


def _coin_prices(
    frame: pd.DataFrame, values: dict[str, FloatArray], specs: list[ContractSpec | None]
) -> FloatArray:
    """Each row's contract-coin price: its own price when it holds that coin, else the mark
    price (or failing that the price) of another row holding that coin."""
    asset = coin_of(frame["asset"])
    known = pd.Series(np.where(values["price"] > 0, values["price"], np.nan))
    marked = pd.Series(np.where(values["mark_price"] > 0, values["mark_price"], np.nan))
    by_coin = marked.fillna(known).groupby(asset).first()
    underlying = pd.Series([s.underlying if s is not None else None for s in specs],
                           dtype=object)
    other = underlying.map(by_coin).to_numpy(dtype=float, na_value=np.nan)
    return np.where((asset == underlying).to_numpy(), known.to_numpy(), other)


def _check_spec_rules(
    rows: npt.NDArray[np.intp], assets: Texts, values: dict[str, FloatArray],
    spec: ContractSpec, errors: Texts,
) -> None:
    """Rules that depend on the contract: its maximum leverage, a coin price to size with."""
    lev = values["leverage"]
    mine = np.zeros(len(errors), dtype=bool)
    mine[rows] = True
    _note(errors, mine & (lev > spec.max_leverage), lambda bad: [
        f"leverage must be <= {spec.max_leverage:g} for {spec.symbol} (got {lev[i]:g})"
        for i in bad])
    _note(errors, mine & np.isnan(values["mark_price"]), lambda bad: [
        f"mark_price is needed to hedge {assets[i]} with {spec.underlying} contracts "
        f"(the {spec.underlying} price)" for i in bad])


def _fill(v: dict[str, FloatArray], spec: ContractSpec) -> tuple[dict[str, FloatArray], Texts]:
    """The plan columns of rows that all use ``spec``, and why the exchange would refuse each
    order ('' where it would not)."""
    inverse = spec.contract_type == "inverse"
    cv, kind = spec.contract_value, spec.contract_type
    q, p, mark = v["quantity"], v["price"], v["mark_price"]
    ratio, lev, coll, rate = v["hedge_ratio"], v["leverage"], v["collateral"], v["funding_rate"]
    n = np.asarray(sizing.hedge_contracts(q * p / mark, mark, cv, ratio, kind, spec.lot_size,
                                          coll), dtype=float)
    notional = q * p
    exposure = notional + (coll * mark if inverse else 0.0)
    target = exposure * ratio
    hedged = n * cv if inverse else n * cv * mark
    m_coin = np.asarray(margin.initial_margin(n, cv, mark, lev, kind), dtype=float)
    refused = _refused_by_tier(n, mark, lev, m_coin, spec)
    liq = _liquidation(n, cv, mark, m_coin, spec, refused == "")
    per_day = 24.0 / spec.funding_interval_hours
    funding = np.asarray(costs.funding_payment(n, cv, mark, rate, "short", kind)) * per_day
    fee = np.asarray(costs.trading_fee(n, cv, mark, spec.taker_fee, kind), dtype=float)
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
        "funding_annual": np.asarray(
            costs.annualised_funding(rate, spec.funding_interval_hours), dtype=float),
        "funding_per_day_coin": funding,
        "funding_per_day_usd": funding * usd,
        "fee_to_open_coin": fee,
        "fee_to_open_usd": fee * usd,
        "contract_value": np.full(len(n), cv),
        "lot_size": np.full(len(n), spec.lot_size),
    }
    return {k: np.broadcast_to(np.asarray(a, dtype=float), n.shape) for k, a in out.items()}, \
        refused


def _refused_by_tier(
    n: FloatArray, mark: FloatArray, lev: FloatArray, m_coin: FloatArray, spec: ContractSpec
) -> Texts:
    """Why the exchange would refuse each order ('' where it would not): the position's tier
    allows less leverage, or the margin does not cover the maintenance margin at entry."""
    floors, mmrs, amounts = spec.tier_arrays()
    value = np.asarray(margin.position_value(n, spec.contract_value, mark, spec.contract_type),
                       dtype=float)
    tier = margin.tier_index(value, floors)
    caps = np.array([t.max_leverage or np.inf for t in spec.tiers])[tier]
    needed = mmrs[tier] * value - amounts[tier]
    over = lev > caps
    under = ~over & (m_coin < needed)
    out: Texts = np.full(len(n), "", dtype=object)
    out[over] = [f"leverage must be <= {cap:g} for a position of {size:.6g} {spec.settle} on "
                 f"{spec.symbol} (its margin tier; got {x:g})"
                 for cap, size, x in zip(caps[over], value[over], lev[over], strict=True)]
    out[under] = [f"margin at {x:g}x ({have:.8g} {spec.settle}) must cover the maintenance "
                  f"margin ({need:.8g})"
                  for x, have, need in zip(lev[under], m_coin[under], needed[under], strict=True)]
    return out


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
            "short", n[live], cv, mark[live], m_coin[live], floors, mmrs, amounts,
            spec.contract_type, "mark",
        )
    return out


def _warnings(
    assets: Texts, v: dict[str, FloatArray], out: dict[str, FloatArray], spec: ContractSpec
) -> Texts:
    """Each row's warnings, joined by '; ' (computed per kind of warning, not per row)."""
    coins = coin_of(pd.Series(assets)).to_numpy(dtype=object)
    distance, funding = out["liquidation_distance"], out["funding_annual"]
    ratio, target, hedged = v["hedge_ratio"], out["target_usd"], out["hedged_usd"]
    contracts, residual = out["contracts"], out["residual_coin"]
    no_lot = (contracts == 0) & (target > 0)
    kinds: list[tuple[npt.NDArray[np.bool_], list[str]]] = [
        (coins != spec.underlying, [
            f"cross-hedge: {a} hedged with {spec.underlying} contracts (basis risk: check the "
            "ratio with HEDGE_RATIO)" for a in assets]),
        (distance < LIQUIDATION_WARNING,
         [f"liquidation within {d:.0%} of the mark price" for d in distance]),
        (np.abs(funding) > FUNDING_WARNING, [
            f"funding {f:+.0%} a year ({'you receive' if f > 0 else 'you pay'})"
            for f in funding]),
        (ratio != 1, [f"{'over' if r > 1 else 'under'}-hedged (ratio {r:g})" for r in ratio]),
        (no_lot, ["holding is smaller than one lot: no contracts"] * len(assets)),
        (~no_lot & (target > 0) & (np.abs(target - hedged) > RESIDUAL_WARNING * target), [
            f"lot rounding leaves {r:+.8g} {a} unhedged"
            for r, a in zip(residual, assets, strict=True)]),
    ]
    joined: Texts = np.full(len(assets), "", dtype=object)
    for mask, texts in kinds:
        for row in np.flatnonzero(mask):
            joined[row] = f"{joined[row]}; {texts[row]}" if joined[row] else texts[row]
    return joined


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
