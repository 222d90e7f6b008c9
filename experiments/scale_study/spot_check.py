"""Exact spot check of the scale-study family's matrix-free (SLQ) prediction (issue 26).

    python -m experiments.scale_study.spot_check [--width 52] [--seed 0]

Trains ``family.recommended(width, seed=seed)`` in :mod:`family_run`'s stages (without the
settling at the witness searches' horizon, which the spectra compared here do not need), predicts
with family_run's key and options (:func:`family_run.options`: SLQ, 16 probes x 60 Lanczos
steps, "abs" with floor 1e-4, the Monte Carlo ellipsoid on the SLQ spectral levels), and
recomputes the same quantities from the exact spectrum of the same network: the dense Hessian
of all parameters (:func:`spectrum_source.exact_source`: float32 HVP columns, symmetrised,
restricted to the prunable weights and diagonalised in float64).

Why not ``predict(spectrum="exact")`` itself: it refuses a network of more than
``phasetrans.limits.MAX_DENSE_DIM`` = 5000 parameters (all of them: 7228 at h = 52, D = 7072),
a bound that no option of :class:`predict.PredictOptions` or :class:`predict.SpectrumOptions`
reaches. So the exact side is assembled from the library's pieces:
:func:`spectrum_source.exact_source` with ``max_dim`` = all parameters (the bound passed
explicitly), and on the SLQ prediction's own grid,
distances R(p) and eps (same key: eps does not depend on the spectrum)
:func:`formula.formula_prediction`, :func:`predict.levels_prediction` on
:meth:`ExactSource.levels` (the spectral-levels model on exact counts and energies) and
:func:`predict.ellipsoid_prediction` in the eigenbasis (the ellipsoid's delta without the
levels model), each grid +-0.2 around the exact formula's fixed point and keyed as ``predict``
keys its ellipsoid. tests/test_scale_spot_check.py checks, at a width where the exact path is
allowed, that this assembly reproduces ``predict``'s exact path. The SLQ quadrature is
recomputed with ``predict``'s key (:func:`spectrum_source.slq_source`) to read its eigenvalue
counts' Chebyshev-Markov-Stieltjes brackets (:func:`spectrum.count_bounds`) below 0, in
[0, floor) and at or above the floor; an exact count "lies in its bracket" when it is within
[low - 2 SEM, high + 2 SEM] (the interval count_bounds documents).

Measured at h = 52, seed 0 (D = 7072, n = 272, lam = 1.41e-5; training hit the 50 000-step
cap unconverged, as family_run's would; eps = 5.11e-5 +- 0.23e-5), on 2 busy cores
(results/scale_study/family/spot_check.json; deterministic: two runs gave the same numbers):

- formula: SLQ 0.6134 [0.6059, 0.6210], exact 0.6066 [0.6049, 0.6082]. SLQ is 0.0068 high,
  a bias, not probe noise: the same 16 probes' exact quadrature (the limit k = D, from the
  exact eigenpairs) gives 0.6067. It is the Lanczos quadrature's: on the same probes (the same
  runs stopped earlier) 15, 20, 30, 40 and 60 steps give 0.5967, 0.6017, 0.6083, 0.6119 and
  0.6134, rising past the exact value from 30 steps on, so it converges to its limit
  non-monotonically. The interval's probe and eps part (2 SEM across the 16 probes, 2 SE of
  eps) is [0.6110, 0.6159] and misses the exact value; its quadrature term (the formula at k
  minus at the same probes' first k / 2 steps, :func:`phasetrans.theory.formula.
  formula_prediction`'s ``coarse``: 0.0051) covers it, at every step count from 15 to 60.
- Monte Carlo ellipsoid (9 ratios 0.05 apart, 48 samples): SLQ levels 0.6022 [0.6019,
  0.6025]; exact levels 0.6053 [0.6049, 0.6056] and eigenbasis 0.6048 [0.6043, 0.6052] on
  their own grid; on the SLQ's grid 0.6047 and 0.6041. So the SLQ levels are 0.002-0.003 low
  (delta/D at p = 0.6134: SLQ levels 0.490, exact levels 0.522, eigenbasis 0.517), and the
  levels model itself is within 0.0006 of the eigenbasis. All of these are linear
  interpolations across one grid step (delta/D falls from 0.99 to 0.5 between 0.563 and
  0.613), so the grid, not the spectrum, limits their resolution.
- eigenvalue counts, exact against SLQ (estimate; count_bounds bracket with 2 SEM): below 0
  1603 against 3357 [0, 4947]; [0, 1e-4) 2288 against 222 [0, 4887]; >= 1e-4 3181 against
  3494 +- 13 [2185, 7072]. Every exact count lies in its bracket, but the brackets are nearly
  vacuous (3891 eigenvalues within 1e-4 of zero, exact min -5.9e-5, max 0.364) and the SLQ
  point estimates are off by far more than their SEM (the count above the floor by 24 SEM).
  Trace: exact 21.08, SLQ 20.85 +- 0.51.
- seconds: train 31, SLQ predict 40, SLQ quadrature again 3, dense Hessian + float64 eigh 71,
  exact formula 0.1, exact levels 9 (+8 on the SLQ grid), eigenbasis 7 (+5), total 175 (the
  rerun with the step sweep: 148 s, the sweep 7 s).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import numpy as np
from jax.flatten_util import ravel_pytree

from experiments.scale_study import family, family_run
from phasetrans import _interrupt, _io
from phasetrans.networks import prune, spectrum
from phasetrans.theory import formula, predict, spectrum_source

OUT = pathlib.Path("results/scale_study/family/spot_check.json")
MODULE = "experiments.scale_study.spot_check"
WIDTH = 52
"""D = 32 h + 2 h^2 = 7072."""
STEPS = (15, 20, 30, 40)
"""Lanczos step counts of the SLQ formula's convergence check (besides family_run's own)."""


def command(width: int, seed: int) -> str:
    return f"python -m {MODULE} --width {width} --seed {seed}"


def _estimate(e) -> dict:
    return {"mean": float(e.mean), "sem": float(e.sem)}


def _mc(result) -> dict | None:
    if result is None:
        return None
    return {"removal_ratio": float(result.removal_ratio),
            "interval": [float(x) for x in result.interval],
            "removal_ratios": np.asarray(result.removal_ratios).tolist(),
            "statdim_ratio": np.asarray(result.statdim_ratio.mean).tolist(),
            "converged": bool(result.info.converged), "hessian_model": result.hessian_model}


def _counts(quadrature, values, floor) -> dict:
    """Exact eigenvalue counts below 0, in [0, floor) and >= floor against the SLQ estimate
    and its count_bounds brackets."""
    counts = {}
    for name, lower, upper in (("negative", -np.inf, 0.0), ("below_floor", 0.0, floor),
                               ("above_floor", floor, np.inf)):
        low, high = spectrum.count_bounds(quadrature, lower=lower, upper=upper)
        true = int(np.sum((values >= lower) & (values < upper)))
        bracket = [low.mean - 2 * low.sem, high.mean + 2 * high.sem]
        counts[name] = {
            "range": [lower, upper], "exact": true,
            "slq_estimate": _estimate(spectrum.count_eigenvalues(quadrature, lower=lower,
                                                                 upper=upper)),
            "slq_low": _estimate(low), "slq_high": _estimate(high),
            "bracket_2sem": [float(b) for b in bracket],
            "exact_in_bracket": bool(bracket[0] <= true <= bracket[1]),
            "exact_in_bias_bracket": bool(low.mean <= true <= high.mean)}
    return counts


def compare(problem, *, seed: int, options: predict.PredictOptions | None = None) -> dict:
    """The SLQ prediction (``predict_problem`` with family_run's key and ``options``, default
    :func:`family_run.options`) against the same quantities on the exact spectrum (see the
    module docstring); a plain dict with ``seconds`` per stage."""
    seconds = {}
    options = family_run.options(problem.metadata["n"]) if options is None else options
    options = options.validate()
    key = jax.random.key(seed)
    t = time.perf_counter()
    slq_pred = predict.predict_problem(problem, key=key, options=options)[0]
    seconds["predict_slq"] = time.perf_counter() - t

    params, loss, data = problem.seed(0), problem.model.loss, problem.train
    index = np.flatnonzero(prune.prunable_flat_mask(params, problem.prunable))
    _, k_spec, k_mc, _ = jax.random.split(predict.seed_key(key, 0, problem.num_seeds), 4)
    spec = options.spectrum_options
    t = time.perf_counter()
    slq = spectrum_source.slq_source(loss, params, data, index, key=k_spec,
                                     num_probes=spec.num_probes, num_iters=spec.num_iters,
                                     hvp_batch_size=spec.hvp_batch_size)
    seconds["slq_again"] = time.perf_counter() - t
    t = time.perf_counter()
    exact = spectrum_source.exact_source(loss, params, data, index,
                                         max_dim=int(ravel_pytree(params)[0].size))
    seconds["exact_hessian_eigh"] = time.perf_counter() - t

    t = time.perf_counter()
    fp, noise = slq_pred.formula, slq_pred.noise
    treatment = {"eigen_treatment": options.eigen_treatment, "floor": options.floor}
    exact_formula = formula.formula_prediction(
        exact.nodes, exact.weights, removal_ratios=fp.removal_ratios, distances=fp.distances,
        epsilon=noise.epsilon.mean, epsilon_standard_error=noise.epsilon.sem, **treatment)
    seconds["exact_formula"] = time.perf_counter() - t

    # the SLQ formula with fewer Lanczos steps on the same probes (the same runs stopped
    # earlier): does the quadrature converge in k, and toward the exact value?
    t = time.perf_counter()
    by_steps = []
    for steps in sorted({*STEPS, slq.num_iters}):
        source = slq if steps == slq.num_iters else spectrum_source.slq_source(
            loss, params, data, index, key=k_spec, num_probes=spec.num_probes,
            num_iters=steps, hvp_batch_size=spec.hvp_batch_size)
        fs = formula.formula_prediction(
            source.nodes, source.weights, removal_ratios=fp.removal_ratios,
            distances=fp.distances, epsilon=noise.epsilon.mean,
            epsilon_standard_error=noise.epsilon.sem, coarse=source.coarse, **treatment)
        by_steps.append({"num_iters": source.num_iters, "removal_ratio": float(fs.removal_ratio),
                         "interval": [float(x) for x in fs.interval],
                         "quadrature_term": float(fs.quadrature_term)})
    # ... and its limit k = D: the same probes' exact quadrature (weights (u_j . z_p)^2 / D on
    # the exact eigenvalues), which separates probe noise from the Lanczos quadrature
    probes = np.asarray(spectrum.slq_probes(key=k_spec, num_probes=spec.num_probes,
                                            dim=index.size))
    weights = (probes @ np.asarray(exact.model.eigenvectors, np.float64)) ** 2
    weights = weights / weights.sum(axis=1, keepdims=True)
    limit = formula.formula_prediction(
        np.broadcast_to(np.asarray(exact.model.eigenvalues), weights.shape), weights,
        removal_ratios=fp.removal_ratios, distances=fp.distances, epsilon=noise.epsilon.mean,
        epsilon_standard_error=noise.epsilon.sem, **treatment)
    by_steps.append({"num_iters": int(index.size), "removal_ratio": float(limit.removal_ratio),
                     "interval": [float(x) for x in limit.interval], "exact_eigenpairs": True})
    seconds["slq_formula_by_steps"] = time.perf_counter() - t

    ell = options.ellipsoid_options
    counts = _counts(slq.quadrature, exact.model.eigenvalues, options.floor)
    doc = {
        "num_params": int(index.size), "epsilon": _estimate(noise.epsilon),
        "floor": options.floor, "eigen_treatment": options.eigen_treatment,
        "slq": {"num_probes": slq.num_probes, "num_iters": slq.num_iters},
        "formula": {
            "slq": {"removal_ratio": float(fp.removal_ratio),
                    "interval": [float(x) for x in fp.interval],
                    "quadrature_term": float(fp.quadrature_term)},
            "exact": {"removal_ratio": float(exact_formula.removal_ratio),
                      "interval": [float(x) for x in exact_formula.interval]},
            "difference": float(fp.removal_ratio - exact_formula.removal_ratio),
            "slq_by_num_iters": by_steps},
        "mc_ellipsoid": None, "counts": counts,
        "spectrum": {"exact_min": float(exact.model.eigenvalues[0]),
                     "exact_max": float(exact.model.eigenvalues[-1]),
                     "exact_trace": float(exact.model.eigenvalues.sum()),
                     "slq_trace": slq_pred.spectrum["trace"],
                     "slq_recomputed_trace": _estimate(spectrum.spectral_sum(
                         slq.quadrature, lambda x: x))},
        "seconds": seconds}
    if ell.max_dim == 0:  # as predict: the Monte Carlo ellipsoid turned off
        return doc
    centre = exact_formula.removal_ratio
    grids = {"": np.linspace(max(centre - 0.2, 0.0), min(centre + 0.2, 1.0), ell.num_ratios)}
    if slq_pred.ellipsoid is not None:  # the SLQ levels' own grid: the same interpolation
        grids["_on_slq_grid"] = np.asarray(slq_pred.ellipsoid.removal_ratios, np.float64)
    center = exact.model.center
    eps = exact_formula.epsilon

    def levels_at(p):  # as predict: the pruned part of the one ratio p
        part = center - prune.pruned_points(params, np.array([p]), problem.prunable)[0][0]
        return (exact.levels(part, num_levels=ell.num_levels, **treatment)
                if np.any(part != 0) else None)

    doc["mc_ellipsoid"] = {"slq_levels": _mc(slq_pred.ellipsoid)}
    for suffix, grid in grids.items():
        t = time.perf_counter()
        doc["mc_ellipsoid"]["exact_levels" + suffix] = _mc(predict.levels_prediction(
            levels_at, grid, dim=index.size, epsilon=eps, key=k_mc,
            num_samples=ell.num_samples, hessian_model=exact.levels_description(ell.num_levels)))
        seconds["exact_levels_mc" + suffix] = time.perf_counter() - t
        t = time.perf_counter()
        parts = center - prune.pruned_points(params, grid, problem.prunable)[0]
        doc["mc_ellipsoid"]["exact_eigenbasis" + suffix] = _mc(predict.ellipsoid_prediction(
            formula.positive_eigenvalues(exact.model.eigenvalues, **treatment),
            exact.model.eigenvectors, parts, grid, epsilon=eps, key=k_mc,
            num_samples=ell.num_samples))
        seconds["exact_eigenbasis_mc" + suffix] = time.perf_counter() - t
    return doc


def run(width: int, seed: int, out=OUT) -> dict:
    """Train the member as family_run does, :func:`compare`, write ``out``; the document."""
    start = time.perf_counter()
    problem, training = family.recommended(width, seed=seed)
    train_seconds = time.perf_counter() - start
    doc = {"width": width, "seed": seed, "n": problem.metadata["n"], "l1": problem.l1,
           "arch": problem.metadata["arch"], "training": training}
    doc.update(compare(problem, seed=seed))
    doc["seconds"] = {"train": train_seconds, **doc["seconds"],
                      "total": time.perf_counter() - start}
    doc["command"] = command(width, seed)
    _io.write_json(out, doc)
    return doc


def summary(doc: dict) -> str:
    f, mc, c = doc["formula"], doc["mc_ellipsoid"], doc["counts"]
    lines = [f"h = {doc['width']}, seed {doc['seed']}, D = {doc['num_params']}, "
             f"eps = {doc['epsilon']['mean']:.4g}",
             f"formula: SLQ {f['slq']['removal_ratio']:.4f} {f['slq']['interval']}, exact "
             f"{f['exact']['removal_ratio']:.4f} {f['exact']['interval']}"]
    for name, r in (mc or {}).items():
        if mc is not None and r is not None:
            lines.append(f"MC ellipsoid ({name}): {r['removal_ratio']:.4f} {r['interval']}")
    for name, r in c.items():
        lines.append(f"count {name} {r['range']}: exact {r['exact']}, SLQ "
                     f"{r['slq_estimate']['mean']:.1f}, bracket [{r['bracket_2sem'][0]:.1f}, "
                     f"{r['bracket_2sem'][1]:.1f}] -> in: {r['exact_in_bracket']}")
    lines.append("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in doc["seconds"].items()))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    doc = run(args.width, args.seed)
    print(summary(doc), file=sys.stderr)


if __name__ == "__main__":
    _interrupt.exit_on_interrupt(MODULE)
    main()
