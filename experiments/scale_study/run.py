"""Scale study: does the gap between the predicted and the measured threshold shrink with D?

    python -m experiments.scale_study.run [--quick] [--seeds 3] [--widths 16 32 64 128 256]
    python -m experiments.scale_study.plot   # -> figures/scale_study.png

One family: mnist1d MLPs 40-h-h-10 (two hidden layers of width h; D = 1056 at h = 16 to
78 336 at h = 256 and 1.1e6 at h = 1024), l1 = 1e-4, 2000 full-batch Adam steps, ``--seeds``
networks each. Every width uses the same matrix-free pipeline, so the numbers are comparable
across D: the width formula on an SLQ spectrum (16 probes x 60 Lanczos steps, eigenvalue
treatment "abs", floor 1e-4) with its interval, the Monte Carlo ellipsoid prediction through
the spectral-levels model (32 levels; phasetrans.theory.spectral_levels), the theory's window
+-a_eta sqrt(D) / D, one-shot global magnitude thresholds (accuracy within 0.01 of the
unpruned network's, and train loss <= L* + eps; 101 ratios), the support feasibility
threshold of the global magnitude masks in the low-rank Hessian model (64 Ritz pairs + a
formula-calibrated bulk, with its Loewner bracket; phasetrans.theory.hessian_model), and, where
affordable (D <= 25 000), masked retraining on 11 ratios (300 full-batch Adam steps on
F = L + lam ||w||_1; phasetrans.networks.retrain). Rows already in results.json for other widths
are kept, so widths can be added one at a time.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from experiments import _output
from phasetrans import _interrupt
from phasetrans.applications import compare, report
from phasetrans.geometry import feasibility
from phasetrans.networks import prune, retrain, spectrum
from phasetrans.theory import hessian_model, predict

DATASET = "mnist1d"
L1 = 1e-4
WIDTHS = (16, 32, 64, 128, 256, 512, 1024)
DEFAULT_WIDTHS = (16, 32, 64, 128, 256)
SPECTRUM = predict.SpectrumOptions("slq", num_probes=16, num_iters=60)
RETRAIN_MAX_DIM = 25_000
RETRAIN_RATIOS = np.linspace(0.0, 1.0, 11)
RETRAIN_STEPS = 300
ACCURACY_TOL = 0.01
"""Accuracy criterion: test accuracy >= unpruned - 0.01 (as ``phasetrans explain``: retraining
from w* itself moves test accuracy by about a point, so a zero tolerance fails at p = 0)."""
SUPPORT_RANK = 64


def _summary(per_seed) -> dict:
    values = np.asarray(per_seed, np.float64)
    return {"mean": float(np.nanmean(values)) if np.any(np.isfinite(values)) else None,
            "per_seed": values.tolist()}


def _retrained(c: compare.Comparison) -> dict:
    dim = c.predictions[0].num_params
    if dim > RETRAIN_MAX_DIM:
        return {"reason": f"D = {dim} > {RETRAIN_MAX_DIM}: {RETRAIN_STEPS} full-batch steps on "
                          f"{RETRAIN_RATIOS.size} ratios x seeds do not fit this study's budget "
                          "on 2 CPU cores"}
    result = retrain.retrain(c.problem, RETRAIN_RATIOS, steps=RETRAIN_STEPS)
    eps = np.array([p.noise.epsilon.mean for p in c.predictions])
    t = retrain.thresholds(result, epsilon=eps, accuracy_tol=ACCURACY_TOL)
    return {"ratios": RETRAIN_RATIOS.tolist(), "steps": RETRAIN_STEPS,
            "converged_fraction": float(np.mean(np.asarray(result.info.converged))),
            "objective": _summary(t.objective), "loss": _summary(t.loss),
            "accuracy": _summary(t.accuracy)}


def _support(c: compare.Comparison) -> dict:
    """Support feasibility of the global magnitude masks (41 ratios) in the low-rank Hessian
    model (phasetrans.theory.hessian_model: top SUPPORT_RANK Ritz pairs of 2 x SUPPORT_RANK Lanczos
    steps): the threshold with the formula-calibrated bulk, and the Loewner bracket."""
    grid = np.linspace(0.0, 1.0, 41)
    out = {"rank": SUPPORT_RANK, "calibrated": [], "upper_bulk": [], "lower_bulk": []}
    for s, pred in enumerate(c.predictions):
        params = c.problem.seed(s)
        flat = ravel_pytree(params)[0]
        index = np.flatnonzero(prune.prunable_flat_mask(params))
        matvec = spectrum.restrict(spectrum.hessian_vector_product(
            c.problem.model.loss, params, c.problem.train), index, flat.size)
        pairs = spectrum.ritz_pairs(matvec, dim=index.size, key=jax.random.key(s),
                                    num_iters=2 * SUPPORT_RANK)
        eps, p_star = pred.noise.epsilon.mean, pred.formula.removal_ratio
        keeps = jnp.asarray(prune.pruned_points(params, grid)[1])
        upper = hessian_model.from_ritz_pairs(pairs, rank=SUPPORT_RANK, bulk="upper")
        beta = hessian_model.calibrated_bulk(
            upper.eigenvalues, dim=index.size, removal_ratio=p_star,
            distance=float(prune.pruned_distance(params, p_star)), epsilon=eps, floor=1e-4)
        for name, bulk in (("calibrated", beta), ("upper_bulk", "upper"),
                           ("lower_bulk", "lower")):
            model = hessian_model.from_ritz_pairs(pairs, rank=SUPPORT_RANK, bulk=bulk)
            minima = feasibility.support_minima(keeps, center=flat[index],
                                                matvec=model.operator())
            out[name].append(feasibility.threshold(grid, np.asarray(minima.value),
                                                   eps).removal_ratio)
    return {**out, "mean": float(np.mean(out["calibrated"]))}


def compute(dataset: str, arch: str, l1: float, *, seeds: int) -> dict:
    c = compare.compare(dataset, arch=arch, l1=l1, num_seeds=seeds, progress=True,
                        assessment=compare.AssessOptions(accuracy_tol=ACCURACY_TOL),
                        options=predict.PredictOptions(
                            spectrum_options=SPECTRUM,
                            l1_body_options=predict.L1BodyOptions(max_dim=0)))
    doc = report.comparison_json(c)
    return {"dataset": doc["dataset"], "arch": doc["arch"], "l1": l1,
            "width": int(arch.split("-")[0]), "seeds": seeds, "num_params": doc["num_params"],
            "unpruned_test_accuracy": doc["unpruned_test_accuracy"],
            "epsilon_per_seed": doc["epsilon_per_seed"], "window": doc["window"],
            "formula": {"mean": doc["predicted_removal_ratio"],
                        "interval": doc["predicted_interval"],
                        "per_seed": doc["predicted_per_seed"]},
            "mc_ellipsoid": doc["mc_prediction"]["ellipsoid"],
            "oneshot": {"accuracy": _summary(doc["empirical_removal_ratio"]
                                             ["accuracy_per_seed"]),
                        "loss": _summary(doc["empirical_removal_ratio"]["loss_per_seed"])},
            "support_ellipsoid": _support(c), "retrained": _retrained(c),
            "spectrum": doc["spectrum"],
            "warnings": doc["warnings"]}


def table(rows) -> str:
    """Markdown: per width, D, window, predictions and measured thresholds (seed means)."""
    def fmt(entry):
        return "—" if entry is None or entry.get("mean") is None else f"{entry['mean']:.2f}"

    lines = ["| h | D | test acc. | formula [interval] | MC ellipsoid | ±window | one-shot acc. "
             "| one-shot loss | support (model) [bracket] | retrained F | retrained acc. "
             "| seconds |",
             "|---" * 12 + "|"]
    for r in rows:
        f, mc, rt, sup = (r["formula"], r["mc_ellipsoid"], r["retrained"],
                          r["support_ellipsoid"])
        mc_text = "—" if mc is None else f"{mc['removal_ratio']:.2f}"
        lines.append(
            f"| {r['width']} | {r['num_params']} | {np.mean(r['unpruned_test_accuracy']):.3f} | "
            f"{f['mean']:.2f} [{f['interval'][0]:.2f}, {f['interval'][1]:.2f}] | {mc_text} | "
            f"{r['window']['half_width']:.3f} | {fmt(r['oneshot']['accuracy'])} | "
            f"{fmt(r['oneshot']['loss'])} | {sup['mean']:.2f} "
            f"[{np.mean(sup['upper_bulk']):.2f}, {np.mean(sup['lower_bulk']):.2f}] | "
            f"{fmt(rt.get('objective'))} | "
            f"{fmt(rt.get('accuracy'))} | {r.get('seconds', 0):.0f} |")
    return "\n".join(lines) + "\n"


def describe(row) -> str:
    return table([row]).splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="width 16, one seed, into results/scale_study/quick/")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--widths", type=int, nargs="+", default=list(DEFAULT_WIDTHS),
                        choices=WIDTHS)
    args = parser.parse_args()
    widths, seeds = (16,), args.seeds
    if not args.quick:
        widths = args.widths
    else:
        seeds = 1
    out = _output.directory("scale_study", quick=args.quick)
    configs = [(DATASET, f"{h}-{h}", L1) for h in widths]
    _output.run_configs(out, configs, lambda *config: compute(*config, seeds=seeds),
                        table=table, describe=describe, datasets=(DATASET,),
                        archs=[f"{h}-{h}" for h in WIDTHS])


if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.scale_study.run")
    main()
