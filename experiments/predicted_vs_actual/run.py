"""Predicted vs empirical removal thresholds over architectures x datasets x l1 strengths.

    python -m experiments.predicted_vs_actual.run [--quick]   # -> results/predicted_vs_actual/
    python -m experiments.predicted_vs_actual.plot            # -> figures/*.png

Each configuration trains ``--seeds`` networks (one vmapped call) to a stationary point of F
(``--training budget_2000``: the fixed 2000-step Adam budget of the earlier results, into
``results/predicted_vs_actual/budget_2000/``), predicts with the exact Hessian spectrum
(eigenvalue treatment "abs", as the paper) and prunes at 101 ratios.
"""

from __future__ import annotations

import argparse
import itertools

from experiments import _output
from phasetrans import _interrupt
from phasetrans.applications import compare, report

ARCHS = ("16", "32-32", "cnn")
DATASETS = ("digits", "mnist1d")
L1S = (1e-5, 1e-4, 5e-4)


def _eigen_counts(row) -> str:
    """Seed-mean counts of negative and near-zero (|lambda| < floor) Hessian eigenvalues."""
    spectra = row["spectrum"]
    return " / ".join(f"{sum(s[k] for s in spectra) / len(spectra):.0f}"
                      for k in ("num_negative", "num_near_zero"))


def table(rows) -> str:
    """Markdown table: predicted (interval), MC, empirical (accuracy / loss), |gap|."""
    lines = ["| dataset | arch | λ | D | predicted p̂ [interval] | MC ellipsoid | empirical (acc) "
             "| empirical (loss) | \\|p̂ − acc\\| | covered | w* a minimum? (ΔF, steps) | "
             "H: negative / near-zero |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lo, hi = r["predicted_interval"]
        emp = r["empirical_removal_ratio"]
        mc = r["mc_prediction"]["ellipsoid"]["removal_ratio"] if r["mc_prediction"] else None
        gap = abs(r["predicted_removal_ratio"] - emp["accuracy"])
        lines.append(
            f"| {r['dataset']} | {r['arch']} | {r['l1']:g} | {r['num_params']} | "
            f"{r['predicted_removal_ratio']:.3f} [{lo:.3f}, {hi:.3f}] | "
            f"{'—' if mc is None else f'{mc:.3f}'} | {emp['accuracy']:.3f} | {emp['loss']:.3f} | "
            f"{gap:.3f} | {'yes' if lo <= emp['accuracy'] <= hi else 'no'} | "
            f"{_output.premise_cell(r)} | {_eigen_counts(r)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="digits only, one l1, 2 seeds, into results/.../quick/")
    parser.add_argument("--seeds", type=int, default=3)
    _output.add_training_flag(parser)
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--archs", nargs="+", default=ARCHS,
                        help="rerun only these; rows of other configurations already in "
                             "results.json are kept")
    parser.add_argument("--l1s", nargs="+", type=float, default=L1S)
    args = parser.parse_args()
    configs = list(itertools.product(args.datasets, args.archs, args.l1s))
    seeds = args.seeds
    if args.quick:
        configs, seeds = [("digits", "32-32", 1e-4)], 2
    out = _output.directory("predicted_vs_actual", quick=args.quick, training=args.training)

    def compute(dataset, arch, l1):
        return report.comparison_json(compare.compare(
            dataset, arch=arch, l1=l1, num_seeds=seeds, progress=True,
            training=_output.TRAININGS[args.training]))

    def describe(row):
        return (f"{row['dataset']} {row['arch']} l1={row['l1']:g}: predicted "
                f"{row['predicted_removal_ratio']:.3f} empirical "
                f"{row['empirical_removal_ratio']['accuracy']:.3f}"
                + (f" minimum: {row['stationarity']['is_minimum']}" if "stationarity" in row
                   else ""))

    _output.run_configs(out, configs, compute, table=table, describe=describe,
                        datasets=DATASETS, archs=ARCHS)

if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.predicted_vs_actual.run")
    main()
