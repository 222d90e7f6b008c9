"""Random-subspace transition through 9 pruned points: shared subspaces vs one transition each.

    python benchmarks/bench_subspaces.py [--quick] [--repeats N]

The attribution's step 2 (``phasetrans.applications.attribution``): for 9 removal ratios p around
the prediction, the fraction of 24 Haar subspaces of dimension k = (1 - p) D through the pruned
point x_p that meet the ellipsoid. ``subspaces.transitions`` sends every x_p through the same
subspaces, so one QR per subspace serves all 9 apexes; the baseline calls ``subspaces.transition``
once per apex (what the attribution did before: a QR per subspace and apex). Both jitted and warm,
timed side by side in one run, ``--repeats`` times. The ellipsoid has a trained-network-like
spectrum (semi-axes sqrt(2 eps / lambda) over six decades) and the apexes are global magnitude
prunings of a Laplace w*. Full: D = 3392 (the demo's 64-32-32-10);
``--quick``: D = 1184. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans.geometry import bodies, subspaces


def _problem(dim: int, num_ratios: int = 9, seed: int = 0):
    rng = np.random.default_rng(seed)
    eigenvalues = 10 ** rng.uniform(-6, 0, dim)
    semi_axes = np.sqrt(2 * 1e-3 / eigenvalues)
    center = rng.laplace(scale=0.05, size=dim)
    order = np.argsort(np.abs(center), kind="stable")
    ratios = np.linspace(0.45, 0.95, num_ratios)
    apexes = np.stack([np.where(np.isin(np.arange(dim), order[:int(p * dim)]), 0.0, center)
                       for p in ratios])
    kept = np.unique(dim - np.floor(ratios * dim).astype(int))
    body = bodies.Ellipsoid.create(jnp.asarray(semi_axes, jnp.float32),
                                   jnp.asarray(center, jnp.float32))
    return body, jnp.asarray(apexes, jnp.float32), kept


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="D = 1184 instead of 3392")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    dim = 1184 if args.quick else 3392
    body, apexes, kept = _problem(dim)
    key = jax.random.key(0)
    options = {"key": key, "dims": kept, "num_subspaces": 24}

    def shared():
        return subspaces.transitions(body, apexes, **options)

    def separate():
        return [subspaces.transition(body, apex, **options) for apex in apexes]

    shared(), separate()  # compile
    ours, base = [], []
    for _ in range(args.repeats):
        result, seconds = _timed(shared)
        ours.append(seconds)
        reference, seconds = _timed(separate)
        base.append(seconds)
    same = all(np.array_equal(a.fraction.mean, b.fraction.mean)
               for a, b in zip(result, reference, strict=True))
    ratios = [b / o for o, b in zip(ours, base, strict=True)]
    print(f"D={dim}, {len(apexes)} apexes x 24 subspaces, k_max = {kept[-1]}:")
    print(f"  shared subspaces (transitions): {', '.join(f'{s:.2f}' for s in ours)} s; one "
          f"transition per apex: {', '.join(f'{s:.2f}' for s in base)} s; speed-up "
          f"{', '.join(f'{r:.1f}' for r in ratios)}x; same fractions: {same}")
    print(json.dumps({"benchmark": "subspaces", "dim": dim, "apexes": len(apexes),
                      "num_subspaces": 24, "seconds": ours, "baseline_seconds": base,
                      "speedup": ratios, "same_fractions": same}))


if __name__ == "__main__":
    main()
