"""Monte Carlo estimates: a mean with its standard error and the number of samples behind it."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np


class Estimate(NamedTuple):
    """A Monte Carlo estimate.

    Attributes:
        mean: the sample mean (a float, or an array for vector-valued estimates).
        sem: the standard error of the mean, ``std(samples, ddof=1) / sqrt(num_samples)``.
        num_samples: how many independent samples went into ``mean``.
    """

    mean: float
    sem: float
    num_samples: int

    def interval(self, num_sem: float = 2.0) -> tuple[float, float]:
        """``(mean - num_sem * sem, mean + num_sem * sem)``."""
        return (self.mean - num_sem * self.sem, self.mean + num_sem * self.sem)

    def to_dict(self) -> dict:
        """JSON-ready ``{"estimate", "sem", "num_samples"}`` (arrays become lists)."""
        return {"estimate": np.asarray(self.mean).tolist(), "sem": np.asarray(self.sem).tolist(),
                "num_samples": int(self.num_samples)}


def from_samples(samples, axis: int = 0) -> Estimate:
    """Mean and standard error of i.i.d. ``samples`` along ``axis`` (needs >= 2 samples)."""
    samples = jnp.asarray(samples)
    n = samples.shape[axis]
    if n < 2:
        raise ValueError(f"need at least 2 samples for a standard error, got {n}")
    mean = jnp.mean(samples, axis=axis)
    sem = jnp.std(samples, axis=axis, ddof=1) / np.sqrt(n)
    if mean.ndim == 0:
        return Estimate(float(mean), float(sem), int(n))
    return Estimate(np.asarray(mean), np.asarray(sem), int(n))
