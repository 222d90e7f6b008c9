"""Masked retraining of 51 removal ratios: one vmap vs the ratios one after the other.

    python benchmarks/bench_retrain.py [--quick] [--repeats N]

``retrain.retrain`` (full-batch masked Adam on F = L + lam ||w||_1, the attribution's step 4)
on one network at 51 removal ratios, timed after compilation with ``sequential=False`` (one
vmap over the ratios) and ``sequential=True`` (``jax.lax.map``), alternating, ``--repeats``
rounds; seconds per Adam step (all 51 ratios) and the ratio vmap / sequential, with the largest
difference of the retrained F between the two. Networks at initialisation (the cost of a step
does not depend on the weights): the mnist1d CNN (4000 training examples, 160 hidden features)
and digits CNN, digits MLP 64-16-10 and mnist1d MLP 40-32-32-10. ``--quick``: 20 steps per
call instead of 100, the two CNNs. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from phasetrans.networks import data, nets, retrain
from phasetrans.networks.problem import Problem

CASES = (("mnist1d", "cnn"), ("digits", "cnn"), ("digits", "16"), ("mnist1d", "32-32"))
RATIOS = np.linspace(0.0, 1.0, 51)


def _case(dataset_name, arch, steps, repeats):
    dataset = data.load(dataset_name)
    net = nets.parse_arch(arch, input_shape=dataset.input_shape, num_classes=dataset.num_classes)
    params = jax.tree_util.tree_map(lambda w: w[None], net.init(key=jax.random.key(0)))

    def run(sequential):
        result = retrain.retrain(Problem.from_network(net, params, dataset, l1=1e-4), RATIOS,
                                 steps=steps,
                                 sequential=sequential)
        return jax.block_until_ready(result.objective)

    objectives = {flag: run(flag) for flag in (False, True)}  # compile
    seconds = {False: [], True: []}
    for _ in range(repeats):
        for flag in (False, True):
            start = time.perf_counter()
            run(flag)
            seconds[flag].append((time.perf_counter() - start) / steps)
    vmapped, sequential = np.median(seconds[False]), np.median(seconds[True])
    ratios = np.array(seconds[False]) / np.array(seconds[True])
    difference = float(np.max(np.abs(objectives[False] - objectives[True])))
    size = sum(w.size for w in jax.tree_util.tree_leaves(params))
    print(f"{dataset_name} {net.name} ({size} parameters, {len(dataset.y_train)} examples): "
          f"vmap {vmapped * 1e3:.0f} ms/step, sequential "
          f"{sequential * 1e3:.0f} ms/step, vmap/sequential {vmapped / sequential:.2f}x (per "
          f"round {ratios.min():.2f}-{ratios.max():.2f}); max |F difference| {difference:.1e}",
          flush=True)
    return {"case": f"{dataset_name} {net.name}", "vmap_ms_per_step": vmapped * 1e3,
            "sequential_ms_per_step": sequential * 1e3, "speedup": vmapped / sequential,
            "speedup_range": [float(ratios.min()), float(ratios.max())],
            "max_objective_difference": difference}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20 steps, the two CNNs")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    steps = 20 if args.quick else 100
    cases = CASES[:2] if args.quick else CASES
    print(f"retrain.retrain, 51 removal ratios, {steps} Adam steps per call, "
          f"{args.repeats} alternating rounds (median):")
    results = [_case(name, arch, steps, args.repeats) for name, arch in cases]
    print(json.dumps({"benchmark": "retrain", "ratios": len(RATIOS), "steps": steps,
                      "cases": results}))


if __name__ == "__main__":
    main()
