"""Checking and broadcasting of the maths' arguments.

Every public function converts its arguments here, so a bad value is reported in one way: an
``InputError`` naming the argument and the rule, with the offending value (and its position for
array arguments). Results go back through :func:`result`: a float for a scalar call, an array for
an array call, a Series (same index) when a Series came in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from xlhedge.errors import InputError

ArrayLike: TypeAlias = float | int | Sequence[float] | npt.NDArray[Any] | pd.Series
SideLike: TypeAlias = str | int | float | Sequence[str | int | float] | npt.NDArray[Any] | pd.Series
FloatArray: TypeAlias = npt.NDArray[np.float64]
ContractType = Literal["inverse", "linear"]
MMBasis = Literal["mark", "entry"]

_SIDES = {"long": 1.0, "buy": 1.0, "short": -1.0, "sell": -1.0}


def _where(arr: np.ndarray, bad: np.ndarray) -> str:
    """Describe the first offending element: its value and, for arrays, its position."""
    index = np.argwhere(bad)[0]
    value = arr[tuple(index)].item()
    if arr.size == 1:
        return f"got {value!r}"
    position = int(index[0]) if arr.ndim == 1 else tuple(int(i) for i in index)
    return f"got {value!r} at position {position}"


def number(
    name: str,
    value: object,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    allow_inf: bool = False,
) -> FloatArray:
    """``value`` as a float array, or an ``InputError`` naming ``name`` and the rule it breaks."""
    if isinstance(value, bool | np.bool_) or (
        isinstance(value, np.ndarray | pd.Series) and value.dtype == bool
    ):
        raise InputError(name, "must be a number, not TRUE/FALSE")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(name, "must be a number", _first_text(value)) from None
    if arr.size == 0:
        raise InputError(name, "must not be empty")
    for bad, rule in violations(arr, gt=gt, ge=ge, lt=lt, allow_inf=allow_inf):
        if bad.any():
            raise InputError(name, f"{rule} ({_where(arr, bad)})")
    return arr


def violations(
    arr: FloatArray, *, gt: float | None = None, ge: float | None = None,
    lt: float | None = None, allow_inf: bool = False, le: float | None = None,
) -> list[tuple[npt.NDArray[np.bool_], str]]:
    """Each rule a number must meet, with the mask of the elements that break it, in the order
    they are reported: the one wording of every rule, for a function's argument and a table's
    column alike."""
    checks: list[tuple[npt.NDArray[np.bool_], str]] = [
        (np.isnan(arr), "must be a number, not blank/NaN")]
    if not allow_inf:
        checks.append((np.isinf(arr), "must be finite"))
    if gt is not None:
        checks.append((~(arr > gt), f"must be > {gt:g}"))
    if ge is not None:
        checks.append((~(arr >= ge), f"must be >= {ge:g}"))
    if lt is not None:
        checks.append((~(arr < lt), f"must be < {lt:g}"))
    if le is not None:
        checks.append((~(arr <= le), f"must be <= {le:g}"))
    return checks


def _first_text(value: object) -> object:
    """The first element that is not a number, for the error message."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        return value
    for item in np.asarray(value, dtype=object).ravel():
        try:
            float(item)
        except (TypeError, ValueError):
            return item
    return value


def side(name: str, value: object) -> FloatArray:
    """+1.0 for long, -1.0 for short; accepts "long"/"short"/"buy"/"sell" or +1/-1."""
    arr = np.asarray(value, dtype=object)
    out = np.empty(arr.shape, dtype=np.float64)
    for index, item in np.ndenumerate(arr):
        out[index] = _one_side(name, item)
    return out


def _one_side(name: str, item: object) -> float:
    if isinstance(item, str) and item.strip().lower() in _SIDES:
        return _SIDES[item.strip().lower()]
    if isinstance(item, int | float | np.integer | np.floating) and not isinstance(item, bool):
        number = float(item)
        if number in (1.0, -1.0):
            return number
    raise InputError(name, 'must be "long" or "short" (or +1/-1)', item)


def choice(name: str, value: object, options: Sequence[str]) -> str:
    """A case-insensitive choice among ``options``."""
    if isinstance(value, str) and value.strip().lower() in options:
        return value.strip().lower()
    raise InputError(name, "must be one of " + ", ".join(f'"{o}"' for o in options), value)


def contract_type(value: object) -> ContractType:
    kind = choice("contract_type", value, ("inverse", "linear"))
    return "inverse" if kind == "inverse" else "linear"


def mm_basis(value: object) -> MMBasis:
    basis = choice("mm_basis", value, ("mark", "entry"))
    return "mark" if basis == "mark" else "entry"


def broadcast(**arrays: FloatArray) -> list[FloatArray]:
    """Broadcast the named arrays together, naming them when their shapes clash."""
    try:
        return [np.asarray(a, dtype=np.float64) for a in np.broadcast_arrays(*arrays.values())]
    except ValueError:
        shapes = ", ".join(f"{k} {np.shape(v)}" for k, v in arrays.items())
        raise InputError(
            "arguments", f"must have shapes that broadcast together ({shapes})"
        ) from None


def result(values: npt.ArrayLike, *inputs: object, allow_inf: bool = False) -> Any:
    """A float for a scalar call, a Series when a Series came in, an array otherwise.

    The arguments were checked, so a NaN (or, where ``inf`` means nothing, an infinity) can only
    come from overflow with numbers near 1e308: an error rather than a silent NaN.
    """
    arr = np.asarray(values, dtype=np.float64)
    if np.isnan(arr).any() or (not allow_inf and np.isinf(arr).any()):
        raise InputError("arguments", "are too large to compute with (the result overflows)")
    for item in inputs:
        if isinstance(item, pd.Series) and arr.shape == (len(item),):
            return pd.Series(arr, index=item.index)
    if arr.ndim == 0:
        return float(arr)
    return arr
