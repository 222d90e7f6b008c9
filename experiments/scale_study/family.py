"""Scale-study families whose predicted removal ratio need not climb to the ceiling (issue 26).

Why the fixed-n family climbs. The Hessian of a mean loss L(w) = (1/n) sum_i l(f(w, x_i), y_i)
over n examples with m outputs per example is

    H = (1/n) sum_i J_i^T (d^2 l / df^2)_i J_i  +  (1/n) sum_i sum_k (dl/df_k)_i d^2 f_k(x_i)/dw^2,

the Gauss-Newton part G plus a residual part that vanishes where the fit is exact. J_i is the
m x D Jacobian of example i, so rank G <= n m (n (C - 1) for a C-class softmax, whose output
Hessian diag(p) - p p^T annihilates the all-ones vector). The width formula counts a direction
of eigenvalue lambda_i with weight r_i^2 / (R(p)^2 + r_i^2), r_i^2 = 2 eps / lambda_i, i.e. a
flat direction (lambda_i at the floor) counts fully, so for a network near a Gauss-Newton point

    p_hat >~ (D - rank G) / D >= 1 - n m / D.

With n fixed (the mnist1d study: n = 4000, m = 9) the bound 1 - 36 000 / D passes 0.5 at
D ~ 7e4 and 0.9 at D ~ 3.6e5, which is what results/scale_study/table.md shows (0.90 at
D = 78 336, 0.97 at 287 744). To keep p_hat in the middle, n m must grow like D.

Two families, both synthetic teacher-student data (x ~ N(0, I_d), fixed seeds, offline):

* ``multilabel`` (the proposed family): a fixed random ReLU teacher R^d -> R^k -> R^m and m
  binary labels y_j = [teacher_j(x) > median_j] (medians of a fixed reference sample, so every
  label is balanced); the student is a ReLU MLP d-h-h-m with m = h, trained on the mean binary
  cross-entropy (sigmoid outputs; a zero-output student has loss log 2), accuracy = mean
  per-label accuracy. The number of examples follows the design rule n = ratio D / m, i.e.
  n m / D = ratio at every size. D (the prunable weights) = d h + h^2 + h m = d h + 2 h^2, so
  n = ratio (d + 2 h) grows like sqrt(D) and one full-batch gradient costs ~ 6 n D FLOP ~ h^3.
* ``softmax`` (the control): the same teacher with C = 10 outputs, the label its arg-max, a
  student d-h-h-10 with softmax cross-entropy, and n = ratio D / (C - 1): the same n m / D, but
  n ~ D, so one gradient costs ~ D^2.

The sizes, the ratio and the measured numbers that justify them are in
``results/scale_study/family_design.md`` (written by ``experiments/scale_study/design.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans.networks import nets, stationarity, train
from phasetrans.networks.problem import Problem

INPUT_DIM = 32
TEACHER_WIDTH = 16
NUM_CLASSES = 10
L1 = 1e-4
LEARNING_RATE = 3e-3
NUM_TEST = 2000
REFERENCE_SIZE = 8192
FAMILIES = ("multilabel", "softmax")


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


def problem(family: str, width: int, *, ratio: float, seed: int = 0, label_noise: float = 0.0,
            teacher_width: int | None = None, l1: float = L1,
            stop: stationarity.StopRule | None = None,
            learning_rate: float = LEARNING_RATE) -> tuple[Problem, dict]:
    """One trained member as a phasetrans Problem, and a dict of how it was trained.

    Data and init from ``seed``; proximal Adam on F = L + l1 ||weights||_1 until ``stop``
    (default ``StopRule()``: F stationary, at most 50 000 full-batch steps) holds."""
    s = size(family, width, ratio)
    train_set, test_set = make_data(family, width, ratio, seed, label_noise, teacher_width)
    loss, accuracy = loss_and_accuracy(family)
    stop = stationarity.StopRule() if stop is None else stop
    fitted = train.minimise(loss, init(family, width, key=jax.random.key(seed)),
                            tuple(map(jnp.asarray, train_set)), l1=l1,
                            training=train.TrainingOptions(stop=stop,
                                                           learning_rate=learning_rate))
    training = {"optimizer": "prox-adam", "learning_rate": learning_rate,
                "rule": stop.describe(), "steps": [int(fitted.steps)],
                "converged": [bool(fitted.converged)]}
    metadata = {"dataset": f"teacher-{family}", "arch": f"{s['d']}-{s['h']}-{s['h']}-{s['m']}",
                "training": training, "label_noise": label_noise,
                "teacher_width": teacher_width,
                **{k: s[k] for k in ("n", "m", "ratio")}}
    if family == "softmax":
        metadata["num_classes"] = NUM_CLASSES
    built = Problem.from_loss(loss, fitted.params, accuracy=accuracy, train=train_set,
                              test=test_set, l1=l1, metadata=metadata)
    return built, training
