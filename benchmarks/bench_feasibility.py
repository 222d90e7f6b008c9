"""Exact support feasibility on 101 nested supports: JAX (jit + vmap) vs per-ratio SciPy solves.

    python benchmarks/bench_feasibility.py [--quick]

The model of a trained network around w* (reference step 3 of the gap attribution): a random
PSD A with a trained net's spectrum (45% exact zeros, as after clipping the negative half of the
bulk; 50% near-zero bulk spread over 1e-8..1e-4 of the top; 5% outliers), w* with l1-like
entries (half of them ~0, Laplace tails) and g* = -lam/2 sign(w*). For the global magnitude
supports at removal ratios 0, 0.01, ..., 1 it computes

- the ellipsoid minimum 1/2 q_c^T (A_cc - A_cT A_TT^+ A_Tc) q_c (``support_minima`` with the
  eigendecomposition; baseline: ``scipy.linalg.lstsq`` on the kept columns of B = Lambda^1/2 V^T,
  one support at a time), and
- the l1-induced minimum (FISTA with duality-gap certificate; baseline: ``scipy.optimize``
  L-BFGS-B on the split variables w_T = u - v, u, v >= 0, one support at a time).

JAX runs all 101 supports (timed after compilation); the baselines run on a few ratios spread
over the grid and are extrapolated to 101 (printed as such), with the agreement on those ratios.
Full: D = 3400; ``--quick``: D = 1200. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
import scipy.linalg
from scipy import optimize

from phasetrans.estimate import SolverInfo
from phasetrans.geometry import feasibility


def _problem(dim: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    vecs, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    zeros, bulk = int(0.45 * dim), int(0.5 * dim)
    top = 50.0
    eigenvalues = top * np.concatenate([np.zeros(zeros), 10 ** rng.uniform(-8, -4, bulk),
                                        10 ** rng.uniform(-2, 0, dim - zeros - bulk)])
    center = (rng.laplace(scale=0.01, size=dim) * (rng.random(dim) < 0.5)
              + 1e-4 * rng.normal(size=dim))
    l1 = 1e-3
    gradient = -0.5 * l1 * np.sign(center)
    ratios = np.linspace(0.0, 1.0, 101)
    order = np.argsort(np.abs(center), kind="stable")
    rank = np.empty(dim, int)
    rank[order] = np.arange(dim)
    keeps = np.stack([rank >= np.floor(p * dim + 1e-6) for p in ratios])
    return eigenvalues, vecs, center, gradient, l1, ratios, keeps


def _baseline_ellipsoid(factor, center, keep):
    kept, pruned = np.flatnonzero(keep), np.flatnonzero(~keep)
    target = -factor[:, pruned] @ (-center[pruned])
    if kept.size == 0:
        return 0.5 * target @ target
    x, *_ = scipy.linalg.lstsq(factor[:, kept], target)
    r = factor[:, kept] @ x - target
    return 0.5 * r @ r


def _baseline_l1(matrix, gradient, center, l1, keep):
    kept = np.flatnonzero(keep)
    k = kept.size
    q0 = np.where(keep, 0.0, -center)
    const = gradient @ q0 + 0.5 * q0 @ matrix @ q0 - l1 * np.abs(center).sum()
    b = (gradient + matrix @ q0)[kept]
    block, w_kept = matrix[np.ix_(kept, kept)], center[kept]
    if k == 0:
        return const

    def fun(z):
        x = z[:k] - z[k:] - w_kept  # q_T
        ax = block @ x
        grad = b + ax
        return const + b @ x + 0.5 * x @ ax + l1 * z.sum(), np.concatenate([grad + l1,
                                                                              -grad + l1])

    z0 = np.concatenate([np.maximum(w_kept, 0), np.maximum(-w_kept, 0)])
    res = optimize.minimize(fun, z0, jac=True, method="L-BFGS-B", bounds=[(0, None)] * (2 * k),
                            options={"maxiter": 20000, "maxfun": 40000, "ftol": 1e-15,
                                     "gtol": 1e-12})
    return res.fun


def _timed(fn):
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="D = 1200 instead of 3400")
    args = parser.parse_args()
    dim = 1200 if args.quick else 3400
    with jax.enable_x64(True):
        eigenvalues, vecs, center, gradient, l1, ratios, keeps = _problem(dim)
        dense = {"center": center, "eigenvalues": eigenvalues, "eigenvectors": vecs}

        def ellipsoid():
            return feasibility.support_minima(keeps, **dense)

        def l1_body():
            return feasibility.support_minima(keeps, l1=l1, gradient=gradient, **dense)

        ellipsoid()  # compile
        ell, ell_seconds = _timed(ellipsoid)
        l1_body()
        body, l1_seconds = _timed(l1_body)
        ell_info, l1_info = (SolverInfo.worst(r.info) for r in (ell, body))

        sample = np.linspace(0, len(ratios) - 1, 6).round().astype(int)[1:-1]  # interior
        factor = np.sqrt(eigenvalues)[:, None] * vecs.T
        matrix = (vecs * eigenvalues) @ vecs.T
        start = time.perf_counter()
        base_ell = [_baseline_ellipsoid(factor, center, keeps[j]) for j in sample]
        base_ell_seconds = (time.perf_counter() - start) * len(ratios) / len(sample)
        start = time.perf_counter()
        base_l1 = [_baseline_l1(matrix, gradient, center, l1, keeps[j]) for j in sample]
        base_l1_seconds = (time.perf_counter() - start) * len(ratios) / len(sample)

    ell_diff = float(np.max(np.abs(np.asarray(ell.value)[sample] - base_ell)))
    l1_diff = np.asarray(body.value)[sample] - np.asarray(base_l1)
    eps = float(np.median(np.asarray(ell.value)))
    seconds = ell_seconds + l1_seconds
    baseline_seconds = base_ell_seconds + base_l1_seconds
    print(f"D={dim}, {len(ratios)} nested global-magnitude supports (float64):")
    print(f"  ellipsoid (Schur / least squares): JAX {ell_seconds:.2f} s ({ell_info.to_dict()});"
          f" scipy.linalg.lstsq per support {base_ell_seconds:.1f} s (extrapolated from "
          f"{len(sample)} ratios, max |difference| {ell_diff:.2e}); speed-up "
          f"{base_ell_seconds / ell_seconds:.1f}x")
    print(f"  l1 body (FISTA + gap): JAX {l1_seconds:.2f} s ({l1_info.to_dict()}); L-BFGS-B "
          f"per support {base_l1_seconds:.1f} s (extrapolated; JAX - L-BFGS-B value "
          f"{l1_diff.min():.2e}..{l1_diff.max():.2e}); speed-up "
          f"{base_l1_seconds / l1_seconds:.1f}x")
    print(f"  ellipsoid threshold at eps = median value {eps:.3g}: "
          f"{feasibility.threshold(ratios, ell.value, eps).removal_ratio:.2f}; total speed-up "
          f"{baseline_seconds / seconds:.1f}x")
    print(json.dumps({"benchmark": "feasibility", "dim": dim, "ratios": len(ratios),
                      "seconds": seconds, "baseline_seconds": baseline_seconds,
                      "speedup": baseline_seconds / seconds,
                      "ellipsoid_seconds": ell_seconds,
                      "ellipsoid_baseline_seconds": base_ell_seconds,
                      "l1_seconds": l1_seconds, "l1_baseline_seconds": base_l1_seconds,
                      "ellipsoid_converged": ell_info.converged,
                      "l1_converged": l1_info.converged}))


if __name__ == "__main__":
    main()
