"""figures/three_models.png from results/three_models/results.json (see run.py); ``--training
budget_2000``: the fixed-budget rows into figures/three_models_budget_2000.png."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from experiments import _output  # noqa: E402
from phasetrans import _io  # noqa: E402

STYLE = {"formula": ("o", "C0", "width formula Σ rᵢ²/(R²+rᵢ²)"),
         "ellipsoid": ("s", "C1", "MC δ(cone), ellipsoid"),
         "l1_body": ("D", "C2", "MC δ(cone), ℓ1-induced body (±2 SEM)")}


def three_models(rows, path):
    """Left: each model's seed-mean prediction against the seed-mean empirical threshold.
    Right: the l1 body's delta/D points (first seed) with the diagonal they cross."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.8))
    for r in rows:
        emp = r["empirical_removal_ratio"]["accuracy"]
        mc = r["mc_prediction"]
        values = {"formula": (r["predicted_removal_ratio"], None),
                  "ellipsoid": (mc["ellipsoid"]["removal_ratio"], None),
                  "l1_body": (mc["l1_body"]["removal_ratio"], mc["l1_body"]["interval"])}
        for name, (p, interval) in values.items():
            marker, color, _ = STYLE[name]
            yerr = None if interval is None else [[p - interval[0]], [interval[1] - p]]
            ax.errorbar(emp, p, yerr=yerr, fmt=marker, color=color, ms=5, alpha=0.8,
                        mfc="none" if r["dataset"] == "mnist1d" else color)
        curve = mc["l1_body"]["statdim_curve"][0]
        ax2.errorbar(curve["removal_ratios"], curve["statdim_ratio"],
                     yerr=[2 * s for s in curve["statdim_ratio_sem"]], marker=".", alpha=0.8,
                     label=f"{r['dataset']} {r['arch']} λ={r['l1']:g} (emp. {emp:.2f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    for marker, color, label in STYLE.values():
        ax.plot([], [], marker, color=color, label=label)
    ax.plot([], [], "o", color="gray", mfc="none", label="open: mnist1d, filled: digits")
    ax.set_xlabel("empirical removal threshold (test accuracy ≥ unpruned)")
    ax.set_ylabel("predicted removal threshold")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3)
    ax2.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax2.set_xlabel("removal ratio p")
    ax2.set_ylabel("δ(cone(K − M_p ⊙ w*)) / D, ℓ1-induced body")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig.suptitle("Three models of the pruning threshold (networks with D ≤ 1500; seed means)",
                 fontsize=10)
    fig.tight_layout()
    _io.save_figure(fig, path, dpi=120)
    plt.close(fig)


def main() -> None:
    training = _output.plot_arguments(__doc__).training
    rows = _io.read_json(_output.directory("three_models", quick=False, training=training)
                         / "results.json")
    figure = _output.figure_path("three_models", training)
    three_models(rows, figure)
    print(f"wrote {figure}")


if __name__ == "__main__":
    main()
