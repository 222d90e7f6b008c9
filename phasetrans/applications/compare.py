"""Predicted versus empirical pruning threshold for one configuration: the headline reproduction.

:func:`assess` takes any :class:`phasetrans.networks.problem.Problem` (your trained model, or
built-in networks), predicts each network's removal threshold with
:func:`phasetrans.theory.predict.predict`, checks that each is a minimum of F (the prediction's
premise), prunes every seed at every ratio of a grid in one vmapped sweep, and returns a
:class:`Comparison`; :func:`compare` first trains ``num_seeds`` built-in networks with an l1 penalty
in one vmapped call (LOMP's first step);
:mod:`phasetrans.applications.report` turns it into JSON and a readable summary,
:mod:`phasetrans.applications.plots` into
a figure. [ZZSL sec. 4-5; official code ``cal_rate.py`` / ``gaussian_width.py``,
https://github.com/QiaozheZhang/Global-One-shot-Pruning at commit e7c95904617b.]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from phasetrans import _checks
from phasetrans._progress import track
from phasetrans.networks import data, prune, train
from phasetrans.networks.problem import Problem
from phasetrans.theory import predict


class Comparison(NamedTuple):
    """Everything :func:`assess` computed for a :class:`~phasetrans.networks.problem.Problem`.

    Attributes:
        problem: the networks compared (params with a leading seed axis), their model and data.
        predictions: one :class:`phasetrans.theory.predict.Prediction` per seed.
        sweep: the one-shot sweep (:class:`phasetrans.networks.prune.SweepResult`, seeds x ratios).
        empirical: :class:`phasetrans.networks.prune.EmpiricalThreshold` per seed (first-failure
            rule).
        official: the same under the official code's rule (``rule="official"``).
        accuracy_tol: the accuracy criterion's tolerance.
        warnings: plain-language problems found (e.g. a network at chance accuracy).
        stationarity: one :class:`phasetrans.networks.stationarity.Stationarity` per seed: how close
            w* is to a minimum of F (the premise of the prediction).

    ``dataset``, ``arch``, ``num_classes`` and ``training`` come from the problem's metadata
    (``training``: how the networks were trained, ``optimizer``, ``rule``, ``steps`` and
    ``converged`` per seed; None entries when unknown), ``l1`` is the problem's.
    """

    problem: Problem
    predictions: list
    sweep: prune.SweepResult
    empirical: prune.EmpiricalThreshold
    official: prune.EmpiricalThreshold
    accuracy_tol: float
    warnings: list
    stationarity: list

    @property
    def dataset(self) -> str:
        return self.problem.metadata.get("dataset", "user data")

    @property
    def arch(self) -> str:
        return self.problem.metadata.get("arch", "user model")

    @property
    def l1(self) -> float:
        return self.problem.l1

    @property
    def num_classes(self) -> int | None:
        return self.problem.num_classes

    @property
    def training(self) -> dict:
        return self.problem.metadata.get("training", {
            "optimizer": None, "learning_rate": None,
            "rule": f"yours ({self.problem.metadata.get('source', 'unknown source')})",
            "steps": None, "converged": None})


def dead_network_warnings(unpruned_accuracy, num_classes: int | None) -> list[str]:
    """One warning per seed whose unpruned test accuracy is at or near chance (<= 1.5 / K):
    such a network learned nothing, so its thresholds (often "1.0 = 1.0") mean nothing.
    None when the number of classes is unknown."""
    if num_classes is None:
        return []
    chance = 1.0 / num_classes
    return [f"seed {s}: unpruned test accuracy {float(a):.3f} is at or near chance "
            f"({chance:.3f}); the network did not learn, so its thresholds are meaningless "
            "(lower --l1 or train longer)"
            for s, a in enumerate(np.asarray(unpruned_accuracy)) if a <= 1.5 * chance]


def assess(problem: Problem, *, key, options: predict.PredictOptions | None = None,
           num_sweep_ratios: int = 101, accuracy_tol: float = 0.0,
           further_steps: int = train.FURTHER_STEPS, progress: bool = False,
           devices: int | None = None, predictions: list | None = None) -> Comparison:
    """Predict, check the premise and prune the networks of ``problem``.

    Args:
        problem: a :class:`~phasetrans.networks.problem.Problem` (your model or a built-in one).
        key: PRNG key (keyword-only, required); the predictions use
            :func:`phasetrans.theory.predict.predict_problem`'s keys.
        options: :class:`phasetrans.theory.predict.PredictOptions` (None: the defaults).
        num_sweep_ratios: grid size of the empirical one-shot sweep over [0, 1] (default 101).
        accuracy_tol: accuracy criterion: pruned test accuracy >= unpruned - tol (default 0).
        further_steps: measure (b) of every network's stationarity check
            (:func:`phasetrans.networks.train.check_stationarity`, eps = its prediction's; default
            :data:`phasetrans.networks.train.FURTHER_STEPS`).
        progress: progress bars on stderr (default False).
        devices: devices sharing the Monte Carlo samples, SLQ probes and the sweep's
            (seed, ratio) pairs (:mod:`phasetrans.devices`; default None: one).
        predictions: one :class:`phasetrans.theory.predict.Prediction` per network, computed
            before (e.g. by :func:`phasetrans.theory.predict.predict_problem` with this ``key``
            and ``options``, to time it apart; ``options`` is then unused); default None:
            computed here.
    """
    key = _checks.prng_key("key", key)
    num_sweep_ratios = _checks.integer("num_sweep_ratios", num_sweep_ratios, minimum=2)
    if predictions is None:
        predictions = predict.predict_problem(problem, key=key, options=options,
                                              progress=progress, devices=devices)
    elif (not isinstance(predictions, list | tuple) or len(predictions) != problem.num_seeds
          or not all(isinstance(p, predict.Prediction) for p in predictions)):
        raise TypeError(f"predictions must be a list of {problem.num_seeds} Prediction (one per "
                        f"network of problem) or None, got {type(predictions).__name__}")
    predictions = list(predictions)
    stationary = [train.check_stationarity(
        problem.model.loss, problem.seed(s), problem.train, l1=problem.l1,
        epsilon=p.noise.epsilon.mean, prunable=problem.prunable, further_steps=further_steps,
        **_further_training(problem))
        for s, p in track(enumerate(predictions), desc="stationarity (per seed)",
                          total=problem.num_seeds, enabled=progress)]
    grid = np.linspace(0.0, 1.0, num_sweep_ratios)
    swept = prune.sweep(problem, grid, devices=devices)
    epsilons = np.array([p.noise.epsilon.mean for p in predictions])
    empirical = prune.empirical_threshold(swept, epsilon=epsilons, accuracy_tol=accuracy_tol)
    official = prune.empirical_threshold(swept, epsilon=epsilons, accuracy_tol=accuracy_tol,
                                         rule="official")
    warnings = dead_network_warnings(swept.unpruned_test_accuracy, problem.num_classes)
    warnings += [f"seed {s}: {st.warning()}" for s, st in enumerate(stationary)
                 if st.warning() is not None]
    return Comparison(problem, predictions, swept, empirical, official, accuracy_tol, warnings,
                      stationary)


def _further_training(problem: Problem) -> dict:
    """The learning rate of the stationarity check: the training's when known."""
    rate = problem.metadata.get("training", {}).get("learning_rate")
    return {} if rate is None else {"learning_rate": rate}


class AssessOptions(NamedTuple):
    """The knobs of :func:`assess` besides the predictions' (:func:`compare` passes them on).

    Attributes:
        num_sweep_ratios: grid size >= 2 of the empirical one-shot sweep over [0, 1]
            (default 101).
        accuracy_tol: accuracy criterion: pruned test accuracy >= unpruned - tol, tol >= 0
            (default 0).
        further_steps: measure (b) of every network's stationarity check, >= 1 (default
            :data:`phasetrans.networks.train.FURTHER_STEPS`).
    """

    num_sweep_ratios: int = 101
    accuracy_tol: float = 0.0
    further_steps: int = train.FURTHER_STEPS

    def validate(self) -> AssessOptions:
        """These options checked (``TypeError``/``ValueError`` naming the field and what is
        allowed)."""
        return AssessOptions(
            _checks.integer("num_sweep_ratios", self.num_sweep_ratios, minimum=2),
            _checks.real("accuracy_tol", self.accuracy_tol, nonnegative=True),
            _checks.positive_int("further_steps", self.further_steps))


def compare(dataset: str | data.Dataset = "digits", *, arch: str = "32-32", l1: float = 1e-4,
            num_seeds: int = 3, seed: int = 0, training: train.TrainingOptions | None = None,
            options: predict.PredictOptions | None = None,
            assessment: AssessOptions | None = None, progress: bool = False,
            devices: int | None = None) -> Comparison:
    """Train built-in networks (:func:`phasetrans.networks.train.train_problem`), then
    :func:`assess` them. (Networks saved before: :func:`phasetrans.networks.train.load_problem`
    and :func:`assess`; to save them: :func:`phasetrans.networks.train.save_problem` of
    ``comparison.problem``.)

    Args:
        dataset: a name in ``data.DATASETS`` or a loaded :class:`phasetrans.networks.data.Dataset`.
        arch: ``"cnn"`` or hidden widths such as ``"32-32"``.
        l1: the penalty lambda the networks are trained with.
        num_seeds, seed: networks trained from ``jax.random.key(seed)`` split ``num_seeds`` ways.
        training: :class:`~phasetrans.networks.train.TrainingOptions`, full batch (default None:
            proximal Adam until the default :class:`~phasetrans.networks.stationarity.StopRule`
            holds, F stationary, at most 50 000 steps); ``steps`` for a fixed budget instead
            (the budget of the results before the premise check:
            ``TrainingOptions(steps=2000, optimizer="adam")``).
        options, progress, devices: as :func:`assess` (key ``jax.random.key(seed)``).
        assessment: :class:`AssessOptions`, the rest of :func:`assess`'s (default None: its
            defaults).
    """
    training = _checks.options("training", training, train.TrainingOptions)
    if training.batch_size is not None:
        raise ValueError(f"compare trains full batch: training.batch_size must be None, got "
                         f"{training.batch_size!r}")
    assessment = _checks.options("assessment", assessment, AssessOptions)
    problem = train.train_problem(dataset, arch=arch, l1=l1, num_seeds=num_seeds, seed=seed,
                                  steps=training.steps, stop=training.stop,
                                  optimizer=training.optimizer,
                                  learning_rate=training.learning_rate)
    return assess(problem, key=jax.random.key(seed), options=options,
                  num_sweep_ratios=assessment.num_sweep_ratios,
                  accuracy_tol=assessment.accuracy_tol,
                  further_steps=assessment.further_steps, progress=progress, devices=devices)
