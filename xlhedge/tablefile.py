"""Reading the user's table files (inventory, contract specs, prices): refuse what would be misread.

Every problem is a :class:`TableFileError` whose message starts with the file and names the line
(and column) and the rule: a row with more or fewer fields than the header (an unquoted decimal
comma), a repeated heading, a separator that cannot be told, a binary file, a workbook that is
not one. Text files may be UTF-8 (with or without BOM), UTF-16 with a BOM (Excel's "Unicode
text") or Windows-1252 (Excel's "CSV (Comma delimited)"); the separator is a comma, a semicolon
or a tab, whichever the header uses.
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from xlhedge.columns import column_key, is_blank
from xlhedge.errors import XlhedgeError

if TYPE_CHECKING:
    import pandas as pd

SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
_ZIP_MAGIC = b"PK\x03\x04"


class TableFileError(XlhedgeError):
    """A table file that cannot be read as it is meant: ``<file>: <where>: <rule>``."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {message}")


@dataclass(frozen=True)
class TextTable:
    """A text table file's header and rows, each row with its line number in the file."""

    header: list[str]
    rows: list[tuple[int, list[str]]]
    separator: str


def check_readable(path: Path) -> None:
    """Refuse a missing file, a folder, or a file that cannot be opened."""
    if not path.exists():
        raise TableFileError(path, "does not exist")
    if path.is_dir():
        raise TableFileError(path, "is a folder, not a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise TableFileError(path, f"cannot be read ({exc.strerror or exc})") from None


def decode(path: Path, data: bytes) -> str:
    """The file's text: UTF-16 by its BOM, UTF-8 (BOM or not), else Windows-1252; a file that is
    none of these (NUL bytes, a zip package, undefined bytes) is refused as not a text file."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise TableFileError(path, "is not a text/CSV file (broken UTF-16)") from None
    if data.startswith(_ZIP_MAGIC):
        raise TableFileError(path, "is not a text/CSV file: it is a zip package (an Excel "
                             "workbook?); give it the .xlsx or .xlsm extension")
    if b"\x00" in data:
        raise TableFileError(path, "is not a text/CSV file (it holds binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise TableFileError(path, "is not a text/CSV file (neither UTF-8, UTF-16 nor "
                                 "Windows-1252 text)") from None
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\r\n")
    if controls > max(2, len(text) // 100):
        raise TableFileError(path, "is not a text/CSV file (it holds binary data)")
    return text


def _separator(path: Path, header_line: str, sample: str) -> str:
    """The separator the header uses; csv.Sniffer when the header shows none or several."""
    counts = {sep: header_line.count(sep) for sep in SEPARATORS}
    used = [sep for sep, n in counts.items() if n]
    if len(used) == 1:
        return used[0]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters="".join(SEPARATORS)).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed in SEPARATORS and (not used or sniffed in used):
        return sniffed
    if not used:
        return ","  # one column: the missing columns are named later
    names = " and ".join(SEPARATORS[s] for s in used)
    raise TableFileError(path, f"line 1: cannot tell the separator: the header has both {names}"
                         "s; use one of comma, semicolon or tab between the headings")


def read_text_table(path: Path) -> TextTable:
    """Header and rows of a CSV (comma, semicolon or tab separated); every row has as many fields
    as the header, every heading is given once; blank lines are skipped."""
    check_readable(path)
    data = path.read_bytes()
    if not data.strip():
        raise TableFileError(path, "is empty")
    text = decode(path, data)
    lines = text.splitlines()
    first = next((i for i, line in enumerate(lines) if line.strip()), 0)
    separator = _separator(path, lines[first], "\n".join(lines[first:first + 20]))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator,
                        skipinitialspace=True, strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            if header is None:
                header = [cell.strip() for cell in cells]
                check_headings(path, header)
                continue
            if len(cells) != len(header):
                raise TableFileError(path, _width_message(reader.line_num, len(cells),
                                                          len(header), separator))
            rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise TableFileError(path, f"line {reader.line_num}: not valid CSV ({exc})") from None
    if header is None:
        raise TableFileError(path, "is empty")
    return TextTable(header, rows, separator)


def _width_message(line: int, got: int, want: int, separator: str) -> str:
    name = SEPARATORS[separator]
    if got > want:
        hint = (f"column {want + 1} onwards has no heading: a decimal comma or a {name} inside "
                "a value? Quote that value or use a decimal point" if separator == "," else
                f"column {want + 1} onwards has no heading: a {name} inside a value? Quote it")
    else:
        hint = f"columns {got + 1} to {want} are missing: add their (empty) fields"
    return (f"line {line}: the row has {got} fields but the header has {want} ({hint}); "
            "the file was not used")


def check_headings(path: Path, header: Sequence[object], where: str = "line 1") -> None:
    """Refuse a heading given twice (ignoring case, spaces and punctuation)."""
    seen: dict[str, int] = {}
    for j, heading in enumerate(header):
        key = column_key(heading) if not is_blank(heading) else ""
        if not key:
            continue
        if key in seen:
            raise TableFileError(
                path, f"{where}: column {j + 1} {str(heading).strip()!r} repeats column "
                f"{seen[key] + 1} {str(header[seen[key]]).strip()!r}: each heading once "
                "(rename or delete one of them)")
        seen[key] = j


def _frame_from_text(table: TextTable) -> pd.DataFrame:
    """Like ``pandas.read_csv``: numbers as numbers, TRUE/FALSE as booleans, blanks as NaN,
    everything else as text."""
    import pandas as pd

    names = [h if h else f"Column{j + 1}" for j, h in enumerate(table.header)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([f"c{j}" for j in range(len(names))])
    writer.writerows(cells for _, cells in table.rows)
    buffer.seek(0)
    frame = pd.read_csv(buffer, skipinitialspace=True, index_col=False, dtype=None)
    frame = frame.set_axis(names, axis=1)
    frame.attrs["lines"] = [line for line, _ in table.rows]
    return frame


def _is_zip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == _ZIP_MAGIC


def _first_sheet(path: Path) -> pd.DataFrame:
    """The first sheet of a workbook: its first row the headings (each given once)."""
    import pandas as pd

    raw = pd.read_excel(path, engine="openpyxl", header=None, dtype=object)
    if raw.empty:
        return pd.DataFrame()
    header = ["" if is_blank(v) else str(v).strip() for v in raw.iloc[0]]
    check_headings(path, header, where="first sheet row 1")
    names = [h if h else f"Column{j + 1}" for j, h in enumerate(header)]
    return raw.iloc[1:].set_axis(names, axis=1).reset_index(drop=True).infer_objects()


def workbook_tables(path: Path) -> dict[str, str]:
    """The workbook's tables, lower-case name -> name; a file that is no workbook (not a zip
    package, damaged, no workbook part) is refused saying what it looks like."""
    from xlhedge import xlsxtable

    check_readable(path)
    if not _is_zip(path):
        raise TableFileError(path, f"is not an Excel workbook (not a zip package{_looks(path)}); "
                             "a CSV needs the .csv extension")
    with _as_table_file_error(path):
        return {info.name.lower(): info.name for info in xlsxtable.list_tables(path)}


@contextlib.contextmanager
def _as_table_file_error(path: Path) -> Iterator[None]:
    """Errors of a damaged package, or of a workbook openpyxl cannot read, named after ``path``."""
    from xlhedge import xlsxtable

    try:
        yield
    except TableFileError:
        raise
    except (xlsxtable.XlsxTableError, zipfile.BadZipFile, KeyError, ValueError, TypeError,
            IndexError, EOFError) as exc:
        message = str(exc).removeprefix(str(path)).removeprefix(":").strip()
        if not isinstance(exc, xlsxtable.XlsxTableError) or not message:
            message = f"is damaged or not an Excel workbook ({message or type(exc).__name__})"
        raise TableFileError(path, message) from None


def read_workbook_table(path: Path, table: str) -> pd.DataFrame:
    """The workbook's table named ``table`` (any case) if it has one, else its first sheet."""
    from xlhedge import xlsxtable

    names = workbook_tables(path)
    with _as_table_file_error(path):
        if table.lower() in names:
            return xlsxtable.read_table(path, names[table.lower()])
        return _first_sheet(path)


def _looks(path: Path) -> str:
    try:
        head = path.read_bytes()[:512]
    except OSError:
        return ""
    if not head.strip():
        return ": it is empty"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    return ": it looks like a text/CSV file"


def read_table_file(path: Path, table: str = "Inventory") -> pd.DataFrame:
    """A CSV (text kept as text), or a workbook's table ``table`` (else its first sheet)."""
    suffix = path.suffix.lower()
    if suffix in WORKBOOK_SUFFIXES:
        return read_workbook_table(path, table)
    if suffix in TEXT_SUFFIXES:
        return _frame_from_text(read_text_table(path))
    check_readable(path)
    raise TableFileError(path, "expected a .csv, .xlsx or .xlsm file")


def require_columns(path: Path, frame: pd.DataFrame, required: Iterable[str]) -> None:
    """Refuse an inventory without a required input column; name the accepted headings."""
    from xlhedge.columns import COLUMNS

    have = {column_key(h) for h in frame.columns}
    missing = []
    for key in required:
        column = next(c for c in COLUMNS if c.key == key)
        spellings = (column.heading, *column.aliases)
        if not have & {column_key(s) for s in (column.key, *spellings)}:
            missing.append(f"{column.heading} (or {', '.join(a.title() for a in column.aliases)})"
                           if column.aliases else column.heading)
    if missing:
        found = ", ".join(str(h) for h in frame.columns) or "none"
        raise TableFileError(path, f"no column {' or '.join(missing)} (headings: {found}); "
                             "give the column that heading")


def require_holdings(path: Path, frame: pd.DataFrame, columns: Sequence[str],
                     what: str = "holdings") -> None:
    """Refuse a table where no row has a value in any of ``columns`` (headings as in frame)."""
    if not any(not is_blank(v) for c in columns for v in frame[c]):
        raise TableFileError(path, f"has no {what} ({len(frame)} rows, none with a value "
                             f"under {', '.join(columns)})")
