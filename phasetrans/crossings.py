"""The two scans every removal threshold in phasetrans is made of.

- :func:`interpolated_zero`: where a sampled curve first reaches a level, by linear
  interpolation between the two grid points that bracket it (the width formula's fixed point,
  the random subspaces' 50 % dimension, the meeting fraction's 1/2).
- :func:`largest_passing`: the largest grid point that passes a criterion under a stated rule
  (pruning and retraining thresholds, the support model's first failure).
- :func:`refine`: a grid bracket [last pass, first failure] narrowed by bisection to a stated
  resolution (thresholds located below the theory's window, issue 26).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

RULES = ("first_failure", "last_pass", "official")
"""``"first_failure"``: the grid point before the first failure (one failure ends the scan);
``"last_pass"``: the largest passing grid point; ``"official"``: ``"last_pass"`` (the official
code's rule, whose strict inequalities the callers apply to ``passes``)."""


def interpolated_zero(grid, gap) -> tuple[int | None, float]:
    """(i, x): i the first index with ``gap[i] <= 0`` and x the zero of the linear interpolation
    of ``gap`` between ``grid[i - 1]`` and ``grid[i]`` (``grid[0]`` when i = 0); (None, NaN) if
    ``gap`` stays > 0. ``grid`` and ``gap`` are 1-D of the same length (not checked here: the
    public callers check their inputs)."""
    below = np.flatnonzero(np.asarray(gap) <= 0)
    if below.size == 0:
        return None, float("nan")
    i = int(below[0])
    if i == 0:
        return 0, float(grid[0])
    t = gap[i - 1] / (gap[i - 1] - gap[i])
    return i, float(grid[i - 1] + t * (grid[i] - grid[i - 1]))


def largest_passing(grid, passes, rule: str) -> np.ndarray:
    """(S,) for ``passes`` (S, G) booleans on the increasing ``grid`` (G,): per row, the largest
    grid point passing under ``rule`` (see :data:`RULES`); NaN where none qualifies (under
    ``"first_failure"``: the first grid point already fails)."""
    out = []
    for row in np.asarray(passes, bool):
        if rule in ("last_pass", "official"):  # scan down from the top: the first pass
            ok = np.flatnonzero(row)
            out.append(grid[ok[-1]] if ok.size else np.nan)
        else:
            fails = np.flatnonzero(~row)
            last = (fails[0] - 1) if fails.size else len(grid) - 1
            out.append(grid[last] if last >= 0 else np.nan)
    return np.asarray(out)


def refine(passes: Callable[[float], bool], low: float, high: float, *,
           resolution: float) -> tuple[float, float]:
    """Narrow the bracket [``low``, ``high``] of a criterion's first failure by bisection.

    ``low`` is a ratio that passes and ``high`` one that fails (e.g. the last passing and the
    first failing points of a grid scanned by :func:`largest_passing` under
    ``"first_failure"``); neither is evaluated again. Each step calls ``passes(mid)`` (a
    Python bool, or anything ``bool()`` accepts) at the midpoint and keeps the half whose ends
    still pass and fail, until ``high - low <= resolution``: ceil(log2((high - low) /
    resolution)) calls (fewer if the bracket reaches float spacing first). Returns (low, high),
    floats, with low passing, high failing and ``low <= low' < high' <= high``: for a
    criterion monotone in the ratio the crossing lies inside; otherwise some pass-to-fail
    transition does. ``high - low <= resolution`` already: no call, the bracket returned as
    given.

    ``ValueError`` unless low and high are finite with low < high and resolution is finite and
    > 0; ``TypeError`` if ``passes`` is not callable.
    """
    if not callable(passes):
        raise TypeError(f"passes must be a function passes(ratio) -> bool, got "
                        f"{type(passes).__name__}")
    low, high, resolution = (float(low), float(high), float(resolution))
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"need finite low < high (low passes, high fails), got low = {low}, "
                         f"high = {high}")
    if not (math.isfinite(resolution) and resolution > 0):
        raise ValueError(f"resolution must be finite and > 0, got {resolution}")
    while high - low > resolution:
        mid = 0.5 * (low + high)
        if not low < mid < high:  # resolution below float spacing: the bracket cannot shrink
            break
        if bool(passes(mid)):
            low = mid
        else:
            high = mid
    return low, high
