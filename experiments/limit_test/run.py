"""Is the predicted threshold a limit? Witness searches on the configurations of
predicted_vs_actual.

    python -m experiments.limit_test.run [--quick] [--seeds 3] [--archs 16] [--searches ...]
    python -m experiments.limit_test.plot           # -> figures/limit_test.png

Each configuration trains ``--seeds`` networks to a stationary point of F (as
predicted_vs_actual: the same networks), predicts (exact spectrum, eigenvalue treatment "abs";
width formula and the ellipsoid's Monte Carlo delta; the l1 body's Monte Carlo is left to
predicted_vs_actual, which computes it on the same networks), prunes one-shot at 101 ratios,
then runs the witness searches (:mod:`phasetrans.applications.limit`: masked retraining to
convergence, iterative and gradual magnitude pruning, default ``SearchOptions``) against the fair
reference, and records the verdict. Best witnesses go to ``results/limit_test/witnesses/<config>/``
(kept in git for D <= 10^4; files an earlier run of the configuration left there are removed).
Rows of other configurations already in results.json are kept.
"""

from __future__ import annotations

import argparse
import itertools
import pathlib
import time

import jax

from experiments import _output
from phasetrans import _interrupt
from phasetrans.applications import compare, limit, report
from phasetrans.networks import witnesses
from phasetrans.theory import predict

ARCHS = ("16", "32-32", "cnn")
DATASETS = ("digits", "mnist1d")
L1S = (1e-5, 1e-4, 5e-4)
OPTIONS = predict.PredictOptions(l1_body_options=predict.L1BodyOptions(max_dim=0))


def table(rows) -> str:
    """Markdown: predictions, one-shot, each search's best witness, the verdict."""
    searches = witnesses.SEARCHES
    lines = ["| dataset | arch | λ | D | ±window | formula | MC ell | one-shot acc | "
             + " | ".join(f"witness {s}" for s in searches)
             + " | best − formula | verdict | runs converged | fair ref. ΔF (ε) |",
             "|---" * (12 + len(searches)) + "|"]
    fmt = lambda x: "—" if x is None else f"{x:.3f}"  # noqa: E731
    for r in rows:
        d = r["limit"]
        values = d["prediction"]["values"]
        best = d["best_witness_ratio"]
        gap = None if best is None else best - values["formula"]
        cells = [fmt(d["witness_ratio"].get(s, {}).get("mean")) for s in searches]
        shift = max(d["reference"]["decrease_in_epsilon"])
        lines.append(
            f"| {r['dataset']} | {r['arch']} | {r['l1']:g} | {r['num_params']} | "
            f"{d['window']:.2f} | {values['formula']:.3f} | {fmt(values['mc_ellipsoid'])} | "
            f"{fmt(r['empirical_removal_ratio']['accuracy'])} | " + " | ".join(cells)
            + f" | {'—' if gap is None else f'{gap:+.3f}'} | {d['verdict']} | "
            f"{100 * d['converged_fraction']:.0f} % | {shift:.2g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="digits 16, one l1, one seed, retrain only, into "
                             "results/limit_test/quick/")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--datasets", nargs="+", default=DATASETS, choices=DATASETS)
    parser.add_argument("--archs", nargs="+", default=ARCHS)
    parser.add_argument("--l1s", nargs="+", type=float, default=L1S)
    parser.add_argument("--searches", nargs="+", default=witnesses.SEARCHES,
                        choices=witnesses.SEARCHES)
    args = parser.parse_args()
    configs = list(itertools.product(args.datasets, args.archs, args.l1s))
    seeds, searches = args.seeds, tuple(args.searches)
    if args.quick:
        configs, seeds, searches = [("digits", "16", 1e-4)], 1, ("retrain",)
    out = _output.directory("limit_test", quick=args.quick)

    def compute(dataset, arch, l1):
        comparison = compare.compare(dataset, arch=arch, l1=l1, num_seeds=seeds,
                                     options=OPTIONS, progress=True)
        row = report.comparison_json(comparison)
        small = row["num_params"] <= 10_000
        directory = out / "witnesses" / f"{dataset}-{arch}-{l1:g}"
        if small:
            directory.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        row["limit"] = limit.limit_json(limit.limit_test(
            comparison, key=jax.random.key(0), searches=searches,
            witness_dir=directory if small else None, progress=True))
        row["limit"]["seconds"] = time.perf_counter() - start
        if small:  # a search that found no witness this time leaves no file from an earlier run
            written = {pathlib.Path(f).name for f in row["limit"]["witness_files"]}
            for stale in directory.glob("*.npz"):
                if stale.name not in written:
                    stale.unlink()
        return row

    _output.run_configs(out, configs, compute, table=table, datasets=DATASETS, archs=ARCHS,
                        describe=lambda row: "\n".join(limit.limit_lines(row["limit"])))


if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.limit_test.run")
    main()
