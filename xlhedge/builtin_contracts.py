"""Built-in contract specs: a dated snapshot of the exchanges' published numbers.

Exchanges change tiers, ticks and fees often; users override any of these from the workbook's
Contracts table. Each spec names where its numbers were read.
"""

from __future__ import annotations

from datetime import date

from xlhedge.contracts import ContractSpec, parse_tiers

AS_OF = date(2026, 11, 22)


def _spec(symbol: str, tiers: str, **fields: object) -> ContractSpec:
    exchange = symbol.split(":", 1)[0]
    return ContractSpec.model_validate(
        {"symbol": symbol, "exchange": exchange, "tiers": parse_tiers(tiers), "as_of": AS_OF}
        | fields
    )


BUILTIN_SPECS: tuple[ContractSpec, ...] = (
    _spec(
        "BITMEX:XBTUSD",
        "0:0.005@100",
        underlying="BTC",
        contract_type="inverse",
        contract_value=1.0,
        settle="BTC",
        tick_size=0.1,
        lot_size=100,
        min_order=100,
        maker_fee=0.0005,
        taker_fee=0.0005,
        max_leverage=100,
        source="ccxt static fixture markets/bitmex.json, 2026-05-21 (lot 100, tick 0.1, MM 0.5%, "
        "fees 0.05%); BitMEX Risk Limits Examples: base 200 XBT, then +0.5% on the whole "
        "position per 150 XBT (not modelled: base tier only)",
    ),
    _spec(
        "BYBIT:BTCUSD",
        "0:0.005@100",
        underlying="BTC",
        contract_type="inverse",
        contract_value=1.0,
        settle="BTC",
        tick_size=0.5,
        lot_size=1,
        min_order=1,
        maker_fee=0.0002,
        taker_fee=0.00055,
        max_leverage=100,
        source="Bybit help: Introduction to Inverse Perpetual Contract; Bybit v5 risk-limit "
        "example (tier 1 to 150 BTC, MM 0.5%, 100x; higher tiers not published there); "
        "Bybit trading fee page",
    ),
    _spec(
        "BYBIT:ETHUSD",
        "0:0.01@50",
        underlying="ETH",
        contract_type="inverse",
        contract_value=1.0,
        settle="ETH",
        tick_size=0.05,
        lot_size=1,
        min_order=1,
        maker_fee=0.0002,
        taker_fee=0.00055,
        max_leverage=50,
        source="Bybit help: Risk Limit (Inverse Contract): MM base rate 1% for ETH; "
        "Bybit trading fee page; tick unconfirmed",
    ),
    _spec(
        "BINANCE:BTCUSD_PERP",
        "0:0.004@125; 5:0.005@100; 10:0.01@50; 20:0.025@20; 50:0.05@10; 100:0.1@5; "
        "200:0.125@4; 400:0.15@3; 1000:0.25@2; 1500:0.5@1",
        underlying="BTC",
        contract_type="inverse",
        contract_value=100.0,
        settle="BTC",
        tick_size=0.1,
        lot_size=1,
        min_order=1,
        maker_fee=0.0002,
        taker_fee=0.0005,
        max_leverage=125,
        source="Binance FAQ: COIN-M contract multiplier 100 USD; brackets reconstructed from "
        "Binance's liquidation FAQ (300 BTC: MMR 12.5%, maintenance amount 11.605 BTC) and "
        "dev.binance.vision thread 6292; Binance fee FAQ",
    ),
    _spec(
        "BINANCE:ETHUSD_PERP",
        "0:0.005@75; 150:0.0065@50; 500:0.01@25; 1500:0.02@10; 5000:0.05@5; 15000:0.1@4; "
        "30000:0.125@3; 50000:0.15@2; 100000:0.25@1",
        underlying="ETH",
        contract_type="inverse",
        contract_value=10.0,
        settle="ETH",
        tick_size=0.01,
        lot_size=1,
        min_order=1,
        maker_fee=0.0002,
        taker_fee=0.0005,
        max_leverage=75,
        source="Binance FAQ: COIN-M alt contracts 10 USD; brackets unconfirmed (leverage "
        "ladder from Binance's 2020 FAQ, MMRs not published there); Binance fee FAQ",
    ),
    _spec(
        "OKX:BTC-USD-SWAP",
        "0:0.004@125",
        underlying="BTC",
        contract_type="inverse",
        contract_value=100.0,
        settle="BTC",
        tick_size=0.1,
        lot_size=1,
        min_order=1,
        maker_fee=0.0002,
        taker_fee=0.0005,
        max_leverage=125,
        source="OKX help: perpetual swap contract specifications; fees and tiers unconfirmed",
    ),
    _spec(
        "OKX:ETH-USD-SWAP",
        "0:0.005@100",
        underlying="ETH",
        contract_type="inverse",
        contract_value=10.0,
        settle="ETH",
        tick_size=0.01,
        lot_size=1,
        min_order=1,
        maker_fee=0.0002,
        taker_fee=0.0005,
        max_leverage=100,
        source="OKX help: perpetual swap contract specifications; fees and tiers unconfirmed",
    ),
    _spec(
        "DERIBIT:BTC-PERPETUAL",
        "0:0.00525@50",
        underlying="BTC",
        contract_type="inverse",
        contract_value=10.0,
        settle="BTC",
        tick_size=0.5,
        lot_size=1,
        min_order=1,
        maker_fee=0.0,
        taker_fee=0.0005,
        max_leverage=50,
        source="Deribit docs: perpetual (10 USD contracts, tick 0.5, fees 0.05%/0%); "
        "MM base rate only (Deribit adds a size-dependent part)",
    ),
    _spec(
        "DERIBIT:ETH-PERPETUAL",
        "0:0.00525@50",
        underlying="ETH",
        contract_type="inverse",
        contract_value=1.0,
        settle="ETH",
        tick_size=0.05,
        lot_size=1,
        min_order=1,
        maker_fee=0.0,
        taker_fee=0.0005,
        max_leverage=50,
        source="Deribit docs: perpetual; contract value 1 USD and tick 0.05 unconfirmed",
    ),
    _spec(
        "BINANCE:BTCUSDT",
        "0:0.004@125; 50000:0.005@100; 250000:0.01@50; 1000000:0.025@20; 10000000:0.05@10; "
        "20000000:0.1@5; 50000000:0.125@4; 100000000:0.15@3; 200000000:0.25@2; "
        "300000000:0.5@1",
        underlying="BTC",
        quote="USDT",
        contract_type="linear",
        contract_value=1.0,
        settle="USDT",
        tick_size=0.1,
        lot_size=0.001,
        min_order=0.001,
        maker_fee=0.0002,
        taker_fee=0.0005,
        max_leverage=125,
        source="Binance announcement: Updates to Leverage and Margin Tiers of Binance Futures "
        "Contracts (2021-03-18) (linear, for comparison)",
    ),
    _spec(
        "BYBIT:BTCUSDT",
        "0:0.005@100; 2000000:0.01@57.14",
        underlying="BTC",
        quote="USDT",
        contract_type="linear",
        contract_value=1.0,
        settle="USDT",
        tick_size=0.1,
        lot_size=0.001,
        min_order=0.001,
        maker_fee=0.0002,
        taker_fee=0.00055,
        max_leverage=100,
        source="Bybit USDT perpetual liquidation price pages (MMR 0.5%); Bybit v5 risk-limit "
        "example (2,000,000 USDT tier 1); Bybit trading fee page",
    ),
)
