"""Figures from results/cs_phase_transition/ (run ``experiments.cs_phase_transition.run`` first).

- figures/cs_phase_transition.png: success rate of basis pursuit and of overparameterized GD on
  the (s/d, m/d) grid, the empirical 50% curve (logistic fit per column, +-2 SEM) and
  psi(s, d)/d.
- figures/overparam_init_scale.png: ||x_GD - x_BP|| / ||x_BP|| vs alpha for N = 2, 3, 4, above
  and below the transition; hollow markers where GD had not converged within its step budget.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phasetrans import _io
from phasetrans.applications import cs  # noqa: E402

RESULTS = Path("results/cs_phase_transition")
FIGURES = Path("figures")
CONVERGED_LOSS_RATIO = 1e-5  # final / initial loss above which a GD run is "not converged"


def _edges(centers: np.ndarray) -> tuple[float, float]:
    step = centers[1] - centers[0]
    return centers[0] - step / 2, centers[-1] + step / 2


def plot_grid(ax, result: dict, title: str):
    rho = np.asarray(result["sparsity_fractions"])
    delta = np.asarray(result["measurement_fractions"])
    image = ax.imshow(np.asarray(result["success_rate"]).T, origin="lower", aspect="auto",
                      extent=(*_edges(rho), *_edges(delta)), cmap="Greys_r", vmin=0, vmax=1)
    dim = result["dim"]
    sparsities = np.arange(1, int(rho.max() * dim) + 1)
    ax.plot(sparsities / dim, cs.theory_curve(sparsities, dim), color="tab:red", lw=2,
            label=r"theory $\psi(s,d)/d$")
    curve = result["transition"]
    ax.errorbar([row["sparsity_fraction"] for row in curve],
                [row["empirical_measurement_fraction"] for row in curve],
                yerr=[2 * row["empirical_sem"] for row in curve], fmt="o", ms=4,
                color="tab:blue", ecolor="tab:blue", label="empirical 50% (±2 SEM)")
    ax.set(xlabel="sparsity fraction s/d", ylabel="measurement fraction m/d", title=title)
    ax.legend(loc="lower right", fontsize=8)
    return image


def figure_grids() -> None:
    bp = _io.read_json(RESULTS / "bp_grid.json")
    gd = _io.read_json(RESULTS / "overparam_grid.json")
    opts = gd["options"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    plot_grid(axes[0], bp, f"basis pursuit (ADMM), d={bp['dim']}, {bp['trials']} trials/cell\n"
                           f"success: rel. error ≤ {bp['tol']:g}")
    image = plot_grid(axes[1], gd, f"overparam. GD, N={opts['depth']}, α={opts['init_scale']:g}, "
                                   f"{opts['num_iters']} steps, d={gd['dim']}, "
                                   f"{gd['trials']} trials/cell\nsuccess: rel. error ≤ "
                                   f"{gd['tol']:g}")
    fig.colorbar(image, ax=axes, label="success rate", shrink=0.9)
    _io.save_figure(fig, FIGURES / "cs_phase_transition.png", dpi=130)


def figure_init_scale() -> None:
    with open(RESULTS / "init_scale.csv") as f:
        rows = list(csv.DictReader(f))
    regimes = {"above": "above the transition (BP = x₀)", "below": "below the transition (BP ≠ x₀)"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True, sharey=True)
    for ax, (regime, label) in zip(axes, regimes.items(), strict=True):
        mine = [r for r in rows if r["regime"] == regime]
        for depth, color in zip(sorted({int(r["depth"]) for r in mine}),
                                ("tab:blue", "tab:orange", "tab:green"), strict=False):
            runs = [r for r in mine if int(r["depth"]) == depth]
            scales = np.array(sorted({float(r["init_scale"]) for r in runs}))
            dist, loss = (np.array([[float(r[field]) for r in runs if float(r["init_scale"]) == a]
                                    for a in scales]) for field in ("distance_to_bp",
                                                                    "final_loss_ratio"))
            median = np.median(dist, axis=1)
            done = np.median(loss, axis=1) <= CONVERGED_LOSS_RATIO
            ax.plot(scales, median, color=color, lw=1.5, label=f"N = {depth}")
            ax.fill_between(scales, *np.percentile(dist, [25, 75], axis=1), color=color,
                            alpha=0.15, lw=0)
            ax.plot(scales[done], median[done], "o", color=color)
            ax.plot(scales[~done], median[~done], "o", mfc="white", color=color)
        ax.plot([], [], "o", mfc="white", color="grey",
                label=f"final loss > {CONVERGED_LOSS_RATIO:g} × initial")
        first = mine[0]
        ax.set(xscale="log", yscale="log", xlabel="initial scale α",
               title=f"{label}\nd=50, m=25, s={first['sparsity']}, 10⁵ GD steps")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel(r"$\|x_{GD} - x_{BP}\|\,/\,\|x_{BP}\|$ (median, IQR band)")
    axes[0].legend(fontsize=8)
    _io.save_figure(fig, FIGURES / "overparam_init_scale.png", dpi=130)


def main() -> None:
    FIGURES.mkdir(exist_ok=True)
    figure_grids()
    figure_init_scale()


if __name__ == "__main__":
    main()
