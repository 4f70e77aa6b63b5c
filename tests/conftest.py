"""Shared fixtures."""

import os
import shutil
import subprocess
from pathlib import Path

import exchange_server  # tests/exchange_server.py
import pytest
from hypothesis import settings

# Property tests check values, not speed: no per-example deadline on a busy 2-core machine.
settings.register_profile("xlhedge", deadline=None, print_blob=True)
settings.load_profile("xlhedge")


@pytest.fixture
def soffice() -> str:
    """LibreOffice's soffice; skipped where it is missing, but never under CI=true."""
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is required under CI; .ci/run installs it")
        pytest.skip("LibreOffice is not installed")
    return found


@pytest.fixture
def pdf_text(soffice, tmp_path):
    """Convert a workbook to PDF with LibreOffice and return the PDF's text."""

    def convert(path: Path) -> str:
        subprocess.run(
            [soffice, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
             "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
            check=True, capture_output=True, timeout=180,
        )
        pdf = tmp_path / f"{path.stem}.pdf"
        return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                              capture_output=True, text=True).stdout

    return convert


@pytest.fixture
def no_internet(monkeypatch: pytest.MonkeyPatch):
    """Connections and name lookups beyond loopback fail, are recorded, and fail the test."""
    yield from exchange_server.no_internet(monkeypatch)


@pytest.fixture
def serve(no_internet):
    """``serve(fixture)``: a running ExchangeServer replaying that fixture (name or dict)."""
    yield from exchange_server.serve(no_internet)
