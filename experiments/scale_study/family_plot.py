"""figures/scale_study_family.png from results/scale_study/family/results.json (family_run.py).

    python -m experiments.scale_study.family_plot

Three panels against D (log axis), one point per (h, seed), lines through the seed means:

1. thresholds: the width formula (SLQ) with its interval, the Monte Carlo ellipsoid, one-shot
   pruning (accuracy and loss criteria) and the best witness of the limit test (F <= F*_fair +
   eps), with the theory's window +-a_eta sqrt(D) / D around the formula;
2. measured - formula in removal ratio, with the window around 0;
3. the same gap in kept weights, relative to the formula's kept count k = (1 - p) D:
   (k_formula - k_measured) / k_formula, with the window a_eta sqrt(D) / k_formula.

Does the gap shrink like the window (proportional to 1 / sqrt(D) in ratio), faster, or not at
all: panel 2 answers it in ratio, panel 3 in the kept count the theory's statement is about.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from phasetrans import _io  # noqa: E402

RESULTS = pathlib.Path("results/scale_study/family/results.json")
FIGURE = pathlib.Path("figures/scale_study_family.png")

MEASURED = (  # (label, row -> removal ratio or None, marker)
    ("one-shot, accuracy", lambda r: r["oneshot"]["accuracy"], "o"),
    ("one-shot, loss ≤ L* + ε", lambda r: r["oneshot"]["loss"], "s"),
    ("best witness, F ≤ F*_fair + ε", lambda r: r["best_witness"]["ratio"], "^"),
)


def _value(x) -> float:
    return np.nan if x is None else float(x)


def series(rows, get) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(D per row, value per row, D per size, the seed mean per size) of one quantity."""
    dims = np.array([r["num_params"] for r in rows], np.float64)
    values = np.array([_value(get(r)) for r in rows])
    sizes = np.unique(dims)
    means = np.array([np.nanmean(values[dims == d]) if np.any(np.isfinite(values[dims == d]))
                      else np.nan for d in sizes])
    return dims, values, sizes, means


def kept_gap(rows, get) -> np.ndarray:
    """(k_formula - k_measured) / k_formula per row, k = (1 - p) D."""
    formula = np.array([r["formula"]["mean"] for r in rows])
    measured = np.array([_value(get(r)) for r in rows])
    return (measured - formula) / (1.0 - formula)


def main() -> None:
    rows = sorted(_io.read_json(RESULTS), key=lambda r: (r["num_params"], r["seed"]))
    if not rows:
        raise SystemExit(f"{RESULTS} has no rows: run python -m "
                         "experiments.scale_study.family_run first")
    fig, (ax, gap_ax, kept_ax) = plt.subplots(1, 3, figsize=(17, 4.8))
    dims, formula, sizes, formula_mean = series(rows, lambda r: r["formula"]["mean"])
    half = np.array([np.mean([r["window"]["half_width"] for r in rows
                              if r["num_params"] == d]) for d in sizes])
    ax.fill_between(sizes, formula_mean - half, formula_mean + half, color="C0", alpha=0.15,
                    label="theory window ±a_η√D/D around the formula")
    low = np.array([r["formula"]["interval"][0] for r in rows])
    high = np.array([r["formula"]["interval"][1] for r in rows])
    ax.errorbar(dims, formula, yerr=[formula - low, high - formula], color="C0", marker="D",
                ls="none", ms=4, label="width formula (SLQ), interval")
    ax.plot(sizes, formula_mean, color="C0")
    _, mc, mc_sizes, mc_mean = series(rows, lambda r: (r["mc_ellipsoid"] or {}).get("mean"))
    ax.scatter(dims, mc, color="C1", marker="x", s=14)
    ax.plot(mc_sizes, mc_mean, color="C1", marker="x",
            label="Monte Carlo δ, ellipsoid (spectral levels)")
    for i, (label, get, marker) in enumerate(MEASURED):
        color = f"C{i + 2}"
        _, values, _, means = series(rows, get)
        ax.scatter(dims, values, color=color, marker=marker, s=10, alpha=0.6)
        ax.plot(sizes, means, color=color, marker=marker, label=label + " (seed mean)")
        gap_ax.scatter(dims, values - formula, color=color, marker=marker, s=16, label=label)
        kept_ax.scatter(dims, kept_gap(rows, get), color=color, marker=marker, s=16,
                        label=label)
    gap_ax.fill_between(sizes, -half, half, color="C0", alpha=0.15, label="±a_η√D/D")
    kept_window = half / (1.0 - formula_mean)
    kept_ax.fill_between(sizes, -kept_window, kept_window, color="C0", alpha=0.15,
                         label="±a_η√D / k_formula")
    for a in (gap_ax, kept_ax):
        a.axhline(0.0, color="C0", lw=0.8)
        a.set_xscale("log")
        a.set_xlabel("D")
        a.legend(fontsize=7)
    gap_ax.set_ylabel("measured − formula (removal ratio, per seed)")
    gap_ax.set_title("The gap and the theory's window")
    kept_ax.set_ylabel("(k_formula − k_measured) / k_formula")
    kept_ax.set_title("The same gap in kept weights")
    style_thresholds(ax, xlabel="D (prunable weights), teacher–student MLPs 32-h-h-h",
                     title="The family without the ceiling (issue 26)", legend_loc="lower right")
    save(fig, FIGURE)


def style_thresholds(ax, *, xlabel: str, title: str, legend_loc: str) -> None:
    """A thresholds-vs-D panel: log D axis, removal ratio in [0, 1], title and legend."""
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("removal ratio")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    ax.legend(fontsize=7, loc=legend_loc)


def save(fig, path: pathlib.Path) -> None:
    fig.tight_layout()
    path.parent.mkdir(exist_ok=True)
    fig.savefig(path, dpi=130)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
