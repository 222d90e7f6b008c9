"""Attribute the gap between the predicted and the measured pruning threshold, stage by stage.

The prediction p_hat = delta(cone(K - x_p)) / D (x_p = M_p ⊙ w*) claims that the kept-coordinate
subspace V_p meets the tolerance body K for p < p_hat [ZZSL sec. 4]; one-shot pruning tests
only the single point x_p, by a different criterion. Each step between the two is measured on
its own [ZZSL sec. 4; ALMT Thm I]:

1. formula vs delta: the width formula vs the Monte Carlo delta of the same ellipsoid's cone;
2. kinematic formula: random k-dim subspaces through x_p (:mod:`phasetrans.geometry.subspaces`) vs
delta;
3. support vs random: the actual magnitude support V_p, exactly
(:mod:`phasetrans.geometry.feasibility`);
4. model vs network: masked retraining of F = L + lam ||w||_1 on V_p
(:mod:`phasetrans.networks.retrain`);
5. feasible vs one-shot, and the criterion (F, L, test accuracy) and rule (first failure vs the
   official code's scan) of the measured threshold.

:func:`attribute` takes a :class:`phasetrans.applications.compare.Comparison` (trained networks,
their predictions and one-shot sweep) and returns an :class:`Attribution` with every threshold per
seed, the theory window +-a_eta sqrt(D) / D, and the ladder of consecutive differences.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, limits
from phasetrans._progress import track
from phasetrans.applications.compare import Comparison
from phasetrans.estimate import SolverInfo
from phasetrans.geometry import bodies, closed_forms, feasibility, subspaces
from phasetrans.networks import prune, retrain
from phasetrans.theory import formula, predict

THRESHOLDS = ("formula", "mc_ellipsoid", "mc_l1_body", "random_subspace_ellipsoid",
              "random_subspace_l1_body", "support_ellipsoid", "support_l1_body", "retrain_F",
              "retrain_L", "retrain_accuracy", "oneshot_F", "oneshot_L", "oneshot_accuracy",
              "oneshot_accuracy_official_rule")
"""Every threshold :func:`attribute` reports, in ladder order (see ``STAGES``)."""

STAGES = (
    ("formula", "mc_ellipsoid", "formula vs delta: the width formula's approximation of the "
                                "ellipsoid cone's statistical dimension"),
    ("mc_ellipsoid", "random_subspace_ellipsoid", "kinematic formula: random subspaces vs "
                                                  "delta (ellipsoid)"),
    ("random_subspace_ellipsoid", "support_ellipsoid", "support is not a random subspace "
                                                       "(ellipsoid)"),
    ("mc_l1_body", "random_subspace_l1_body", "kinematic formula: random subspaces vs delta "
                                              "(l1-induced body)"),
    ("random_subspace_l1_body", "support_l1_body", "support is not a random subspace "
                                                   "(l1-induced body)"),
    ("support_ellipsoid", "support_l1_body", "quadratic vs l1-induced model on the support"),
    ("support_l1_body", "retrain_F", "quadratic/l1 model vs network (masked retraining, "
                                     "F <= F* + eps)"),
    ("retrain_F", "oneshot_F", "retraining vs one-shot (F criterion)"),
    ("oneshot_F", "oneshot_L", "criterion: F = L + lam ||w||_1 vs L"),
    ("oneshot_L", "oneshot_accuracy", "criterion: train loss vs test accuracy"),
    ("oneshot_accuracy", "oneshot_accuracy_official_rule", "rule: first failure vs the official "
                                                           "code's scan from the top"),
)
"""(from, to, meaning) of each step; a step with a missing end is reported with its reason."""


class Threshold(NamedTuple):
    """One threshold across seeds: ``per_seed`` (S,) removal ratios (NaN where undefined),
    their ``mean`` and ``interval`` (estimator intervals where the method has one, else the
    spread over seeds); ``reason`` says why it is missing (then ``per_seed`` is empty);
    ``converged`` is False when a solver behind it did not converge on some seed (the value
    is then not certified, see ``Attribution.info``), None when no solver is behind it."""

    mean: float | None
    per_seed: list
    interval: tuple | None
    reason: str | None = None
    converged: bool | None = None

    def to_dict(self) -> dict | None:
        if self.reason is not None:
            return None
        return {"mean": self.mean, "per_seed": self.per_seed, "interval": list(self.interval),
                "converged": self.converged}


class Attribution(NamedTuple):
    """The stage-by-stage attribution of one configuration (see the module docstring).

    Attributes:
        comparison: the :class:`~phasetrans.applications.compare.Comparison` it extends.
        thresholds: name (``THRESHOLDS``) -> :class:`Threshold`.
        window: ``closed_forms.TheoryWindow`` at D (half-width in removal ratio).
        info: name -> worst ``SolverInfo`` of the solvers behind that threshold.
        retrain_converged: fraction of retraining runs whose F stopped changing (its tol).
    """

    comparison: Comparison
    thresholds: dict
    window: closed_forms.TheoryWindow
    info: dict
    retrain_converged: float


class AttributionOptions(NamedTuple):
    """Costs of :func:`attribute`.

    ``num_ratios``: grid of nested supports for the exact support feasibility (default 101);
    ``subspace_ratios``, ``num_subspaces``: removal ratios (around the body's Monte Carlo
    prediction, +-0.3) and Haar subspaces for the random-subspace fractions (the same
    subspaces through every ratio's x_p, common random numbers; the ellipsoid's are exact least
    squares, one QR per subspace for all ratios; the l1 body's ADMM solves are computed for
    D <= ``l1_max_dim``); ``l1_max_iters``: iteration budget of every l1-body solve (FISTA on
    the supports, ADMM on the subspaces): where the model is unbounded along flat directions
    (g* outside range(H) beyond lam) no certificate exists and a solve would run to its budget,
    so it is kept small and reported (``solver_info``); ``retrain_ratios``, ``retrain_steps``,
    ``retrain_learning_rate``: masked Adam retraining on that grid, ``retrain_sequential``
    its ratios one after the other (``retrain.retrain``'s ``sequential``: 2.5x faster on
    the mnist1d CNN, default False); ``l1_support_max_dim``: the l1 body's support feasibility
    (a FISTA chain over the nested supports, the costliest step: ~12 min at D = 3392 on 2
    cores) is computed for D <= this (default ``limits.MAX_DENSE_DIM``: always with an exact
    spectrum);
    ``accuracy_tol``: the accuracy criterion's tolerance (default 0.01: retraining from w*
    itself moves test accuracy by about a point, so a zero tolerance fails at p = 0).
    """

    num_ratios: int = 101
    subspace_ratios: int = 9
    num_subspaces: int = 24
    l1_num_subspaces: int = 8
    l1_max_dim: int = 1500
    l1_max_iters: int = 3000
    retrain_ratios: int = 51
    retrain_steps: int = 2000
    retrain_learning_rate: float = 3e-3
    retrain_sequential: bool = False
    l1_support_max_dim: int = limits.MAX_DENSE_DIM
    accuracy_tol: float = 0.01

    def validate(self) -> AttributionOptions:
        """``self`` if every field is allowed; ``ValueError``/``TypeError`` naming it if not."""
        for field in ("num_ratios", "subspace_ratios", "num_subspaces", "l1_num_subspaces",
                      "retrain_ratios"):
            _checks.integer(f"AttributionOptions.{field}", getattr(self, field), minimum=2)
        for field in ("l1_max_dim", "l1_support_max_dim"):
            _checks.integer(f"AttributionOptions.{field}", getattr(self, field), minimum=0)
        for field in ("l1_max_iters", "retrain_steps"):
            _checks.integer(f"AttributionOptions.{field}", getattr(self, field), minimum=1)
        _checks.real("AttributionOptions.retrain_learning_rate", self.retrain_learning_rate,
                     positive=True)
        _checks.boolean("AttributionOptions.retrain_sequential", self.retrain_sequential)
        _checks.real("AttributionOptions.accuracy_tol", self.accuracy_tol, nonnegative=True)
        return self


def _summary(per_seed, intervals=None) -> Threshold:
    values = np.asarray(per_seed, np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return Threshold(None, [None] * values.size, (None, None))
    if intervals is None:
        interval = (float(finite.min()), float(finite.max()))
    else:
        interval = (float(np.nanmin([i[0] for i in intervals])),
                    float(np.nanmax([i[1] for i in intervals])))
    return Threshold(float(finite.mean()), [float(v) if np.isfinite(v) else None
                                            for v in values], interval)


def _too_large(what: str, dim: int, limit: int, option: str) -> str:
    """Why a costly step was not computed, in words."""
    if limit == 0:
        return f"not computed: {what} is turned off (AttributionOptions.{option} = 0)"
    return (f"not computed: {what} is limited to networks of at most {limit} prunable weights "
            f"(AttributionOptions.{option}); this one has {dim}")


def _missing(reason: str) -> Threshold:
    return Threshold(None, [], None, reason)


def _crossing(removal_ratios, fractions) -> float:
    """Largest removal ratio before the meeting fraction first drops below 1/2 (interpolated).

    Reuses :func:`formula.fixed_point` on c(p) = p + f(p) - 1/2, whose crossing of the
    diagonal is f = 1/2."""
    p = np.asarray(removal_ratios, np.float64)
    return formula.fixed_point(p, p + np.asarray(fractions, np.float64) - 0.5)


def _subspace_threshold(body, apexes, ratios, *, key, num_subspaces, dim, solver=None):
    """Random-subspace 50% point in removal ratio: for each ratio p and its apex x_p (row of
    ``apexes``), the fraction of Haar subspaces of dimension k = D - floor(p D) through x_p
    meeting ``body`` (the same subspaces for every ratio: :func:`subspaces.transitions`);
    returns (threshold, interval from the +-2 SEM band widened to at least half a grid step
    on each side: the ratios are a grid, and a crossing is located no better than it,
    worst SolverInfo)."""
    kept = dim - np.floor(np.asarray(ratios) * dim + 1e-6).astype(np.int64)
    grid = np.unique(kept)
    results = subspaces.transitions(body, apexes, key=key, dims=grid,
                                    num_subspaces=num_subspaces, solver=solver)
    at = np.searchsorted(grid, kept)
    fractions = np.array([r.fraction.mean[i] for r, i in zip(results, at, strict=True)])
    sems = np.array([r.fraction.sem[i] for r, i in zip(results, at, strict=True)])
    value = _crossing(ratios, fractions)
    half_step = 0.5 * float(np.min(np.diff(np.sort(np.asarray(ratios, np.float64)))))
    interval = (min(_crossing(ratios, np.clip(fractions - 2 * sems, 0, 1)),
                    max(value - half_step, 0.0)),
                max(_crossing(ratios, np.clip(fractions + 2 * sems, 0, 1)),
                    min(value + half_step, 1.0)))
    return value, interval, SolverInfo.combine(*(r.info for r in results))


def _around(centre: float, count: int) -> np.ndarray:
    return np.linspace(max(centre - 0.3, 0.02), min(centre + 0.3, 0.98), count)


def _seed_thresholds(c: Comparison, s: int, centres: dict, options: AttributionOptions, key,
                     with_l1_subspaces: bool) -> dict:
    """Steps 2 and 3 for seed ``s``: name -> (threshold, interval, SolverInfo)."""
    pred, model = c.predictions[s], c.predictions[s].model
    params, prunable = c.problem.seed(s), c.problem.prunable
    eps, dim = pred.noise.epsilon.mean, pred.num_params
    dtype = jnp.result_type(float)
    lam = jnp.asarray(formula.positive_eigenvalues(
        model.eigenvalues, eigen_treatment=pred.formula.eigen_treatment,
        floor=pred.formula.floor), dtype)
    vecs, center = jnp.asarray(model.eigenvectors, dtype), jnp.asarray(model.center, dtype)
    l1_body = predict.l1_induced_body(pred, c.l1)
    out = {}
    # step 3: the actual nested supports, exactly (the ellipsoid: min 1/2 q^T A q vs eps)
    grid = np.linspace(0.0, 1.0, options.num_ratios)
    _, keeps = prune.pruned_points(params, grid, prunable)
    problems = {"support_ellipsoid": lambda: feasibility.support_minima(
        keeps, center=center, eigenvalues=lam, eigenvectors=vecs)}
    if dim <= options.l1_support_max_dim:
        problems["support_l1_body"] = lambda: feasibility.support_minima(
            keeps, body=l1_body,
            solver=feasibility.L1_SOLVER._replace(max_iters=options.l1_max_iters))
    for name, solve in problems.items():
        minima = solve()
        value = feasibility.threshold(grid, np.asarray(minima.value), eps).removal_ratio
        out[name] = (value, (value, value), SolverInfo.worst(minima.info))
    # step 2: Haar subspaces through the same x_p (the ellipsoid in H's eigenbasis, where it
    # is axis-aligned: Haar subspaces are rotation invariant)
    semi_axes = jnp.sqrt(2.0 * eps / lam)
    k_ell, k_l1 = jax.random.split(key)
    ratios = _around(centres["ellipsoid"] or pred.formula.removal_ratio,
                     options.subspace_ratios)
    points, _ = prune.pruned_points(params, ratios, prunable)
    out["random_subspace_ellipsoid"] = _subspace_threshold(
        bodies.Ellipsoid.create(semi_axes, vecs.T @ center), jnp.asarray(points, dtype) @ vecs,
        ratios, key=k_ell, num_subspaces=options.num_subspaces, dim=dim)
    if with_l1_subspaces:
        ratios = _around(centres["l1_body"] or pred.formula.removal_ratio,
                         options.subspace_ratios)
        points, _ = prune.pruned_points(params, ratios, prunable)
        out["random_subspace_l1_body"] = _subspace_threshold(
            l1_body, jnp.asarray(points, dtype), ratios, key=k_l1,
            num_subspaces=options.l1_num_subspaces, dim=dim,
            solver=subspaces.SOLVER._replace(max_iters=options.l1_max_iters))
    return out


def attribute(comparison: Comparison, *, key, options: AttributionOptions | None = None,
              eta: float = 0.05, progress: bool = False,
              devices: int | None = None) -> Attribution:
    """Every threshold of the ladder (module docstring) for the networks of ``comparison``.

    Needs the exact spectrum (``predict`` with ``SpectrumOptions("exact")``); for an SLQ
    prediction the model-based thresholds are missing with a reason. Random-subspace and
    support thresholds use the same eigenvalue treatment as the Monte Carlo predictions
    (``formula.positive_eigenvalues`` for the ellipsoid, ``formula.psd_eigenvalues`` for the
    l1-induced body).

    Args:
        comparison: from :func:`phasetrans.applications.compare.compare`.
        key: PRNG key (keyword-only, required) for the random subspaces.
        options: :class:`AttributionOptions` (None: the defaults).
        eta: level of the theory window a_eta sqrt(D) [ALMT Thm I] (default 0.05).
        progress: progress bars on stderr (default False).
        devices: devices sharing the retraining's (seed, ratio) pairs (default None: one).
    """
    key = _checks.prng_key("key", key)
    options = _checks.options("options", options, AttributionOptions)
    c = comparison
    predictions = c.predictions
    num_seeds = len(predictions)
    dim = predictions[0].num_params
    window = closed_forms.theory_window(dim, eta=eta)
    thresholds = {"formula": _summary([p.formula.removal_ratio for p in predictions],
                                      [p.formula.interval for p in predictions])}
    infos = {}
    for name, attr in (("mc_ellipsoid", "ellipsoid"), ("mc_l1_body", "l1_body")):
        mcs = [getattr(p, attr) for p in predictions]
        if any(m is None for m in mcs):
            thresholds[name] = _missing("not computed at this D or spectrum (see predict's "
                                        "EllipsoidOptions / L1BodyOptions)")
        else:
            thresholds[name] = _summary([m.removal_ratio for m in mcs], [m.interval for m in mcs])
            infos[name] = SolverInfo.combine(*(m.info for m in mcs))

    names = ("support_ellipsoid", "support_l1_body", "random_subspace_ellipsoid",
             "random_subspace_l1_body")
    has_model = all(p.model is not None for p in predictions)
    with_l1_subspaces = has_model and dim <= options.l1_max_dim
    centres = {body: (thresholds[name].mean if thresholds[name].reason is None else None)
               for body, name in (("ellipsoid", "mc_ellipsoid"), ("l1_body", "mc_l1_body"))}
    per_seed = [_seed_thresholds(c, s, centres, options, jax.random.fold_in(key, s),
                                 with_l1_subspaces)
                for s in track(range(num_seeds) if has_model else (),
                               desc="attribution (per seed)", enabled=progress)]
    for name in names:
        if not has_model:
            thresholds[name] = _missing(f"needs the exact spectrum (at most "
                                        f"{limits.MAX_DENSE_DIM} parameters)")
        elif name == "random_subspace_l1_body" and not with_l1_subspaces:
            thresholds[name] = _missing(_too_large("an ADMM solve of the l1-induced body per "
                                                   "random subspace", dim, options.l1_max_dim,
                                                   "l1_max_dim"))
        elif name == "support_l1_body" and dim > options.l1_support_max_dim:
            thresholds[name] = _missing(_too_large("the exact feasibility of the l1-induced "
                                                   "body on each support", dim,
                                                   options.l1_support_max_dim,
                                                   "l1_support_max_dim"))
        else:
            values, seed_intervals, seed_infos = zip(*(seed[name] for seed in per_seed),
                                                     strict=True)
            thresholds[name] = _summary(values, None if name.startswith("support")
                                        else seed_intervals)
            infos[name] = SolverInfo.combine(*seed_infos)

    # steps 4 and 5: masked retraining and one-shot points on one grid, all seeds at once
    retrain_grid = np.linspace(0.0, 1.0, options.retrain_ratios)
    result = retrain.retrain(c.problem, retrain_grid, steps=options.retrain_steps,
                             learning_rate=options.retrain_learning_rate, progress=progress,
                             sequential=options.retrain_sequential, devices=devices)
    epsilons = np.array([p.noise.epsilon.mean for p in predictions])
    first = retrain.thresholds(result, epsilon=epsilons, accuracy_tol=options.accuracy_tol)
    official = retrain.thresholds(result, epsilon=epsilons, accuracy_tol=options.accuracy_tol,
                                  rule="official")
    for name, values in (("retrain_F", first.objective), ("retrain_L", first.loss),
                         ("retrain_accuracy", first.accuracy),
                         ("oneshot_F", first.oneshot_objective),
                         ("oneshot_L", first.oneshot_loss),
                         ("oneshot_accuracy", first.oneshot_accuracy),
                         ("oneshot_accuracy_official_rule", official.oneshot_accuracy)):
        thresholds[name] = _summary(values)
    infos["retrain"] = SolverInfo.worst(result.info)
    converged = float(np.mean(np.asarray(result.info.converged)))
    for name, info in infos.items():  # retraining's own measure: retrain_converged
        if name in thresholds and thresholds[name].reason is None:
            thresholds[name] = thresholds[name]._replace(converged=bool(info.converged))
    return Attribution(c, {name: thresholds[name] for name in THRESHOLDS}, window, infos,
                       converged)


def stages(a: Attribution) -> list[dict]:
    """The ladder: for each step of ``STAGES``, the mean difference (to - from) and its
    meaning, or the reason a step could not be measured. ``unconverged`` lists the ends whose
    solver did not converge; such a step is never judged against the theory window
    (``within_window`` None): its difference is not certified."""
    rows = []
    for start, end, meaning in STAGES:
        lo, hi = a.thresholds[start], a.thresholds[end]
        missing = next((t.reason for t in (lo, hi) if t.reason is not None), None)
        if missing is None and (lo.mean is None or hi.mean is None):
            missing = "a threshold is undefined on every seed"
        unconverged = [name for name, t in ((start, lo), (end, hi)) if t.converged is False]
        judged = missing is None and not unconverged
        rows.append({"from": start, "to": end, "meaning": meaning,
                     "difference": None if missing else hi.mean - lo.mean,
                     "within_window": bool(abs(hi.mean - lo.mean) <= a.window.half_width)
                     if judged else None,
                     "unconverged": unconverged, "reason": missing})
    return rows
