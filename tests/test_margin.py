"""Margin, liquidation and bankruptcy prices (source in each test id)."""

import math

import numpy as np
import pytest

from xlhedge import (
    InputError,
    bankruptcy_price,
    cross_liquidation_price,
    get_contract,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    margin_for_liquidation,
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

    @pytest.mark.parametrize(
        ("side", "expected"),
        [
            # 1.00075 x 10,000 / (10,000/8,000 + 0.5) = 10,007.5 / 1.75 = 5,718.571428...
            pytest.param("long", 5718.571428571, id="bybit-inverse-liquidation-help-cross-long"),
            # by hand, the short's mirror: 0.99925 x 10,000 / (1.25 - 0.5) = 9,992.5 / 0.75
            pytest.param("short", 13323.333333333, id="hand-worked-short-with-close-fee"),
        ],
    )
    def test_close_fee_reserved(self, side, expected):
        got = bankruptcy_price(side, 10000, 1, 8000, 0.5, close_fee_rate=0.00075)
        assert got == pytest.approx(expected, abs=1e-6)

    def test_close_fee_linear_by_hand(self):
        # long 1 BTC at 20,000 with 400 USDT (50x), fee 0.075% of the value at BP:
        # 400 + (BP - 20,000) = 0.00075 BP  ->  BP = 19,600 / 0.99925 = 19,614.7110332749...
        got = bankruptcy_price("long", 1, 1, 20000, 400, "linear", close_fee_rate=0.00075)
        assert got == pytest.approx(19614.711033275, abs=1e-6)

    def test_close_fee_rate_rule(self):
        with pytest.raises(InputError, match=r"close_fee_rate must be >= 0 \(got -0.001\)"):
            bankruptcy_price("long", 1, 1, 1, 1, close_fee_rate=-0.001)


class TestCrossLiquidationPrice:
    @pytest.mark.parametrize(
        ("cum", "expected"),
        [
            # dev.binance.vision thread 6292: 100,000 x 100 x 1.125 / (101 + 11.605 + 10^7/45,000)
            # = 11,250,000 / 334.827222... = 33,599.4186 (Binance's calculator shows 33,599.40)
            pytest.param(11.605, 33599.418605616, id="binance-dev-forum-6292-calculator"),
            # the same thread: the older bracket amount 11.81 BTC -> 11,250,000 / 335.032222...
            pytest.param(11.81, 33578.859744834, id="binance-dev-forum-6292-old-table"),
        ],
    )
    def test_binance_coinm_calculator(self, cum, expected):
        # wallet 101 BTC, long 100,000 BTCUSD (100 USD) at 45,000, tier MMR 12.5%
        got = cross_liquidation_price("long", 100000, 100, 45000, 101, 0.125, cum)
        assert got == pytest.approx(expected, abs=1e-6)

    def test_synthetic_dollar_never_liquidated(self):
        # reference section 4: 1 BTC held in the wallet, short 600 x 100 USD at 60,000 (1x):
        # denominator N/EP - WB - cum = 1 - 1 - 0 = 0 -> never (Binance shows "--")
        assert cross_liquidation_price("short", 600, 100, 60000, 1.0, 0.004) == math.inf

    @pytest.mark.parametrize(
        ("wallet", "tmm", "upnl", "expected"),
        [
            # by hand: N = 600 x 100 = 60,000 USD, N/EP = 1 BTC, s = -1:
            # LP = 60,000 (0.004 - 1) / (0.5 + 0 - 1) = -59,760 / -0.5 = 119,520
            pytest.param(0.5, 0.0, 0.0, 119520.0, id="hand-worked-short-half-collateral"),
            # by hand: B = 1.0 - 0.2 + 0.1 = 0.9 -> LP = 59,760 / (1 - 0.9) = 597,600
            pytest.param(1.0, 0.2, 0.1, 597600.0, id="hand-worked-short-other-positions"),
            # by hand: B = 0.5 - 0 - 0.25 = 0.25 -> LP = 59,760 / 0.75 = 79,680
            pytest.param(0.5, 0.0, -0.25, 79680.0, id="hand-worked-short-other-loss"),
        ],
    )
    def test_inverse_short_by_hand(self, wallet, tmm, upnl, expected):
        got = cross_liquidation_price("short", 600, 100, 60000, wallet, 0.004, 0.0, tmm, upnl)
        assert got == pytest.approx(expected, rel=1e-12)

    def test_bybit_inverse_help_cross_with_close_fee(self):
        # Bybit inverse liquidation help, cross: 0.5 BTC, long 10,000 BTCUSD (1 USD) at 8,000,
        # MM 0.5% of the entry value (0.00625 BTC), taker 0.075%: BP = 5,718.57, fee to close
        # 10,000 x 0.00075 / 5,718.57 = 0.0013115 BTC, LP = 10,000 / (1.25 + 0.5 - 0.00625 -
        # 0.0013115) = 5,739.08 (shown as 5,739.50: rounded up to the 0.5 tick)
        got = cross_liquidation_price(
            "long", 10000, 1, 8000, 0.5, 0.005, mm_basis="entry", close_fee_rate=0.00075
        )
        assert got == pytest.approx(5739.08, abs=0.005)
        assert math.ceil(got / 0.5) * 0.5 == 5739.5
        isolated = liquidation_price("long", 10000, 1, 8000, 0.5, 0.005, 0, "inverse", "entry",
                                     0.00075)
        assert isolated == pytest.approx(5739.08, abs=0.005)

    @pytest.mark.parametrize(
        ("side", "wallet", "upnl", "expected"),
        [
            # by hand: q = 100 x 0.001 = 0.1 BTC, s = +1: (1,000 - 2,000) / (0.0004 - 0.1)
            # = -1,000 / -0.0996 = 10,040.1606...
            pytest.param("long", 1000, 0, 10040.160642570, id="hand-worked-linear-long"),
            # by hand: s = -1: (1,000 + 2,000) / (0.0004 + 0.1) = 3,000 / 0.1004 = 29,880.4781...
            pytest.param("short", 1000, 0, 29880.478087649, id="hand-worked-linear-short"),
            # by hand: a long whose wallet covers the whole position: (3,000 - 2,000) / -0.0996
            # < 0 -> never liquidated, 0.0
            pytest.param("long", 3000, 0, 0.0, id="hand-worked-linear-long-never"),
            # by hand: other positions lose 3,001, B = 1,000 - 3,001 = -2,001:
            # (-2,001 + 2,000) / 0.1004 < 0: below maintenance at every price, clamped to 0.0
            pytest.param("short", 1000, -3001, 0.0, id="hand-worked-linear-short-clamped"),
        ],
    )
    def test_linear_by_hand(self, side, wallet, upnl, expected):
        got = cross_liquidation_price(side, 100, 0.001, 20000, wallet, 0.004, 0, 0, upnl,
                                      "linear")
        assert got == pytest.approx(expected, abs=1e-6)

    def test_broadcasts(self):
        got = cross_liquidation_price("short", 600, 100, 60000, [0.5, 1.0], 0.004)
        assert got.tolist() == [119520.0, math.inf]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"wallet_balance": -1}, r"wallet_balance must be >= 0 \(got -1.0\)"),
            ({"other_maintenance": -0.1}, r"other_maintenance must be >= 0 \(got -0.1\)"),
            ({"other_pnl": math.nan}, r"other_pnl must be a number, not blank/NaN"),
            ({"mm_basis": "index"}, r'mm_basis must be one of "mark", "entry"'),
        ],
    )
    def test_rules(self, kwargs, message):
        args = {"side": "short", "contracts": 600, "contract_value": 100, "entry_price": 60000,
                "wallet_balance": 0.5, "mmr": 0.004} | kwargs
        with pytest.raises(InputError, match=message):
            cross_liquidation_price(**args)


class TestMarginForLiquidation:
    @pytest.mark.parametrize(
        ("side", "target", "expected"),
        [
            # by hand: 0.004 x 60,000/78,000 + 60,000 (1/60,000 - 1/78,000)
            # = 0.0030769231 + (1 - 0.7692307692) = 0.0030769231 + 0.2307692308 = 0.2338461538
            pytest.param("short", 78000, 0.2338461538, id="hand-worked-short-30pct-up"),
            # by hand: 0.004 x 60,000/45,000 - 60,000 (1/60,000 - 1/45,000)
            # = 0.0053333333 + (1.3333333333 - 1) = 0.3386666667
            pytest.param("long", 45000, 0.3386666667, id="hand-worked-long-25pct-down"),
        ],
    )
    def test_inverse_by_hand(self, side, target, expected):
        got = margin_for_liquidation(side, 600, 100, 60000, target, 0.004)
        assert got == pytest.approx(expected, abs=1e-10)
        assert liquidation_price(side, 600, 100, 60000, got, 0.004) == pytest.approx(target)

    def test_linear_by_hand(self):
        # by hand: long 1 BTC at 20,000, MMR 0.5%, target 19,700:
        # M = 0.005 x 19,700 - (19,700 - 20,000) = 98.5 + 300 = 398.5 USDT
        got = margin_for_liquidation("long", 1, 1, 20000, 19700, 0.005, 0, "linear")
        assert got == pytest.approx(398.5, abs=1e-9)

    @pytest.mark.parametrize(
        ("side", "target"),
        [
            pytest.param("short", 50000, id="short-target-below-entry"),
            pytest.param("long", 70000, id="long-target-above-entry"),
            pytest.param("short", 60000, id="target-at-entry"),
        ],
    )
    def test_target_on_the_wrong_side(self, side, target):
        with pytest.raises(InputError, match=r"target_price must be below entry_price for a long "
                                             r"and above it for a short \(got "):
            margin_for_liquidation(side, 600, 100, 60000, target, 0.004)

    def test_wrong_side_names_the_position(self):
        with pytest.raises(InputError, match="for a short at position 1"):
            margin_for_liquidation("short", 600, 100, 60000, [78000, 50000], 0.004)

    def test_target_nearer_than_no_margin(self):
        # a maintenance amount of 0.5 BTC against 0.0031 BTC of maintenance at 78,000: even no
        # margin is liquidated beyond 78,000, so no margin puts it there
        with pytest.raises(InputError, match="target_price is nearer the entry than"):
            margin_for_liquidation("short", 600, 100, 60000, 78000, 0.004, 0.5)
