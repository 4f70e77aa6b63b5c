"""Read one Excel table (ListObject) of an .xlsx/.xlsm package, and update some of its columns.

openpyxl's load/save drops what it does not model (cached values, dynamic arrays, buttons), so this
module edits the package: only the table's worksheet part changes (its table part too when it gains
a column or rows; calcChain, its override and relationship go when a formula cell gets a value).
Other members keep their content and order. Parts are parsed and written with lxml (prefixes and
``mc:Ignorable`` declarations kept). A hostile package gives one :class:`WorkbookFormatError`:
DOCTYPEs are refused (no entity is expanded or fetched), members over :data:`MAX_PART_BYTES` or
packed over :data:`MAX_RATIO`:1 are not unpacked.
"""

from __future__ import annotations

import bisect
import datetime as dt
import decimal
import math
import numbers
import os
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lxml import etree
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format, is_timedelta_format
from openpyxl.utils.cell import column_index_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import MAC_EPOCH, WINDOWS_EPOCH, from_excel, to_excel
from openpyxl.utils.escape import unescape

from xlhedge.errors import XlhedgeError
from xlhedge.files import FileWriteError, atomic_path, backup_path

__all__ = ["TableFileError", "TableFileLockedError", "TableInfo", "TableNotFoundError",
           "TableWriteError", "WorkbookFormatError", "XlsxTableError", "backup_path",
           "list_tables", "read_table", "read_tables", "table_info", "update_columns"]

StrPath = str | os.PathLike[str]
MAX_CELL_TEXT, MAX_ROW = 32_767, 1_048_576
MAX_PART_BYTES = 200 * 2**20  # uncompressed size of any one member
MAX_RATIO, RATIO_FLOOR = 200, 10 * 2**20  # refused: packed more than 200:1 AND over 10 MiB
_UNCHANGED = "The file was not changed."
# openpyxl.utils.escape.escape matches [\001-\031] (octal: up to 0x19), so it leaves 0x1a-0x1f,
# which XML cannot carry, and does not protect a literal "_x0041_": its _xHHHH_ form, completed.
_ESCAPE = "[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]|_(?=x[0-9A-Fa-f]{4}_)"
_ESCAPE_RE, _NAME_ESCAPE_RE = re.compile(_ESCAPE), re.compile(_ESCAPE.replace("\x0e", "\x09"))
_SUBTOTAL_RE = re.compile(
    r"\s*(?:_xlfn\.)?SUBTOTAL\(\s*(\d{1,3})\s*,\s*([^\[\],()]*)\[(.*)\]\s*\)\s*$", re.I | re.S)


class XlsxTableError(Exception):
    """Base class of the errors raised by this module."""

class WorkbookFormatError(XlsxTableError, ValueError):
    """The file is not a workbook package this module can read; names the file and the part."""

class TableNotFoundError(XlsxTableError, LookupError):
    """No table of that name; the message lists the tables the workbook has."""

class TableWriteError(XlsxTableError, ValueError):
    """The data cannot be written under the rules (names the table and the rule); file unchanged."""

class TableFileError(XlsxTableError, FileWriteError):
    """A file-system problem (unwritable folder, read-only or locked file); file unchanged."""

class TableFileLockedError(TableFileError):
    """The target is open in Excel or locked by another program."""


def _escape(text: str, pattern: re.Pattern[str] = _ESCAPE_RE) -> str:
    return pattern.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


@dataclass(frozen=True)
class TableInfo:
    """Where a table lives and what it holds (as its definition says)."""

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

    @property
    def bounds(self) -> tuple[int, int, int, int]:  # first column, first row, last column, row
        c1, r1, c2, r2 = range_boundaries(self.ref)
        if None in (c1, r1, c2, r2):
            raise ValueError(f"table {self.name!r} has the unusable ref {self.ref!r}")
        return int(c1), int(r1), int(c2), int(r2)


class _Package(zipfile.ZipFile):
    """A workbook zip, read one checked, size-bounded part at a time. Leaving its ``with``
    block on damage no check names (a bad number or address) raises one clear error."""

    def __init__(self, path: StrPath) -> None:
        self.path = Path(path)
        try:
            super().__init__(self.path)
        except (zipfile.BadZipFile, EOFError, ValueError) as exc:
            raise WorkbookFormatError(
                f"{self.path} is not an Excel workbook (not a zip package)") from exc
        self.names = set(self.namelist())

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.close()
        if isinstance(exc, ValueError | IndexError | KeyError | OverflowError | AttributeError
                      ) and not isinstance(exc, XlsxTableError | XlhedgeError):  # not ours
            raise WorkbookFormatError(f"{self.path} is damaged or not a workbook this module "
                                      f"can read ({type(exc).__name__}: {exc})") from exc

    def part(self, name: str) -> bytes:
        if name not in self.names:
            raise WorkbookFormatError(f"{self.path}: the package has no part {name!r}")
        size, packed = (info := self.getinfo(name)).file_size, info.compress_size
        if size > MAX_PART_BYTES or (size > RATIO_FLOOR and size > MAX_RATIO * max(packed, 1)):
            raise WorkbookFormatError(f"{self.path}: part {name} unpacks to {size:,} bytes from "
                                      f"{packed:,}: refused (limits {MAX_PART_BYTES:,} bytes, "
                                      f"{MAX_RATIO}:1 packing)")
        try:
            with self.open(info) as member:
                if len(data := member.read(size + 1)) != size:  # bounded when the header lies
                    raise zipfile.BadZipFile("wrong size")
        except (zlib.error, zipfile.BadZipFile, EOFError, NotImplementedError, RuntimeError) as exc:
            raise WorkbookFormatError(f"{self.path}: part {name} is damaged ({exc})") from exc
        return data

    def parse(self, data: bytes, name: str) -> Any:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False,
                                 remove_blank_text=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError as exc:
            raise WorkbookFormatError(
                f"{self.path}: part {name} is not well-formed XML ({exc})") from exc
        if root.getroottree().docinfo.doctype:
            raise WorkbookFormatError(f"{self.path}: part {name} has a DOCTYPE, which Excel "
                                      "never writes: refused (no entity is expanded or fetched)")
        return root

    def xml(self, name: str) -> Any:
        return self.parse(self.part(name), name)

    @staticmethod
    def serialize(root: Any, original: bytes) -> bytes:
        """A parsed part back to bytes, behind the original's XML declaration (when UTF-8)."""
        tree, decl = root.getroottree(), re.match(rb"(?:\xef\xbb\xbf)?<\?xml[^>]*\?>\s*", original)
        if decl is None or (tree.docinfo.encoding or "").upper().replace("-", "") != "UTF8":
            return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8",
                                        standalone=True))
        return decl.group(0) + bytes(etree.tostring(tree, encoding="UTF-8", xml_declaration=False))

    @staticmethod
    def rels_name(part: str) -> str:
        return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")

    def rels(self, part: str) -> list[tuple[str, str, str]]:
        """(Id, Type, part name) of a part's internal relationships."""
        name = self.rels_name(part)
        return [(el.get("Id", ""), el.get("Type", ""), posixpath.normpath(posixpath.join(
            posixpath.dirname(part), el.get("Target", ""))).lstrip("/"))  # "/xl/..": absolute
            for el in (self.xml(name).iter("{*}Relationship") if name in self.names else ())
            if el.get("TargetMode") != "External"]

    def related(self, part: str, kind: str) -> str:
        return next((t for _, k, t in self.rels(part) if k.endswith("/" + kind)), "")

    def tables(self) -> list[TableInfo]:
        wb_part = self.related("", "officeDocument") or "xl/workbook.xml"
        if wb_part not in self.names:
            raise WorkbookFormatError(f"{self.path} is not an Excel workbook (it has no {wb_part})")
        wb, out = self.xml(wb_part), []
        date1904 = any(pr.get("date1904") in ("1", "true") for pr in wb.iterfind("{*}workbookPr"))
        sheets = {rid: part for rid, _, part in self.rels(wb_part)}
        for sheet in wb.iter("{*}sheet"):
            rid = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), "")
            for _, kind, table_part in self.rels(sheets[rid]) if rid in sheets else ():
                if kind.endswith("/table"):
                    t = self.xml(table_part)
                    out.append(TableInfo(
                        t.get("displayName") or t.get("name") or "", sheet.get("name", ""),
                        t.get("ref", ""),
                        tuple(unescape(c.get("name", "")) for c in t.iter("{*}tableColumn")),
                        int(t.get("headerRowCount", "1")), int(t.get("totalsRowCount", "0")),
                        sheets[rid], table_part, wb_part, date1904))
        return out

    def find(self, name: str) -> TableInfo:
        tables = self.tables()
        if found := ([t for t in tables if t.name == name]
                     or [t for t in tables if t.name.casefold() == name.casefold()]):
            return found[0]
        names = ", ".join(f"{t.name} (sheet {t.sheet_name})" for t in tables) or "none"
        raise TableNotFoundError(f"{self.path}: no table named {name!r}; tables in the "
                                 f"workbook: {names}")

    def drop_calc_chain(self, wb_part: str, parts: dict[str, bytes]) -> set[str]:
        """The calcChain parts to drop; their relationship and content-type override go too."""
        chains = {t for _, k, t in self.rels(wb_part) if k.endswith("/calcChain")}
        chains |= {"xl/calcChain.xml"} & self.names
        for part, tag, attr in ((self.rels_name(wb_part), "Relationship", "Type"),
                                ("[Content_Types].xml", "Override", "PartName")):
            if chains and part in self.names:
                root = self.parse(data := self.part(part), part)
                if found := [el for el in root.iter("{*}" + tag) if el.get(attr, "").endswith(
                        "/calcChain") or el.get(attr, "").lstrip("/") in chains]:
                    for el in found:
                        el.getparent().remove(el)
                    parts[part] = _Package.serialize(root, data)
        return chains & self.names

    def copy_to(self, out: Path, parts: dict[str, bytes], removals: set[str]) -> None:
        """Every member in its order: replaced, dropped, or its content copied."""
        with zipfile.ZipFile(out, "w") as zout:
            for info in (i for i in self.infolist() if i.filename not in removals):
                zout.writestr(zipfile.ZipInfo(info.filename, info.date_time),  # stored or deflated
                              parts.get(info.filename) or self.part(info.filename),
                              info.compress_type and zipfile.ZIP_DEFLATED, 1)  # 1: fast


def list_tables(path: StrPath) -> list[TableInfo]:
    """Every table in the workbook, in sheet order."""
    with _Package(path) as pkg:
        return pkg.tables()


def table_info(path: StrPath, table_name: str) -> TableInfo:
    """Locate a table by name (ignoring case, as Excel does): sheet, ref, columns."""
    with _Package(path) as pkg:
        return pkg.find(table_name)


_Value = str | None  # cell content: its type (n, s, b or e) then its text; None: empty cell
_COLUMN = {get_column_letter(i): i for i in range(1, 16385)}  # "B" -> 2


def _at(c: Any) -> tuple[int, int]:  # (row, column) of a cell element: "B7" -> (7, 2)
    letters = (ref := c.get("r") or "?").rstrip("0123456789")
    return int(ref[len(letters):]), _COLUMN.get(letters) or column_index_from_string(letters)


class _Sheet:
    """A table's worksheet: rows by number, cells by column (rows and the cells looked at get an
    address where they had none: they may move); values, with shared strings and date styles."""

    def __init__(self, pkg: _Package, info: TableInfo) -> None:
        self.pkg, self.info = pkg, info
        self.epoch = MAC_EPOCH if info.date1904 else WINDOWS_EPOCH
        self.data = pkg.part(info.sheet_part)
        self.root = pkg.parse(self.data, info.sheet_part)
        self.ns = etree.QName(self.root).namespace
        self.c, self.f, self.v, self.is_ = (self.q(t) for t in ("c", "f", "v", "is"))
        self.sd = self.root.find(self.q("sheetData"))
        if self.sd is None:
            raise WorkbookFormatError(f"{pkg.path}: part {info.sheet_part} has no <sheetData>")
        self.rows, num = dict[int, Any](), 0
        for row in self.sd.iterchildren(self.q("row")):  # a row without r: the one after
            row.set("r", str(num := int(row.get("r") or num + 1)))
            self.rows[num] = row
        self.order = sorted(self.rows)
        self._cells: dict[int, dict[int, Any]] = {}
        self.added: list[tuple[int, int]] = []  # (row, column) of the cells made
        self.strings: list[str] | None = None
        self.dates: dict[int, bool] = {}  # style -> whether it is a duration (loaded on need)

    def q(self, tag: str) -> str:
        return f"{{{self.ns}}}{tag}"

    def cells(self, r: int) -> dict[int, Any]:
        if (found := self._cells.get(r)) is None:
            found, known = self._cells.setdefault(r, {}), _COLUMN.get
            for c in self.rows[r].iterchildren(self.c) if r in self.rows else ():
                if (ref := c.get("r")) is None:
                    c.set("r", ref := f"{get_column_letter(max(found, default=0) + 1)}{r}")
                found[known(x := ref.rstrip("0123456789")) or column_index_from_string(x)] = c
        return found

    def rows_in(self, top: int, bottom: int) -> list[int]:
        return self.order[bisect.bisect_left(self.order, top):bisect.bisect(self.order, bottom)]

    def filled(self, c: Any) -> bool:
        return any(ch.tag == self.f or (ch.tag in (self.v, self.is_) and "".join(ch.itertext()))
                   for ch in c)

    def last_used(self, top: int, bottom: int, c1: int, c2: int) -> int:
        """The last row in top..bottom with a non-blank cell in columns c1..c2 (top - 1: none)."""
        for r in reversed(self.rows_in(top, bottom)):
            if any(c1 <= col <= c2 and self.filled(c) for col, c in self.cells(r).items()):
                return r
        return top - 1

    def cell(self, r: int, col: int) -> Any:
        """The cell at (r, col); a new one goes in row and column order."""
        if col in (cells := self.cells(r)):
            return cells[col]
        if r not in self.rows:
            self.rows[r] = etree.SubElement(self.sd, self.q("row"), r=str(r))
            if (i := bisect.bisect(self.order, r)) < len(self.order):
                self.rows[self.order[i]].addprevious(self.rows[r])
            self.order.insert(i, r)
        c = cells[col] = etree.SubElement(self.rows[r], self.c, r=f"{get_column_letter(col)}{r}")
        if later := [k for k in cells if k > col]:
            cells[min(later)].addprevious(c)
        self.rows[r].attrib.pop("spans", None)  # an optional hint that would now be wrong
        self.added.append((r, col))
        return c

    def put(self, c: Any, value: _Value) -> None:
        """Set a cell's content; its other attributes (its style) stay."""
        for name in ("t", "cm", "vm"):
            c.attrib.pop(name, None)
        kind, text = (value[0], value[1:]) if value else ("", "")
        c.set("t", "inlineStr" if kind == "s" else kind) if kind not in ("", "n") else None
        if kind not in ("", "s") and len(c) == 1 and c[0].tag == self.v:
            c[0].text = text  # the cell's own <v>, reused
            return
        del c[:]
        if kind:  # text: <is><t xml:space="preserve">; else <v>
            host = etree.SubElement(c, self.is_) if kind == "s" else c
            etree.SubElement(host, self.q("t") if kind == "s" else self.v, {
                "{http://www.w3.org/XML/1998/namespace}space": "preserve"} if kind == "s" else {}
                             ).text = text

    def value(self, c: Any) -> Any:
        if (t := c.get("t", "n")) == "inlineStr":
            return None if (node := c.find(self.is_)) is None else self.text(node) or None
        if not (text := c[0].text if len(c) == 1 and c[0].tag == self.v else c.findtext(self.v)):
            return None
        if t == "n":
            duration = (self.dates or self._date_styles()).get(int(c.get("s", "0")))
            if duration is not None and 0 <= float(text) < 2_958_466:
                return from_excel(float(text), self.epoch, timedelta=duration)  # to 9999-12-31
            return float(text)
        if t == "s":
            if self.strings is None:
                part = self.pkg.related(self.info.workbook_part, "sharedStrings")
                self.strings = [self.text(si) for si in (
                    self.pkg.xml(part).iterchildren("{*}si") if part in self.pkg.names else ())]
            if not 0 <= (index := int(text)) < len(self.strings):
                raise WorkbookFormatError(
                    f"{self.pkg.path}: cell {c.get('r')} of {self.info.sheet_part} names shared "
                    f"string {index}, but the workbook has {len(self.strings)}")
            return self.strings[index]
        return (text.strip() in ("1", "true") if t == "b" else dt.datetime.fromisoformat(text)
                if t == "d" else unescape(text))  # "str" (a formula's text), "e" (#N/A...): text

    @staticmethod
    def text(node: Any) -> str:  # of an <si> or <is>: its <t>, or its runs' (not phonetic)
        return str(unescape("".join(t.text or "" for t in node.iter("{*}t")
                                    if not t.getparent().tag.endswith("rPh"))))

    def render(self, value: Any) -> _Value:
        """One frame value as cell content; TypeError for a kind of value a cell cannot hold."""
        if isinstance(value, float | np.floating | decimal.Decimal | numbers.Real) and not \
                isinstance(value, int | np.integer):  # floats first: the most frequent
            x = float(value)  # NaN: an empty cell (x - x is NaN for NaN and +/-inf)
            return None if x != x else "e#NUM!" if x - x else "n" + repr(x).removesuffix(".0")
        if value is None or value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, str):  # "" is an empty cell
            return "s" + _escape(value[:MAX_CELL_TEXT]) if value else None
        if isinstance(value, np.datetime64 | np.timedelta64):  # before int: timedelta64 is one
            return self.render(pd.Timestamp(value) if isinstance(value, np.datetime64)
                               else pd.Timedelta(value))
        if isinstance(value, bool | np.bool_):
            return "b1" if value else "b0"
        if isinstance(value, int | np.integer):
            return f"n{int(value)}"
        if isinstance(value, dt.datetime | dt.time) and value.tzinfo is not None:
            value = value.replace(tzinfo=None)  # wall time: Excel has no time zones
        if isinstance(value, dt.date | dt.time | dt.timedelta):
            serial = float(to_excel(value, self.epoch))
            return "s" + value.isoformat() if serial < 0 and isinstance(value, dt.date) else (
                "n" + repr(serial).removesuffix(".0"))
        raise TypeError(f"a {type(value).__name__}")

    def _date_styles(self) -> dict[int, bool]:
        self.dates = dates = {-1: False}  # never empty once loaded
        if (part := self.pkg.related(self.info.workbook_part, "styles")) in self.pkg.names:
            root = self.pkg.xml(part)
            codes = dict(BUILTIN_FORMATS) | {int(f.get("numFmtId")): f.get("formatCode", "")
                                             for f in root.iterfind("{*}numFmts/{*}numFmt")}
            for i, xf in enumerate(root.iterfind("{*}cellXfs/{*}xf")):
                if is_date_format(code := codes.get(int(xf.get("numFmtId", "0")), "")):
                    dates[i] = bool(is_timedelta_format(code))
        return dates


def _read(pkg: _Package, info: TableInfo, sheet: _Sheet | None = None) -> pd.DataFrame:
    sheet, (c1, r1, c2, r2) = sheet or _Sheet(pkg, info), info.bounds
    top = r1 + info.header_row_count
    last = sheet.last_used(top, r2 - info.totals_row_count, c1, c2)
    columns: list[list[Any]] = [[None] * (last - top + 1) for _ in range(c2 - c1 + 1)]
    for r in sheet.rows_in(top, last):
        for col, c in sheet.cells(r).items():
            if c1 <= col <= c2 and len(c):  # a cell without content has no value
                columns[col - c1][r - top] = sheet.value(c)
    names = [*info.columns, *(f"Column{j + 1}" for j in range(len(info.columns), len(columns)))]
    frame = pd.DataFrame(dict(enumerate(columns))).set_axis(names[:len(columns)], axis=1)
    frame.attrs.update(sheet_name=info.sheet_name, table_name=info.name, table_ref=info.ref)
    return frame


def read_table(path: StrPath, table_name: str) -> pd.DataFrame:
    """The table's body by column: formulas' cached values, floats (datetimes per the 1900/1904
    setting), booleans, text, None/NaN; no totals or trailing blanks; attrs: sheet, name, ref."""
    with _Package(path) as pkg:
        return _read(pkg, pkg.find(table_name))


def read_tables(path: StrPath, names: Iterable[str]) -> dict[str, pd.DataFrame | None]:
    """Each name's :func:`read_table` (ignoring case; None: no such table), from one opening."""
    with _Package(path) as pkg:
        found = {t.name.casefold(): t for t in reversed(pkg.tables())}  # the first of a name
        return {n: None if (t := found.get(n.casefold())) is None else _read(pkg, t) for n in (
            [names] if isinstance(names, str) else names)}


def _subtotal(formula: str, table: str, columns: dict[str, list[_Value]]
              ) -> tuple[str | None, _Value]:
    """(casefolded column, value or None: not evaluated) of ``SUBTOTAL(code, [Column])``."""
    m = _SUBTOTAL_RE.match(unescape(formula))
    if m is None or m.group(2).strip().casefold() not in ("", table.casefold()):
        return None, None
    spec = m.group(3).strip()  # a column name, with Excel's escapes '[ '] '# '', or [#All]...
    over = None if spec[:1] in "[#" else re.sub(r"'(.)", r"\1", spec).casefold()
    fn, cells = int(m.group(1)) % 100, columns.get(over or "")
    how = {1: "mean", 4: "max", 5: "min", 6: "prod", 7: "std", 9: "sum", 10: "var"}.get(fn)
    if cells is None or (how is None and fn not in (2, 3)):
        return over, None  # STDEVP and VARP are not evaluated here
    xs = pd.Series([float(v[1:]) for v in cells if v is not None and v[0] == "n"], dtype=float)
    errors = [v for v in cells if v is not None and v[0] == "e"]
    if fn in (2, 3):
        return over, f"n{len(xs) if fn == 2 else sum(v is not None for v in cells)}"
    if errors:
        return over, errors[0]
    result = float(xs.agg(str(how))) if len(xs) or fn not in (4, 5, 6) else 0.0
    if math.isfinite(result):
        return over, "n" + repr(result).removesuffix(".0")
    return over, "e#DIV/0!" if len(xs) < 2 else "e#NUM!"


def _in_the_way(pkg: _Package, info: TableInfo, sheet: _Sheet, x1: int, y1: int, x2: int,
                y2: int) -> list[str]:
    """What a table cannot grow over in columns x1..x2, rows y1..y2: a cell with a value or a
    formula, another table, merged cells, the sheet's edge."""
    def meets(a1: int, b1: int, a2: int, b2: int) -> bool:
        return a1 <= x2 and a2 >= x1 and b1 <= y2 and b2 >= y1
    found = [f"cell {get_column_letter(col)}{r}" for r in sheet.rows_in(y1, y2)
             for col, c in sheet.cells(r).items() if x1 <= col <= x2 and sheet.filled(c)]
    found += [f"table {t.name}" for t in pkg.tables() if t.sheet_part == info.sheet_part
              and t.name != info.name and meets(*t.bounds)]
    found += [f"merged cells {m.get('ref')}" for m in sheet.root.iterfind(
        f"{sheet.q('mergeCells')}/{sheet.q('mergeCell')}") if meets(
            *(int(x or 0) for x in range_boundaries(m.get("ref") or "A1")))]
    return found + ["column XFD"] * (x2 > 16384)


def _plan(pkg: _Package, info: TableInfo, frame: pd.DataFrame, columns: str | Iterable[str],
          sheet: _Sheet) -> tuple[dict[str, bytes], set[str]]:
    """New bytes for the parts that change, and the parts to drop."""
    table = info.name
    names = [columns] if isinstance(columns, str) else [str(c) for c in columns]
    keys, frame_names = [n.casefold() for n in names], [str(c) for c in frame.columns]
    if not names or len(set(keys)) < len(keys):
        raise TableWriteError(f"table {table!r}: name each column once, ignoring case: {names}")
    (c1, r1, c2, r2), new = info.bounds, []
    cols: list[tuple[str, int, int]] = []  # (name as the table spells it, sheet column, frame's)
    for name, key in zip(names, keys, strict=True):
        index = next((i for i, c in enumerate(info.columns) if c == name),
                     next((i for i, c in enumerate(info.columns) if c.casefold() == key), None))
        spelled = name if index is None else info.columns[index]
        hits = ([j for j, f in enumerate(frame_names) if f == name]
                or [j for j, f in enumerate(frame_names) if f == spelled]
                or [j for j, f in enumerate(frame_names) if f.casefold() == key])
        if len(hits) != 1 or not name.strip() or len(name) > 255:
            raise TableWriteError(f"table {table!r}: the frame needs one column named {name!r} "
                                  f"(1-255 characters); it has {frame_names}. {_UNCHANGED}")
        new += [name] if index is None else []
        cols.append((spelled, c2 + len(new) if index is None else c1 + index, hits[0]))
    top, bottom, end = r1 + info.header_row_count, r2 - info.totals_row_count, c2 + len(new)
    used, n = sheet.last_used(top, bottom, c1, c2) - top + 1, len(frame)
    grow = max(0, top + n - 1 - bottom)  # rows a table without totals grows by
    if n < used or (grow and info.totals_row_count):
        raise TableWriteError(f"table {table!r} has {bottom - top + 1} body rows ({used} up to "
                              f"the last one in use) but the frame has {n} rows: frame row k goes "
                              f"to body row k. {_UNCHANGED}")
    if top + n - 1 > MAX_ROW:
        raise TableWriteError(f"table {table!r}: the frame has {n:,} rows, but from row {top} a "
                              f"sheet has {MAX_ROW - top + 1:,}. {_UNCHANGED}")
    for what, kind, x1, y1, x2, y2 in (
            (f"add column(s) {new} to table {table!r}", "columns", c2 + 1, r1, end, r2),
            (f"grow table {table!r} to {n:,} body rows (to row {r2 + grow})", "rows", c1, r2 + 1,
             end, r2 + grow)):
        if x1 <= x2 and y1 <= y2 and (blocked := _in_the_way(pkg, info, sheet, x1, y1, x2, y2)):
            raise TableWriteError(
                f"cannot {what}: {', '.join(blocked[:8])} is in the way (the {kind} it takes "
                f"must be empty, outside other tables and merged cells); move it, or insert "
                f"{kind} there in Excel, and retry. {_UNCHANGED}")
    rendered = []
    for name, _, j in cols:
        if isinstance((series := frame.iloc[:, j]).dtype, pd.DatetimeTZDtype):
            series = series.dt.tz_localize(None)  # wall time: Excel has no time zones
        try:
            rendered.append([sheet.render(value) for value in series.tolist()])
        except (TypeError, ValueError, OverflowError) as exc:
            raise TableWriteError(f"table {table!r}: column {name!r} holds {exc}, which a cell "
                                  f"cannot hold. {_UNCHANGED}") from exc

    # formula cells about to become values; a shared formula's anchor must have no other users
    targets = {col for _, col, _ in cols}  # the cells replaced: these columns, top..top+n-1
    formulas = [f for r in sheet.rows_in(top, top + n - 1) if sheet.cells(r)  # all addressed
                for f in sheet.rows[r].iter(sheet.f) if _at(f.getparent())[1] in targets]
    for anchor in (f for f in formulas if f.get("t") == "shared" and f.get("ref")):
        if users := [g.getparent().get("r") for g in sheet.root.iter(sheet.f)
                     if g.get("t") == "shared" and g.get("si") == anchor.get("si")
                     and not (top <= (at := _at(g.getparent()))[0] < top + n and at[1] in targets)]:
            raise TableWriteError(f"table {table!r}: cell {anchor.getparent().get('r')} holds a "
                                  f"shared formula that cells {', '.join(users[:8])} also use; "
                                  f"update their columns too. {_UNCHANGED}")

    for (name, col, _), values in zip(cols, rendered, strict=True):
        style = next((cells[col].get("s") for r in sheet.rows_in(top, bottom)
                      if col in (cells := sheet.cells(r))), None)
        if col > c2 and info.header_row_count:  # a new column's header (the table styles it)
            sheet.put(sheet.cell(r1, col), "s" + _escape(name))
        for r, cells, value in ((r, sheet.cells(r), v) for r, v in enumerate(values, top)):
            if (c := cells.get(col)) is None and (value or style) is not None:
                c = sheet.cell(r, col)  # in cells too
                c.set("s", style) if style is not None else None
            if c is not None:
                sheet.put(c, value)
                if value is None and set(c.attrib) <= {"r"}:  # empty and unstyled: no cell
                    sheet.rows[r].remove(cells.pop(col))
    written = {name.casefold(): values for (name, _, _), values in zip(cols, rendered, strict=True)}
    for col, c in sheet.cells(r2).items() if info.totals_row_count else ():
        if (f := c.find(sheet.f)) is None or not c1 <= col <= c2:
            continue  # totals over updated columns get fresh cached values; others keep theirs
        over, result = _subtotal(f.text or "", table, written)
        if over not in written and (over or col not in targets):
            continue
        sheet.put(c, result)  # None: over updated cells but not evaluated here: no value
        c.insert(0, f)
    if sheet.added and (dim := sheet.root.find(sheet.q("dimension"))) is not None:
        d = [x or 1 for x in range_boundaries(dim.get("ref") or "A1")]
        rows, cs = [r for r, _ in sheet.added], [c for _, c in sheet.added]
        dim.set("ref", f"{get_column_letter(min(d[0], *cs))}{min(d[1], *rows)}:"
                       f"{get_column_letter(max(d[2], *cs))}{max(d[3], *rows)}")
    parts = {info.sheet_part: _Package.serialize(sheet.root, sheet.data)}
    if len(parts[info.sheet_part]) > MAX_PART_BYTES:  # this module could not read it back
        raise TableWriteError(f"table {table!r}: its sheet would unpack to "
                              f"{len(parts[info.sheet_part]):,} bytes, over {MAX_PART_BYTES:,}; "
                              f"write fewer rows or columns. {_UNCHANGED}")
    if new or grow:  # the table part: ref and autoFilter, one tableColumn per new column
        root = pkg.parse(data := pkg.part(info.table_part), info.table_part)
        for el in (root, root.find("{*}autoFilter")):
            if el is not None:
                a1, ar1, _, ar2 = range_boundaries(el.get("ref") or info.ref)
                el.set("ref", f"{get_column_letter(a1)}{ar1}:{get_column_letter(end)}{ar2 + grow}")
        block = root.find("{*}tableColumns")
        ids = [int(tc.get("id", "0")) for tc in block.iterchildren("{*}tableColumn")]
        for k, name in enumerate(new, max(ids, default=0) + 1):
            etree.SubElement(block, etree.QName(block, "tableColumn"), id=str(k),
                             name=_escape(name, _NAME_ESCAPE_RE))
        block.set("count", str(len(ids) + len(new)))
        parts[info.table_part] = _Package.serialize(root, data)
    return parts, pkg.drop_calc_chain(info.workbook_part, parts) if formulas else set()


def update_columns(path: StrPath, table_name: str,
                   frame: pd.DataFrame | Callable[[pd.DataFrame], pd.DataFrame],
                   columns: str | Iterable[str], *, out_path: StrPath | None = None,
                   backup: bool = True) -> Path:
    """Write ``frame``'s values (or those of ``frame(table as read_table reads it)``, the sheet
    parsed once for both) into the body cells of the table columns named in ``columns``; return
    the path written (``out_path``, by default ``path``). Frame row k goes to body row k; trailing
    blank body rows may be left out (the table keeps its size). A longer frame grows a table
    without a totals row downwards (its ref, autoFilter, the sheet's dimension) when, within its
    columns, the rows it takes hold no value or formula, no other table and no merged cells;
    defined names, conditional formats and data validations do not follow (nor does a calculated
    column's formula). Names match headers exactly, then ignoring case; one the table lacks
    becomes a new column at its right edge (the same checks). The frame column is the one of that
    name (exactly, as the table spells it, then ignoring case). Text is written as text (even
    ``=1+1``), cut to 32,767 characters, ``_xHHHH_``-escaped where XML cannot carry it ("": an
    empty cell); dates as serials per the 1900/1904 setting (before the epoch: ISO text); +/-inf
    as ``#NUM!``; None/NaN as an empty cell. Other cells, formulas and styles stay; a new cell
    takes its column's first body cell's style. Totals-row SUBTOTALs get fresh cached values,
    other totals lose theirs. Atomic; ``backup`` keeps :func:`backup_path`; errors: no change."""
    src, dst = Path(path), Path(out_path if out_path is not None else path)
    for lock in {dst.with_name(f"~${dst.name}"), dst.with_name(f"~${dst.name[2:]}")}:
        if lock.exists():
            raise TableFileLockedError(f"{dst} is open in Excel (lock file {lock.name}): close it "
                                       f"there (or delete the lock file) and retry. {_UNCHANGED}")
    if dst.exists() and (not dst.stat().st_mode & 0o222 or not os.access(dst, os.W_OK)):
        raise TableFileError(f"{dst} is read-only: clear its read-only flag (or pass out_path= to "
                             f"write a copy elsewhere) and retry. {_UNCHANGED}")
    before = src.stat()
    try:
        with _Package(src) as pkg:
            sheet = _Sheet(pkg, info := pkg.find(table_name))
            written = frame(_read(pkg, info, sheet)) if callable(frame) else frame
            parts, removals = _plan(pkg, info, written, columns, sheet)
            with atomic_path(dst, backup=backup, mode_from=src) as temp:
                pkg.copy_to(temp, parts, removals)
                if (after := src.stat()).st_mtime_ns != before.st_mtime_ns or \
                        after.st_size != before.st_size:
                    raise TableFileError(f"{src} changed while the table was being written "
                                         "(saved by another program?); nothing was written. Retry.")
    except TableFileError:
        raise
    except FileWriteError as exc:
        raise TableFileError(f"{exc} Or pass out_path= to write a copy elsewhere.") from exc
    except BaseException as exc:
        if not isinstance(exc, XlsxTableError):
            exc.add_note(f"xlhedge.xlsxtable: {dst} was not changed.")
        raise
    return dst
