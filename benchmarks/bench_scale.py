"""Monte Carlo samples per second on 1, 2 and 4 devices (strong and weak scaling).

    python benchmarks/bench_scale.py [--quick]

The statistical dimension of the l1 descent cone at d = 10 000 (as in bench_width.py: Newton
projections, ~210 samples per memory-sized chunk) through ``width.statistical_dimension(...,
devices=N)``. Each device count runs in its own process with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (host-platform CPU devices; the flag must
be set before JAX starts). Strong scaling: a fixed number of samples (48 chunks; --quick: 12);
weak scaling: a fixed number per device (12 chunks each; --quick: 3). Times are after
compilation, 3 repeats: median and (min, max). Host devices share the machine's cores, so the
speedup is at most the number of idle cores (2 here, fewer while other jobs run: the 1-minute
load average before and after is reported). Every run must give the same estimate bit for bit
(``identical``). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

COUNTS = (1, 2, 4)
DIM = 10_000
REPEATS = 3


def _worker(devices: int, samples: list[int]) -> dict:
    import jax

    from phasetrans.geometry import bodies, width

    x0 = np.zeros(DIM)
    x0[:DIM // 10] = 1.0
    cone = bodies.L1DescentCone.create(x0)
    out = {}
    for num in samples:
        def run(num=num):
            return width.statistical_dimension(cone, key=jax.random.key(0), num_samples=num,
                                               devices=devices).estimate

        run()  # compile
        seconds = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            est = run()
            seconds.append(time.perf_counter() - start)
        out[num] = {"seconds": seconds, "estimate": est.mean, "sem": est.sem}
    return out


def _measure(devices: int, samples: list[int]) -> dict:
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    done = subprocess.run([sys.executable, __file__, "--worker", str(devices),
                           *map(str, samples)], env=env, capture_output=True, text=True,
                          check=True)
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="12 chunks strong, 3 per device "
                        "weak")
    parser.add_argument("--worker", type=int, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker[0], args.worker[1:])))
        return
    from phasetrans import sampling

    chunk = sampling.CHUNK_ELEMENTS // DIM
    strong = (12 if args.quick else 48) * chunk
    per_device = (3 if args.quick else 12) * chunk
    load = os.getloadavg()[0]
    runs = {n: _measure(n, sorted({strong, per_device * n})) for n in COUNTS}
    load = [load, os.getloadavg()[0]]  # 1-minute load average before and after: other jobs

    def rates(samples_of):
        rows = [np.asarray(samples_of(n)) / np.asarray(runs[n][samples_of(n)]["seconds"])
                for n in COUNTS]
        return ([float(np.median(r)) for r in rows],
                [[float(r.min()), float(r.max())] for r in rows])

    strong_rate, strong_spread = rates(lambda n: strong)
    weak_rate, weak_spread = rates(lambda n: per_device * n)
    identical = len({(runs[n][strong]["estimate"], runs[n][strong]["sem"])
                     for n in COUNTS}) == 1
    for n, rate, (low, high), w in zip(COUNTS, strong_rate, strong_spread, weak_rate,
                                       strict=True):
        print(f"{n} device(s): {strong} samples at {rate:.0f} samples/s (min {low:.0f}, max "
              f"{high:.0f}; {rate / strong_rate[0]:.2f}x); weak, {per_device} per device: "
              f"{w:.0f} samples/s ({w / weak_rate[0]:.2f}x)")
    print(f"d = {DIM}, {os.cpu_count()} cores, load average {load[0]:.1f} before, {load[1]:.1f} "
          f"after; same estimate on every device count: {identical}")
    print(json.dumps({"benchmark": "scale", "devices": list(COUNTS),
                      "samples_per_second": strong_rate, "spread": strong_spread,
                      "speedup": [r / strong_rate[0] for r in strong_rate],
                      "weak_samples_per_second": weak_rate, "weak_spread": weak_spread,
                      "weak_speedup": [r / weak_rate[0] for r in weak_rate],
                      "samples": strong, "samples_per_device": per_device, "dim": DIM,
                      "repeats": REPEATS, "cores": os.cpu_count(), "load_average": load,
                      "identical": identical}))


if __name__ == "__main__":
    main()
