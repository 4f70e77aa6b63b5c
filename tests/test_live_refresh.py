"""``xlhedge refresh`` from a live source, end to end against the local exchange server: the
Funding table grows with the rates paid since its last row, the Inventory gets the 30-day
average and a cross-hedge's Suggested Ratio, and a source that fails loses no history."""

from __future__ import annotations

import json
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from xlhedge import xlsxtable
from xlhedge.cli import main
from xlhedge.excel.workbook import build_workbook

DATA = Path(__file__).parent / "data" / "ccxt"
SINCE = datetime(2026, 11, 20, tzinfo=UTC)  # the fixtures' first funding page starts here
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
BTC = "BINANCE:BTCUSD_PERP"
FUNDING = "/dapi.binance.com/dapi/v1/fundingRate"


def _redirect(monkeypatch: pytest.MonkeyPatch, module: Any, name: str, base: str) -> None:
    real = getattr(module, name)
    monkeypatch.setattr(module, name, lambda *a, **k: real(*a, **{**k, "api_base": base}))


@pytest.fixture
def live(serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    pytest.importorskip("ccxt")
    import xlhedge.inventory
    import xlhedge.sources
    import xlhedge.sources.history

    routes = json.loads((DATA / "binance.json").read_text(encoding="utf-8"))
    routes.update(json.loads((DATA / "history" / "binance.json").read_text(encoding="utf-8")))
    server = serve(routes)
    for module, name in ((xlhedge.sources, "get_source"),
                         (xlhedge.sources.history, "funding_history"),
                         (xlhedge.sources.history, "daily_closes")):
        _redirect(monkeypatch, module, name, server.base)
    monkeypatch.setattr(xlhedge.inventory, "now_utc", lambda: NOW)
    path = tmp_path / "Hedge.xlsm"
    build_workbook(path, inventory=pd.DataFrame({
        "Asset": ["BTC", "SOL"], "Quantity": [1.0, 100.0], "Price": [62000.0, 150.0],
        "Contract": [BTC, BTC], "Hedge Ratio": [1.0, "auto"]}))
    settings = xlsxtable.read_table(path, "Settings").astype(object)
    for name, value in (("Price Source", "ccxt:binance"), ("Ratio Window", "4")):
        settings.loc[settings["Setting"] == name, "Value"] = value
    xlsxtable.update_columns(path, "Settings", settings, ["Value"], backup=False)
    # one row already held, 1 ms before the fixtures' first page: the refresh resumes there
    seed = pd.DataFrame({"Contract": [BTC], "Time (UTC)": [datetime(2026, 11, 19, 23, 59, 59,
                                                                    999000)],
                         "Rate": [0.0001]})
    xlsxtable.update_columns(path, "Funding", seed, list(seed.columns), backup=False)
    return server, path


def test_live_refresh_grows_the_history_and_fills_the_inventory(live: Any) -> None:
    _, path = live
    assert main(["refresh", str(path)]) == 0
    history = xlsxtable.read_table(path, "Funding")
    assert len(history) == 7 and (history["Contract"] == BTC).all()
    assert history["Rate"].tolist() == [0.0001, 0.0001, 0.0001, -0.00005, 0.0002, 0.0001,
                                        0.0001]
    assert history["Time (UTC)"].iloc[-1] == datetime(2026, 11, 21, 16)
    stats = xlsxtable.read_table(path, "FundingStats").set_index("Contract")
    assert stats.at[BTC, "Status"] == "ok"
    assert stats.at[BTC, "Next Funding (UTC)"] == datetime(2026, 11, 22, 8)
    assert stats.at[BTC, "Shorts Paid"] == pytest.approx(1 / 7)
    inventory = xlsxtable.read_table(path, "Inventory")
    average = inventory["Funding 30d Avg (yearly)"].tolist()
    assert average[0] == average[1] == pytest.approx(stats.at[BTC, "30d (yearly)"])
    sol = inventory.iloc[1]
    # SOL/USDT's daily returns are exactly 1.5 times BTCUSD_PERP's (the kline fixtures)
    assert sol["Suggested Ratio"] == pytest.approx(1.5)
    assert sol["R²"] == pytest.approx(1.0)
    assert "error" not in str(sol["Status"])


def test_a_failing_source_loses_no_history(live: Any) -> None:
    server, path = live
    assert main(["refresh", str(path)]) == 0
    before = xlsxtable.read_table(path, "Funding")
    server.fail[FUNDING] = 500
    assert main(["refresh", str(path)]) == 0
    after = xlsxtable.read_table(path, "Funding")
    pd.testing.assert_frame_equal(after, before)
    stats = xlsxtable.read_table(path, "FundingStats").set_index("Contract")
    assert str(stats.at[BTC, "Status"]).startswith("stale: ")
    assert stats.at[BTC, "Last Rate"] == pytest.approx(0.0001)  # still there


def test_a_shorter_window_leaves_blank_rows(live: Any) -> None:
    _, path = live
    assert main(["refresh", str(path)]) == 0
    settings = xlsxtable.read_table(path, "Settings").astype(object)
    settings.loc[settings["Setting"] == "Funding Window", "Value"] = "1"  # from 21 Nov 12:00
    xlsxtable.update_columns(path, "Settings", settings, ["Value"], backup=False)
    assert main(["refresh", str(path)]) == 0
    history = xlsxtable.read_table(path, "Funding")
    kept = history[history["Contract"].notna()]
    assert kept["Time (UTC)"].tolist() == [datetime(2026, 11, 21, 16)]
    bounds = xlsxtable.table_info(path, "Funding").bounds  # the table keeps its 7 body rows,
    assert bounds[3] - bounds[1] == 7  # the ones left blank


def test_inventory_aliases_are_read_as_the_plan_reads_them(live: Any) -> None:
    _, path = live
    with zipfile.ZipFile(path) as package:  # the user renamed the heading Asset to Coin
        members = {n: package.read(n) for n in package.namelist()}
    info = xlsxtable.table_info(path, "Inventory")
    for part in (info.sheet_part, info.table_part):
        members[part] = members[part].replace(b'"Asset"', b'"Coin"').replace(
            b">Asset<", b">Coin<")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in members.items():
            package.writestr(name, data)
    assert "Coin" in xlsxtable.read_table(path, "Inventory").columns
    assert main(["refresh", str(path)]) == 0
    sol = xlsxtable.read_table(path, "Inventory").iloc[1]
    assert sol["Suggested Ratio"] == pytest.approx(1.5)
