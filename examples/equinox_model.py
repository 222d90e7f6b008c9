"""An Equinox model (Linear -> LayerNorm -> GELU -> residual block -> Linear) trained by its
own loop, then pruned-and-explained by phasetrans.

Equinox modules are pytrees: ``eqx.partition(model, eqx.is_inexact_array)`` splits the arrays
(the parameters phasetrans differentiates and prunes) from the rest, and ``eqx.combine`` puts
them back inside ``apply``. The default prunable leaves are the ones with ``ndim >= 2``: the
three weight matrices; biases and LayerNorm's scale and offset stay (pass ``prunable=`` to
``Problem.from_apply`` to choose otherwise). The training loop is the user's own: Adam on the
cross-entropy, then the l1 term's proximal step (soft-thresholding) on the weight matrices, so
that the minimum it reaches is one of F = L + l1 ||W||_1 (the premise phasetrans checks).
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import optax

from examples._walkthrough import quick_flag, walkthrough
from phasetrans.networks import data, nets
from phasetrans.networks.problem import Problem

L1 = 1e-3


class ResidualNet(eqx.Module):
    first: eqx.nn.Linear
    norm: eqx.nn.LayerNorm
    block: eqx.nn.Linear
    last: eqx.nn.Linear

    def __init__(self, hidden: int, *, key):
        k1, k2, k3 = jax.random.split(key, 3)
        self.first = eqx.nn.Linear(64, hidden, key=k1)
        self.norm = eqx.nn.LayerNorm(hidden)
        self.block = eqx.nn.Linear(hidden, hidden, key=k2)
        self.last = eqx.nn.Linear(hidden, 10, key=k3)

    def __call__(self, x):  # one example
        h = jax.nn.gelu(self.norm(self.first(x)))
        h = h + jax.nn.gelu(self.block(h))
        return self.last(h)


def is_weight(leaf) -> bool:
    return eqx.is_inexact_array(leaf) and leaf.ndim >= 2


def fit(model, x, y, *, steps: int, learning_rate: float = 3e-3):
    """The user's loop: full-batch Adam on L, then soft-thresholding of the weights."""
    params, static = eqx.partition(model, eqx.is_inexact_array)
    loss = nets.cross_entropy(lambda p, x: jax.vmap(eqx.combine(p, static))(x))
    optimiser = optax.adam(learning_rate)

    @jax.jit
    def step(carry, _):
        params, state = carry
        grads = jax.grad(loss)(params, (x, y))
        updates, state = optimiser.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        shrink = lambda w: jnp.sign(w) * jnp.maximum(jnp.abs(w) - learning_rate * L1, 0.0)  # noqa: E731
        params = jax.tree_util.tree_map(lambda w: shrink(w) if is_weight(w) else w, params)
        return (params, state), None

    (params, _), _ = jax.lax.scan(step, (params, optimiser.init(params)), None, length=steps)
    return eqx.combine(params, static)


def problem(*, quick: bool = False) -> Problem:
    ds = data.load("digits")
    model = fit(ResidualNet(8 if quick else 32, key=jax.random.key(0)), ds.x_train, ds.y_train,
                steps=1000 if quick else 20000)
    params, static = eqx.partition(model, eqx.is_inexact_array)

    def apply(p, x):
        return jax.vmap(eqx.combine(p, static))(x)

    return Problem.from_apply(apply, params, train=(ds.x_train, ds.y_train),
                              test=(ds.x_test, ds.y_test), l1=L1,
                              metadata={"dataset": "digits", "arch": "equinox residual net"})


def main(quick: bool = False) -> dict:
    return walkthrough(problem(quick=quick), quick=quick)


if __name__ == "__main__":
    main(quick_flag(__doc__))
