"""The witness searches' cost, and masked retraining against a plain optax loop.

    python benchmarks/bench_limits.py [--quick] [--repeats N]

Part 1: every search of :mod:`phasetrans.networks.witnesses` (``retrain``, ``imp``,
``gradual``, ``model``; default :class:`SearchOptions`) on digits 64-16-10 with 3 seeds, trained
by ``train_problem`` to the default stop rule (eps from ``assess``, formula only); wall time per
search (compilation included, as a user meets it), the fair reference and the model's ranking,
and their total (goal: <= 3 min on 2 cores).

Part 2: one masked retraining (F = L + lam ||w||_1 over the support of p = 0.8, 10 000 steps (a
search's cap per retraining), full batch; ``train.minimise(mask=...)`` with Adam (the
searches' inner loop) against a plain optax loop over the same masked objective written
directly (``optax.adam`` on the masked subgradient in one ``lax.scan``): the same algorithm,
so the ratio is the wrappers' overhead (the searches use proximal Adam, one soft-threshold more
per step). Both jitted and compiled before timing, alternating, ``--repeats`` rounds: steps/s
of each and the ratio ours / plain (goal: >= 1, no overhead from the wrappers).
``--quick``: one seed, 1000 steps; ``--retraining-only``: part 2 alone. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
import optax

from phasetrans.applications import compare, limit
from phasetrans.networks import prune, train, witnesses
from phasetrans.theory import predict


def _searches(problem):
    comparison = compare.assess(problem, key=jax.random.key(0), options=predict.PredictOptions(
        ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
        l1_body_options=predict.L1BodyOptions(max_dim=0)))
    epsilon = [p.noise.epsilon.mean for p in comparison.predictions]
    ref_start = time.perf_counter()
    ref = witnesses.reference(problem, epsilon=epsilon)
    out = {"reference": time.perf_counter() - ref_start}
    init = train.initial_params(problem)
    start = time.perf_counter()
    scores = limit.model_scores(comparison)
    out["model_scores"] = time.perf_counter() - start
    for name in witnesses.SEARCHES:
        start = time.perf_counter()
        result = witnesses.search(problem, name, ref=ref, init=init, scores=scores)
        out[name] = time.perf_counter() - start
        print(f"  {name:<8} {out[name]:6.1f} s, witness ratio (F criterion) per seed "
              f"{np.round(result.witness_ratio[:, 0], 3).tolist()}, "
              f"{100 * result.converged_fraction:.0f} % of runs converged", flush=True)
    return out


def _plain_loop(loss_fn, l1, prunable, mask, steps):
    tx = optax.adam(3e-3)
    f = train.objective(loss_fn, l1, prunable)

    @jax.jit
    def run(params, batch):
        def step(carry, _):
            x, state = carry
            grads = prune.apply_mask(jax.grad(f)(x, batch), mask)
            updates, state = tx.update(grads, state, x)
            return (prune.apply_mask(optax.apply_updates(x, updates), mask), state), None

        (x, _), _ = jax.lax.scan(step, (params, tx.init(params)), None, length=steps)
        return x

    return run


def _steps_per_second(problem, steps, repeats):
    params = problem.seed(0)
    mask = prune.global_magnitude(params, 0.8, problem.prunable)
    start = prune.apply_mask(params, mask)
    batch = problem.train

    def ours():
        return train.minimise(problem.model.loss, start, batch, l1=problem.l1,
                              prunable=problem.prunable, mask=mask,
                              training=train.TrainingOptions(steps=steps,
                                                             optimizer="adam")).params

    plain_run = _plain_loop(problem.model.loss, problem.l1, problem.prunable, mask, steps)

    def plain():
        return plain_run(start, batch)

    timings = {"ours": [], "plain": []}
    for fn in (ours, plain):
        jax.block_until_ready(fn())  # compile
    for _ in range(repeats):
        for name, fn in (("ours", ours), ("plain", plain)):
            begin = time.perf_counter()
            jax.block_until_ready(fn())
            timings[name].append(steps / (time.perf_counter() - begin))
    ratios = np.array(timings["ours"]) / np.array(timings["plain"])
    return {name: float(np.median(v)) for name, v in timings.items()} | {
        "ratio": float(np.median(ratios)), "ratio_range": [float(ratios.min()),
                                                           float(ratios.max())]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--retraining-only", action="store_true")
    args = parser.parse_args()
    seeds, steps = (1, 1000) if args.quick else (3, witnesses.SearchOptions().stop.max_steps)
    problem = train.train_problem("digits", arch="16", l1=1e-4, num_seeds=seeds)
    searches, total = {}, None
    if not args.retraining_only:
        print(f"digits mlp-64-16-10, {seeds} seed(s), trained to the default stop rule; "
              "witness searches with the default SearchOptions:", flush=True)
        searches = _searches(problem)
        total = sum(searches.values())
        print(f"  total {total:.0f} s (reference {searches['reference']:.0f} s)", flush=True)
    speed = _steps_per_second(problem, steps, args.repeats)
    print(f"masked retraining, {steps} full-batch steps: ours {speed['ours']:.0f} steps/s, "
          f"plain optax loop {speed['plain']:.0f} steps/s, ours/plain {speed['ratio']:.2f}x "
          f"(per round {speed['ratio_range'][0]:.2f}-{speed['ratio_range'][1]:.2f})", flush=True)
    print(json.dumps({"seeds": seeds, "search_seconds": searches, "total_seconds": total,
                      "masked_retraining": speed, "steps": steps}))


if __name__ == "__main__":
    main()
