"""One exchange position per contract and account: merged rows, margin modes, orders in the
exchange's own units, the margin the user really has."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlhedge import plan_hedge
from xlhedge.examples import example_inventory
from xlhedge.plan import margin_by_coin, plan_positions, transfers
from xlhedge.report import order_text


def _row(**fields: object) -> dict[str, object]:
    return {"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0,
            "Contract": "BINANCE:BTCUSD_PERP"} | fields


def _plan(*rows: dict[str, object], **options: float) -> pd.DataFrame:
    return plan_hedge(pd.DataFrame(list(rows)), **options)


class TestTheDemo:
    """The bundled example, as the positions issue tried it."""

    @pytest.fixture(scope="class")
    def positions(self) -> pd.DataFrame:
        return plan_positions(plan_hedge(example_inventory())).set_index("contract")

    def test_btc_and_sol_are_one_binance_position(self, positions: pd.DataFrame) -> None:
        binance = positions.loc["BINANCE:BTCUSD_PERP"]
        assert binance["asset"] == "BTC, SOL"
        assert binance["contracts"] == 1410  # 900 for 1.5 BTC + 510 for 400 SOL x 0.85
        assert binance["leverage"] == 2  # the lower of 3x and 2x
        # 1,410 x 100 USD at 60,010 and 2x: margin 141,000 / 60,010 / 2 = 1.17480420 BTC;
        # LP = 141,000 x 0.996 / (141,000 / 60,010 - 1.17480420) = 119,539.92
        assert binance["margin_coin"] == pytest.approx(1.17480420, abs=1e-8)
        assert binance["liquidation_price"] == pytest.approx(119539.92, abs=0.01)

    def test_every_row_of_the_position_shows_its_liquidation(self) -> None:
        plan = plan_hedge(example_inventory())
        rows = plan[plan["contract"] == "BINANCE:BTCUSD_PERP"]
        assert rows["liquidation_price"].round(2).tolist() == [119539.92, 119539.92]
        assert rows["contracts"].tolist() == [900, 510]
        assert "leverage 3x lowered to 2x" in rows.iloc[0]["warnings"]
        assert "SOL (2x)" in rows.iloc[0]["warnings"]

    def test_deribit_order_is_in_usd(self, positions: pd.DataFrame) -> None:
        deribit = positions.loc["DERIBIT:BTC-PERPETUAL"]
        assert deribit["order_quantity"] == 30000 and deribit["order_unit"] == "USD"
        assert order_text("SELL", deribit["contracts"], "DERIBIT:BTC-PERPETUAL",
                          deribit["order_quantity"], deribit["order_unit"],
                          deribit["contract_value"]) == (
            "SELL 30,000 USD of DERIBIT:BTC-PERPETUAL (3,000 contracts of 10 USD)")

    def test_binance_order_is_in_contracts(self, positions: pd.DataFrame) -> None:
        assert positions.loc["BINANCE:BTCUSD_PERP", "order_unit"] == "contracts"
        assert positions.loc["BINANCE:BTCUSD_PERP", "order_quantity"] == 1410


class TestMergedRows:
    def test_two_small_rows_at_125x_are_one_refused_position(self) -> None:
        # Binance COIN-M BTCUSD_PERP: 125x only below 5 BTC of position; 2 x 4 BTC is 8 BTC
        plan = _plan(_row(Quantity=4.0, Leverage=125), _row(Quantity=4.0, Leverage=125))
        assert all("leverage must be <= 100 for a position of 8" in e for e in plan["error"])
        alone = _plan(_row(Quantity=4.0, Leverage=125))
        assert alone.loc[0, "error"] == ""

    def test_different_margin_modes_are_an_error_on_those_rows(self) -> None:
        plan = _plan(_row(**{"Margin Mode": "cross"}), _row(**{"Margin Mode": "isolated"}),
                     _row(Contract="BYBIT:BTCUSD"))
        assert plan.loc[0, "error"] == plan.loc[1, "error"] != ""
        assert "must share one margin mode (got cross and isolated)" in plan.loc[0, "error"]
        assert plan.loc[2, "error"] == ""

    def test_bad_margin_mode_names_the_choices(self) -> None:
        plan = _plan(_row(**{"Margin Mode": "portfolio"}))
        assert plan.loc[0, "error"] == (
            "margin_mode must be \"isolated\" or \"cross\" (got 'portfolio')")

    def test_accounts_hold_positions_apart(self) -> None:
        plan = _plan(_row(Account="main"), _row(Account="second"))
        positions = plan_positions(plan)
        assert positions["account"].tolist() == ["MAIN", "SECOND"]
        assert positions["contracts"].tolist() == [600, 600]

    def test_shares_add_up_to_the_position(self) -> None:
        # 0.004 BTC each at 60,000 is 2.4 contracts; three of them 7.2: one position of 7
        plan = _plan(*[_row(Quantity=0.004)] * 3)
        assert plan["contracts"].sum() == 7
        assert sorted(plan["contracts"]) == [2, 2, 3]


class TestCrossMargin:
    def test_coins_in_the_wallet_and_a_1x_short_are_never_liquidated(self) -> None:
        # the guides' synthetic dollar: 1 BTC on the exchange as collateral, short 1x
        plan = _plan(_row(Quantity=0.0, Collateral=1.0, **{"Margin Mode": "cross"}))
        assert plan.loc[0, "contracts"] == 600
        assert plan.loc[0, "liquidation_price"] == math.inf
        wallet = transfers(plan_positions(plan))
        # the wallet already holds the 1 BTC the margin needs: only the fees to move
        assert wallet.loc[0, "amount"] == pytest.approx(2 * 0.0005, abs=1e-12)
        assert "missing" not in plan.loc[0, "warnings"]
        # the totals say the same as the transfer: nothing to post beyond the wallet's coins
        assert margin_by_coin(plan)["BTC"] == 0

    def test_a_cross_short_with_half_its_margin_in_collateral(self) -> None:
        # 0.5 BTC held, 0.5 BTC on the exchange, short 600 x 100 at 60,000 and 2x: the wallet
        # holds max(0.5 margin, 0.5 collateral) = 0.5 BTC; LP = 60,000 x 0.996 / (1 - 0.5)
        plan = _plan(_row(Quantity=0.5, Collateral=0.5, Leverage=2, **{"Margin Mode": "cross"}),
                     min_distance=0.0)
        assert plan.loc[0, "liquidation_price"] == pytest.approx(119520)

    def test_positions_share_a_cross_wallet(self) -> None:
        rows = [_row(Leverage=2, **{"Margin Mode": "cross"}),
                _row(Contract="BINANCE:ETHUSD_PERP", Asset="ETH", Quantity=10.0, Price=3000.0,
                     Leverage=2, **{"Margin Mode": "cross"})]
        plan = _plan(*rows, min_distance=0.0)
        alone = _plan(rows[0], min_distance=0.0)
        # the ETH position settles in ETH: a wallet of its own, so BTC's price is unchanged
        assert plan.loc[0, "liquidation_price"] == pytest.approx(
            alone.loc[0, "liquidation_price"])


class TestMarginTheUserHas:
    def test_a_sol_holding_hedged_with_btc_contracts_needs_btc(self) -> None:
        plan = _plan(_row(Asset="SOL", Quantity=400.0, Price=150.0, **{"Mark Price": 60000.0},
                          Leverage=2))
        # 600 contracts of 100 USD at 60,000 and 2x: 0.5 BTC, and no BTC in the inventory
        assert ("margin to post 0.5 BTC but the inventory holds 0 BTC: 0.5 BTC missing"
                in plan.loc[0, "warnings"])
        assert "enter it as Collateral" in plan.loc[0, "warnings"]

    def test_enough_btc_held_means_no_warning(self) -> None:
        plan = _plan(_row(Asset="SOL", Quantity=400.0, Price=150.0, Leverage=2),
                     _row(Quantity=1.0, Leverage=2))
        assert not any("missing" in w for w in plan["warnings"])


class TestMinimumDistance:
    def test_margin_to_post_keeps_liquidation_that_far(self) -> None:
        plan = _plan(_row(Leverage=10), min_distance=0.3)
        assert plan.loc[0, "liquidation_distance"] == pytest.approx(0.3)
        assert plan.loc[0, "margin_coin"] > plan.loc[0, "initial_margin_coin"] == 0.1

    def test_initial_margin_when_it_is_enough(self) -> None:
        plan = _plan(_row(Leverage=2), min_distance=0.3)
        assert plan.loc[0, "margin_coin"] == plan.loc[0, "initial_margin_coin"] == 0.5


quantities = st.floats(0.01, 20, allow_nan=False)
leverages = st.sampled_from([1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0, 125.0])


@given(quantities, st.floats(0.05, 0.95), leverages)
def test_splitting_a_holding_changes_no_position_number(q: float, part: float,
                                                        leverage: float) -> None:
    whole = plan_positions(_plan(_row(Quantity=q, Leverage=leverage)))
    split = plan_positions(_plan(_row(Quantity=q * part, Leverage=leverage),
                                 _row(Quantity=q * (1 - part), Leverage=leverage)))
    if len(whole) == 0:  # refused by the exchange: then so is the split one
        assert len(split) == 0
        return
    for key in ("contracts", "margin_coin", "initial_margin_coin", "liquidation_price",
                "leverage", "fee_to_open_coin"):
        assert split.loc[0, key] == pytest.approx(whole.loc[0, key], rel=1e-9), key


@given(st.lists(st.tuples(quantities, leverages), min_size=1, max_size=6))
def test_merged_rows_never_take_a_leverage_their_tier_refuses(rows: list[tuple[float,
                                                                                 float]]) -> None:
    plan = _plan(*[_row(Quantity=q, Leverage=x) for q, x in rows])
    positions = plan_positions(plan)
    caps = {0: 125, 5: 100, 10: 50, 20: 20, 50: 10, 100: 5, 200: 4}  # Binance COIN-M BTC
    for position in positions.to_dict("records"):
        value = position["contracts"] * 100 / position["mark_price"]
        cap = next(c for floor, c in sorted(caps.items(), reverse=True) if value >= floor)
        assert position["leverage"] <= cap
    if len(positions):
        assert (plan["error"] == "").all()
        assert positions.loc[0, "leverage"] == min(x for _, x in rows)
    else:
        assert (plan["error"] != "").all()


@given(st.floats(0.01, 500), st.floats(20000, 200000))
def test_a_1x_cross_short_on_the_coins_in_its_wallet_is_never_liquidated(
        coins: float, price: float) -> None:
    plan = _plan(_row(Quantity=0.0, Collateral=coins, Price=price, **{"Margin Mode": "cross"}))
    if plan.loc[0, "error"] == "" and plan.loc[0, "contracts"] > 0:
        # rounding to whole contracts may short a hair more than the coins: still never
        # liquidated unless the rounding is more than the maintenance margin covers
        assert np.isinf(plan.loc[0, "liquidation_price"]) or plan.loc[
            0, "liquidation_distance"] > 1.0


def test_bybit_reserves_the_fee_to_close() -> None:
    # Bybit inverse keeps the taker fee to close (0.055%) out of the margin at bankruptcy:
    # F = f (M - N/E) / (f - 1) = 0.00055 x (0.5 - 1) / (0.00055 - 1) = 0.00027515 BTC, so
    # LP = 60,000 x 0.995 / (1 - (0.5 - 0.00027515)) = 119,334.33 (119,400 without the fee)
    plan = _plan(_row(Contract="BYBIT:BTCUSD", Leverage=2))
    assert plan.loc[0, "liquidation_price"] == pytest.approx(119334.33, abs=0.01)
    binance = _plan(_row(Leverage=2))  # Binance does not: 60,000 x 0.996 / 0.5
    assert binance.loc[0, "liquidation_price"] == pytest.approx(119520)
