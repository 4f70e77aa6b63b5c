"""Funding history kept over a window, its statistics, and the suggested cross-hedge ratio.

Every expected value is worked by hand in the comment beside it, never recomputed with the code
under test.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from xlhedge.errors import InputError
from xlhedge.funding import (
    COLUMNS,
    funding_stats,
    history_frame,
    merge_history,
    resume_from,
    suggested_ratio,
)

NOW = datetime(2026, 11, 22, tzinfo=UTC)
H = timedelta(hours=1)


def _rows(contract: str, rates: list[float], step: timedelta = 8 * H,
          last: datetime = NOW) -> list[tuple[str, datetime, float]]:
    """``rates`` oldest first, the last at ``last``, one every ``step``."""
    return [(contract, last - (len(rates) - 1 - i) * step, rate) for i, rate in enumerate(rates)]


# --- funding_stats ------------------------------------------------------------------------------


def test_reference_0_01_percent_per_8h_is_10_95_percent_a_year() -> None:
    # 90 rows of 0.01% per 8 h cover 30 days: 0.009 x 365 / 30 = 0.1095 in every window;
    # the 90-day window has only those 30 days of history, so it too divides by 30 days
    stats = funding_stats(history_frame(_rows("BINANCE:BTCUSD_PERP", [0.0001] * 90)), NOW)
    row = stats.loc["BINANCE:BTCUSD_PERP"]
    assert row["Annualised 7d"] == pytest.approx(0.1095)  # 21 rows: 0.0021 x 365 / 7
    assert row["Annualised 30d"] == pytest.approx(0.1095)
    assert row["Annualised 90d"] == pytest.approx(0.1095)
    assert (row["Last Rate"], row["Last Time"]) == (0.0001, pd.Timestamp(NOW))
    assert (row["Shorts Paid"], row["Intervals"]) == (0.0, 90)


def test_hourly_rows_compare_with_8_hour_rows() -> None:
    # Deribit-style: 720 hourly rows of 0.00125% (0.01% per 8 h) over 30 days: 0.009 x 365 / 30
    stats = funding_stats(history_frame(_rows("DERIBIT:BTC-PERPETUAL", [0.0000125] * 720, H)),
                          NOW)
    assert stats.loc["DERIBIT:BTC-PERPETUAL", "Annualised 30d"] == pytest.approx(0.1095)
    assert stats.loc["DERIBIT:BTC-PERPETUAL", "Intervals"] == 720


def test_windows_average_only_their_own_rows() -> None:
    # the last 21 rows (7 days) at 0.03%, the 69 before at 0.01%:
    # 7 d: 0.0003 x 3 a day x 365 = 0.3285; 30 d: (21 x 0.0003 + 69 x 0.0001) x 365 / 30
    # = 0.0132 x 365 / 30 = 0.1606
    rows = _rows("OKX:BTC-USD-SWAP", [0.0001] * 69 + [0.0003] * 21)
    stats = funding_stats(history_frame(rows), NOW, windows=(7, 30))
    assert stats.loc["OKX:BTC-USD-SWAP", "Annualised 7d"] == pytest.approx(0.3285)
    assert stats.loc["OKX:BTC-USD-SWAP", "Annualised 30d"] == pytest.approx(0.1606)
    assert list(stats.columns) == ["Last Rate", "Last Time", "Annualised 7d", "Annualised 30d",
                                   "Shorts Paid", "Intervals"]


def test_share_of_intervals_in_which_shorts_paid() -> None:
    # 10 rows 8 h apart, 4 negative: shorts paid in 40%; the rates sum to 0.0001 over 80 h
    # (10/3 days): 0.0001 x 365 / (10/3) = 0.01095 a year
    rates = [0.0002, -0.0001, 0.0001, -0.0003, 0.0001, 0.0001, -0.0001, 0.0002, 0.0001, -0.0002]
    stats = funding_stats(history_frame(_rows("BYBIT:BTCUSD", rates)), NOW)
    row = stats.loc["BYBIT:BTCUSD"]
    assert row["Shorts Paid"] == pytest.approx(0.4)
    assert row["Annualised 7d"] == pytest.approx(0.01095)
    assert (row["Last Rate"], row["Intervals"]) == (-0.0002, 10)


def test_rows_after_now_and_empty_windows() -> None:
    rows = [("A:X", NOW - timedelta(days=20), 0.0001), ("A:X", NOW - timedelta(days=20) + 8 * H,
                                                         0.0001), ("A:X", NOW + H, 0.05)]
    stats = funding_stats(history_frame(rows), NOW, windows=(7, 30))
    assert math.isnan(stats.loc["A:X", "Annualised 7d"])  # nothing in the last 7 days
    # 2 rows of 8 h each (the first takes the second's spacing): 0.0002 x 365 / (16/24) = 0.1095
    assert stats.loc["A:X", "Annualised 30d"] == pytest.approx(0.1095)
    assert stats.loc["A:X", "Last Rate"] == 0.0001  # the row after now is not yet paid
    assert funding_stats(history_frame(), NOW).empty


# --- merge_history and resume_from --------------------------------------------------------------


def test_a_refresh_failing_half_way_loses_no_history() -> None:
    old = history_frame(_rows("A:X", [0.0001] * 3) + _rows("B:Y", [0.0002] * 3,
                                                                 last=NOW - timedelta(days=200)))
    # A refreshed (its last row revised, one more row); B's fetch failed: absent from new
    new = history_frame([("A:X", NOW, 0.0009), ("A:X", NOW + 8 * H, 0.0003)])
    merged = merge_history(old, new, now=NOW + 8 * H)
    assert merged[merged["Contract"] == "B:Y"].reset_index(drop=True).equals(
        old[old["Contract"] == "B:Y"].reset_index(drop=True))  # all kept, even beyond 90 days
    a = merged[merged["Contract"] == "A:X"]
    assert a["Rate"].tolist() == [0.0001, 0.0001, 0.0009, 0.0003]  # new wins at NOW
    assert list(merged.columns) == COLUMNS
    assert a["Time"].is_monotonic_increasing


def test_merge_trims_the_window_of_refreshed_contracts() -> None:
    old = history_frame([("A:X", NOW - timedelta(days=91), 0.1), ("A:X", NOW - timedelta(days=89),
                                                                   0.2)])
    new = history_frame([("A:X", NOW, 0.3)])
    assert merge_history(old, new, window_days=90, now=NOW)["Rate"].tolist() == [0.2, 0.3]
    assert merge_history(old, new, window_days=1, now=NOW)["Rate"].tolist() == [0.3]
    assert merge_history(history_frame(), new, now=NOW)["Rate"].tolist() == [0.3]


def test_resume_after_the_last_row_or_at_the_window_start() -> None:
    old = ("OLD:Z", NOW - timedelta(days=100), 0.0)
    history = history_frame([*_rows("A:X", [0.0001] * 3), old])
    assert resume_from(history, "A:X", 90, NOW) == NOW + timedelta(milliseconds=1)
    assert resume_from(history, "OLD:Z", 90, NOW) == NOW - timedelta(days=90)  # too old
    assert resume_from(history, "NEW:W", 30, NOW) == NOW - timedelta(days=30)


# --- suggested_ratio ----------------------------------------------------------------------------


def test_spot_moving_1_5x_the_hedge_gives_ratio_1_5_and_r2_1() -> None:
    # hedge returns +10%, -10%, +20%; spot +15%, -15%, +30%
    result = suggested_ratio([100, 115, 97.75, 127.075], [50, 55, 49.5, 59.4])
    assert result.ratio == pytest.approx(1.5)
    assert result.r_squared == pytest.approx(1.0)
    assert result.correlation == pytest.approx(1.0)
    assert result.days == 4


def test_hand_computed_r2() -> None:
    # hedge returns (0.1, 0, -0.1), spot (0.1, 0.1, -0.1): Sxy = 0.02, Sxx = 0.02,
    # Syy = 0.03 - 0.01/3 = 0.08/3; ratio = Sxy/Sxx = 1; R² = 0.02² / (0.02 x 0.08/3) = 0.75
    result = suggested_ratio([100, 110, 121, 108.9], [100, 110, 110, 99])
    assert result.ratio == pytest.approx(1.0)
    assert result.r_squared == pytest.approx(0.75)
    assert result.correlation == pytest.approx(0.8660254037844386)  # sqrt(0.75)


def test_negative_correlation_keeps_its_sign() -> None:
    # spot returns -0.5x the hedge's: +10% / -5%, then -10% / +5%
    result = suggested_ratio([100, 95, 99.75], [100, 110, 99])
    assert (result.ratio, result.correlation) == (pytest.approx(-0.5), pytest.approx(-1.0))


def test_series_are_aligned_on_their_common_days() -> None:
    days = pd.date_range("2026-11-01", periods=6, freq="D", tz="UTC")
    spot = pd.Series([1.0, 100, 115, 97.75, 127.075, 9.0], index=days)
    hedge = pd.Series([50, 55, 49.5, 59.4], index=days[1:5]) * 1.0
    spot.iloc[0] = spot.iloc[5] = math.nan  # and gaps are dropped
    result = suggested_ratio(spot, hedge)
    assert (result.ratio, result.days) == (pytest.approx(1.5), 4)


@pytest.mark.parametrize(
    ("spot", "hedge", "message"),
    [
        ([100, 110], [50, 55, 60], r"spot_closes must hold at least 3 daily closes .*got 2"),
        ([100, 110, 120], [50], r"hedge_closes must hold at least 3 daily closes .*got 1"),
        ([100, 110, 120], [50, 50, 50], r"hedge_closes must move"),
        ([100, 100, 100], [50, 55, 60], r"spot_closes must move"),
        ([100, 110, 120], [50, 55, 60, 65], r"hedge_closes must have as many prices as "
                                            r"spot_closes"),
    ],
)
def test_bad_closes_name_the_argument(spot: list[float], hedge: list[float],
                                      message: str) -> None:
    with pytest.raises(InputError, match=message):
        suggested_ratio(spot, hedge)


def test_series_sharing_too_few_days() -> None:
    days = pd.date_range("2026-11-01", periods=4, freq="D", tz="UTC")
    spot = pd.Series([1.0, 2, 3, 4], index=days)
    hedge = pd.Series([1.0, 2, 3, 4], index=days + pd.Timedelta(days=2))
    with pytest.raises(InputError, match="spot_closes and hedge_closes share only 2 days"):
        suggested_ratio(spot, hedge)
