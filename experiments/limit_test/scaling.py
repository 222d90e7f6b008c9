"""The paper's weight-magnitude claim, tested: scale the trained weights by c = 1 ... 5 and
follow the predicted and the measured thresholds.

    python -m experiments.limit_test.scaling [--quick] [--scales 5]
    # -> results/limit_test/scaling.json (rows of the other scales already there are kept)

[ZZSL sec. 4] names weight magnitude as a key factor of the threshold (through R(p): larger |w|
means a larger pruned-away norm). Here every prunable leaf of the trained networks (digits
64-16-10, lambda = 1e-4, 3 seeds, trained to stationarity) is multiplied by c (biases kept), and
each scaled network is assessed like any other: eps re-measured, Hessian spectrum, width formula
and the ellipsoid's Monte Carlo delta, one-shot pruning at 101 ratios, the premise check (a
scaled network is not a minimum of F: the report says so) and the limit test's masked
retraining. The claim holds if the predicted and the measured thresholds move together.
"""

from __future__ import annotations

import argparse
import time

import jax

from experiments import _output
from phasetrans import _io
from phasetrans.applications import compare, limit, report
from phasetrans.networks import train
from phasetrans.theory import predict

SCALES = (1.0, 2.0, 3.0, 4.0, 5.0)
OPTIONS = predict.PredictOptions(l1_body_options=predict.L1BodyOptions(max_dim=0))


def scaled(problem, factor: float):
    """``problem`` with every prunable leaf multiplied by ``factor``."""
    params = jax.tree_util.tree_map(lambda w, p: w * factor if p else w, problem.params,
                                    problem.prunable)
    return problem.replace(params=params, metadata={**problem.metadata, "scale": factor})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one seed, scales 1 and 3")
    parser.add_argument("--scales", type=float, nargs="+", default=None,
                        help=f"the scales c to compute (default {' '.join(map(str, SCALES))})")
    args = parser.parse_args()
    seeds, scales = (1, (1.0, 3.0)) if args.quick else (3, SCALES)
    if args.scales is not None:
        if min(args.scales) <= 0:
            parser.error(f"--scales must be positive, got {args.scales}")
        scales = tuple(args.scales)
    out = _output.directory("limit_test", quick=args.quick)
    problem = train.train_problem("digits", arch="16", l1=1e-4, num_seeds=seeds)
    rows = [r for r in _output.read_rows(out / "scaling.json") if r["scale"] not in scales]
    for factor in scales:
        start = time.perf_counter()
        comparison = compare.assess(scaled(problem, factor), key=jax.random.key(0),
                                    options=OPTIONS, progress=True)
        row = report.comparison_json(comparison)
        row["scale"] = factor
        row["limit"] = limit.limit_json(limit.limit_test(comparison, key=jax.random.key(0),
                                                         progress=True))
        row["seconds"] = time.perf_counter() - start
        rows = sorted([*rows, row], key=lambda r: r["scale"])
        print(f"scale {factor:g}: predicted {row['predicted_removal_ratio']:.3f}, one-shot "
              f"{row['empirical_removal_ratio']['accuracy']:.3f}, best witness "
              f"{row['limit']['best_witness_ratio']}, premise "
              f"{row['stationarity']['is_minimum']}", flush=True)
        _io.write_json(out / "scaling.json", rows)


if __name__ == "__main__":
    main()
