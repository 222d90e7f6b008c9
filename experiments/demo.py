"""``make demo``: the headline reproduction, quick version, on the bundled digits data.

Trains 3 ℓ1-regularised MLPs (64-32-32-10) on sklearn's digits in one vmapped call, predicts
their removal threshold (width formula with interval and sensitivity, Monte Carlo statistical
dimension of the ellipsoid's cone), prunes each at 101 ratios and compares. Writes
results/demo/summary.json and results/demo/width_curve.png. About a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import pathlib
import time

from phasetrans import compare, plots

OUT = pathlib.Path("results/demo")


def main() -> None:
    start = time.perf_counter()
    result = compare.compare("digits", arch="32-32", l1=1e-4, num_seeds=3)
    result["seconds"] = time.perf_counter() - start
    OUT.mkdir(parents=True, exist_ok=True)
    figure = plots.width_curve(result, OUT / "width_curve.png")
    summary = {k: v for k, v in result.items() if k != "curves"}
    (OUT / "summary.json").write_text(json.dumps(summary, indent=1))
    emp = result["empirical_removal_ratio"]
    mc = result["mc_prediction"]["ellipsoid"]
    print(f"digits, {result['arch']}, l1 = {result['l1']:g}, {result['seeds']} seeds, "
          f"D = {result['num_params']} prunable weights, eps = {result['epsilon']:.2e}")
    lo, hi = result["predicted_interval"]
    print(f"  predicted removal ratio (width formula): {result['predicted_removal_ratio']:.3f} "
          f"interval [{lo:.3f}, {hi:.3f}]")
    print(f"  predicted (Monte Carlo, ellipsoid cone): {mc['removal_ratio']:.3f} "
          f"interval [{mc['interval'][0]:.3f}, {mc['interval'][1]:.3f}]")
    l1 = result["mc_prediction"]["l1_body"]
    print("  predicted (Monte Carlo, l1-induced body): " + (
        f"{l1['removal_ratio']:.3f} interval [{l1['interval'][0]:.3f}, {l1['interval'][1]:.3f}]"
        if l1 else "skipped at this D (> 1500); see experiments/three_models"))
    print(f"  empirical removal ratio: accuracy criterion {emp['accuracy']:.3f}, "
          f"loss criterion {emp['loss']:.3f}")
    print(f"  wrote {OUT / 'summary.json'} and {figure} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
