"""Attribute the prediction gap stage by stage on the configurations of predicted_vs_actual.

    python -m experiments.gap_attribution.run [--quick] [--seeds 3] [--archs 16 cnn]
    python -m experiments.gap_attribution.plot          # -> figures/gap_attribution.png

Each configuration trains ``--seeds`` networks (to a stationary point of F; ``--training
budget_2000`` for the fixed budget of the earlier rows, kept in
results/gap_attribution/budget_2000/), predicts (exact spectrum, eigenvalue treatment "abs"),
prunes, and measures every step of the ladder (phasetrans.applications.attribution): formula vs
delta, random subspaces, exact support feasibility, masked retraining, one-shot criteria.
Rows already in results.json for other configurations are kept, so a subset can be rerun.
"""

from __future__ import annotations

import argparse
import itertools

import jax

from experiments import _output
from phasetrans import _interrupt
from phasetrans.applications import attribution, compare, report

ARCHS = ("16", "32-32", "cnn")
DATASETS = ("digits", "mnist1d")
L1S = (1e-5, 1e-4, 5e-4)


def table(rows) -> str:
    """Markdown: one row per configuration, the seed-mean thresholds and the window."""
    names = attribution.THRESHOLDS
    short = {"formula": "formula", "mc_ellipsoid": "MC ell", "mc_l1_body": "MC ℓ1",
             "random_subspace_ellipsoid": "RS ell", "random_subspace_l1_body": "RS ℓ1",
             "support_ellipsoid": "supp ell", "support_l1_body": "supp ℓ1",
             "retrain_F": "retr F", "retrain_L": "retr L", "retrain_accuracy": "retr acc",
             "oneshot_F": "1shot F", "oneshot_L": "1shot L", "oneshot_accuracy": "1shot acc",
             "oneshot_accuracy_official_rule": "1shot acc (official)"}
    lines = ["| dataset | arch | λ | D | ±window | " + " | ".join(short[n] for n in names)
             + " | w* a minimum? |", "|---" * (6 + len(names)) + "|"]
    for r in rows:
        cells = []
        for name in names:
            t = r["thresholds"][name]
            cells.append("—" if t is None or t["mean"] is None else f"{t['mean']:.2f}")
        lines.append(f"| {r['dataset']} | {r['arch']} | {r['l1']:g} | {r['num_params']} | "
                     f"{r['window']['half_width']:.2f} | " + " | ".join(cells)
                     + f" | {_output.premise_cell(r)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="digits 16, one l1, one seed, into results/gap_attribution/quick/")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--archs", nargs="+", default=ARCHS)
    parser.add_argument("--l1s", nargs="+", type=float, default=L1S)
    _output.add_training_flag(parser)
    args = parser.parse_args()
    configs = list(itertools.product(args.datasets, args.archs, args.l1s))
    seeds = args.seeds
    if args.quick:
        configs, seeds = [("digits", "16", 1e-4)], 1
    out = _output.directory("gap_attribution", quick=args.quick, training=args.training)

    def compute(dataset, arch, l1):
        comparison = compare.compare(dataset, arch=arch, l1=l1, num_seeds=seeds, progress=True,
                                     training=_output.TRAININGS[args.training])
        # one ratio at a time: the CNNs retrain 1.3-2.5x faster, the MLPs up to 1.5x slower
        options = attribution.AttributionOptions(retrain_sequential=arch == "cnn")
        return report.attribution_json(attribution.attribute(comparison, key=jax.random.key(1),
                                                             options=options, progress=True))

    _output.run_configs(out, configs, compute, table=table, datasets=DATASETS, archs=ARCHS,
                        describe=lambda row: "\n".join(report.attribution_lines(row)))

if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.gap_attribution.run")
    main()
