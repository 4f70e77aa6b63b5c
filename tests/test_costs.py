"""Funding and fees (source in each test id)."""

import pytest

from xlhedge import InputError, annualised_funding, funding_payment, trading_fee


class TestFundingPayment:
    def test_bybit_inverse_funding(self):
        # Bybit funding (inverse): 10,000 BTCUSD long, mark 16,000, 0.01% -> long pays 0.0000625
        assert funding_payment(10000, 1, 16000, 0.0001, "long") == pytest.approx(-0.0000625)
        assert funding_payment(10000, 1, 16000, 0.0001, "short") == pytest.approx(0.0000625)

    def test_reference_period(self):
        # reference: short $60,000 at 30,000, +0.01% per 8 h over 90 intervals -> +0.018 BTC, $540
        each = funding_payment(60000, 1, 30000, 0.0001)
        assert each == pytest.approx(0.0002)
        assert 90 * each * 30000 == pytest.approx(540)

    def test_negative_rate_short_pays(self):
        assert funding_payment(100, 100, 50000, -0.0003) < 0

    def test_linear(self):
        assert funding_payment(2, 1, 20000, 0.0001, "long", "linear") == pytest.approx(-4)

    def test_rate_rule(self):
        with pytest.raises(InputError, match="funding_rate must be < 1"):
            funding_payment(1, 1, 1, 2)


class TestTradingFee:
    @pytest.mark.parametrize(
        ("n", "cv", "price", "rate", "expected"),
        [
            pytest.param(10000, 1, 8000, 0.00055, 0.0006875, id="bybit-fee-page-taker"),
            pytest.param(10000, 1, 8000, 0.0002, 0.00025, id="bybit-fee-page-maker"),
            pytest.param(10, 100, 10104, 0.0005, 0.0000494854, id="binance-fee-faq"),
        ],
    )
    def test_examples(self, n, cv, price, rate, expected):
        assert trading_fee(n, cv, price, rate) == pytest.approx(expected, rel=1e-6)

    def test_maker_rebate_is_negative(self):
        assert trading_fee(100, 1, 100, -0.00025) < 0


def test_annualised_funding_reference():
    # reference: 0.01% per 8 h is about 10.95% a year
    assert annualised_funding(0.0001) == pytest.approx(0.1095)
    assert annualised_funding(0.0001, 4) == pytest.approx(0.219)
