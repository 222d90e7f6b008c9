"""Vmapped ratio x seed pruning sweep vs a Python loop over pruned models (the official code's way).

    python benchmarks/bench_sweep.py [--quick]

Both evaluate test accuracy/loss and train accuracy/loss of every (seed, removal ratio) pair of
global-magnitude-pruned digits MLPs (64-32-32-10). The loop builds each mask and evaluates one
model at a time, as the official code does: eagerly (op by op, like PyTorch's eager mode:
``loop_seconds``), and, as a stricter baseline, with warm jitted functions
(``jitted_loop_seconds``). The sweep is one jitted vmap. Times are after compilation. Last
line: JSON.
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

    def loop(jit: bool):
        wrap = jax.jit if jit else (lambda f: f)
        loss_fn = wrap(nets.cross_entropy(net.apply))
        acc_fn = wrap(lambda p, x, y: nets.accuracy(net.apply, p, x, y))
        mask_fn = wrap(prune.global_magnitude)
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

    def timed(fn):
        start = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - start

    loop(jit=True)  # compile
    jit_acc, jit_seconds = timed(lambda: loop(jit=True))
    eager_acc, loop_seconds = timed(lambda: loop(jit=False))
    agree = all(np.allclose(a, np.asarray(reference.test_accuracy), atol=1e-6)
                for a in (jit_acc, eager_acc))
    print(f"{num_ratios} ratios x {num_seeds} seeds: vmapped sweep {seconds:.3f} s; eager "
          f"Python loop (the official code's way) {loop_seconds:.3f} s = "
          f"{loop_seconds / seconds:.1f}x; loop of warm jitted calls {jit_seconds:.3f} s = "
          f"{jit_seconds / seconds:.1f}x; same accuracies: {agree}")
    print(json.dumps({"benchmark": "sweep", "ratios": num_ratios, "seeds": num_seeds,
                      "seconds": seconds, "loop_seconds": loop_seconds,
                      "speedup": loop_seconds / seconds, "jitted_loop_seconds": jit_seconds,
                      "jitted_loop_speedup": jit_seconds / seconds}))


if __name__ == "__main__":
    main()
