"""Statistical dimension of the l1 descent cone: JAX (jit + vmap) vs a NumPy/SciPy loop.

    python benchmarks/bench_width.py [--quick]

Full: d = 10 000, 10 000 samples (goal <= 2 s after compilation on 2 cores). The baseline
projects one sample at a time (scipy.optimize.minimize_scalar on the same convex 1-D problem)
and is timed on a subsample, then extrapolated (printed as such). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import numpy as np
from scipy import optimize

from phasetrans.geometry import bodies, closed_forms, width


def _baseline_sample(g, signs):
    on = signs != 0

    def dist2(tau):
        return (np.sum((g[on] - tau * signs[on]) ** 2)
                + np.sum(np.maximum(np.abs(g[~on]) - tau, 0.0) ** 2))

    hi = np.abs(g).sum() + np.abs(g).max()
    return optimize.minimize_scalar(dist2, bounds=(0.0, hi), method="bounded").fun


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="d = 1000, 2000 samples")
    args = parser.parse_args()
    dim, samples = (1000, 2000) if args.quick else (10_000, 10_000)
    sparsity = dim // 10
    x0 = np.zeros(dim)
    x0[:sparsity] = 1.0
    cone = bodies.L1DescentCone.create(x0)
    kw = dict(key=jax.random.key(0), num_samples=samples)  # default, memory-sized chunks
    width.statistical_dimension(cone, **kw)  # compile
    start = time.perf_counter()
    est = width.statistical_dimension(cone, **kw).estimate
    seconds = time.perf_counter() - start

    subsample = 200
    rng = np.random.default_rng(0)
    signs = np.sign(x0)
    start = time.perf_counter()
    base = [_baseline_sample(rng.normal(size=dim), signs) for _ in range(subsample)]
    baseline_seconds = (time.perf_counter() - start) * samples / subsample
    psi = closed_forms.l1_descent_cone_statdim(sparsity=sparsity, dim=dim)
    print(f"d={dim}, {samples} samples: JAX {seconds:.2f} s (delta = {est.mean:.1f} ± "
          f"{est.sem:.1f}, psi = {psi:.1f}); NumPy/SciPy loop {baseline_seconds:.1f} s "
          f"(extrapolated from {subsample} samples, mean {np.mean(base):.1f}); "
          f"speed-up {baseline_seconds / seconds:.0f}x")
    print(json.dumps({"benchmark": "width", "dim": dim, "samples": samples, "seconds": seconds,
                      "baseline_seconds": baseline_seconds,
                      "speedup": baseline_seconds / seconds}))


if __name__ == "__main__":
    main()
