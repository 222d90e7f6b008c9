"""Scale-study families whose predicted removal ratio need not climb to the ceiling (issue 26).

Why the fixed-n family climbs. The Hessian of a mean loss L(w) = (1/n) sum_i l(f(w, x_i), y_i)
over n examples with m outputs per example is

    H = (1/n) sum_i J_i^T (d^2 l / df^2)_i J_i  +  (1/n) sum_i sum_k (dl/df_k)_i d^2 f_k(x_i)/dw^2,

the Gauss-Newton part G plus a residual part that vanishes where the fit is exact. J_i is the
m x D Jacobian of example i, so rank G <= n r with r = m outputs (r = C - 1 for a C-class
softmax, whose output Hessian diag(p) - p p^T annihilates the all-ones vector). The width formula
counts a direction of eigenvalue lambda_i with weight r_i^2 / (R(p)^2 + r_i^2),
r_i^2 = 2 eps / lambda_i, so a flat direction counts fully and near a Gauss-Newton point

    p_hat >~ (D - rank G) / D >= 1 - n r / D.

With n fixed (the mnist1d study: n = 4000, r = 9) the bound 1 - 36 000 / D passes 0.5 at
D ~ 7e4 and 0.9 at D ~ 3.6e5, which is what results/scale_study/table.md shows (0.90 at
D = 78 336, 0.97 at 287 744). So n r must grow like D. Measured (results/scale_study/
family_design.md), that is necessary but not sufficient: the bound is vacuous once n r >= D,
and at a fixed n r / D = 2 p_hat still climbed with D for two other reasons:

1. a teacher of fixed complexity (k = 16 hidden units): the student learns it as n grows, its
   features Phi (n x h) have low rank, and G's rank is then <= rank(Phi) m + ..., not n m
   (p_hat 0.55, 0.67, 0.87 at D = 1e3, 3e3, 1e4). Fix: a teacher as wide as the student, k = h.
2. a fixed l1 strength: F = (1/(n m)) sum l + lam ||w||_1, so against the summed loss the
   penalty is lam n m, which grows like D when n m does (0.2 at D = 1e3, 7.4 at D = 3.7e4); the
   larger networks stop fitting and p_hat jumps (0.66 -> 0.79 clean, 0.45 -> 0.88 with 20 %
   label noise, D = 1e4 -> 3.7e4). Fix: hold lam n m fixed (lam = L1_BUDGET / (n m)).

The families (synthetic teacher-student data, x ~ N(0, I_d), fixed seeds, offline):

* ``multilabel`` (the proposed family): a fixed random ReLU teacher R^d -> R^k -> R^m and m
  binary labels y_j = [teacher_j(x) > median_j] (medians of a fixed reference sample, so every
  label is balanced); the student is a ReLU MLP d-h-h-m with m = h, trained on the mean binary
  cross-entropy (sigmoid outputs; a zero-output student has loss log 2), accuracy = mean
  per-label accuracy. n = ratio D / m, so n m / D = ratio at every size. D (the prunable
  weights) = d h + h^2 + h m = d h + 2 h^2, so n = ratio (d + 2 h) grows like sqrt(D) and one
  full-batch gradient costs ~ 6 n D FLOP ~ h^3.
* ``softmax`` (the control): the same teacher with C = 10 outputs, the label its arg-max, a
  student d-h-h-10 with softmax cross-entropy, and n = ratio D / (C - 1): the same n r / D, but
  n ~ D, so one gradient costs ~ D^2.

The choice (:func:`recommended`): multilabel, k = h, clean labels, ratio = 2, lam n m = 0.2
(lam = 1e-4 at h = 16). Measured p_hat (seeds 0 / 1): 0.54 / 0.58, 0.60 / 0.60, 0.61 / 0.63,
0.58 / 0.58 at D = 1024, 3072, 10 240, 36 864, and 0.58 at D = 107 520; test accuracy
0.74-0.83. Trained at one rate (3e-3), the members fail the premise check from D = 3.7e4 on
(2000 fresh-Adam steps lower F by 3.2-11 eps: eps shrinks with lam), so training runs in stages
of decreasing rate (:data:`LEARNING_RATES`), going on only while the check fails at the current
rate (:func:`problem`). Measured at h = 128, seed 0 (2 busy cores, 176 s): 3e-3 for 50 000
steps, premise 44 eps; then 1e-3 for 50 000 steps, premise 0.26 eps (at 1e-3); the members
h <= 64 pass at 3e-3 (h = 16, seed 0: 0.12 eps), so their rows are those of one stage. The check
is local: from the h = 128 member, 2000 fresh steps lower F by 0.00-0.67 eps at every rate from
3e-3 to 3e-5, but 20 000 steps by 5.1, 14.9, 8.8, 3.6 and 1.1 eps (h = 16: 2.0 eps at 3e-3,
<= 0.45 eps at 1e-3 and below); F still creeps down at h = 128. The limit test's fair
reference (the dense network given the searches' optimisation at 3e-3) does not absorb this:
on h = 128 seed 1 it lowered F by 0.0 eps, while 20 000 steps at 1e-3 lower it by 9.1 eps
(``longer_check.py``).
Measured at D = 1.0e6 (h = 700, n = 2864) on 2 busy cores: one gradient 0.27 s, one HVP 1.3 s
(training 1e5 steps ~ 7 h, SLQ 16 x 60 ~ 0.35 h, 25 x 1e4-step witnesses ~ 18.5 h per seed).
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks
from phasetrans.networks import nets, stationarity, train, witnesses
from phasetrans.networks.problem import Problem
from phasetrans.theory import formula

INPUT_DIM = 32
TEACHER_WIDTH = 16
NUM_CLASSES = 10
L1 = 1e-4
LEARNING_RATES = (3e-3, 1e-3, 3e-4, 1e-4)
"""Proximal Adam's rates, one stage each; the next stage runs only while the premise fails."""
SETTLE_ROUNDS = 10
"""Rounds of :func:`phasetrans.networks.witnesses.settle` at most (measured at h <= 64: 1-8
rounds where the member settled; h = 64 seed 1 did not within 10, nor did the three h = 128
members, whose F still fell by 3.7-21.8 eps per round at 1e-3)."""
MINIBATCH_TRAINING = train.TrainingOptions(steps=2_000_000, learning_rate=3e-3, batch_size=64,
                                           rate_decay=True)
"""The mini-batch alternative to the stages (:func:`problem`'s ``training``): 2e6 proximal-Adam
steps on 64 examples, the rate decaying linearly from 3e-3 to 0. Measured on the h = 128
members (``minibatch_training.py``, results/scale_study/family/minibatch_training.json): lower
F than the full-batch stages on all three seeds in less time; 5e5 such steps were not enough."""
AFTER_MINIBATCH_RATE = 1e-3
"""The rate of the premise check, the settling and the witness searches after a ``training``
run (the last stage's rate of the full-batch h = 128 members)."""
NUM_TEST = 2000
REFERENCE_SIZE = 8192
FAMILIES = ("multilabel", "softmax")
RATIO = 2.0
"""The recommended n m / D."""
L1_BUDGET = 0.2
"""The recommended lam n m (lam against the summed loss), held fixed across sizes."""


def size(family: str, width: int, ratio: float) -> dict:
    """The sizes of one member: input d, hidden width h, outputs m (labels or classes),
    D = prunable weights (d h + h^2 + h m), the Gauss-Newton rank per example r (m labels;
    C - 1 for softmax) and the training-set size n = round(ratio D / r)."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if width < 1 or not ratio > 0:
        raise ValueError(f"width >= 1 and ratio > 0 needed, got {width}, {ratio}")
    d, h = INPUT_DIM, int(width)
    m = h if family == "multilabel" else NUM_CLASSES
    rank = m if family == "multilabel" else NUM_CLASSES - 1
    dim = d * h + h * h + h * m
    return {"family": family, "d": d, "h": h, "m": m, "rank_per_example": rank, "D": dim,
            "n": max(int(round(ratio * dim / rank)), 2), "ratio": float(ratio)}


def _teacher(m: int, seed: int, k: int = TEACHER_WIDTH):
    """A fixed random ReLU teacher R^d -> R^k -> R^m (seed offset so it differs from the
    student's init)."""
    rng = np.random.default_rng(1_000_003 + seed)
    a = rng.standard_normal((INPUT_DIM, k)) / np.sqrt(INPUT_DIM)
    b = rng.standard_normal((k, m)) / np.sqrt(k)
    shift = rng.standard_normal(k) * 0.5
    return lambda x: np.maximum(x @ a + shift, 0.0) @ b


def make_data(family: str, width: int, ratio: float, seed: int = 0, label_noise: float = 0.0,
              teacher_width: int | None = None):
    """((x_train, y_train), (x_test, y_test)) for one member, deterministic in ``seed``.

    ``multilabel``: y float32 (n, m) in {0, 1}; ``softmax``: y int32 (n,) in [0, C). With
    ``label_noise`` q > 0 each training label is flipped (softmax: redrawn uniformly) with
    probability q, so the training loss cannot reach 0 (test labels stay clean).
    ``teacher_width``: k of the teacher (default None: TEACHER_WIDTH; 0: k = h, a teacher as
    wide as the student)."""
    s = size(family, width, ratio)
    k = TEACHER_WIDTH if teacher_width is None else (teacher_width or s["h"])
    teacher = _teacher(s["m"], seed, k)
    rng = np.random.default_rng(seed)
    reference = teacher(rng.standard_normal((REFERENCE_SIZE, INPUT_DIM)))
    x = rng.standard_normal((s["n"] + NUM_TEST, INPUT_DIM))
    out = teacher(x)
    if family == "multilabel":
        y = (out > np.median(reference, axis=0)).astype(np.float32)
    else:
        y = np.argmax(out - reference.mean(axis=0), axis=1).astype(np.int32)
    x = x.astype(np.float32)
    n = s["n"]
    if label_noise > 0:
        noise = np.random.default_rng(2_000_003 + seed)
        flip = noise.random(y[:n].shape) < label_noise
        if family == "multilabel":
            y[:n] = np.where(flip, 1.0 - y[:n], y[:n])
        else:
            y[:n] = np.where(flip, noise.integers(0, NUM_CLASSES, n), y[:n])
    return (x[:n], y[:n]), (x[n:], y[n:])


def apply(params, x):
    """The student: ReLU MLP d-h-h-m, logits (n, m)."""
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])
    return x @ params[-1]["w"] + params[-1]["b"]


def init(family: str, width: int, *, key):
    """He-initialised student (zero biases) for ``size(family, width, ...)``."""
    s = size(family, width, 1.0)
    dims = (s["d"], s["h"], s["h"], s["m"])
    keys = jax.random.split(key, 3)
    return [{"w": jax.random.normal(k, (a, b)) * np.sqrt(2.0 / a), "b": jnp.zeros(b)}
            for k, a, b in zip(keys, dims[:-1], dims[1:], strict=True)]


def bce_loss(params, batch):
    """Mean binary cross-entropy over examples and labels, sigmoid of the logits."""
    x, y = batch
    z = apply(params, x)
    return jnp.mean(jax.nn.softplus(z) - y * z)


def label_accuracy(params, batch):
    """Mean per-label accuracy (logit > 0 predicts 1)."""
    x, y = batch
    return jnp.mean((apply(params, x) > 0) == (y > 0.5))


def loss_and_accuracy(family: str):
    """(loss(params, batch), accuracy(params, batch)) of a family."""
    if family == "multilabel":
        return bce_loss, label_accuracy
    return nets.cross_entropy(apply), lambda p, b: nets.accuracy(apply, p, *b)


def noise_batch_size(n: int) -> int:
    """eps's mini-batch size for a member with n training examples: min(128, n // 4) (at h = 16,
    n = 128, and a batch of all n examples would have no spread)."""
    return max(min(128, n // 4), 1)


def training_epsilon(loss, params, data, *, seed: int) -> float:
    """The eps the staged training checks the premise with: the spread of mini-batch losses
    (:func:`phasetrans.theory.formula.loss_noise`, batches of :func:`noise_batch_size`, drawn
    with ``jax.random.key(seed)``)."""
    n = len(data[0])
    return formula.loss_noise(loss, params, data, key=jax.random.key(seed),
                              batch_size=noise_batch_size(n)).epsilon.mean


def member(params, *, family: str, width: int, ratio: float, seed: int, label_noise: float,
           teacher_width: int | None, l1: float, metadata: dict | None = None) -> Problem:
    """One member with the given ``params`` (one network, no seed axis) as a phasetrans Problem:
    its data (:func:`make_data` from ``seed``), loss and accuracy, lambda ``l1``."""
    train_set, test_set = make_data(family, width, ratio, seed, label_noise, teacher_width)
    loss, accuracy = loss_and_accuracy(family)
    return Problem.from_loss(loss, params, accuracy=accuracy, train=train_set, test=test_set,
                             l1=l1, metadata=metadata)


def problem(family: str, width: int, *, ratio: float, seed: int = 0, label_noise: float = 0.0,
            teacher_width: int | None = None, l1: float = L1,
            stop: stationarity.StopRule | None = None,
            learning_rates: tuple = LEARNING_RATES, horizon: int | None = None,
            max_rounds: int = SETTLE_ROUNDS,
            training: train.TrainingOptions | None = None) -> tuple[Problem, dict]:
    """One trained member as a phasetrans Problem, and a dict of how it was trained.

    Data and init from ``seed``; proximal Adam on F = L + l1 ||weights||_1 in stages: at each
    rate of ``learning_rates`` until ``stop`` holds (default ``StopRule()``: F stationary, at
    most 50 000 full-batch steps), then the premise check
    (:func:`phasetrans.networks.train.check_stationarity`: 2000 fresh steps at the same rate,
    eps the spread of mini-batch losses, batches of :func:`noise_batch_size`); training goes on
    at the next rate only while that check fails. The dict records every stage's rate, steps,
    convergence and premise (``decrease_in_epsilon``); its ``learning_rate`` is the last
    stage's, the rate :func:`phasetrans.applications.compare.assess` checks the premise at.

    ``horizon`` (default None: off): the length of the limit test's fair reference
    (:func:`phasetrans.applications.limit.reference_budget`). The member is then settled
    (:func:`phasetrans.networks.witnesses.settle`, at most ``max_rounds`` rounds): continued
    at the last stage's rate for ``horizon`` steps, adopting the lowest-F point, until such a
    continuation lowers F by <= eps, so that the limit test's fair reference starts from a
    minimum at the searches' horizon; recorded under ``settling`` (eps, max_steps, per round
    the decrease in eps and the step of its lowest point, settled).

    ``training`` (default None: the stages above): one run of
    :func:`phasetrans.networks.train.minimise` with these options instead (mini-batches drawn
    with ``jax.random.key(seed)``), e.g. :data:`MINIBATCH_TRAINING`; its one stage records
    the options, and the premise check, the settling and the dict's ``learning_rate`` (the
    rate the witness searches run at) use :data:`AFTER_MINIBATCH_RATE`."""
    rates = tuple(_checks.real("learning_rates", r, positive=True) for r in learning_rates)
    if not rates:
        raise ValueError("learning_rates must hold at least one rate, got ()")
    s = size(family, width, ratio)
    train_set, _ = make_data(family, width, ratio, seed, label_noise, teacher_width)
    data = tuple(map(jnp.asarray, train_set))
    loss, _ = loss_and_accuracy(family)
    stop = stationarity.StopRule() if stop is None else stop
    params = init(family, width, key=jax.random.key(seed))
    if training is None:
        params, stages = _train_in_stages(loss, params, data, l1, rates, stop, seed)
        rate, rule = stages[-1]["learning_rate"], stop.describe()
    else:
        params, stages = _train_once(loss, params, data, l1, training, seed)
        rate, rule = AFTER_MINIBATCH_RATE, "a fixed budget (training options)"
    training = {"optimizer": "prox-adam", "learning_rate": rate, "rule": rule,
                "steps": [sum(st["steps"] for st in stages)],
                "converged": [stages[-1]["converged"]], "stages": stages}
    metadata = {"dataset": f"teacher-{family}", "arch": f"{s['d']}-{s['h']}-{s['h']}-{s['m']}",
                "training": training, "label_noise": label_noise,
                "teacher_width": teacher_width,
                **{k: s[k] for k in ("n", "m", "ratio")}}
    if family == "softmax":
        metadata["num_classes"] = NUM_CLASSES
    built = member(params, family=family, width=width, ratio=ratio, seed=seed,
                   label_noise=label_noise, teacher_width=teacher_width, l1=l1,
                   metadata=metadata)
    if horizon is not None:
        eps = training_epsilon(loss, params, data, seed=seed)
        settled = witnesses.settle(
            built, epsilon=eps, max_steps=horizon, max_rounds=max_rounds,
            options=witnesses.SearchOptions(learning_rate=training["learning_rate"]))
        decreases, steps = settled.decrease_in_epsilon[:, 0], settled.steps[:, 0]
        training["settling"] = {
            "epsilon": eps, "max_steps": settled.max_steps, "settled": bool(settled.settled[0]),
            "rounds": [{"decrease_in_epsilon": float(d), "steps": int(n)}
                       for d, n in zip(decreases, steps, strict=True)]}
        training["steps"] = [training["steps"][0] + int(steps[decreases > 1].sum())]
        built = settled.problem
    return built, training


def _train_in_stages(loss, params, data, l1, rates, stop, seed):
    """(params, stages): proximal Adam at each of ``rates`` until ``stop`` holds, going on to
    the next rate only while the premise check at the current one fails."""
    stages = []
    for i, rate in enumerate(rates):
        fitted = train.minimise(loss, params, data, l1=l1,
                                training=train.TrainingOptions(stop=stop, learning_rate=rate))
        params = fitted.params
        stage = {"learning_rate": rate, "steps": int(fitted.steps),
                 "converged": bool(fitted.converged)}
        stages.append(stage)
        if i == len(rates) - 1:
            break
        premise = train.check_stationarity(
            loss, params, data, l1=l1, learning_rate=rate,
            epsilon=training_epsilon(loss, params, data, seed=seed))
        stage["premise_decrease_in_epsilon"] = premise.decrease_in_epsilon
        if premise.is_minimum:
            break
    return params, stages


def _train_once(loss, params, data, l1, training, seed):
    """(params, [stage]): one run of ``train.minimise`` with ``training`` (its wall seconds
    recorded), then the premise check at :data:`AFTER_MINIBATCH_RATE` (its eps recorded)."""
    start = time.perf_counter()
    fitted = train.minimise(loss, params, data, l1=l1, key=jax.random.key(seed),
                            training=training)
    params = jax.block_until_ready(fitted.params)
    seconds = time.perf_counter() - start
    epsilon = training_epsilon(loss, params, data, seed=seed)
    premise = train.check_stationarity(loss, params, data, l1=l1, epsilon=epsilon,
                                       learning_rate=AFTER_MINIBATCH_RATE)
    return params, [{"learning_rate": training.learning_rate,
                     "steps": int(fitted.steps), "converged": bool(fitted.converged),
                     "batch_size": training.batch_size, "rate_decay": training.rate_decay,
                     "after_rate": AFTER_MINIBATCH_RATE, "seconds": seconds,
                     "epsilon": epsilon,
                     "premise_decrease_in_epsilon": premise.decrease_in_epsilon}]


def l1_for(family: str, width: int, ratio: float = RATIO, budget: float = L1_BUDGET) -> float:
    """lam = budget / (n r): the l1 strength that holds lam n r (the penalty against the summed
    loss) at ``budget`` across sizes."""
    s = size(family, width, ratio)
    return budget / (s["n"] * s["rank_per_example"])


def recommended_arguments(width: int) -> dict:
    """The recommended member of width h as :func:`problem`'s arguments: multilabel, teacher
    width k = h, clean labels, n m / D = RATIO, lam n m = L1_BUDGET (see the module
    docstring)."""
    return {"family": "multilabel", "ratio": RATIO, "label_noise": 0.0, "teacher_width": 0,
            "l1": l1_for("multilabel", width)}


def recommended(width: int, *, seed: int = 0, stop: stationarity.StopRule | None = None,
                horizon: int | None = None,
                training: train.TrainingOptions | None = None) -> tuple[Problem, dict]:
    """The recommended member of width h, trained (:func:`recommended_arguments`; in stages,
    or with ``training``), settled at ``horizon`` when given (:func:`problem`)."""
    return problem(width=width, seed=seed, stop=stop, horizon=horizon, training=training,
                   **recommended_arguments(width))
