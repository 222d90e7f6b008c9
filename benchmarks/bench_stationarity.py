"""Which optimiser reaches a stationary point of F = L + lam ||w||_1 with the fewest passes?

    python benchmarks/bench_stationarity.py [--quick]

Trains each network (one seed, lam = 1e-4, full batch) with each optimiser of
``train.OPTIMIZERS`` until the default ``StopRule`` holds (at most 50 000 steps) and reports
the steps (full-batch gradient passes; the rule adds one subgradient pass per 500 steps), whether
the rule was met, F, the relative minimum-norm subgradient, the fraction of exact zeros, and the
premise check (``train.check_stationarity``: decrease of F under 2000 further proximal-Adam
steps, in units of eps = 1e-4 nats, a round figure near the measured mini-batch spreads).
Learning rates: 3e-3 for proximal Adam and Adam (the trainer's default), 0.1 for SGD. Seconds
are reported but are not the claim (run it alone for them). ``--quick``: digits 64-16-10 only.
Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from phasetrans.networks import data, nets, train

CASES = (("digits", "16"), ("digits", "32-32"), ("mnist1d", "16"))
LEARNING_RATES = {"prox-adam": 3e-3, "adam": 3e-3, "sgd": 0.1}
L1, EPSILON = 1e-4, 1e-4


def _case(dataset_name, arch, optimizer):
    ds = data.load(dataset_name)
    net = nets.parse_arch(arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
    start = time.perf_counter()
    result = jax.block_until_ready(train.train(net, ds, key=jax.random.key(0), l1=L1,
                                               optimizer=optimizer,
                                               learning_rate=LEARNING_RATES[optimizer]))
    seconds = time.perf_counter() - start
    check = train.check_stationarity(nets.cross_entropy(net.apply), result.params,
                                     (ds.x_train, ds.y_train), l1=L1, epsilon=EPSILON)
    row = {"case": f"{dataset_name} {net.name}", "optimizer": optimizer,
           "steps": int(result.steps), "converged": bool(result.converged),
           "objective": check.objective, "relative_subgradient": check.relative_subgradient,
           "zero_fraction": check.zero_fraction,
           "decrease_in_epsilon": check.decrease_in_epsilon, "seconds": seconds}
    print(f"{row['case']:<24} {optimizer:<9} steps {row['steps']:>6} "
          f"{'met' if row['converged'] else 'CAP'}  F {row['objective']:.5f}  "
          f"subgradient {row['relative_subgradient']:.3f}  zeros {row['zero_fraction']:.2f}  "
          f"further decrease {row['decrease_in_epsilon']:.2f} eps  ({seconds:.0f} s)",
          flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="digits 64-16-10 only")
    args = parser.parse_args()
    cases = CASES[:1] if args.quick else CASES
    rows = [_case(d, a, o) for d, a in cases for o in train.OPTIMIZERS]
    best = {}
    for row in rows:
        if row["converged"] and (row["case"] not in best
                                 or row["steps"] < best[row["case"]]["steps"]):
            best[row["case"]] = row
    print(json.dumps({"benchmark": "stationarity", "rows": rows,
                      "fewest_steps": {c: r["optimizer"] for c, r in best.items()},
                      "max_abs_objective_spread": float(np.ptp([r["objective"] for r in rows]))}))


if __name__ == "__main__":
    main()
