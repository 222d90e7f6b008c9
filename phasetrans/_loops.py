"""The one iteration loop every iterative solver runs, and monotone Newton on top of it.

``iterate`` is a ``lax.while_loop`` over blocks of ``check_every`` steps; the residual is
evaluated once per block, so a cheap check costs nothing and an expensive one (ADMM's
primal/dual residuals) is amortised [the pattern of ott-jax's ``fixpoint_iter``, Cuturi et al.
2022]. It returns the final state and a :class:`~phasetrans.estimate.SolverInfo`.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from phasetrans.estimate import SolverInfo


def iterate(step: Callable, init, *, residual: Callable, tol, max_iters: int,
            check_every: int = 1, initial_residual=jnp.inf):
    """Run ``state = step(state)`` until ``residual(previous, state) <= tol`` or ``max_iters``.

    Args:
        step: state -> state (one iteration).
        init: the initial state (a pytree).
        residual: (state before the block's last step, state after it) -> scalar residual.
        tol: stop once the residual is <= tol (may be traced).
        max_iters: iteration budget (Python int); the loop runs whole blocks, so up to
            ``check_every - 1`` iterations past it are possible only if it is not a multiple.
        check_every: iterations per residual evaluation (>= 1).
        initial_residual: residual of ``init`` (default inf: always run one block).

    Returns:
        ``(state, SolverInfo(iterations, residual, converged = residual <= tol))``.
    """

    def block(carry):
        state, _, it = carry
        state = jax.lax.fori_loop(0, check_every - 1, lambda _, s: step(s), state)
        new = step(state)
        return new, residual(state, new), it + check_every

    def running(carry):
        _, res, it = carry
        return (it < max_iters) & (res > tol)

    dtype = jnp.result_type(*[x for x in jax.tree_util.tree_leaves(init)
                              if jnp.issubdtype(jnp.result_type(x), jnp.floating)] or [float])
    start = (init, jnp.asarray(initial_residual, dtype), jnp.asarray(0, jnp.int32))
    state, res, it = jax.lax.while_loop(running, block, start)
    return state, SolverInfo(it, res, res <= tol)


def monotone_newton(fn: Callable, start, *, scale, max_iters: int = 50, tol=None,
                    stop_tol=None):
    """Root of an increasing function by Newton's method from below, without overshooting.

    Solves for the smallest x >= start with g(x) >= 0 (a Lagrange multiplier: x = start when
    g(start) >= 0 already). For an increasing, concave (or piecewise-linear concave) ``g``,
    Newton's iterates x <- x - g(x) / g'(x) increase monotonically to the root; on a
    piecewise-linear ``g`` they land on it exactly once they reach its linear piece. The loop
    stops when the residual is <= ``stop_tol``, when an iterate no longer increases (the root,
    to rounding), or after ``max_iters``.

    Args:
        fn: x -> (g(x), g'(x)) with g' > 0.
        start: starting point below the root (scalar array).
        scale: a positive magnitude of g's terms; the reported residual is max(-g(x), 0) / scale,
            how far below the root the answer stopped (0 at the answer).
        max_iters: iteration budget (default 50).
        tol: ``converged`` is ``residual <= tol``; default 1e3 machine epsilons.
        stop_tol: stop once the residual is <= stop_tol (default ``tol``; 0 runs until the
            iterates stop moving, for callers that need the root to full precision).

    Returns:
        ``(root, SolverInfo)``.
    """
    start = jnp.asarray(start)
    eps = jnp.finfo(start.dtype).eps
    tol = 1e3 * eps if tol is None else tol
    stop_tol = tol if stop_tol is None else stop_tol

    def step(state):
        x, value, slope, _ = state
        x_new = x - value / slope
        progressed = x_new > x
        x_new = jnp.where(progressed, x_new, x)
        value_new, slope_new = fn(x_new)
        return x_new, value_new, slope_new, progressed

    value, slope = fn(start)

    def below_root(_, state):  # 0 once no longer moving: stop there too
        x, value, _, progressed = state
        return jnp.where(progressed, jnp.maximum(-value, 0.0) / scale, 0.0)

    init = (start, value, slope, jnp.asarray(True))
    initial = jnp.maximum(-value, 0.0) / scale
    (x, value, _, _), info = iterate(step, init, residual=below_root, tol=stop_tol,
                                     max_iters=max_iters, initial_residual=initial)
    final = jnp.maximum(-value, 0.0) / scale
    return x, SolverInfo(info.iterations, final, final <= tol)
