"""Design measurements for the scale-study family of issue 26 (experiments/scale_study/family.py).

    python -m experiments.scale_study.design rows --family multilabel --widths 16 32 64 \
        --ratios 1 2 --seeds 0
    python -m experiments.scale_study.design timing --widths 224 700
    python -m experiments.scale_study.design table     # prints both tables (as in family_design.md)

``rows``: per (family, h, ratio, seed) train a member to stationarity (family.problem) and
``phasetrans.assess`` it: exact spectrum where D <= 5000, else SLQ (16 probes x 60 steps, as
experiments/scale_study/run.py), no Monte Carlo ellipsoid or l1 body (the formula only), one-shot
thresholds with accuracy tolerance 0.01 (as run.py). Records D, n, m, h, accuracies, the
premise check, p_hat with its interval, one-shot thresholds, eps, near-zero eigenvalues and
seconds. ``timing``: seconds of one jitted full-batch gradient and one HVP (forward-over-
reverse, as ``phasetrans.networks.spectrum.hessian_vector_product``) at the given widths, and
the costs extrapolated from them.
Rows are merged into results/scale_study/family_design.json (atomic replace).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from experiments.scale_study import family
from phasetrans import _io
from phasetrans.applications import compare
from phasetrans.networks import stationarity
from phasetrans.theory import predict

OUT = Path("results/scale_study")
JSON = OUT / "family_design.json"
EXACT_MAX_DIM = 5000
SLQ = predict.SpectrumOptions("slq", num_probes=16, num_iters=60)
ACCURACY_TOL = 0.01
SLQ_HVPS = 16 * 60
WITNESS_STEPS = 25 * 10_000
TRAIN_STEPS = (10_000, 50_000)
"""Steps to stationarity assumed in the extrapolation: the range seen in the rows (the default
StopRule stops at <= 50 000)."""


def _load() -> dict:
    return _io.read_json(JSON) if JSON.exists() else {"rows": [], "timing": []}


def _merge(name, row, keys) -> dict:
    """Merge ``row`` into the file as it is now (another run may have written meanwhile)."""
    doc = _load()
    doc[name] = [r for r in doc[name] if any(r.get(k) != row.get(k) for k in keys)] + [row]
    OUT.mkdir(parents=True, exist_ok=True)
    _io.write_json(JSON, doc)
    return doc


def _nan(x):
    x = float(x)
    return None if not np.isfinite(x) else x


def measure_row(fam: str, width: int, ratio: float, seed: int, max_steps: int,
                label_noise: float = 0.0, force_slq: bool = False,
                teacher_width: int = family.TEACHER_WIDTH,
                l1_budget: float | None = None, rtol: float = 1e-5,
                learning_rate: float = family.LEARNING_RATES[0]) -> dict:
    s = family.size(fam, width, ratio)
    # l1_budget = lam n r: the penalty against the summed (not mean) loss held fixed across sizes
    l1 = family.L1 if l1_budget is None else family.l1_for(fam, width, ratio, l1_budget)
    t0 = time.perf_counter()
    stop = stationarity.StopRule(rtol=rtol, max_steps=max_steps)
    problem, training = family.problem(fam, width, ratio=ratio, seed=seed, stop=stop,
                                       label_noise=label_noise, teacher_width=teacher_width,
                                       l1=l1, learning_rates=(learning_rate,))
    t_train = time.perf_counter() - t0
    exact = s["D"] <= EXACT_MAX_DIM and not force_slq
    noise_batch = family.noise_batch_size(s["n"])
    options = predict.PredictOptions(
        noise_batch_size=noise_batch,
        spectrum_options=predict.SpectrumOptions("exact") if exact else SLQ,
        ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
        l1_body_options=predict.L1BodyOptions(max_dim=0))
    t1 = time.perf_counter()
    c = compare.assess(problem, key=jax.random.key(seed), options=options,
                       accuracy_tol=ACCURACY_TOL)
    t_assess = time.perf_counter() - t1
    pred, st, sw = c.predictions[0], c.stationarity[0], c.sweep
    summary = pred.spectrum
    near_zero = summary.get("num_near_zero")
    if isinstance(near_zero, dict):
        near_zero = near_zero.get("estimate")
    return {**s, "seed": seed, "label_noise": label_noise,
            "teacher_width": teacher_width or width, "l1": l1, "l1_budget": l1_budget,
            "stop_rule": stop.describe(), "learning_rate": learning_rate,
            "num_prunable": pred.num_params,
            "nm_over_D": s["n"] * s["rank_per_example"] / s["D"],
            "train_accuracy": float(sw.unpruned_train_accuracy[0]),
            "test_accuracy": float(sw.unpruned_test_accuracy[0]),
            "train_loss": float(sw.unpruned_train_loss[0]),
            "training": training,
            "stationarity": {"is_minimum": bool(st.is_minimum),
                             "decrease_in_epsilon": float(st.decrease_in_epsilon),
                             "relative_subgradient": float(st.relative_subgradient),
                             "zero_fraction": float(st.zero_fraction)},
            "spectrum": "exact" if exact else "slq 16x60",
            "near_zero_fraction": None if near_zero is None else float(near_zero) / s["D"],
            "epsilon": pred.noise.epsilon.mean, "noise_batch_size": noise_batch,
            "p_hat": pred.formula.removal_ratio,
            "p_hat_interval": [float(v) for v in pred.formula.interval],
            "oneshot_accuracy": _nan(c.empirical.accuracy[0]),
            "oneshot_loss": _nan(c.empirical.loss[0]),
            "warnings": c.warnings,
            "seconds": {"train": t_train, "assess": t_assess}}


def _best_of(fn, arg, reps=3):
    jax.block_until_ready(fn(arg))  # compile
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def measure_timing(fam: str, width: int, ratio: float) -> dict:
    s = family.size(fam, width, ratio)
    (x, y), _ = family.make_data(fam, width, ratio, 0)
    batch = (jnp.asarray(x), jnp.asarray(y))
    params = family.init(fam, width, key=jax.random.key(0))
    loss, _ = family.loss_and_accuracy(fam)
    grad = jax.jit(jax.grad(loss))
    t_grad = _best_of(lambda p: grad(p, batch), params)
    # forward-over-reverse as spectrum.hessian_vector_product, but with params and data as
    # arguments: its closure over them lets XLA constant-fold parts of the product at compile
    # time, which would make the measured seconds too small
    hvp = jax.jit(lambda p, v, b: jax.jvp(lambda w: jax.grad(loss)(w, b), (p,), (v,))[1])
    flat, unravel = ravel_pytree(params)
    v = unravel(jax.random.normal(jax.random.key(1), flat.shape))
    t_hvp = _best_of(lambda p: hvp(p, v, batch), params)
    hours = 1 / 3600
    return {**s, "grad_seconds": t_grad, "hvp_seconds": t_hvp,
            "gflop_per_grad_estimate": 6 * s["n"] * s["D"] / 1e9,
            "extrapolated_hours": {
                "train_to_stationarity": [k * t_grad * hours for k in TRAIN_STEPS],
                "train_steps_assumed": list(TRAIN_STEPS),
                "slq_16x60": SLQ_HVPS * t_hvp * hours,
                "witnesses_25x1e4_per_seed": WITNESS_STEPS * t_grad * hours}}


def table(doc: dict) -> str:
    lines = ["| family | k | q | λ | h | m | D | n | seed | n·r/D | train acc | test acc | "
             "lr | steps (conv.) | minimum? (decr./eps) | spectrum | eps | p̂ [interval] | "
             "one-shot acc | one-shot loss | s train + assess |", "|---" * 21 + "|"]

    def f2(v):
        return "—" if v is None else f"{v:.2f}"

    for r in sorted(doc["rows"], key=lambda r: (r["family"], r["teacher_width"] == r["h"],
                                                r.get("label_noise", 0.0),
                                                r["l1_budget"] is not None,
                                                r["learning_rate"], r["stop_rule"],
                                                r["ratio"], r["D"], r["seed"])):
        st, tr = r["stationarity"], r["training"]
        lines.append(
            f"| {r['family']} | {r['teacher_width']} | {r.get('label_noise', 0.0):g} | "
            f"{r['l1']:.2g} | "
            f"{r['h']} | {r['m']} | "
            f"{r['D']} | {r['n']} | {r['seed']} | "
            f"{r['nm_over_D']:.2f} | {r['train_accuracy']:.3f} | {r['test_accuracy']:.3f} | "
            f"{r['learning_rate']:g} | {tr['steps'][0]} ({'y' if tr['converged'][0] else 'n'}"
            f"{'' if '1e-05' in r['stop_rule'] else ', rtol 1e-6'}) | "
            f"{'yes' if st['is_minimum'] else 'no'} ({st['decrease_in_epsilon']:.2f}) | "
            f"{r['spectrum']} | {r['epsilon']:.2g} | {r['p_hat']:.2f} "
            f"[{r['p_hat_interval'][0]:.2f}, {r['p_hat_interval'][1]:.2f}] | "
            f"{f2(r['oneshot_accuracy'])} | {f2(r['oneshot_loss'])} | "
            f"{r['seconds']['train']:.0f} + {r['seconds']['assess']:.0f} |")
    lines += ["", "| family | h | D | n | grad s | HVP s | train 1e4–5e4 steps (h) | "
              "SLQ 16×60 (h) | witnesses 25×1e4 steps per seed (h) |", "|---" * 9 + "|"]
    for t in sorted(doc["timing"], key=lambda t: (t["family"], t["D"])):
        e = t["extrapolated_hours"]
        lines.append(
            f"| {t['family']} | {t['h']} | {t['D']} | {t['n']} | {t['grad_seconds']:.3f} | "
            f"{t['hvp_seconds']:.3f} | {e['train_to_stationarity'][0]:.1f}–"
            f"{e['train_to_stationarity'][1]:.1f} | {e['slq_16x60']:.2f} | "
            f"{e['witnesses_25x1e4_per_seed']:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("rows", "timing", "table"))
    parser.add_argument("--family", choices=family.FAMILIES, default="multilabel")
    parser.add_argument("--widths", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--ratios", type=float, nargs="+", default=[1.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--max-steps", type=int, default=50_000)
    parser.add_argument("--label-noise", type=float, default=0.0)
    parser.add_argument("--teacher-width", type=int, default=family.TEACHER_WIDTH,
                        help="k of the teacher; 0: k = h")
    parser.add_argument("--l1-budget", type=float, default=None,
                        help="lam n r held fixed (lam = budget / (n r)); default: lam = 1e-4")
    parser.add_argument("--rtol", type=float, default=1e-5, help="StopRule.rtol")
    parser.add_argument("--learning-rate", type=float, default=family.LEARNING_RATES[0])
    parser.add_argument("--slq", action="store_true", help="SLQ spectrum even where D <= 5000 "
                        "(to check SLQ against the exact spectrum)")
    args = parser.parse_args()
    doc = _load()
    if args.what == "rows":
        for ratio in args.ratios:
            for width in args.widths:
                for seed in args.seeds:
                    row = measure_row(args.family, width, ratio, seed, args.max_steps,
                                      args.label_noise, args.slq, args.teacher_width,
                                      args.l1_budget, args.rtol, args.learning_rate)
                    doc = _merge("rows", row, ("family", "h", "ratio", "seed", "label_noise",
                                               "spectrum", "teacher_width", "l1_budget",
                                               "stop_rule", "learning_rate"))
                    print(table({"rows": [row], "timing": []}).splitlines()[2], flush=True)
    elif args.what == "timing":
        for ratio in args.ratios:
            for width in args.widths:
                row = measure_timing(args.family, width, ratio)
                doc = _merge("timing", row, ("family", "h", "ratio"))
                print(json.dumps(row), flush=True)
    print(table(doc))


if __name__ == "__main__":
    main()
