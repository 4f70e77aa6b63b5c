"""Writing files without ever leaving a half-written one: temporary file, then atomic replace."""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

FORMULA_START = ("=", "+", "-", "@")


class FileWriteError(OSError):
    """A file could not be written; the original (if any) is unchanged."""


def _default_mode() -> int:
    """What ``open()`` would give a new file: 0o666 less the umask (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def real_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` replaces: a symbolic link's target (followed to the end),
    else ``path`` itself."""
    return Path(os.path.realpath(path)) if Path(path).is_symlink() else Path(path)


def backup_path(path: Path) -> Path:
    """``HedgePlanner.xlsm`` -> ``HedgePlanner.bak.xlsm`` beside it."""
    return path.with_name(f"{path.stem}.bak{path.suffix}")


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike[str], *, backup: bool = False,
    mode_from: str | os.PathLike[str] | None = None,
) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block ends it replaces ``path``.

    The temporary file gets ``path``'s permissions (or ``mode_from``'s, or a new file's), is
    fsynced, and is moved onto ``path`` with :func:`os.replace`; the folder is fsynced after. With
    ``backup``, an existing ``path`` is first copied to :func:`backup_path` the same way. On any
    error the temporary files are removed and ``path`` is left as it was; an ``OSError`` becomes
    a :class:`FileWriteError` that says so.

    A symbolic link is written through: its target is replaced (the temporary file and the backup
    beside the target), and the link stays a link. A hard link is not kept: the replace gives
    ``path`` a new file, and the file's other names keep the old content. Temporary files of
    ours that an earlier, killed run left beside the target (older than
    :data:`STALE_TEMP_SECONDS`) are removed first.
    """
    target = real_target(path)
    remove_stale_temporaries(target)
    temp = _temp_beside(target, "new")
    spare: Path | None = None
    try:
        yield temp
        _fsync(temp)
        source = target if target.exists() else Path(mode_from) if mode_from else None
        os.chmod(temp, stat.S_IMODE(source.stat().st_mode) if source else _default_mode())
        if backup and target.exists():
            spare = _temp_beside(target, "bak")
            shutil.copy2(target, spare)
            _fsync(spare)
            os.replace(spare, backup_path(target))
        os.replace(temp, target)
        _fsync_folder(target.parent)
    except FileWriteError:
        raise
    except OSError as exc:
        raise FileWriteError(
            f"could not write {target} ({exc.strerror or exc}): check that the folder is "
            "writable, the disk is not full and the file is not open in another program, then "
            "retry. The original file was not changed."
        ) from exc
    finally:
        for leftover in (temp, spare):
            if leftover is not None:
                leftover.unlink(missing_ok=True)


STALE_TEMP_SECONDS = 600.0
"""A temporary file of ours older than this (10 minutes) is left over from a killed run."""
_TAGS = ("new", "bak")


def remove_stale_temporaries(target: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Remove the ``.<stem>.XXXXXXXX.new.tmp`` / ``.bak.tmp`` files :func:`atomic_path` makes
    beside ``target`` that are older than ``older_than`` seconds (a run killed with ``kill -9``
    cannot clean up); return the ones removed. Other files, and fresh ones (a run in progress),
    stay."""
    folder = target.parent if str(target.parent) else Path(".")
    pattern = re.compile(re.escape(f".{target.stem}.") + r"[A-Za-z0-9_]{8}\.(?:"
                         + "|".join(_TAGS) + r")\.tmp")
    removed: list[Path] = []
    now = time.time()
    try:
        candidates = list(folder.glob(f".{glob.escape(target.stem)}.*.tmp"))
    except OSError:
        return removed
    for candidate in candidates:
        try:
            info = candidate.lstat()
            if (pattern.fullmatch(candidate.name) and stat.S_ISREG(info.st_mode)
                    and now - info.st_mtime > older_than):
                candidate.unlink()
                removed.append(candidate)
        except OSError:
            continue
    return removed


def _temp_beside(target: Path, tag: str) -> Path:
    folder = target.parent if str(target.parent) else Path(".")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".{tag}.tmp",
                                        dir=folder)
    except OSError as exc:
        raise FileWriteError(
            f"cannot write {target}: no temporary file can be created in {folder} "
            f"({exc.strerror or exc}). Make the folder writable. The file was not changed."
        ) from exc
    os.close(handle)
    return Path(name)


def _fsync(path: Path) -> None:
    with open(path, "rb") as written:
        os.fsync(written.fileno())


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); harmless to skip where folders cannot be opened."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        handle = os.open(folder if str(folder) else ".", os.O_RDONLY)
        try:
            os.fsync(handle)
        finally:
            os.close(handle)


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


def write_frame(
    frame: pd.DataFrame, path: str | os.PathLike[str], sheet: str = "Plan",
    formats: Mapping[str, tuple[float, str]] | None = None,
) -> Path:
    """Write a table to .csv or .xlsx atomically; formula-like text stays text in both.

    ``formats`` gives .xlsx columns (by heading) a width and an Excel number format.
    """
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        return write_atomically(target, lambda p: text_safe_for_csv(frame).to_csv(p, index=False))
    if suffix == ".xlsx":
        import pandas as pd

        def write_xlsx(temp: Path) -> None:
            options = {"options": {"strings_to_formulas": False, "strings_to_urls": False}}
            with pd.ExcelWriter(temp, engine="xlsxwriter", engine_kwargs=options) as writer:
                frame.to_excel(writer, sheet_name=sheet, index=False)
                book, worksheet = writer.book, writer.sheets[sheet]
                for j, heading in enumerate(frame.columns):
                    if formats and heading in formats:
                        width, number_format = formats[heading]
                        worksheet.set_column(j, j, width, book.add_format(
                            {"num_format": number_format}))

        return write_atomically(target, write_xlsx)
    raise ValueError(f"--out must end in .csv or .xlsx (got {target.name!r})")
