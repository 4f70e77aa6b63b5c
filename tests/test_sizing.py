"""Contracts to short."""

import numpy as np
import pytest

from xlhedge import InputError, hedge_contracts


class TestHedgeContracts:
    @pytest.mark.parametrize(
        ("args", "kwargs", "expected"),
        [
            pytest.param((1, 60000, 100), {}, 600, id="guides-1btc-60000-binance"),
            pytest.param((2, 30000, 1), {}, 60000, id="reference-hedge-invariant"),
            pytest.param((2, 30000, 1), {"lot_size": 100}, 60000, id="bitmex-lot-100"),
            pytest.param((0.123, 60000, 100), {}, 74, id="round-nearest-73.8"),
            pytest.param((1, 60000, 100), {"hedge_ratio": 0.5}, 300, id="half-hedge"),
            pytest.param((2, 30000, 1), {"collateral": 0.5}, 75000, id="reference-collateral"),
            pytest.param(
                (1.5, 60000, 1),
                {"contract_type": "linear", "lot_size": 0.001},
                1.5,
                id="linear-coin-quantity",
            ),
            # min-variance example: h* 0.96 on 10,000 units, 500 units per contract -> 19.2
            pytest.param(
                (10000, 1, 500),
                {"contract_type": "linear", "hedge_ratio": 0.96, "lot_size": 0.1},
                19.2,
                id="reference-min-variance",
            ),
        ],
    )
    def test_values(self, args, kwargs, expected):
        assert hedge_contracts(*args, **kwargs) == pytest.approx(expected)

    def test_half_lot_rounds_up(self):
        assert hedge_contracts(0.5, 1, 1) == 1.0
        assert hedge_contracts(250, 1, 1, lot_size=100) == 300.0

    def test_float_noise_does_not_flip_rounding(self):
        # 0.7 * 3 * 50 = 104.99999999999999 in floats: still 105 contracts
        assert hedge_contracts(0.7 * 3, 50, 1) == 105.0

    def test_broadcasts_over_a_column(self):
        out = hedge_contracts(np.array([1.0, 2.0, 0.0]), 60000, 100)
        assert out.tolist() == [600, 1200, 0]

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"quantity": -1}, "quantity must be >= 0 (got -1.0)"),
            ({"price": 0}, "price must be > 0 (got 0.0)"),
            ({"hedge_ratio": -0.1}, "hedge_ratio must be >= 0"),
            ({"lot_size": 0}, "lot_size must be > 0"),
            ({"price": float("inf")}, "price must be finite"),
            ({"quantity": True}, "quantity must be a number, not TRUE/FALSE"),
            ({"quantity": [1, 2], "price": [1, 2, 3]}, "must have shapes that broadcast"),
        ],
    )
    def test_bad_input(self, kwargs, message):
        args = {"quantity": 1, "price": 1, "contract_value": 1} | kwargs
        with pytest.raises(InputError) as info:
            hedge_contracts(**args)
        assert message in str(info.value)
