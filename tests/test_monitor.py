"""The open hedge's monitor: literal, hand-worked numbers and the identities it must keep."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from xlhedge.monitor import alerts, monitor_positions
from xlhedge.plan import plan_hedge

BTC = "BINANCE:BTCUSD_PERP"


def _plan(**rows: list[object]) -> pd.DataFrame:
    return plan_hedge(pd.DataFrame(rows))


def _btc_plan(quantity: float, price: float) -> pd.DataFrame:
    return _plan(Asset=["BTC"], Quantity=[quantity], Price=[price], Contract=[BTC])


def _position(contracts: float, entry: float, margin: float = 1.0, **more: object
              ) -> pd.DataFrame:
    return pd.DataFrame({"Contract": [more.pop("contract", BTC)], "Contracts": [contracts],
                         "Entry Price": [entry], "Margin": [margin],
                         **{k: [v] for k, v in more.items()}})


def _one(positions: pd.DataFrame, plan: pd.DataFrame, **kw: float) -> pd.Series:
    return monitor_positions(positions, plan, **kw).iloc[0]


class TestTarget:
    def test_issue_10_example_sells_240(self) -> None:
        # coins 2.5, short 1,200 x 100 USD at 60,000, mark 48,000: D 0.5, dN 24,000 USD
        row = _one(_position(1200, 60000), _btc_plan(2.5, 48000))
        assert row["upnl_coin"] == pytest.approx(0.5)
        assert row["target_contracts"] == 1440
        assert row["adjust"] == "SELL 240"
        assert row["adjust_contracts"] == 240
        assert row["drift"] == pytest.approx(-240 / 1440)

    def test_issue_10_opened_60000_refreshed_95000_needs_nothing(self) -> None:
        # 1.5 BTC hedged by 900 contracts at 60,000: the plan alone says 1,425
        plan = _btc_plan(1.5, 95000)
        assert plan["contracts"].iloc[0] == 1425
        row = _one(_position(900, 60000), plan)
        assert row["upnl_usd"] == pytest.approx(-52500)
        assert row["target_contracts"] == 900
        assert row["adjust"] == ""
        assert row["status"].startswith("LIQUIDATION") or "adjust" not in row["status"]

    def test_holding_grows_by_half_a_coin(self) -> None:
        # 2.0 BTC at 95,000 = 190,000 USD, less the short's loss 52,500 USD: 1,375 contracts
        row = _one(_position(900, 60000), _btc_plan(2.0, 95000))
        assert row["target_contracts"] == 1375
        assert row["adjust"] == "SELL 475"

    def test_half_hedge_at_a_loss(self) -> None:
        # h 0.5: N' = 0.5 x (2.5 x 48,000 + 24,000) = 72,000 USD = 720 contracts; holds 1,200
        plan = _plan(Asset=["BTC"], Quantity=[2.5], Price=[48000.0], Contract=[BTC],
                     **{"Hedge Ratio": [0.5]})
        row = _one(_position(1200, 60000), plan)
        assert row["target_contracts"] == 720
        assert row["adjust"] == "BUY 480"

    def test_cross_hedge_sol_with_btc_contracts(self) -> None:
        # dN = Q P_alt - N P_btc / E = 15,000 - 20,000 x 40,000 / 50,000 = -1,000 USD: BUY 10
        plan = _plan(Asset=["SOL"], Quantity=[100.0], Price=[150.0], Contract=[BTC],
                     **{"Mark Price": [40000.0]})
        row = _one(_position(200, 50000), plan)
        assert row["target_contracts"] == 190
        assert row["adjust"] == "BUY 10"
        assert math.isnan(row["dollar_offset"])  # the alt's price at opening is not known

    def test_inside_the_band_no_order(self) -> None:
        # target 1,000 (1 BTC at 100,000, opened there); 1,015 held is 1.5% off: inside 2%
        row = _one(_position(1015, 100000), _btc_plan(1.0, 100000))
        assert row["adjust"] == "" and row["adjust_contracts"] == 0
        row = _one(_position(1015, 100000), _btc_plan(1.0, 100000), band=0.01)
        assert row["adjust"] == "BUY 15"

    def test_no_holding_left_unwinds(self) -> None:
        plan = _plan(Asset=["ETH"], Quantity=[1.0], Price=[3000.0],
                     Contract=["BINANCE:ETHUSD_PERP"])
        row = _one(_position(100, 60000, **{"Mark Price": 60000.0}), plan)
        assert row["target_contracts"] == 0 and row["adjust"] == "BUY 100"
        assert "no holding in the Inventory" in row["status"]

    def test_deribit_adjustment_in_usd(self) -> None:
        # Deribit's order box takes USD: 1 BTC at 50,000 = 5,000 contracts of 10 USD
        plan = _plan(Asset=["BTC"], Quantity=[1.0], Price=[50000.0],
                     Contract=["DERIBIT:BTC-PERPETUAL"])
        row = _one(_position(4000, 50000, contract="DERIBIT:BTC-PERPETUAL"), plan)
        assert row["adjust"] == "SELL 10,000 USD"


class TestFigures:
    def test_bybit_pnl_page_long(self) -> None:
        # Bybit P&L (inverse) page: long 1,000 BTCUSD at 5,000, exit 5,500: +0.0181818 BTC
        row = _one(_position(1000, 5000, contract="BYBIT:BTCUSD", Side="long",
                             **{"Mark Price": 5500.0}), _btc_plan(1.0, 5500))
        assert row["upnl_coin"] == pytest.approx(0.0181818, abs=1e-7)
        assert "not a hedge" in row["status"]

    def test_isolated_liquidation_of_the_margin_posted(self) -> None:
        # 600 x 100 USD short at 60,000 with 0.2338461538 BTC (MMR 0.4%): liquidated at 78,000
        row = _one(_position(600, 60000, 0.2338461538), _btc_plan(1.0, 60000))
        assert row["liquidation_price"] == pytest.approx(78000, rel=1e-9)
        assert row["liquidation_distance"] == pytest.approx(0.3, rel=1e-9)
        assert row["add_margin"] == pytest.approx(0, abs=1e-9)

    def test_add_margin_restores_the_distance(self) -> None:
        # the same short at mark 70,000 needs liquidation at 91,000:
        # M = 0.004 x 60,000/91,000 + 60,000 (1/60,000 - 1/91,000) = 0.3433 BTC
        plan = _btc_plan(1.0, 70000)
        row = _one(_position(600, 60000, 0.2338461538), plan)
        assert row["liquidation_distance"] < 0.3
        assert row["add_margin"] == pytest.approx(0.343296703 - 0.2338461538, rel=1e-6)
        assert row["status"].startswith("LIQUIDATION +11.4% away")
        topped = _one(_position(600, 60000, 0.2338461538 + row["add_margin"]), plan)
        assert topped["liquidation_price"] == pytest.approx(91000, rel=1e-9)
        assert len(alerts(monitor_positions(_position(600, 60000, 0.2338461538), plan), 0.3)) == 1

    def test_margin_ratio_binance_definition(self) -> None:
        # maintenance 0.004 x 1 BTC at 60,000 = 0.004 over a balance of 0.5 BTC: 0.8%
        row = _one(_position(600, 60000, 0.5), _btc_plan(1.0, 60000))
        assert row["margin_ratio"] == pytest.approx(0.008)

    def test_result_if_closed(self) -> None:
        # 900 @ 60,000 at 95,000: -0.5526316 BTC, funding +0.01, taker 0.05% of 0.9473684 BTC
        row = _one(_position(900, 60000, **{"Funding To Date": 0.01}), _btc_plan(1.5, 95000))
        assert row["close_result_coin"] == pytest.approx(-0.5526316 + 0.01 - 0.0004737, abs=1e-7)
        assert row["dollar_offset"] == pytest.approx(52500 / (1.5 * 35000))

    def test_cross_liquidation_counts_the_wallet(self) -> None:
        # a 1x cross short on the wallet's own coin is never liquidated (the synthetic dollar)
        row = _one(_position(600, 60000, 1.0, **{"Margin Mode": "cross"}), _btc_plan(0.0, 60000))
        assert row["liquidation_price"] == math.inf

    def test_estimated_funding_from_public_rates(self) -> None:
        history = pd.DataFrame({"Contract": [BTC] * 3, "Rate": [0.0001, 0.0001, -0.0001],
                                "Time": pd.to_datetime(["2026-11-01 00:00", "2026-11-01 08:00",
                                                        "2026-11-01 16:00"], utc=True)})
        positions = _position(600, 60000, **{"Opened": pd.Timestamp("2026-11-01 04:00")})
        row = monitor_positions(positions, _btc_plan(1.0, 60000), funding_history=history).iloc[0]
        assert row["funding_to_date"] == pytest.approx(0.0)  # +0.0001 - 0.0001 of 1 BTC
        assert "funding estimated" in row["status"]


class TestErrors:
    @pytest.mark.parametrize(("more", "message"), [
        ({"contract": "BINANCE:NOPE"}, "BINANCE:NOPE"),
        ({"Side": "flat"}, 'side must be "short" or "long"'),
        ({"Margin Mode": "portfolio"}, 'margin_mode must be "isolated" or "cross"'),
    ])
    def test_bad_rows_say_why(self, more: dict[str, object], message: str) -> None:
        row = _one(_position(600, 60000, **more), _btc_plan(1.0, 60000))
        assert message in row["error"] and row["status"].startswith("error:")

    def test_bad_numbers(self) -> None:
        row = _one(_position(-5, "abc"), _btc_plan(1.0, 60000))
        assert "contracts must be > 0 (got -5)" in row["error"]
        assert "entry_price must be a number (got 'abc')" in row["error"]

    def test_twice_the_same_position(self) -> None:
        positions = pd.concat([_position(600, 60000), _position(100, 60000)], ignore_index=True)
        out = monitor_positions(positions, _btc_plan(1.0, 60000))
        assert out["error"].iloc[0] == ""
        assert "listed twice" in out["error"].iloc[1]

    def test_mark_needed(self) -> None:
        row = _one(_position(10, 3000, contract="BINANCE:ETHUSD_PERP"), _btc_plan(1.0, 60000))
        assert "mark_price is needed" in row["error"]


@given(coins=st.floats(0.01, 100), entry=st.floats(1000, 200000), later=st.floats(0.2, 5))
def test_full_same_coin_hedge_never_needs_a_trade(coins: float, entry: float,
                                                  later: float) -> None:
    """A 1:1 inverse short opened on all the coins needs no trade at any later price."""
    contracts = round(coins * entry / 100)
    if contracts == 0:
        return
    held = contracts * 100 / entry  # the coins that position hedges exactly
    row = _one(_position(contracts, entry, 10.0), _btc_plan(held, entry * later), band=0.0)
    assert abs(row["target_contracts"] - contracts) <= 1


@given(coins=st.floats(0.05, 50), entry=st.floats(1000, 200000), later=st.floats(0.3, 3),
       held=st.integers(1, 5000))
def test_applying_the_adjustment_brings_drift_to_zero(coins: float, entry: float, later: float,
                                                      held: int) -> None:
    price = entry * later
    plan = _btc_plan(coins, price)
    first = _one(_position(held, entry, 10.0), plan, band=0.0)
    traded = first["adjust_contracts"]
    contracts = held + traded
    if contracts <= 0:
        return
    notional = contracts * 100
    new_entry = entry if traded <= 0 else notional / (held * 100 / entry + traded * 100 / price)
    # closing part of a short realises its PnL into the wallet: the coins change by it
    realised = 0.0 if traded >= 0 else -traded * 100 * (1 / price - 1 / entry)
    after = _one(_position(contracts, new_entry, 10.0), _btc_plan(coins + realised, price),
                 band=0.0)
    assert abs(after["adjust_contracts"]) <= 1


class TestReviewCases:
    def test_cross_hedge_ratio_above_one_counts_the_pnl_in_full(self) -> None:
        # issue 10: dN = h Q P_alt - N P_btc / E = 1.5 x 100 x 150 - 20,000 x 40,000 / 50,000
        # = 22,500 - 16,000 = 6,500 USD: target 265 contracts, SELL 65
        plan = _plan(Asset=["SOL"], Quantity=[100.0], Price=[150.0], Contract=[BTC],
                     **{"Mark Price": [40000.0], "Hedge Ratio": [1.5]})
        row = _one(_position(200, 50000), plan)
        assert row["target_contracts"] == 265 and row["adjust"] == "SELL 65"

    def test_half_hedge_is_judged_against_half_the_coins(self) -> None:
        # h 0.5 on 2 BTC: 600 contracts at 60,000 hedge 1 BTC; at 50,000 the hedge gains
        # 10,000 USD against 1 BTC x -10,000: offset 100%
        plan = _plan(Asset=["BTC"], Quantity=[2.0], Price=[50000.0], Contract=[BTC],
                     **{"Hedge Ratio": [0.5]})
        row = _one(_position(600, 60000), plan)
        assert row["dollar_offset"] == pytest.approx(1.0)
        assert "dollar offset" not in row["status"]

    def test_bybit_top_up_clears_the_alarm(self) -> None:
        # Bybit reserves the fee to close: the margin suggested must count it
        plan = _plan(Asset=["BTC"], Quantity=[1.0], Price=[70000.0], Contract=["BYBIT:BTCUSD"])
        position = _position(60000, 60000, 0.2, contract="BYBIT:BTCUSD")
        row = _one(position, plan)
        assert row["add_margin"] > 0 and row["status"].startswith("LIQUIDATION")
        topped = _one(_position(60000, 60000, 0.2 + row["add_margin"],
                                contract="BYBIT:BTCUSD"), plan)
        assert topped["liquidation_distance"] >= 0.3 - 1e-9
        assert not topped["status"].startswith("LIQUIDATION")
        assert topped["add_margin"] == pytest.approx(0, abs=1e-8)

    def test_a_bad_opened_fails_only_its_row(self) -> None:
        positions = pd.concat([
            _position(600, 60000, **{"Opened": "last week"}),
            _position(100, 3000, contract="BINANCE:ETHUSD_PERP",
                      **{"Opened": 46327.0, "Mark Price": 3000.0})], ignore_index=True)
        out = monitor_positions(positions, _btc_plan(1.0, 60000))
        assert "opened must be a date and time, UTC (got 'last week')" in out["error"].iloc[0]
        assert out["error"].iloc[1] == ""  # an Excel serial (46327: 2026-11-01) is a date

    def test_a_long_near_liquidation_alerts(self) -> None:
        # long 1,000 x 1 USD at 5,000 with 0.02 BTC (10x): liquidated about 9% below
        row = monitor_positions(_position(1000, 5000, 0.02, contract="BYBIT:BTCUSD",
                                          Side="long", **{"Mark Price": 5000.0}),
                                _btc_plan(1.0, 5000))
        assert len(alerts(row, 0.3)) == 1
        assert row.iloc[0]["status"].startswith("LIQUIDATION -")

    def test_account_spelling_and_case_are_one_position(self) -> None:
        positions = pd.concat([_position(600, 60000, Account="Binance "),
                               _position(100, 60000, contract="binance:btcusd_perp")],
                              ignore_index=True)
        out = monitor_positions(positions, _btc_plan(1.0, 60000))
        assert out["account_key"].tolist() == ["BINANCE", "BINANCE"]
        assert "listed twice" in out["error"].iloc[1]

    def test_mixed_same_coin_and_cross_rows(self) -> None:
        # 1 BTC at h 0.5 and 100 SOL at h 1 on one short of 200 x 100 at 50,000, mark 40,000:
        # the short's +0.1 BTC is more BTC, hedged at the BTC rows' 0.5: 20,000 + 15,000 +
        # 0.5 x 4,000 = 37,000 USD, 370 contracts; 0.5 x (1 + 0.1) = 0.55 BTC left unhedged
        plan = _plan(Asset=["BTC", "SOL"], Quantity=[1.0, 100.0], Price=[40000.0, 150.0],
                     Contract=[BTC, BTC], **{"Mark Price": [40000.0, 40000.0],
                                             "Hedge Ratio": [0.5, 1.0]})
        assert _one(_position(200, 50000), plan, band=0.0)["target_contracts"] == 370

    def test_bybit_safe_short_and_long_top_up(self) -> None:
        plan = _plan(Asset=["BTC"], Quantity=[1.0], Price=[60000.0], Contract=["BYBIT:BTCUSD"])
        safe = _one(_position(60000, 60000, 1.0, contract="BYBIT:BTCUSD"), plan)
        assert safe["add_margin"] == 0.0  # nothing to add: no 'Add 0.00000000' line
        long = _position(60000, 60000, 0.1, contract="BYBIT:BTCUSD", Side="long")
        row = _one(long, plan)
        assert row["add_margin"] > 0 and row["status"].startswith("LIQUIDATION")
        topped = _one(_position(60000, 60000, 0.1 + row["add_margin"], contract="BYBIT:BTCUSD",
                                Side="long"), plan)
        assert topped["liquidation_distance"] <= -0.3 + 1e-9
        assert not topped["status"].startswith("LIQUIDATION")
