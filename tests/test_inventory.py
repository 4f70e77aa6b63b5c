"""The Inventory table refresh and the pure parts of the button macros."""

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from xlhedge import default_registry, plan_hedge
from xlhedge.examples import example_inventory
from xlhedge.excel.cells import cell_values
from xlhedge.hedgesheet import hedge_sheet_path, make_sheet_file
from xlhedge.inventory import (
    column_blocks,
    plan_shown,
    refresh_table,
    refreshed_columns,
)
from xlhedge.settings import settings_from_table
from xlhedge.sources import Quote, get_source


class FixedSource:
    """A price source that answers from a dict, or with an error."""

    name = "fixed"

    def __init__(self, quotes):
        self._quotes = quotes

    def quotes(self, requests, progress=None):
        out = [self._quotes.get(r.asset, Quote(error="timeout after 10 s")) for r in requests]
        if progress:
            progress(len(out), len(out))
        return out


def test_computed_columns_equal_plan_hedge():
    table = example_inventory()
    result = refresh_table(table, get_source("table"))
    plan = plan_hedge(table)
    assert result["Settle"].tolist() == ["BTC", "ETH", "BTC", "ETH", "BTC", "BTC"]
    numbers = {h: c.key for h, c in plan_shown().items() if c.unit != "text"}
    for column, name in numbers.items():
        expected = [("never" if np.isinf(v) else None if np.isnan(v) else v)
                    for v in plan[name]]
        assert result[column].tolist() == pytest.approx(expected) if column != "Liq. Price" else (
            result[column].tolist() == expected)


def test_user_columns_and_blank_rows_kept():
    table = example_inventory().assign(Note=["mine"] * 6)
    table.loc[len(table)] = [None] * len(table.columns)
    result = refresh_table(table, get_source("table"))
    assert result["Note"].tolist()[:6] == ["mine"] * 6
    assert result.iloc[-1][list(plan_shown())].isna().all()
    assert result.iloc[-1]["Status"] is None or pd.isna(result.iloc[-1]["Status"])


def test_bad_rows_get_status_others_computed():
    table = example_inventory().astype({"Quantity": object})
    table.loc[0, "Quantity"] = "lots"
    table.loc[1, "Contract"] = "BINANCE:ETHUSD"
    result = refresh_table(table, get_source("table"))
    assert result.loc[0, "Status"].startswith("error: quantity must be a number")
    assert "unknown contract 'BINANCE:ETHUSD' (did you mean" in result.loc[1, "Status"]
    assert result.loc[2, "Contracts"] == 15000


def test_quotes_fill_prices_and_failures_are_stale():
    table = example_inventory()
    when = datetime(2026, 11, 22, 12, 0)
    source = FixedSource({"BTC": Quote(price=70000, mark_price=70010, funding_rate=0.0002,
                                       updated=when)})
    result = refresh_table(table, source)
    btc = result[result["Asset"] == "BTC"]
    assert (btc["Price"] == 70000).all() and (btc["Updated"] == when).all()
    eth = result[result["Asset"] == "ETH"]
    assert (eth["Price"] == 3000).all()  # previous values kept
    assert eth["Status"].str.startswith("stale: timeout after 10 s").all()


def test_cell_values_keep_formula_text_as_text():
    frame = pd.DataFrame({"Asset": ["=HYPERLINK(\"x\")", "+1", "BTC"], "n": [1.0, np.nan, 2]})
    assert cell_values(frame) == [["'=HYPERLINK(\"x\")", 1.0], ["'+1", None], ["BTC", 2.0]]


def test_settings_defaults_and_values():
    frame = pd.DataFrame({"Setting": ["Price Source", "Paper"], "Value": ["ccxt:okx", None]})
    settings = settings_from_table(frame)
    assert settings["Price Source"] == "ccxt:okx" and settings["Paper"] == "A4"


def test_hedge_sheet_file_from_inputs(tmp_path):
    table = example_inventory().assign(Contracts=999999.0)  # stale computed column is ignored
    path = make_sheet_file(table, settings_from_table(None), default_registry(),
                           tmp_path / "Book.xlsm", datetime(2026, 11, 22, 9, 30))
    assert path == hedge_sheet_path(tmp_path / "Book.xlsm", "", datetime(2026, 11, 22, 9, 30))
    assert path.name == "HedgeSheet-20261122-093000.xlsx" and path.exists()


def test_stale_prices_and_their_time_reach_the_sheet(tmp_path):
    import openpyxl

    table = example_inventory().head(2)
    table["Updated"] = [datetime(2026, 11, 20, 8, 0), datetime(2026, 11, 21, 8, 0)]
    table["Status"] = ["stale: binance unreachable", "ok"]
    path = make_sheet_file(table, settings_from_table(None), default_registry(),
                           tmp_path / "Book.xlsm", datetime(2026, 11, 22, 9, 30))
    texts = [c.value for row in openpyxl.load_workbook(path).active.iter_rows() for c in row
             if isinstance(c.value, str)]
    assert "2026-11-20 08:00:00 UTC" in texts  # the oldest price, not the time of the sheet
    stale = [t for t in texts if t.startswith("STALE PRICES")]
    assert stale == ["STALE PRICES for 1 holding(s): the last good prices are used. "
                     "BTC: binance unreachable"]


def test_contract_value_reported_by_the_exchange_is_checked():
    table = example_inventory().head(1)
    source = FixedSource({"BTC": Quote(price=60000, contract_size=10.0)})
    status = refresh_table(table, source).loc[0, "Status"]
    assert "exchange reports a contract value of 10, the spec 100" in status
    same = FixedSource({"BTC": Quote(price=60000, contract_size=100.0)})
    assert refresh_table(table, same).loc[0, "Status"] == "ok"


def test_refreshed_columns_keep_typed_prices_for_the_table_source():
    assert "Price" not in refreshed_columns(get_source("table"))
    assert "Price" in refreshed_columns(FixedSource({}))
    assert "Status" in refreshed_columns(get_source("table"))


def test_column_blocks():
    header = ["Asset", "Price", "Mine", "Notional (USD)", "Contracts", "Status"]
    assert column_blocks(header, ["Status", "Contracts", "Notional (USD)", "Price"]) == [
        (1, 2), (3, 6)]


def test_a_table_refresh_stamps_updated():
    when = datetime(2026, 11, 22, 9, 30)
    result = refresh_table(example_inventory(), get_source("table"), now=when)
    assert result["Updated"].tolist() == [when] * 6
    assert "Updated" in refreshed_columns(get_source("table"))
    assert "Price" not in refreshed_columns(get_source("table"))  # typed prices stay


def test_documented_aliases_read_as_their_column():
    from xlhedge.inventory import canonical_inputs, missing_inputs

    table = example_inventory().rename(columns={"Quantity": "Qty", "Asset": "Coin"})
    fixed = canonical_inputs(table)
    missing_inputs(fixed.columns)  # no error: Qty is Quantity, Coin is Asset
    assert fixed["Quantity"].tolist() == table["Qty"].tolist()
