"""The plan for a whole inventory, and its scenario table."""

import math

import numpy as np
import pandas as pd
import pytest

from xlhedge import (
    InputError,
    initial_margin,
    plan_hedge,
    plan_totals,
    scenario_summary,
    scenario_table,
)
from xlhedge.examples import example_inventory
from xlhedge.plan import margin_by_coin


def _inventory(**overrides):
    row = {"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0, "Contract": "BINANCE:BTCUSD_PERP"}
    return pd.DataFrame([row | overrides])


class TestPlanHedge:
    def test_guides_case(self):
        plan = plan_hedge(_inventory())
        row = plan.iloc[0]
        assert row["contracts"] == 600
        assert row["hedged_usd"] == 60000
        assert row["residual_coin"] == 0
        assert row["margin_coin"] == pytest.approx(initial_margin(600, 100, 60000, 1))
        assert row["liquidation_price"] == math.inf  # 1x default: synthetic USD
        assert row["error"] == ""

    def test_defaults_and_headings(self):
        plan = plan_hedge(_inventory())
        assert plan.loc[0, ["hedge_ratio", "leverage", "collateral"]].tolist() == [1, 1, 0]
        assert plan.loc[0, "funding_rate"] == 0.0001
        assert plan.loc[0, "mark_price"] == 60000

    def test_bundled_example_by_hand(self):
        # contracts = USD to hedge / contract value, rounded to the lot: 1.5 x 60,000 / 100;
        # 20 x 3,000 / 1; 0.25 x 60,000 / 1 (lot 100); 5 x 3,000 x 0.5 / 10; 400 x 150 x 0.85 /
        # 100; (0.4 + 0.1 collateral) x 60,000 / 10 = 3,000 (one price per coin: the BTC
        # collateral is valued at the row's BTC price, not the mark of 60,002)
        plan = plan_hedge(example_inventory())
        assert plan["contracts"].tolist() == [900, 60000, 15000, 750, 510, 3000]
        assert plan["hedged_usd"].tolist() == [90000, 60000, 15000, 7500, 51000, 30000]
        assert plan["notional_usd"].tolist() == [90000, 60000, 15000, 15000, 60000, 24000]
        assert plan.loc[5, "exposure_usd"] == 30000

    def test_leverage_brings_liquidation_close(self):
        plan = plan_hedge(_inventory(Leverage=5))
        # the initial margin 1/5 BTC alone: LP = 60,000 x (1 - 0.004) / (1 - 0.2) = 74,700
        # (Binance tier 1, 0.4%), 24.5% away
        bare = plan_hedge(_inventory(Leverage=5), min_distance=0.0)
        assert bare.loc[0, "liquidation_price"] == pytest.approx(74700)
        assert bare.loc[0, "liquidation_distance"] == pytest.approx(0.245)
        assert bare.loc[0, "margin_coin"] == pytest.approx(0.2)
        # by default the margin to post keeps liquidation 30% away: at 78,000 the short loses
        # 60,000 (1/60,000 - 1/78,000) = 0.23076923 BTC and needs 0.004 x 60,000 / 78,000 =
        # 0.00307692 BTC of maintenance: 0.23384615 BTC
        assert plan.loc[0, "margin_coin"] == pytest.approx(0.23384615, abs=1e-8)
        assert plan.loc[0, "initial_margin_coin"] == pytest.approx(0.2)
        assert plan.loc[0, "liquidation_price"] == pytest.approx(78000)
        distance = plan.loc[0, "liquidation_distance"]
        assert distance == pytest.approx(0.30)
        assert "liquidation within 25% of the mark price" in bare.loc[0, "warnings"]
        assert "liquidation within" not in plan.loc[0, "warnings"]

    def test_cross_hedge_uses_coin_price_from_other_row(self):
        inventory = pd.concat([_inventory(), _inventory(Asset="SOL", Quantity=100, Price=150)])
        plan = plan_hedge(inventory)
        sol = plan.iloc[1]
        assert sol["mark_price"] == 60000
        assert sol["contracts"] == 150  # $15,000 / 100
        assert "cross-hedge" in sol["warnings"]

    def test_cross_hedge_prefers_the_other_rows_mark_price(self):
        btc = _inventory(**{"Mark Price": 60010.0})
        plan = plan_hedge(pd.concat([btc, _inventory(Asset="SOL", Quantity=100, Price=150)]))
        assert plan.iloc[1]["mark_price"] == 60010

    def test_cross_hedge_without_coin_price_is_a_row_error(self):
        plan = plan_hedge(_inventory(Asset="SOL", Price=150))
        assert "mark_price is needed" in plan.loc[0, "error"]

    @pytest.mark.parametrize(
        ("overrides", "message"),
        [
            ({"Quantity": -1}, "quantity must be >= 0 (got -1)"),
            ({"Quantity": "lots"}, "quantity must be a number (got 'lots')"),
            ({"Quantity": None}, "quantity must be a number, not blank/NaN (got blank)"),
            ({"Price": 0}, "price must be > 0 (got 0)"),
            ({"Price": float("inf")}, "price must be finite (got inf)"),
            ({"Leverage": 0.5}, "leverage must be >= 1 (got 0.5)"),
            ({"Mark Price": -5.0}, "mark_price must be > 0 (got -5)"),
            ({"Funding Rate": 1.5}, "funding_rate must be < 1 (got 1.5)"),
            ({"Leverage": 200}, "leverage must be <= 125 for BINANCE:BTCUSD_PERP"),
            ({"Contract": "BINANCE:BTCUSD"}, "unknown contract 'BINANCE:BTCUSD' (did you mean"),
            ({"Contract": ""}, "contract must not be blank"),
            ({"Leverage": True}, "leverage must be a number, not TRUE/FALSE"),
        ],
    )
    def test_bad_rows_get_a_message_and_others_still_compute(self, overrides, message):
        inventory = pd.concat([_inventory(**overrides), _inventory()], ignore_index=True)
        plan = plan_hedge(inventory)
        assert message in plan.loc[0, "error"]
        assert math.isnan(plan.loc[0, "contracts"])
        assert plan.loc[1, "contracts"] == 600 and plan.loc[1, "error"] == ""

    def test_tier_leverage_cap(self):
        # Binance COIN-M: 300 BTC falls in the 200-400 BTC tier, which allows 4x at most
        plan = plan_hedge(_inventory(Quantity=300, Leverage=20))
        assert "leverage must be <= 4 for a position of 300 BTC" in plan.loc[0, "error"]

    def test_high_tier_short_is_liquidated_far_away_not_never(self):
        row = plan_hedge(_inventory(Quantity=300, Leverage=1.03)).iloc[0]
        assert row["liquidation_price"] == pytest.approx(2050873.555, rel=1e-9)

    def test_two_columns_for_one_input(self):
        frame = _inventory().assign(Qty=2.0)
        with pytest.raises(InputError, match="inventory must have one column for quantity"):
            plan_hedge(frame)

    def test_blank_rows_skipped(self):
        blank = pd.DataFrame([{"Asset": None, "Quantity": None, "Contract": " "}])
        plan = plan_hedge(pd.concat([_inventory(), blank, _inventory()]))
        assert len(plan) == 2

    def test_warnings(self):
        plan = plan_hedge(_inventory(**{"Hedge Ratio": 0.5, "Funding Rate": -0.0003}))
        text = plan.loc[0, "warnings"]
        assert "under-hedged (ratio 0.5)" in text
        assert "funding -33% a year (you pay)" in text

    def test_rounding_residual(self):
        plan = plan_hedge(_inventory(Quantity=0.0123))
        row = plan.iloc[0]
        assert row["contracts"] == 7  # 738 USD -> 7 contracts of 100
        assert row["residual_coin"] == pytest.approx((738 - 700) / 60000)
        # 700 of 738 USD: under-hedged by 5%, 0.00063333 BTC left unhedged
        assert "lot rounding under-hedges by 5% (+0.00063333333 BTC left unhedged)" in row[
            "warnings"]

    def test_tiny_holding_over_hedged_by_a_lot(self):
        # 0.001 BTC at 60,000 is 60 USD: one 100 USD contract over-hedges it by 67%
        row = plan_hedge(_inventory(Quantity=0.001), registry=None).iloc[0]
        assert row["contracts"] == 1
        assert "lot rounding over-hedges by 67%" in row["warnings"]

    def test_mark_far_from_price_is_a_warning(self):
        row = plan_hedge(_inventory(**{"Mark Price": 6000.0})).iloc[0]
        assert "mark price 6,000.00 is 90% from the price 60,000.00" in row["warnings"]
        assert "mark price" not in plan_hedge(_inventory(**{"Mark Price": 60300.0})).iloc[0][
            "warnings"]

    def test_collateral_is_hedged_too(self):
        row = plan_hedge(_inventory(Collateral=0.5)).iloc[0]
        assert row["contracts"] == 900
        assert row["exposure_usd"] == 90000

    def test_linear_contract(self):
        row = plan_hedge(_inventory(Contract="BYBIT:BTCUSDT", Quantity=1.2345)).iloc[0]
        assert row["contracts"] == pytest.approx(1.234) or row["contracts"] == pytest.approx(1.235)
        assert row["settle"] == "USDT"

    def test_totals(self):
        plan = plan_hedge(pd.concat([_inventory(), _inventory(Quantity=-1)]))
        totals = plan_totals(plan)
        assert totals["errors"] == 1 and totals["holdings"] == 2
        assert totals["hedged_usd"] == 60000 and totals["coverage"] == 1
        assert margin_by_coin(plan)["BTC"] == pytest.approx(1.0)

    def test_ten_thousand_rows_vectorised(self):
        n = 10_000
        inventory = pd.DataFrame(
            {
                "Asset": ["BTC"] * n,
                # two positions of about 2.75 BTC each: inside both contracts' first tier
                "Quantity": np.linspace(0.0001, 0.001, n),
                "Price": 60000.0,
                "Contract": ["BINANCE:BTCUSD_PERP", "BYBIT:BTCUSD"] * (n // 2),
                "Leverage": 3,
            }
        )
        plan = plan_hedge(inventory)
        assert (plan["error"] == "").all() and len(plan) == n
        assert plan["position"].nunique() == 2


class TestScenarios:
    def test_hedged_value_flat_until_liquidation(self):
        plan = plan_hedge(_inventory())
        summary = scenario_summary(scenario_table(plan))
        assert np.allclose(summary["hedged_usd"], 60000)
        assert not summary["liquidated"].any()
        down = summary.set_index("move").loc[-0.5]
        assert down["unhedged_usd"] == 30000 and down["hedge_pnl_usd"] == pytest.approx(30000)

    def test_liquidation_on_the_way(self):
        plan = plan_hedge(_inventory(Leverage=5))
        table = scenario_table(plan, [0.1, 0.5])
        assert table["liquidated"].tolist() == [False, True]
        lost = table.iloc[1]
        assert lost["hedge_pnl_coin"] == pytest.approx(-plan.loc[0, "margin_coin"])

    def test_shape(self):
        plan = plan_hedge(pd.concat([_inventory()] * 3))
        assert len(scenario_table(plan, np.linspace(-0.5, 1, 201))) == 3 * 201

    def test_metamorphic_unhedged_rises_with_price(self):
        table = scenario_table(plan_hedge(_inventory()), [-0.2, 0.0, 0.2])
        assert table["unhedged_usd"].is_monotonic_increasing
        assert table["hedge_pnl_usd"].is_monotonic_decreasing
