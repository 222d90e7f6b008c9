"""Predicted versus empirical pruning threshold for one configuration: the headline reproduction.

:func:`compare` trains ``num_seeds`` networks with an l1 penalty in one vmapped call (LOMP's first
step), predicts each one's removal threshold with :func:`phasetrans.predict.predict`, prunes
every seed at every ratio of a grid in one vmapped sweep, and returns a :class:`Comparison`;
:mod:`phasetrans.report` turns it into JSON and a readable summary, :mod:`phasetrans.plots` into
a figure. [ZZSL sec. 4-5; official code ``cal_rate.py`` / ``gaussian_width.py``.]
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from phasetrans import _checks, data, nets, predict, prune, stationarity, train
from phasetrans._progress import track


class Comparison(NamedTuple):
    """Everything :func:`compare` computed.

    Attributes:
        dataset: the dataset's name; ``arch``: the network's name; ``l1``: training lambda.
        num_classes: classes of the dataset (chance accuracy is 1 / num_classes).
        predictions: one :class:`phasetrans.predict.Prediction` per seed.
        sweep: the one-shot sweep (:class:`phasetrans.prune.SweepResult`, seeds x ratios).
        empirical: :class:`phasetrans.prune.EmpiricalThreshold` per seed (first-failure rule).
        official: the same under the official code's rule (``rule="official"``).
        accuracy_tol: the accuracy criterion's tolerance.
        warnings: plain-language problems found (e.g. a network at chance accuracy).
        network, params, data: the networks compared (``params`` with a leading seed axis)
            and their data, for further analyses (:mod:`phasetrans.attribution`).
        training: how the networks were trained: ``optimizer``, ``rule`` (the stop rule in
            words, or the fixed budget), ``steps`` and ``converged`` per seed (None for loaded
            params: unknown).
        stationarity: one :class:`phasetrans.stationarity.Stationarity` per seed: how close
            w* is to a minimum of F (the premise of the prediction).
    """

    dataset: str
    arch: str
    l1: float
    num_classes: int
    predictions: list
    sweep: prune.SweepResult
    empirical: prune.EmpiricalThreshold
    official: prune.EmpiricalThreshold
    accuracy_tol: float
    warnings: list
    network: nets.Network
    params: object
    data: data.Dataset
    training: dict
    stationarity: list


def params_metadata(dataset_name: str, arch: str, l1: float, num_seeds: int, seed: int,
                    steps: int | None) -> dict:
    """What a params file records about how its networks were trained (checked on loading:
    every key but ``steps``, None when trained to stationarity)."""
    return {"dataset": dataset_name, "arch": arch, "l1": l1, "seeds": num_seeds, "seed": seed,
            "steps": steps}


def dead_network_warnings(unpruned_accuracy, num_classes: int) -> list[str]:
    """One warning per seed whose unpruned test accuracy is at or near chance (<= 1.5 / K):
    such a network learned nothing, so its thresholds (often "1.0 = 1.0") mean nothing."""
    chance = 1.0 / num_classes
    return [f"seed {s}: unpruned test accuracy {float(a):.3f} is at or near chance "
            f"({chance:.3f}); the network did not learn, so its thresholds are meaningless "
            "(lower --l1 or train longer)"
            for s, a in enumerate(np.asarray(unpruned_accuracy)) if a <= 1.5 * chance]


def compare(dataset: str | data.Dataset = "digits", *, arch: str = "32-32", l1: float = 1e-4,
            num_seeds: int = 3, seed: int = 0, steps: int | None = None,
            stop: stationarity.StopRule | None = None, optimizer: str = "prox-adam",
            learning_rate: float = 3e-3, epsilon: float | None = None,
            spectrum_options: predict.SpectrumOptions | None = None,
            ellipsoid_options: predict.EllipsoidOptions | None = None,
            l1_body_options: predict.L1BodyOptions | None = None,
            eigen_treatment: str = "abs", floor: float = 1e-4, num_sweep_ratios: int = 101,
            accuracy_tol: float = 0.0, params_file=None, save_params_file=None,
            progress: bool = False, devices: int | None = None) -> Comparison:
    """Train, predict and prune.

    Args:
        dataset: a name in ``data.DATASETS`` or a loaded :class:`phasetrans.data.Dataset`.
        arch: ``"cnn"`` or hidden widths such as ``"32-32"``.
        l1, steps, stop, optimizer, learning_rate: training (full batch, see
            :func:`phasetrans.train.train`): by default proximal Adam until the default
            :class:`~phasetrans.stationarity.StopRule` holds (F stationary, at most 50 000
            steps); ``steps`` for a fixed budget instead (the budget of the results before the
            premise check: ``steps=2000, optimizer="adam"``).
        num_seeds, seed: networks trained from ``jax.random.key(seed)`` split ``num_seeds`` ways.
        epsilon: the loss tolerance; default (None): each seed's mini-batch loss spread.
        spectrum_options, ellipsoid_options, l1_body_options, eigen_treatment, floor: passed to
            :func:`predict.predict` (the Monte Carlo predictions are off with ``max_dim=0``).
        num_sweep_ratios: grid size of the empirical sweep over [0, 1].
        accuracy_tol: accuracy criterion: pruned test accuracy >= unpruned - tol.
        params_file: an ``.npz`` from ``save_params_file`` (same arch, dataset, l1 and seeds):
            skip training. Every network is checked for stationarity
            (:func:`phasetrans.train.check_stationarity`, eps = its prediction's) either way.
        save_params_file: write the trained parameters (leading seed axis) there (``.npz``).
        progress: progress bars on stderr (default False).
        devices: devices sharing the Monte Carlo samples, SLQ probes and the sweep's
            (seed, ratio) pairs (:mod:`phasetrans.devices`; default None: one).
    """
    ds = data.load(dataset, seed=seed) if isinstance(dataset, str) else dataset
    net = nets.parse_arch(arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
    num_seeds = _checks.positive_int("num_seeds", num_seeds)
    seed = _checks.integer("seed", seed, minimum=0)
    keys = jax.random.split(jax.random.key(seed), num_seeds)
    metadata = params_metadata(ds.name, net.name, l1, num_seeds, seed, steps)
    rule = (f"fixed budget of {steps} steps" if steps is not None
            else (stop or stationarity.StopRule()).describe())
    if params_file is None:
        trained = train.train_seeds(net, ds, keys=keys, l1=l1, steps=steps, stop=stop,
                                    optimizer=optimizer, learning_rate=learning_rate)
        params = trained.params
        training = {"optimizer": optimizer, "learning_rate": learning_rate, "rule": rule,
                    "steps": np.asarray(trained.steps).tolist(),
                    "converged": np.asarray(trained.converged).tolist()}
    else:
        like = jax.vmap(lambda k: net.init(key=k))(keys)
        expected = {k: v for k, v in metadata.items() if k != "steps"}
        params = train.load_params(params_file, like, expected_metadata=expected)
        training = {"optimizer": None, "learning_rate": None, "rule": f"loaded from {params_file}",
                    "steps": None, "converged": None}
    if save_params_file is not None:
        train.save_params(save_params_file, params, metadata=metadata)
    loss_fn = nets.cross_entropy(net.apply)
    predictions = []
    for s in track(range(num_seeds), desc="predict (per seed)", enabled=progress):
        seed_params = jax.tree_util.tree_map(lambda w, s=s: w[s], params)
        predictions.append(predict.predict(
            seed_params, loss_fn, (ds.x_train, ds.y_train), key=jax.random.fold_in(keys[s], 1),
            l1=l1, eigen_treatment=eigen_treatment, floor=floor, epsilon=epsilon,
            spectrum_options=spectrum_options, ellipsoid_options=ellipsoid_options,
            l1_body_options=l1_body_options, progress=progress, devices=devices))
    stationary = [train.check_stationarity(
        loss_fn, jax.tree_util.tree_map(lambda w, s=s: w[s], params), (ds.x_train, ds.y_train),
        l1=l1, epsilon=p.noise.epsilon.mean, learning_rate=learning_rate)
        for s, p in track(enumerate(predictions), desc="stationarity (per seed)",
                          total=num_seeds, enabled=progress)]
    grid = np.linspace(0.0, 1.0, num_sweep_ratios)
    swept = prune.sweep(net, params, ds, grid, devices=devices)
    epsilons = np.array([p.noise.epsilon.mean for p in predictions])
    empirical = prune.empirical_threshold(swept, epsilon=epsilons, accuracy_tol=accuracy_tol)
    official = prune.empirical_threshold(swept, epsilon=epsilons, accuracy_tol=accuracy_tol,
                                         rule="official")
    warnings = dead_network_warnings(swept.unpruned_test_accuracy, ds.num_classes)
    warnings += [f"seed {s}: {st.warning()}" for s, st in enumerate(stationary)
                 if st.warning() is not None]
    return Comparison(ds.name, net.name, l1, ds.num_classes, predictions, swept, empirical,
                      official, accuracy_tol, warnings, net, params, ds, training, stationary)
