"""What the persistent compilation cache saves a command-line user: the same command with the
cache off, with an empty cache (the run that fills it) and with the filled cache.

    python benchmarks/bench_compile_cache.py [--quick] [--repeats N]

The command is ``phasetrans explain --dataset digits --arch 16`` with its full defaults (3
seeds, D = 1184; issue: ``explain`` in <= 3 min), each run a fresh process. Per round, in this
order: cache off (``PHASETRANS_COMPILE_CACHE=0``), empty (a new temporary
``PHASETRANS_CACHE_DIR``), filled (the same directory again); see
:mod:`phasetrans._compile_cache`. ``--quick``: a short ``predict``, one round. Last line: JSON
``{"benchmark": "compile_cache", "off_seconds", "empty_seconds", "filled_seconds",
"speedup_filled", ...}`` (medians over the rounds; ``speedup_filled`` = off / filled; each
round's seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

from benchmarks.bench_load import QUICK  # noqa: E402  (the same short predict)

EXPLAIN = ["explain", "--dataset", "digits", "--arch", "16", "--json"]


def _run(command, env) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "phasetrans", *command], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short predict, one round")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    command, repeats = (QUICK, 1) if args.quick else (EXPLAIN, args.repeats)
    base = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    load_before = os.getloadavg()[0]
    seconds = {"off": [], "empty": [], "filled": []}
    for round_ in range(repeats):
        with tempfile.TemporaryDirectory() as cache:
            cached = {**base, "PHASETRANS_COMPILE_CACHE": "1", "PHASETRANS_CACHE_DIR": cache}
            for name, env in (("off", {**base, "PHASETRANS_COMPILE_CACHE": "0"}),
                              ("empty", cached), ("filled", cached)):
                seconds[name].append(_run(command, env))
                print(f"round {round_ + 1}: cache {name}: {seconds[name][-1]:.1f} s",
                      file=sys.stderr, flush=True)
    median = {name: float(np.median(values)) for name, values in seconds.items()}
    print(json.dumps({
        "benchmark": "compile_cache", "command": " ".join(["phasetrans", *command]),
        "load_average_before": load_before, "load_average_after": os.getloadavg()[0],
        **{f"{name}_seconds": value for name, value in median.items()},
        "speedup_filled": median["off"] / median["filled"],
        "speedup_filled_per_round": [o / f for o, f in zip(seconds["off"], seconds["filled"],
                                                           strict=True)],
        "seconds": seconds}))


if __name__ == "__main__":
    main()
