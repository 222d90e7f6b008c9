"""Figures of the threshold prediction (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from phasetrans import _io  # noqa: E402
from phasetrans.compare import Comparison  # noqa: E402


def width_curve(c: Comparison, path, *, seed: int = 0) -> pathlib.Path:
    """Plot W(R(p))/D and the Monte Carlo delta/D against p for one seed of a comparison, with
    the diagonal, the predicted fixed point and that seed's empirical thresholds; written
    atomically to ``path`` (its directory must exist; the format follows the suffix)."""
    if not 0 <= seed < len(c.predictions):
        raise ValueError(f"seed must be in [0, {len(c.predictions) - 1}], got {seed}")
    prediction = c.predictions[seed]
    f = prediction.formula
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    ax.plot(f.removal_ratios, f.statdim_ratio.mean, label="width formula W(R(p))/D", color="C0")
    for mc, color, label in ((prediction.ellipsoid, "C2", "Monte Carlo δ/D, ellipsoid cone"),
                             (prediction.l1_body, "C4", "Monte Carlo δ/D, ℓ1-induced body")):
        if mc is not None:
            ax.errorbar(mc.removal_ratios, mc.statdim_ratio.mean, yerr=2 * mc.statdim_ratio.sem,
                        fmt="o", ms=4, color=color, label=label + " ±2 SEM")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="p")
    ax.plot([f.removal_ratio], [f.removal_ratio], "o", color="C0", ms=8,
            label=f"predicted p̂ = {f.removal_ratio:.3f}")
    accuracy, loss = c.empirical.accuracy[seed], c.empirical.loss[seed]
    ax.axvline(accuracy, color="C3", lw=1.2, label=f"empirical (accuracy) = {accuracy:.2f}")
    ax.axvline(loss, color="C1", lw=1.2, ls=":", label=f"empirical (loss ≤ +ε) = {loss:.2f}")
    ax.set_xlabel("removal ratio p")
    ax.set_ylabel("fraction of D")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{c.dataset} {c.arch}, λ={c.l1:g}, seed {seed} of {len(c.predictions)}, "
                 f"eigen treatment '{f.eigen_treatment}'", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = pathlib.Path(path)
    try:
        _io.save_figure(fig, path, dpi=120)
    finally:
        plt.close(fig)
    return path
