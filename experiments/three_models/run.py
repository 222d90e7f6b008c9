"""Width formula vs Monte Carlo ellipsoid vs Monte Carlo l1-induced body vs empirical pruning.

    python -m experiments.three_models.run [--quick]   # -> results/three_models/

The l1 body costs a few thousand O(D^2) ADMM iterations per Gaussian sample, so this runs on
the networks with D <= 1500 (digits MLP 64-16-10 and CNN, mnist1d MLP 40-16-10), three seeds
each (about 25 min on 2 cores); ``--large`` runs the 32-32 networks (D = 2624, 3392) with one
seed each into ``results_large.json`` / ``table_large.md``. See README "Results".
"""

from __future__ import annotations

import argparse
import itertools
import time

from experiments import _output
from phasetrans import _interrupt
from phasetrans.applications import compare, report
from phasetrans.theory import predict

CONFIGS = (("digits", "16"), ("digits", "cnn"), ("mnist1d", "16"))
LARGE = (("digits", "32-32"), ("mnist1d", "32-32"))  # D = 3392, 2624
L1S = (1e-5, 1e-4, 5e-4)
MODELS = ("formula", "ellipsoid", "l1_body")


def _predictions(row) -> dict:
    mc = row["mc_prediction"]
    return {"formula": row["predicted_removal_ratio"],
            "ellipsoid": mc["ellipsoid"]["removal_ratio"],
            "l1_body": mc["l1_body"]["removal_ratio"]}


def table(rows) -> str:
    """Markdown: the three predictions (l1 body with its interval), empirical, |gaps|."""
    lines = ["| dataset | arch | λ | D | formula | MC ellipsoid | MC ℓ1 body [interval] | "
             "empirical (acc) | empirical (loss) | best model | w* a minimum? |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        pred, emp = _predictions(r), r["empirical_removal_ratio"]["accuracy"]
        lo, hi = r["mc_prediction"]["l1_body"]["interval"]
        best = min(MODELS, key=lambda m: abs(pred[m] - emp))
        lines.append(
            f"| {r['dataset']} | {r['arch']} | {r['l1']:g} | {r['num_params']} | "
            f"{pred['formula']:.3f} | {pred['ellipsoid']:.3f} | "
            f"{pred['l1_body']:.3f} [{lo:.3f}, {hi:.3f}] | {emp:.3f} | "
            f"{r['empirical_removal_ratio']['loss']:.3f} | {best} | "
            f"{_output.premise_cell(r)} |")
    gaps = {m: sum(abs(_predictions(r)[m] - r["empirical_removal_ratio"]["accuracy"])
                   for r in rows) / len(rows) for m in MODELS}
    lines.append("")
    lines.append("Mean |prediction − empirical (acc)|: "
                 + ", ".join(f"{m} {g:.3f}" for m, g in gaps.items()))
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="digits, one l1, one seed, into results/three_models/quick/")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="32-32 networks, one seed")
    parser.add_argument("--reuse", action="store_true",
                        help="take the rows of predicted_vs_actual's results.json (same "
                             "training): its compare() call with the default l1-body options "
                             "(max_dim 1500) and 3 seeds is this run's, so nothing is "
                             "recomputed; configurations missing there are skipped")
    _output.add_training_flag(parser)
    args = parser.parse_args()
    configs = [(d, a, l1) for (d, a), l1 in itertools.product(
        LARGE if args.large else CONFIGS, L1S)]
    suffix, max_dim = ("_large", 4000) if args.large else ("", 1500)
    if args.large:
        args.seeds = 1
    if args.quick:
        configs, args.seeds = [("digits", "16", 1e-4)], 1
    out = _output.directory("three_models", quick=args.quick, training=args.training)
    rows = []
    reusable = {}
    if args.reuse and (args.large or args.quick or args.seeds != 3):
        parser.error("--reuse takes predicted_vs_actual's rows: 3 seeds, not --large/--quick")
    if args.reuse:
        source = _output.directory("predicted_vs_actual", quick=False, training=args.training)
        reusable = {_output.config_key(r): r for r in _output.read_rows(source / "results.json")}
    for dataset, arch, l1 in configs:
        if args.reuse:
            found = reusable.get((dataset, arch, l1))
            print(f"{dataset} {arch} l1={l1:g}: "
                  + ("reused from predicted_vs_actual" if found else "not there: skipped"),
                  flush=True)
            if found:
                rows.append(found)
                _output.write_rows(out, rows, table(rows), suffix=suffix)
            continue
        start = time.perf_counter()
        row = report.comparison_json(compare.compare(
            dataset, arch=arch, l1=l1, num_seeds=args.seeds,
            options=predict.PredictOptions(
                l1_body_options=predict.L1BodyOptions(max_dim=max_dim)), progress=True,
            training=_output.TRAININGS[args.training]))
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        print(f"{dataset} {arch} l1={l1:g}: {_predictions(row)} empirical "
              f"{row['empirical_removal_ratio']['accuracy']:.3f} ({row['seconds']:.0f} s)",
              flush=True)
        _output.write_rows(out, rows, table(rows), suffix=suffix)


if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.three_models.run")
    main()
