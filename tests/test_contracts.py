"""Contract specs and the registry."""

import csv
import importlib.resources
import importlib.util
import io
import math
import subprocess
import sys
import textwrap
from datetime import date, datetime

import numpy as np
import pandas as pd
import pydantic
import pytest

from xlhedge import (
    ContractSpec,
    InputError,
    UnknownContractError,
    default_registry,
    get_contract,
    maintenance_margin,
)
from xlhedge.contracts import (
    TABLE_COLUMNS,
    ContractRegistry,
    MarginTier,
    _as_date,
    format_tiers,
    parse_tiers,
    spec_from_row,
)

REQUIRED = [
    "BITMEX:XBTUSD",
    "BYBIT:BTCUSD",
    "BYBIT:ETHUSD",
    "BINANCE:BTCUSD_PERP",
    "BINANCE:ETHUSD_PERP",
    "OKX:BTC-USD-SWAP",
    "OKX:ETH-USD-SWAP",
    "DERIBIT:BTC-PERPETUAL",
    "DERIBIT:ETH-PERPETUAL",
]


@pytest.mark.parametrize("symbol", REQUIRED)
def test_builtin_inverse_specs(symbol):
    spec = get_contract(symbol)
    assert spec.contract_type == "inverse"
    assert spec.settle == spec.underlying
    assert spec.source and spec.as_of


def test_two_linear_specs_for_comparison():
    linear = [s for s in default_registry() if s.contract_type == "linear"]
    assert len(linear) >= 2 and all(s.settle == "USDT" for s in linear)


@pytest.mark.parametrize(
    ("symbol", "cv"),
    [
        pytest.param("BINANCE:BTCUSD_PERP", 100, id="binance-faq-btc-100usd"),
        pytest.param("BINANCE:ETHUSD_PERP", 10, id="binance-faq-alts-10usd"),
        pytest.param("OKX:BTC-USD-SWAP", 100, id="okx-swap-specs"),
        pytest.param("DERIBIT:BTC-PERPETUAL", 10, id="deribit-perpetual-docs"),
        pytest.param("BITMEX:XBTUSD", 1, id="bitmex-inverse-guide"),
    ],
)
def test_contract_values(symbol, cv):
    assert get_contract(symbol).contract_value == cv


def test_lookup_ignores_case():
    assert get_contract("binance:btcusd_perp").symbol == "BINANCE:BTCUSD_PERP"


def test_unknown_symbol_names_closest():
    with pytest.raises(UnknownContractError) as info:
        get_contract("BINANCE:BTCUSD")
    assert "BINANCE:BTCUSD_PERP" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_specs_are_frozen_and_validated():
    spec = get_contract("BYBIT:BTCUSD")
    with pytest.raises(pydantic.ValidationError):
        spec.contract_value = 2  # type: ignore[misc]
    data = spec.model_dump() | {"symbol": "KRAKEN:PI_XBTUSD"}
    with pytest.raises(pydantic.ValidationError, match="must start with the exchange"):
        ContractSpec(**data)


def test_tiers_text_round_trip():
    tiers = get_contract("BINANCE:BTCUSD_PERP").tiers
    assert parse_tiers(format_tiers(tiers)) == tiers


def test_table_overrides_and_adds():
    frame = default_registry().to_frame()
    frame.loc[frame["Symbol"] == "BYBIT:BTCUSD", "Taker Fee"] = 0.0006
    extra = frame[frame["Symbol"] == "BYBIT:BTCUSD"].assign(
        Symbol="BYBIT:SOLUSD", Underlying="SOL", Settle="SOL"
    )
    registry = default_registry().with_frame(pd.concat([frame, extra]))
    assert registry.get("BYBIT:BTCUSD").taker_fee == 0.0006
    assert registry.get("BYBIT:BTCUSD").as_of == BUILTIN_AS_OF  # filled cells are kept
    assert registry.get("BYBIT:BTCUSD").source == default_registry().get("BYBIT:BTCUSD").source
    assert registry.get("BYBIT:SOLUSD").underlying == "SOL"
    assert default_registry().get("BYBIT:BTCUSD").taker_fee == 0.00055


def test_bad_table_row_names_the_field():
    frame = default_registry().to_frame().head(1).assign(**{"Contract Value": -5})
    with pytest.raises(InputError, match=r"^contract BITMEX:XBTUSD \(table row 1\): "
                       r"Contract Value must be greater than 0 \(got -5.0\)$"):
        default_registry().with_frame(frame)


@pytest.mark.parametrize("text", ["0:0.0.04", "0:1.5", "0:0.01@0.5", "zero:0.01"])
def test_bad_tier_text_names_tiers(text):
    with pytest.raises(ValueError, match="tiers must"):
        parse_tiers(text)


# --- the built-in specs are data: xlhedge/data/contracts.csv -------------------------------------

BUILTIN_AS_OF = date(2026, 11, 22)
BINANCE_BTC_TIERS = ("0:0.004@125; 5:0.005@100; 10:0.01@50; 20:0.025@20; 50:0.05@10; 100:0.1@5; "
                     "200:0.125@4; 400:0.15@3; 1000:0.25@2; 1500:0.5@1")


def _builtin_rows() -> list[dict[str, str]]:
    text = importlib.resources.files("xlhedge").joinpath("data/contracts.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_builtin_specs_keep_the_numbers_of_the_old_module():
    # Literal values of the removed xlhedge/builtin_contracts.py.
    spec = get_contract("BINANCE:BTCUSD_PERP")
    assert (spec.contract_value, spec.tick_size, spec.maker_fee, spec.taker_fee) == (
        100, 0.1, 0.0002, 0.0005)
    assert format_tiers(spec.tiers) == BINANCE_BTC_TIERS
    assert spec.max_leverage == 125 and spec.as_of == BUILTIN_AS_OF
    assert spec.maintenance_amounts[6] == 11.605  # the 200 BTC tier; Binance's FAQ at 300 BTC
    assert "maintenance amount 11.605 BTC" in spec.source
    assert spec.source.startswith("Binance FAQ: COIN-M contract multiplier 100 USD; brackets")
    bitmex = get_contract("BITMEX:XBTUSD")
    assert (bitmex.lot_size, bitmex.min_order, bitmex.tick_size) == (100, 100, 0.1)
    assert get_contract("DERIBIT:BTC-PERPETUAL").maker_fee == 0
    # Bybit's Margin Parameters page: BTCUSDT tier 2 from 2,000,000 USDT at 0.56%, 90x (the old
    # 2,000,000:1%@57.14 tier 2 was replaced); its published deductions follow the cumulative rule.
    bybit_linear = get_contract("BYBIT:BTCUSDT")
    assert bybit_linear.tiers[1] == MarginTier(floor=2_000_000, mmr=0.0056, max_leverage=90)
    assert bybit_linear.maintenance_amounts[:3] == (0, 1200, 3020)
    assert bybit_linear.maintenance_amounts[-1] == 1_482_000
    linear = get_contract("BINANCE:BTCUSDT")
    assert (linear.quote, linear.settle, linear.lot_size) == ("USDT", "USDT", 0.001)
    assert linear.tiers[-1] == MarginTier(floor=300_000_000, mmr=0.5, max_leverage=1)
    assert len(default_registry()) == 16
    assert {s.as_of for s in default_registry()} == {BUILTIN_AS_OF}


def test_builtin_csv_has_the_table_columns_and_reads_by_the_user_rules():
    rows = _builtin_rows()
    assert list(rows[0]) == list(TABLE_COLUMNS.values())
    assert [spec_from_row(row) for row in rows] == list(default_registry())
    # The workbook's table of the built-ins reads back to the same specs.
    assert list(ContractRegistry().with_frame(default_registry().to_frame())) == list(
        default_registry())


def test_builtin_module_is_gone_and_the_registry_is_cached():
    assert importlib.util.find_spec("xlhedge.builtin_contracts") is None
    assert default_registry() is default_registry()


def test_contracts_module_does_not_import_pandas():
    # The package's __init__ imports the whole core (pandas with it); a bare package object
    # lets the subprocess import xlhedge.contracts and its own imports alone.
    code = textwrap.dedent("""
        import importlib.util, sys
        package = importlib.util.module_from_spec(importlib.util.find_spec("xlhedge"))
        sys.modules["xlhedge"] = package  # the package, its __init__ not run
        import xlhedge.contracts as contracts
        contracts.default_registry().get("BINANCE:BTCUSD_PERP")
        print(sorted(m for m in sys.modules if m.split(".")[0] == "pandas"))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_format_tiers_reads_back_exactly():
    tiers = (MarginTier(floor=0, mmr=0.004), MarginTier(floor=1_234_567, mmr=0.0123456789))
    assert parse_tiers(format_tiers(tiers)) == tiers
    assert format_tiers(get_contract("BYBIT:BTCUSDT").tiers).startswith(
        "0:0.005@100; 2000000:0.0056@90; 2600000:0.0063@80; ")


# --- a user's rows: defaults, inheritance, every error at once ---------------------------------

NEW = {"Symbol": "KRAKEN:PI_XBTUSD", "Underlying": "btc", "Type": "Inverse", "Contract Value": 1,
       "Tick Size": 0.5, "Max Leverage": 50, "Taker Fee": 0.0005, "MM Tiers": "0:0.01@50"}


def _read_csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(textwrap.dedent(text)), skipinitialspace=True)


def test_a_new_contract_needs_only_the_required_columns():
    spec = spec_from_row(NEW)
    assert (spec.exchange, spec.underlying, spec.quote, spec.settle) == ("KRAKEN", "BTC", "USD",
                                                                         "BTC")
    assert (spec.contract_type, spec.lot_size, spec.min_order) == ("inverse", 1, 1)
    assert spec.funding_interval_hours == 8 and spec.maker_fee == spec.taker_fee == 0.0005
    assert spec.as_of == date.today() and spec.source == "user"


def test_defaults_follow_the_row():
    frame = _read_csv("""\
        Symbol, Underlying, Quote, Type, Contract Value, Tick Size, Lot Size, Max Leverage, Maker Fee, Taker Fee, MM Tiers
        KRAKEN:PF_XBTUSD, BTC, USDT, linear, 1, 0.5, 0.001, 50, -0.0001, 0.0005, 0:0.01@50
    """)  # noqa: E501
    spec = default_registry().with_frame(frame).get("KRAKEN:PF_XBTUSD")
    assert (spec.settle, spec.min_order, spec.maker_fee) == ("USDT", 0.001, -0.0001)


def test_a_new_contract_names_every_missing_required_column():
    with pytest.raises(InputError) as info:
        spec_from_row({"Symbol": "KRAKEN:PI_ETHUSD", "Exchange": "KRAKEN"})
    assert str(info.value) == (
        "contract KRAKEN:PI_ETHUSD: Underlying is required; Type is required; Contract Value is "
        "required; Tick Size is required; Taker Fee is required; Max Leverage is required; "
        "MM Tiers is required")


def test_an_override_keeps_the_builtin_values_of_its_blank_cells():
    frame = _read_csv("""\
        Symbol, Taker Fee, Maker Fee, MM Tiers, As Of, Source
        bybit:btcusd, 0.0006, , , ,
        BINANCE:BTCUSD_PERP, , , , ,
        OKX:BTC-USD-SWAP, , , 0:0.005@100, 2026-12-01, OKX tier page
    """)
    registry = default_registry().with_frame(frame)
    old, new = default_registry().get("BYBIT:BTCUSD"), registry.get("BYBIT:BTCUSD")
    assert new.symbol == "BYBIT:BTCUSD" and new.taker_fee == 0.0006
    assert new.maker_fee == old.maker_fee == 0.0002  # kept, not the Taker Fee
    assert new.model_dump(exclude={"taker_fee", "as_of", "source"}) == old.model_dump(
        exclude={"taker_fee", "as_of", "source"})
    assert new.as_of == date.today()
    assert new.source == f"user: Taker Fee; other columns as of 2026-11-22: {old.source}"
    # A row that changes nothing is the built-in, date and source included.
    assert registry.get("BINANCE:BTCUSD_PERP") == default_registry().get("BINANCE:BTCUSD_PERP")
    okx = registry.get("OKX:BTC-USD-SWAP")
    assert (okx.as_of, okx.source, okx.tiers[0].mmr) == (date(2026, 12, 1), "OKX tier page", 0.005)
    assert okx.contract_value == 100


def test_every_error_of_a_row_in_one_message():
    frame = _read_csv("""\
        Symbol, Underlying, Type, Contract Value, Tick Size, Max Leverage, Taker Fee, MM Tiers, As Of
        KRAKEN:PI_XBTUSD, BTC, inverse, 1, 0.5, 50, 0.0005, 0:0.01@50, 2026-11-22
        BINANCE:X, BTC, perp, -5, , TRUE, 0.05, 0:1.5, someday
    """)  # noqa: E501
    with pytest.raises(InputError) as info:
        default_registry().with_frame(frame)
    assert str(info.value) == (
        "contract BINANCE:X (table row 2): Type must be \"inverse\" or \"linear\" (got 'perp'); "
        "Contract Value must be greater than 0 (got -5.0); Tick Size is required; "
        "Taker Fee must be less than 0.01 (got 0.05); "
        "Max Leverage must be a number, not TRUE/FALSE (got 'TRUE'); "
        "MM Tiers must be floor >= 0, 0 <= mmr < 1, max_leverage >= 1 "
        "(\"floor:mmr[@max_leverage]; ...\") (got '0:1.5'); "
        "As Of must be a date: YYYY-MM-DD or an Excel date number from 61 (1900-03-01) to "
        "2958465 (9999-12-31) (got 'someday')")
    assert isinstance(info.value, ValueError)


def test_an_override_reports_its_errors_too():
    with pytest.raises(InputError, match=r"^contract BYBIT:BTCUSD: Tick Size must be greater "
                       r"than 0 \(got 0.0\); Max Leverage must be greater than or equal to 1"):
        default_registry().with_rows([{"Symbol": "BYBIT:BTCUSD", "Tick Size": 0,
                                       "Max Leverage": 0.5}], where="")


def test_rows_that_break_a_rule_across_columns():
    with pytest.raises(InputError, match="symbol OKX:NEW must start with the exchange BYBIT:"):
        spec_from_row(NEW | {"Symbol": "OKX:NEW", "Exchange": "bybit"})
    with pytest.raises(InputError, match="MM Tiers must start at floor 0"):
        spec_from_row(NEW | {"MM Tiers": "5:0.01"})
    with pytest.raises(InputError, match="Symbol must look like EXCHANGE:NATIVE_ID"):
        spec_from_row(NEW | {"Symbol": "PI_XBTUSD"})


@pytest.mark.parametrize("value", [True, False, np.True_, "TRUE", "yes", "", float("inf"),
                                   "nan", "1,5"])
def test_numbers_must_be_numbers(value):
    row = NEW | {"Contract Value": value}
    if value == "":  # a blank cell: required
        match = "Contract Value is required"
    elif isinstance(value, bool | np.bool_) or value == "TRUE":
        match = "Contract Value must be a number, not TRUE/FALSE"
    else:
        match = "Contract Value must be a (finite )?number"
    with pytest.raises(InputError, match=match):
        spec_from_row(row)


def test_text_true_is_a_coin_not_a_boolean():
    assert spec_from_row(NEW | {"Underlying": "true"}).settle == "TRUE"
    with pytest.raises(InputError, match="Underlying must be text, not TRUE/FALSE"):
        spec_from_row(NEW | {"Underlying": True})


def test_number_text_and_numpy_numbers_are_read():
    spec = spec_from_row(NEW | {"Contract Value": " 10 ", "Tick Size": np.float32(0.5),
                                "Max Leverage": np.int64(20)})
    assert (spec.contract_value, spec.tick_size, spec.max_leverage) == (10, 0.5, 20)


# --- As Of -------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-22", BUILTIN_AS_OF),
        (" 2026-11-22T08:00:00 ", BUILTIN_AS_OF),
        (46348, BUILTIN_AS_OF),  # Excel's date number
        (46348.75, BUILTIN_AS_OF),
        ("46348", BUILTIN_AS_OF),
        (np.int64(46348), BUILTIN_AS_OF),
        (61, date(1900, 3, 1)),
        (2958465, date(9999, 12, 31)),
        (datetime(2026, 11, 22, 23, 59), BUILTIN_AS_OF),
        (pd.Timestamp("2026-11-22 12:00"), BUILTIN_AS_OF),
        (BUILTIN_AS_OF, BUILTIN_AS_OF),
    ],
)
def test_as_of_reads_dates(value, expected):
    assert _as_date(value) == expected
    assert spec_from_row(NEW | {"As Of": value}).as_of == expected


@pytest.mark.parametrize("value", [1e10, 2958466, 60, 0, -1, -1e10, math.inf, -math.inf, math.nan,
                                   "inf", "garbage", "2026-13-01", True, np.False_])
def test_as_of_out_of_range_or_garbage_is_an_input_error(value):
    with pytest.raises(InputError, match=r"^As Of must be a date: YYYY-MM-DD or an Excel date "
                       r"number from 61 \(1900-03-01\) to 2958465 \(9999-12-31\) \(got "):
        _as_date(value)


def test_as_of_errors_in_a_row_name_the_contract():
    with pytest.raises(InputError, match=r"^contract KRAKEN:PI_XBTUSD: As Of must be a date.*"
                       r"\(got 10000000000.0\)$"):
        spec_from_row(NEW | {"As Of": 1e10})


def test_blank_cells_are_blank():
    # pandas gives NaN (and NaT) for empty cells: an empty As Of is today, not an error.
    for blank in (math.nan, None, "  ", pd.NaT):
        assert spec_from_row(NEW | {"As Of": blank, "Lot Size": blank}).as_of == date.today()


# --- Tier Mode, Order Unit, Order Field, Close Fee in Bankruptcy -------------------------------

def test_new_columns_default_for_a_new_contract():
    spec = spec_from_row(NEW)
    assert (spec.tier_mode, spec.order_unit, spec.order_field) == ("cumulative", "contracts", "")
    assert spec.close_fee_in_bankruptcy is False
    assert (spec.order_unit_label, spec.order_quantity(7)) == ("contracts", 7)
    assert [TABLE_COLUMNS[f] for f in ("tier_mode", "order_unit", "order_field",
                                       "close_fee_in_bankruptcy")] == [
        "Tier Mode", "Order Unit", "Order Field", "Close Fee in Bankruptcy"]
    frame = ContractRegistry([spec]).to_frame()
    assert frame.loc[0, ["Tier Mode", "Order Unit", "Order Field", "Close Fee in Bankruptcy"]
                     ].tolist() == ["cumulative", "contracts", "", False]


@pytest.mark.parametrize(("text", "mode"), [("whole", "whole"), (" Whole ", "whole"),
                                            ("cumulative", "cumulative"),
                                            ("CUMULATIVE", "cumulative")])
def test_tier_mode_is_read(text, mode):
    assert spec_from_row(NEW | {"Tier Mode": text}).tier_mode == mode


@pytest.mark.parametrize("value", ["flat", "whole position", True, 1])
def test_a_bad_tier_mode_names_the_column_and_the_choices(value):
    with pytest.raises(InputError, match=r'^contract KRAKEN:PI_XBTUSD: Tier Mode must be '
                       r'"cumulative" or "whole" \(got '):
        spec_from_row(NEW | {"Tier Mode": value})


def test_whole_tiers_have_no_maintenance_amounts():
    whole = spec_from_row(NEW | {"Tier Mode": "whole", "MM Tiers": "0:0.005; 200:0.01; 350:0.015"})
    assert whole.maintenance_amounts == (0, 0, 0)
    cumulative = spec_from_row(NEW | {"MM Tiers": "0:0.005; 200:0.01; 350:0.015"})
    assert cumulative.maintenance_amounts == (0, 1, 2.75)
    floors, mmrs, amounts = whole.tier_arrays()
    assert maintenance_margin(300, floors, mmrs, amounts) == pytest.approx(3.0)  # 300 x 1%


@pytest.mark.parametrize(("value", "expected"), [("TRUE", True), (" false ", False), (True, True),
                                                 (np.False_, False), (1, True), (0.0, False)])
def test_close_fee_in_bankruptcy_is_a_boolean(value, expected):
    spec = spec_from_row(NEW | {"Close Fee in Bankruptcy": value})
    assert spec.close_fee_in_bankruptcy is expected


def test_bad_order_columns_are_reported_together():
    with pytest.raises(InputError) as info:
        spec_from_row(NEW | {"Order Unit": "coins", "Close Fee in Bankruptcy": "yes",
                             "Tier Mode": "flat"})
    assert str(info.value) == (
        'contract KRAKEN:PI_XBTUSD: Tier Mode must be "cumulative" or "whole" (got \'flat\'); '
        'Order Unit must be "contracts" or "usd" (got \'coins\'); '
        "Close Fee in Bankruptcy must be TRUE or FALSE (got 'yes')")


def test_a_usd_order_unit_needs_an_inverse_contract():
    spec = spec_from_row(NEW | {"Order Unit": "USD", "Contract Value": 10,
                                "Order Field": "Amount (USD)"})
    assert (spec.order_unit, spec.order_unit_label, spec.order_field) == ("usd", "USD",
                                                                          "Amount (USD)")
    assert spec.order_quantity(3) == 30
    with pytest.raises(InputError, match=r'Order Unit "usd" needs an inverse contract'):
        spec_from_row(NEW | {"Type": "linear", "Order Unit": "usd"})


def test_a_row_changing_only_tier_mode_inherits_the_rest():
    base = default_registry().get("BINANCE:BTCUSD_PERP")
    registry = default_registry().with_rows([{"Symbol": "BINANCE:BTCUSD_PERP",
                                              "Tier Mode": "whole"}])
    spec = registry.get("BINANCE:BTCUSD_PERP")
    assert spec.tier_mode == "whole" and spec.maintenance_amounts == (0,) * len(spec.tiers)
    assert spec.model_dump(exclude={"tier_mode", "as_of", "source"}) == base.model_dump(
        exclude={"tier_mode", "as_of", "source"})
    assert spec.source == f"user: Tier Mode; other columns as of 2026-11-22: {base.source}"
    # The other way round: a whole-tier built-in made cumulative keeps its tiers.
    bitmex = default_registry().with_rows([{"Symbol": "BITMEX:XBTUSD",
                                            "Tier Mode": "cumulative"}]).get("BITMEX:XBTUSD")
    assert bitmex.tiers == get_contract("BITMEX:XBTUSD").tiers
    assert bitmex.tier_mode == "cumulative"


# --- the specs' new data, from the exchanges' pages (source in each id) -------------------------

@pytest.mark.parametrize(
    ("symbol", "value", "expected"),
    [
        # Bybit Maintenance Margin (Inverse Contract): 0.5% to 150 BTC, 1% to 300 BTC, the excess at
        # the new rate: 300 x 1% - 150 x 0.5% = 2.25 BTC
        pytest.param("BYBIT:BTCUSD", 300, 2.25, id="bybit-inverse-mm-page-300btc-2.25"),
        pytest.param("BYBIT:BTCUSD", 150, 0.75, id="bybit-inverse-mm-page-150btc-0.5pct"),
        # BitMEX Risk Limits Examples: 180 XBT at 0.50% -> 0.90; 230 XBT is one 150-XBT step past
        # the 200 XBT base, 1.00% on the whole position -> 2.30
        pytest.param("BITMEX:XBTUSD", 150, 0.75, id="bitmex-risk-limits-150xbt-base-0.5pct"),
        pytest.param("BITMEX:XBTUSD", 180, 0.90, id="bitmex-risk-limits-example-180xbt"),
        pytest.param("BITMEX:XBTUSD", 230, 2.30, id="bitmex-risk-limits-example-230xbt-whole-1pct"),
        pytest.param("BITMEX:XBTUSD", 400, 6.00, id="bitmex-risk-limits-table-under-500xbt-1.5pct"),
    ],
)
def test_maintenance_margin_of_the_builtin_tiers(symbol, value, expected):
    floors, mmrs, amounts = get_contract(symbol).tier_arrays()
    assert maintenance_margin(value, floors, mmrs, amounts) == pytest.approx(expected, abs=1e-12)
    index = int(np.searchsorted(floors, value, side="right")) - 1
    assert value * mmrs[index] - amounts[index] == pytest.approx(expected, abs=1e-12)


def test_bitmex_steps_are_whole_position_rates():
    # BitMEX Risk Limits Examples: base 200 XBT, 150 XBT steps, MM 0.5% and IM 1% each +0.5% a step
    spec = get_contract("BITMEX:XBTUSD")
    assert spec.tier_mode == "whole" and set(spec.maintenance_amounts) == {0}
    assert [t.floor for t in spec.tiers[:4]] == [0, 200, 350, 500]
    assert [t.mmr for t in spec.tiers[:4]] == [0.005, 0.01, 0.015, 0.02]
    assert [t.max_leverage for t in spec.tiers[:4]] == [100, 66.67, 50, 40]
    assert len(spec.tiers) == 20 and spec.max_leverage == 100


def test_bybit_inverse_tiers_and_close_fee():
    spec = get_contract("BYBIT:BTCUSD")
    assert spec.tiers[:2] == (MarginTier(floor=0, mmr=0.005, max_leverage=100),
                              MarginTier(floor=150, mmr=0.01, max_leverage=66.67))
    assert spec.tick_size == 0.1  # ccxt bybit fixture: BTCUSD tickSize 0.10
    assert "unconfirmed" in spec.source
    bybit_inverse = ("BYBIT:BTCUSD", "BYBIT:ETHUSD", "BYBIT:LTCUSD")
    for symbol in bybit_inverse:
        assert get_contract(symbol).close_fee_in_bankruptcy is True
    others = [s for s in default_registry() if s.symbol not in bybit_inverse]
    assert not any(s.close_fee_in_bankruptcy for s in others)


def test_deribit_orders_are_in_usd():
    # Deribit's order box: Amount (USD); 3,000 BTC-PERPETUAL contracts of 10 USD = 30,000 USD
    spec = get_contract("DERIBIT:BTC-PERPETUAL")
    assert (spec.order_unit, spec.order_unit_label, spec.order_field) == ("usd", "USD",
                                                                          "Amount (USD)")
    assert spec.order_quantity(3000) == 30_000
    assert get_contract("DERIBIT:ETH-PERPETUAL").order_unit == "usd"
    assert get_contract("BINANCE:BTCUSD_PERP").order_quantity(3000) == 3000
    assert {s.symbol for s in default_registry() if s.order_unit == "usd"} == {
        "DERIBIT:BTC-PERPETUAL", "DERIBIT:ETH-PERPETUAL"}


def test_okx_btc_swap_max_leverage_from_the_ccxt_fixture():
    # ccxt okx fixture: BTC-USD-SWAP lever 100, ctVal 100, tickSz 0.1, lotSz 1
    spec = get_contract("OKX:BTC-USD-SWAP")
    assert (spec.max_leverage, spec.tiers[0].max_leverage) == (100, 100)
    assert (spec.contract_value, spec.tick_size, spec.lot_size) == (100, 0.1, 1)


def test_every_builtin_source_says_what_was_confirmed():
    for spec in default_registry():
        assert "confirmed" in spec.source or "Binance announcement" in spec.source, spec.symbol


ALT_INVERSE = [
    "BINANCE:SOLUSD_PERP",
    "BINANCE:XRPUSD_PERP",
    "BINANCE:ADAUSD_PERP",
    "BINANCE:LTCUSD_PERP",
    "BYBIT:LTCUSD",
]


@pytest.mark.parametrize("symbol", ALT_INVERSE)
def test_alt_inverse_perpetuals_settle_in_their_coin(symbol: str) -> None:
    spec = get_contract(symbol)
    coin = spec.native_id.split("USD")[0]
    assert spec.contract_type == "inverse" and spec.quote == "USD"
    assert spec.underlying == spec.settle == coin
    assert "confirmed" in spec.source


@pytest.mark.parametrize(
    ("symbol", "field", "value"),
    [
        # Binance FAQ: COIN-M Contract Specifications, altcoin contracts usually 10 USD
        pytest.param("BINANCE:SOLUSD_PERP", "contract_value", 10, id="binance-faq-alts-10usd-sol"),
        pytest.param("BINANCE:XRPUSD_PERP", "contract_value", 10, id="binance-faq-alts-10usd-xrp"),
        # Binance announcement 2024-08-08: SOLUSD COIN-M quarterlies tick 0.001, 20x
        pytest.param("BINANCE:SOLUSD_PERP", "tick_size", 0.001, id="binance-sol-quarterly-tick"),
        # Binance FAQ: Leverage and Margin in Coin-Margined Futures Contracts, 20x table
        pytest.param("BINANCE:ADAUSD_PERP", "max_leverage", 20, id="binance-faq-20x-table-ada"),
        # ccxt binance fixture: the USD-M siblings' ticks (XRPUSDT 0.0001, LTCUSDT 0.01)
        pytest.param("BINANCE:XRPUSD_PERP", "tick_size", 0.0001, id="ccxt-binance-xrpusdt-tick"),
        pytest.param("BINANCE:LTCUSD_PERP", "tick_size", 0.01, id="ccxt-binance-ltcusdt-tick"),
        # ccxt bybit fixture: LTCUSD InversePerpetual
        pytest.param("BYBIT:LTCUSD", "contract_value", 1, id="ccxt-bybit-ltcusd-contractsize"),
        pytest.param("BYBIT:LTCUSD", "tick_size", 0.01, id="ccxt-bybit-ltcusd-ticksize"),
        pytest.param("BYBIT:LTCUSD", "lot_size", 1, id="ccxt-bybit-ltcusd-qtystep"),
        pytest.param("BYBIT:LTCUSD", "min_order", 1, id="ccxt-bybit-ltcusd-minorderqty"),
        pytest.param("BYBIT:LTCUSD", "max_leverage", 50, id="ccxt-bybit-ltcusd-maxleverage"),
        pytest.param("BYBIT:LTCUSD", "funding_interval_hours", 8, id="ccxt-bybit-ltcusd-480min"),
    ],
)
def test_alt_inverse_literal_values(symbol: str, field: str, value: float) -> None:
    assert getattr(get_contract(symbol), field) == value


def test_alt_inverse_tiers_are_single_and_flagged_unconfirmed() -> None:
    for symbol in ALT_INVERSE:
        spec = get_contract(symbol)
        assert len(spec.tiers) == 1 and spec.tiers[0].max_leverage == spec.max_leverage
        assert "MM tiers not found" in spec.source and "unconfirmed" in spec.source
    bybit = get_contract("BYBIT:LTCUSD")
    assert bybit.close_fee_in_bankruptcy and bybit.order_field == get_contract(
        "BYBIT:BTCUSD").order_field


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("BINANCE:SOLUSD", "BINANCE:SOLUSD_PERP"),
        ("BINANCE:XRPUSD", "BINANCE:XRPUSD_PERP"),
        ("BYBIT:LTCUSD_PERP", "BYBIT:LTCUSD"),
    ],
)
def test_closest_suggests_the_alt_perpetual(typed: str, suggested: str) -> None:
    assert suggested in default_registry().closest(typed)
    with pytest.raises(UnknownContractError) as info:
        get_contract(typed)
    assert suggested in str(info.value)
