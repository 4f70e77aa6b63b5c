"""Writing files without ever leaving a half-written one: temporary file, then atomic replace."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

FORMULA_START = ("=", "+", "-", "@")


class FileWriteError(OSError):
    """A file could not be written; the original (if any) is unchanged."""


def _default_mode() -> int:
    """What ``open()`` would give a new file: 0o666 less the umask (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def backup_path(path: Path) -> Path:
    """``HedgePlanner.xlsm`` -> ``HedgePlanner.bak.xlsm`` beside it."""
    return path.with_name(f"{path.stem}.bak{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, backup: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    With ``backup``, an existing ``path`` is first copied to :func:`backup_path`. On any error the
    temporary file is removed and ``path`` is left as it was.
    """
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.stem}-", suffix=target.suffix,
                                        dir=folder)
    except OSError as exc:
        raise FileWriteError(f"cannot write in {folder}: {exc.strerror or exc}") from exc
    os.close(handle)
    temp = Path(name)
    os.chmod(temp, target.stat().st_mode & 0o7777 if target.exists() else _default_mode())
    try:
        yield temp
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        if backup and target.exists():
            shutil.copy2(target, backup_path(target))
        os.replace(temp, target)
    except OSError as exc:
        raise FileWriteError(
            f"could not write {target}: {exc.strerror or exc}; the original is unchanged"
        ) from exc
    finally:
        temp.unlink(missing_ok=True)


def write_atomically(
    path: str | os.PathLike[str], write: Callable[[Path], object], *, backup: bool = False
) -> Path:
    """Call ``write(temp_path)`` and move the result onto ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path, backup=backup) as temp:
        write(temp)
    return Path(path)


def text_safe_for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Text that a spreadsheet would run as a formula gets a leading apostrophe (OWASP advice)."""

    def guard(value: object) -> object:
        if isinstance(value, str) and value.startswith(FORMULA_START):
            return "'" + value
        return value

    return frame.map(guard)


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str], sheet: str = "Plan") -> Path:
    """Write a table to .csv or .xlsx atomically; formula-like text stays text in both."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        return write_atomically(target, lambda p: text_safe_for_csv(frame).to_csv(p, index=False))
    if suffix == ".xlsx":

        def write_xlsx(temp: Path) -> None:
            options = {"options": {"strings_to_formulas": False, "strings_to_urls": False}}
            with pd.ExcelWriter(temp, engine="xlsxwriter", engine_kwargs=options) as writer:
                frame.to_excel(writer, sheet_name=sheet, index=False)

        return write_atomically(target, write_xlsx)
    raise ValueError(f"--out must end in .csv or .xlsx (got {target.name!r})")
