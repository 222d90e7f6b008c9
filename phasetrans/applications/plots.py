"""Figures of the threshold prediction (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from phasetrans import _io  # noqa: E402
from phasetrans.applications.compare import Comparison  # noqa: E402


def _save(fig, path, dpi=110) -> pathlib.Path:
    """Lay out, write atomically to ``path`` (format from the suffix), close."""
    fig.tight_layout()
    path = pathlib.Path(path)
    try:
        _io.save_figure(fig, path, dpi=dpi)
    finally:
        plt.close(fig)
    return path


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
    return _save(fig, path, dpi=120)


_LADDER_STYLE = {  # threshold name -> (marker, color)
    "formula": ("o", "C0"), "mc_ellipsoid": ("s", "C1"), "mc_l1_body": ("D", "C2"),
    "random_subspace_ellipsoid": ("^", "C1"), "random_subspace_l1_body": ("^", "C2"),
    "support_ellipsoid": ("v", "C1"), "support_l1_body": ("v", "C2"),
    "retrain_F": ("P", "C3"), "retrain_L": ("P", "C4"), "retrain_accuracy": ("P", "C5"),
    "oneshot_F": ("X", "C3"), "oneshot_L": ("X", "C4"), "oneshot_accuracy": ("X", "C5"),
    "oneshot_accuracy_official_rule": ("*", "C5"),
}


LADDERS_PER_ROW = 6


def ladders(documents: list, path) -> pathlib.Path:
    """One ladder per configuration (``report.attribution_json`` documents): every threshold
    as a point with its interval on the removal-ratio axis, the theory window shaded around
    the width formula's prediction; a threshold whose solver did not converge is drawn hollow
    (not certified), an empty row says why in grey; the key is in each panel's title (off the
    points); at most ``LADDERS_PER_ROW`` panels per row; written atomically to ``path``."""
    names = list(_LADDER_STYLE)
    columns = min(len(documents), LADDERS_PER_ROW)
    rows = -(-len(documents) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns + 1.5, 5.2 * rows),
                             sharey=True, squeeze=False)
    for ax in axes.ravel()[len(documents):]:
        ax.set_visible(False)
    for ax, d in zip(axes.ravel()[:len(documents)], documents, strict=True):
        formula_mean = d["thresholds"]["formula"]["mean"]
        half = d["window"]["half_width"]
        ax.axvspan(formula_mean - half, formula_mean + half, color="0.85")
        for y, name in enumerate(names):
            t = d["thresholds"][name]
            if t is None or t["mean"] is None:
                why = ("undefined on every seed" if t is not None
                       else d.get("missing", {}).get(name, "not computed"))
                ax.text(0.02, y, why if len(why) <= 48 else why[:45] + "...", fontsize=5.5,
                        color="0.45", va="center")
                continue
            marker, color = _LADDER_STYLE[name]
            lo, hi = t["interval"]
            hollow = {"mfc": "none"} if t.get("converged") is False else {}
            ax.errorbar([t["mean"]], [y], xerr=[[t["mean"] - lo], [hi - t["mean"]]],
                        fmt=marker, color=color, ms=6, capsize=2, **hollow)
        ax.set_xlim(0, 1)
        ax.set_xlabel("removal ratio p")
        ax.set_title(f"{d['dataset']} {d['arch']}\nλ={d['l1']:g}, D={d['num_params']}\n"
                     f"grey: theory window ±{half:.2f}; hollow: unconverged",
                     fontsize=7)
        ax.grid(alpha=0.3)
    axes[0][0].set_yticks(range(len(names)), names)
    for row in axes:
        row[0].tick_params(axis="y", labelsize=7)
    axes[0][0].invert_yaxis()
    return _save(fig, path)


_METHOD_COLORS = {"global": "C0", "layerwise": "C1", "random": "C7", "nettrim": "C3"}


def _panels(documents: list, *, title: str):
    fig, axes = plt.subplots(1, len(documents), figsize=(3.4 * len(documents) + 1.0, 3.6),
                             sharey=True, squeeze=False)
    for ax, d in zip(axes[0], documents, strict=True):
        ax.set_title(f"{d['dataset']} {d['arch']}, λ={d['l1']:g}, D={d['num_params']}",
                     fontsize=8)
        ax.set_xlim(0, 1)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return fig, axes[0]


def pruning_methods(documents: list, path) -> pathlib.Path:
    """Test accuracy vs removal ratio of every method (seed means), one panel per
    configuration (``report.methods_json`` documents), with the predicted threshold, its
    interval and the theory window; written atomically to ``path``."""
    fig, axes = _panels(documents, title="one-shot pruning methods vs the predicted threshold")
    for ax, d in zip(axes, documents, strict=True):
        p = d["predicted"]
        half = d["window"]["half_width"]
        ax.axvspan(p["removal_ratio"] - half, p["removal_ratio"] + half, color="0.9",
                   label="theory window")
        ax.axvspan(*p["interval"], color="0.75", label="prediction interval")
        ax.axvline(p["removal_ratio"], color="k", lw=1, label="predicted")
        for name, entry in d["methods"].items():
            ratios = [q["removal_ratio"] for q in entry["points"]]
            ax.plot(ratios, [q["test_accuracy"] for q in entry["points"]],
                    color=_METHOD_COLORS[name], label=name)
        ax.set_xlabel("removal ratio p (direct)")
    axes[0].set_ylabel("test accuracy (seed mean)")
    axes[0].legend(fontsize=7, loc="lower left")
    return _save(fig, path)


def effective_sparsity(documents: list, path) -> pathlib.Path:
    """Effective minus direct removal ratio of every method's masks (seed means) against the
    direct ratio, one panel per configuration, with the predicted threshold; written
    atomically to ``path``."""
    fig, axes = _panels(documents, title="effective − direct removal ratio (weights on no "
                                          "input-output path count as removed)")
    for ax, d in zip(axes, documents, strict=True):
        ax.axvline(d["predicted"]["removal_ratio"], color="k", lw=1, label="predicted")
        for name, entry in d["methods"].items():
            direct = [q["removal_ratio"] for q in entry["points"]]
            ax.plot(direct, [q["effective_removal_ratio"] - p
                             for q, p in zip(entry["points"], direct, strict=True)],
                    color=_METHOD_COLORS[name], label=name)
        ax.set_xlabel("direct removal ratio p")
    axes[0].set_ylabel("effective − direct")
    axes[0].legend(fontsize=7, loc="upper left")
    return _save(fig, path)


_SEARCH_MARKERS = {"retrain": "o", "imp": "s", "gradual": "^"}


def limit_test(documents: list, path) -> pathlib.Path:
    """Best witness ratio minus the width formula's prediction against D, one marker per
    search and configuration (``limit`` entries of the predict JSON, with ``num_params``), the
    theory window ±a_eta sqrt(D) / D shaded: points above the band beat the predicted limit
    beyond the window. One colour per dataset (digits, mnist1d, then the others by name, e.g. the
    scale study's family). Written atomically to ``path``."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    dims = np.array([d["num_params"] for d in documents], np.float64)
    grid = np.geomspace(dims.min() / 1.5, dims.max() * 1.5, 100)
    a_eta = documents[0]["limit"]["window"] * np.sqrt(documents[0]["num_params"])
    ax.fill_between(grid, -a_eta / np.sqrt(grid), a_eta / np.sqrt(grid), color="0.88",
                    label="theory window")
    ax.axhline(0.0, color="k", lw=1)
    labelled = set()
    present = {d["dataset"] for d in documents}
    order = [n for n in ("digits", "mnist1d") if n in present] + sorted(
        present - {"digits", "mnist1d"})  # colours C0, C1, ... in this order
    for d, dim in zip(documents, dims, strict=True):
        limit = d["limit"]
        for name, entry in limit["witness_ratio"].items():
            if entry["mean"] is None:
                continue
            ax.plot(dim, entry["mean"] - limit["prediction"]["values"]["formula"],
                    _SEARCH_MARKERS.get(name, "x"), mfc="none",
                    color=f"C{order.index(d['dataset'])}",
                    label=None if name in labelled else f"witness: {name}")
            labelled.add(name)
    ax.set_xscale("log")
    ax.set_xlabel("D (prunable weights)")
    ax.set_ylabel("best witness − predicted removal ratio")
    names = ", ".join(f"{colour} {name}" for colour, name in zip(
        ("blue", "orange", "green", "red"), order, strict=False))
    ax.set_title(f"Is the predicted threshold a limit?\n({names})", fontsize=9)
    ax.legend(fontsize=7, loc="upper right")  # (the "best" place covered the D = 800 markers)
    return _save(fig, path)
