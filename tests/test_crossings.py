"""phasetrans.crossings: the interpolated first crossing and the largest passing grid point,
on hand-built sequences."""

import math

import numpy as np
import pytest

from phasetrans import crossings
from phasetrans.geometry import feasibility, subspaces
from phasetrans.theory import formula


def test_interpolated_zero_by_hand():
    grid = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    # gap 0.3, 0.1, -0.1, ...: zero halfway between 0.25 and 0.5
    assert crossings.interpolated_zero(grid, np.array([0.3, 0.1, -0.1, -0.3, -0.5])) == (
        2, pytest.approx(0.375))
    assert crossings.interpolated_zero(grid, np.array([0.0, 1.0, 1.0, 1.0, 1.0])) == (0, 0.0)
    index, value = crossings.interpolated_zero(grid, np.ones(5))
    assert index is None and math.isnan(value)
    # exactly zero at a grid point: that point
    assert crossings.interpolated_zero(grid, np.array([0.2, 0.1, 0.0, -1, -1]))[1] == 0.5


@pytest.mark.parametrize("rule, expected", [("first_failure", [0.25, np.nan, 1.0]),
                                            ("last_pass", [0.75, 0.5, 1.0]),
                                            ("official", [0.75, 0.5, 1.0])])
def test_largest_passing_by_hand(rule, expected):
    grid = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    passes = np.array([[1, 1, 0, 1, 0],     # fails at 0.5, passes again at 0.75
                       [0, 1, 1, 0, 0],     # fails at once
                       [1, 1, 1, 1, 1]], bool)
    np.testing.assert_array_equal(crossings.largest_passing(grid, passes, rule), expected)


def test_every_threshold_uses_the_shared_scans():
    """The fixed point, the subspaces' 50 % crossing and the support model's first failure are
    the two scans with their own edge rules."""
    p = np.linspace(0, 1, 5)  # c - p = 1, 0.35, -0.1, ...: 0.25 + 0.25 * 0.35 / 0.45
    assert formula.fixed_point(p, np.array([1.0, 0.6, 0.4, 0.2, 0.0])) == pytest.approx(4 / 9)
    assert formula.fixed_point(p, np.ones(5) * 2) == 1.0      # never below the diagonal
    dims = np.array([10.0, 20.0, 30.0])
    assert subspaces._crossing(dims, np.array([0.0, 0.25, 0.75])) == pytest.approx(25.0)
    assert math.isnan(subspaces._crossing(dims, np.array([0.6, 0.8, 1.0])))  # already above
    assert subspaces._crossing(dims, np.array([0.5, 0.8, 1.0])) == 10.0
    assert math.isnan(subspaces._crossing(dims, np.zeros(3)))               # never reached
    ratios = np.array([0.1, 0.4, 0.7])
    first_fails_at_07 = feasibility.threshold(ratios, np.array([0.0, 0.5, 2.0]), 1.0)
    assert first_fails_at_07.removal_ratio == pytest.approx(0.4)
    assert feasibility.threshold(ratios, np.array([2.0, 0.5, 0.0]), 1.0).removal_ratio == 0.0
    assert feasibility.threshold(ratios, np.zeros(3), 1.0).removal_ratio == pytest.approx(0.7)


@pytest.mark.parametrize("crossing, resolution", [(0.3137, 0.01), (0.8, 1e-4), (0.05, 0.003)])
def test_refine_locates_a_known_crossing_within_the_resolution(crossing, resolution):
    """A hand-built monotone sweep: passes below ``crossing``, fails from it on. The coarse
    grid brackets it to 0.1; bisection narrows it to <= resolution, the crossing inside."""
    grid = np.linspace(0.0, 1.0, 11)
    passes = grid < crossing
    first = crossings.largest_passing(grid, passes[None], "first_failure")[0]
    calls = []

    def criterion(p):
        calls.append(p)
        return p < crossing

    low, high = crossings.refine(criterion, first, first + 0.1, resolution=resolution)
    assert low < crossing <= high
    assert high - low <= resolution
    assert first <= low and high <= first + 0.1
    assert len(calls) == math.ceil(math.log2(0.1 / resolution))
    assert all(first < p < first + 0.1 for p in calls)


def test_refine_on_a_non_monotone_criterion_brackets_a_transition_and_stops_at_once():
    # passes on [0, 0.2) and [0.4, 0.6): a pass-to-fail transition is kept inside the bracket
    def criterion(p):
        return p < 0.2 or 0.4 <= p < 0.6

    low, high = crossings.refine(criterion, 0.0, 1.0, resolution=1e-3)
    assert criterion(low) and not criterion(high) and high - low <= 1e-3
    assert abs(low - 0.6) < 1e-3 or abs(low - 0.2) < 1e-3
    # already narrow enough: no call
    assert crossings.refine(lambda p: 1 / 0, 0.5, 0.51, resolution=0.02) == (0.5, 0.51)


@pytest.mark.parametrize("low, high, resolution", [(0.5, 0.5, 0.1), (0.6, 0.5, 0.1),
                                                   (np.nan, 0.5, 0.1), (0.0, 1.0, 0.0),
                                                   (0.0, 1.0, -1.0), (0.0, np.inf, 0.1),
                                                   (0.0, 1.0, np.nan)])
def test_refine_rejects_bad_brackets_and_resolutions(low, high, resolution):
    with pytest.raises(ValueError):
        crossings.refine(lambda p: True, low, high, resolution=resolution)
    with pytest.raises(TypeError, match="passes must be a function"):
        crossings.refine(0.5, 0.0, 1.0, resolution=0.1)
