"""Funding-rate history kept over a rolling window, its statistics, and a cross-hedge ratio
suggested from daily closes.

A history is a DataFrame of rows ``(Contract, Time, Rate)``: the contract id, the tz-aware UTC
time a funding interval settled and its rate per interval as a fraction (positive: longs pay
shorts). Pure: no network, no files.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from xlhedge import crosshedge
from xlhedge.errors import InputError

CONTRACT, TIME, RATE = "Contract", "Time", "Rate"
COLUMNS = [CONTRACT, TIME, RATE]
DAY = pd.Timedelta(days=1)


def history_frame(rows: Iterable[tuple[str, datetime, float]] = ()) -> pd.DataFrame:
    """A history from ``(contract, time, rate)`` rows, sorted by contract and time.

    >>> from datetime import UTC
    >>> history_frame([("X:A", datetime(2026, 1, 1, 8, tzinfo=UTC), 0.0001)])
      Contract                      Time    Rate
    0      X:A 2026-01-01 08:00:00+00:00  0.0001
    """
    frame = pd.DataFrame(list(rows), columns=COLUMNS)
    return _tidy(frame)


def _tidy(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[COLUMNS].astype({CONTRACT: str, RATE: float})
    frame[TIME] = pd.to_datetime(frame[TIME], utc=True)
    return frame.sort_values([CONTRACT, TIME], kind="stable").reset_index(drop=True)


def merge_history(
    old: pd.DataFrame, new: pd.DataFrame, *, window_days: int = 90, now: datetime
) -> pd.DataFrame:
    """``old`` updated with ``new``: for each contract in ``new``, the union of its rows (``new``
    wins where both have a row at the same time) without rows older than ``window_days`` before
    ``now``; a contract absent from ``new`` (its fetch failed) keeps all its ``old`` rows.
    """
    old, new = _tidy(old), _tidy(new)
    fetched = old[CONTRACT].isin(set(new[CONTRACT]))
    both = pd.concat([old[fetched], new], ignore_index=True)
    both = both.drop_duplicates([CONTRACT, TIME], keep="last")
    both = both[both[TIME] >= pd.Timestamp(now) - window_days * DAY]
    return _tidy(pd.concat([old[~fetched], both], ignore_index=True))


def resume_from(
    history: pd.DataFrame, contract: str, window_days: int, now: datetime
) -> datetime:
    """Where an incremental fetch of ``contract`` starts: a millisecond after its last stored row,
    or the window's start when it has none in the window.

    >>> from datetime import UTC
    >>> now = datetime(2026, 11, 22, tzinfo=UTC)
    >>> resume_from(history_frame(), "X:A", 90, now)
    datetime.datetime(2026, 8, 24, 0, 0, tzinfo=datetime.timezone.utc)
    """
    start = pd.Timestamp(now) - window_days * DAY
    history = _tidy(history)
    times = history.loc[history[CONTRACT] == contract, TIME]
    if len(times) and times.max() >= start:
        start = times.max() + pd.Timedelta(milliseconds=1)
    return start.to_pydatetime()


def funding_stats(
    history: pd.DataFrame, now: datetime, *, windows: Sequence[int] = (7, 30, 90)
) -> pd.DataFrame:
    """Per contract (the index): ``Last Rate``, ``Last Time``, ``Annualised Nd`` for each window of
    N days, and over the longest window ``Shorts Paid`` (the share of intervals whose rate was
    negative) and ``Intervals`` (their number).

    The annualised average is the window's rates summed x 365 / the days they cover, where a row
    covers the time since the contract's previous row (its first row: the next row's spacing). It
    does not depend on the interval: 90 rows of 0.01% per 8 h and 720 hourly rows of 0.00125% are
    both 30 days at 10.95% a year. A window without rows gives NaN.

    >>> t = pd.Timestamp("2026-11-22", tz="UTC")
    >>> h = history_frame([("X:A", t - pd.Timedelta(hours=h), 0.0001) for h in (0, 8, 16)])
    >>> funding_stats(h, t.to_pydatetime(), windows=(1,))["Annualised 1d"].round(6).tolist()
    [0.1095]
    """
    end = pd.Timestamp(now)
    rows = []
    for contract, group in _tidy(history).groupby(CONTRACT, sort=True):
        group = group[group[TIME] <= end]
        if group.empty:
            continue
        spacing = group[TIME].diff().bfill().dt.total_seconds() / DAY.total_seconds()
        row: dict[str, object] = {
            CONTRACT: contract, "Last Rate": group[RATE].iloc[-1], "Last Time": group[TIME].iloc[-1]
        }
        for days in windows:
            inside = group[TIME] > end - days * DAY
            covered = spacing[inside].sum()
            row[f"Annualised {days}d"] = (
                group[RATE][inside].sum() * 365 / covered if covered > 0 else math.nan
            )
        inside = group[TIME] > end - max(windows) * DAY
        row["Shorts Paid"] = (group[RATE][inside] < 0).mean() if inside.any() else math.nan
        row["Intervals"] = int(inside.sum())
        rows.append(row)
    columns = [CONTRACT, "Last Rate", "Last Time", *(f"Annualised {d}d" for d in windows),
               "Shorts Paid", "Intervals"]
    return pd.DataFrame(rows, columns=columns).set_index(CONTRACT)


@dataclass(frozen=True)
class SuggestedRatio:
    """A cross-hedge ratio from ``days`` daily closes: the minimum-variance ``ratio``, its
    effectiveness ``r_squared`` and the ``correlation`` of the daily returns."""

    ratio: float
    r_squared: float
    correlation: float
    days: int


def suggested_ratio(
    spot_closes: pd.Series | Sequence[float], hedge_closes: pd.Series | Sequence[float]
) -> SuggestedRatio:
    """The minimum-variance ratio of simple daily returns (:mod:`xlhedge.crosshedge`); two Series
    are first aligned on their common days.

    >>> s = suggested_ratio([100, 115, 97.75], [50, 55, 49.5])  # spot moves 1.5x the hedge
    >>> s.ratio, round(s.r_squared, 12), round(s.correlation, 12), s.days
    (1.5, 1.0, 1.0, 3)
    """
    spot, hedge = spot_closes, hedge_closes
    if isinstance(spot, pd.Series) and isinstance(hedge, pd.Series):
        both = pd.concat([spot, hedge], axis=1, join="inner").dropna()
        spot, hedge = both.iloc[:, 0], both.iloc[:, 1]
    for name, closes in (("spot_closes", spot_closes), ("hedge_closes", hedge_closes)):
        if len(closes) < 3:
            raise InputError(name, "must hold at least 3 daily closes (2 returns)", len(closes))
    if len(spot) < 3:
        raise InputError("spot_closes", f"and hedge_closes share only {len(spot)} days: "
                         "need at least 3")
    try:
        ratio = crosshedge.min_variance_hedge_ratio(spot, hedge)
        r_squared = crosshedge.hedge_effectiveness(spot, hedge)
    except InputError as exc:
        def rename(text: str) -> str:
            return text.replace("_prices", "_closes")
        raise InputError(rename(exc.argument), rename(exc.rule)) from None
    return SuggestedRatio(ratio, r_squared, math.copysign(math.sqrt(r_squared), ratio),
                          len(spot))
