"""The two scans every removal threshold in phasetrans is made of.

- :func:`interpolated_zero`: where a sampled curve first reaches a level, by linear
  interpolation between the two grid points that bracket it (the width formula's fixed point,
  the random subspaces' 50 % dimension, the meeting fraction's 1/2).
- :func:`largest_passing`: the largest grid point that passes a criterion under a stated rule
  (pruning and retraining thresholds, the support model's first failure).
"""

from __future__ import annotations

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
