"""Vmapped ratio x seed pruning sweep vs a Python loop over pruned models (the official code's way).

    python benchmarks/bench_sweep.py [--quick]

Both evaluate test accuracy/loss and train accuracy/loss of every (seed, removal ratio) pair of
global-magnitude-pruned digits MLPs (64-32-32-10). The loop builds each mask and evaluates one
model at a time with jitted functions (compiled once, warm); the sweep is one jitted vmap.
Times are after compilation. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np

from phasetrans import data, nets, prune, train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20 ratios x 4 seeds")
    args = parser.parse_args()
    num_ratios, num_seeds = (20, 4) if args.quick else (100, 8)
    ds = data.load("digits")
    net = nets.mlp([64, 32, 32, 10])
    params = train.train_seeds(net, ds, keys=jax.random.split(jax.random.key(0), num_seeds),
                               steps=300).params
    grid = np.linspace(0, 1, num_ratios)

    def run_sweep():
        out = prune.sweep(net, params, ds, grid)
        jax.block_until_ready(out.test_accuracy)
        return out

    reference = run_sweep()  # compile
    start = time.perf_counter()
    run_sweep()
    seconds = time.perf_counter() - start

    loss_fn = jax.jit(nets.cross_entropy(net.apply))
    acc_fn = jax.jit(lambda p, x, y: nets.accuracy(net.apply, p, x, y))
    mask_fn = jax.jit(prune.global_magnitude)

    def loop():
        acc = np.zeros((num_seeds, num_ratios))
        for s in range(num_seeds):
            seed_params = jax.tree_util.tree_map(lambda w, s=s: w[s], params)
            for j, p in enumerate(grid):
                pruned = prune.apply_mask(seed_params, mask_fn(seed_params, p))
                acc[s, j] = float(acc_fn(pruned, ds.x_test, ds.y_test))
                float(loss_fn(pruned, (ds.x_test, ds.y_test)))
                float(acc_fn(pruned, ds.x_train, ds.y_train))
                float(loss_fn(pruned, (ds.x_train, ds.y_train)))
        return acc

    loop_acc = loop()  # compile
    start = time.perf_counter()
    loop()
    loop_seconds = time.perf_counter() - start
    agree = np.allclose(loop_acc, np.asarray(reference.test_accuracy), atol=1e-6)
    print(f"{num_ratios} ratios x {num_seeds} seeds: vmapped sweep {seconds:.3f} s, "
          f"Python loop {loop_seconds:.3f} s, speed-up {loop_seconds / seconds:.1f}x, "
          f"same accuracies: {agree}")
    print(json.dumps({"benchmark": "sweep", "ratios": num_ratios, "seeds": num_seeds,
                      "seconds": seconds, "loop_seconds": loop_seconds,
                      "speedup": loop_seconds / seconds}))


if __name__ == "__main__":
    main()
