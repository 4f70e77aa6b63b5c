"""The open hedge end to end on a real workbook: Positions typed, refreshed, monitored."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from xlhedge import xlsxtable
from xlhedge.cli import main
from xlhedge.contracts import default_registry
from xlhedge.excel.workbook import build_workbook
from xlhedge.openpositions import refresh_from, replace_account
from xlhedge.plan import plan_hedge
from xlhedge.sources.positions import PositionsRead, check_spec

BTC = "BINANCE:BTCUSD_PERP"


@pytest.fixture
def book(tmp_path: Path) -> Path:
    """A workbook holding 1.5 BTC at 95,000 and a short of 900 contracts opened at 60,000."""
    path = tmp_path / "Hedge.xlsm"
    build_workbook(path, inventory=pd.DataFrame({
        "Asset": ["BTC"], "Quantity": [1.5], "Price": [95000.0], "Contract": [BTC]}))
    _type_position(path, contracts=900, margin=1.5)
    return path


def _type_position(path: Path, *, contracts: float, margin: float) -> None:
    table = xlsxtable.read_table(path, "Positions")
    typed = {"Contract": BTC, "Side": "short", "Contracts": contracts, "Entry Price": 60000.0,
             "Margin Mode": "isolated", "Margin": margin}
    table = table.astype(object)
    for heading, value in typed.items():
        table.loc[0, heading] = value
    xlsxtable.update_columns(path, "Positions", table, list(typed), backup=False)


def _set_quantity(path: Path, quantity: float) -> None:
    table = xlsxtable.read_table(path, "Inventory").astype({"Quantity": float})
    table.loc[0, "Quantity"] = quantity
    xlsxtable.update_columns(path, "Inventory", table, ["Quantity"], backup=False)


def test_opened_60000_refreshed_95000_then_the_holding_grows(book: Path, capsys) -> None:
    assert main(["refresh", str(book)]) == 0
    row = xlsxtable.read_table(book, "Positions").iloc[0]
    assert row["Target Contracts"] == 900
    assert pd.isna(row["Adjust"]) or row["Adjust"] == ""  # a full hedge needs no trade
    assert row["Unrealised PnL (USD)"] == pytest.approx(-52500)
    assert row["Status"] == "ok"
    # the plan alone would tell 1,425 contracts: the open short already locks the value in
    assert xlsxtable.read_table(book, "Inventory").iloc[0]["Contracts"] == 1425

    _set_quantity(book, 2.0)
    assert main(["refresh", str(book)]) == 0
    row = xlsxtable.read_table(book, "Positions").iloc[0]
    assert row["Target Contracts"] == 1375  # 2 x 95,000 - 52,500 = 137,500 USD
    assert row["Adjust"] == "SELL 475"
    assert "adjust: SELL 475" in row["Status"]


def test_status_exits_1_near_liquidation(book: Path, capsys) -> None:
    assert main(["status", str(book)]) == 0  # 1.5 BTC of margin: a 1x short, never liquidated
    out = capsys.readouterr().out
    assert "1 positions: 0 to adjust, 0 within the minimum liquidation distance" in out
    _type_position(book, contracts=900, margin=0.2)
    assert main(["status", str(book)]) == 1
    out = capsys.readouterr().out
    assert "ADD MARGIN NOW" in out and "LIQUIDATION" in out


def test_status_without_positions_table(tmp_path: Path, capsys) -> None:
    path = tmp_path / "plain.xlsx"
    table = pd.DataFrame({"Asset": ["BTC"], "Quantity": [1.0], "Contract": [BTC],
                          "Price": [60000.0]})
    with pd.ExcelWriter(path, engine="xlsxwriter") as writer:
        table.to_excel(writer, sheet_name="Inventory", index=False)
        writer.sheets["Inventory"].add_table(0, 0, 1, 3, {
            "name": "Inventory", "columns": [{"header": h} for h in table.columns]})
    assert main(["status", str(path)]) == 2
    assert "has no Positions table" in capsys.readouterr().err


def test_a_source_replaces_only_its_account() -> None:
    table = pd.DataFrame({"Account": ["DERIBIT", None, None],
                          "Contract": ["DERIBIT:BTC-PERPETUAL", None, None],
                          "Contracts": [100, None, None], "Notes": ["mine", "", ""]})
    incoming = pd.DataFrame({"Contract": [BTC, "BINANCE:ETHUSD_PERP"], "Contracts": [5, 7]})
    out = replace_account(table, "BINANCE", incoming)
    assert out["Account"].tolist() == ["DERIBIT", "BINANCE", "BINANCE"]
    assert out["Contracts"].tolist() == [100, 5, 7]
    assert out["Notes"].tolist() == ["mine", "", ""]
    with pytest.raises(Exception, match="room for 2 positions of BINANCE but the source gives 3"):
        replace_account(table, "BINANCE", pd.concat([incoming, incoming.iloc[:1]]))


def test_a_failed_source_keeps_the_rows_marked_stale() -> None:
    table = pd.DataFrame({"Account": ["BINANCE"], "Contract": [BTC], "Contracts": [900],
                          "Entry Price": [60000.0], "Margin": [1.5]})
    plan = plan_hedge(pd.DataFrame({"Asset": ["BTC"], "Quantity": [1.5], "Price": [95000.0],
                                    "Contract": [BTC]}))
    read = PositionsRead("ccxt:binance", None, "BINANCE", "binance unreachable")
    out, _ = refresh_from(table, plan, default_registry(), read)
    assert out.loc[0, "Contracts"] == 900
    assert out.loc[0, "Status"] == "stale: binance unreachable; ok"


@pytest.mark.parametrize("spec", ["ccxt:kraken", "tables", "csv:"])
def test_positions_source_forms(spec: str) -> None:
    with pytest.raises(Exception, match='"table", "csv:PATH" or "ccxt:EXCHANGE"'):
        check_spec(spec)


def _sheet_texts(path: Path) -> list[str]:
    import openpyxl

    sheet = openpyxl.load_workbook(path).active
    return [str(c.value) for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]


def test_hedge_sheet_adjusts_what_is_open(book: Path, tmp_path: Path) -> None:
    _set_quantity(book, 2.0)
    out = tmp_path / "sheet.xlsx"
    assert main(["sheet", str(book), "-o", str(out)]) == 0
    texts = _sheet_texts(out)
    assert any(t.startswith("No new position to open") for t in texts)
    assert not any(t.startswith("SELL 1,900 contracts") for t in texts)  # no second full hedge
    assert "SELL 475 contracts of BINANCE:BTCUSD_PERP" in texts
    closing = next(t for t in texts if "BUY 900 contracts of BINANCE:BTCUSD_PERP" in t)
    # 900 x 100 (1/95,000 - 1/60,000) = -0.55263158 BTC, less 0.05% of 0.94736842 BTC
    assert "realises -0.55310526 BTC (-52,545.00 USD)" in closing
    assert "taker fee to close 0.00047368 BTC" in closing


def test_positions_from_a_csv_file(book: Path, tmp_path: Path) -> None:
    csv = tmp_path / "positions.csv"
    csv.write_text("Contract,Side,Contracts,Entry Price,Margin Mode,Margin\n"
                   f"{BTC},short,1000,61000,isolated,1.5\n", encoding="utf-8")
    settings = xlsxtable.read_table(book, "Settings").astype(object)
    settings.loc[settings["Setting"] == "Positions Source", "Value"] = f"csv:{csv}"
    xlsxtable.update_columns(book, "Settings", settings, ["Value"], backup=False)
    assert main(["refresh", str(book)]) == 0
    table = xlsxtable.read_table(book, "Positions")
    rows = table[table["Contract"].notna()]
    assert rows["Contracts"].tolist() == [1000]  # the file's rows replace the typed one
    assert rows["Entry Price"].tolist() == [61000]
    # 1.5 x 95,000 = 142,500 USD less the short's loss 100,000 (1 - 95,000/61,000) =
    # 55,737.70 USD: 86,762.30 USD, 868 contracts of 100 USD
    assert rows["Target Contracts"].iloc[0] == 868


def test_funding_to_date_estimated_from_the_workbook_history(book: Path, capsys) -> None:
    from datetime import datetime

    table = xlsxtable.read_table(book, "Positions").astype(object)
    table.loc[0, "Opened"] = datetime(2026, 11, 1)
    xlsxtable.update_columns(book, "Positions", table, ["Opened"], backup=False)
    history = pd.DataFrame({"Contract": [BTC] * 3, "Time (UTC)": [
        datetime(2026, 10, 31, 16), datetime(2026, 11, 1, 8), datetime(2026, 11, 1, 16)],
        "Rate": [0.001, 0.0001, 0.0002]})
    xlsxtable.update_columns(book, "Funding", history, list(history.columns), backup=False)
    assert main(["status", str(book)]) == 0
    out = capsys.readouterr().out
    assert "funding estimated from the public rates" in out
    # after the opening only: (0.0001 + 0.0002) x 90,000 USD / 95,000 = 0.00028421 BTC
    assert "funding so far +0.00028421" in out


@pytest.mark.parametrize(("typed", "value"), [("Margin Mode", "isolatd"),
                                             ("Account", "Binance ")])
def test_a_position_with_a_typo_still_stops_a_second_hedge(book: Path, tmp_path: Path,
                                                           typed: str, value: str) -> None:
    table = xlsxtable.read_table(book, "Positions").astype(object)
    table.loc[0, typed] = value
    xlsxtable.update_columns(book, "Positions", table, [typed], backup=False)
    out = tmp_path / "sheet.xlsx"
    assert main(["sheet", str(book), "-o", str(out)]) == 0
    texts = _sheet_texts(out)
    assert not any(t.startswith("SELL 1,425 contracts") for t in texts)
    assert any(t.startswith("No new position to open") for t in texts)


def test_a_live_source_replaces_rows_typed_with_a_blank_account() -> None:
    table = pd.DataFrame({"Account": [None, None], "Contract": [BTC, None],
                          "Contracts": [900, None], "Opened": [pd.Timestamp("2026-11-01"), None],
                          "Funding To Date": [0.002, None]})
    incoming = pd.DataFrame({"Contract": [BTC], "Contracts": [1000], "Opened": [None],
                             "Funding To Date": [None]})
    out = replace_account(table, "BINANCE", incoming)
    assert out["Contracts"].tolist()[:1] == [1000] and pd.isna(out["Contracts"].iloc[1])
    # what the exchange does not say (Binance: no opening time) stays as typed
    assert out["Opened"].iloc[0] == pd.Timestamp("2026-11-01")
    assert out["Funding To Date"].iloc[0] == 0.002


def test_the_inventory_says_which_holdings_are_hedged_already(book: Path) -> None:
    from xlhedge.inventory import OPEN_NOTE

    assert main(["refresh", str(book)]) == 0
    status = xlsxtable.read_table(book, "Inventory").iloc[0]["Status"]
    assert OPEN_NOTE in status  # its Contracts (1,425) are not what to trade


def test_review_cases_of_the_positions_table() -> None:
    from datetime import UTC, datetime

    from xlhedge.openpositions import open_keys, opened_since

    table = pd.DataFrame({"Account": [None, "SUB", None],
                          "Contract": [BTC, BTC, "BINANCE:ETHUSD_PERP"],
                          "Contracts": [900, 100, 0],
                          "Opened": [pd.NaT, pd.Timestamp("2026-11-01"), 46327.0],
                          "Funding To Date": [0.01, 0.002, None]})
    # blank and NaT are no date; an Excel serial is one; all in UTC
    assert opened_since(table, "BINANCE") == datetime(2026, 11, 1, tzinfo=UTC)  # 46327
    assert opened_since(table, "SUB") == datetime(2026, 11, 1, tzinfo=UTC)
    # a row of 0 contracts is no open position
    assert open_keys(table, default_registry()) == {("BINANCE", BTC), ("SUB", BTC)}
    # kept values follow their account, not just the contract
    incoming = pd.DataFrame({"Account": ["SUB", "BINANCE"], "Contract": [BTC, BTC],
                             "Contracts": [5, 6]})
    out = replace_account(table, None, incoming)
    assert out["Funding To Date"].tolist()[:2] == [0.002, 0.01]


def test_a_failed_source_marks_blank_account_rows_stale() -> None:
    table = pd.DataFrame({"Account": [None], "Contract": [BTC], "Contracts": [900],
                          "Entry Price": [60000.0], "Margin": [1.5]})
    plan = plan_hedge(pd.DataFrame({"Asset": ["BTC"], "Quantity": [1.5], "Price": [95000.0],
                                    "Contract": [BTC]}))
    read = PositionsRead("ccxt:binance", None, "BINANCE", "binance unreachable")
    out, _ = refresh_from(table, plan, default_registry(), read)
    assert out.loc[0, "Status"].startswith("stale: binance unreachable")


def test_a_missing_key_still_refreshes_the_prices(book: Path, monkeypatch, capsys) -> None:
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    settings = xlsxtable.read_table(book, "Settings").astype(object)
    settings.loc[settings["Setting"] == "Positions Source", "Value"] = "ccxt:binance"
    xlsxtable.update_columns(book, "Settings", settings, ["Value"], backup=False)
    for name in ("KEY", "SECRET"):
        monkeypatch.delenv(f"XLHEDGE_BINANCE_{name}", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        assert main(["refresh", str(book)]) == 2
    finally:
        keyring.set_keyring(previous)
    assert "XLHEDGE_BINANCE_KEY" in capsys.readouterr().err
    inventory = xlsxtable.read_table(book, "Inventory")
    assert inventory.iloc[0]["Contracts"] == 1425  # the prices and plan were written
