"""Figures of the threshold prediction (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def width_curve(result: dict, path) -> pathlib.Path:
    """Plot W(R(p))/D and the MC delta/D against p with the diagonal, the predicted fixed point
    and the empirical thresholds of the first seed of a :func:`phasetrans.compare.compare`
    result; save to ``path`` (parent folders are created)."""
    c = result["curves"]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(c["removal_ratios"], c["width_ratio"], label="width formula W(R(p))/D", color="C0")
    if c["mc_removal_ratios"] is not None:
        ax.errorbar(c["mc_removal_ratios"], c["mc_statdim_ratio"],
                    yerr=[2 * s for s in c["mc_statdim_ratio_sem"]], fmt="o", ms=4, color="C2",
                    label="Monte Carlo δ(cone(ellipsoid))/D ±2 SEM")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="p")
    p_hat = c["predicted_first_seed"]
    ax.plot([p_hat], [p_hat], "o", color="C0", ms=8, label=f"predicted p̂ = {p_hat:.3f}")
    emp = c["empirical_first_seed"]
    ax.axvline(emp["accuracy"], color="C3", lw=1.2,
               label=f"empirical (accuracy) = {emp['accuracy']:.2f}")
    ax.axvline(emp["loss"], color="C1", lw=1.2, ls=":",
               label=f"empirical (loss ≤ +ε) = {emp['loss']:.2f}")
    ax.set_xlabel("removal ratio p")
    ax.set_ylabel("fraction of D")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{result['dataset']} {result['arch']}, λ={result['l1']:g}, "
                 f"eigen treatment '{result['eigen_treatment']}'", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
