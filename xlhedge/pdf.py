"""PDF copies of hedge sheets, printed by LibreOffice (``soffice --headless``).

Each conversion runs LibreOffice with its own throw-away user profile, so conversions may run in
parallel (and beside a LibreOffice the user has open), and is killed after a time-out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from xlhedge.files import atomic_path

DEBIAN_PACKAGE = "libreoffice-calc"
DEFAULT_TIMEOUT = 120.0  # seconds; the first run of a fresh profile takes a few
_CANDIDATES = (
    "soffice",
    "libreoffice",
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    r"C:\Program Files\LibreOffice\program\soffice.exe",
)


class LibreOfficeMissingError(RuntimeError):
    """LibreOffice (``soffice``) is not installed, or not on the PATH."""

    def __init__(self) -> None:
        super().__init__(
            "LibreOffice is needed to print the hedge sheet to PDF, but soffice was not found. "
            f"Install it (Debian/Ubuntu: sudo apt-get install {DEBIAN_PACKAGE}), put soffice on "
            "the PATH, or set XLHEDGE_SOFFICE to its full path."
        )


class PdfConversionError(RuntimeError):
    """LibreOffice ran but gave no PDF (bad input, crash or time-out)."""


def find_soffice() -> str | None:
    """Path of the LibreOffice executable: ``$XLHEDGE_SOFFICE``, the PATH, the usual places."""
    configured = os.environ.get("XLHEDGE_SOFFICE")
    if configured:
        return configured if Path(configured).is_file() else None
    for candidate in _CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def libreoffice_available() -> bool:
    """True when LibreOffice can be run to make PDFs."""
    return find_soffice() is not None


def to_pdf(
    xlsx_path: str | os.PathLike[str],
    pdf_path: str | os.PathLike[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Path:
    """Print ``xlsx_path`` to ``pdf_path`` with LibreOffice, using the sheet's page setup.

    Raises ``LibreOfficeMissingError`` when LibreOffice is not installed and
    ``PdfConversionError`` when it fails or takes longer than ``timeout`` seconds. The PDF is
    renamed into place, so ``pdf_path`` is never left half written.
    """
    source = Path(xlsx_path).resolve()
    if not source.is_file():
        raise FileNotFoundError(f"no such workbook: {source}")
    soffice = find_soffice()
    if soffice is None:
        raise LibreOfficeMissingError()
    target = Path(pdf_path)
    with tempfile.TemporaryDirectory(prefix="xlhedge-pdf-") as work:
        profile, outdir = Path(work, "profile"), Path(work, "out")
        outdir.mkdir()
        command = [
            soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--invisible",
            "--nologo", "--nodefault", "--norestore", "--nolockcheck",
            "--convert-to", "pdf:calc_pdf_Export", "--outdir", str(outdir), str(source),
        ]
        output = _run(command, timeout)
        produced = outdir / f"{source.stem}.pdf"
        if not produced.is_file() or produced.stat().st_size == 0:
            raise PdfConversionError(
                f"LibreOffice made no PDF of {source.name}: {output.strip() or 'no output'}"
            )
        with atomic_path(target) as temp:
            shutil.copyfile(produced, temp)
    return target


def _run(command: list[str], timeout: float) -> str:
    """Run ``command`` in its own process group; kill the whole group on time-out."""
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # LibreOffice's own Python must not see ours
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env=env, start_new_session=os.name == "posix",
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(process)
        raise PdfConversionError(
            f"LibreOffice took longer than {timeout:g} s to print the PDF and was stopped"
        ) from None
    text = output.decode(errors="replace") if output else ""
    if process.returncode != 0:
        raise PdfConversionError(f"LibreOffice failed (exit {process.returncode}): {text.strip()}")
    return text


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError, OSError):
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.communicate(timeout=10)
