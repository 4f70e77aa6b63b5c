"""Contract specs and the registry."""

import pandas as pd
import pydantic
import pytest

from xlhedge import ContractSpec, UnknownContractError, default_registry, get_contract
from xlhedge.contracts import format_tiers, parse_tiers

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
    assert registry.get("BYBIT:SOLUSD").underlying == "SOL"
    assert default_registry().get("BYBIT:BTCUSD").taker_fee == 0.00055


def test_bad_table_row_names_the_field():
    frame = default_registry().to_frame().head(1).assign(**{"Contract Value": -5})
    with pytest.raises(ValueError, match="contract BITMEX:XBTUSD contract_value"):
        default_registry().with_frame(frame)


@pytest.mark.parametrize("text", ["0:0.0.04", "0:1.5", "0:0.01@0.5", "zero:0.01"])
def test_bad_tier_text_names_tiers(text):
    with pytest.raises(ValueError, match="tiers must"):
        parse_tiers(text)
