"""How much slower phasetrans gets on a busy machine: alone, beside one and two busy processes.

    python benchmarks/bench_load.py [--quick] [--repeats N] [--lapack-threads default]

The pipeline is ``phasetrans explain`` on digits 64-16-10 (D = 1184), one seed, a fixed
2000-step Adam budget and a reduced attribution (``--subspaces 8 --retrain-ratios 9
--retrain-steps 500 --l1-body-samples 4``, no witness search): the decompositions of every kind
phasetrans runs (the exact spectrum's eigh, Lanczos tridiagonals, QR of random subspaces, the
l1 body's projections), each run a fresh process with the compilation cache off
(:mod:`phasetrans._compile_cache`), so import and compilation count as a user meets them on a
first run. Conditions alternate within each round: alone, beside one and beside two
CPU-bound processes this script starts (plain Python busy loops at the same priority, ended
after the run). Goal (issue: steady under load): one competitor <= 1.6x the idle time (a fair
share of 2 cores is 1.33x), two <= 2.5x. ``--lapack-threads default`` measures the library
without its one-thread LAPACK (``PHASETRANS_LAPACK_THREADS=0``, see
:mod:`phasetrans._threads`). Last line: JSON ``{"benchmark": "load", "idle_seconds",
"slowdown_one", "slowdown_two", ...}`` (medians over the rounds, and each round's values).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

import numpy as np

EXPLAIN = ["explain", "--dataset", "digits", "--arch", "16", "--seeds", "1", "--steps", "2000",
           "--optimizer", "adam", "--subspaces", "8", "--retrain-ratios", "9",
           "--retrain-steps", "500", "--l1-body-samples", "4", "--searches", "none", "--json"]
QUICK = ["predict", "--dataset", "digits", "--arch", "16", "--seeds", "1", "--steps", "500",
         "--optimizer", "adam", "--no-monte-carlo", "--further-steps", "50", "--searches", "none",
         "--json"]


@contextlib.contextmanager
def _competitors(count):
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        yield
    finally:
        for process in busy:
            process.kill()
            process.wait()


def _run(command, env) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "phasetrans", *command], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short predict, one round")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lapack-threads", choices=("one", "default"), default="one")
    args = parser.parse_args()
    command, repeats = (QUICK, 1) if args.quick else (EXPLAIN, args.repeats)
    env = {**os.environ, "PHASETRANS_COMPILE_CACHE": "0"}  # compiled afresh in every run
    if args.lapack_threads == "default":
        env["PHASETRANS_LAPACK_THREADS"] = "0"
    load_before = os.getloadavg()[0]
    seconds = {0: [], 1: [], 2: []}
    for round_ in range(repeats):
        for count in seconds:
            with _competitors(count):
                seconds[count].append(_run(command, env))
            print(f"round {round_ + 1}: {count} competing: {seconds[count][-1]:.1f} s",
                  file=sys.stderr, flush=True)
    idle = float(np.median(seconds[0]))
    per_round = {n: [s / i for s, i in zip(seconds[n], seconds[0], strict=True)] for n in (1, 2)}
    print(json.dumps({
        "benchmark": "load", "pipeline": " ".join(["phasetrans", *command]),
        "lapack_threads": args.lapack_threads, "load_average_before": load_before,
        "idle_seconds": idle,
        "slowdown_one": float(np.median(seconds[1])) / idle,
        "slowdown_two": float(np.median(seconds[2])) / idle,
        "slowdown_one_per_round": per_round[1], "slowdown_two_per_round": per_round[2],
        "seconds": seconds}))


if __name__ == "__main__":
    main()
