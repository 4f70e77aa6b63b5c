"""PnL, average entry, ROI: vectors from exchanges' help pages (source in each id)."""

import numpy as np
import pandas as pd
import pytest

from xlhedge import InputError, average_entry_price, inverse_pnl, linear_pnl, roi, target_price


class TestInversePnl:
    @pytest.mark.parametrize(
        ("n", "cv", "entry", "exit_", "side", "expected"),
        [
            pytest.param(1000, 1, 5000, 5500, "long", 0.0181818, id="bybit-pnl-inverse-page"),
            pytest.param(1000, 1, 6800, 7000, "long", 0.00420168, id="bybit-roi-page"),
            pytest.param(10, 1, 100, 110, "long", 0.0090909, id="lfest-rs-unit-test"),
            pytest.param(60000, 1, 30000, 20000, "short", 1.0, id="reference-hedge-invariant-down"),
            pytest.param(
                60000, 1, 30000, 45000, "short", -0.666667, id="reference-hedge-invariant-up"
            ),
        ],
    )
    def test_exchange_examples(self, n, cv, entry, exit_, side, expected):
        assert inverse_pnl(n, cv, entry, exit_, side) == pytest.approx(expected, abs=5e-7)

    def test_guides_case_usd(self):
        # guides: 1 BTC @ 60,000 hedged 1:1 -> hedge +$10,000 at 50,000, -$12,000 at 72,000
        for exit_, usd in [(50000, 10000), (72000, -12000)]:
            assert inverse_pnl(600, 100, 60000, exit_) * exit_ == pytest.approx(usd)

    @pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
    def test_overflow_is_an_error_not_nan(self):
        with pytest.raises(InputError, match="too large to compute"):
            inverse_pnl(1e300, 1e300, 1e-300, 1e300)

    def test_scalar_returns_float(self):
        assert type(inverse_pnl(1, 1, 1, 2)) is float

    def test_array_and_series(self):
        out = inverse_pnl([1000, 2000], 1, 5000, 5500, "long")
        assert isinstance(out, np.ndarray) and out.shape == (2,)
        s = inverse_pnl(pd.Series([1, 2], index=["a", "b"]), 1, 5000, 5500)
        assert isinstance(s, pd.Series) and list(s.index) == ["a", "b"]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"entry_price": 0}, "entry_price must be > 0"),
            ({"exit_price": -1}, "exit_price must be > 0"),
            ({"contracts": float("nan")}, "contracts must be a number"),
            ({"contracts": "ten"}, "contracts must be a number (got 'ten')"),
            ({"side": "flat"}, 'side must be "long" or "short"'),
            ({"contract_value": [1, -1]}, "contract_value must be > 0 (got -1.0 at position 1)"),
        ],
    )
    def test_bad_input_names_argument_and_rule(self, kwargs, message):
        args = {"contracts": 1, "contract_value": 1, "entry_price": 1, "exit_price": 2} | kwargs
        with pytest.raises(InputError) as info:
            inverse_pnl(**args)
        assert message in str(info.value)
        assert isinstance(info.value, ValueError)


class TestLinearPnl:
    @pytest.mark.parametrize(
        ("n", "cs", "entry", "exit_", "side", "expected"),
        [
            pytest.param(1, 1, 20000, 21000, "long", 1000, id="definition-long"),
            pytest.param(3, 0.001, 20000, 19000, "short", 3, id="definition-short"),
        ],
    )
    def test_values(self, n, cs, entry, exit_, side, expected):
        assert linear_pnl(n, cs, entry, exit_, side) == pytest.approx(expected)

    def test_side_accepts_numbers(self):
        assert linear_pnl(1, 1, 10, 11, 1) == linear_pnl(1, 1, 10, 11, "long")
        assert linear_pnl(1, 1, 10, 11, -1) == linear_pnl(1, 1, 10, 11, "SHORT")


class TestAverageEntryPrice:
    @pytest.mark.parametrize(
        ("n", "prices", "expected"),
        [
            pytest.param([1000, 2000], [5000, 6000], 5625, id="bybit-pnl-inverse-page"),
            pytest.param([50, 50], [10000, 15000], 12000, id="bybit-average-entry-faq"),
        ],
    )
    def test_harmonic_inverse(self, n, prices, expected):
        assert average_entry_price(n, prices) == pytest.approx(expected)

    def test_linear_is_arithmetic(self):
        assert average_entry_price([50, 50], [10000, 15000], "linear") == pytest.approx(12500)

    def test_two_dimensional_rows(self):
        out = average_entry_price([[50, 50], [1000, 2000]], [[10000, 15000], [5000, 6000]])
        assert out == pytest.approx([12000, 5625])

    def test_zero_total(self):
        with pytest.raises(InputError, match="contracts must have a total > 0"):
            average_entry_price([0, 0], [1, 2])

    def test_contract_type_rule(self):
        with pytest.raises(InputError, match='contract_type must be one of "inverse", "linear"'):
            average_entry_price([1], [1], "quanto")


class TestRoi:
    @pytest.mark.parametrize(
        ("lev", "expected"),
        [
            pytest.param(10, 0.285714, id="bybit-roi-page-10x"),
            pytest.param(20, 0.571429, id="bybit-roi-page-20x"),
        ],
    )
    def test_bybit(self, lev, expected):
        assert roi("long", 6800, 7000, lev) == pytest.approx(expected, abs=1e-6)

    def test_target_price_inverts_roi(self):
        for side in ("long", "short"):
            r = roi(side, 6800, 7000, 10)
            assert target_price(side, 6800, r, 10) == pytest.approx(7000)
            r = roi(side, 6800, 7000, 10, "linear")
            assert target_price(side, 6800, r, 10, "linear") == pytest.approx(7000)

    def test_unreachable_long_target_is_inf(self):
        # a long inverse position's ROI is capped at L (coin gain capped at Q/E)
        assert target_price("long", 100, 10.0, 10) == np.inf
