"""figures/scale_study.png from results/scale_study/results.json (see run.py): thresholds vs D
on a log axis, the theory's window around the width formula's prediction as a band; then the
family's figure (:mod:`experiments.scale_study.family_plot`)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments.scale_study import family_plot  # noqa: E402
from phasetrans import _io  # noqa: E402

RESULTS = pathlib.Path("results/scale_study/results.json")
FIGURE = pathlib.Path("figures/scale_study.png")

SERIES = (  # (label, row -> per-seed values, marker)
    ("one-shot, accuracy", lambda r: r["oneshot"]["accuracy"]["per_seed"], "o"),
    ("one-shot, loss ≤ L* + ε", lambda r: r["oneshot"]["loss"]["per_seed"], "s"),
    ("retrained, F ≤ F* + ε", lambda r: r["retrained"].get("objective", {}).get("per_seed"),
     "^"),
)


def _values(per_seed):
    return np.array([np.nan if v is None else v for v in per_seed or []], np.float64)


def main() -> None:
    rows = sorted(_io.read_json(RESULTS), key=lambda r: r["num_params"])
    dims = np.array([r["num_params"] for r in rows], np.float64)
    formula = np.array([r["formula"]["mean"] for r in rows])
    half = np.array([r["window"]["half_width"] for r in rows])
    fig, (ax, gap_ax) = plt.subplots(1, 2, figsize=(13, 4.8),
                                     gridspec_kw={"width_ratios": [1.4, 1]})
    ax.fill_between(dims, formula - half, formula + half, color="C0", alpha=0.15,
                    label="theory window ±a_η√D/D around the formula")
    low = [r["formula"]["interval"][0] for r in rows]
    high = [r["formula"]["interval"][1] for r in rows]
    ax.errorbar(dims, formula, yerr=[formula - low, np.array(high) - formula], color="C0",
                marker="D", label="width formula (SLQ), interval")
    mc = [(d, r["mc_ellipsoid"]) for d, r in zip(dims, rows, strict=True)
          if r["mc_ellipsoid"] is not None]
    if mc:
        ax.plot([d for d, _ in mc], [m["removal_ratio"] for _, m in mc], color="C1",
                marker="x", label="Monte Carlo δ, ellipsoid (spectral levels)")
    for i, (label, get, marker) in enumerate(SERIES):
        points = [(d, _values(get(r))) for d, r in zip(dims, rows, strict=True)]
        points = [(d, v) for d, v in points if v.size and np.any(np.isfinite(v))]
        if not points:
            continue
        xs = [d for d, _ in points]
        ax.plot(xs, [np.nanmean(v) for _, v in points], color=f"C{i + 2}", marker=marker,
                label=label + " (seed mean; dots: seeds)")
        for d, v in points:
            ax.scatter(np.full(v.size, d), v, color=f"C{i + 2}", s=8, alpha=0.5)
    # right: measured - predicted per seed, with the window around 0
    gap_ax.fill_between(dims, -half, half, color="C0", alpha=0.15, label="±a_η√D/D")
    gap_ax.axhline(0.0, color="C0", lw=0.8)
    for i, (label, get, marker) in enumerate(SERIES):
        for j, (d, r) in enumerate(zip(dims, rows, strict=True)):
            v = _values(get(r)) - np.asarray(r["formula"]["per_seed"], np.float64)[:_values(
                get(r)).size]
            gap_ax.scatter(np.full(v.size, d), v, color=f"C{i + 2}", marker=marker, s=14,
                           label=label if j == 0 else None)
    gap_ax.set_xscale("log")
    gap_ax.set_xlabel("D")
    gap_ax.set_ylabel("measured − formula (per seed)")
    gap_ax.set_title("The gap and the theory's window")
    gap_ax.legend(fontsize=7)
    family_plot.style_thresholds(
        ax, xlabel="D (prunable weights), mnist1d MLPs 40-h-h-10",
        title="Predicted vs measured pruning threshold as the network grows", legend_loc="best")
    family_plot.save(fig, FIGURE)
    family_plot.main()


if __name__ == "__main__":
    main()
