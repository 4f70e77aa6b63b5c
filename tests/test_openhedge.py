"""The open hedge's drift and rebalance, and funding over a horizon (numbers worked by hand)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from xlhedge import (
    InputError,
    funding_over,
    liquidation_price,
    margin_ratio,
    margin_to_add,
    net_coin_delta,
    plan_hedge,
    rebalance_contracts,
)


class TestNetCoinDelta:
    @pytest.mark.parametrize(("coins", "contracts", "cv", "entry", "expected"), [
        pytest.param(2.5, 1200, 100, 60000, 0.5, id="open-hedge-issue-worked-example"),
        pytest.param(1.5, 900, 100, 60000, 0.0, id="full-hedge-opened-at-60000"),
        pytest.param(1.0, 0, 100, 60000, 1.0, id="no-position"),
    ])
    def test_values(self, coins, contracts, cv, entry, expected):
        assert net_coin_delta(coins, contracts, cv, entry) == pytest.approx(expected)

    def test_broadcasts(self):
        got = net_coin_delta(np.array([2.5, 1.5]), np.array([1200, 900]), 100, 60000)
        assert np.allclose(got, [0.5, 0.0])

    def test_bad_entry_names_it(self):
        with pytest.raises(InputError, match="entry_price must be > 0"):
            net_coin_delta(1, 600, 100, 0)


class TestRebalanceContracts:
    @pytest.mark.parametrize(("args", "expected"), [
        # coins 2.5, short 1,200 x 100 USD at 60,000, mark 48,000: D 0.5, dN 24,000 USD
        pytest.param((2.5, 1200, 100, 60000, 48000), 240, id="open-hedge-issue-worked-example"),
        # refreshed at 95,000, 1.5 BTC hedged by 900 contracts opened at 60,000: no trade
        # (a plan from nothing would say 1,425 and over-hedge by 525)
        pytest.param((1.5, 900, 100, 60000, 95000), 0, id="no-trade-for-a-full-hedge"),
        # the holding grew to 2 BTC at 95,000: 0.5 BTC x 95,000 = 47,500 USD, 475 contracts
        pytest.param((2.0, 900, 100, 60000, 95000), 475, id="holding-grew"),
        # half hedge wanted on 1 BTC hedged fully at 50,000, now 40,000: coins at 40,000 are
        # 1 + 50,000 (1/40,000 - 1/50,000) = 1.25; D = 0; dN = 40,000 (0 - 0.5 x 1.25) = -25,000
        pytest.param((1.0, 500, 100, 50000, 40000, 0.5), -250, id="reduce-to-half"),
    ])
    def test_values(self, args, expected):
        assert rebalance_contracts(*args) == expected

    def test_lot_rounding(self):
        assert rebalance_contracts(2.0, 90000, 1, 60000, 95000, lot_size=100) == 47500


@given(st.floats(0.01, 100), st.floats(1000, 200000), st.floats(100, 1_000_000))
def test_a_full_same_coin_hedge_needs_no_trade_at_any_later_price(coins, entry, later):
    contracts = coins * entry  # 1 USD contracts: exactly the coins' value at entry
    assert abs(rebalance_contracts(coins, contracts, 1, entry, later, lot_size=1e-9)) < 1e-3


@given(st.floats(0.1, 50), st.floats(0, 2), st.floats(20000, 100000),
       st.floats(0.5, 2), st.sampled_from([0.5, 1.0]))
def test_applying_the_adjustment_brings_the_drift_to_zero(coins, part, entry, move, ratio):
    """Sell (or buy back) what rebalance says; asking again gives at most one lot."""
    cv, price = 100.0, entry * move
    contracts = round(coins * part * entry / cv)
    trade = rebalance_contracts(coins, contracts, cv, entry, price, ratio)
    if trade >= 0:  # selling more: the entry becomes the harmonic mean of old and new
        new = contracts + trade
        entry_after = new * cv / (contracts * cv / entry + trade * cv / price) if new else entry
    else:  # buying back reduce-only keeps the entry and realises q (1/X - 1/E) coin
        new, entry_after = contracts + trade, entry
        coins += -trade * cv * (1 / price - 1 / entry)
    assume(coins >= 0)  # an over-hedge bought back at a loss can cost more than the coins held
    again = rebalance_contracts(coins, max(new, 0), cv, entry_after, price, ratio)
    assert abs(again) <= 1


class TestFundingOver:
    @pytest.mark.parametrize(("args", "expected"), [
        # 600 x 100 USD at 60,000: 1 BTC; 0.01% per 8 h: 0.0001 BTC per interval x 90
        pytest.param((600, 100, 60000, 0.0001, 30), 0.009, id="cost-issue-worked-example"),
        # reference: short $60,000 at 30,000, +0.01%/8 h, 90 intervals: +0.018 BTC
        pytest.param((600, 100, 30000, 0.0001, 30), 0.018, id="reference-90-intervals"),
        # hourly funding (interval 1 h): 24 x 30 intervals of 0.0001 x 1 BTC, paid by the short
        pytest.param((600, 100, 60000, -0.0001, 30, 1.0), -0.072, id="negative-hourly"),
    ])
    def test_values(self, args, expected):
        assert funding_over(*args) == pytest.approx(expected)

    def test_days_must_not_be_negative(self):
        with pytest.raises(InputError, match="days must be >= 0"):
            funding_over(600, 100, 60000, 0.0001, -1)


class TestCostOfTheHedge:
    """plan_hedge's cost columns, worked by hand: 1 BTC at 60,000 short 600 x 100 USD at 1x on
    BINANCE:BTCUSD_PERP (taker 0.05%: 30 USD to open, 30 to close), 30 days."""

    @staticmethod
    def plan(rate: float, **options: float) -> pd.DataFrame:
        row = {"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0,
               "Contract": "BINANCE:BTCUSD_PERP", "Funding Rate": rate}
        return plan_hedge(pd.DataFrame([row]), **options)

    def test_receiving_funding_makes_the_hedge_pay(self):
        row = self.plan(0.0001).iloc[0]
        # 1 BTC x 0.01% x 3 a day = 0.0003 BTC = 18 USD a day, 540 over 30 days
        assert row["funding_horizon_usd"] == pytest.approx(540)
        assert row["fee_to_close_usd"] == pytest.approx(30)
        assert row["hedge_cost_usd"] == pytest.approx(60 - 540)
        # selling 60,000 USD and buying it back: 0.1% twice plus 0.05% = 150 USD
        assert row["sell_cost_usd"] == pytest.approx(150)
        assert row["break_even_days"] == np.inf  # the hedge stays the cheaper
        assert "selling may be cheaper" not in row["warnings"]

    def test_paying_funding_can_make_selling_cheaper(self):
        row = self.plan(-0.0003).iloc[0]
        # -54 USD a day: 1,620 over 30 days, plus 60 of fees = 1,680 against 150 to sell
        assert row["hedge_cost_usd"] == pytest.approx(1680)
        assert row["hedge_cost_annual"] == pytest.approx(1680 / 60000 * 365 / 30)
        # same cost when 60 + 54 d = 150: after 1.67 days
        assert row["break_even_days"] == pytest.approx(90 / 54)
        assert ("over 30 days the hedge is expected to cost 1,680.00 USD, selling and buying "
                "back 150.00 USD: selling may be cheaper") in row["warnings"]
        assert "taxable event" in row["warnings"]

    def test_a_row_horizon_overrides_the_setting(self):
        row = plan_hedge(pd.DataFrame([{"Asset": "BTC", "Quantity": 1.0, "Price": 60000.0,
                                        "Contract": "BINANCE:BTCUSD_PERP",
                                        "Hedge Days": 10}]), hedge_days=90).iloc[0]
        assert row["hedge_days"] == 10 and row["funding_horizon_usd"] == pytest.approx(180)


class TestMarginRatio:
    @pytest.mark.parametrize(("side", "n", "cv", "entry", "mark", "margin", "mmr", "expected"), [
        # Binance COIN-M liquidation page: 100 BTCUSD at mark 25,000, tier 1: MM 0.0016 BTC;
        # with 0.04 BTC of margin at the entry: 0.0016 / 0.04 = 4%
        pytest.param("long", 100, 100, 25000, 25000, 0.04, 0.004, 0.04,
                     id="binance-coin-m-liquidation-page-mm-0.0016"),
        pytest.param("short", 600, 100, 60000, 60000, 0.5, 0.004, 0.008, id="short-at-entry"),
        # short 600 x 100 at 60,000, mark 75,000: MM 0.004 x 0.8 = 0.0032, balance
        # 0.5 - 0.2 = 0.3: 1.0667%
        pytest.param("short", 600, 100, 60000, 75000, 0.5, 0.004, 0.0032 / 0.3,
                     id="short-losing"),
    ])
    def test_values(self, side, n, cv, entry, mark, margin, mmr, expected):
        assert margin_ratio(side, n, cv, entry, mark, margin, mmr) == pytest.approx(expected)

    def test_no_balance_left_is_inf(self):
        assert margin_ratio("short", 600, 100, 60000, 120000, 0.2, 0.004) == np.inf

    def test_broadcasts_over_marks(self):
        got = margin_ratio("short", 600, 100, 60000, np.array([60000.0, 75000.0]), 0.5, 0.004)
        assert np.allclose(got, [0.008, 0.0032 / 0.3])


class TestMarginToAdd:
    def test_short_issue_example(self):
        # 600 x 100 at 60,000 with 0.2338461538 BTC; mark 70,000: liquidation at 91,000 needs
        # 0.004 x 60,000/91,000 + 60,000 (1/60,000 - 1/91,000) = 0.34329670 BTC
        assert margin_to_add("short", 600, 100, 60000, 70000, 0.2338461538, 0.004) == \
            pytest.approx(0.34329670 - 0.2338461538, abs=1e-8)

    def test_enough_margin_adds_nothing(self):
        assert margin_to_add("short", 600, 100, 60000, 60000, 1.0, 0.004) == 0.0

    def test_long_keeps_liquidation_below(self):
        # long 1,000 x 1 USD at 5,000 (Bybit), mark 5,000, 30% below: 3,500;
        # M = 0.005 x 1,000/3,500 - 1,000 (1/5,000 - 1/3,500) = 0.00142857 + 0.08571429
        assert margin_to_add("long", 1000, 1, 5000, 5000, 0.0, 0.005) == pytest.approx(
            0.00142857 + 0.08571429, abs=1e-8)

    @given(entry=st.floats(1000, 200000), mark=st.floats(0.5, 1.5), margin=st.floats(0, 2),
           distance=st.floats(0.05, 0.9))
    def test_after_adding_liquidation_is_at_least_that_far(self, entry, mark, margin,
                                                           distance):
        p = entry * mark
        add = margin_to_add("short", 600, 100, entry, p, margin, 0.004,
                            min_distance=distance)
        liq = liquidation_price("short", 600, 100, entry, margin + add, 0.004)
        assert liq >= p * (1 + distance) * (1 - 1e-9)
        if add > 0:  # not more than needed: exactly there
            assert liq == pytest.approx(p * (1 + distance), rel=1e-7)
