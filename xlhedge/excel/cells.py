"""The one adapter between worksheet cells and the core: arguments in, cell values out.

Every worksheet function goes through :func:`cell_function`, which

* turns a blank optional argument into its default and a blank required one into an error;
* calls the core, which checks every argument and broadcasts ranges;
* maps every failure to a short cell text starting with ``#`` that names the argument and the rule
  (``#VALUE! price must be > 0``), never a traceback and never an exception;
* where one value of a range is bad, computes the range cell by cell, so only the bad cells show
  an error;
* turns numpy results into the nested lists Excel spills, ``inf`` into ``never`` and NaN into
  ``#N/A``.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from xlhedge.errors import InputError, UnknownContractError, XlhedgeError
from xlhedge.files import FORMULA_START

if TYPE_CHECKING:
    import pandas as pd

TOO_LARGE = "#NUM! result is too large"
MAX_TEXT = 200

CellValue = float | str
CellResult = CellValue | list[list[CellValue]]


def error_text(exc: BaseException) -> str:
    """A short cell text for any failure: the Excel error kind, then the reason."""
    if isinstance(exc, UnknownContractError):
        text = f"#N/A {exc}"
    elif isinstance(exc, XlhedgeError):
        text = f"#VALUE! {exc}"
    elif isinstance(exc, ZeroDivisionError | OverflowError | FloatingPointError):
        text = f"#NUM! {exc}"
    else:  # a bug of ours: still a short text, with the exception's name for the report
        text = f"#VALUE! unexpected {type(exc).__name__}: {exc}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 3] + "..."


def is_blank(value: object) -> bool:
    """A blank cell as xlwings passes it: None, "", or a 1x1 range holding one of those."""
    while isinstance(value, list | tuple) and len(value) == 1:
        value = value[0]
    if isinstance(value, list | tuple) and len(value) == 0:
        return True
    return value is None or (isinstance(value, str) and not value.strip())


def scalar(name: str, value: object) -> object:
    """A single value from a cell or a 1x1 range; a larger range is an error."""
    while isinstance(value, list | tuple):
        if len(value) != 1:
            raise InputError(name, "must be a single cell, not a range")
        value = value[0]
    return value


def cell_value(value: object, inf_text: str = TOO_LARGE) -> CellValue:
    """One result as a cell shows it; ``inf_text`` for +infinity (``never`` for prices)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number):
        return "#N/A"
    if math.isinf(number):
        return inf_text if number > 0 else TOO_LARGE
    return number


def to_cells(result: object, inf_text: str = TOO_LARGE) -> CellResult:
    """A core result as one cell value or a 2-D list (which spills in Excel 365)."""
    if isinstance(result, list) and result and isinstance(result[0], list):
        return [[cell_value(v, inf_text) for v in row] for row in result]
    arr = np.asarray(result, dtype=object)
    if arr.ndim == 0 or arr.size == 1:
        return cell_value(arr.reshape(-1)[0] if arr.ndim else arr.item(), inf_text)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    return [[cell_value(v, inf_text) for v in row] for row in arr.tolist()]


def cell_function(
    elementwise: tuple[str, ...] = (), singles: tuple[str, ...] = (), inf_text: str = TOO_LARGE
) -> Callable[[Callable[..., Any]], Callable[..., CellResult]]:
    """Decorate a worksheet function: blanks, defaults, errors and results in one place.

    ``elementwise`` names the arguments that broadcast cell by cell; when the call fails and one of
    them is a range, each cell is computed on its own so the error stays in its own cell.
    ``singles`` must be single cells and arrive as plain values. ``inf_text`` is what an
    infinite result shows (``never`` where it means a price never hit).
    """

    def decorate(func: Callable[..., Any]) -> Callable[..., CellResult]:
        signature = inspect.signature(func)

        @functools.wraps(func)
        def wrapper(*args: Any) -> CellResult:
            try:
                values = _arguments(signature, args)
                values |= {name: scalar(name, values[name]) for name in singles}
                try:
                    return to_cells(func(**values), inf_text)
                except XlhedgeError:
                    if not any(_is_range(values[name]) for name in elementwise):
                        raise
                    return _cell_by_cell(func, values, elementwise, inf_text)
            except Exception as exc:
                return error_text(exc)

        return wrapper

    return decorate


def _arguments(signature: inspect.Signature, args: tuple[Any, ...]) -> dict[str, Any]:
    params = list(signature.parameters.values())
    if len(args) > len(params):
        raise InputError("arguments", f"must be at most {len(params)} (got {len(args)})")
    values: dict[str, Any] = {}
    for index, param in enumerate(params):
        raw = args[index] if index < len(args) else None
        if is_blank(raw):
            if param.default is inspect.Parameter.empty:
                raise InputError(param.name, "is required (the cell is blank)")
            raw = param.default
        values[param.name] = raw
    return values


def _is_range(value: object) -> bool:
    return isinstance(value, list | tuple) and np.asarray(value, dtype=object).size > 1


def _cell_by_cell(
    func: Callable[..., Any], values: dict[str, Any], elementwise: tuple[str, ...], inf_text: str
) -> CellResult:
    arrays = {name: np.asarray(values[name], dtype=object) for name in elementwise}
    try:
        shaped = dict(zip(arrays, np.broadcast_arrays(*arrays.values()), strict=True))
    except ValueError:
        shapes = ", ".join(f"{k} {v.shape}" for k, v in arrays.items())
        raise InputError("ranges", f"must have matching sizes ({shapes})") from None
    shape = next(iter(shaped.values())).shape
    out = np.empty(shape, dtype=object)
    for index in np.ndindex(shape):
        one = values | {name: shaped[name][index] for name in elementwise}
        try:
            out[index] = cell_value(func(**one), inf_text)
        except Exception as exc:
            out[index] = error_text(exc)
    return to_cells(out, inf_text)


def cell_values(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows for one range write: blanks as None, text that looks like a formula kept as text."""

    def value(item: object) -> Any:
        if item is None or (isinstance(item, float) and np.isnan(item)):
            return None
        if isinstance(item, str) and item.startswith(FORMULA_START):
            return "'" + item  # Excel stores it as text; the apostrophe is not part of the text
        if isinstance(item, np.generic):
            return item.item()
        return item

    return [[value(v) for v in row] for row in frame.itertuples(index=False)]
