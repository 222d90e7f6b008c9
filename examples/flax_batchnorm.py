"""A Flax (linen) model with BatchNorm: which Hessian phasetrans takes, and how.

BatchNorm carries state besides its parameters: running means and variances, updated in
training mode (``train=True``: each batch is normalised by its own statistics) and used as
constants in inference mode. phasetrans needs one function of the parameters, so the state is
**frozen at its trained values** and the network evaluated in **inference mode**: ``apply``
closes over ``batch_stats`` and calls the model with ``train=False``. The Hessian, the loss
tolerance, the masks and every sweep are those of the deployed network; the statistics are
neither differentiated nor pruned (they are not in ``params``), and pruning does not
re-estimate them (a pruned network would, in practice, get new statistics: that is retraining,
not the one-shot pruning the theory describes). tests/test_examples.py checks that ``apply`` is
the inference-mode network and not the training-mode one.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import optax

from examples._walkthrough import quick_flag, walkthrough
from phasetrans.networks import data, train
from phasetrans.networks.problem import Problem

L1 = 1e-3


class BatchNormNet(nn.Module):
    hidden: int

    @nn.compact
    def __call__(self, x, *, train: bool):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(10)(nn.relu(x))


def fit(model, x, y, *, steps: int, learning_rate: float = 3e-3):
    """Full-batch Adam on the l1-penalised cross-entropy in training mode; returns
    (params, batch_stats)."""
    variables = model.init(jax.random.key(0), x[:2], train=False)
    params, stats = variables["params"], variables["batch_stats"]
    optimiser = optax.adam(learning_rate)
    prunable = train.default_prunable(params)

    def objective(params, stats):
        logits, updated = model.apply({"params": params, "batch_stats": stats}, x, train=True,
                                      mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss + L1 * train.l1_norm(params, prunable), updated["batch_stats"]

    @jax.jit
    def step(carry, _):
        params, stats, state = carry
        grads, stats = jax.grad(objective, has_aux=True)(params, stats)
        updates, state = optimiser.update(grads, state, params)
        return (optax.apply_updates(params, updates), stats, state), None

    (params, stats, _), _ = jax.lax.scan(step, (params, stats, optimiser.init(params)), None,
                                         length=steps)
    return params, stats


def frozen_apply(model, stats):
    """The inference-mode network with the trained statistics as constants."""

    def apply(params, x):
        return model.apply({"params": params, "batch_stats": stats}, x, train=False)

    return apply


def problem(*, quick: bool = False) -> Problem:
    ds = data.load("digits")
    model = BatchNormNet(8 if quick else 32)
    params, stats = fit(model, ds.x_train, ds.y_train, steps=1000 if quick else 20000)
    return Problem.from_apply(frozen_apply(model, stats), params,
                              train=(ds.x_train, ds.y_train), test=(ds.x_test, ds.y_test),
                              l1=L1, metadata={"dataset": "digits",
                                               "arch": "flax Dense-BatchNorm-ReLU-Dense",
                                               "state": "batch_stats frozen, inference mode"})


def main(quick: bool = False) -> dict:
    return walkthrough(problem(quick=quick), quick=quick)


if __name__ == "__main__":
    main(quick_flag(__doc__))
