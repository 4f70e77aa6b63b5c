"""Read and rewrite one Excel table (ListObject) inside an .xlsx/.xlsm package, in place.

A full openpyxl load/save of a macro workbook drops what openpyxl does not model (cached
values, dynamic-array metadata, form buttons, ...). This module edits the package instead:
only the zip members that hold the table change, every other member is copied byte for byte
(same compressed data).

* :func:`read_table` returns the table body as a DataFrame (cached values for formulas).
* :func:`write_table` replaces the table body with a DataFrame and saves atomically.
* :func:`update_columns` replaces only the body cells of some existing columns (same row count):
  the user's own columns, formulas and cell formats elsewhere in the table stay as they were.

What changes in the package
    The worksheet XML that holds the table and (``write_table`` only) the table XML. When a
    formula cell was replaced, removed or moved, ``xl/calcChain.xml`` is removed too, with its
    ``[Content_Types].xml`` override and its relationship in the workbook rels: the chain would
    otherwise name cells that no longer hold formulas (Excel reports such a file as damaged);
    Excel rebuilds the chain on the next save. Nothing else changes. A rewritten body cell that
    existed keeps its own style; a new one takes its column's (that of its first body cell).

How the XML is edited
    By splicing text, not by re-serialising a parsed tree: ``xml.etree`` renames namespace
    prefixes (``ns0:``) and drops declarations that are only named by ``mc:Ignorable``, which
    Excel rejects. Every byte outside the rewritten cells and attributes is kept as it was.
    Each rewritten part is checked to be well-formed XML before anything is written.

Backups and atomicity
    The new package is written to a temporary file in the target's folder, fsynced, checked
    (CRC of every member) and moved onto the target with :func:`os.replace`. With
    ``backup=True`` the file about to be replaced is first copied to ``<stem>.bak<suffix>``
    beside it (``HedgePlanner.xlsm`` -> ``HedgePlanner.bak.xlsm``: it keeps its extension, so it
    opens in Excel as is). Only the latest backup is kept. On any failure the target is left
    unchanged and the temporary files are removed.

Not adjusted (documented limits)
    Defined names, chart series and formulas that address the table with A1 ranges (structured
    references such as ``Inventory[Qty]`` follow the table); cached values of formulas elsewhere
    that depend on the table, including formulas in columns :func:`update_columns` leaves alone
    (they show their old results until Excel recalculates them: on opening when the workbook
    asks for it, ``fullCalcOnLoad``, else on the next recalculation). A shared formula whose
    anchor cell :func:`update_columns` would replace while other cells use it is refused.
    Data validation and conditional format
    ranges that exactly span the old body rows of table columns follow the new body rows; they
    stay on their sheet columns when the frame reorders columns. Autofilter criteria and sort
    state describe the old rows, so they are dropped (body rows they hid are shown again).
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import decimal
import functools
import html
import math
import numbers
import os
import posixpath
import re
import stat
import statistics
import struct
import xml.etree.ElementTree as ET
import xml.parsers.expat as expat
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from xlhedge.files import FileWriteError, atomic_path, backup_path

__all__ = [
    "TableFileError",
    "TableFileLockedError",
    "TableInfo",
    "TableNotFoundError",
    "TableWriteError",
    "WorkbookFormatError",
    "XlsxTableError",
    "backup_path",
    "list_tables",
    "read_table",
    "table_info",
    "update_columns",
    "write_table",
]

StrPath = str | os.PathLike[str]

MAX_ROWS = 1_048_576
MAX_COLS = 16_384
MAX_CELL_TEXT = 32_767


# --------------------------------------------------------------------------- errors


class XlsxTableError(Exception):
    """Base class of the errors raised by this module."""


class WorkbookFormatError(XlsxTableError, ValueError):
    """The file is not a workbook package this module can edit; names the file and the part."""


class TableNotFoundError(XlsxTableError, LookupError):
    """No table of that name; the message lists the tables the workbook has."""


class TableWriteError(XlsxTableError, ValueError):
    """The data cannot be written under the rules (names the table and the rule); file unchanged."""


class TableFileError(XlsxTableError, FileWriteError):
    """A file-system problem (unwritable folder, read-only or locked file); file unchanged."""

    def __init__(self, message: str, path: StrPath | None = None) -> None:
        super().__init__(message)
        self.path = os.fspath(path) if path is not None else None


class TableFileLockedError(TableFileError):
    """The target is open in Excel or locked by another program."""


# --------------------------------------------------------------------------- small helpers

_NAME = r"[A-Za-z_][\w.-]*"
_PFX = rf"(?:{_NAME}:)?"
# Attribute text of a start tag, quote-aware, stopping before '>' or '/>'.
_ATTRS = r"(?:[^>\"'/]|/(?!>)|\"[^\"]*\"|'[^']*')*"
_ATTR_RE = re.compile(r"([\w.:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REF_RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d{1,7})$")
_OOXML_ESC_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_TEXT_ILLEGAL_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0d\x0e-\x1f\ufffe\uffff\ud800-\udfff]|_(?=x[0-9A-Fa-f]{4}_)")
_TEXT_PLAIN_RE = re.compile("[^&<>\x00-\x08\x0b-\x1f\ufffe\uffff\ud800-\udfff_]*")
_NAME_ILLEGAL_RE = re.compile("[\x00-\x1f\ufffe\uffff\ud800-\udfff]|_(?=x[0-9A-Fa-f]{4}_)")


def _col_letters(index: int) -> str:
    """1 -> 'A', 28 -> 'AB'."""
    letters = ""
    while index > 0:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _col_index(letters: str) -> int:
    """'A' -> 1, 'ab' -> 28."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def _parse_ref(ref: str) -> tuple[int, int, int, int]:
    """'B2:D10' -> (col1, row1, col2, row2); a single cell gives a 1x1 range."""
    parts = ref.strip().split(":")
    if len(parts) not in (1, 2):
        raise ValueError(f"bad range {ref!r}")
    coords = []
    for part in parts:
        m = _REF_RE.match(part)
        if m is None:
            raise ValueError(f"bad range {ref!r}")
        coords.append((_col_index(m.group(1)), int(m.group(2))))
    (c1, r1), (c2, r2) = coords[0], coords[-1]
    return min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)


def _format_ref(c1: int, r1: int, c2: int, r2: int) -> str:
    first = f"{_col_letters(c1)}{r1}"
    return first if (c1, r1) == (c2, r2) else f"{first}:{_col_letters(c2)}{r2}"


def _attrs(text: str) -> dict[str, str]:
    """Raw attribute values (still XML-escaped) of a start tag's attribute text."""
    return {m.group(1): m.group(2) if m.group(2) is not None else m.group(3) or ""
            for m in _ATTR_RE.finditer(text)}


@functools.lru_cache(maxsize=64)
def _attr_re(name: str) -> re.Pattern[str]:
    return re.compile(rf"(\s+){re.escape(name)}\s*=\s*(?:\"[^\"]*\"|'[^']*')")


def _set_attr(attr_text: str, name: str, value: str | None) -> str:
    """Replace, add (value given) or remove (value None) one attribute in start-tag text."""
    if value is None and name not in attr_text:
        return attr_text
    pat = _attr_re(name)
    if value is None:
        return pat.sub("", attr_text, count=1)
    new, n = pat.subn(lambda m: f'{m.group(1)}{name}="{value}"', attr_text, count=1)
    return new if n else f'{attr_text} {name}="{value}"'


def _unescape(text: str) -> str:
    """XML entities and OOXML ``_xHHHH_`` escapes -> text."""
    if "&" in text:
        text = html.unescape(text)
    if "_x" in text:
        text = _OOXML_ESC_RE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return text


def _escape_text(text: str) -> str:
    """Text -> cell text content (OOXML escapes for characters XML cannot carry)."""
    if _TEXT_PLAIN_RE.fullmatch(text):
        return text
    text = _TEXT_ILLEGAL_RE.sub(
        lambda m: "_x005F_" if m.group() == "_" else f"_x{ord(m.group()):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_name(name: str) -> str:
    """Column name -> tableColumn ``name`` attribute value (line breaks as ``_x000a_``)."""
    name = _NAME_ILLEGAL_RE.sub(
        lambda m: "_x005F_" if m.group() == "_" else f"_x{ord(m.group()):04x}_", name)
    return (name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _fmt_number(x: float) -> str:
    text = repr(float(x))
    return text[:-2] if text.endswith(".0") else text


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _decode_xml(data: bytes, part: str) -> tuple[str, bool]:
    """UTF-8 part bytes -> (text, had BOM)."""
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        return data[3 if bom else 0:].decode("utf-8"), bom
    except UnicodeDecodeError as exc:
        raise WorkbookFormatError(
            f"{part} is not UTF-8 XML; only UTF-8 parts are supported") from exc


def _encode_xml(text: str, bom: bool) -> bytes:
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


def _check_well_formed(data: bytes, part: str) -> None:
    """Raise unless ``data`` is well-formed, namespace-correct XML (expat, no tree built)."""
    try:
        expat.ParserCreate(namespace_separator=" ").Parse(data, True)
    except expat.ExpatError as exc:  # pragma: no cover - a bug in this module
        raise XlsxTableError(
            f"internal error: rewritten {part} is not well-formed XML: {exc}") from exc


# --------------------------------------------------------------------------- package navigation


@dataclass(frozen=True)
class _Rel:
    rid: str
    type: str
    target: str  # resolved part name (no leading '/'), or the raw target when external
    external: bool


def _rels_part(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def _resolve(base_part: str, target: str) -> str:
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(base_part), target))


def _read_part(zf: zipfile.ZipFile, part: str) -> bytes:
    try:
        return zf.read(part)
    except KeyError:
        raise WorkbookFormatError(f"{zf.filename}: the package has no part {part!r}") from None


def _read_rels(zf: zipfile.ZipFile, part: str) -> list[_Rel]:
    name = _rels_part(part)
    if name not in zf.NameToInfo:
        return []
    root = ET.fromstring(zf.read(name))
    rels = []
    for el in root:
        if _local(el.tag) != "Relationship":
            continue
        target = el.get("Target", "")
        external = el.get("TargetMode", "") == "External"
        rels.append(_Rel(el.get("Id", ""), el.get("Type", ""),
                         target if external else _resolve(part, target), external))
    return rels


def _workbook_part(zf: zipfile.ZipFile) -> str:
    for rel in _read_rels(zf, ""):
        if rel.type.endswith("/officeDocument") and not rel.external:
            return rel.target
    return "xl/workbook.xml"


@dataclass(frozen=True)
class TableInfo:
    """Where a table lives and what it holds (as read from its definition)."""

    name: str
    sheet_name: str
    ref: str
    columns: tuple[str, ...]
    header_row_count: int
    totals_row_count: int
    sheet_part: str
    table_part: str
    workbook_part: str
    date1904: bool


def _iter_tables(zf: zipfile.ZipFile) -> Iterator[TableInfo]:
    wb_part = _workbook_part(zf)
    root = ET.fromstring(_read_part(zf, wb_part))
    date1904 = False
    sheets: list[tuple[str, str]] = []
    for el in root.iter():
        tag = _local(el.tag)
        if tag == "workbookPr":
            date1904 = el.get("date1904", "0").lower() in ("1", "true")
        elif tag == "sheet":
            rid = next((v for k, v in el.attrib.items() if k.startswith("{") and _local(k) == "id"),
                       "")
            sheets.append((el.get("name", ""), rid))
    rels = {r.rid: r for r in _read_rels(zf, wb_part)}
    for sheet_name, rid in sheets:
        rel = rels.get(rid)
        if rel is None or rel.external or not rel.type.endswith("/worksheet"):
            continue
        for trel in _read_rels(zf, rel.target):
            if trel.external or not trel.type.endswith("/table"):
                continue
            troot = ET.fromstring(_read_part(zf, trel.target))
            cols = tuple(_unescape(el.get("name", "")) for el in troot.iter()
                         if _local(el.tag) == "tableColumn")
            yield TableInfo(
                name=troot.get("displayName") or troot.get("name") or "",
                sheet_name=sheet_name,
                ref=troot.get("ref", ""),
                columns=cols,
                header_row_count=int(troot.get("headerRowCount", "1")),
                totals_row_count=int(troot.get("totalsRowCount", "0")),
                sheet_part=rel.target,
                table_part=trel.target,
                workbook_part=wb_part,
                date1904=date1904,
            )


def _open_zip(path: StrPath) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise WorkbookFormatError(
            f"{os.fspath(path)} is not an .xlsx/.xlsm workbook (not a zip package)") from exc


def _find_table(zf: zipfile.ZipFile, table_name: str) -> TableInfo:
    tables = list(_iter_tables(zf))
    for found in ([t for t in tables if t.name == table_name],
                  [t for t in tables if t.name.casefold() == table_name.casefold()]):
        if found:
            return found[0]
    names = ", ".join(f"{t.name} (sheet {t.sheet_name})" for t in tables) or "none"
    raise TableNotFoundError(
        f"{zf.filename}: no table named {table_name!r}; tables in the workbook: {names}")


def list_tables(path: StrPath) -> list[TableInfo]:
    """Every table in the workbook, in sheet order."""
    with _open_zip(path) as zf:
        return list(_iter_tables(zf))


def table_info(path: StrPath, table_name: str) -> TableInfo:
    """Locate a table by name (case-insensitive, as in Excel): sheet, ref, columns."""
    with _open_zip(path) as zf:
        return _find_table(zf, table_name)


# --------------------------------------------------------------------------- sheet tokenising

_ROW_START_RE = re.compile(rf"<{_PFX}row(?=[\s/>])([^>]*?)(/?)>")
_ROW_END_RE = re.compile(rf"</{_PFX}row\s*>")
_CELL_RE = re.compile(
    rf"<{_PFX}c(?=[\s/>])((?:\s+r=\"([A-Za-z]{{1,3}})\d+\")?[^>]*?)(?:/>|>(.*?)</{_PFX}c\s*>)",
    re.S)
_ROW_R_RE = re.compile(r"(?<![\w:.-])r\s*=\s*[\"'](\d+)[\"']")
_CELL_R_RE = re.compile(r"(?<![\w:.-])r\s*=\s*[\"']\$?([A-Za-z]{1,3})\$?(\d+)[\"']")
_T_RE = re.compile(r"(?<![\w:.-])t\s*=\s*[\"']([^\"']*)[\"']")
_S_RE = re.compile(r"(?<![\w:.-])s\s*=\s*[\"'](\d+)[\"']")
_V_RE = re.compile(rf"<{_PFX}v(?:\s[^>]*)?>(.*?)</{_PFX}v\s*>", re.S)
_F_RE = re.compile(rf"<{_PFX}f(?=[\s/>])(?:[^>]*?/>|[^>]*?>.*?</{_PFX}f\s*>)", re.S)
_F_TEXT_RE = re.compile(rf"<{_PFX}f(?=[\s/>])[^>]*?>(.*?)</{_PFX}f\s*>", re.S)
_IS_RE = re.compile(rf"<{_PFX}is(?=[\s/>])[^>]*?(?:/>|>(.*?)</{_PFX}is\s*>)", re.S)
_RPH_RE = re.compile(rf"<{_PFX}rPh(?=[\s/>]).*?</{_PFX}rPh\s*>", re.S)
_TT_RE = re.compile(rf"<{_PFX}t(?:\s[^>]*)?>(.*?)</{_PFX}t\s*>", re.S)
_SHEETDATA_RE = re.compile(rf"<({_PFX})sheetData(?=[\s/>])[^>]*?(/?)>")
_DIMENSION_RE = re.compile(rf"<{_PFX}dimension(?=[\s/>])({_ATTRS})/?>")
_MERGE_RE = re.compile(rf"<{_PFX}mergeCell(?=[\s/>])({_ATTRS})/?>")
_SQREF_HOST_RE = re.compile(
    rf"<((?:{_NAME}:)?)(conditionalFormatting|dataValidation)(?=[\s/>])({_ATTRS})"
    rf"(?:/>|>(.*?)</\1\2\s*>)", re.S)
_SQREF_EL_RE = re.compile(rf"(<({_PFX})sqref\s*>)(.*?)(</\2sqref\s*>)", re.S)
_SQREF_ATTR_RE = re.compile(r"((?<![\w:.-])sqref\s*=\s*)([\"'])(.*?)\2", re.S)


@dataclass
class _Row:
    num: int
    start: int
    end: int
    attrs: str
    inner: str | None
    has_r: bool


@dataclass(slots=True)
class _Cell:
    col: int
    attrs: str
    inner: str | None
    raw: str

    @property
    def raw_f(self) -> str | None:
        if not self.inner:
            return None
        m = _F_RE.search(self.inner)
        return m.group(0) if m else None

    @property
    def style(self) -> str | None:
        m = _S_RE.search(self.attrs)
        return m.group(1) if m else None

    @property
    def has_content(self) -> bool:
        inner = self.inner or ""
        return "<" in inner and (_V_RE.search(inner) is not None or _F_RE.search(inner) is not None
                                 or _IS_RE.search(inner) is not None)


_COLS: dict[str, int] = {}


def _col_of(letters: str) -> int:
    col = _COLS.get(letters)
    if col is None:
        col = _COLS[letters] = _col_index(letters)
    return col


def _cell_matches(inner: str | None) -> Iterator[tuple[int, re.Match[str]]]:
    """(column, ``_CELL_RE`` match) of each cell in a row's content (cells without r count on)."""
    if not inner:
        return
    col = 0
    for m in _CELL_RE.finditer(inner):
        letters = m.group(2)
        if letters is None:
            rm = _CELL_R_RE.search(m.group(1))
            col = _col_of(rm.group(1).upper()) if rm else col + 1
        else:
            col = _col_of(letters)
        yield col, m


def _iter_cells(inner: str | None) -> Iterator[tuple[int, str, str | None, str]]:
    """(column, attribute text, content or None, raw XML) of each cell in a row's content."""
    for col, m in _cell_matches(inner):
        yield col, m.group(1), m.group(3), m.group(0)


def _cell_of(col: int, m: re.Match[str]) -> _Cell:
    return _Cell(col, m.group(1), m.group(3), m.group(0))


def _tokenize_cells(inner: str | None) -> list[_Cell]:
    return [_Cell(*parts) for parts in _iter_cells(inner)]


class _Sheet:
    """A worksheet part split around ``<sheetData>``, with its rows located."""

    def __init__(self, data: bytes, part: str) -> None:
        self.part = part
        text, self.bom = _decode_xml(data, part)
        m = _SHEETDATA_RE.search(text)
        if m is None:
            raise WorkbookFormatError(f"{part} has no <sheetData>")
        self.prefix = m.group(1)
        self.head = text[:m.start()]
        if m.group(2) == "/":
            self.open_tag = f"<{self.prefix}sheetData>"
            self.body = ""
            self.close_tag = f"</{self.prefix}sheetData>"
            self.tail = text[m.end():]
        else:
            end = re.compile(rf"</{re.escape(self.prefix)}sheetData\s*>").search(text, m.end())
            if end is None:
                raise WorkbookFormatError(f"{part}: <sheetData> is not closed")
            self.open_tag = m.group(0)
            self.body = text[m.end():end.start()]
            self.close_tag = end.group(0)
            self.tail = text[end.end():]
        self.rows: list[_Row] = []
        body, end_tag = self.body, f"</{self.prefix}row"
        num = pos = 0
        while (rm := _ROW_START_RE.search(body, pos)) is not None:
            attrs = rm.group(1)
            nm = _ROW_R_RE.search(attrs)
            num = int(nm.group(1)) if nm else num + 1
            inner: str | None = None
            pos = rm.end()
            if not rm.group(2):  # not self-closing: content up to the first </row>
                close = body.find(end_tag, pos)
                em = _ROW_END_RE.match(body, close) if close >= 0 else None
                if em is None:
                    raise WorkbookFormatError(f"{part}: row {num} is not closed")
                inner, pos = body[rm.end():close], em.end()
            self.rows.append(_Row(num, rm.start(), pos, attrs, inner, nm is not None))

    def rows_between(self, first: int, last: int) -> tuple[int, int]:
        """Index range [i0, i1) of the row tokens numbered first..last."""
        i0 = 0
        while i0 < len(self.rows) and self.rows[i0].num < first:
            i0 += 1
        i1 = i0
        while i1 < len(self.rows) and self.rows[i1].num <= last:
            i1 += 1
        return i0, i1


# --------------------------------------------------------------------------- reading


def _load_shared_strings(zf: zipfile.ZipFile, wb_part: str) -> list[str]:
    part = next((r.target for r in _read_rels(zf, wb_part)
                 if r.type.endswith("/sharedStrings") and not r.external), None)
    if part is None or part not in zf.NameToInfo:
        return []
    out: list[str] = []
    for si in ET.fromstring(zf.read(part)):
        if _local(si.tag) != "si":
            continue
        pieces: list[str] = []
        for child in si:
            tag = _local(child.tag)
            if tag == "t":
                pieces.append(child.text or "")
            elif tag == "r":
                pieces.extend(t.text or "" for t in child if _local(t.tag) == "t")
        out.append(_unescape("".join(pieces)) if "_x" in "".join(pieces) else "".join(pieces))
    return out


def _lazy_strings(zf: zipfile.ZipFile, wb_part: str) -> Callable[[], list[str]]:
    """The shared strings, loaded on the first call only (many tables use none)."""
    cache: list[list[str]] = []

    def strings() -> list[str]:
        if not cache:
            cache.append(_load_shared_strings(zf, wb_part))
        return cache[0]

    return strings


def _cell_value(attrs: str, inner: str | None, strings: Callable[[], list[str]]) -> Any:
    """The (cached) value of a cell from its attribute text and content."""
    if not inner:
        return None
    t = "n"
    if "t=" in attrs:
        tm = _T_RE.search(attrs)
        if tm:
            t = tm.group(1)
    if inner.startswith("<v>") and inner.endswith("</v>") and "<" not in inner[3:-4]:
        v = inner[3:-4]  # the common shapes, without a regex
        if t == "n" and v:
            return float(v)
        if t == "s":
            return strings()[int(v)]
    return _cell_value_slow(t, inner, strings)


def _cell_value_slow(t: str, inner: str, strings: Callable[[], list[str]]) -> Any:
    if t == "inlineStr":
        im = _IS_RE.search(inner)
        if im is None:
            return None
        body = im.group(1) or ""
        if "rPh" in body:
            body = _RPH_RE.sub("", body)
        return _unescape("".join(_TT_RE.findall(body)))
    vm = _V_RE.search(inner)
    if vm is None:
        return None
    v = vm.group(1)
    if t == "n":
        return float(v) if v.strip() else None
    if t == "s":
        return strings()[int(v)]
    if t == "b":
        return v.strip() in ("1", "true")
    if t == "d":
        try:
            return dt.datetime.fromisoformat(v.strip())
        except ValueError:
            return _unescape(v)
    return _unescape(v)  # 'str' (formula text result) and 'e' (error such as '#N/A')


def _read_row(inner: str, k: int, index: dict[str, int], columns: list[list[Any]],
              strings: Callable[[], list[str]]) -> None:
    """Store row k's values of the table columns (``index``: column letters -> position)."""
    for attrs, letters, content in _CELL_RE.findall(inner):
        if not letters:  # a cell without an r attribute: number the row's cells one by one
            for col, attrs2, content2, _raw in _iter_cells(inner):
                j = index.get(_col_letters(col))
                if j is not None:
                    columns[j][k] = _cell_value(attrs2, content2, strings)
            return
        j = index.get(letters)
        if j is None:
            j = index.get(letters.upper())
            if j is None:
                continue
        if not content:
            continue
        if content[:3] == "<v>" and content[-4:] == "</v>" and "t=" not in attrs:
            text = content[3:-4]
            if text and "<" not in text:
                columns[j][k] = float(text)
                continue
        columns[j][k] = _cell_value(attrs, content, strings)


def read_table(path: StrPath, table_name: str) -> pd.DataFrame:
    """The table's body as a DataFrame (one column per table column, in table order).

    Cached values are returned for formula cells; numbers (dates included) as float, booleans
    as bool, text as str, empty cells as NaN/None; the totals row is left out. An empty table
    (a single body row with no values) gives zero rows. ``df.attrs`` holds ``sheet_name``,
    ``table_name`` and ``table_ref``.
    """
    with _open_zip(path) as zf:
        info = _find_table(zf, table_name)
        sheet = _Sheet(_read_part(zf, info.sheet_part), info.sheet_part)
        strings = _lazy_strings(zf, info.workbook_part)
        c1, r1, c2, r2 = _parse_ref(info.ref)
        body_top = r1 + info.header_row_count
        body_bottom = r2 - info.totals_row_count
        ncols = c2 - c1 + 1
        nrows = max(body_bottom - body_top + 1, 0)
        columns: list[list[Any]] = [[None] * nrows for _ in range(ncols)]
        index = {_col_letters(c): c - c1 for c in range(c1, c2 + 1)}
        i0, i1 = sheet.rows_between(body_top, body_bottom)
        for row in sheet.rows[i0:i1]:
            if row.inner:
                _read_row(row.inner, row.num - body_top, index, columns, strings)
    names = list(info.columns) + [f"Column{j + 1}" for j in range(len(info.columns), ncols)]
    if nrows == 1 and all(col[0] is None for col in columns):
        columns = [[] for _ in columns]
    frame = pd.DataFrame({name: col for name, col in zip(names[:ncols], columns, strict=True)})
    frame.attrs.update(sheet_name=info.sheet_name, table_name=info.name, table_ref=info.ref)
    return frame


# --------------------------------------------------------------------------- value rendering

_EPOCH_1900 = dt.datetime(1899, 12, 30)
_EPOCH_1900_EARLY = dt.datetime(1899, 12, 31)  # before 1900-03-01 (Excel's 1900 leap-year bug)
_EPOCH_1904 = dt.datetime(1904, 1, 1)
_DAY = 86_400.0


def _serial(value: dt.datetime, date1904: bool) -> float | None:
    """Naive/aware datetime -> Excel serial day number (wall time); None if before the epoch."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    if date1904:
        epoch = _EPOCH_1904
    else:
        epoch = _EPOCH_1900 if value >= dt.datetime(1900, 3, 1) else _EPOCH_1900_EARLY
    if value < dt.datetime(1900, 1, 1) or (date1904 and value < _EPOCH_1904):
        return None
    delta = value - epoch
    return delta.days + (delta.seconds + delta.microseconds / 1e6) / _DAY


class _ColumnStats:
    """What SUBTOTAL needs from a column: its numbers, errors and non-empty count."""

    __slots__ = ("array", "errors", "nonempty", "numbers")

    def __init__(self) -> None:
        self.numbers: list[float] = []
        self.array: np.ndarray[Any, Any] | None = None  # the numbers of a numeric column
        self.errors: list[str] = []
        self.nonempty = 0

    def values(self) -> list[float]:
        return self.array.tolist() if self.array is not None else self.numbers

    def count(self) -> int:
        return len(self.array) if self.array is not None else len(self.numbers)


def _normalise(value: Any, date1904: bool) -> Any:
    """Map any supported scalar to None, bool, float, int, str or ('e', error)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        return value
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
        if value is pd.NaT:
            return None
    if isinstance(value, np.timedelta64):
        value = pd.Timedelta(value)
        if value is pd.NaT:
            return None
    if isinstance(value, dt.datetime):
        serial = _serial(value, date1904)
        return value.isoformat() if serial is None else serial
    if isinstance(value, dt.date):
        serial = _serial(dt.datetime(value.year, value.month, value.day), date1904)
        return value.isoformat() if serial is None else serial
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second
                + value.microsecond / 1e6) / _DAY
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / _DAY
    if isinstance(value, numbers.Real | decimal.Decimal):
        f = float(value)
        return None if math.isnan(f) else f
    raise TypeError(type(value).__name__)


def _float_view(series: pd.Series[Any], date1904: bool) -> np.ndarray[Any, Any] | None:
    """float64 values of a numeric/datetime/timedelta column (NaN = empty), else None."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_localize(None)  # wall time, as Excel has no time zones
        dtype = series.dtype
    if not isinstance(dtype, np.dtype):
        return None
    if dtype.kind == "f":
        return series.to_numpy(dtype=np.float64)
    if dtype.kind == "M":
        stamps = series.to_numpy(dtype="datetime64[ns]")
        valid = stamps[~np.isnat(stamps)]
        first = np.datetime64("1904-01-01" if date1904 else "1900-03-01")
        if valid.size and valid.min() < first:
            return None  # the 1900 leap-year quirk and pre-epoch dates: per value
        epoch = np.datetime64("1904-01-01" if date1904 else "1899-12-30", "ns")
        return (stamps - epoch) / np.timedelta64(1, "D")  # NaT -> NaN
    if dtype.kind == "m":
        return series.to_numpy(dtype="timedelta64[ns]") / np.timedelta64(1, "D")
    return None


class _Renderer:
    """Turns frame columns into ``<c>`` elements (prefix-aware)."""

    def __init__(self, prefix: str, date1904: bool, table: str) -> None:
        p = prefix
        self.date1904 = date1904
        self.table = table
        self.c_open = f"<{p}c r=\""
        self.v_open, self.v_close = f"<{p}v>", f"</{p}v>"
        self.c_close = f"</{p}c>"
        self.is_open = f"<{p}is><{p}t xml:space=\"preserve\">"
        self.is_close = f"</{p}t></{p}is>"

    def text(self, ref: str, s_attr: str, text: str) -> str:
        return (f"{self.c_open}{ref}\"{s_attr} t=\"inlineStr\">{self.is_open}{_escape_text(text)}"
                f"{self.is_close}{self.c_close}")

    def restyle(self, cells: list[str | None], letters: str, first_row: int, style: str | None,
                own: dict[int, str | None]) -> None:
        """Give the cells of :meth:`column` at the rows in ``own`` their own style (None: none).

        ``style`` is the one they were rendered with. A cell left empty and without a style is
        no cell at all (None).
        """
        old = f' s="{style}"' if style is not None else ""
        for r, own_style in own.items():
            k = r - first_row
            if not 0 <= k < len(cells):
                continue
            head = f'{self.c_open}{letters}{r}"'
            new = f' s="{own_style}"' if own_style is not None else ""
            x = cells[k]
            if x is None:
                rest = "/>"
            else:
                assert x.startswith(head + old)
                rest = x[len(head) + len(old):]
            cells[k] = None if rest == "/>" and not new else f"{head}{new}{rest}"

    def column(self, name: str, series: pd.Series[Any], letters: str, first_row: int,
               style: str | None) -> tuple[list[str | None], _ColumnStats]:
        """Cells of one column (None where no cell is needed) and its SUBTOTAL statistics."""
        s_attr = f' s="{style}"' if style is not None else ""
        pre = f"{self.c_open}{letters}"
        empty = f'"{s_attr}/>' if style is not None else None
        num_mid, num_end = f'"{s_attr}>{self.v_open}', f"{self.v_close}{self.c_close}"
        stats = _ColumnStats()
        rows = range(first_row, first_row + len(series))
        floats = _float_view(series, self.date1904)
        if floats is not None:
            texts = [t[:-2] if t.endswith(".0") else t
                     for t in map(float.__repr__, floats.tolist())]
            out: list[str | None] = [f"{pre}{r}{num_mid}{t}{num_end}"
                                     for r, t in zip(rows, texts, strict=True)]
            finite = np.isfinite(floats)
            stats.array = floats[finite]
            stats.nonempty = stats.count()
            if not finite.all():
                for k in np.flatnonzero(~finite).tolist():
                    if np.isnan(floats[k]):
                        out[k] = f"{pre}{rows[k]}{empty}" if empty else None
                    else:
                        out[k] = f'{pre}{rows[k]}"{s_attr} t="e">{self.v_open}#NUM!{num_end}'
                        stats.errors.append("#NUM!")
                        stats.nonempty += 1
            return out, stats
        dtype = series.dtype
        if isinstance(dtype, np.dtype) and dtype.kind in "iu":
            values = series.tolist()
            stats.array = np.asarray(values, dtype=np.float64)
            stats.nonempty = len(values)
            return [f"{pre}{r}{num_mid}{v}{num_end}" for r, v in zip(rows, values, strict=True)
                    ], stats
        if isinstance(dtype, np.dtype) and dtype.kind == "b":
            stats.nonempty = len(series)
            b_mid = f'"{s_attr} t="b">{self.v_open}'
            return [f"{pre}{r}{b_mid}{int(v)}{num_end}"
                    for r, v in zip(rows, series.tolist(), strict=True)], stats
        return self._generic(name, series.tolist(), pre, s_attr, empty, first_row, stats)

    def _generic(self, name: str, values: list[Any], pre: str, s_attr: str, empty: str | None,
                 first_row: int, stats: _ColumnStats) -> tuple[list[str | None], _ColumnStats]:
        """Value-by-value rendering for object and extension dtypes."""
        out: list[str | None] = []
        append = out.append
        nums = stats.numbers
        num_mid, num_end = f'"{s_attr}>{self.v_open}', f"{self.v_close}{self.c_close}"
        str_mid = f'"{s_attr} t="inlineStr">{self.is_open}'
        str_end = f"{self.is_close}{self.c_close}"
        row = first_row - 1
        for value in values:
            row += 1
            tv = type(value)
            if tv is not float and tv is not str and tv is not int and tv is not bool:
                try:
                    value = _normalise(value, self.date1904)
                except TypeError:
                    raise TableWriteError(
                        f"table {self.table!r}: column {name!r}, row {row - first_row + 1}: "
                        f"cannot write a value of type {type(value).__name__}; use numbers, "
                        "text, booleans, dates or None") from None
                tv = type(value)
            if value is None or (tv is float and value != value):
                append(f"{pre}{row}{empty}" if empty else None)
            elif tv is str:
                if len(value) > MAX_CELL_TEXT:
                    raise TableWriteError(
                        f"table {self.table!r}: column {name!r}, row {row - first_row + 1}: text "
                        f"of {len(value)} characters; an Excel cell holds at most {MAX_CELL_TEXT}")
                stats.nonempty += 1
                append(f"{pre}{row}{str_mid}{_escape_text(value)}{str_end}")
            elif tv is bool:
                stats.nonempty += 1
                append(f'{pre}{row}"{s_attr} t="b">{self.v_open}{int(value)}{num_end}')
            elif tv is float and value in (math.inf, -math.inf):
                stats.errors.append("#NUM!")
                stats.nonempty += 1
                append(f'{pre}{row}"{s_attr} t="e">{self.v_open}#NUM!{num_end}')
            else:  # finite float or int
                nums.append(float(value))
                stats.nonempty += 1
                append(f"{pre}{row}{num_mid}"
                       f"{_fmt_number(value) if tv is float else value}{num_end}")
        return out, stats


# --------------------------------------------------------------------------- totals row

_SUBTOTAL_RE = re.compile(
    r"^\s*(?:_xlfn\.)?SUBTOTAL\(\s*(\d{1,3})\s*,\s*([A-Za-z_\\][\w.]*)?\s*\[(.*)\]\s*\)\s*$",
    re.I | re.S)


def _structured_column(spec: str) -> str | None:
    """'Qty' or \"'[Weird'] name\" (Excel's escapes) -> column name; None for specials."""
    spec = spec.strip()
    if spec.startswith("[") or spec.startswith("#"):
        return None
    return re.sub(r"'(.)", r"\1", spec)


def _subtotal(code: int, stats: _ColumnStats) -> tuple[str, str] | None:
    """SUBTOTAL(code, column) over the new data -> ('n', text) or ('e', error)."""
    try:
        result = _subtotal_unchecked(code, stats)
    except (OverflowError, ValueError):
        return "e", "#NUM!"
    if result is not None and result[0] == "n" and not math.isfinite(float(result[1])):
        return "e", "#NUM!"
    return result


def _subtotal_unchecked(code: int, stats: _ColumnStats) -> tuple[str, str] | None:
    fn = code - 100 if code > 100 else code
    if fn == 3:
        return "n", str(stats.nonempty)
    if fn == 2:
        return "n", str(stats.count())
    if fn not in range(1, 12):
        return None
    if stats.errors:
        return "e", stats.errors[0]
    xs = stats.values()
    div0 = ("e", "#DIV/0!")
    if fn == 9:
        return "n", _fmt_number(math.fsum(xs))
    if fn == 1:
        return ("n", _fmt_number(math.fsum(xs) / len(xs))) if xs else div0
    if fn == 4:
        return "n", _fmt_number(max(xs) if xs else 0.0)
    if fn == 5:
        return "n", _fmt_number(min(xs) if xs else 0.0)
    if fn == 6:
        return "n", _fmt_number(math.prod(xs) if xs else 0.0)
    if fn in (7, 10):
        if len(xs) < 2:
            return div0
        return "n", _fmt_number(statistics.stdev(xs) if fn == 7 else statistics.variance(xs))
    if not xs:
        return div0
    return "n", _fmt_number(statistics.pstdev(xs) if fn == 8 else statistics.pvariance(xs))


# --------------------------------------------------------------------------- write planning


@dataclass
class _Column:
    name: str
    old: int | None  # index among the old table columns, None for a new column
    col: int  # sheet column number in the new layout


_TRIVIAL_ROW_ATTRS = {"r", "spans"}


def _row_is_trivial(attrs: str) -> bool:
    return all(k in _TRIVIAL_ROW_ATTRS or k.endswith(":dyDescent") for k in _attrs(attrs))


def _frame_names(frame: pd.DataFrame, table: str) -> list[str]:
    if isinstance(frame.columns, pd.MultiIndex):
        raise TableWriteError(f"table {table!r}: the frame has MultiIndex columns; flatten them")
    return [str(c) for c in frame.columns]


def _validate_names(frame: pd.DataFrame, table: str) -> list[str]:
    names = _frame_names(frame, table)
    if not names:
        raise TableWriteError(f"table {table!r}: the frame has no columns; a table needs one")
    seen: dict[str, str] = {}
    for name in names:
        if not name.strip():
            raise TableWriteError(f"table {table!r}: column names must not be blank")
        if len(name) > 255:
            raise TableWriteError(f"table {table!r}: column name {name[:30]!r}... is longer than "
                                  "255 characters")
        key = name.casefold()
        if key in seen:
            raise TableWriteError(f"table {table!r}: column names must be unique ignoring case; "
                                  f"{seen[key]!r} and {name!r} clash")
        seen[key] = name
    return names


def _match_columns(new: list[str], old: Sequence[str]) -> list[int | None]:
    """For each new name the index of the old column it continues (exact, then any case)."""
    used: set[int] = set()
    out: list[int | None] = [None] * len(new)
    for exact in (True, False):
        for j, name in enumerate(new):
            if out[j] is not None:
                continue
            for i, old_name in enumerate(old):
                if i not in used and (old_name == name if exact
                                      else old_name.casefold() == name.casefold()):
                    out[j] = i
                    used.add(i)
                    break
    return out


def _describe_rows(rows: Sequence[int]) -> str:
    rows = sorted(set(rows))
    spans: list[str] = []
    start = prev = rows[0]
    for r in [*rows[1:], None]:
        if r is not None and r == prev + 1:
            prev = r
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if r is not None:
            start = prev = r
    return ", ".join(spans)


def _adjust_sqref(sqref: str, old_body: tuple[int, int], new_body: tuple[int, int],
                  old_cols: tuple[int, int], new_last_col: int) -> str:
    """Ranges that exactly span the old body rows of table columns follow the new body rows."""
    out: list[str] = []
    changed = False
    for piece in sqref.split():
        try:
            c1, r1, c2, r2 = _parse_ref(piece)
        except ValueError:
            out.append(piece)
            continue
        if ((r1, r2) != old_body or c1 < old_cols[0] or c2 > old_cols[1]
                or c1 > new_last_col or old_body == new_body):
            out.append(piece)
            continue
        changed = True
        out.append(_format_ref(c1, new_body[0], min(c2, new_last_col), new_body[1]))
        if c2 > new_last_col:
            out.append(_format_ref(new_last_col + 1, r1, c2, r2))
    return " ".join(out) if changed else sqref


def _with_dimension(head: str, ref: str) -> str:
    """The sheet's head with its ``<dimension>`` set to ref (unchanged when it has none)."""
    return _DIMENSION_RE.sub(lambda m: m.group(0).replace(
        m.group(1), _set_attr(m.group(1), "ref", ref)), head, count=1)


def _rewrite_tail_sqrefs(tail: str, adjust: Callable[[str], str]) -> str:
    def host(m: re.Match[str]) -> str:
        text = m.group(0)
        start_len = len(m.group(1)) + len(m.group(2)) + 1 + len(m.group(3))
        start, rest = text[:start_len], text[start_len:]
        start = _SQREF_ATTR_RE.sub(
            lambda a: f"{a.group(1)}{a.group(2)}{adjust(a.group(3))}{a.group(2)}", start)
        if m.group(4):
            rest = _SQREF_EL_RE.sub(
                lambda e: f"{e.group(1)}{adjust(e.group(3))}{e.group(4)}", rest)
        return start + rest

    return _SQREF_HOST_RE.sub(host, tail)


_HAS_F_RE = re.compile(rf"<{_PFX}f[\s/>]")
_CELL_TAG_COL_RE = re.compile(
    rf"<{_PFX}c\s[^>]*?(?<![\w:.-])r\s*=\s*[\"']\$?([A-Za-z]{{1,3}})\$?\d")


class _Band:
    """The rows a rewrite touches; a row's cells are tokenised only when they are needed."""

    def __init__(self, sheet: _Sheet, first: int, last: int) -> None:
        self.prefix = sheet.prefix
        self.i0, self.i1 = sheet.rows_between(first, last)
        self.rows = {row.num: row for row in sheet.rows[self.i0:self.i1]}
        self.tokenised: dict[int, list[_Cell]] = {}

    def cells(self, r: int) -> list[_Cell]:
        cells = self.tokenised.get(r)
        if cells is None:
            row = self.rows.get(r)
            cells = self.tokenised[r] = _tokenize_cells(row.inner if row else None)
        return cells

    def bounds(self, r: int) -> tuple[int, int] | None:
        """First and last cell column of a row without tokenising it (None: cannot tell)."""
        inner = self.rows[r].inner or ""
        tag = f"<{self.prefix}c"
        first, last = inner.find(tag), inner.rfind(tag)
        if first < 0:
            return None
        m1 = _CELL_TAG_COL_RE.match(inner, first)
        m2 = _CELL_TAG_COL_RE.match(inner, last)
        if m1 is None or m2 is None:
            return None
        return _col_of(m1.group(1).upper()), _col_of(m2.group(1).upper())


def _first_body_styles(band: _Band, body: tuple[int, int], c0: int, wanted: set[int]
                       ) -> dict[int, str | None]:
    """Style per table column (index from c0) of its cell in the first body row that has one:
    what a new cell of that column takes."""
    out: dict[int, str | None] = {}
    wanted = set(wanted)
    for r in range(body[0], body[1] + 1):
        if not wanted:
            break
        if r not in band.rows:
            continue
        for cell in band.cells(r):
            k = cell.col - c0
            if k in wanted:
                out[k] = cell.style
                wanted.discard(k)
    return out


_S_SPACED_RE = re.compile(r"s\s+=")


@functools.lru_cache(maxsize=8)
def _style_scan_re(prefix: str) -> re.Pattern[str]:
    """Cells written as ``<c r="B7" s="3"...`` (or without s) -> (letters, style)."""
    return re.compile(rf'<{re.escape(prefix)}c r="([A-Za-z]{{1,3}})\d+"(?: s="(\d+)")?')


def _own_styles(band: _Band, first: int, last: int, columns: dict[int, str | None]
                ) -> dict[tuple[int, int], str | None]:
    """(row, column) -> style of the existing cells in rows first..last of ``columns`` (sheet
    column -> the column's style) whose own style differs from their column's.

    Rows are not tokenised when a quick scan can read every cell's column and style: every
    ``<c`` of the row starts a cell written as ``<c r="B7" s="3"...`` (or without s) and the
    row holds no other ``s=``. Rows of the same shape (columns and styles) are looked at once.
    """
    scan = _style_scan_re(band.prefix)
    tag = f"<{band.prefix}c"
    shapes: dict[tuple[tuple[str, str], ...], tuple[int, list[tuple[int, str | None]]]] = {}
    out: dict[tuple[int, int], str | None] = {}
    for r in range(first, last + 1):
        row = band.rows.get(r)
        if row is None or not row.inner:
            continue
        cells = band.tokenised.get(r)
        if cells is None:
            inner = row.inner
            found = scan.findall(inner)
            # every "<c" is a cell the scan read (else the row has other cells, or rich text)
            if len(found) == inner.count(tag):
                key = tuple(found)
                shape = shapes.get(key)
                if shape is None:
                    differ = [(col, st or None) for letters, st in found
                              if (col := _col_of(letters.upper())) in columns
                              and (st or None) != columns[col]]
                    shape = shapes[key] = (sum(1 for _, st in found if st), differ)
                # every "s=" is a style the scan read: no other s attribute in the row
                if shape[0] == inner.count("s=") and _S_SPACED_RE.search(inner) is None:
                    out.update(((r, col), st) for col, st in shape[1])
                    continue
            cells = band.cells(r)
        for cell in cells:
            if cell.col in columns and (st := cell.style) != columns[cell.col]:
                out[(r, cell.col)] = st
    return out


@dataclass
class _Geometry:
    """Old and new table rectangles (1-based sheet rows and columns)."""

    c0: int
    top: int
    old_c2: int
    old_bottom: int
    new_c2: int
    new_bottom: int
    hdr: int
    tot: int

    @property
    def old_body(self) -> tuple[int, int]:
        return self.top + self.hdr, self.old_bottom - self.tot

    @property
    def new_body(self) -> tuple[int, int]:
        return self.top + self.hdr, self.new_bottom - self.tot

    def in_old(self, r: int, c: int) -> bool:
        return self.top <= r <= self.old_bottom and self.c0 <= c <= self.old_c2

    def in_new(self, r: int, c: int) -> bool:
        return self.top <= r <= self.new_bottom and self.c0 <= c <= self.new_c2


def _check_room(zf: zipfile.ZipFile, info: TableInfo, sheet: _Sheet, band: _Band,
                g: _Geometry, n_new: int, width: int) -> None:
    """Refuse (TableWriteError) when the new table area would cover anything of value."""
    old_ref = info.ref
    new_ref = _format_ref(g.c0, g.top, g.new_c2, g.new_bottom)
    for other in _iter_tables(zf):
        if other.sheet_part != info.sheet_part or other.table_part == info.table_part:
            continue
        oc1, or1, oc2, or2 = _parse_ref(other.ref)
        if oc1 <= g.new_c2 and oc2 >= g.c0 and or1 <= g.new_bottom and or2 >= g.top:
            raise TableWriteError(
                f"cannot write table {info.name!r}: growing it from {old_ref} to {new_ref} would "
                f"overlap table {other.name!r} ({other.ref}) on sheet {info.sheet_name!r}. "
                "Tables never overwrite each other; move the other table. The file was not "
                "changed.")
    conflicts: list[tuple[int, int]] = []
    for r in band.rows:
        if r <= g.old_bottom and g.new_c2 <= g.old_c2:
            continue  # inside the old rows and columns: nothing new is covered
        if r <= g.new_bottom:
            conflicts.extend((r, cell.col) for cell in band.cells(r)
                             if g.in_new(r, cell.col) and not g.in_old(r, cell.col)
                             and cell.has_content)
    for m in _MERGE_RE.finditer(sheet.tail):
        with contextlib.suppress(ValueError):
            mc1, mr1, mc2, mr2 = _parse_ref(_attrs(m.group(1)).get("ref", ""))
            if mc1 <= g.new_c2 and mc2 >= g.c0 and mr1 <= g.new_bottom and mr2 >= g.top and not (
                    mc1 >= g.c0 and mc2 <= g.old_c2 and mr1 >= g.top and mr2 <= g.old_bottom):
                conflicts.extend((r, mc1) for r in range(max(mr1, g.top),
                                                         min(mr2, g.new_bottom) + 1))
    if conflicts:
        conflicts = sorted(set(conflicts))
        cells_txt = ", ".join(f"{_col_letters(c)}{r}" for r, c in conflicts[:8])
        more = "" if len(conflicts) <= 8 else f" and {len(conflicts) - 8} more"
        raise TableWriteError(
            f"cannot write table {info.name!r} on sheet {info.sheet_name!r}: with {n_new} rows "
            f"and {width} columns it grows from {old_ref} to {new_ref} and would overwrite "
            f"non-empty cells outside the table in rows {_describe_rows([r for r, _ in conflicts])}"
            f" ({cells_txt}{more}). write_table never overwrites cells outside the table: move "
            "those cells (or insert rows/columns in Excel) to make room, then retry. The file was "
            "not changed.")


def _plan_write(zf: zipfile.ZipFile, info: TableInfo, frame: pd.DataFrame
                ) -> tuple[dict[str, bytes], set[str]]:
    """New bytes for the parts that change, and the parts to drop (calcChain)."""
    table = info.name
    names = _validate_names(frame, table)
    sheet = _Sheet(_read_part(zf, info.sheet_part), info.sheet_part)
    p = sheet.prefix
    hdr, tot = info.header_row_count, info.totals_row_count
    c0, top, old_c2, old_bottom = _parse_ref(info.ref)
    n_new = len(frame)
    body_n = max(n_new, 1)  # a table keeps at least one (blank) body row
    g = _Geometry(c0, top, old_c2, old_bottom, c0 + len(names) - 1,
                  top + hdr + body_n - 1 + tot, hdr, tot)
    if g.new_c2 > MAX_COLS or g.new_bottom > MAX_ROWS:
        raise TableWriteError(
            f"table {table!r}: {len(names)} columns x {n_new} rows from "
            f"{_format_ref(c0, top, c0, top)} do not fit on a worksheet "
            "(1,048,576 rows x 16,384 columns)")
    old_body, new_body = g.old_body, g.new_body
    old_cols = list(info.columns)
    matches = _match_columns(names, old_cols)
    layout = [_Column(name, matches[j], c0 + j) for j, name in enumerate(names)]
    table_xml_text, table_bom = _decode_xml(_read_part(zf, info.table_part), info.table_part)
    root = re.search(rf"<{_PFX}table(?=[\s/>])({_ATTRS})", table_xml_text)
    ttype = _attrs(root.group(1)).get("tableType", "worksheet") if root else "worksheet"
    if ttype != "worksheet" and names != old_cols:
        raise TableWriteError(
            f"table {table!r} is a {ttype} table (linked to a query or XML map); its columns "
            f"cannot change: expected {old_cols}, got {names}")

    last_row = max(old_bottom, g.new_bottom)
    band = _Band(sheet, top, last_row)
    # Rows whose cells matter: header, totals, rows below the old table, rows with formulas or
    # with cells outside the old columns. Other rows lie wholly in the old body: all replaced.
    for r, brow in band.rows.items():
        if (r in (top, old_bottom) or r > old_bottom
                or (brow.inner and _HAS_F_RE.search(brow.inner))
                or (bounds := band.bounds(r)) is None or bounds[0] < c0 or bounds[1] > old_c2):
            band.cells(r)
    _check_room(zf, info, sheet, band, g, n_new, len(names))

    old_formulas = {(r, cell.col): f for r, cells in band.tokenised.items() for cell in cells
                    if (g.in_old(r, cell.col) or g.in_new(r, cell.col))
                    and (f := cell.raw_f) is not None}

    def old_cell(r: int, old_index: int) -> _Cell | None:
        return next((cell for cell in band.cells(r) if cell.col == c0 + old_index), None)

    # a new body cell takes its column's style (that of its first body cell); a cell that
    # existed keeps its own
    body_style = _first_body_styles(band, old_body, c0,
                                     {c.old for c in layout if c.old is not None})
    own_styles: dict[int, dict[int, str | None]] = {}  # old column index -> row -> style
    for (r, col), own in _own_styles(
            band, old_body[0], min(old_body[1], new_body[1]),
            {c0 + c.old: body_style.get(c.old) for c in layout if c.old is not None}).items():
        own_styles.setdefault(col - c0, {})[r] = own

    renderer = _Renderer(p, info.date1904, table)
    new_formulas: dict[tuple[int, int], str] = {}
    special: dict[int, list[tuple[int, str]]] = {}  # header and totals rows: (column, xml)

    if hdr:
        special[top] = _header_cells(layout, old_cols, band, top, c0, renderer, p, new_formulas)

    rendered: list[list[str | None]] = []
    stats: dict[str, _ColumnStats] = {}
    for j, column in enumerate(layout):
        series = frame.iloc[:, j] if n_new else pd.Series([None], dtype=object)
        letters = _col_letters(column.col)
        style = body_style.get(column.old) if column.old is not None else None
        cells_j, st = renderer.column(column.name, series, letters, new_body[0], style)
        if column.old in own_styles:
            renderer.restyle(cells_j, letters, new_body[0], style, own_styles[column.old])
        rendered.append(cells_j)
        stats[column.name.casefold()] = st
    body_rows = zip(*rendered, strict=True)  # consumed row by row, in order, below

    if tot:
        special[g.new_bottom] = _totals_cells(layout, old_cell, old_bottom, g.new_bottom, table,
                                              stats, p, new_formulas)
    formula_changed = old_formulas != new_formulas

    # ---- rebuild the rows from the table's top to the lower of its old and new bottoms
    template = (band.rows.get(old_body[1]) or band.rows.get(old_body[0])
                or band.rows.get(top))
    totals_template = band.rows.get(old_bottom) if tot else None
    had_filter = re.search(rf"<{_PFX}filterColumn(?=[\s/>])", table_xml_text) is not None
    pieces: list[str] = []
    extent: list[tuple[int, int]] = []  # (row, col) corners of every row that keeps cells
    for m in _MERGE_RE.finditer(sheet.tail):
        with contextlib.suppress(ValueError):
            mc1, mr1, mc2, mr2 = _parse_ref(_attrs(m.group(1)).get("ref", ""))
            extent += [(mr1, mc1), (mr2, mc2)]
    for other_row in sheet.rows[:band.i0] + sheet.rows[band.i1:]:
        cols = [col for col, *_ in _iter_cells(other_row.inner)]
        if cols:
            extent += [(other_row.num, min(cols)), (other_row.num, max(cols))]
    for r in range(top, last_row + 1):
        row = band.rows.get(r)
        kept = [(cell.col, cell.raw if _CELL_R_RE.search(cell.attrs)
                 else _move_cell(cell, f"{_col_letters(cell.col)}{r}", p))
                for cell in band.tokenised.get(r, ())
                if not g.in_old(r, cell.col) and not g.in_new(r, cell.col)]
        in_body = new_body[0] <= r <= new_body[1]
        row_values = next(body_rows) if in_body else ()
        if in_body and not kept:
            xml = "".join(x for x in row_values if x is not None)
            lo_hi = (c0, g.new_c2) if xml else None
        else:
            fresh = special.get(r, [])
            if in_body:
                fresh = [(c0 + j, x) for j, x in enumerate(row_values) if x is not None]
            merged = sorted(kept + fresh) if kept else fresh
            xml = "".join(x for _, x in merged)
            lo_hi = (merged[0][0], merged[-1][0]) if merged else None
        if row is not None:
            attrs = row.attrs
        elif r == g.new_bottom and tot and totals_template is not None:
            attrs = _set_attr(totals_template.attrs, "hidden", None)
        elif top <= r <= g.new_bottom and template is not None:
            attrs = _set_attr(template.attrs, "hidden", None)
        else:
            attrs = ""
        if had_filter and in_body:
            attrs = _set_attr(attrs, "hidden", None)
        attrs = _set_attr(attrs, "r", str(r))
        if "spans" in attrs:
            attrs = _set_attr(attrs, "spans", f"{lo_hi[0]}:{lo_hi[1]}" if lo_hi else None)
        if lo_hi is None:
            if row is None or _row_is_trivial(attrs):
                continue
            pieces.append(f"<{p}row{attrs}/>")
        else:
            extent += [(r, lo_hi[0]), (r, lo_hi[1])]
            pieces.append(f"<{p}row{attrs}>{xml}</{p}row>")

    rows = sheet.rows
    i0, i1 = band.i0, band.i1
    if i0 < i1:
        start, end = rows[i0].start, rows[i1 - 1].end
    else:
        start = end = rows[i0 - 1].end if i0 > 0 else 0
    before, after = sheet.body[:start], sheet.body[end:]
    if any(not row.has_r for row in rows):  # implicit row numbers would shift: make explicit
        before = _number_rows(before, rows[:i0], 0)
        after = _number_rows(after, rows[i1:], end)
    del rendered, body_rows

    # ---- head (dimension) and tail (validation / conditional format ranges)
    head = sheet.head
    if extent:
        rows_, cols_ = [e[0] for e in extent], [e[1] for e in extent]
        head = _with_dimension(head, _format_ref(min(cols_), min(rows_), max(cols_), max(rows_)))
    tail = _rewrite_tail_sqrefs(
        sheet.tail, lambda sq: _adjust_sqref(sq, old_body, new_body, (c0, old_c2), g.new_c2))
    text = "".join([head, sheet.open_tag, before, *pieces, after, sheet.close_tag, tail])
    del pieces, before, after, rows
    band.rows.clear()
    band.tokenised.clear()
    sheet_bom = sheet.bom
    del sheet  # the old sheet text is no longer needed: keep the peak memory low
    sheet_bytes = _encode_xml(text, sheet_bom)
    del text

    new_ref = _format_ref(c0, top, g.new_c2, g.new_bottom)
    table_bytes = _encode_xml(
        _rewrite_table_xml(table_xml_text, layout, old_cols, new_ref,
                           _format_ref(c0, top, g.new_c2, new_body[1]) if hdr else None),
        table_bom)
    return _checked_parts(zf, info, {info.sheet_part: sheet_bytes, info.table_part: table_bytes},
                          formula_changed)


def _header_cells(layout: list[_Column], old_cols: list[str], band: _Band, top: int, c0: int,
                  renderer: _Renderer, p: str, new_formulas: dict[tuple[int, int], str]
                  ) -> list[tuple[int, str]]:
    """Header cells: kept (moved if need be) for kept names, inline strings for new names."""
    old_header = {cell.col - c0: cell for cell in band.cells(top)
                  if 0 <= cell.col - c0 < len(old_cols)}
    styles = [old_header[c.old].style if c.old is not None and c.old in old_header else None
              for c in layout]
    persisting = [j for j, c in enumerate(layout) if c.old is not None]
    fallback = next((old_header[k].style for k in sorted(old_header)), None)
    out: list[tuple[int, str]] = []
    for j, column in enumerate(layout):
        ref = f"{_col_letters(column.col)}{top}"
        old = old_header.get(column.old) if column.old is not None else None
        if old is not None and column.old is not None and old_cols[column.old] == column.name:
            out.append((column.col, _move_cell(old, ref, p)))
            if (f := old.raw_f) is not None:
                new_formulas[(top, column.col)] = f
            continue
        style = styles[j]
        if column.old is None:  # a new column: its neighbour's header style
            near = [k for _, k in sorted((abs(k - j), k) for k in persisting)]
            style = styles[near[0]] if near else fallback
        out.append((column.col, renderer.text(ref, f' s="{style}"' if style else "", column.name)))
    return out


def _totals_cells(layout: list[_Column], old_cell: Callable[[int, int], _Cell | None],
                  old_bottom: int, new_bottom: int, table: str, stats: dict[str, _ColumnStats],
                  p: str, new_formulas: dict[tuple[int, int], str]) -> list[tuple[int, str]]:
    """Totals cells moved to the new bottom row; SUBTOTAL results recomputed."""
    out: list[tuple[int, str]] = []
    for column in layout:
        if column.old is None:
            continue
        cell = old_cell(old_bottom, column.old)
        if cell is None:
            continue
        ref = f"{_col_letters(column.col)}{new_bottom}"
        f = cell.raw_f
        if f is None:
            out.append((column.col, _move_cell(cell, ref, p)))
            continue
        new_formulas[(new_bottom, column.col)] = f
        out.append((column.col, _total_cell(cell, f, ref, table, stats, p)))
    return out


def _subtotal_target(f: str, table: str) -> tuple[int, str | None] | None:
    """(function code, column name; None for ``[#All]`` and the like) of a totals formula
    ``SUBTOTAL(code, [column])`` over this table; None for any other formula."""
    fm = _F_TEXT_RE.match(f)
    sm = _SUBTOTAL_RE.match(_unescape(fm.group(1))) if fm else None
    if sm is None or (sm.group(2) is not None and sm.group(2).casefold() != table.casefold()):
        return None
    return int(sm.group(1)), _structured_column(sm.group(3))


def _total_cell(cell: _Cell, f: str, ref: str, table: str, stats: dict[str, _ColumnStats],
                p: str) -> str:
    """A totals formula cell at ``ref`` with its cached value recomputed from ``stats`` (column
    name casefolded -> statistics); a formula that cannot be evaluated keeps no cached value."""
    attrs = _set_attr(_set_attr(cell.attrs, "r", ref), "t", None)
    value = ""
    target = _subtotal_target(f, table)
    col_stats = stats.get(target[1].casefold()) if target and target[1] is not None else None
    result = _subtotal(target[0], col_stats) if target and col_stats is not None else None
    if result is not None:
        if result[0] == "e":
            attrs = _set_attr(attrs, "t", "e")
        value = f"<{p}v>{result[1]}</{p}v>"
    return f"<{p}c{attrs}>{f}{value}</{p}c>"


def _move_cell(cell: _Cell, ref: str, p: str) -> str:
    """The cell's XML at another address (attributes and content otherwise verbatim)."""
    attrs = _set_attr(cell.attrs, "r", ref)
    return f"<{p}c{attrs}/>" if cell.inner is None else f"<{p}c{attrs}>{cell.inner}</{p}c>"


def _number_rows(text: str, rows: Sequence[_Row], offset: int) -> str:
    """Give every row in ``text`` an explicit r attribute (needed once rows move)."""
    out: list[str] = []
    pos = 0
    for row in rows:
        s, e = row.start - offset, row.end - offset
        chunk = text[s:e]
        if not row.has_r:
            m = re.match(rf"<{_PFX}row", chunk)
            assert m is not None
            chunk = f'{chunk[:m.end()]} r="{row.num}"{chunk[m.end():]}'
        out.append(text[pos:s])
        out.append(chunk)
        pos = e
    out.append(text[pos:])
    return "".join(out)


def _rewrite_table_xml(text: str, layout: list[_Column], old_cols: list[str], new_ref: str,
                       filter_ref: str | None) -> str:
    """Table definition with the new ref, autoFilter and columns; everything else verbatim."""
    root = re.search(rf"<({_PFX})table(?=[\s/>])({_ATTRS})>", text)
    if root is None:
        raise WorkbookFormatError("table part has no <table> element")
    p = root.group(1)
    text = text[:root.start(2)] + _set_attr(root.group(2), "ref", new_ref) + text[root.end(2):]

    # autoFilter: new ref; filters and sort state are dropped (they described the old rows)
    drop_children = re.compile(
        rf"<({_PFX})(filterColumn|sortState)(?=[\s/>])(?:{_ATTRS}/>|{_ATTRS}>.*?</\1\2\s*>)", re.S)

    def autofilter(m: re.Match[str]) -> str:
        attrs = m.group(2) if filter_ref is None else _set_attr(m.group(2), "ref", filter_ref)
        inner = drop_children.sub("", m.group(3) or "")
        return (f"<{m.group(1)}autoFilter{attrs}>{inner}</{m.group(1)}autoFilter>" if inner.strip()
                else f"<{m.group(1)}autoFilter{attrs}/>")

    text = re.sub(rf"<({_PFX})autoFilter(?=[\s/>])({_ATTRS})(?:/>|>(.*?)</\1autoFilter\s*>)",
                  autofilter, text, count=1, flags=re.S)
    text = re.sub(rf"<({_PFX})sortState(?=[\s/>])(?:{_ATTRS}/>|{_ATTRS}>.*?</\1sortState\s*>)",
                  "", text, count=1, flags=re.S)

    block = re.search(rf"<({_PFX})tableColumns(?=[\s/>])({_ATTRS})>(.*?)</\1tableColumns\s*>",
                      text, re.S)
    if block is None:
        raise WorkbookFormatError("table part has no <tableColumns>")
    chunks: list[tuple[str, str, str | None]] = [
        (m.group(0), m.group(1), m.group(2)) for m in re.finditer(
            rf"<{_PFX}tableColumn(?=[\s/>])({_ATTRS})(?:/>|>(.*?)</{_PFX}tableColumn\s*>)",
            block.group(3), re.S)]
    if len(chunks) != len(old_cols):
        raise WorkbookFormatError("table part: tableColumns do not match the column count")
    ids = [int(_attrs(a).get("id", "0") or 0) for _, a, _ in chunks]
    next_id = max(ids, default=0) + 1
    out: list[str] = []
    for column in layout:
        if column.old is None:
            out.append(f'<{p}tableColumn id="{next_id}" name="{_escape_name(column.name)}"/>')
            next_id += 1
            continue
        raw, attrs, _inner = chunks[column.old]
        if old_cols[column.old] != column.name:
            new_attrs = _set_attr(attrs, "name", _escape_name(column.name))
            raw = raw.replace(attrs, new_attrs, 1)
        out.append(raw)
    open_attrs = _set_attr(block.group(2), "count", str(len(layout)))
    new_block = f"<{p}tableColumns{open_attrs}>{''.join(out)}</{p}tableColumns>"
    return text[:block.start()] + new_block + text[block.end():]


def _remove_elements(text: str, tag: str, keep: Callable[[dict[str, str]], bool]) -> str:
    pat = re.compile(rf"<{_PFX}{tag}(?=[\s/>])({_ATTRS})(?:/>|>.*?</{_PFX}{tag}\s*>)", re.S)
    return pat.sub(lambda m: m.group(0) if keep(_attrs(m.group(1))) else "", text)


def _checked_parts(zf: zipfile.ZipFile, info: TableInfo, replacements: dict[str, bytes],
                   formula_changed: bool) -> tuple[dict[str, bytes], set[str]]:
    """The parts to replace and remove: ``replacements``, plus dropping calcChain where a formula
    cell changed; every replaced part checked to be well-formed first."""
    removals: set[str] = set()
    if formula_changed:
        replacements.update(_drop_calc_chain(zf, info.workbook_part, removals))
    for part, data in replacements.items():
        _check_well_formed(data, part)
    return replacements, removals


def _drop_calc_chain(zf: zipfile.ZipFile, wb_part: str, removals: set[str]) -> dict[str, bytes]:
    """Parts to rewrite so that the package no longer has a calcChain."""
    rels_part = _rels_part(wb_part)
    chains = [r for r in _read_rels(zf, wb_part) if r.type.endswith("/calcChain")]
    chain_parts = {r.target for r in chains} | (
        {"xl/calcChain.xml"} if "xl/calcChain.xml" in zf.NameToInfo else set())
    out: dict[str, bytes] = {}
    if chains:
        text, bom = _decode_xml(zf.read(rels_part), rels_part)
        out[rels_part] = _encode_xml(_remove_elements(
            text, "Relationship", lambda a: not a.get("Type", "").endswith("/calcChain")), bom)
    ct = "[Content_Types].xml"
    if chain_parts and ct in zf.NameToInfo:
        text, bom = _decode_xml(zf.read(ct), ct)
        names = {"/" + part for part in chain_parts}
        new = _remove_elements(text, "Override", lambda a: a.get("PartName") not in names)
        if new != text:
            out[ct] = _encode_xml(new, bom)
    removals.update(part for part in chain_parts if part in zf.NameToInfo)
    return out


# --------------------------------------------------------------------------- column updates


def _update_targets(frame: pd.DataFrame, columns: str | Iterable[str], old_cols: list[str],
                    table: str) -> list[tuple[int, int]]:
    """(table column index, frame column position) of each column to update."""
    frame_names = _frame_names(frame, table)
    names = [columns] if isinstance(columns, str) else [str(c) for c in columns]
    if not names:
        raise TableWriteError(f"table {table!r}: no columns to update were named")
    seen: dict[str, str] = {}
    for name in names:
        if name.casefold() in seen:
            raise TableWriteError(f"table {table!r}: column {name!r} is named twice in columns "
                                  f"(as {seen[name.casefold()]!r} and {name!r})")
        seen[name.casefold()] = name
    index = _match_columns(names, old_cols)
    unknown = [name for name, i in zip(names, index, strict=True) if i is None]
    if unknown:
        raise TableWriteError(
            f"table {table!r} has no column {', '.join(map(repr, unknown))}; its columns are: "
            f"{', '.join(map(repr, old_cols))}. update_columns only rewrites existing columns: "
            "use write_table to add a column. The file was not changed.")
    out: list[tuple[int, int]] = []
    for name, i in zip(names, index, strict=True):
        assert i is not None
        hits = ([j for j, f in enumerate(frame_names) if f == name]
                or [j for j, f in enumerate(frame_names) if f == old_cols[i]]
                or [j for j, f in enumerate(frame_names) if f.casefold() == name.casefold()])
        if len(hits) != 1:
            raise TableWriteError(
                f"table {table!r}: the frame has {'several columns' if hits else 'no column'} "
                f"named {name!r} (ignoring case); its columns are: "
                f"{', '.join(map(repr, frame_names))}. The file was not changed.")
        out.append((i, hits[0]))
    return out


def _widen_spans(attrs: str, cols: Sequence[int]) -> str:
    """Row attributes whose ``spans`` (when present) also cover ``cols``."""
    m = re.search(r"(?<![\w:.-])spans\s*=\s*[\"']([^\"']*)[\"']", attrs)
    if m is None:
        return attrs
    try:
        bounds = [int(x) for piece in m.group(1).split() for x in piece.split(":")]
    except ValueError:
        return attrs
    if not bounds or (min(cols) >= min(bounds) and max(cols) <= max(bounds)):
        return attrs
    return _set_attr(attrs, "spans", f"{min(*bounds, *cols)}:{max(*bounds, *cols)}")


def _rewrite_row(text: str, row: _Row, cells: list[tuple[int, re.Match[str]]],
                 updates: dict[int, str | None], p: str, number: bool
                 ) -> tuple[str, list[int]]:
    """A row's XML (``text``) with the cells in ``updates`` (column -> new XML; None: no cell)
    replaced, or inserted in column order; every other byte as it was, except that cells
    without an r attribute get one when cells come or go, and the row gets an r attribute
    with ``number``. Also returns the columns of the cells that are new."""
    sm = _ROW_START_RE.match(text)
    assert sm is not None
    attrs = row.attrs
    if number and not row.has_r:
        attrs = _set_attr(attrs, "r", str(row.num))
    present = {col for col, _ in cells}
    new = sorted((col, x) for col, x in updates.items() if col not in present and x is not None)
    reshaped = bool(new) or any(updates.get(col, "") is None for col in present)
    inner = row.inner or ""
    out: list[str] = []
    pos = k = 0
    for col, m in cells:
        out.append(inner[pos:m.start()])
        while k < len(new) and new[k][0] < col:
            out.append(new[k][1])
            k += 1
        if col in updates:
            out.append(updates[col] or "")
        elif reshaped and _CELL_R_RE.search(m.group(1)) is None:
            out.append(_move_cell(_cell_of(col, m), f"{_col_letters(col)}{row.num}", p))
        else:
            out.append(m.group(0))
        pos = m.end()
    out.extend(x for _, x in new[k:] if x is not None)
    out.append(inner[pos:])
    added = [col for col, _ in new]
    if added:
        attrs = _widen_spans(attrs, added)
    head = text[:sm.start(1)] + attrs
    if row.inner is None:  # a self-closing row
        return (f"{head}>{''.join(out)}</{p}row>" if added else f"{head}/>"), added
    return f"{head}>{''.join(out)}{text[sm.end() + len(inner):]}", added


def _check_shared_masters(sheet: _Sheet, replaced: list[tuple[int, int, str]],
                          updates: dict[int, dict[int, str | None]], table: str) -> None:
    """Refuse to replace the anchor cell of a shared formula that cells staying as they are use
    (they hold only a reference to it, and would be left without a formula)."""
    for r, col, f in replaced:
        fm = re.match(rf"<{_PFX}f({_ATTRS})", f)
        fa = _attrs(fm.group(1)) if fm else {}
        if fa.get("t") != "shared" or "ref" not in fa or "si" not in fa:
            continue
        try:
            c1, r1, c2, r2 = _parse_ref(fa["ref"])
        except ValueError:
            continue
        users: list[str] = []
        i0, i1 = sheet.rows_between(r1, r2)
        for row in sheet.rows[i0:i1]:
            for c, m in _cell_matches(row.inner):
                if not c1 <= c <= c2 or c in updates.get(row.num, {}):
                    continue
                uf = _cell_of(c, m).raw_f
                um = re.match(rf"<{_PFX}f({_ATTRS})", uf) if uf else None
                ua = _attrs(um.group(1)) if um else {}
                if ua.get("t") == "shared" and ua.get("si") == fa["si"]:
                    users.append(f"{_col_letters(c)}{row.num}")
        if users:
            more = "" if len(users) <= 8 else f" and {len(users) - 8} more"
            raise TableWriteError(
                f"table {table!r}: cell {_col_letters(col)}{r} holds a shared formula that cells "
                f"{', '.join(users[:8])}{more} also use; replacing its formula would leave them "
                "without one. Update those columns too (or re-enter the formulas in Excel so "
                "that they are not shared) and retry. The file was not changed.")


def _plan_update(zf: zipfile.ZipFile, info: TableInfo, frame: pd.DataFrame,
                 columns: str | Iterable[str]) -> tuple[dict[str, bytes], set[str]]:
    """New bytes for the sheet (and calcChain parts) when only some columns' body cells change."""
    table = info.name
    old_cols = list(info.columns)
    targets = _update_targets(frame, columns, old_cols, table)
    sheet = _Sheet(_read_part(zf, info.sheet_part), info.sheet_part)
    p = sheet.prefix
    c0, top, c2, bottom = _parse_ref(info.ref)
    body = (top + info.header_row_count, bottom - info.totals_row_count)
    n_body = body[1] - body[0] + 1
    band = _Band(sheet, body[0], bottom)
    found = {r: list(_cell_matches(row.inner)) for r, row in band.rows.items()}
    n = len(frame)
    if n != n_body:
        strings = _lazy_strings(zf, info.workbook_part)
        blank = n_body == 1 and all(_cell_value(m.group(1), m.group(3), strings) is None
                                    for col, m in found.get(body[0], ()) if c0 <= col <= c2)
        if not (blank and n == 0):  # read_table gives an empty table (one blank row) 0 rows
            has = "0 rows (its one body row is blank)" if blank else f"{n_body} body rows"
            raise TableWriteError(
                f"table {table!r} has {has} but the frame has {n} rows: update_columns "
                "rewrites cells in place and needs one frame row per table row. Use write_table "
                "to change the number of rows. The file was not changed.")

    cols = {c0 + i: (old_cols[i], j) for i, j in targets}
    existing: dict[int, dict[int, _Cell]] = {col: {} for col in cols}
    for r in range(body[0], body[1] + 1):
        for col, m in found.get(r, ()):
            if col in existing:
                existing[col].setdefault(r, _cell_of(col, m))
    col_style = _first_body_styles(band, body, c0, {i for i, _ in targets})

    renderer = _Renderer(p, info.date1904, table)
    updates: dict[int, dict[int, str | None]] = {}  # row -> column -> new XML (None: no cell)
    stats: dict[str, _ColumnStats] = {}
    replaced: list[tuple[int, int, str]] = []  # formula cells that get a value: (row, col, <f>)
    for col, (name, j) in cols.items():
        letters = _col_letters(col)
        style = col_style.get(col - c0)
        series = frame.iloc[:, j] if n else pd.Series([None], dtype=object)
        cells, stats[name.casefold()] = renderer.column(name, series, letters, body[0], style)
        old = existing[col]
        renderer.restyle(cells, letters, body[0], style,
                         {r: st for r, cell in old.items() if (st := cell.style) != style})
        for r, x in enumerate(cells, body[0]):
            cell = old.get(r)
            if x == (cell.raw if cell is not None else None):
                continue  # nothing there and nothing to write, or the same cell
            if cell is not None and (f := cell.raw_f) is not None:
                replaced.append((r, col, f))
            updates.setdefault(r, {})[col] = x
    _check_shared_masters(sheet, replaced, updates, table)

    if info.totals_row_count:  # recompute the totals that depend on the updated columns
        for col, m in found.get(bottom, ()):
            cell = _cell_of(col, m)
            if not c0 <= col <= c2 or (f := cell.raw_f) is None:
                continue
            target = _subtotal_target(f, table)
            over = target[1] if target is not None else None  # the column it totals, if known
            if (over is not None and over.casefold() in stats) or (over is None and col in cols):
                x = _total_cell(cell, f, f"{_col_letters(col)}{bottom}", table, stats, p)
                if x != cell.raw:
                    updates.setdefault(bottom, {})[col] = x
    if not updates:
        return {}, set()

    # ---- splice the changed rows into the sheet; rows that do not exist yet are created
    rows, text = sheet.rows, sheet.body
    renumber = (any(r not in band.rows for r in updates)
                and any(not row.has_r for row in rows))
    i0, i1 = band.i0, band.i1
    start = rows[i0].start if i0 < i1 else (rows[i0 - 1].end if i0 > 0 else 0)
    end = rows[i1 - 1].end if i0 < i1 else start
    pieces: list[str] = []
    added: list[tuple[int, int]] = []  # cells that are new: (row, col)
    pos = start
    for r in range(body[0], bottom + 1):
        row, row_updates = band.rows.get(r), updates.get(r)
        if row is None:
            if row_updates:
                new_cells = sorted((c, x) for c, x in row_updates.items() if x is not None)
                pieces.append(f'<{p}row r="{r}">{"".join(x for _, x in new_cells)}</{p}row>')
                added += [(r, c) for c, _ in new_cells]
            continue
        pieces.append(text[pos:row.start])
        pos = row.end
        if row_updates is None and (row.has_r or not renumber):
            pieces.append(text[row.start:row.end])
            continue
        xml, new_cols = _rewrite_row(text[row.start:row.end], row, found[r], row_updates or {},
                                     p, renumber)
        pieces.append(xml)
        added += [(r, c) for c in new_cols]
    pieces.append(text[pos:end])
    before, after = text[:start], text[end:]
    if renumber:  # implicit row numbers would shift: make them explicit
        before = _number_rows(before, rows[:i0], 0)
        after = _number_rows(after, rows[i1:], end)

    head = sheet.head
    dm = _DIMENSION_RE.search(head)
    if added and dm is not None:
        with contextlib.suppress(ValueError):
            d = _parse_ref(_attrs(dm.group(1)).get("ref", ""))
            grown = (min(d[0], *(c for _, c in added)), min(d[1], *(r for r, _ in added)),
                     max(d[2], *(c for _, c in added)), max(d[3], *(r for r, _ in added)))
            if grown != d:
                head = _with_dimension(head, _format_ref(*grown))
    sheet_bytes = _encode_xml("".join(
        [head, sheet.open_tag, before, *pieces, after, sheet.close_tag, sheet.tail]), sheet.bom)
    return _checked_parts(zf, info, {info.sheet_part: sheet_bytes}, bool(replaced))


# --------------------------------------------------------------------------- package writing

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")


def _raw_copy_supported(zout: zipfile.ZipFile) -> bool:
    return all(hasattr(zout, a) for a in ("fp", "filelist", "NameToInfo", "start_dir", "_lock",
                                          "_writecheck", "_didModify"))


def _copy_member_raw(zin: zipfile.ZipFile, zout: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Copy one member's compressed bytes unchanged; False when that is not possible."""
    if info.flag_bits & 0x1 or info.file_size >= zipfile.ZIP64_LIMIT \
            or info.compress_size >= zipfile.ZIP64_LIMIT or not _raw_copy_supported(zout):
        return False
    fp = zin.fp
    if fp is None:
        return False
    fp.seek(info.header_offset)
    header = fp.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        return False
    fields = _LOCAL_HEADER.unpack(header)
    fp.seek(info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11])
    data = fp.read(info.compress_size)
    if len(data) != info.compress_size:
        return False
    zinfo = copy.copy(info)
    zinfo.flag_bits &= ~0x08  # sizes and CRC go in the local header, no data descriptor
    zinfo.extra = _strip_zip64_extra(info.extra)
    with zout._lock:  # type: ignore[attr-defined]
        out = zout.fp
        assert out is not None
        out.seek(zout.start_dir)
        zinfo.header_offset = out.tell()
        zout._writecheck(zinfo)  # type: ignore[attr-defined]
        zout._didModify = True  # type: ignore[attr-defined]
        out.write(zinfo.FileHeader(False))
        out.write(data)
        zout.filelist.append(zinfo)
        zout.NameToInfo[zinfo.filename] = zinfo
        zout.start_dir = out.tell()
    return True


def _strip_zip64_extra(extra: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i + 4 <= len(extra):
        xid, size = struct.unpack("<HH", extra[i:i + 4])
        if xid != 0x0001:
            out += extra[i:i + 4 + size]
        i += 4 + size
    return bytes(out)


def _write_package(zin: zipfile.ZipFile, replacements: dict[str, bytes], removals: set[str],
                   out: IO[bytes]) -> None:
    with zipfile.ZipFile(out, "w") as zout:
        for info in zin.infolist():
            if info.filename in removals:
                continue
            data = replacements.get(info.filename)
            if data is None:
                if _copy_member_raw(zin, zout, info):
                    continue
                data = zin.read(info)
            zinfo = zipfile.ZipInfo(info.filename, date_time=info.date_time)
            zinfo.compress_type = (zipfile.ZIP_STORED if info.compress_type == zipfile.ZIP_STORED
                                   else zipfile.ZIP_DEFLATED)
            zinfo.external_attr = info.external_attr
            zinfo.create_system = info.create_system
            zout.writestr(zinfo, data)


def _lock_files(target: Path) -> list[Path]:
    names = {f"~${target.name}", f"~${target.name[2:]}"}
    return [target.with_name(n) for n in names if n != "~$"]


def _preflight(src: Path, dst: Path) -> None:
    if not src.is_file():
        raise FileNotFoundError(2, f"workbook not found: {src}", str(src))
    if not dst.parent.is_dir():
        raise TableFileError(f"cannot write {dst}: folder {dst.parent} does not exist", dst)
    for lock in _lock_files(dst):
        if lock.exists():
            raise TableFileLockedError(
                f"{dst} is open in Excel (lock file {lock.name} exists): close the workbook in "
                "Excel and retry (delete the lock file if Excel is not running). The file was not "
                "changed.", dst)
    if dst.exists():
        if not dst.is_file():
            raise TableFileError(f"cannot write {dst}: it is not a file", dst)
        mode = dst.stat().st_mode
        if not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(dst, os.W_OK):
            raise TableFileError(
                f"{dst} is read-only: clear its read-only flag (or pass out_path= to write a copy "
                "elsewhere) and retry. The file was not changed.", dst)
        try:
            with open(dst, "r+b"):
                pass
        except OSError as exc:
            raise TableFileLockedError(
                f"{dst} cannot be opened for writing ({exc.strerror or exc}): it is probably open "
                "in Excel or another program; close it and retry. The file was not changed.",
                dst) from exc


def write_table(path: StrPath, table_name: str, frame: pd.DataFrame, *,
                out_path: StrPath | None = None, backup: bool = True) -> Path:
    """Replace the table's body with ``frame``; return the path written.

    The table ends up with exactly ``frame``'s columns in ``frame``'s order (its index is
    ignored); columns are matched to the old ones by header name (exact, then ignoring case) to
    keep their cell styles, totals-row cell and table-column properties: a body cell that
    existed keeps its own style, a new one (more rows) takes the style of its column's first
    body cell. Formulas in the body become their cached values: to leave the user's columns
    alone, use :func:`update_columns`. Text is written as text,
    never as a formula. The result goes to ``out_path`` (default: ``path`` itself), atomically;
    with ``backup`` an existing target is first copied to :func:`backup_path`.

    Raises :class:`TableWriteError` when the table would overwrite cells outside it,
    :class:`TableFileError` (an ``OSError``) for unwritable folders and read-only or locked files,
    :class:`TableNotFoundError` for an unknown table. In every error case the files are unchanged.
    """
    return _save(path, table_name, out_path, backup,
                 lambda zin, info: _plan_write(zin, info, frame))


_Plan = Callable[[zipfile.ZipFile, TableInfo], tuple[dict[str, bytes], set[str]]]


def _save(path: StrPath, table_name: str, out_path: StrPath | None, backup: bool,
          plan: _Plan) -> Path:
    """Find the table, ``plan`` the parts to replace and remove, write the package atomically
    (with a backup of the target, see :func:`xlhedge.files.atomic_path`); on any failure the
    files are unchanged."""
    src = Path(path)
    dst = Path(out_path) if out_path is not None else src
    _preflight(src, dst)
    before = src.stat()
    try:
        with _open_zip(src) as zin:
            info = _find_table(zin, table_name)
            replacements, removals = plan(zin, info)
            with atomic_path(dst, backup=backup, mode_from=src) as tmp, open(tmp, "w+b") as out:
                _write_package(zin, replacements, removals, out)
                out.flush()
                out.seek(0)
                with zipfile.ZipFile(out) as check:
                    bad = check.testzip()
                if bad is not None:  # pragma: no cover - would be a bug in the raw copy
                    raise XlsxTableError(f"internal error: member {bad} failed its CRC check")
                after = src.stat()
                if (after.st_mtime_ns, after.st_size) != (before.st_mtime_ns, before.st_size):
                    raise TableFileError(
                        f"{src} changed while the table was being written (saved by another "
                        "program?); nothing was written. Retry.", src)
    except TableFileError:
        raise
    except FileWriteError as exc:
        raise TableFileError(f"{exc} Or pass out_path= to write a copy elsewhere.", dst) from exc
    except BaseException as exc:
        if not isinstance(exc, XlsxTableError):
            exc.add_note(f"xlhedge.xlsxtable: {dst} was not changed.")
        raise
    return dst


def update_columns(path: StrPath, table_name: str, frame: pd.DataFrame,
                   columns: str | Iterable[str], *, out_path: StrPath | None = None,
                   backup: bool = True) -> Path:
    """Replace the body cells of the table columns named in ``columns`` with ``frame``'s values
    for those columns; return the path written.

    Only those cells change: every other cell of the table and the sheet (formulas the user
    typed in other columns, their cached values, styles), the table definition and its range
    stay byte for byte as they were. ``frame`` must have exactly one row per table body row
    (row k of the frame, by position, goes to body row k). Names in ``columns`` are matched to
    the table's headers like :func:`write_table` matches them (exactly, then ignoring case);
    the frame column is the one of the same name (exactly, then the table's spelling, then
    ignoring case). An updated cell keeps its own style; a cell that did not exist takes the
    style of its column's first body cell. Values follow :func:`write_table`'s rules (text is
    never a formula; None/NaN empties a cell and keeps its style). Totals-row formulas stay and
    get fresh cached values for the updated columns. When a formula cell gets a value,
    ``xl/calcChain.xml`` goes as with :func:`write_table`. Saved atomically, with a backup
    like :func:`write_table`.

    Raises :class:`TableWriteError` (the file unchanged) when the row counts differ or a named
    column is not in the table (use :func:`write_table` to resize the table or add columns),
    plus :func:`write_table`'s errors.
    """
    return _save(path, table_name, out_path, backup,
                 lambda zin, info: _plan_update(zin, info, frame, columns))
