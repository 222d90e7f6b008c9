"""The two result types every estimator and solver shares.

- :class:`Estimate`: a Monte Carlo mean with its standard error and sample count. Every number
  phasetrans reports with an error bar is one (widths, statistical dimensions, eps, SLQ sums,
  delta/D curves, phase-transition points).
- :class:`SolverOptions`: how long an iterative solver may run and when it stops (``tol``,
  ``max_iters``, ``check_every``); each solver names its defaults once as a module constant.
- :class:`SolverInfo`: how an iterative solver stopped: iterations used, the final residual (its
  meaning is stated by each solver: KKT, duality gap, relative primal/dual residual, Newton
  function value) and whether it met its tolerance. Solvers return ``(solution, SolverInfo)``;
  Monte Carlo estimators that call a solver report the worst info over their samples
  (:meth:`SolverInfo.worst`), and ``converged=False`` travels to the JSON reports.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks


class Estimate(NamedTuple):
    """A Monte Carlo estimate.

    Attributes:
        mean: the sample mean (a float, or an array for vector-valued estimates).
        sem: the standard error of the mean, ``std(samples, ddof=1) / sqrt(num_samples)``
            (or the stated error of a derived quantity, e.g. the delta method).
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


class SolverOptions(NamedTuple):
    """Stopping rule and budget of an iterative solver (ADMM, FISTA, conjugate gradients).

    Every iterative solver takes one ``solver: SolverOptions | None`` argument; None means that
    solver's own default, a module constant named once beside it (e.g.
    :data:`phasetrans.geometry.subspaces.SOLVER`), whose fields are that solver's historical
    defaults. Change one field with ``_replace``:
    ``subspaces.SOLVER._replace(max_iters=2000)``.

    The type is a static pytree node (``jax.tree_util.register_static``): inside a jitted
    function its fields are Python constants, so it can be passed as an ordinary argument or
    held by a body or cone, and a different value compiles anew.

    Attributes:
        tol: the solver stops once its residual (each solver's docstring says which) is
            <= tol, and ``SolverInfo.converged`` is ``residual <= tol``; None (the default)
            means the solver's precision-dependent default (float32 / float64).
        max_iters: iteration budget >= 1 (default 20000).
        check_every: iterations between residual checks >= 1 (default 10); the loop runs
            whole blocks of it (:func:`phasetrans._loops.iterate`).
    """

    tol: float | None = None
    max_iters: int = 20000
    check_every: int = 10

    def validate(self) -> SolverOptions:
        """These options checked (``TypeError``/``ValueError`` naming the field and what is
        allowed: ``tol`` None or a finite real > 0, ``max_iters`` and ``check_every``
        integers >= 1), as plain Python numbers."""
        tol = None if self.tol is None else _checks.real("SolverOptions.tol", self.tol,
                                                         positive=True)
        return SolverOptions(tol, _checks.positive_int("SolverOptions.max_iters", self.max_iters),
                             _checks.positive_int("SolverOptions.check_every",
                                                  self.check_every))

    def resolve(self, dtype, *, float32: float, float64: float) -> SolverOptions:
        """:meth:`validate`, with ``tol`` None replaced by the solver's default for ``dtype``
        (``float32`` for float32 data, else ``float64``)."""
        options = self.validate()
        if options.tol is not None:
            return options
        return options._replace(tol=_checks.default_tol(dtype, float32=float32,
                                                        float64=float64))

    @classmethod
    def check(cls, solver, default: SolverOptions, *, dtype, float32: float,
              float64: float) -> SolverOptions:
        """``solver`` (None: ``default``) checked to be a :class:`SolverOptions` and
        :meth:`resolve`-d for ``dtype``."""
        solver = _checks.options("solver", solver, cls, default=default)
        return solver.resolve(dtype, float32=float32, float64=float64)


jax.tree_util.register_static(SolverOptions)


class SolverInfo(NamedTuple):
    """Diagnostics of an iterative solve (arrays inside ``jit``; batched under ``vmap``).

    Attributes:
        iterations: iterations run.
        residual: the solver's stopping quantity at the returned point (each solver's docstring
            says what it measures); ~0 at the exact answer.
        converged: ``residual <= tol`` when the solver stopped.
    """

    iterations: int
    residual: float
    converged: bool

    @classmethod
    def exact(cls, dtype=jnp.float32) -> SolverInfo:
        """The info of a closed-form answer: no iterations, zero residual, converged."""
        return cls(jnp.zeros((), jnp.int32), jnp.zeros((), dtype), jnp.ones((), bool))

    @classmethod
    def worst(cls, infos: SolverInfo) -> SolverInfo:
        """Reduce a batch of infos (leading axes) to plain Python: the most iterations, the
        largest residual, and ``converged`` only if every solve converged."""
        iterations, residual, converged = (np.asarray(x) for x in infos)
        if residual.size == 0:
            return cls(0, 0.0, True)
        return cls(int(iterations.max()), float(residual.max()), bool(converged.all()))

    @classmethod
    def combine(cls, *infos: SolverInfo) -> SolverInfo:
        """:meth:`worst` over several already-reduced infos."""
        return cls.worst(SolverInfo(*(np.asarray(field) for field in zip(*infos, strict=True))))

    def to_dict(self) -> dict:
        """JSON-ready ``{"iterations", "residual", "converged"}`` (a reduced info)."""
        return {"iterations": int(self.iterations), "residual": float(self.residual),
                "converged": bool(self.converged)}
