"""Pruning methods vs the predicted threshold, in direct and effective removal.

    python -m experiments.pruning_comparison.run [--quick] [--seeds 3]
    python -m experiments.pruning_comparison.plot   # -> figures/pruning_comparison.png,
                                                    #    figures/effective_sparsity.png

Each configuration (digits and mnist1d; MLPs 16 and 32-32; lambda = 1e-4) trains ``--seeds``
networks, predicts their threshold (width formula, exact spectrum, eigenvalue treatment "abs"),
and prunes them one-shot with global magnitude (LOMP), layer-wise magnitude, random masks and
Net-Trim (parallel, relative epsilon 0.05) on 51 ratios (phasetrans.applications.methods). Rows
already in results.json for other configurations are kept, so a subset can be rerun.
"""

from __future__ import annotations

import argparse
import itertools

import jax

from experiments import _output
from phasetrans import _interrupt
from phasetrans.applications import compare, methods, report
from phasetrans.theory import predict

ARCHS = ("16", "32-32")
DATASETS = ("digits", "mnist1d")
L1 = 1e-4


def table(rows) -> str:
    """Markdown: per configuration and method, the direct and effective thresholds."""
    fmt = lambda x: "none" if x is None else f"{x:.2f}"  # noqa: E731
    lines = ["| dataset | arch | D | predicted [interval] | ±window | method | threshold "
             "(direct) | threshold (effective) |", "|---" * 8 + "|"]
    for r in rows:
        p = r["predicted"]
        for name, entry in r["methods"].items():
            lines.append(f"| {r['dataset']} | {r['arch']} | {r['num_params']} | "
                         f"{p['removal_ratio']:.2f} [{p['interval'][0]:.2f}, "
                         f"{p['interval'][1]:.2f}] | {r['window']['half_width']:.2f} | {name} | "
                         f"{fmt(entry['threshold'])} | {fmt(entry['effective_threshold'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="digits 16, one seed, into results/pruning_comparison/quick/")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    configs = list(itertools.product(DATASETS, ARCHS, [L1]))
    seeds = args.seeds
    if args.quick:
        configs, seeds = [("digits", "16", L1)], 1
    out = _output.directory("pruning_comparison", quick=args.quick)

    def compute(dataset, arch, l1):
        comparison = compare.compare(
            dataset, arch=arch, l1=l1, num_seeds=seeds, progress=True,
            options=predict.PredictOptions(ellipsoid_options=predict.EllipsoidOptions(max_dim=0),
                                           l1_body_options=predict.L1BodyOptions(max_dim=0)))
        return report.methods_json(methods.sweep_methods(comparison, key=jax.random.key(2),
                                                         progress=True))

    _output.run_configs(out, configs, compute, table=table, datasets=DATASETS, archs=ARCHS,
                        describe=lambda row: "\n".join(report.methods_lines(row)))

if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.pruning_comparison.run")
    main()
