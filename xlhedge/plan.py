"""The hedge plan for a whole inventory of holdings, and its scenario table.

``plan_hedge`` takes one row per holding and returns one row per holding. A row with bad input
gets an ``error`` text naming the column and the rule, and empty results; the other rows are still
computed. Each input column is checked once for all rows, and the maths runs once per contract
over all its rows (10,000 holdings in well under a second).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlhedge import columns, costs, margin, scenarios, sizing
from xlhedge.columns import NEVER, column_key
from xlhedge.contracts import ContractRegistry, ContractSpec, default_registry
from xlhedge.errors import InputError
from xlhedge.inputs import ArrayLike, FloatArray, violations

__all__ = ["NEVER", "margin_by_coin", "plan_hedge", "plan_positions", "plan_totals",
           "scenario_summary", "scenario_table", "transfers"]

LIQUIDATION_WARNING = 0.30  # warn when the liquidation price is within 30% of the mark
FUNDING_WARNING = 0.20  # warn when funding exceeds 20% a year, either way
RESIDUAL_WARNING = 0.01  # warn when lot rounding leaves more than 1% of the target unhedged
R_SQUARED_WARNING = 0.8  # the hedge-accounting line for a highly effective hedge
MARK_WARNING = 0.05  # warn when a holding's price and its coin's mark price differ by more
DEFAULT_FUNDING_RATE = 0.0001  # the exchanges' baseline: 0.01% per 8 h
MIN_LIQUIDATION_DISTANCE = LIQUIDATION_WARNING  # post margin to keep liquidation this far away
MARGIN_MODES = ("isolated", "cross")
HEDGE_DAYS = 30.0  # the horizon the cost of the hedge is reckoned over
SPOT_FEE = 0.001  # selling instead: the spot fee, paid twice (sell now, buy back later) ...
SPREAD = 0.0005  # ... plus the spread

Texts = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Rule:
    """An inventory input column: its rule and its default (None = required)."""

    name: str
    default: float | None
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None


NUMERIC_INPUTS: tuple[Rule, ...] = (
    Rule("quantity", None, ge=0),
    Rule("price", None, gt=0),
    Rule("hedge_ratio", 1.0, ge=0),
    Rule("leverage", 1.0, ge=1),
    Rule("collateral", 0.0, ge=0),
    Rule("funding_rate", DEFAULT_FUNDING_RATE, gt=-1, lt=1),
    Rule("mark_price", np.nan, gt=0),
    Rule("hedge_days", np.nan, ge=0),  # blank: the plan's hedge_days
    Rule("funding_avg_annual", np.nan, gt=-100, lt=100),  # blank: no history
    Rule("suggested_ratio", np.nan),  # from market history (hedge_ratio "auto"); may be < 0
    Rule("r_squared", np.nan, ge=0, le=1),
)
TEXT_INPUTS = ("asset", "contract", "account", "margin_mode")


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
    for name in ("asset", "contract", "quantity", "price", *TEXT_INPUTS):
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
        for bad, text in violations(values, gt=rule.gt, ge=rule.ge, lt=rule.lt, le=rule.le):
            _note(errors, bad & ~np.isnan(values) if optional else bad,
                  _quoting(f"{rule.name} {text}", raw_values, blank))
        out[rule.name] = values
    return out


def plan_hedge(
    inventory: pd.DataFrame, registry: ContractRegistry | None = None, *,
    min_distance: float = MIN_LIQUIDATION_DISTANCE,
    hedge_days: float = HEDGE_DAYS,
    spot_fee: float = SPOT_FEE,
    spread: float = SPREAD,
) -> pd.DataFrame:
    """One row per holding (blank rows dropped, index kept): its share of the short that hedges it.

    Input columns (case and spacing ignored): ``asset``, ``quantity``, ``price`` (USD per unit of
    the asset), ``contract`` (symbol in the registry); optional ``hedge_ratio`` (1), ``leverage``
    (1), ``collateral`` (0; coin of the contract's settle currency posted on the exchange, which is
    hedged too), ``funding_rate`` (0.0001 per interval), ``mark_price`` (the contract coin's mark
    price; defaults to ``price`` when the asset is the contract's coin, or to the price of another
    row holding that coin; a cross-hedge needs one of the two), ``account`` (the exchange's name)
    and ``margin_mode`` (``isolated`` or ``cross``).

    Every row hedged with one contract in one account is one position on the exchange, as the
    exchange holds it: its contracts are the rows' sizes summed and rounded to the lot once (each
    row's share a whole number of lots, the shares adding up), its leverage the lowest its rows
    ask for, its tier, leverage cap and liquidation price those of the whole position. The margin
    to post is the larger of the initial margin and the margin that keeps the liquidation price
    ``min_distance`` above the mark. Isolated: the liquidation price of that margin (the
    contract's tiers, mark basis, re-solved where it lands in another tier). Cross: one wallet per
    account and settle coin holds its rows' collateral, topped up to its positions' margins; each
    position's liquidation price is Binance's cross rule with the others' maintenance margin.
    :func:`plan_positions` returns the positions themselves.

    The cost of the insurance over ``hedge_days`` (a row's ``hedge_days`` overrides it): funding
    at the current rate, fees to open and to close, against selling the spot and buying it back
    (``spot_fee`` twice plus the ``spread``), with the break-even horizon.
    """
    registry = registry or default_registry()
    frame = normalise_inventory(inventory)
    labels = frame.index
    frame = frame.reset_index(drop=True)
    n = len(frame)
    errors: Texts = np.full(n, "", dtype=object)
    _note(errors, (frame["asset"] == "").to_numpy(), "asset must not be blank")
    _auto_ratios(frame, errors, registry)
    values = _numbers(frame, errors)
    modes = _margin_modes(frame["margin_mode"], errors)
    specs = _specs(frame["contract"], registry, errors)
    values["mark_price"] = np.where(np.isnan(values["mark_price"]),
                                    _coin_prices(frame, values, specs), values["mark_price"])
    accounts = np.array([a.upper() if a else (s.exchange if s is not None else "")
                         for a, s in zip(frame["account"], specs, strict=True)], dtype=object)
    assets = frame["asset"].to_numpy(dtype=object)
    book = _Book(n, assets, values, modes, accounts, errors, min_distance)
    symbols = pd.Series([s.symbol if s is not None else "" for s in specs])
    for symbol, indices in symbols.groupby(symbols).indices.items():
        rows = np.asarray(indices, dtype=np.intp)
        if not symbol:
            continue
        spec = specs[rows[0]]
        assert spec is not None
        _check_spec_rules(rows, assets, values, spec, errors)
        good = rows[errors[rows] == ""]
        for account in dict.fromkeys(accounts[good]):
            book.add_position(good[accounts[good] == account], spec)
    book.settle_cross_wallets()
    book.check_margin_held()
    days = np.where(np.isnan(values["hedge_days"]), hedge_days, values["hedge_days"])
    book.results.update(_costs(book.results, days, spot_fee, spread, book.warnings,
                               values["funding_avg_annual"]))
    failed = errors != ""
    for array in book.results.values():
        array[failed] = np.nan
    book.warnings[failed] = ""
    data: dict[str, object] = {"asset": assets,
                               "contract": frame["contract"].to_numpy(dtype=object),
                               "account": accounts, "margin_mode": modes,
                               "contract_type": book.kinds, "settle": book.settles,
                               "position": book.position_of, "order_unit": book.order_units,
                               "warnings": book.warnings,
                               "error": errors, **values, **book.results}
    # the declared columns in their order (a result no row has is all NaN), then any other
    return pd.DataFrame({**{c.key: data.get(c.key, np.full(n, np.nan)) for c in columns.COLUMNS
                            if c.plan}, **data}, index=labels)


def _auto_ratios(frame: pd.DataFrame, errors: Texts, registry: ContractRegistry) -> None:
    """``hedge_ratio`` ``auto``: 1 for a holding of the contract's own coin, else the row's
    ``suggested_ratio`` (from market history), which must be there and positive."""
    auto = frame["hedge_ratio"].map(lambda v: isinstance(v, str) and v.strip().lower() == "auto")
    if not auto.any():
        return
    suggested = frame["suggested_ratio"] if "suggested_ratio" in frame else pd.Series(
        np.nan, index=frame.index)
    numbers = pd.to_numeric(suggested.where(~pd.Series(blank_mask(suggested),
                                                       index=frame.index)), errors="coerce")
    specs = {c: registry.find(c) for c in frame["contract"].unique()}
    underlying = frame["contract"].map(lambda c: s.underlying if (s := specs[c]) else None)
    same = coin_of(frame["asset"]) == underlying
    missing = auto & ~same & numbers.isna()
    _note(errors, missing.to_numpy(), "hedge_ratio auto needs a Suggested Ratio: refresh with a "
          "live price source (ccxt:EXCHANGE) or type the ratio")
    negative = auto & ~same & (numbers <= 0)
    _note(errors, negative.to_numpy(), lambda rows: [
        f"hedge_ratio auto: the Suggested Ratio is {numbers.iloc[i]:g} (the coins moved "
        "against each other): type a ratio, or hedge with the coin's own contract"
        for i in rows])
    frame["hedge_ratio"] = frame["hedge_ratio"].astype(object).where(
        ~auto, numbers.where(~same, 1.0))
    frame.loc[missing | negative, "hedge_ratio"] = 1.0  # the row has its error already


def _costs(r: dict[str, FloatArray], days: FloatArray, spot_fee: float, spread: float,
           warnings: Texts, average: FloatArray) -> dict[str, FloatArray]:
    """What the hedge costs over ``days`` in USD (fees to open and close less funding received)
    against selling the part hedged and buying it back; where the hedge costs more, a warning.
    Break-even: the horizon at which both cost the same (inf: never). ``average``: the
    contract's annualised funding over the last 30 days (NaN: no history), the cost at it too."""
    if "funding_per_day_usd" not in r:  # no row could be planned
        return {}
    funding = r["funding_per_day_usd"] * days
    fees = 2.0 * r["fee_to_open_usd"]  # taker both ways, at today's mark
    cost = fees - funding
    sell = r["target_usd"] * (2.0 * spot_fee + spread)
    with np.errstate(divide="ignore", invalid="ignore"):
        annual = np.where((days > 0) & (r["hedged_usd"] > 0),
                          cost / r["hedged_usd"] * 365.0 / days, np.nan)
        even = (fees - sell) / r["funding_per_day_usd"]
    even = np.where(np.isfinite(even) & (even >= 0), even, np.inf)
    dearer = cost > sell
    for i in np.flatnonzero(dearer & ~np.isnan(cost)):
        _append(warnings, i, f"over {days[i]:g} days the hedge is expected to cost "
                f"{cost[i]:,.2f} USD, selling and buying back {sell[i]:,.2f} USD: selling may "
                "be cheaper (but a sale may be a taxable event where a hedge may not be)")
    at_average = r["hedged_usd"] * average * days / 365.0  # a short receives positive funding
    return {"funding_horizon_usd": funding, "fee_to_close_usd": r["fee_to_open_usd"].copy(),
            "funding_horizon_avg_usd": at_average, "hedge_cost_avg_usd": fees - at_average,
            "hedge_cost_usd": cost, "hedge_cost_annual": annual, "sell_cost_usd": sell,
            "break_even_days": np.where(np.isnan(cost), np.nan, even),
            "hedge_days": days}  # the horizon each row was reckoned over


def _margin_modes(raw: pd.Series, errors: Texts) -> Texts:
    """Each row's margin mode (blank: isolated); another word is an error naming the choices."""
    modes = raw.str.lower().replace("", "isolated").to_numpy(dtype=object)
    bad = ~np.isin(modes, MARGIN_MODES)
    _note(errors, bad, lambda rows: [
        f'margin_mode must be "isolated" or "cross" (got {raw.iloc[i]!r})' for i in rows])
    return modes


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


class _Book:
    """The plan's results as positions are added: per-row arrays, and what the cross wallets
    need to know of each position."""

    def __init__(self, n: int, assets: Texts, values: dict[str, FloatArray], modes: Texts,
                 accounts: Texts, errors: Texts, min_distance: float) -> None:
        self.n, self.assets, self.values, self.modes = n, assets, values, modes
        self.accounts, self.errors, self.min_distance = accounts, errors, min_distance
        self.results: dict[str, FloatArray] = {}
        self.kinds: Texts = np.full(n, "", dtype=object)
        self.settles: Texts = np.full(n, "", dtype=object)
        self.position_of: Texts = np.full(n, "", dtype=object)
        self.order_units: Texts = np.full(n, "", dtype=object)
        self.warnings: Texts = np.full(n, "", dtype=object)
        self.cross: list[_Position] = []

    def put(self, rows: npt.NDArray[np.intp], name: str, values: FloatArray | float) -> None:
        self.results.setdefault(name, np.full(self.n, np.nan))[rows] = values

    def add_position(self, rows: npt.NDArray[np.intp], spec: ContractSpec) -> None:
        """Size, margin and (isolated) liquidation of the position of ``rows`` on ``spec``."""
        v = {name: array[rows] for name, array in self.values.items()}
        # one price per coin: a holding of the contract's own coin values its collateral at its
        # own price (else the contract coin's mark), so that spot and collateral add up exactly
        same = coin_of(pd.Series(self.assets[rows])).to_numpy() == spec.underlying
        v["coin_price"] = np.where(same, v["price"], v["mark_price"])
        label = f"{self.accounts[rows[0]]} {spec.symbol}"
        self.position_of[rows] = label
        if len(set(self.modes[rows])) > 1:
            _note(self.errors, _mask(self.n, rows), f"rows of one position ({label}) must share "
                  f"one margin mode (got {' and '.join(sorted(set(self.modes[rows])))})")
            return
        position = _Position.size(rows, v, spec, self.modes[rows[0]], self.min_distance)
        refused = position.refusal()
        if refused:
            _note(self.errors, _mask(self.n, rows), refused)
            return
        liq = position.isolated_liquidation() if position.mode == "isolated" else np.nan
        results = position.row_results(v, liq)
        for name, array in results.items():
            self.put(rows, name, array)
        self.kinds[rows], self.settles[rows] = spec.contract_type, spec.settle
        self.order_units[rows] = spec.order_unit_label
        self.warnings[rows] = _warnings(self.assets[rows], v, results, spec)
        lowered = v["leverage"] > position.leverage
        if lowered.any():
            others = _names(self.assets[rows][~lowered], f" ({position.leverage:g}x)")
            for i in rows[lowered]:
                _append(self.warnings, i, f"leverage {self.values['leverage'][i]:g}x lowered "
                        f"to {position.leverage:g}x: one position on {spec.symbol} with {others}")
        if position.mode == "cross":
            self.cross.append(position)

    def settle_cross_wallets(self) -> None:
        """Liquidation prices of cross positions: one wallet per account and settle coin."""
        wallets: dict[tuple[str, str], list[_Position]] = {}
        for position in self.cross:
            key = (str(self.accounts[position.rows[0]]), position.spec.settle)
            wallets.setdefault(key, []).append(position)
        for members in wallets.values():
            balance = _cross_wallet(sum(p.margin for p in members),
                                    sum(p.collateral for p in members))
            for position in members:
                others = sum(p.maintenance for p in members if p is not position)
                liq = position.cross_liquidation(balance, others)
                distance = liq / position.mark - 1.0
                self.put(position.rows, "liquidation_price", liq)
                self.put(position.rows, "liquidation_distance", distance)
                if distance < LIQUIDATION_WARNING:
                    for i in position.rows:
                        _append(self.warnings, i, _near_liquidation(distance))

    def check_margin_held(self) -> None:
        """Per settle coin, warn where the margin to post is more than the holdings of that coin
        (buying it adds exposure, to be entered as collateral and hedged)."""
        ok = self.errors == ""
        coins = coin_of(pd.Series(self.assets)).to_numpy(dtype=object)
        for settle in dict.fromkeys(self.settles[ok & (self.kinds == "inverse")]):
            rows = np.flatnonzero(ok & (self.settles == settle))
            needed = _posted(pd.DataFrame({
                "margin_coin": self.results["margin_coin"][rows],
                "collateral": self.values["collateral"][rows],
                "margin_mode": self.modes[rows], "account": self.accounts[rows]}))
            held = float(self.values["quantity"][ok & (coins == settle)].sum())
            if needed > held * (1 + 1e-9):
                note = (f"margin to post {needed:.8g} {settle} but the inventory holds "
                        f"{held:.8g} {settle}: {needed - held:.8g} {settle} missing; buying it "
                        f"adds {settle} exposure: enter it as Collateral so that it is hedged")
                for i in rows[coins[rows] != settle] if (coins[rows] != settle).any() else rows:
                    _append(self.warnings, i, note)


def _near_liquidation(distance: float) -> str:
    return f"liquidation within {distance:.0%} of the mark price"


def _cross_wallet(margins: float, collateral: float) -> float:
    """A cross wallet's balance: the collateral already there, topped up to the margins."""
    return max(margins, collateral)


def _to_post(margins: FloatArray, collateral: FloatArray, modes: Texts) -> float:
    """Coin to move into one wallet: isolated margins in full, and what the cross margins need
    beyond the collateral already in the wallet."""
    cross = modes == "cross"
    return float(margins[~cross].sum()) + max(
        0.0, float(margins[cross].sum()) - float(collateral[cross].sum()))


def _names(assets: Texts, suffix: str, most: int = 3) -> str:
    """``BTC (2x), SOL (2x)``: the distinct names, at most ``most`` of them, then how many more."""
    distinct = list(dict.fromkeys(map(str, assets)))
    shown = ", ".join(f"{a}{suffix}" for a in distinct[:most])
    return shown + (f" and {len(distinct) - most} more" if len(distinct) > most else "")


def _mask(n: int, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return mask


def _append(texts: Texts, row: int | np.integer[Any], text: str) -> None:
    texts[row] = f"{texts[row]}; {text}" if texts[row] else text


@dataclass
class _Position:
    """One short position of the plan: its rows, size, leverage, margin and tier."""

    rows: npt.NDArray[np.intp]
    spec: ContractSpec
    mode: str
    contracts: float
    shares: FloatArray  # each row's part of ``contracts``
    mark: float
    leverage: float
    initial_margin: float
    margin: float  # to post: the initial margin, or more to keep liquidation far enough
    value: float  # position value in the settle currency at the mark
    tier: int
    collateral: float  # its rows' coin on the exchange (a cross wallet's own balance)

    @classmethod
    def size(cls, rows: npt.NDArray[np.intp], v: dict[str, FloatArray], spec: ContractSpec,
             mode: str, min_distance: float) -> _Position:
        kind, cv, lot = spec.contract_type, spec.contract_value, spec.lot_size
        mark = float(v["mark_price"][0])
        raw = sizing.unrounded_contracts(v["quantity"] * v["price"] / v["coin_price"],
                                         v["coin_price"], cv, v["hedge_ratio"], kind,
                                         v["collateral"])
        total = float(sizing.round_to_lot(np.array(raw.sum()), np.array(lot)))
        shares = sizing.allocate(raw, total, lot)
        leverage = float(v["leverage"].min())
        im = float(margin.initial_margin(total, cv, mark, leverage, kind)) if total else 0.0
        value = float(margin.position_value(total, cv, mark, kind))
        floors, mmrs, amounts = spec.tier_arrays()
        tier = int(margin.tier_index(np.array([value]), floors)[0])
        posted = im
        if total > 0 and min_distance > 0:
            target = mark * (1.0 + min_distance)
            at_target = float(margin.position_value(total, cv, target, kind))
            t = int(margin.tier_index(np.array([at_target]), floors)[0])
            needed = float(margin.margin_for_liquidation(
                "short", total, cv, mark, target, mmrs[t], amounts[t], kind))
            posted = max(im, needed)
        return cls(rows, spec, mode, total, shares, mark, leverage, im, posted, value, tier,
                   float(v["collateral"].sum()))

    @property
    def maintenance(self) -> float:
        """Maintenance margin at the mark (the tier's rate less its deduction)."""
        _, mmrs, amounts = self.spec.tier_arrays()
        return float(mmrs[self.tier] * self.value - amounts[self.tier])

    def refusal(self) -> str:
        """Why the exchange would refuse the position ('' where it would not): its tier allows
        less leverage, or the margin does not cover the maintenance margin at entry."""
        cap = self.spec.tiers[self.tier].max_leverage or np.inf
        settle, symbol = self.spec.settle, self.spec.symbol
        if self.leverage > cap:
            return (f"leverage must be <= {cap:g} for a position of {self.value:.6g} {settle} on "
                    f"{symbol} (its margin tier; got {self.leverage:g})")
        if self.contracts > 0 and self.initial_margin < self.maintenance:
            return (f"margin at {self.leverage:g}x ({self.initial_margin:.8g} {settle}) must "
                    f"cover the maintenance margin ({self.maintenance:.8g})")
        return ""

    def isolated_liquidation(self) -> float:
        """Tier-aware, mark-basis liquidation price of the short (NaN: no position). Where the
        exchange reserves the fee to close in the bankruptcy price (Bybit inverse), the lower of
        that and the same margin with the fee reserved (this position's tier at the mark)."""
        if self.contracts <= 0:
            return np.nan
        floors, mmrs, amounts = self.spec.tier_arrays()
        price = float(margin.tiered_liquidation_price(
            "short", self.contracts, self.spec.contract_value, self.mark, self.margin, floors,
            mmrs, amounts, self.spec.contract_type, "mark"))
        if self.spec.close_fee_in_bankruptcy:
            price = min(price, self.cross_liquidation(self.margin, 0.0))
        return price

    def cross_liquidation(self, wallet: float, others: float) -> float:
        """Liquidation price with a cross wallet of ``wallet`` whose other positions hold
        ``others`` of maintenance margin (Binance's rule, this position's tier at the mark; the
        fee to close reserved where the exchange does so)."""
        if self.contracts <= 0:
            return np.nan
        _, mmrs, amounts = self.spec.tier_arrays()
        fee = self.spec.taker_fee if self.spec.close_fee_in_bankruptcy else 0.0
        return float(margin.cross_liquidation_price(
            "short", self.contracts, self.spec.contract_value, self.mark, wallet,
            mmrs[self.tier], amounts[self.tier], others, 0.0, self.spec.contract_type,
            "mark", fee))

    def row_results(self, v: dict[str, FloatArray], liq: float) -> dict[str, FloatArray]:
        """Each row's share of the position, and the position's own figures (``liq``: its
        liquidation price)."""
        spec, kind, cv = self.spec, self.spec.contract_type, self.spec.contract_value
        inverse = kind == "inverse"
        q, p, mark = v["quantity"], v["price"], v["mark_price"]
        n = self.shares
        part = n / self.contracts if self.contracts > 0 else np.zeros(len(n))
        notional = q * p
        exposure = notional + (v["collateral"] * v["coin_price"] if inverse else 0.0)
        target = exposure * v["hedge_ratio"]
        hedged = n * cv if inverse else n * cv * mark
        per_day = 24.0 / spec.funding_interval_hours
        funding = np.asarray(costs.funding_payment(n, cv, mark, v["funding_rate"], "short", kind),
                             dtype=float) * per_day
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
            "leverage": np.full(len(n), self.leverage),
            "initial_margin_coin": self.initial_margin * part,
            "margin_coin": self.margin * part,
            "liquidation_price": np.full(len(n), liq),
            "liquidation_distance": np.full(len(n), liq / self.mark - 1.0),
            "funding_annual": np.asarray(
                costs.annualised_funding(v["funding_rate"], spec.funding_interval_hours),
                dtype=float),
            "funding_per_day_coin": funding,
            "funding_per_day_usd": funding * usd,
            "fee_to_open_coin": fee,
            "fee_to_open_usd": fee * usd,
            "contract_value": np.full(len(n), cv),
            "lot_size": np.full(len(n), spec.lot_size),
            "tick_size": np.full(len(n), spec.tick_size),
        }
        return {k: np.broadcast_to(np.asarray(a, dtype=float), n.shape) for k, a in out.items()}


def _warnings(assets: Texts, v: dict[str, FloatArray], out: dict[str, FloatArray],
              spec: ContractSpec) -> Texts:
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
         [_near_liquidation(d) for d in distance]),
        (np.abs(funding) > FUNDING_WARNING, [
            f"funding {f:+.0%} a year ({'you receive' if f > 0 else 'you pay'})"
            for f in funding]),
        (ratio != 1, [f"{'over' if r > 1 else 'under'}-hedged (ratio {r:g})" for r in ratio]),
        ((coins != spec.underlying) & (v["r_squared"] < R_SQUARED_WARNING), [
            f"R² {r:.2f} of daily returns is under {R_SQUARED_WARNING:g}: not a highly "
            f"effective hedge" for r in v["r_squared"]]),
        (no_lot, ["holding is smaller than one lot: no contracts"] * len(assets)),
        (~no_lot & (target > 0) & (np.abs(target - hedged) > RESIDUAL_WARNING * target), [
            f"lot rounding {'over' if h > t else 'under'}-hedges by {abs(h / t - 1):.0%} "
            f"({r:+.8g} {a} left unhedged)" if t > 0 else ""
            for r, a, h, t in zip(residual, assets, hedged, target, strict=True)]),
        ((coins == spec.underlying) & (np.abs(v["mark_price"] / v["price"] - 1) > MARK_WARNING), [
            f"mark price {m:,.2f} is {abs(m / p - 1):.0%} from the price {p:,.2f}: a typo or "
            "the wrong coin?" for m, p in zip(v["mark_price"], v["price"], strict=True)]),
    ]
    joined: Texts = np.full(len(assets), "", dtype=object)
    for mask, texts in kinds:
        for row in np.flatnonzero(mask):
            _append(joined, row, texts[row])
    return joined


def plan_positions(plan: pd.DataFrame) -> pd.DataFrame:
    """One row per exchange position of a plan (rows without errors, by account and contract):
    what to open, in the exchange's own unit, and what it holds.

    ``asset`` lists the holdings it hedges; contracts, margins, funding and fees are the sums of
    its rows' shares; leverage, margin mode and the liquidation price are the position's own.
    ``order_quantity`` is what to type in the exchange's order box, in ``order_unit``.
    """
    ok = plan[plan["error"] == ""]
    declared = [c for c in columns.COLUMNS if c.plan and c.key in plan.columns]
    summed = [c.key for c in declared if c.position == "sum"]
    shared = [c.key for c in declared if c.position == "same"]
    grouped = ok.groupby("position", sort=False)
    positions = grouped[shared].first().join(grouped[summed].sum())
    positions["asset"] = grouped["asset"].agg(lambda a: ", ".join(dict.fromkeys(map(str, a))))
    positions["side"] = "short"
    usd = positions["order_unit"] == "USD"
    positions["order_quantity"] = positions["contracts"].where(
        ~usd, positions["contracts"] * positions["contract_value"])
    return positions.reset_index(drop=True)


def transfers(positions: pd.DataFrame) -> pd.DataFrame:
    """What to move into each futures wallet (account and settle coin) before opening: the
    margin to post plus the fees to open and, later, to close (taker, at today's mark)."""
    rows = []
    for (account, settle), wallet in positions.groupby(["account", "settle"], sort=False):
        amount = _to_post(wallet["margin_coin"].to_numpy(), wallet["collateral"].to_numpy(),
                          wallet["margin_mode"].to_numpy(dtype=object))
        amount += 2 * float(wallet["fee_to_open_coin"].sum())
        exchange = str(wallet["contract"].iloc[0]).split(":", 1)[0]
        rows.append({"account": account, "settle": settle, "amount": amount,
                     "text": f"Transfer {amount:,.8f} {settle} to the "
                             f"{_wallet(str(account), exchange, str(settle))} wallet"})
    return pd.DataFrame(rows, columns=["account", "settle", "amount", "text"])


def _wallet(account: str, exchange: str, settle: str) -> str:
    """The futures wallet as the exchange names it, e.g. ``BINANCE COIN-M BTC``."""
    kind = {"BINANCE": "COIN-M ", "BYBIT": "inverse ", "OKX": "trading "}.get(exchange, "")
    return f"{account} {kind}{settle}"


def plan_totals(plan: pd.DataFrame) -> pd.Series:
    """Totals of a plan: values in USD, coverage, the nearest liquidation, counts.

    The cost of the hedge over the horizon, at today's funding and at the 30-day average
    (``..._avg_...``: NaN when a hedged row has no average, i.e. no funding history;
    ``funding_avg_missing`` counts those rows): funding, cost (fees less funding), the cost as a
    yearly share of the hedged notional (each row's cost x 365 / its horizon, summed, over the
    hedged USD) and the break-even horizon in days, where hedging and selling cost the same (fees
    and selling do not grow with the horizon, funding does; inf: the cheaper stays the cheaper).
    """
    ok = plan[plan["error"] == ""]
    exposure = float(ok["exposure_usd"].sum())
    distances = ok["liquidation_distance"].replace(np.inf, np.nan).dropna()
    hedged = ok["hedged_usd"] > 0
    missing = float((hedged & ok["funding_avg_annual"].isna()).sum())
    known = missing == 0 and len(ok) > 0
    fees = float(ok["fee_to_open_usd"].sum() + ok["fee_to_close_usd"].sum())
    sell = float(ok["sell_cost_usd"].sum())
    hedged_usd = float(ok["hedged_usd"].sum())

    def yearly(cost: pd.Series) -> float:
        per_year = (cost * 365.0 / ok["hedge_days"].where(ok["hedge_days"] > 0))[hedged]
        return (float(per_year.sum()) / hedged_usd if hedged_usd > 0 and per_year.notna().all()
                else np.nan)

    def break_even(per_day: float) -> float:
        if not len(ok) or np.isnan(per_day):
            return np.nan
        with np.errstate(divide="ignore", invalid="ignore"):
            days = np.float64(fees - sell) / np.float64(per_day)
        return float(days) if np.isfinite(days) and days >= 0 else np.inf

    def at_average(name: str) -> float:
        return float(ok[name].where(hedged, 0.0).sum()) if known else np.nan

    average_per_day = float((ok["hedged_usd"] * ok["funding_avg_annual"]).where(
        hedged, 0.0).sum()) / 365.0 if known else np.nan
    return pd.Series(
        {
            "holdings": float(len(plan)),
            "errors": float((plan["error"] != "").sum()),
            "notional_usd": float(ok["notional_usd"].sum()),
            "exposure_usd": exposure,
            "hedged_usd": hedged_usd,
            "coverage": hedged_usd / exposure if exposure > 0 else np.nan,
            "net_delta_usd": float(ok["net_delta_usd"].sum()),
            "margin_usd": float((margin_by_coin(plan) * _usd_per_settle(ok).groupby(
                ok["settle"]).first()).sum()),
            "funding_per_day_usd": float(ok["funding_per_day_usd"].sum()),
            "fee_to_open_usd": float(ok["fee_to_open_usd"].sum()),
            "nearest_liquidation_distance": float(distances.min()) if len(distances) else np.inf,
            "funding_horizon_usd": float(ok["funding_horizon_usd"].sum()),
            "fees_usd": fees,
            "hedge_cost_usd": float(ok["hedge_cost_usd"].sum()),
            "sell_cost_usd": sell,
            "hedge_days": float(ok["hedge_days"].max()) if len(ok) else np.nan,
            "funding_horizon_avg_usd": at_average("funding_horizon_avg_usd"),
            "hedge_cost_avg_usd": at_average("hedge_cost_avg_usd"),
            "funding_avg_missing": missing,
            "hedge_cost_annual": yearly(ok["hedge_cost_usd"]),
            "hedge_cost_avg_annual": yearly(ok["hedge_cost_avg_usd"]) if known else np.nan,
            "break_even_days": break_even(float(ok["funding_per_day_usd"].sum())),
            "break_even_avg_days": break_even(average_per_day),
        }
    )


def _usd_per_settle(plan: pd.DataFrame) -> pd.Series:
    return plan["mark_price"].where(plan["contract_type"] == "inverse", 1.0)


def margin_by_coin(plan: pd.DataFrame) -> pd.Series:
    """Margin to post per settle currency (coin for inverse contracts): per wallet (account and
    settle coin) the isolated margins, and what cross margins need beyond its collateral."""
    ok = plan[plan["error"] == ""]
    return pd.Series({coin: _posted(rows) for coin, rows in ok.groupby("settle")}, dtype=float)


def _posted(rows: pd.DataFrame) -> float:
    """:func:`_to_post` summed over the wallets (accounts) of ``rows``."""
    return sum(_to_post(w["margin_coin"].to_numpy(), w["collateral"].to_numpy(),
                        w["margin_mode"].to_numpy(dtype=object))
               for _, w in rows.groupby("account"))


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
