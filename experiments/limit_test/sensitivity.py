"""How reproducible is a trained network? Train twice from initialisations one float32 ulp apart.

    python -m experiments.limit_test.sensitivity [--configs mnist1d:16:1e-5 ...]
    # -> results/limit_test/sensitivity.json

Per configuration (dataset, hidden widths, lambda; seed 0): initialise the network, then make a
copy whose first weight matrix has every entry moved to the next float32 (one ulp, a relative
change of at most 1.2e-7; one entry alone can be erased: digits' corner pixels are always 0, so
their weights only feel the l1 term), and train both with the built-in trainer's defaults (proximal
Adam at 3e-3, full batch, until the default ``StopRule`` holds, at most 50 000 steps:
:func:`phasetrans.networks.train.minimise`). Recorded: F, test accuracy and steps of each, and
the relative distance ||a - b|| / ||a|| between the two trained parameter vectors.

Why: rerunning the limit test's mnist1d configurations did not give back the earlier networks
(F(w*) up to 5 % apart), while one training run repeated in one process or across processes
is bitwise identical. A training that ends at the step cap without meeting its stop rule is
only reproducible as long as every floating-point operation is: a one-ulp change shows what a
code change that rounds one operation differently (another fused or compiled program) does
to it. A training that stops at a minimum should give the same network back.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax
import jax.numpy as jnp

from phasetrans import _interrupt, _io
from phasetrans.networks import data, nets, stationarity, train

CONFIGS = ("mnist1d:16:1e-5", "mnist1d:16:5e-4", "digits:16:1e-4")
OUT = pathlib.Path("results/limit_test/sensitivity.json")
MODULE = "experiments.limit_test.sensitivity"


def one_ulp_apart(params):
    """``params`` with every entry of its first leaf of rank >= 2 moved to the next float32
    (towards +inf)."""
    leaves, treedef = jax.tree_util.tree_flatten(params)
    index = next(i for i, leaf in enumerate(leaves) if leaf.ndim >= 2)
    leaves[index] = jnp.nextafter(leaves[index], jnp.inf)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def relative_distance(a, b) -> float:
    """||a - b|| / ||a|| over every leaf."""
    return float(stationarity.norm(jax.tree_util.tree_map(jnp.subtract, a, b))
                 / stationarity.norm(a))


def compute(dataset: str, arch: str, l1: float, seed: int = 0) -> dict:
    """Train the configuration from an initialisation and from its one-ulp neighbour."""
    ds = data.load(dataset, seed=seed)
    net = nets.parse_arch(arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
    start = net.init(key=jax.random.key(seed))
    loss = nets.cross_entropy(net.apply)
    objective = jax.jit(train.objective(loss, l1, train.default_prunable(start)))
    runs, trained = [], []
    for params in (start, one_ulp_apart(start)):
        t = time.perf_counter()
        result = train.minimise(loss, params, (ds.x_train, ds.y_train), l1=l1)
        accuracy = nets.accuracy(net.apply, result.params, ds.x_test, ds.y_test)
        runs.append({"objective": float(objective(result.params, (ds.x_train, ds.y_train))),
                     "test_accuracy": float(accuracy), "steps": int(result.steps),
                     "converged": bool(result.converged),
                     "seconds": time.perf_counter() - t})
        trained.append(result.params)
    f = [r["objective"] for r in runs]
    return {"dataset": dataset, "arch": net.name, "l1": l1, "seed": seed, "runs": runs,
            "objective_relative_difference": abs(f[1] - f[0]) / f[0],
            "relative_distance": relative_distance(*trained),
            "command": f"python -m {MODULE} --configs {dataset}:{arch}:{l1:g}"}


def parse_config(text: str) -> tuple[str, str, float]:
    """``"dataset:widths:lambda"`` -> (dataset, widths, lambda)."""
    parts = text.split(":")
    if len(parts) != 3:
        raise argparse.ArgumentTypeError(f"a configuration is dataset:widths:lambda, e.g. "
                                         f"mnist1d:16:1e-5, got {text!r}")
    return parts[0], parts[1], float(parts[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", type=parse_config,
                        default=[parse_config(c) for c in CONFIGS],
                        help=f"dataset:widths:lambda each (default: {' '.join(CONFIGS)})")
    args = parser.parse_args()
    rows = _io.read_json(OUT) if OUT.exists() else []
    for config in args.configs:
        row = compute(*config)
        print(row, flush=True)
        rows = [r for r in rows if r["command"] != row["command"]] + [row]
        _io.write_json(OUT, rows)


if __name__ == "__main__":
    _interrupt.exit_on_interrupt(MODULE)
    main()
