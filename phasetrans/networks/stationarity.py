"""Is w* a minimum of F = L + lambda ||w||_1? The premise of every prediction, measured.

The theory [ZZSL sec. 3-4] takes the trained weights w* to minimise F, so that the tolerance set
S = {w : F(w) <= F(w*) + eps} is a small body around a minimum and the Hessian is the curvature
there. Two measures say how far a trained network is from that:

(a) the minimum-norm subgradient of F at w*, per coordinate of a prunable leaf

        g_i + lambda sign(w_i)                 if w_i != 0,
        sign(g_i) max(|g_i| - lambda, 0)       if w_i == 0,

    with g = grad L (the plain gradient on leaves without the penalty); its Euclidean norm is 0
    exactly at a first-order stationary point of F [Rockafellar & Wets, Variational Analysis,
    Thm 8.8, 10.9]. Reported in absolute terms and relative to ||grad L|| (at a minimum with
    lambda > 0, grad L = -lambda sign(w) on the support, so ||grad L|| ~ lambda sqrt(support)).
    For ReLU networks L is only piecewise smooth: autodiff's gradient is one element of the
    Clarke subdifferential at a kink, so measure (a) need not reach 0 on a ReLU network even at
    a minimum; measure (b) does not depend on that;
(b) the decrease of F under a stated amount of further optimisation from w*, in units of eps:
    a decrease above eps means a point of S's own scale lies below w*, so w* is not a minimum
    at the scale the prediction uses.

:class:`StopRule` turns (a) and the plateau of F into a training criterion; :func:`run_until`
is the loop that applies it (one ``lax.while_loop`` over chunks of steps, vmappable).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from phasetrans import _checks

NOT_A_MINIMUM = "w* is not a minimum of F: the prediction's premise does not hold"


def norm(tree) -> jax.Array:
    """Euclidean norm of all the entries of a pytree."""
    return jnp.sqrt(sum((jnp.sum(jnp.square(x)) for x in jax.tree_util.tree_leaves(tree)),
                        jnp.zeros(())))


def min_norm_subgradient(gradient, params, *, l1, prunable):
    """The minimum-norm element of the subdifferential of F = L + l1 sum_prunable |w| at
    ``params``, given ``gradient`` = grad L (same pytree); see the module docstring for the
    per-coordinate formula. ``prunable``: bool pytree of the penalised leaves."""
    def leaf(g, w, penalised):
        if not penalised:
            return g
        return jnp.where(w != 0, g + l1 * jnp.sign(w),
                         jnp.sign(g) * jnp.maximum(jnp.abs(g) - l1, 0.0))

    return jax.tree_util.tree_map(leaf, gradient, params, prunable)


class Subgradient(NamedTuple):
    """Norms of grad L and of F's minimum-norm subgradient; ``relative`` is their ratio."""

    norm: jax.Array
    gradient_norm: jax.Array

    @property
    def relative(self) -> jax.Array:
        return self.norm / jnp.maximum(self.gradient_norm, jnp.finfo(self.norm.dtype).tiny)


def subgradient(loss_fn: Callable, params, batch, *, l1, prunable) -> Subgradient:
    """Measure (a) at ``params``: ``loss_fn(params, batch)`` is L (a mean loss), ``l1`` the
    penalty strength and ``prunable`` the bool pytree of penalised leaves. Traceable."""
    gradient = jax.grad(loss_fn)(params, batch)
    sub = min_norm_subgradient(gradient, params, l1=l1, prunable=prunable)
    return Subgradient(norm(sub), norm(gradient))


class StopRule(NamedTuple):
    """When training counts as converged to a stationary point of F.

    Every ``check_every`` steps, on the full training set, both must hold:

    - F's plateau: (F(t - window) - F(t)) <= rtol |F(t)|, its decrease over the last ``window``
      steps (an increase passes);
    - measure (a): ||minimum-norm subgradient|| <= subgradient_rtol ||grad L||.

    Training stops at the first check where both hold, or after ``max_steps`` (then it is
    reported as not converged). Defaults: rtol 1e-5 over 2000 steps, subgradient_rtol 0.25,
    checks every 500 steps, at most 50 000 steps. The subgradient tolerance is loose because
    measure (a) stays at 0.1-0.16 on a ReLU network whose F has stopped moving (digits
    64-32-32-10, lambda 1e-4, proximal Adam: F = 0.010442 to 6 digits from step 28 000 to 40 000
    and on with learning rates 3e-4 and 3e-5; the rest is ReLU kinks, see the module docstring).
    """

    rtol: float = 1e-5
    subgradient_rtol: float = 0.25
    window: int = 2000
    check_every: int = 500
    max_steps: int = 50000

    def validate(self) -> StopRule:
        """This rule with its values checked (ValueError/TypeError naming the field)."""
        _checks.real("StopRule.rtol", self.rtol, nonnegative=True)
        _checks.real("StopRule.subgradient_rtol", self.subgradient_rtol, nonnegative=True)
        for name in ("window", "check_every", "max_steps"):
            _checks.positive_int(f"StopRule.{name}", getattr(self, name))
        for name in ("window", "max_steps"):
            if getattr(self, name) % self.check_every:
                raise ValueError(f"StopRule.{name} ({getattr(self, name)}) must be a multiple "
                                 f"of check_every ({self.check_every})")
        if self.window > self.max_steps:
            raise ValueError(f"StopRule.window ({self.window}) must be <= max_steps "
                             f"({self.max_steps})")
        return self

    def describe(self) -> str:
        return (f"F's decrease over {self.window} steps <= {self.rtol:g} |F| and "
                f"||min-norm subgradient|| <= {self.subgradient_rtol:g} ||grad L||, checked "
                f"every {self.check_every} steps, at most {self.max_steps} steps")


class RunResult(NamedTuple):
    """What :func:`run_until` returns: the final ``state``, F at each check (``history``,
    (max_steps // check_every,), NaN after the last check made), the ``steps`` taken and
    whether the rule held (``converged``)."""

    state: object
    history: jax.Array
    steps: jax.Array
    converged: jax.Array


def run_until(stop: StopRule, advance: Callable, measure: Callable, state) -> RunResult:
    """Apply ``advance`` (``check_every`` optimisation steps: state -> state) until ``stop``
    holds. ``measure(state) -> (F, relative subgradient)`` is evaluated after each advance.
    One ``lax.while_loop``: traceable, and under ``vmap`` each batch member stops at its own
    check (its state is frozen from then on)."""
    num_checks = stop.max_steps // stop.check_every
    lag = stop.window // stop.check_every

    def cond(carry):
        _, _, i, done = carry
        return (i < num_checks) & ~done

    def body(carry):
        state, history, i, _ = carry
        state = advance(state)
        value, relative = measure(state)
        history = history.at[i].set(value)
        before = history[jnp.maximum(i - lag, 0)]
        done = ((i >= lag) & (before - value <= stop.rtol * jnp.abs(value))
                & (relative <= stop.subgradient_rtol))
        return state, history, i + 1, done

    value, _ = measure(state)
    history = jnp.full((num_checks,), jnp.nan, jnp.result_type(value))
    state, history, checks, done = jax.lax.while_loop(
        cond, body, (state, history, jnp.zeros((), jnp.int32), jnp.zeros((), bool)))
    return RunResult(state, history, checks * stop.check_every, done)


class Stationarity(NamedTuple):
    """How close one network is to a minimum of F (measures (a) and (b) of the module).

    Attributes:
        objective: F(w*) on the training set.
        subgradient_norm, gradient_norm, relative_subgradient: measure (a).
        further_objective: the smallest F seen in ``further_steps`` more steps of ``optimizer``
            from w* (all weights free, a fresh optimiser state).
        decrease: objective - further_objective; ``epsilon``: the tolerance eps used;
        decrease_in_epsilon: decrease / eps (measure (b)); ``is_minimum``: decrease <= eps.
        zero_fraction: exact zeros among the prunable weights of w*.
    """

    objective: float
    subgradient_norm: float
    gradient_norm: float
    relative_subgradient: float
    further_objective: float
    decrease: float
    epsilon: float
    decrease_in_epsilon: float
    is_minimum: bool
    further_steps: int
    optimizer: str
    learning_rate: float
    zero_fraction: float

    def warning(self) -> str | None:
        """The plain-language warning when measure (b) exceeds eps, else None."""
        if self.is_minimum:
            return None
        return (f"{NOT_A_MINIMUM} ({self.further_steps} more {self.optimizer} steps lower F "
                f"by {self.decrease_in_epsilon:.1f} eps; train to stationarity)")

    def to_dict(self) -> dict:
        return dict(self._asdict())
