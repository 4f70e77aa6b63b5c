"""Property tests of the hedging identities (hypothesis)."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from strategies import (
    contract_types,
    contract_values,
    fee_rates,
    leverages,
    maintenance_amounts,
    mm_bases,
    mmrs,
    moves,
    prices,
    quantities,
    sides,
)

from xlhedge import (
    InputError,
    average_entry_price,
    cross_liquidation_price,
    get_contract,
    hedge_contracts,
    initial_margin,
    inverse_pnl,
    liquidation_price,
    maintenance_margin,
    margin_for_liquidation,
    position_value,
    tiered_liquidation_price,
)


@given(quantities, prices, moves)
def test_spot_plus_one_to_one_short_is_worth_the_same_usd(q, p0, move):
    # short N = Q*P0 USD of inverse contracts (cv 1, no rounding): value fixed at Q*P0
    p1 = p0 * (1 + move)
    hedge_usd = inverse_pnl(q * p0, 1.0, p0, p1, "short") * p1
    assert math.isclose(q * p1 + hedge_usd, q * p0, rel_tol=1e-9)


@given(st.floats(1, 1e7), contract_values, prices, prices)
def test_long_short_antisymmetry(n, cv, entry, exit_):
    assert inverse_pnl(n, cv, entry, exit_, "long") == -inverse_pnl(n, cv, entry, exit_, "short")


@given(st.floats(0, 1e7), contract_values, prices, sides)
def test_pnl_zero_at_entry(n, cv, entry, side):
    assert inverse_pnl(n, cv, entry, entry, side) == 0.0


@given(st.lists(st.tuples(st.floats(1, 1e6), prices), min_size=1, max_size=20))
def test_harmonic_entry_not_above_arithmetic(fills):
    n, p = map(np.array, zip(*fills, strict=True))
    harmonic = average_entry_price(n, p)
    arithmetic = average_entry_price(n, p, "linear")
    assert harmonic <= arithmetic * (1 + 1e-12)
    assert p.min() * (1 - 1e-12) <= harmonic <= p.max() * (1 + 1e-12)


@given(st.floats(1, 1e6), prices, mmrs, sides, leverages, leverages)
def test_liquidation_distance_shrinks_as_leverage_grows(n, entry, m, side, l1, l2):
    low, high = sorted((l1, l2))
    assume(m < 1 / high)  # exchanges never let the initial margin fall below maintenance
    dist = []
    for lev in (low, high):
        margin = initial_margin(n, 1.0, entry, lev)
        lp = liquidation_price(side, n, 1.0, entry, margin, m)
        dist.append(abs(lp / entry - 1) if math.isfinite(lp) else math.inf)
    assert dist[1] <= dist[0] * (1 + 1e-9)


@given(st.floats(1, 1e6), prices, mmrs, st.floats(0, 100))
def test_full_collateral_1x_short_has_no_liquidation_on_mark_basis(n, entry, m, cum):
    margin = initial_margin(n, 1.0, entry, 1.0)
    assert liquidation_price("short", n, 1.0, entry, margin, m, cum) == math.inf


@given(st.lists(st.tuples(quantities, prices, contract_values), min_size=1, max_size=10))
def test_scalar_and_array_calls_agree(rows):
    q, p, cv = map(np.array, zip(*rows, strict=True))
    arrays = hedge_contracts(q, p, cv)
    pnl = inverse_pnl(arrays, cv, p, p * 1.1)
    for i in range(len(rows)):
        assert arrays[i] == hedge_contracts(float(q[i]), float(p[i]), float(cv[i]))
        assert pnl[i] == inverse_pnl(float(arrays[i]), float(cv[i]), float(p[i]), float(p[i] * 1.1))


@given(quantities, prices, contract_values, st.floats(0, 2), st.sampled_from([1.0, 10.0, 100.0]))
def test_rounding_error_at_most_half_a_lot(q, p, cv, ratio, lot):
    # Half a lot, plus what round_to_lot adds on purpose: it nudges the units up by 1e-12 of
    # themselves (at least 1e-12 of a lot) so float noise such as 599.9999999999 rounds up at a
    # half. That is 1e-12 of the notional: 0.013 of a contract at 1.3e10 contracts, more than
    # half a lot times 1 + 1e-9. Twice it also covers the few ulps of computing both sides.
    n = hedge_contracts(q, p, cv, ratio, lot_size=lot)
    notional = q * p * ratio
    assert abs(n * cv - notional) <= lot * cv / 2 + 2e-12 * max(lot * cv, notional)
    assert n % lot == 0


@given(st.floats(1, 1e6), prices, leverages, mmrs, st.floats(0.001, 0.5))
def test_metamorphic_more_margin_moves_short_liquidation_away(n, entry, lev, m, extra):
    # empyrical-style: adding margin can only move a short's liquidation price up
    assume(m < 1 / lev)
    margin = initial_margin(n, 1.0, entry, lev)
    before = liquidation_price("short", n, 1.0, entry, margin, m)
    after = liquidation_price("short", n, 1.0, entry, margin * (1 + extra), m)
    assert after >= before


def _first_crossing(side, q, entry, margin, floors, mmrs, amounts):
    """Brute force: the first price (moving against the position) where equity <= MM."""

    def gap(price):
        equity = margin + (1 if side == "long" else -1) * q * (1 / entry - 1 / price)
        return equity - maintenance_margin(q / price, floors, mmrs, amounts)

    grid = (np.geomspace(entry, entry * 1e4, 200_001) if side == "short"
            else np.geomspace(entry, entry * 1e-4, 200_001))
    # one array call over the coarse grid (every 100th price); the same float operations as a
    # call per price, element by element
    below = np.flatnonzero(gap(grid[::100]) <= 0)
    if not len(below):
        return math.inf if side == "short" else 0.0
    lo, hi = grid[max(below[0] - 1, 0) * 100], grid[below[0] * 100]
    for _ in range(200):  # bisection between the last safe and the first liquidated price
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if gap(mid) <= 0 else (mid, hi)
    return hi


# Leverage: exactly 1x (a short that is never liquidated), or from 1.001x. Between them a short's
# liquidation price is finite but past the brute force's grid (entry x 1e4): at 1.0001x it is
# ~1e4 x entry, at 1 + 2e-16 ~4e15 x entry, where the brute force would wrongly answer "never".
# Binance sets leverage in whole steps (1x, 2x, ..), so nothing real is left out.
_leverages_in_grid = st.just(1.0) | st.floats(1.001, 30.0)


@settings(max_examples=60, deadline=None)
@given(sides, st.floats(0.5, 2000), _leverages_in_grid, st.floats(1000, 100000))
def test_tiered_liquidation_matches_brute_force(side, btc, lev, entry):
    # Binance COIN-M BTCUSD_PERP tiers: the exact answer where the tier changes on the way
    floors, mmrs, amounts = get_contract("BINANCE:BTCUSD_PERP").tier_arrays()
    q = btc * entry
    margin = q / entry / lev
    mm_entry = maintenance_margin(btc, floors, mmrs, amounts)
    assume(margin > mm_entry * 1.001)
    got = tiered_liquidation_price(side, q, 1.0, entry, margin, floors, mmrs, amounts)
    want = _first_crossing(side, q, entry, margin, floors, mmrs, amounts)
    if math.isinf(want) or want == 0.0:
        assert got == want
    else:
        assert got == pytest.approx(want, rel=1e-6)


@given(sides, st.floats(1, 1e6), contract_values, prices, st.floats(0, 1e4), mmrs,
       maintenance_amounts, contract_types, mm_bases, fee_rates)
def test_cross_with_no_other_positions_is_isolated(side, n, cv, entry, wallet, m, cum, kind,
                                                   basis, fee):
    # the same equation: the cross wallet alone backs the position as an isolated margin does
    cross = cross_liquidation_price(side, n, cv, entry, wallet, m, cum, 0.0, 0.0, kind, basis,
                                    fee)
    isolated = liquidation_price(side, n, cv, entry, wallet, m, cum, kind, basis, fee)
    assert cross == pytest.approx(isolated, rel=1e-12)


@given(sides, st.floats(1, 1e6), prices, st.floats(0, 1e4), st.floats(0, 1e3),
       st.floats(-1e3, 1e3), mmrs, maintenance_amounts, contract_types)
def test_cross_other_positions_act_through_the_balance(side, n, entry, wallet, tmm, upnl, m, cum,
                                                       kind):
    # WB - TMM1 + UPNL1 is all the other positions change: isolated with that margin
    balance = wallet - tmm + upnl
    assume(balance >= 0)
    cross = cross_liquidation_price(side, n, 1.0, entry, wallet, m, cum, tmm, upnl, kind)
    isolated = liquidation_price(side, n, 1.0, entry, balance, m, cum, kind)
    assert cross == pytest.approx(isolated, rel=1e-9, abs=1e-9 * entry)


@given(st.floats(1, 1e6), prices, st.floats(0, 1e4), st.floats(0, 1e4), mmrs,
       maintenance_amounts, st.floats(-1e3, 1e3), contract_types, fee_rates)
def test_metamorphic_more_wallet_moves_cross_short_liquidation_up(n, entry, w1, w2, m, cum, upnl,
                                                                   kind, fee):
    low, high = sorted((w1, w2))
    before = cross_liquidation_price("short", n, 1.0, entry, low, m, cum, 0.0, upnl, kind,
                                     close_fee_rate=fee)
    after = cross_liquidation_price("short", n, 1.0, entry, high, m, cum, 0.0, upnl, kind,
                                    close_fee_rate=fee)
    assert after >= before * (1 - 1e-12)


@given(st.floats(1, 1e7), contract_values, prices, mmrs, maintenance_amounts,
       st.floats(0, 10), fee_rates)
def test_cross_1x_short_with_the_coins_in_the_wallet_is_never_liquidated(n, cv, entry, m, cum,
                                                                         extra, fee):
    # wallet >= N/EP >= N/EP - cum (drawn as N/EP x (1 + extra), so that the float
    # N/EP - wallet - cum is <= 0 exactly as the real number is)
    wallet = position_value(n, cv, entry) * (1 + extra)
    got = cross_liquidation_price("short", n, cv, entry, wallet, m, cum, close_fee_rate=fee)
    assert got == math.inf


@given(sides, st.floats(1, 1e6), contract_values, st.floats(10, 1e6), st.floats(0.001, 0.95),
       st.floats(0, 0.2), st.floats(0, 1), contract_types)
def test_margin_for_liquidation_round_trip(side, n, cv, entry, move, m, share, kind):
    # a target 0.1%..95% below the entry for a long, 0.1%..95% above it for a short; the tier's
    # amount a share of the maintenance margin at the target, so the margin is >= 0
    target = entry * (1 - move) if side == "long" else entry * (1 + move)
    value = position_value(n, cv, target, kind)
    cum = share * m * value
    margin = margin_for_liquidation(side, n, cv, entry, target, m, cum, kind)
    got = liquidation_price(side, n, cv, entry, margin, m, cum, kind, "mark")
    assert got == pytest.approx(target, rel=1e-9)


@given(sides, st.floats(1, 1e6), prices, st.floats(0, 0.5), mmrs)
def test_margin_for_liquidation_refuses_the_wrong_side(side, n, entry, move, m):
    target = entry * (1 + move) if side == "long" else entry * (1 - move)
    with pytest.raises(InputError, match="target_price must be below entry_price for a long"):
        margin_for_liquidation(side, n, 1.0, entry, target, m)
