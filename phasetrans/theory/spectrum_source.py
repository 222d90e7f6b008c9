"""Where :func:`phasetrans.theory.predict.predict` gets the Hessian's spectrum: one source per
method, each providing what the formula, the Monte Carlo ellipsoid and the l1-induced body need.

- :class:`ExactSource` (``"exact"``): the dense Hessian of the prunable coordinates and its
  eigendecomposition (all parameters' Hessian at most ``limits.MAX_DENSE_DIM`` wide). The
  formula reads the eigenvalues with weight 1/D each; the ellipsoid works in the eigenbasis (or
  its spectral levels), the l1-induced body uses the eigenpairs and the gradient
  (:class:`QuadraticModel`).
- :class:`SLQSource` (``"slq"``): the Hessian-vector product only. The formula reads the SLQ
  quadrature [Ubaru, Chen & Saad, SIAM J. Matrix Anal. Appl. 38(4), 2017]; the ellipsoid uses
  the spectral-levels model (:mod:`phasetrans.theory.spectral_levels`), the l1-induced body the
  low-rank model from Ritz pairs (:mod:`phasetrans.theory.hessian_model`).

Both answer the same questions (``nodes``/``weights``, :meth:`summary`, :meth:`levels`,
:meth:`low_rank`, ``model``), so ``predict`` composes instead of branching on the method.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from jax.flatten_util import ravel_pytree

from phasetrans import limits
from phasetrans.networks import spectrum
from phasetrans.theory import hessian_model, spectral_levels


class QuadraticModel(NamedTuple):
    """The second-order model of the loss at w* on the prunable coordinates (exact spectrum).

    Attributes:
        eigenvalues: (D,) Hessian eigenvalues, ascending, untreated (may be negative).
        eigenvectors: (D, D) orthonormal eigenvectors (columns).
        gradient: (D,) g* = grad L(w*) (without the l1 term).
        center: (D,) w* on the prunable coordinates.
        index: (D,) positions of the prunable coordinates in ``ravel_pytree(params)`` order.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    gradient: np.ndarray
    center: np.ndarray
    index: np.ndarray


def prunable_gradient(loss_fn, params, data, index) -> np.ndarray:
    """(D,) g* = grad L(w*) on the prunable coordinates ``index``."""
    return np.asarray(ravel_pytree(_gradient(loss_fn, params, data))[0])[index]


@functools.partial(jax.jit, static_argnums=0)
def _gradient(loss_fn, params, data):
    return jax.grad(loss_fn)(params, data)


class ExactSource(NamedTuple):
    """The exact eigendecomposition (see the module doc); ``model`` holds the eigenpairs."""

    model: QuadraticModel

    @property
    def nodes(self) -> np.ndarray:
        """(1, D) the eigenvalues: one quadrature "probe" with weight 1/D per eigenvalue."""
        return self.model.eigenvalues[None]

    @property
    def weights(self) -> np.ndarray:
        return np.full((1, self.model.eigenvalues.size), 1.0 / self.model.eigenvalues.size)

    coarse = None
    """No coarser quadrature: the exact spectrum has no quadrature error."""

    @property
    def eigenpairs(self):
        """(eigenvalues (D,), eigenvectors (D, D)); None for a source without them."""
        return self.model.eigenvalues, self.model.eigenvectors

    def summary(self, floor: float) -> dict:
        """method, negative and near-zero (|lambda| < floor) counts, trace, extremes, floor."""
        values = self.model.eigenvalues
        return {"method": "exact", "num_negative": int(np.sum(values < 0)),
                "num_near_zero": int(np.sum(np.abs(values) < floor)),
                "trace": float(values.sum()), "max_eigenvalue": float(values[-1]),
                "min_eigenvalue": float(values[0]), "floor": floor}

    def levels(self, part, **options) -> spectral_levels.Levels:
        """:func:`phasetrans.theory.spectral_levels.exact_levels` of the pruned part."""
        return spectral_levels.exact_levels(self.model.eigenvalues, self.model.eigenvectors,
                                            part, **options)

    def levels_description(self, num_levels: int) -> str:
        return f"spectral levels: {num_levels} levels of the exact eigendecomposition"

    def low_rank(self, rank: int, *, key, **treatment):
        """The ``rank`` largest treated eigenpairs (:func:`hessian_model.exact`; ``key``
        unused) and their description."""
        del key
        return (hessian_model.exact(self.model.eigenvalues, self.model.eigenvectors, rank=rank,
                                    **treatment),
                f"the {rank} largest treated exact eigenpairs")


class SLQSource(NamedTuple):
    """SLQ over the Hessian-vector product (see the module doc); no eigenpairs, no model."""

    quadrature: spectrum.SpectralQuadrature
    matvec: object
    num_probes: int
    num_iters: int
    model = None
    eigenpairs = None

    @property
    def nodes(self) -> np.ndarray:
        return np.asarray(self.quadrature.nodes)

    @property
    def weights(self) -> np.ndarray:
        return np.asarray(self.quadrature.weights)

    @property
    def coarse(self) -> tuple[np.ndarray, np.ndarray]:
        """(nodes, weights) of the same probes' first max(k // 2, 1) Lanczos steps
        (:func:`spectrum.truncate`): the formula's quadrature term."""
        half = spectrum.truncate(self.quadrature, max(self.num_iters // 2, 1))
        return np.asarray(half.nodes), np.asarray(half.weights)

    def summary(self, floor: float) -> dict:
        """method, probes, steps, the trace estimate, and estimated negative and near-zero
        counts with their bracketing bounds (:func:`spectrum.count_bounds`), floor."""
        sq = self.quadrature
        summary = {"method": "slq", "num_probes": self.num_probes,
                   "num_iters": self.num_iters,
                   "trace": spectrum.spectral_sum(sq, lambda x: x).to_dict()}
        for name, bounds in (("num_negative", {"upper": 0.0}),
                             ("num_near_zero", {"lower": -floor, "upper": floor})):
            low, high = spectrum.count_bounds(sq, **bounds)
            summary[name] = spectrum.count_eigenvalues(sq, **bounds).to_dict()
            summary[name + "_bounds"] = {"low": low.to_dict(), "high": high.to_dict()}
        summary["floor"] = floor
        return summary

    def levels(self, part, **options) -> spectral_levels.Levels:
        """:func:`phasetrans.theory.spectral_levels.quadrature_levels`: counts from the SLQ
        quadrature, energies of the pruned part from a Lanczos run started at it."""
        return spectral_levels.quadrature_levels(self.quadrature, self.matvec, jnp.asarray(part),
                                                 num_iters=self.num_iters, **options)

    def levels_description(self, num_levels: int) -> str:
        return (f"spectral levels: {num_levels} levels; counts from SLQ ({self.num_probes} "
                f"probes x {self.num_iters} Lanczos steps), energies of the pruned part from "
                f"{self.num_iters} Lanczos steps started at it")

    def low_rank(self, rank: int, *, key, **treatment):
        """The ``rank`` largest treated of 2 ``rank`` Ritz pairs
        (:func:`hessian_model.from_matvec`) and their description."""
        dim = self.quadrature.dim
        return (hessian_model.from_matvec(self.matvec, dim=dim, key=key, rank=rank, **treatment),
                f"the {rank} largest treated of {min(2 * rank, dim)} Ritz pairs")


def exact_source(loss_fn, params, data, index, *, hvp_batch_size=None,
                 max_dim: int = limits.MAX_DENSE_DIM) -> ExactSource:
    """The dense Hessian of ``loss_fn`` over ``data`` (all parameters, at most ``max_dim``,
    default ``limits.MAX_DENSE_DIM``: ``ValueError`` naming the 'slq' method otherwise; a
    larger bound is the caller's memory decision, e.g. the scale study's exact spot check at
    D ~ 7000), restricted to
    ``index`` and diagonalised in float64 (SciPy's ``eigh``, divide and conquer: the LAPACK that
    :mod:`phasetrans._threads` keeps at one thread; NumPy's keeps its threads, and beside other
    busy processes a D = 1380 ``np.linalg.eigh`` took 14 s instead of 0.5 s)."""
    total = ravel_pytree(params)[0].size
    if total > max_dim:
        raise ValueError(f"an exact spectrum needs a dense Hessian of all {total} parameters "
                         f"(at most {max_dim}); use the 'slq' spectrum method")
    hessian = spectrum.hessian_matrix(loss_fn, params, data, batch_size=hvp_batch_size,
                                      max_dim=max_dim)
    eigvals, eigvecs = scipy.linalg.eigh(np.asarray(hessian, np.float64)[np.ix_(index, index)],
                                         driver="evd")
    center = np.asarray(ravel_pytree(params)[0])[index]
    return ExactSource(QuadraticModel(eigvals, eigvecs,
                                      prunable_gradient(loss_fn, params, data, index), center,
                                      index))


def slq_source(loss_fn, params, data, index, *, key, num_probes: int, num_iters: int,
               hvp_batch_size=None, devices=None) -> SLQSource:
    """SLQ with ``num_probes`` probes of min(``num_iters``, D) Lanczos steps
    (:func:`spectrum.slq`) over the Hessian-vector product restricted to ``index``."""
    total = ravel_pytree(params)[0].size
    matvec = spectrum.restrict(spectrum.hessian_vector_product(
        loss_fn, params, data, batch_size=hvp_batch_size), index, total)
    iters = min(num_iters, index.size)
    sq = spectrum.slq(matvec, dim=index.size, key=key, num_probes=num_probes, num_iters=iters,
                      devices=devices)
    return SLQSource(sq, matvec, num_probes, iters)
