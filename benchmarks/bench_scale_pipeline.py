"""Per-stage cost of one scale-study row (issue 26): where the time of ``family_run.compute_row``
goes for one network of the family at D ~ 1e5, against the machine's float32 matmul speed.

    python benchmarks/bench_scale_pipeline.py [--quick] [--width H] [--train-steps N]
        [--batch-size B]

The network: ``experiments/scale_study/family.py``'s recommended member of width h (default
h = 224, D = 32 h + 2 h^2 = 107 520; ``--quick``: h = 32, D = 3072), seed 0. It is NOT trained
to convergence: proximal Adam runs ``--train-steps`` (default 300) full-batch steps from the
initialisation (the family's data, loss, lambda and learning rate) and the cost per step is
extrapolated; the later stages run at that point.

Stages (each warm, i.e. compiled once first, unless said otherwise; seconds of one call):

1. ``train_step``: one full-batch proximal-Adam step (``train.stepper``), from a jitted
   ``lax.scan`` of N steps divided by N; ``train_step_batch``: the same on mini-batches of
   ``--batch-size`` examples (default 64; ``experiments/scale_study/minibatch_training.py``
   trains the members that way).
2. ``hvp``: one Hessian-vector product of the training loss
   (``spectrum.hessian_vector_product``, all parameters, full batch); ``slq``: the family's
   SLQ (16 probes x 60 Lanczos steps, ``spectrum.slq``), timed whole (all 16 probes).
3. ``predict``: ``predict.predict_problem`` with ``family_run.options(n)`` (eps, SLQ, formula
   and the Monte Carlo ellipsoid on spectral levels), one call, cold (the pipeline calls it once
   per row, so its compilation is part of the row's cost); ``ellipsoid_levels`` = predict - warm
   SLQ (an estimate of everything predict does besides its SLQ, compilation included).
4. ``masked_step``: one step of masked retraining (the witness searches' inner loop: the same
   ``train.stepper`` with a global-magnitude mask at ratio 0.5), per step, one network (the
   searches vmap several ratios per batch).
5. ``sweep``: ``prune.sweep`` on 101 ratios (one-shot global magnitude), warm.

GFLOP/s = FLOPs / seconds with FLOPs from XLA's cost analysis of the jitted function
(``lower(...).compile().cost_analysis()["flops"]``); for the SLQ, probes x steps x the HVP's
FLOPs (the Lanczos recurrence and reorthogonalisation not counted); "n/a" where the stage is
several jitted programs (predict, sweep). The whole row is extrapolated with the pipeline's
step counts (family_run's docstring): training up to 50 000 steps (the StopRule cap), the
premise check's 2000 further steps, predict once, the sweep once, and the witnesses as 25
masked retraining runs of up to 10 000 steps (family.py's estimate for retrain + imp; the
searches batch several runs per vmap, which this per-run figure ignores). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.bench_spectrum import xla_flops  # noqa: E402
from experiments.scale_study import family, family_run  # noqa: E402
from phasetrans.networks import prune, spectrum, train  # noqa: E402
from phasetrans.networks.problem import Problem, default_prunable  # noqa: E402
from phasetrans.theory import predict  # noqa: E402

FULL_WIDTH, QUICK_WIDTH = 224, 32
SLQ_PROBES, SLQ_STEPS = 16, 60
ROW_TRAIN_STEPS, PREMISE_STEPS = 50_000, 2000
WITNESS_RUNS, WITNESS_STEPS = 25, 10_000


def _best(fn, repeats):
    """Best of ``repeats`` blocked calls of ``fn`` (after one untimed warm-up call)."""
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
    """Float32 (n x n) @ (n x n), jitted, warm, best of ``repeats``: 2 n^3 / seconds."""
    a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
    b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
    mm = jax.jit(jnp.matmul)
    return 2 * n**3 / _best(lambda: mm(a, b), repeats) / 1e9


def _stage(seconds, flops):
    return {"seconds": seconds, "flops": flops,
            "gflops": None if flops is None else flops / seconds / 1e9}


def _time_steps(step, carry, num):
    """``num`` steps of ``step`` from ``carry`` in one jitted lax.scan, timed warm (compiled
    first): (seconds per step, the stage dict with one step's FLOPs, the carry after them)."""
    keys = jax.random.split(jax.random.key(0), num)
    run = jax.jit(lambda c: jax.lax.scan(step, c, keys)[0])
    jax.block_until_ready(run(carry))  # compile
    start = time.perf_counter()
    after = jax.block_until_ready(run(carry))
    per_step = (time.perf_counter() - start) / num
    return per_step, _stage(per_step, xla_flops(jax.jit(step), carry, keys[0])), after


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=f"h = {QUICK_WIDTH}")
    parser.add_argument("--width", type=int, default=None)
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument("--masked-steps", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    width = args.width or (QUICK_WIDTH if args.quick else FULL_WIDTH)
    print(f"jax {jax.__version__}, devices {jax.devices()}", flush=True)

    gflops_mm = matmul_gflops()
    print(f"float32 matmul 2048^2: {gflops_mm:.1f} GFLOP/s (best of 5, warm)", flush=True)

    s = family.size("multilabel", width, family.RATIO)
    l1 = family.l1_for("multilabel", width)
    train_set, test_set = family.make_data("multilabel", width, family.RATIO, 0, 0.0, 0)
    train_set = tuple(map(jnp.asarray, train_set))
    params = family.init("multilabel", width, key=jax.random.key(0))
    prunable = default_prunable(params)
    dim = s["D"]
    print(f"h = {width}: D = {dim} prunable, n = {s['n']}, m = {s['m']}, lambda = {l1:.3g}",
          flush=True)
    stages = {}

    # 1. training steps (full batch, proximal Adam), not to convergence
    opt, step = train.stepper(family.bce_loss, train_set, prunable=prunable, l1=l1,
                              optimizer="prox-adam", learning_rate=family.LEARNING_RATES[0])
    per_step, stages["train_step"], (params, _) = _time_steps(
        step, (params, opt.init(params)), args.train_steps)
    print(f"1. training: {args.train_steps} full-batch steps (not to convergence, extrapolated "
          f"per step): {per_step * 1e3:.2f} ms/step", flush=True)
    _, batch_step = train.stepper(family.bce_loss, train_set, prunable=prunable, l1=l1,
                                  optimizer="prox-adam", learning_rate=family.LEARNING_RATES[0],
                                  batch_size=min(args.batch_size, s["n"]))
    per_batch_step, stages["train_step_batch"], _ = _time_steps(
        batch_step, (params, opt.init(params)), args.train_steps)
    print(f"   the same steps on mini-batches of {args.batch_size}: {per_batch_step * 1e3:.2f} "
          f"ms/step ({per_step / per_batch_step:.1f}x fewer seconds per step)", flush=True)

    problem = Problem.from_loss(family.bce_loss, params, accuracy=family.label_accuracy,
                                train=tuple(map(np.asarray, train_set)), test=test_set, l1=l1,
                                metadata={"n": s["n"], "m": s["m"]})

    # 2. one HVP and the family's SLQ
    matvec = spectrum.hessian_vector_product(family.bce_loss, params, train_set)
    full_dim = int(ravel_pytree(params)[0].size)
    v = jax.random.normal(jax.random.key(1), (full_dim,), jnp.float32)
    hvp_seconds = _best(lambda: matvec(v), 5)
    hvp_flops = xla_flops(matvec, v)
    stages["hvp"] = _stage(hvp_seconds, hvp_flops)
    print(f"2. one HVP (all {full_dim} parameters): {hvp_seconds * 1e3:.2f} ms", flush=True)
    start = time.perf_counter()
    jax.block_until_ready(spectrum.slq(matvec, dim=full_dim, key=jax.random.key(2),
                                       num_probes=SLQ_PROBES, num_iters=SLQ_STEPS).nodes)
    slq_cold = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(spectrum.slq(matvec, dim=full_dim, key=jax.random.key(3),
                                       num_probes=SLQ_PROBES, num_iters=SLQ_STEPS).nodes)
    slq_seconds = time.perf_counter() - start
    stages["slq"] = _stage(slq_seconds, None if hvp_flops is None
                           else SLQ_PROBES * SLQ_STEPS * hvp_flops)
    print(f"   SLQ {SLQ_PROBES} probes x {SLQ_STEPS} steps, all probes timed: {slq_seconds:.2f} s "
          f"warm ({slq_cold:.2f} s cold), {slq_seconds / (SLQ_PROBES * SLQ_STEPS) * 1e3:.2f} ms "
          "per Lanczos step", flush=True)

    # 3. predict_problem with family_run's options (cold: once per row)
    start = time.perf_counter()
    pred = predict.predict_problem(problem, key=jax.random.key(0),
                                   options=family_run.options(s["n"]))
    predict_seconds = time.perf_counter() - start
    stages["predict"] = _stage(predict_seconds, None)
    stages["ellipsoid_levels"] = _stage(max(predict_seconds - slq_seconds, 0.0), None)
    print(f"3. predict_problem (eps + SLQ + formula + MC ellipsoid on levels), one cold call: "
          f"{predict_seconds:.1f} s; minus the warm SLQ: {predict_seconds - slq_seconds:.1f} s; "
          f"ellipsoid {'off' if pred[0].ellipsoid is None else 'on'}", flush=True)

    # 4. masked retraining step (global magnitude mask at ratio 0.5)
    mask = prune.global_magnitude(params, 0.5, prunable)
    _, mstep = train.stepper(family.bce_loss, train_set, prunable=prunable, l1=l1,
                             optimizer="prox-adam", learning_rate=family.LEARNING_RATES[0],
                             mask=mask)
    mparams = prune.apply_mask(params, mask)
    masked, stages["masked_step"], _ = _time_steps(mstep, (mparams, opt.init(mparams)),
                                                   args.masked_steps)
    print(f"4. masked retraining: {args.masked_steps} steps, {masked * 1e3:.2f} ms/step",
          flush=True)

    # 5. one-shot sweep of 101 ratios
    ratios = np.linspace(0.0, 1.0, family_run.NUM_SWEEP_RATIOS)
    start = time.perf_counter()
    jax.block_until_ready(prune.sweep(problem, ratios).test_accuracy)
    sweep_cold = time.perf_counter() - start
    start = time.perf_counter()
    jax.block_until_ready(prune.sweep(problem, ratios).test_accuracy)
    sweep_seconds = time.perf_counter() - start
    stages["sweep"] = _stage(sweep_seconds, None)
    print(f"5. one-shot sweep, 101 ratios: {sweep_seconds:.2f} s warm ({sweep_cold:.2f} s cold)",
          flush=True)

    row = {"training": ROW_TRAIN_STEPS * per_step, "premise": PREMISE_STEPS * per_step,
           "predict": predict_seconds, "sweep": sweep_cold,
           "witnesses": WITNESS_RUNS * WITNESS_STEPS * masked}
    row_flops = {"training": None if stages["train_step"]["flops"] is None
                 else ROW_TRAIN_STEPS * stages["train_step"]["flops"],
                 "witnesses": None if stages["masked_step"]["flops"] is None
                 else WITNESS_RUNS * WITNESS_STEPS * stages["masked_step"]["flops"]}
    slowest = max(row, key=row.get)

    print(f"\nD = {dim}, float32 matmul {gflops_mm:.1f} GFLOP/s")
    print(f"{'stage':18s} {'seconds':>12s} {'GFLOP':>10s} {'GFLOP/s':>9s} {'of matmul':>9s}")
    for name, st in stages.items():
        fl = "n/a" if st["flops"] is None else f"{st['flops'] / 1e9:.3f}"
        gf = "n/a" if st["gflops"] is None else f"{st['gflops']:.1f}"
        frac = "n/a" if st["gflops"] is None else f"{100 * st['gflops'] / gflops_mm:.0f} %"
        print(f"{name:18s} {st['seconds']:12.4g} {fl:>10s} {gf:>9s} {frac:>9s}")
    print("(n/a: predict and sweep are several jitted programs; no single cost analysis)")
    print(f"\nwhole row, extrapolated (training {ROW_TRAIN_STEPS} steps at most, premise "
          f"{PREMISE_STEPS} steps, predict once, sweep once cold, witnesses {WITNESS_RUNS} x "
          f"{WITNESS_STEPS} masked steps):")
    for name, sec in row.items():
        extra = "" if row_flops.get(name) is None else f", {row_flops[name] / 1e12:.2f} TFLOP"
        print(f"  {name:10s} {sec:10.1f} s ({sec / 3600:.2f} h){extra}")
    print(f"  total      {sum(row.values()):10.1f} s; slowest stage: {slowest}")
    print(json.dumps({"benchmark": "scale_pipeline", "width": width, "num_params": dim,
                      "n": s["n"], "matmul_gflops": gflops_mm,
                      "stages": {k: {"seconds": v["seconds"], "gflops": v["gflops"]}
                                 for k, v in stages.items()},
                      "stage_flops": {k: v["flops"] for k, v in stages.items()},
                      "train_steps_timed": args.train_steps,
                      "row_seconds_extrapolated": row, "row_flops_extrapolated": row_flops,
                      "slowest_stage": slowest}))


if __name__ == "__main__":
    main()
