"""The plan's use of market history: cost at the 30-day average funding, Hedge Ratio ``auto``
from the Suggested Ratio, and the R² warning (hand-worked numbers)."""

from __future__ import annotations

import pandas as pd
import pytest

from xlhedge.plan import plan_hedge

BTC = "BINANCE:BTCUSD_PERP"


def _sol(**more: object) -> pd.Series:
    inventory = pd.DataFrame({"Asset": ["SOL"], "Quantity": [100.0], "Price": [150.0],
                              "Contract": [BTC], "Mark Price": [60000.0],
                              **{k: [v] for k, v in more.items()}})
    return plan_hedge(inventory).iloc[0]


def test_auto_ratio_takes_the_suggested_one() -> None:
    # 100 SOL x 150 x 1.2 = 18,000 USD = 180 contracts of 100 USD
    row = _sol(**{"Hedge Ratio": "auto", "Suggested Ratio": 1.2, "R²": 0.9})
    assert row["error"] == ""
    assert row["target_usd"] == pytest.approx(18000)
    assert row["contracts"] == 180
    assert "R²" not in row["warnings"]


def test_auto_without_a_suggested_ratio_is_an_error() -> None:
    row = _sol(**{"Hedge Ratio": " AUTO "})
    assert row["error"].startswith("hedge_ratio auto needs a Suggested Ratio")


def test_low_r_squared_warns() -> None:
    row = _sol(**{"Hedge Ratio": 1.0, "R²": 0.62})
    assert "R² 0.62 of daily returns is under 0.8" in row["warnings"]


def test_r_squared_above_one_is_refused() -> None:
    assert "r_squared must be <= 1 (got 1.5)" in _sol(**{"R²": 1.5})["error"]


def test_cost_at_the_30_day_average() -> None:
    # 1 BTC at 60,000 hedged (600 x 100 USD), 30 days at 10.95% a year: 60,000 x 0.1095 x 30/365
    plan = plan_hedge(pd.DataFrame({"Asset": ["BTC"], "Quantity": [1.0], "Price": [60000.0],
                                    "Contract": [BTC], "Funding 30d Avg (yearly)": [0.1095]}))
    row = plan.iloc[0]
    assert row["funding_horizon_avg_usd"] == pytest.approx(540.0)
    # fees: 0.05% taker on 1 BTC (60,000 USD) both ways = 60 USD
    assert row["hedge_cost_avg_usd"] == pytest.approx(60.0 - 540.0)


def test_auto_on_the_contracts_own_coin_is_one() -> None:
    plan = plan_hedge(pd.DataFrame({"Asset": ["XBT"], "Quantity": [1.0], "Price": [60000.0],
                                    "Contract": ["BITMEX:XBTUSD"], "Hedge Ratio": ["auto"]}))
    row = plan.iloc[0]
    assert row["error"] == "" and row["hedge_ratio"] == 1.0


def test_a_negative_suggested_ratio_blocks_only_auto() -> None:
    assert _sol(**{"Hedge Ratio": 1.0, "Suggested Ratio": -1.0})["error"] == ""
    row = _sol(**{"Hedge Ratio": "auto", "Suggested Ratio": -0.4})
    assert row["error"].startswith("hedge_ratio auto: the Suggested Ratio is -0.4")
