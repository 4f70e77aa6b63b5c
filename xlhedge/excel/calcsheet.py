"""Formula cells written together with the value Excel would compute for them.

Each formula is described once, as a call of a worksheet function (or a simple arithmetic step)
on cell references and literals. The formula text and the cached value both come from that one
description: the value by calling the same Python function the workbook's formula calls. So the
workbook shows correct numbers on open, before Python runs, and in LibreOffice or Excel for Mac.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from xlsxwriter.format import Format
from xlsxwriter.utility import xl_cell_to_rowcol
from xlsxwriter.worksheet import Worksheet

from xlhedge.excel.cells import CellResult


@dataclass(frozen=True)
class Rng:
    """A range argument, ``A2:A5``."""

    ref: str


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
}


@dataclass(frozen=True)
class Text:
    """A text literal argument (``"short"``)."""

    value: str


Arg = str | float | int | Rng | Text  # a plain str is a cell reference


class CalcSheet:
    """A worksheet and its cell values, so formulas are evaluated as they are written."""

    def __init__(self, sheet: Worksheet, text_format: Format | None = None) -> None:
        self.sheet = sheet
        self.values: dict[tuple[int, int], Any] = {}
        self.formulas: dict[str, str] = {}
        self.text_format = text_format

    def put(self, ref: str, value: Any, fmt: Format | None = None) -> None:
        """A constant: text is always written as text, never as a formula."""
        row, col = xl_cell_to_rowcol(ref)
        if isinstance(value, str):
            self.sheet.write_string(row, col, value, fmt or self.text_format)
        else:
            self.sheet.write_number(row, col, value, fmt)
        self.values[(row, col)] = value

    def call(self, ref: str, func: Callable[..., CellResult], *args: Arg,
             fmt: Format | None = None) -> CellResult:
        """``=FUNC(args)`` with the value of ``func(*resolved args)``; a table result spills."""
        formula = f"={func.__name__}({','.join(self._render(a) for a in args)})"
        value = func(*(self._resolve(a) for a in args))
        row, col = xl_cell_to_rowcol(ref)
        self.formulas[ref] = formula
        if isinstance(value, list):
            last_row, last_col = row + len(value) - 1, col + len(value[0]) - 1
            self.sheet.write_dynamic_array_formula(row, col, last_row, last_col, formula, fmt,
                                                   value[0][0])
            for i, line in enumerate(value):
                for j, item in enumerate(line):
                    self.values[(row + i, col + j)] = item
                    if i or j:  # Excel stores a spill's other cells as plain values
                        self._write_value(row + i, col + j, item, fmt)
        else:
            self.sheet.write_formula(row, col, formula, fmt, value)
            self.values[(row, col)] = value
        return value

    def arith(self, ref: str, left: Arg, op: str, right: Arg, fmt: Format | None = None) -> Any:
        """``=left op right`` with its value."""
        value = _OPS[op](self._resolve(left), self._resolve(right))
        row, col = xl_cell_to_rowcol(ref)
        formula = f"={self._render(left)}{op}{self._render(right)}"
        self.sheet.write_formula(row, col, formula, fmt, value)
        self.formulas[ref] = formula
        self.values[(row, col)] = value
        return value

    def value(self, ref: str) -> Any:
        return self.values[xl_cell_to_rowcol(ref.replace("$", ""))]

    def _write_value(self, row: int, col: int, value: Any, fmt: Format | None) -> None:
        if isinstance(value, str):
            self.sheet.write_string(row, col, value, self.text_format)
        else:
            self.sheet.write_number(row, col, value, fmt)

    def _resolve(self, arg: Arg) -> Any:
        if isinstance(arg, Text):
            return arg.value
        if isinstance(arg, Rng):
            first, last = arg.ref.replace("$", "").split(":")
            (r1, c1), (r2, c2) = xl_cell_to_rowcol(first), xl_cell_to_rowcol(last)
            return [[self.values.get((r, c)) for c in range(c1, c2 + 1)]
                    for r in range(r1, r2 + 1)]
        if isinstance(arg, str):
            return self.value(arg)
        return arg

    @staticmethod
    def _render(arg: Arg) -> str:
        if isinstance(arg, Text):
            return '"' + arg.value.replace('"', '""') + '"'
        if isinstance(arg, Rng):
            return arg.ref
        if isinstance(arg, str):
            return arg
        return f"{arg:g}" if isinstance(arg, float) else str(int(arg))
