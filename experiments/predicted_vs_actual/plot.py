"""Figures from results/predicted_vs_actual/results.json (see run.py); ``--training
budget_2000`` draws the fixed-budget rows into figures/*_budget_2000.png."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from experiments import _output  # noqa: E402
from phasetrans import _io  # noqa: E402

MARKERS = {"mlp": "o", "cnn": "s"}


def _marker(row):
    return MARKERS["cnn" if row["arch"].startswith("cnn") else "mlp"]


def predicted_vs_actual(rows, path):
    fig, ax = plt.subplots(figsize=(6, 5.5))
    colors = {"digits": "C0", "mnist1d": "C1", "synthetic": "C2"}
    for r in rows:
        emp = r["empirical_removal_ratio"]["accuracy"]
        lo, hi = r["predicted_interval"]
        p = r["predicted_removal_ratio"]
        ax.errorbar(emp, p, yerr=[[p - lo], [hi - p]], fmt=_marker(r), color=colors[r["dataset"]],
                    ms=4 + 4 * np.log10(r["l1"] / 1e-5 + 1), alpha=0.8)
        if r["mc_prediction"]:
            ax.plot(emp, r["mc_prediction"]["ellipsoid"]["removal_ratio"], _marker(r), mfc="none",
                    color=colors[r["dataset"]], ms=7, alpha=0.8)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.fill_between([0, 1], [-0.05, 0.95], [0.05, 1.05], color="gray", alpha=0.15,
                    label="|gap| ≤ 0.05")
    for name, c in colors.items():
        if any(r["dataset"] == name for r in rows):
            ax.plot([], [], "o", color=c, label=name)
    ax.plot([], [], "o", color="k", label="MLP (filled: width formula ± interval)")
    ax.plot([], [], "s", color="k", label="CNN")
    ax.plot([], [], "o", mfc="none", color="k", label="Monte Carlo δ(cone)/D")
    ax.set_xlabel("empirical removal threshold (test accuracy ≥ unpruned)")
    ax.set_ylabel("predicted removal threshold")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_title("Predicted vs actual (marker size ∝ log λ)", fontsize=10)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    _io.save_figure(fig, path, dpi=120)
    plt.close(fig)


def magnitude_and_sharpness(rows, path):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    groups = sorted({(r["dataset"], r["arch"]) for r in rows})
    for i, (dataset, arch) in enumerate(groups):
        sub = sorted((r for r in rows if (r["dataset"], r["arch"]) == (dataset, arch)),
                     key=lambda r: r["l1"])
        l1 = [r["l1"] for r in sub]
        ax1.plot(l1, [r["predicted_removal_ratio"] for r in sub], "-o", color=f"C{i}",
                 label=f"{dataset} {arch}")
        ax1.plot(l1, [r["empirical_removal_ratio"]["accuracy"] for r in sub], ":x",
                 color=f"C{i}")
        trace = [np.mean([s["trace"] for s in r["spectrum"]]) for r in sub]
        ax2.scatter(trace, [r["empirical_removal_ratio"]["accuracy"] for r in sub], marker="x",
                    color=f"C{i}")
        ax2.scatter(trace, [r["predicted_removal_ratio"] for r in sub], marker="o",
                    color=f"C{i}", facecolors="none")
    ax1.set_xscale("log")
    ax1.set_xlabel("ℓ1 strength λ (weight magnitude ↓)")
    ax1.set_ylabel("removal threshold (—o predicted, :x empirical)")
    ax1.legend(fontsize=7)
    ax2.set_xscale("log")
    ax2.set_xlabel("Tr H (sharpness)")
    ax2.set_ylabel("removal threshold (o predicted, x empirical)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _io.save_figure(fig, path, dpi=120)
    plt.close(fig)


def main() -> None:
    training = _output.plot_arguments(__doc__).training
    rows = _io.read_json(_output.directory("predicted_vs_actual", quick=False,
                                           training=training) / "results.json")
    predicted_vs_actual(rows, _output.figure_path("predicted_vs_actual", training))
    magnitude_and_sharpness(rows, _output.figure_path("magnitude_and_sharpness", training))


if __name__ == "__main__":
    main()
