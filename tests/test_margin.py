"""Margin, liquidation and bankruptcy prices (source in each test id)."""

import math

import numpy as np
import pytest

from xlhedge import (
    InputError,
    bankruptcy_price,
    get_contract,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    position_value,
    tiered_liquidation_price,
)


class TestInitialMargin:
    @pytest.mark.parametrize(
        ("n", "cv", "price", "lev", "expected"),
        [
            pytest.param(12000, 1, 8000, 50, 0.03, id="bybit-initial-margin-page"),
            pytest.param(1000, 1, 6800, 10, 0.0147058824, id="bybit-roi-page-10x"),
        ],
    )
    def test_inverse(self, n, cv, price, lev, expected):
        assert initial_margin(n, cv, price, lev) == pytest.approx(expected, abs=5e-11)

    def test_linear(self):
        assert initial_margin(1, 1, 20000, 50, "linear") == pytest.approx(400)

    def test_leverage_rule(self):
        with pytest.raises(InputError, match=r"leverage must be >= 1 \(got 0.5\)"):
            initial_margin(1, 1, 1, 0.5)

    def test_position_value_binance_coinm(self):
        # Binance COIN-M liquidation page: 100 BTCUSD contracts at mark 25,000 -> 0.4 BTC
        assert position_value(100, 100, 25000) == pytest.approx(0.4)


class TestMaintenanceMargin:
    def test_binance_coinm_tier1(self):
        # Binance COIN-M liquidation page: 0.4 BTC in tier 1 (0.4%) -> MM 0.0016 BTC
        floors, mmrs, amounts = get_contract("BINANCE:BTCUSD_PERP").tier_arrays()
        assert maintenance_margin(0.4, floors, mmrs, amounts) == pytest.approx(0.0016)

    def test_bybit_inverse_mm_page(self):
        # Bybit inverse MM page: XYZUSD 10,000 contracts @ 400 = 25 XYZ, tiers 1/2/3% per 10 XYZ
        assert maintenance_margin(25, [0, 10, 20], [0.01, 0.02, 0.03]) == pytest.approx(0.45)

    def test_binance_maintenance_amount_rule(self):
        # Binance COIN-M liquidation FAQ (es-MX/ko): a 300 BTC position, MMR 12.5%, cum 11.605 BTC
        spec = get_contract("BINANCE:BTCUSD_PERP")
        index = [t.mmr for t in spec.tiers].index(0.125)
        assert spec.maintenance_amounts[index] == pytest.approx(11.605)

    def test_bitmex_risk_limit_example(self):
        # BitMEX Risk Limits Examples: a 180 XBT position at MM 0.50% needs 0.90 XBT
        floors, mmrs, amounts = get_contract("BITMEX:XBTUSD").tier_arrays()
        assert maintenance_margin(180, floors, mmrs, amounts) == pytest.approx(0.9)

    def test_continuous_across_floors(self):
        floors, mmrs, amounts = get_contract("BINANCE:BTCUSD_PERP").tier_arrays()
        below = maintenance_margin(floors[1:] - 1e-9, floors, mmrs, amounts)
        at = maintenance_margin(floors[1:], floors, mmrs, amounts)
        assert np.allclose(below, at, atol=1e-6)


class TestLiquidationPrice:
    @pytest.mark.parametrize(
        ("cum", "expected", "rel"),
        [
            # dev.binance.vision thread 6292: Binance's calculator shows 33,599.40
            pytest.param(11.605, 33599.40, 1e-6, id="binance-dev-forum-6292-calculator"),
            # the same thread: the poster's code with the older amount 11.81 BTC
            pytest.param(11.81, 33578.859744834, 1e-12, id="binance-dev-forum-6292-old-table"),
        ],
    )
    def test_binance_coinm_mark_basis(self, cum, expected, rel):
        # long 100,000 BTCUSD (100 USD) at 45,000 with 101 BTC, tier MMR 12.5%
        got = liquidation_price("long", 100000, 100, 45000, 101, 0.125, cum)
        assert got == pytest.approx(expected, rel=rel)

    def test_binance_tiered_picks_tier_by_position_value(self):
        spec = get_contract("BINANCE:BTCUSD_PERP")
        got = tiered_liquidation_price("long", 100000, 100, 45000, 101, *spec.tier_arrays())
        assert got == pytest.approx(33599.40, rel=1e-6)

    def test_bybit_usdt_linear_entry_basis(self):
        # Bybit USDT liquidation pages: long 1 BTC @ 20,000, 50x, MMR 0.5% -> 19,700
        m = initial_margin(1, 1, 20000, 50, "linear")
        got = liquidation_price(
            "long", 1, 1, 20000, m, 0.005, contract_type="linear", mm_basis="entry"
        )
        assert got == pytest.approx(19700)

    @pytest.mark.parametrize(
        ("side", "entry", "lev", "expected"),
        [
            pytest.param("long", 10000, 50, 9850, id="bybit-usdt-liq-page-long"),
            pytest.param("short", 8000, 40, 8160, id="bybit-usdt-liq-page-short"),
        ],
    )
    def test_bybit_usdt_more(self, side, entry, lev, expected):
        m = initial_margin(1, 1, entry, lev, "linear")
        got = liquidation_price(
            side, 1, 1, entry, m, 0.005, contract_type="linear", mm_basis="entry"
        )
        assert got == pytest.approx(expected)

    def test_full_collateral_1x_short_never_liquidated(self):
        # reference section 4: synthetic USD; Binance shows "--"
        assert liquidation_price("short", 300, 100, 30000, 1.0, 0.004) == math.inf

    def test_reference_collateral_formula(self):
        # reference: C coins posted for Q held, N = (Q + C) * E, margin C -> E (1 + C/Q)(1 - m)
        q, c, e, m = 2.0, 0.5, 30000.0, 0.004
        got = liquidation_price("short", (q + c) * e, 1, e, c, m)
        assert got == pytest.approx(e * (1 + c / q) * (1 - m))

    def test_entry_basis_closed_form(self):
        # classic Bybit inverse isolated: E*L / (L + 1 - MMR*L) for a long
        e, lev, m = 8000.0, 50.0, 0.005
        got = liquidation_price("long", 8000, 1, e, 8000 / e / lev, m, mm_basis="entry")
        assert got == pytest.approx(e * lev / (lev + 1 - m * lev))

    def test_linear_long_never_liquidated_is_zero(self):
        assert liquidation_price("long", 1, 1, 100, 100, 0.0, contract_type="linear") == 0.0

    def test_tier_change_on_the_way_review_case(self):
        # 300 BTC short at 60,000 and 1.03x on Binance COIN-M tiers: the tier falls as the
        # price rises; a root finder puts liquidation at 2,050,873.56 (not "never")
        spec = get_contract("BINANCE:BTCUSD_PERP")
        n = 300 * 60000 / 100
        margin = initial_margin(n, 100, 60000, 1.03)
        got = tiered_liquidation_price("short", n, 100, 60000, margin, *spec.tier_arrays())
        assert got == pytest.approx(2050873.555, rel=1e-9)

    def test_margin_below_maintenance_is_past_the_entry(self):
        # 0.1% margin against 0.5% maintenance: a short already past its liquidation price
        assert liquidation_price("short", 100, 1, 100, 0.001, 0.005) < 100
        spec = get_contract("BINANCE:BTCUSD_PERP")
        assert tiered_liquidation_price("short", 100, 1, 100, 0.001, *spec.tier_arrays()) < 100

    def test_contracts_must_be_positive(self):
        with pytest.raises(InputError, match="contracts must be > 0"):
            liquidation_price("short", 0, 100, 30000, 1, 0.004)

    def test_mm_basis_rule(self):
        with pytest.raises(InputError, match='mm_basis must be one of "mark", "entry"'):
            liquidation_price("short", 1, 100, 30000, 1, 0.004, mm_basis="index")


class TestBankruptcyPrice:
    @pytest.mark.parametrize("lev", [2, 5, 10, 50, 100])
    def test_closed_forms(self, lev):
        e = 8000.0
        m = initial_margin(8000, 1, e, lev)
        assert bankruptcy_price("long", 8000, 1, e, m) == pytest.approx(e * lev / (lev + 1))
        assert bankruptcy_price("short", 8000, 1, e, m) == pytest.approx(e * lev / (lev - 1))

    def test_bybit_classic_isolated_50x(self):
        # Bybit classic inverse page, 8,000 at 50x: long 7,843.14, short 8,163.27 (before tick)
        m = initial_margin(8000, 1, 8000, 50)
        assert bankruptcy_price("long", 8000, 1, 8000, m) == pytest.approx(7843.1373, abs=1e-4)
        assert bankruptcy_price("short", 8000, 1, 8000, m) == pytest.approx(8163.2653, abs=1e-4)

    def test_short_at_1x_is_infinite(self):
        assert bankruptcy_price("short", 100, 1, 100, initial_margin(100, 1, 100, 1)) == math.inf
