"""Effective removal ratios of many masks: one jitted vmap vs a loop of warm jitted calls.

    python benchmarks/bench_effective.py [--quick]

Effective sparsity [Vysogorets & Kempe 2023, sec. 3] of random masks of the digits MLP
64-32-32-10 (D = 3392) at 250 removal ratios in [0, 1] x 4 seeds = 1000 masks (``--quick``:
50 x 4 = 200): ``effective.effective_removal_ratio`` vmapped over all masks in one jitted call
(``seconds``) vs a Python loop calling the same function, jitted for one mask, on each mask
(``loop_seconds``; the masks are on the device beforehand). Times are after compilation; each
is the median of 3 runs, ``*_spread`` is their max - min. Both must give the same ratios. Last
line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import effective, nets, prune

REPEATS = 3


def _timed(fn):
    """(last output, median seconds, max - min seconds) of ``REPEATS`` calls of ``fn()``."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times)), float(np.ptp(times))


def effective_sparsity(quick: bool) -> dict:
    """Time the effective removal ratios of random MLP masks, batched and looped."""
    num_ratios, num_seeds = (50, 4) if quick else (250, 4)
    params = nets.mlp([64, 32, 32, 10]).init(key=jax.random.key(0))
    per_seed = jax.vmap(lambda p, k: prune.random_mask(params, p, key=k), (0, None))
    masks = jax.jit(jax.vmap(per_seed, (None, 0)))(
        jnp.linspace(0, 1, num_ratios), jax.random.split(jax.random.key(1), num_seeds))
    masks = jax.tree_util.tree_map(lambda m: m.reshape(-1, *m.shape[2:]), masks)
    count = num_ratios * num_seeds
    host = jax.tree_util.tree_map(np.asarray, masks)
    singles = [jax.device_put(jax.tree_util.tree_map(lambda m, i=i: m[i], host))
               for i in range(count)]

    batched = jax.jit(jax.vmap(effective.effective_removal_ratio, (None, 0)))
    single = jax.jit(effective.effective_removal_ratio)
    jax.block_until_ready((batched(params, masks), single(params, singles[0])))  # compile
    ratios, seconds, spread = _timed(lambda: jax.block_until_ready(batched(params, masks)))
    looped, loop_seconds, loop_spread = _timed(
        lambda: jax.block_until_ready([single(params, m) for m in singles]))
    same = bool(np.array_equal(np.asarray(ratios), np.asarray(looped)))
    direct = np.asarray(jax.jit(jax.vmap(effective.removal_ratio, (None, 0)))(params, masks))
    gap = float(np.max(np.asarray(ratios) - direct))
    print(f"{count} masks ({num_ratios} ratios x {num_seeds} seeds, D = "
          f"{prune.num_prunable(params)}): one jitted vmap {seconds * 1e3:.2f} ms "
          f"(spread {spread * 1e3:.2f}); loop of warm jitted calls {loop_seconds * 1e3:.1f} ms "
          f"(spread {loop_spread * 1e3:.1f}) = {loop_seconds / seconds:.1f}x; same ratios: "
          f"{same}; largest effective - direct gap {gap:.3f}")
    return {"masks": count, "seconds": seconds, "seconds_spread": spread,
            "loop_seconds": loop_seconds, "loop_seconds_spread": loop_spread,
            "speedup": loop_seconds / seconds, "same_ratios": same,
            "max_effective_minus_direct": gap}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="50 ratios x 4 seeds (200 masks)")
    args = parser.parse_args()
    figures = {"benchmark": "effective_sparsity"}
    figures.update(effective_sparsity(args.quick))  # each further section adds its figures
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
