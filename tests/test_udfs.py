"""Worksheet functions: as plain Python, through xlwings' converters, and fuzzed with junk."""

import math
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import xlwings
from hypothesis import given, settings
from hypothesis import strategies as st
from xlwings import conversion

import xlhedge as core
from xlhedge import udfs
from xlhedge.excel import vba

UDF_NAMES = [
    "HEDGE_CONTRACTS", "INVERSE_PNL", "LINEAR_PNL", "LIQUIDATION_PRICE", "BANKRUPTCY_PRICE",
    "INITIAL_MARGIN", "FUNDING_PAYMENT", "TRADING_FEE", "AVG_ENTRY_PRICE", "HEDGE_SCENARIOS",
    "HEDGE_RATIO", "CONTRACT_SPEC", "CROSS_LIQUIDATION_PRICE", "MARGIN_FOR_LIQUIDATION",
    "FUNDING_OVER", "HEDGE_EFFECTIVENESS",
]


class TestAsPlainPython:
    def test_guides_case(self):
        n = udfs.HEDGE_CONTRACTS(1, 60000, 100)
        assert n == 600
        assert udfs.INVERSE_PNL(n, 100, 60000, 50000) * 50000 == pytest.approx(10000)
        assert udfs.INVERSE_PNL(n, 100, 60000, 72000) * 72000 == pytest.approx(-12000)

    def test_values_equal_core(self):
        assert udfs.LIQUIDATION_PRICE("short", 600, 100, 60000, 0.5, 0.004) == (
            core.liquidation_price("short", 600, 100, 60000, 0.5, 0.004)
        )
        assert udfs.FUNDING_PAYMENT(10000, 1, 16000, 0.0001, "long") == pytest.approx(-6.25e-5)
        # 600 x 100 USD at 60,000, 0.01% per 8 h, 30 days: 90 x 0.0001 BTC received
        assert udfs.FUNDING_OVER(600, 100, 60000, 0.0001, 30) == pytest.approx(0.009)
        # spot returns exactly twice the hedge's: ratio 2, R² 1
        spot, hedge = [[100], [110], [99], [108.9]], [[50], [52.5], [49.875], [52.36875]]
        assert udfs.HEDGE_EFFECTIVENESS(spot, hedge) == pytest.approx(1.0)
        assert udfs.HEDGE_RATIO(spot, hedge) == pytest.approx(2.0)
        assert udfs.FUNDING_OVER(600, 100, 60000, 0.0001, -1).startswith(
            "#VALUE! days must be >= 0")
        assert udfs.AVG_ENTRY_PRICE([1000, 2000], [5000, 6000]) == 5625
        assert udfs.CONTRACT_SPEC("BINANCE:BTCUSD_PERP", "contract_value") == 100
        assert udfs.CONTRACT_SPEC("binance:btcusd_perp", "Taker Fee") == 0.0005

    def test_column_in_column_out(self):
        out = udfs.HEDGE_CONTRACTS([[1.0], [2.0], [0.5]], [[60000.0]] * 3, 100)
        assert out == [[600.0], [1200.0], [300.0]]

    def test_one_bad_cell_keeps_the_others(self):
        out = udfs.HEDGE_CONTRACTS([[1.0], [-2.0], [None]], 60000, 100)
        assert out[0] == [600.0]
        assert out[1][0] == "#VALUE! quantity must be >= 0 (got -2.0)"
        assert out[2][0].startswith("#VALUE! quantity must be a number, not blank")

    def test_blank_optional_takes_default_blank_required_is_an_error(self):
        assert udfs.HEDGE_CONTRACTS(1, 60000, 100, None, "", None, [[None]]) == 600
        assert udfs.HEDGE_CONTRACTS(1, None, 100) == "#VALUE! price is required (the cell is blank)"

    def test_never_liquidated_shows_text(self):
        assert udfs.LIQUIDATION_PRICE("short", 600, 100, 60000, 1.0, 0.004) == "never"

    def test_cross_liquidation_price(self):
        # by hand: short 600 x 100 USD at 60,000 with a 0.5 BTC cross wallet, MMR 0.4%:
        # 60,000 x 0.996 / (1 - 0.5) = 119,520; a 1 BTC wallet (1x) is never liquidated
        assert udfs.CROSS_LIQUIDATION_PRICE("short", 600, 100, 60000, 0.5, 0.004) == 119520
        assert udfs.CROSS_LIQUIDATION_PRICE("short", 600, 100, 60000, 1, 0.004) == "never"
        # dev.binance.vision thread 6292: 11,250,000 / (101 + 11.605 + 222.222...) = 33,599.42
        got = udfs.CROSS_LIQUIDATION_PRICE("long", 100000, 100, 45000, 101, 0.125, 11.605)
        assert got == pytest.approx(33599.418605616, abs=1e-6)

    def test_cross_liquidation_price_bybit_close_fee_blank_optionals(self):
        # Bybit inverse liquidation help: 0.5 BTC cross, long 10,000 at 8,000 -> 5,739.08
        got = udfs.CROSS_LIQUIDATION_PRICE("long", 10000, 1, 8000, 0.5, 0.005, None, "", None,
                                           None, "entry", 0.00075)
        assert got == pytest.approx(5739.08, abs=0.005)

    def test_cross_liquidation_price_range_and_bad_cell(self):
        # by hand: B = 1 - 0.2 + 0.1 = 0.9 -> 59,760 / (1 - 0.9) = 597,600
        out = udfs.CROSS_LIQUIDATION_PRICE("short", 600, 100, 60000, [[0.5], [1.0], [-1.0]],
                                           0.004, 0, [[0.0], [0.2], [0.0]], [[0.0], [0.1], [0.0]])
        assert out[:2] == [[119520.0], [pytest.approx(597600.0)]]
        assert out[2] == ["#VALUE! wallet_balance must be >= 0 (got -1.0)"]

    def test_margin_for_liquidation(self):
        # by hand: 0.004 x 60,000/78,000 + 60,000 (1/60,000 - 1/78,000) = 0.2338461538 BTC;
        # the default MMR 0.5%: 0.0038461538 + 0.2307692308 = 0.2346153846
        got = udfs.MARGIN_FOR_LIQUIDATION("short", 600, 100, 60000, 78000, 0.004)
        assert got == pytest.approx(0.2338461538, abs=1e-10)
        got = udfs.MARGIN_FOR_LIQUIDATION("short", 600, 100, 60000, 78000)
        assert got == pytest.approx(0.2346153846, abs=1e-10)

    def test_margin_for_liquidation_wrong_side_is_a_cell_error(self):
        out = udfs.MARGIN_FOR_LIQUIDATION("short", 600, 100, 60000, [[78000], [50000]], 0.004)
        assert out[0] == [pytest.approx(0.2338461538, abs=1e-10)]
        assert out[1] == ["#VALUE! target_price must be below entry_price for a long and above "
                          "it for a short (got 50000.0 with entry_price 60000.0 for a short)"]

    def test_unknown_contract_is_na_with_suggestions(self):
        text = udfs.CONTRACT_SPEC("BINANCE:BTCUSD", "contract_value")
        assert text.startswith("#N/A unknown contract") and "BINANCE:BTCUSD_PERP" in text

    def test_scenarios_table_has_a_header(self):
        table = udfs.HEDGE_SCENARIOS(1, 60000, 600, 100, [[-0.5], [0.0], [1.0]])
        assert table[0] == udfs.SCENARIO_HEADER
        assert [row[5] for row in table[1:]] == pytest.approx([60000] * 3)

    def test_scenarios_liquidation(self):
        table = udfs.HEDGE_SCENARIOS(1, 60000, 600, 100, [[0.1], [0.6]], 0, 90000, 0.3333)
        assert [row[-1] for row in table[1:]] == ["no", "yes"]

    def test_hedge_ratio(self):
        assert udfs.HEDGE_RATIO([[100], [110], [99], [120]], [[10], [11], [9.9], [12]]) == (
            pytest.approx(1.0)
        )


def _clean_value_data(data, datetime_builder, empty_as, number_builder, err_to_str):
    """As xlwings' Windows engine cleans what COM hands over: empty cells become ``empty_as``."""
    return [[empty_as if v in (None, "") else v for v in row] for row in data]


def _prepare(x, date_format):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    return float(x) if isinstance(x, np.number) else x


@pytest.fixture
def decorated(monkeypatch):
    """The UDF module as decorated on Windows, and a stand-in for the Windows engine's value
    cleaning (xlwings has no engine on Linux; the converters only need these two functions)."""
    impl = SimpleNamespace(clean_value_data=_clean_value_data, prepare_xl_data_element=_prepare)
    monkeypatch.setattr(xlwings, "engines", {"excel": SimpleNamespace(type="desktop", impl=impl)})
    return vba.decorated_module(udfs)


def call_like_excel(decorated, name: str, *raw: Any) -> Any:
    """What xlwings' call_udf does with the values Excel passes: read, call, write."""
    func = getattr(decorated, name)
    info = func.__xlfunc__
    args = []
    for i, value in enumerate(raw):
        arg = info["args"][min(i, len(info["args"]) - 1)]
        args.append(conversion.read(None, value, arg["options"]))
    return conversion.write(func(*args), None, info["ret"]["options"])


class TestThroughXlwingsConverters:
    def test_every_udf_is_declared(self, decorated):
        for name in UDF_NAMES:
            assert hasattr(getattr(decorated, name), "__xlfunc__"), name

    def test_single_cells(self, decorated):
        assert call_like_excel(decorated, "HEDGE_CONTRACTS", 1.0, 60000.0, 100.0) == [[600.0]]

    def test_column_range_spills_as_column(self, decorated):
        out = call_like_excel(decorated, "HEDGE_CONTRACTS", ((1.0,), (2.0,)), 60000.0, 100.0)
        assert out == [[600.0], [1200.0]]

    def test_row_range_stays_a_row(self, decorated):
        out = call_like_excel(decorated, "INVERSE_PNL", ((600.0, 1200.0),), 100.0, 60000.0,
                              50000.0)
        assert np.allclose(out, [[0.2, 0.4]])

    def test_text_result(self, decorated):
        out = call_like_excel(decorated, "HEDGE_CONTRACTS", 1.0, -5.0, 100.0)
        assert out == [["#VALUE! price must be > 0 (got -5.0)"]]

    def test_scenarios_spill(self, decorated):
        moves = ((-0.5,), (0.0,), (1.0,))
        out = call_like_excel(decorated, "HEDGE_SCENARIOS", 1.0, 60000.0, 600.0, 100.0, moves)
        assert len(out) == 4 and len(out[0]) == 7 and out[0][0] == "Move"

    @pytest.mark.parametrize(
        ("name", "raw"),
        [
            ("HEDGE_CONTRACTS", (((1.0,), (2.0,)), 60000.0, 100.0, None, "inverse")),
            ("INVERSE_PNL", (600.0, 100.0, 60000.0, ((50000.0,), (72000.0,)), "short")),
            ("LINEAR_PNL", (1.0, 1.0, 60000.0, 50000.0)),
            ("LIQUIDATION_PRICE", ("short", 600.0, 100.0, 60000.0, 0.5, 0.004)),
            ("BANKRUPTCY_PRICE", ("short", 600.0, 100.0, 60000.0, 1.0)),
            ("INITIAL_MARGIN", (600.0, 100.0, 60000.0, 2.0)),
            ("FUNDING_PAYMENT", (((10000.0,), (20000.0,)), 1.0, 16000.0, 0.0001, "long")),
            ("TRADING_FEE", (10000.0, 1.0, 8000.0, 0.00055)),
            ("AVG_ENTRY_PRICE", (((1000.0,), (2000.0,)), ((5000.0,), (6000.0,)))),
            ("HEDGE_SCENARIOS", (1.0, 60000.0, 600.0, 100.0, ((-0.5,), (0.0,)))),
            ("HEDGE_RATIO", (((100.0,), (110.0,), (99.0,)), ((10.0,), (11.0,), (9.9,)))),
            ("CONTRACT_SPEC", ("BINANCE:BTCUSD_PERP", "taker_fee")),
            ("CROSS_LIQUIDATION_PRICE", ("short", 600.0, 100.0, 60000.0, ((0.5,), (1.0,)), 0.004)),
            ("MARGIN_FOR_LIQUIDATION", ("short", 600.0, 100.0, 60000.0, ((78000.0,), (50000.0,)))),
        ],
    )
    def test_converters_give_what_the_plain_call_gives(self, decorated, name, raw):
        through_excel = call_like_excel(decorated, name, *raw)
        plain = getattr(udfs, name)(*(_lists(v) for v in raw))
        expected = plain if isinstance(plain, list) else [[plain]]
        assert through_excel == expected

    def test_vba_declares_every_function_with_its_arguments(self):
        text = vba.udf_wrappers("xlhedge.udfs", udfs)
        assert ("Function HEDGE_CONTRACTS(quantity, price, contract_value, Optional hedge_ratio, "
                "Optional contract_type, Optional lot_size, Optional collateral)") in text
        for name in UDF_NAMES:
            assert f"Function {name}(" in text


def _lists(value: Any) -> Any:
    """Excel passes a range as a tuple of row tuples; the plain call gets a list of lists."""
    return [_lists(v) for v in value] if isinstance(value, tuple) else value


junk = st.one_of(
    st.none(), st.just(""), st.text(max_size=5), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True), st.just(1e308), st.just(-1.0), st.just(0.0),
    st.sampled_from(["#N/A", "#VALUE!", "long", "short", "inverse", "linear", "mark", "entry",
                     "BINANCE:BTCUSD_PERP", "tiers", "=1+1"]),
    st.integers(-10, 10),
)
ranges = st.one_of(
    st.lists(st.lists(junk, min_size=1, max_size=3), min_size=1, max_size=3),  # 2-D, may be ragged
    st.lists(junk, min_size=0, max_size=4),
)
cells = st.one_of(junk, ranges)


def _is_cell_result(value: Any) -> bool:
    def ok(item: Any) -> bool:
        if isinstance(item, str):
            return True
        return isinstance(item, float) and not math.isnan(item)

    if isinstance(value, list):
        return all(isinstance(row, list) and all(ok(i) for i in row) for row in value)
    return ok(value)


@pytest.mark.parametrize("name", UDF_NAMES)
@settings(max_examples=60, deadline=None)
@given(args=st.lists(cells, min_size=0, max_size=10))
def test_fuzz_never_raises(name, args):
    out = getattr(udfs, name)(*args)
    assert _is_cell_result(out)
    if isinstance(out, str) and out.startswith("#"):
        assert "Traceback" not in out and len(out) <= 200
