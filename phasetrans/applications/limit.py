"""Is the predicted threshold a limit? Witness searches against the prediction, and a verdict.

[ZZSL] predicts a removal ratio p̂ beyond which no support of size (1 - p) D meets the tolerance
set S = {F <= F_ref + eps}; the claim holds up to the window a_eta sqrt(D) / D of [ALMT Thm I].
:func:`limit_test` runs the witness searches of :mod:`phasetrans.networks.witnesses` on the
networks of a :class:`~phasetrans.applications.compare.Comparison` and compares the best witness
(criterion F <= F*_fair + eps, the fair reference) with the prediction:

- "beaten beyond the window": a witness removes more than p̂ + window (seed means): the limit is
  refuted on these networks;
- "beaten within the window": more than p̂ but within the window: consistent with the theory at
  this D;
- "not beaten by these searches": no witness above p̂; this supports the limit only as far as
  the searches were strong (their budgets and convergence are reported beside it).

Every best witness can be written to a file (:mod:`phasetrans.applications.witness_file`) that
``phasetrans check-witness`` re-checks from the file alone.

References:
    [ZZSL] Q. Zhang, R. Zhang, J. Sun, Y. Liu, "How sparse can we prune a deep network: a
        fundamental limit perspective", NeurIPS 2024, sec. 4-5.
    [ALMT] D. Amelunxen, M. Lotz, M. McCoy, J. Tropp, "Living on the edge", Inf. Inference 2014.
"""

from __future__ import annotations

import math
import pathlib
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from phasetrans import _checks
from phasetrans.applications import witness_file
from phasetrans.applications.compare import Comparison
from phasetrans.geometry import closed_forms, feasibility
from phasetrans.networks import train, witnesses
from phasetrans.theory import predict

VERDICTS = ("beaten beyond the window", "beaten within the window",
            "not beaten by these searches")
"""The verdicts of :func:`verdict`, from the strongest."""

PREDICTIONS = ("formula", "mc_ellipsoid", "mc_l1_body")
"""The predictions a verdict can be taken against (the width formula is the headline)."""

DEFAULT_SEARCHES = ("retrain",)
"""What the command line runs unless told otherwise (the cheapest search)."""

SEARCH_NAMES = {"retrain": "masked retraining from the magnitude support",
                "imp": "iterative magnitude pruning with retraining",
                "gradual": "gradual magnitude pruning during training",
                "model": "masked retraining of the support the l1-induced model picks"}


def verdict(best_witness_ratio, predicted: float, window: float) -> str:
    """One of :data:`VERDICTS`: the best witness ratio (None/NaN: no witness) against the
    prediction p̂ and the window half-width (strictly beyond p̂ + window: beaten beyond)."""
    _checks.real("predicted", predicted)
    _checks.real("window", window, nonnegative=True)
    if best_witness_ratio is None or not math.isfinite(best_witness_ratio):
        return VERDICTS[2]
    if best_witness_ratio > predicted + window:
        return VERDICTS[0]
    if best_witness_ratio > predicted:
        return VERDICTS[1]
    return VERDICTS[2]


class LimitTest(NamedTuple):
    """What :func:`limit_test` found.

    Attributes:
        reference: the fair reference (:class:`phasetrans.networks.witnesses.Reference`).
        results: search name -> :class:`phasetrans.networks.witnesses.SearchResult`.
        predictions: name in :data:`PREDICTIONS` -> (S,) per-seed predicted ratios (None when
            not computed).
        window: the :class:`phasetrans.geometry.closed_forms.TheoryWindow` at this D.
        options: the searches' :class:`~phasetrans.networks.witnesses.SearchOptions`.
        witness_files: paths written (empty without ``witness_dir``).
    """

    reference: witnesses.Reference
    results: dict
    predictions: dict
    window: closed_forms.TheoryWindow
    options: witnesses.SearchOptions
    witness_files: list


def _predictions(c: Comparison) -> dict:
    def per_seed(get):
        values = [get(p) for p in c.predictions]
        return None if any(v is None for v in values) else np.asarray(values, np.float64)

    return {"formula": per_seed(lambda p: p.formula.removal_ratio),
            "mc_ellipsoid": per_seed(lambda p: None if p.ellipsoid is None
                                     else p.ellipsoid.removal_ratio),
            "mc_l1_body": per_seed(lambda p: None if p.l1_body is None
                                   else p.l1_body.removal_ratio)}


def limit_test(comparison: Comparison, *, key, searches=DEFAULT_SEARCHES,
               options: witnesses.SearchOptions | None = None, init=None,
               witness_dir=None, progress: bool = False) -> LimitTest:
    """Run the witness ``searches`` on the networks of ``comparison`` (see the module docstring).

    Args:
        comparison: from :func:`phasetrans.applications.compare.assess` (its eps per network is
            the tolerance).
        key: the key ``assess`` was given (keyword-only, required): recorded in witness files
            so that eps can be recomputed.
        searches: names in :data:`phasetrans.networks.witnesses.SEARCHES` (default
            :data:`DEFAULT_SEARCHES`); may be empty (then the verdict is "not beaten").
        options: :class:`~phasetrans.networks.witnesses.SearchOptions` (default: its defaults).
        init: where ``"gradual"`` starts (params with a seed axis); default None: the built-in
            networks' own initialisation (:func:`phasetrans.networks.train.initial_params`), or
            w* for a problem of your own.
        witness_dir: a directory to write every best witness to (one ``.npz`` per search, seed
            and criterion), or None (default).
        progress: progress on stderr (default False).
    """
    if not isinstance(comparison, Comparison):
        raise TypeError(f"comparison must be a Comparison, got {type(comparison).__name__}")
    key = _checks.prng_key("key", key)
    searches = tuple(searches)
    for name in searches:
        _checks.one_of("searches", name, witnesses.SEARCHES)
    if len(set(searches)) != len(searches):
        raise ValueError(f"searches lists a search twice: {searches}")
    options = _checks.options("options", options, witnesses.SearchOptions)
    if witness_dir is not None:
        witness_dir = pathlib.Path(witness_dir)
        if not witness_dir.is_dir():
            raise ValueError(f"witness_dir {str(witness_dir)!r} is not an existing directory")
    problem = comparison.problem
    epsilons = [p.noise.epsilon.mean for p in comparison.predictions]
    ref = witnesses.reference(problem, epsilon=epsilons, options=options,
                              max_steps=reference_budget(searches, options))
    if init is None and ("gradual" in searches or options.rewind == "init"):
        init = train.initial_params(problem)
    scores = model_scores(comparison) if "model" in searches else None
    results = {name: witnesses.search(problem, name, ref=ref, options=options, init=init,
                                      scores=scores, progress=progress) for name in searches}
    files = [] if witness_dir is None else _write_witnesses(witness_dir, comparison, key, ref,
                                                            results, options)
    return LimitTest(ref, results, _predictions(comparison),
                     closed_forms.theory_window(comparison.predictions[0].num_params), options,
                     files)


def reference_budget(searches, options: witnesses.SearchOptions) -> int:
    """The fair reference's length in steps in :func:`limit_test`: the largest
    :func:`phasetrans.networks.witnesses.search_budget` among ``searches`` (one retraining's
    cap when there are none), so the dense network gets as much optimisation as any search."""
    return max([witnesses.search_budget(n, options) for n in searches],
               default=options.stop.max_steps)


def model_scores(c: Comparison):
    """The ranking of the ``"model"`` search, per network: the minimiser x̂ of the l1-induced
    quadratic model of F over all coordinates (:func:`phasetrans.geometry.feasibility.
    l1_support_minimum` on the full support, from the prediction's exact spectrum): the
    weights where x̂ != 0 rank first, by |x̂|, the rest by |w*|. Params-shaped with the seed
    axis. Needs an exact spectrum (``ValueError`` otherwise: the model search needs the
    eigendecomposition, D <= ``limits.MAX_DENSE_DIM``)."""
    per_seed = []
    for s, prediction in enumerate(c.predictions):
        body = predict.l1_induced_body(prediction, c.l1)
        if body is None:
            raise ValueError("the 'model' search needs the exact Hessian spectrum (--spectrum "
                             "exact, D <= MAX_DENSE_DIM); drop it from the searches")
        flat, unravel = ravel_pytree(c.problem.seed(s))
        index = np.asarray(prediction.model.index)
        minimum = feasibility.l1_support_minimum(body, jnp.ones(index.size, bool))
        point = np.asarray(minimum.point, np.float64)
        magnitude = np.abs(np.asarray(flat, np.float64))
        ranking = magnitude.copy()
        ranking[index] = np.where(point != 0, np.abs(point) + magnitude[index].max(),
                                  magnitude[index])
        per_seed.append(unravel(jnp.asarray(ranking, flat.dtype)))
    return jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *per_seed)


def _write_witnesses(directory, c: Comparison, key, ref, results, options) -> list:
    problem = c.problem
    meta = problem.metadata
    written = []
    for name, result in results.items():
        for s, best in enumerate(result.witnesses):
            noise = c.predictions[s].noise
            recorded = None if not noise.batch_size else {
                "key_data": np.asarray(jax.random.key_data(predict.noise_key(
                    predict.seed_key(key, s, problem.num_seeds)))).tolist(),
                "batch_size": noise.batch_size, "num_batches": noise.epsilon.num_samples}
            for criterion, w in zip(witnesses.CRITERIA, best, strict=True):
                if w is None:
                    continue
                claim = {"criterion": criterion, "search": name, "settings": result.settings,
                         "target_ratio": w.target_ratio, "objective": w.objective,
                         "train_loss": w.train_loss, "test_accuracy": w.test_accuracy,
                         "steps": w.steps, "converged": w.converged,
                         "trained_objective": float(ref.objective[s]),
                         "fair_objective": float(ref.fair_objective[s]),
                         "trained_test_accuracy": float(ref.test_accuracy[s]),
                         "epsilon": float(ref.epsilon[s]), "epsilon_noise": recorded,
                         "accuracy_tol": options.accuracy_tol, "l1": problem.l1,
                         "problem": {"dataset": meta.get("dataset"), "arch": meta.get("arch"),
                                     "seed": meta.get("seed"), "network": s,
                                     "source": meta.get("source")}}
                path = directory / f"{name}-seed{s}-{criterion}.npz"
                witness_file.write(path, witness=w.params, trained=problem.seed(s),
                                   dense=jax.tree_util.tree_map(lambda a, s=s: a[s], ref.dense),
                                   prunable=problem.prunable, claim=claim)
                written.append(str(path))
    return written


def _mean(values) -> float | None:
    values = np.asarray(values, np.float64)
    return float(np.nanmean(values)) if np.any(np.isfinite(values)) else None


def _nan_to_none(values) -> list:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values, np.float64)]


def limit_json(lt: LimitTest) -> dict:
    """The ``limit`` entry of the predict / explain / sweep JSON (plain Python types)."""
    fair = witnesses.CRITERIA.index("objective")
    per_search = {}
    for name, r in lt.results.items():
        ratios = r.witness_ratio[:, fair]
        finite = ratios[np.isfinite(ratios)]
        per_search[name] = {
            "mean": _mean(ratios), "per_seed": _nan_to_none(ratios),
            "interval": None if finite.size == 0 else [float(finite.min()), float(finite.max())],
            "by_criterion": {c: {"mean": _mean(r.witness_ratio[:, i]),
                                 "per_seed": _nan_to_none(r.witness_ratio[:, i])}
                             for i, c in enumerate(witnesses.CRITERIA)},
            "target_bracket_per_seed": r.bracket[:, fair].tolist(),
            "contiguous_per_seed": r.contiguous[:, fair].tolist(),
            "converged_fraction": r.converged_fraction, "seconds": r.seconds}
    means = {n: v["mean"] for n, v in per_search.items() if v["mean"] is not None}
    best_search = max(means, key=means.get) if means else None
    best = means.get(best_search)
    values = {n: None if v is None else float(np.mean(v)) for n, v in lt.predictions.items()}
    window = lt.window.half_width
    runs = [r.converged_fraction for r in lt.results.values()]
    ref = lt.reference
    return {
        "witness_ratio": per_search, "best_witness_ratio": best, "best_search": best_search,
        "prediction": {"name": "formula", "value": values["formula"], "values": values},
        "window": window, "eta": lt.window.eta,
        "verdict": verdict(best, values["formula"], window),
        "verdicts": {n: verdict(best, v, window) for n, v in values.items() if v is not None},
        "criterion": witness_file.CLAIMS["objective"] + " (F*_fair: w* continued with the "
                     "largest budget of the searches)",
        "searches": {n: lt.results[n].settings for n in lt.results},
        "converged_fraction": float(np.mean(runs)) if runs else None,
        "reference": {"objective": ref.objective.tolist(),
                      "fair_objective": ref.fair_objective.tolist(),
                      "decrease_in_epsilon": ref.decrease_in_epsilon.tolist(),
                      "best_step": ref.best_step.tolist(), "max_steps": ref.max_steps,
                      "epsilon": ref.epsilon.tolist()},
        "witness_files": list(lt.witness_files)}


def _percent(ratio) -> str:
    return f"{100 * ratio:.0f} %"


def limit_lines(document: dict) -> list[str]:
    """The verdict in words (first line) and one line per search, from :func:`limit_json`."""
    d = document
    predicted, window = d["prediction"]["value"], d["window"]
    best, name = d["best_witness_ratio"], d["best_search"]
    limit = (f"the theory says none exists beyond {_percent(predicted)} "
             f"(± {_percent(window)} at this size)")
    if not d["witness_ratio"]:
        first = f"Is the prediction a limit? Not tested (no witness search ran); {limit}."
    elif best is None:
        first = (f"Is the prediction a limit? {d['verdict'].capitalize()}: no search found a "
                 f"pruned network within eps of the trained objective; {limit}.")
        most = max(d["reference"]["decrease_in_epsilon"])
        if most > 1:  # every search failed at p = 0 too: the reference is out of reach
            first += (f" Not even unpruned: w* continued for "
                      f"{d['reference'].get('max_steps', 'the searches')} steps lowers F by up "
                      f"to {most:.1f} eps, further than the searches' runs reach, so w* is not "
                      "a minimum of F at the searches' horizon and this test cannot decide "
                      "(phasetrans.networks.witnesses.settle trains w* on until it is).")
    else:
        first = (f"Is the prediction a limit? {d['verdict'].capitalize()}: "
                 f"{SEARCH_NAMES[name]} found a network within eps of the trained objective "
                 f"with {_percent(best)} of the weights removed; {limit}"
                 + ("." if d["verdict"] != VERDICTS[2] else
                    " (a search that fails does not prove the limit)."))
    lines = [first]
    for search, entry in d["witness_ratio"].items():
        mean = "none" if entry["mean"] is None else f"{entry['mean']:.3f}"
        lines.append(f"  witness search {search:<8} best removal ratio {mean} "
                     f"({100 * entry['converged_fraction']:.0f} % of its runs converged, "
                     f"{entry['seconds']:.0f} s)")
    shift = np.mean(d["reference"]["decrease_in_epsilon"])
    lines.append(f"  fair reference: w* continued with the largest search budget lowers F "
                 f"by {shift:.2g} eps (seed mean)")
    return lines
