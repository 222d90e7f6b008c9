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
