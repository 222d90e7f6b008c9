"""Cone projection of the l1-induced body: the conic ADMM (reference) vs warm start + Newton.

    python benchmarks/bench_l1_body.py [--quick] [--dim-arch 32-32 --ratio 0.95] [--ratio 0.85]

The body of a trained digits network (library defaults: ``train.train_problem`` with
lambda = 1e-4, proximal Adam to stationarity; ``predict`` with the exact spectrum, then
``predict.l1_induced_body``), float32 as the library runs it, seen from the global-magnitude
pruned point x0 at ``--ratio`` (0.85: the first ratio of a 0.05 grid whose x0 lies outside K
for digits 64-16-10; the formula's fixed point is printed beside it). The same fixed Gaussian
samples (key 0) are projected by

- reference: ``L1InducedCone.projection(method="admm")``, the conic ADMM of
  :mod:`phasetrans.geometry.conic_admm` (its default tolerance);
- new: :func:`phasetrans.geometry.l1_projection.solve` (400 ADMM iterations, semismooth Newton,
  fallback to the full ADMM), same tolerance;

both jitted and vmapped over the samples, warm, timed alternately (median of ``--repeats``
rounds and the spread max - min). Accuracy: ||Pi_C(g)||^2 / D of each against a float64 solve
of the new method at tol 1e-8 (certified by its KKT residual; the JSON says whether it was),
and the two against each other.
The trained parameters are cached in /tmp (``--cache``). Last line: JSON.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans.geometry import bodies
from phasetrans.networks import prune, train
from phasetrans.theory import predict


def _problem(arch: str, cache: Path):
    if cache.exists():
        return train.load_problem(cache, "digits", arch=arch, l1=1e-4)
    problem = train.train_problem("digits", arch=arch, l1=1e-4)
    train.save_problem(cache, problem)
    return problem


def _body(problem):
    options = predict.PredictOptions(
        ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
        l1_body_options=predict.L1BodyOptions(max_dim=0))  # only the exact quadratic model
    params = problem.seed(0)
    prediction = predict.predict(params, problem.model.loss, problem.train,
                                 key=predict.seed_key(jax.random.key(0), 0, 1), l1=problem.l1,
                                 prunable=problem.prunable, options=options)
    return params, prediction, predict.l1_induced_body(prediction, problem.l1)


def _timed(fn, *args):
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="4 samples, 2 repeats")
    parser.add_argument("--dim-arch", default="16",
                        help="hidden widths: 16 (D = 1184, default) or 32-32 (D = 3392)")
    parser.add_argument("--ratio", type=float, default=0.85)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", default=None,
                        help="params cache (default /tmp/phasetrans_bench_l1_body_<arch>.npz)")
    args = parser.parse_args()
    samples, repeats = (4, 2) if args.quick else (args.samples, args.repeats)
    cache = Path(args.cache or f"/tmp/phasetrans_bench_l1_body_{args.dim_arch}.npz")
    start = time.perf_counter()
    problem = _problem(args.dim_arch, cache)
    params, prediction, body = _body(problem)
    dim = body.dim
    apex = jnp.asarray(prune.pruned_points(params, np.array([args.ratio]),
                                           problem.prunable)[0][0], body.center.dtype)
    print(f"digits {args.dim_arch}: D = {dim}, {body.center.dtype}, formula fixed point "
          f"{prediction.formula.removal_ratio:.3f}; apex at ratio {args.ratio}: "
          f"value {float(body.value(apex)):.3g} vs eps {body.epsilon:.3g} "
          f"({time.perf_counter() - start:.0f} s to build)", flush=True)
    if body.contains(apex):
        raise SystemExit(f"x0 at ratio {args.ratio} lies in K (delta = D, nothing to project): "
                         "choose a larger --ratio (digits 32-32: 0.95)")
    cone = body.cone_at(apex)
    gs = jax.random.normal(jax.random.key(0), (samples, dim), body.center.dtype)
    # the cone is an argument (as in width.statistical_dimension), not a constant to fold
    reference = functools.partial(jax.jit(jax.vmap(
        lambda c, g: c.projection(g, method="admm"), in_axes=(None, 0))), cone)
    new = functools.partial(jax.jit(jax.vmap(
        lambda c, g: c.projection(g, method="newton"), in_axes=(None, 0))), cone)
    seconds = {"reference": [], "new": []}
    results = {}
    for name, fn in (("reference", reference), ("new", new)):  # compile + first run
        first, results[name] = _timed(fn, gs)
        print(f"{name}: first call (compiling) {first:.1f} s", flush=True)
    load_start = os.getloadavg()
    for _ in range(repeats):
        for name, fn in (("reference", reference), ("new", new)):
            secs, results[name] = _timed(fn, gs)
            seconds[name].append(secs)
    load_end = os.getloadavg()

    with jax.enable_x64(True):  # the accuracy reference: the new method, float64, tol 1e-8
        body64 = bodies.L1InducedBody.create(
            center=np.asarray(body.center, np.float64), l1=body.l1, epsilon=body.epsilon,
            hessian=(np.asarray(body.eigenvectors, np.float64) * np.asarray(body.eigenvalues))
            @ np.asarray(body.eigenvectors, np.float64).T,
            gradient=np.asarray(body.gradient, np.float64))
        cone64 = body64.cone_at(np.asarray(apex, np.float64),
                                solver=bodies.L1_CONE_SOLVER._replace(tol=1e-8))
        exact = jax.jit(jax.vmap(lambda c, g: c.projection(g, newton_iters=60),
                                 in_axes=(None, 0)))(cone64, jnp.asarray(gs, jnp.float64))
        exact_sq = np.sum(np.asarray(exact.point) ** 2, 1) / dim
        exact_ok = bool(np.all(exact.info.converged))
        exact_res = float(np.max(exact.info.residual))

    sq = {k: np.sum(np.asarray(r.point, np.float64) ** 2, 1) / dim for k, r in results.items()}
    med = {k: float(np.median(v)) for k, v in seconds.items()}
    spread = {k: float(np.max(v) - np.min(v)) for k, v in seconds.items()}
    iters = {k: np.asarray(r.info.iterations) for k, r in results.items()}
    for k, r in results.items():
        print(f"{k}: {med[k]:.2f} s (spread {spread[k]:.2f}; rounds "
              f"{', '.join(f'{s:.2f}' for s in seconds[k])}), iterations median "
              f"{np.median(iters[k]):.0f} max {iters[k].max()}, residual max "
              f"{float(np.max(r.info.residual)):.2e}, all converged "
              f"{bool(np.all(r.info.converged))}, delta/D {sq[k].mean():.5f}, max |error| vs "
              f"float64 {np.max(np.abs(sq[k] - exact_sq)):.2e}")
    diff = float(np.max(np.abs(sq["reference"] - sq["new"])))
    print(f"float64 reference: delta/D {exact_sq.mean():.6f}, all certified {exact_ok} "
          f"(KKT residual <= {exact_res:.1e}); load average {load_start[0]:.1f} -> "
          f"{load_end[0]:.1f}; speed-up {med['reference'] / med['new']:.1f}x; "
          f"max |reference - new| delta/D {diff:.2e}")
    print(json.dumps({
        "benchmark": "l1_body", "dim": dim, "arch": args.dim_arch, "ratio": args.ratio,
        "samples": samples, "repeats": repeats, "dtype": str(body.center.dtype),
        "reference_seconds": med["reference"], "new_seconds": med["new"],
        "reference_spread": spread["reference"], "new_spread": spread["new"],
        "speedup": med["reference"] / med["new"],
        "reference_iterations_median": float(np.median(iters["reference"])),
        "new_iterations_median": float(np.median(iters["new"])),
        "max_statdim_ratio_difference": diff,
        "reference_max_error_vs_float64": float(np.max(np.abs(sq["reference"] - exact_sq))),
        "new_max_error_vs_float64": float(np.max(np.abs(sq["new"] - exact_sq))),
        "reference_converged": bool(np.all(results["reference"].info.converged)),
        "new_converged": bool(np.all(results["new"].info.converged)),
        "float64_certified": exact_ok, "load_average": [load_start[0], load_end[0]]}))


if __name__ == "__main__":
    main()
