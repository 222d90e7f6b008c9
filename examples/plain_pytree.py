"""A plain-pytree model: a dict of arrays and a function, trained with phasetrans's minimiser.

Nothing but JAX: ``apply(params, x)`` is any function of a params pytree (here a tanh MLP with
a learned output scale). ``train.minimise`` minimises F = L + l1 ||weights||_1 from your
starting point until its stop rule says F is stationary (the prediction's premise), then
``Problem.from_apply`` hands it to every capability.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from examples._walkthrough import quick_flag, walkthrough
from phasetrans.networks import data, nets, stationarity, train
from phasetrans.networks.problem import Problem

L1 = 1e-3


def apply(params, x):
    h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
    return params["scale"] * (h @ params["out"]["w"] + params["out"]["b"])


def init(key, hidden: int):
    k1, k2 = jax.random.split(key)
    return {"hidden": {"w": jax.random.normal(k1, (64, hidden)) / 8.0, "b": jnp.zeros(hidden)},
            "out": {"w": jax.random.normal(k2, (hidden, 10)) / hidden**0.5,
                    "b": jnp.zeros(10)},
            "scale": jnp.ones(())}


def problem(*, quick: bool = False) -> Problem:
    ds = data.load("digits")
    stop = stationarity.StopRule(max_steps=3000 if quick else 50000)
    fitted = train.minimise(nets.cross_entropy(apply), init(jax.random.key(0), 8 if quick else 32),
                            (ds.x_train, ds.y_train), l1=L1,
                            training=train.TrainingOptions(stop=stop, learning_rate=1e-2))
    return Problem.from_apply(apply, fitted.params, train=(ds.x_train, ds.y_train),
                              test=(ds.x_test, ds.y_test), l1=L1,
                              metadata={"dataset": "digits", "arch": "dict tanh MLP"})


def main(quick: bool = False) -> dict:
    return walkthrough(problem(quick=quick), quick=quick)


if __name__ == "__main__":
    main(quick_flag(__doc__))
