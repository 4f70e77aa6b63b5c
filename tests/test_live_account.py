"""Positions read from the exchange account through the command line, against the local
signed-request server: the Positions table mirrors the account, and the API key and secret reach
no file, output or log of the run."""

from __future__ import annotations

import json
import logging
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from exchange_server import signature_check

from xlhedge import xlsxtable
from xlhedge.cli import main
from xlhedge.excel.workbook import build_workbook

DATA = Path(__file__).parent / "data" / "ccxt"
KEY = "xlhedgeCliKey0123456789abcdefABCDEFxyz"
SECRET = "xlhedgeCliSecret9876543210zyxwvuZYXWVUq"
NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)


@pytest.fixture
def account(serve: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Binance's COIN-M account on the local server; the workbook reads it (Positions Source
    ccxt:binance) with the key in the environment."""
    pytest.importorskip("ccxt")
    import xlhedge.sources.account as account_module

    routes = json.loads((DATA / "binance.json").read_text(encoding="utf-8"))
    routes.update(json.loads((DATA / "account" / "binance.json").read_text(encoding="utf-8")))
    server = serve(routes)
    server.check = signature_check("binance", KEY, SECRET)
    real = account_module.AccountSource
    monkeypatch.setattr(account_module, "AccountSource", lambda *args, **kwargs: real(
        *args, **{**kwargs, "api_base": server.base, "clock": lambda: NOW}))
    monkeypatch.setenv("XLHEDGE_BINANCE_KEY", KEY)
    monkeypatch.setenv("XLHEDGE_BINANCE_SECRET", SECRET)
    path = tmp_path / "Hedge.xlsm"
    build_workbook(path, inventory=pd.DataFrame({
        "Asset": ["BTC", "ETH"], "Quantity": [0.0, 3.0], "Price": [38000.0, 2300.0],
        "Contract": ["BINANCE:BTCUSD_PERP", "BINANCE:ETHUSD_PERP"]}))
    settings = xlsxtable.read_table(path, "Settings").astype(object)
    settings.loc[settings["Setting"] == "Positions Source", "Value"] = "ccxt:binance"
    xlsxtable.update_columns(path, "Settings", settings, ["Value"], backup=False)
    return server, path


def _everything_written(folder: Path) -> bytes:
    """Every file under ``folder``, workbook members decompressed."""
    blobs = []
    for file in folder.rglob("*"):
        if file.is_file():
            blobs.append(file.read_bytes())
            if zipfile.is_zipfile(file):
                with zipfile.ZipFile(file) as package:
                    blobs += [package.read(name) for name in package.namelist()]
    return b"\n".join(blobs)


def test_positions_from_the_account_and_no_secret_anywhere(
        account: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    server, path = account
    caplog.set_level(logging.DEBUG)
    assert main(["refresh", str(path)]) == 0
    table = xlsxtable.read_table(path, "Positions")
    rows = table[table["Contract"].notna()]
    assert rows["Contract"].tolist() == ["BINANCE:BTCUSD_PERP", "BINANCE:ETHUSD_PERP"]
    assert rows["Account"].tolist() == ["BINANCE", "BINANCE"]
    assert rows["Side"].tolist() == ["long", "short"]
    assert rows["Contracts"].tolist() == [2, 600]
    assert rows["Margin"].tolist() == [0.00268058, 2.6]  # the cross wallet's 2.6 ETH, not 0
    eth = rows.iloc[1]
    assert eth["Entry Price"] == 2310.5 and eth["Margin Mode"] == "cross"
    btc = rows.iloc[0]
    assert "not a hedge" in btc["Status"]
    status = main(["status", str(path)])
    sheet = tmp_path / "sheet.xlsx"
    assert main(["sheet", str(path), "-o", str(sheet)]) == 0
    out = capsys.readouterr()
    assert status in (0, 1) and "BINANCE:ETHUSD_PERP" in out.out
    assert server.refused == [] and set(server.methods) == {"GET"}
    seen = _everything_written(tmp_path) + out.out.encode() + out.err.encode() + \
        caplog.text.encode()
    for secret in (KEY, SECRET):
        assert secret.encode() not in seen


def test_a_refused_key_keeps_the_rows_and_says_why(
        account: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    _, path = account
    assert main(["refresh", str(path)]) == 0
    monkeypatch.setenv("XLHEDGE_BINANCE_SECRET", SECRET + "wrong")
    assert main(["refresh", str(path)]) == 0
    out = capsys.readouterr()
    assert "rejected the API key" in out.err and "marked stale" in out.err
    table = xlsxtable.read_table(path, "Positions")
    rows = table[table["Contract"].notna()]
    assert rows["Contracts"].tolist() == [2, 600]
    assert all(s.startswith("stale: binance rejected the API key") for s in rows["Status"])
    for secret in (KEY, SECRET, SECRET + "wrong"):
        assert secret.encode() not in _everything_written(tmp_path) + out.err.encode()


def test_a_missing_key_names_where_it_was_looked_for(
        account: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import keyring
    from keyring.backends.fail import Keyring as NoKeyring

    _, path = account
    monkeypatch.delenv("XLHEDGE_BINANCE_SECRET")
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        assert main(["status", str(path)]) == 2
    finally:
        keyring.set_keyring(previous)
    err = capsys.readouterr().err
    assert "XLHEDGE_BINANCE_SECRET" in err and KEY not in err
