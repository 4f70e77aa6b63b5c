"""hedge_scenarios: overflow is an InputError, as in every other function, never inf/NaN."""

import math
import warnings

import pytest

from xlhedge import hedge_scenarios
from xlhedge.errors import InputError

TOO_LARGE = "arguments are too large to compute with"


def _no_warning(**kwargs):
    """Call hedge_scenarios with every warning turned into an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return hedge_scenarios(**kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        # 1e308 BTC x 60,000 USD: the unhedged value overflows
        {"quantity": 1e308, "price": 60000, "contracts": 600, "contract_value": 100},
        # the price itself: 1e308 x (1 + 100%) = 2e308
        {"quantity": 1, "price": 1e308, "contracts": 0, "contract_value": 100, "moves": [1.0]},
        # 1e308 contracts x 100 USD
        {"quantity": 1, "price": 60000, "contracts": 1e308, "contract_value": 100},
        # 1 / price: a price of 1e-300 falling 99.99999999999999% is 1.1e-316, 1 / it is inf
        {"quantity": 1, "price": 1e-300, "contracts": 1, "contract_value": 1,
         "moves": [-0.9999999999999999]},
        # linear contracts: 1e308 contracts x 1 x price
        {"quantity": 1, "price": 60000, "contracts": 1e308, "contract_value": 1,
         "contract_type": "linear"},
    ],
)
def test_overflow_is_an_input_error_without_a_warning(kwargs):
    with pytest.raises(InputError, match=TOO_LARGE):
        _no_warning(**kwargs)


def test_never_liquidated_is_not_overflow():
    # liquidation_price inf ("never") is an answer, not overflow: 1 BTC at 60,000 hedged with
    # 600 x 100 USD, as in the docstring
    table = _no_warning(quantity=1, price=60000, contracts=600, contract_value=100,
                        moves=[-0.5, 1.0], liquidation_price=math.inf)
    assert table["hedged_usd"].tolist() == pytest.approx([60000.0, 60000.0], rel=1e-12)
    assert not table["liquidated"].any()


def test_liquidation_still_reported():
    # Short liquidated at 90,000: from +50% (90,000) the margin of 0.1 BTC is lost.
    # +100%: price 120,000; unhedged 120,000; hedge -0.1 BTC x 120,000 = -12,000 USD.
    table = _no_warning(quantity=1, price=60000, contracts=600, contract_value=100,
                        moves=[0.5, 1.0], liquidation_price=90000, margin=0.1)
    assert table["liquidated"].tolist() == [True, True]
    assert table["hedge_pnl_usd"].tolist() == pytest.approx([-9000.0, -12000.0], rel=1e-12)
    assert table["hedged_usd"].tolist() == pytest.approx([81000.0, 108000.0], rel=1e-12)


def test_large_but_finite_figures_pass():
    # 1e150 BTC at 1e150 USD: 1e300 USD, near the top of float64 but finite
    table = _no_warning(quantity=1e150, price=1e150, contracts=0, contract_value=1, moves=[0.0])
    assert table["unhedged_usd"].iloc[0] == pytest.approx(1e300, rel=1e-12)
