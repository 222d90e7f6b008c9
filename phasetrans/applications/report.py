"""Reports of a :class:`phasetrans.applications.compare.Comparison`: JSON and a short summary.

This is the one place where result objects become JSON (``comparison_json``) or text
(``summary_lines``); the CLI, ``make demo`` and the experiments all use it. JSON keys are listed
in the README ("Command line").
"""

from __future__ import annotations

import numpy as np

from phasetrans.applications import attribution
from phasetrans.applications.compare import Comparison
from phasetrans.estimate import SolverInfo
from phasetrans.geometry import closed_forms
from phasetrans.networks import stationarity


def _seed_summary(values, intervals) -> dict:
    values = np.asarray(values, np.float64)
    return {"removal_ratio": float(values.mean()),
            "interval": [float(min(i[0] for i in intervals)), float(max(i[1] for i in intervals))],
            "per_seed": values.tolist()}


def _mean_or_none(values) -> float | None:
    """The mean of the finite values, or None if there is none."""
    values = np.asarray(values, np.float64)
    return float(np.nanmean(values)) if np.any(np.isfinite(values)) else None


def _monte_carlo_json(per_seed) -> dict | None:
    """Seed-averaged Monte Carlo fixed point with the union interval, or None if not computed."""
    if any(m is None for m in per_seed):
        return None
    info = SolverInfo.combine(*(m.info for m in per_seed))
    return {**_seed_summary([m.removal_ratio for m in per_seed], [m.interval for m in per_seed]),
            "converged": info.converged, "solver_info": info.to_dict(),
            "hessian_model": per_seed[0].hessian_model,
            "num_samples": int(per_seed[0].statdim_ratio.num_samples),
            "statdim_curve": [{"removal_ratios": m.removal_ratios.tolist(),
                               "statdim_ratio": np.asarray(m.statdim_ratio.mean).tolist(),
                               "statdim_ratio_sem": np.asarray(m.statdim_ratio.sem).tolist()}
                              for m in per_seed]}


def _mean_sensitivity(per_seed_rows) -> list[dict]:
    rows = []
    for group in zip(*per_seed_rows, strict=True):
        values = [r["predicted_removal_ratio"] for r in group]
        rows.append({"eigen_treatment": group[0]["eigen_treatment"],
                     "epsilon_scale": group[0]["epsilon_scale"],
                     "predicted_removal_ratio": float(np.mean(values))})
    return rows


def stationarity_json(c: Comparison) -> dict:
    """``stationarity`` of every JSON document: how the networks were trained and how close
    each w* is to a minimum of F (:mod:`phasetrans.networks.stationarity`, measures (a) and (b))."""
    per_seed = [s.to_dict() for s in c.stationarity]
    minimum = all(s.is_minimum for s in c.stationarity)
    return {
        "training": c.training,
        "is_minimum": minimum,
        "verdict": ("w* is a minimum of F at the scale of eps on every seed (no further "
                    "optimisation lowers F by more than eps)" if minimum
                    else stationarity.NOT_A_MINIMUM),
        "max_decrease_in_epsilon": max(s.decrease_in_epsilon for s in c.stationarity),
        "max_relative_subgradient": max(s.relative_subgradient for s in c.stationarity),
        "measures": {"relative_subgradient": "||min-norm subgradient of F|| / ||grad L|| at w*",
                     "decrease_in_epsilon": "(F(w*) - lowest F in further_steps more steps of "
                                            "optimizer from w*) / eps"},
        "per_seed": per_seed}


def premise_line(document: dict) -> str:
    """One line of a readable summary: is the premise (w* minimises F) met, with the numbers."""
    s = document["stationarity"]
    t = s["training"]
    if t["steps"] is None:
        how = t["rule"]
    else:
        converged = sum(map(bool, t["converged"]))
        how = (f"{t['optimizer']}, {min(t['steps'])}-{max(t['steps'])} steps, stop rule met on "
               f"{converged} of {len(t['converged'])} seeds")
    head = "premise holds" if s["is_minimum"] else "PREMISE FAILS"
    return (f"  {head}: {s['verdict']} (training: {how}; further optimisation lowers F by "
            f"up to {s['max_decrease_in_epsilon']:.2f} eps; subgradient up to "
            f"{s['max_relative_subgradient']:.2f} of ||grad L||)")


def verdict(predicted: float, interval, empirical: float, window: float) -> str:
    """The comparison in words: where the empirical threshold lies relative to the prediction's
    estimator interval and the theory's own window (prediction +- ``window``)."""
    if not np.isfinite(empirical):
        return "no empirical threshold (pruning fails at the first ratio)"
    gap = empirical - predicted
    side = "above" if gap > 0 else "below"
    if interval[0] <= empirical <= interval[1]:
        return f"empirical lies inside the prediction's interval ({side} by {abs(gap):.3f})"
    if abs(gap) <= window:
        return (f"empirical is {abs(gap):.3f} {side} the prediction: outside its interval but "
                f"inside the theory's window ±{window:.3f}, so not a refutation at this D")
    return (f"empirical is {abs(gap):.3f} {side} the prediction, outside the theory's window "
            f"±{window:.3f}")


def comparison_json(c: Comparison) -> dict:
    """The JSON document of a comparison (plain Python types; NaN stays NaN)."""
    predictions = c.predictions
    first = predictions[0]
    formula_summary = _seed_summary([p.formula.removal_ratio for p in predictions],
                                    [p.formula.interval for p in predictions])
    epsilons = [p.noise.epsilon.mean for p in predictions]
    window = closed_forms.theory_window(first.num_params)
    emp, official = c.empirical, c.official
    empirical_mean = float(np.nanmean(emp.accuracy)) if np.any(np.isfinite(emp.accuracy)) \
        else float("nan")
    mc = {"ellipsoid": _monte_carlo_json([p.ellipsoid for p in predictions]),
          "l1_body": _monte_carlo_json([p.l1_body for p in predictions])}
    return {
        "dataset": c.dataset, "arch": c.arch, "l1": c.l1, "seeds": len(predictions),
        "num_params": first.num_params,
        "predicted_removal_ratio": formula_summary["removal_ratio"],
        "predicted_interval": formula_summary["interval"],
        "predicted_per_seed": formula_summary["per_seed"],
        "predicted_quadrature_term": [p.formula.quadrature_term for p in predictions],
        "window": window._asdict(),
        "empirical_removal_ratio": {
            "accuracy": empirical_mean,
            "loss": _mean_or_none(emp.loss),
            "accuracy_per_seed": emp.accuracy.tolist(), "loss_per_seed": emp.loss.tolist(),
            "accuracy_official_rule_per_seed": official.accuracy.tolist(),
            "criteria": {"accuracy": f"test accuracy >= unpruned - {c.accuracy_tol}",
                         "loss": "train cross-entropy <= unpruned + epsilon",
                         "rule": emp.rule,
                         "official_rule": "scan down from p = 1: the first p whose accuracy is "
                                          "strictly above the unpruned one's (ZZSL code)"}},
        "verdict": verdict(formula_summary["removal_ratio"], formula_summary["interval"],
                           empirical_mean, window.half_width),
        "unpruned_test_accuracy": np.asarray(c.sweep.unpruned_test_accuracy).tolist(),
        "epsilon": float(np.mean(epsilons)), "epsilon_per_seed": epsilons,
        "epsilon_meaning": ("std of mini-batch training losses at w*" if first.noise.batch_size
                            else "given by the user"),
        "eigen_treatment": first.formula.eigen_treatment,
        "spectrum": [p.spectrum for p in predictions],
        "sensitivity": _mean_sensitivity([p.sensitivity for p in predictions]),
        "mc_prediction": mc,
        "trace_hessian": [p.spectrum["trace"] for p in predictions],
        "stationarity": stationarity_json(c),
        "warnings": list(c.warnings),
    }


def _percent(ratio) -> str:
    return "none" if ratio is None else f"{100 * ratio:.0f} %"


def plain_line(oneshot, predicted, interval) -> str:
    """The first line of a summary, for a reader without the paper: how much one-shot
    pruning removed before test accuracy dropped, and what the theory predicts."""
    measured = ("one-shot pruning lost test accuracy at the first removal ratio tried"
                if oneshot is None else
                f"one-shot pruning kept test accuracy up to removing {_percent(oneshot)} of "
                "the weights")
    lo, hi = interval
    return (f"{measured}; the theory predicts {_percent(predicted)} "
            f"({_percent(lo)} to {_percent(hi)})")


def summary_lines(document: dict) -> list[str]:
    """A short human-readable table of :func:`comparison_json`'s document."""
    d = document
    lo, hi = d["predicted_interval"]
    emp = d["empirical_removal_ratio"]
    lines = [plain_line(emp["accuracy"], d["predicted_removal_ratio"], (lo, hi)),
             f"{d['dataset']}, {d['arch']}, l1 = {d['l1']:g}, {d['seeds']} seed(s), "
             f"D = {d['num_params']} prunable weights",
             f"  eps = {d['epsilon']:.3g} ({d['epsilon_meaning']}); eigenvalue treatment "
             f"'{d['eigen_treatment']}'",
             f"  {'prediction':<34} {'removal ratio':>13}  interval",
             f"  {'width formula':<34} {d['predicted_removal_ratio']:>13.3f}  "
             f"[{lo:.3f}, {hi:.3f}]"]
    for name, label in (("ellipsoid", "Monte Carlo, ellipsoid cone"),
                        ("l1_body", "Monte Carlo, l1-induced body")):
        m = d["mc_prediction"][name]
        if m is None:
            lines.append(f"  {label:<34} {'not computed':>13}")
        else:
            flag = "" if m["converged"] else "  (NOT converged: biased low)"
            lines.append(f"  {label:<34} {m['removal_ratio']:>13.3f}  "
                         f"[{m['interval'][0]:.3f}, {m['interval'][1]:.3f}]{flag}")
    window = d["window"]
    lines += [f"  theory window (ALMT, eta = {window['eta']:g}): ±{window['half_width']:.3f}",
              f"  empirical, one-shot (accuracy >= unpruned, first failure): "
              f"{emp['accuracy']:.3f}; loss <= unpruned + eps: "
              + ("n/a" if emp["loss"] is None else f"{emp['loss']:.3f}"),
              f"  verdict: {d['verdict']}", premise_line(d)]
    lines += [f"  warning: {w}" for w in d["warnings"]]
    return lines


def attribution_json(a) -> dict:
    """The JSON document of an :class:`phasetrans.applications.attribution.Attribution`
    (``explain``)."""
    c = a.comparison
    return {"dataset": c.dataset, "arch": c.arch, "l1": c.l1, "seeds": len(c.predictions),
            "num_params": c.predictions[0].num_params,
            "epsilon_per_seed": [p.noise.epsilon.mean for p in c.predictions],
            "unpruned_test_accuracy": np.asarray(c.sweep.unpruned_test_accuracy).tolist(),
            "thresholds": {name: t.to_dict() for name, t in a.thresholds.items()},
            "missing": {name: t.reason for name, t in a.thresholds.items()
                        if t.reason is not None},
            "window": a.window._asdict(),
            "stages": attribution.stages(a),
            "solver_info": {name: info.to_dict() for name, info in a.info.items()},
            "retrain_converged_fraction": a.retrain_converged,
            "stationarity": stationarity_json(c),
            "warnings": list(c.warnings)}


def attribution_lines(document: dict) -> list[str]:
    """A short table of :func:`attribution_json`'s document: thresholds, then the ladder."""
    d = document
    window = d["window"]
    thresholds = d["thresholds"]
    formula = thresholds["formula"]
    retrained = thresholds["retrain_F"]
    lines = [plain_line(thresholds["oneshot_accuracy"]["mean"], formula["mean"],
                        formula["interval"]),
             "  retraining the kept weights stays within eps of the trained objective up to "
             f"removing {_percent(retrained['mean'])}; "
             f"{100 * d['retrain_converged_fraction']:.0f} % of the retraining runs converged",
             f"{d['dataset']}, {d['arch']}, l1 = {d['l1']:g}, {d['seeds']} seed(s), "
             f"D = {d['num_params']}; theory window ±{window['half_width']:.3f} "
             f"(eta = {window['eta']:g})",
             f"  {'threshold':<32} {'mean':>6}  interval"]
    for name, t in d["thresholds"].items():
        if t is None:
            lines.append(f"  {name:<32} {'—':>6}  ({d['missing'][name]})")
        elif t["mean"] is None:
            lines.append(f"  {name:<32} {'none':>6}  (fails at the first ratio on every seed)")
        else:
            lo, hi = t["interval"]
            note = ("  (its solver did not converge: not certified)"
                    if t.get("converged") is False else "")
            lines.append(f"  {name:<32} {t['mean']:>6.3f}  [{lo:.3f}, {hi:.3f}]{note}")
    lines.append("  ladder (difference = to - from; * = larger than the theory window):")
    for stage in d["stages"]:
        if stage["difference"] is None:
            lines.append(f"    {stage['meaning']}: not measured ({stage['reason']})")
        elif stage.get("unconverged"):
            lines.append(f"    {stage['meaning']}: {stage['difference']:+.3f} (not judged: "
                         f"{', '.join(stage['unconverged'])} did not converge)")
        else:
            mark = "" if stage["within_window"] else " *"
            lines.append(f"    {stage['meaning']}: {stage['difference']:+.3f}{mark}")
    lines.append(premise_line(d))
    lines += [f"  warning: {w}" for w in d["warnings"]]
    return lines


def methods_json(m) -> dict:
    """The JSON document of a :class:`phasetrans.applications.methods.MethodComparison` (``sweep``):
    per method the seed-mean curve, its direct and effective thresholds; the prediction for
    reference."""
    c = m.comparison
    predictions = c.predictions
    formula_summary = _seed_summary([p.formula.removal_ratio for p in predictions],
                                    [p.formula.interval for p in predictions])
    document = {
        "dataset": c.dataset, "arch": c.arch, "l1": c.l1, "seeds": len(predictions),
        "num_params": predictions[0].num_params,
        "predicted": formula_summary,
        "window": closed_forms.theory_window(predictions[0].num_params)._asdict(),
        "unpruned_test_accuracy": np.asarray(c.sweep.unpruned_test_accuracy).tolist(),
        "criterion": f"test accuracy >= unpruned - {m.accuracy_tol} (first failure)",
        "nettrim": {"epsilon": m.nettrim_epsilon, "variant": m.nettrim_variant},
        "methods": {}, "stationarity": stationarity_json(c), "warnings": list(c.warnings)}
    for name, curve in m.curves.items():
        s = curve.sweep
        points = [{"removal_ratio": float(p),
                   "effective_removal_ratio": float(curve.effective_removal_ratios[:, j].mean()),
                   "test_accuracy": float(s.test_accuracy[:, j].mean()),
                   "train_loss": float(s.train_loss[:, j].mean()),
                   "test_accuracy_per_seed": np.asarray(s.test_accuracy[:, j]).tolist()}
                  for j, p in enumerate(s.removal_ratios)]
        entry = {"points": points,
                 "threshold": _mean_or_none(curve.empirical.accuracy),
                 "threshold_per_seed": curve.empirical.accuracy.tolist(),
                 "effective_threshold": _mean_or_none(curve.effective_threshold),
                 "effective_threshold_per_seed": curve.effective_threshold.tolist()}
        if curve.info is not None:
            entry.update(converged=curve.info.converged, solver_info=curve.info.to_dict())
        document["methods"][name] = entry
    return document


def methods_lines(document: dict) -> list[str]:
    """A short table of :func:`methods_json`'s document: each method's thresholds."""
    d = document
    p = d["predicted"]
    fmt = lambda x: "none" if x is None else f"{x:.3f}"  # noqa: E731
    best = max(d["methods"], key=lambda m: -1.0 if d["methods"][m]["threshold"] is None
               else d["methods"][m]["threshold"])
    lines = [f"{best} pruning removes the most before test accuracy drops "
             f"({_percent(d['methods'][best]['threshold'])}); the theory predicts "
             f"{_percent(p['removal_ratio'])}",
             f"{d['dataset']}, {d['arch']}, l1 = {d['l1']:g}, {d['seeds']} seed(s), "
             f"D = {d['num_params']}",
             f"  predicted (width formula) {p['removal_ratio']:.3f} [{p['interval'][0]:.3f}, "
             f"{p['interval'][1]:.3f}], theory window ±{d['window']['half_width']:.3f}",
             f"  threshold: {d['criterion']}",
             f"  {'method':<10} {'direct':>7} {'effective':>9}"]
    for name, entry in d["methods"].items():
        flag = "" if entry.get("converged", True) else "  (Net-Trim ADMM NOT converged)"
        lines.append(f"  {name:<10} {fmt(entry['threshold']):>7} "
                     f"{fmt(entry['effective_threshold']):>9}{flag}")
    lines.append(premise_line(d))
    lines += [f"  warning: {w}" for w in d["warnings"]]
    return lines
