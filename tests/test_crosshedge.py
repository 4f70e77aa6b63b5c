"""Cross-hedge ratio and effectiveness (source in each test id)."""

import numpy as np
import pytest

from xlhedge import (
    InputError,
    dollar_offset,
    hedge_effectiveness,
    is_highly_effective,
    min_variance_hedge_ratio,
)


def _correlated_prices(rho: float, sigma_s: float, sigma_f: float, n: int = 4000):
    """Price paths whose returns have exactly the given correlation and volatilities."""
    rng = np.random.default_rng(7)
    z = rng.standard_normal((2, n))
    z -= z.mean(axis=1, keepdims=True)
    q, _ = np.linalg.qr(z.T)
    z = q.T * np.sqrt(n)  # orthonormal: exact unit variance, zero correlation
    rf = 0.01 * sigma_f * z[0]
    rs = 0.01 * sigma_s * (rho * z[0] + np.sqrt(1 - rho**2) * z[1])
    return 100 * np.cumprod(np.r_[1, 1 + rs]), 100 * np.cumprod(np.r_[1, 1 + rf])


class TestMinVarianceHedgeRatio:
    def test_reference_example(self):
        # reference: rho 0.8, sigma_s 1.2, sigma_f 1.0 -> h* 0.96, R^2 0.64
        spot, hedge = _correlated_prices(0.8, 1.2, 1.0)
        assert min_variance_hedge_ratio(spot, hedge) == pytest.approx(0.96, abs=1e-9)
        assert hedge_effectiveness(spot, hedge) == pytest.approx(0.64, abs=1e-9)

    def test_same_returns_give_one(self):
        assert min_variance_hedge_ratio([100, 110, 99, 120], [10, 11, 9.9, 12]) == pytest.approx(1)

    def test_lengths_must_match(self):
        with pytest.raises(InputError, match="hedge_prices must have as many prices"):
            min_variance_hedge_ratio([1, 2, 3], [1, 2])

    def test_flat_hedge_rejected(self):
        with pytest.raises(InputError, match="hedge_prices must move"):
            min_variance_hedge_ratio([1, 2, 3], [5, 5, 5])


class TestDollarOffset:
    def test_hmrc_cfm16285(self):
        # HMRC CFM16285: hedge loss 120 against item gain 100 -> 120% (or 83.3%), highly effective
        assert dollar_offset(-120, 100) == pytest.approx(1.2)
        assert 1 / dollar_offset(-120, 100) == pytest.approx(0.8333, abs=1e-4)
        assert is_highly_effective(dollar_offset(-120, 100))

    def test_out_of_band(self):
        assert not is_highly_effective(dollar_offset(-50, 100))

    def test_zero_item_change(self):
        with pytest.raises(InputError, match="hedged_item_change must not be 0"):
            dollar_offset(1, 0)
