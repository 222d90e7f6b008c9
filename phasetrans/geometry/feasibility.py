"""Exact model feasibility of a pruned support: does the kept-coordinate subspace meet the body?

The pruning theory of [ZZSL] predicts that the kept-coordinate subspace
V_T = {w : w_i = 0 off T} of a support T (the global magnitude mask of the trained w*) meets the
loss-tolerance body K for removal ratios below a threshold and misses it above. One-shot pruning
tests only the point M_T ⊙ w* of V_T; this module decides the question for V_T itself, exactly,
in the second-order model of the loss around w*. With q = w - w* and A = H+ >= 0 (the Hessian
after an eigenvalue treatment),

    m(q) = g*^T q + 1/2 q^T A q  [+ lam (||w* + q||_1 - ||w*||_1)  for the l1-induced body],

and on V_T the pruned coordinates c (``keep`` False) are fixed, q_c = -w*_c, while q_T is free.
V_T meets K = {m <= eps} iff the minimum of m over q_T is <= eps:

- **ellipsoid** (g* = 0, no l1 term; the body of the paper's width formula): the minimum is the
  (generalised) Schur complement 1/2 q_c^T (A_cc - A_cT A_TT^+ A_Tc) q_c, a least-squares
  problem on the kept block (A = B^T B: 1/2 min_x ||B_T x + B_c q_c||^2). A_TT is singular
  whenever |T| exceeds the rank of A (trained networks: many zero eigenvalues after clipping), so
  the minimiser is taken with pseudo-inverse semantics: the minimum-norm q_T
  (:func:`ellipsoid_support_minimum`).
- **l1-induced body** (:class:`phasetrans.geometry.bodies.L1InducedBody`): smooth + separable l1 in
  w_T, solved by FISTA [BT09] with adaptive restart [OC15] and certified by a duality gap
  (:func:`l1_support_minimum`).

Both have a dense path (A from its eigendecomposition, D <= ``MAX_DENSE_DIM``) and a matrix-free
path that needs only products v -> A v (``*_matfree``; no D x D array is built).
:func:`support_minima` solves a batch of supports (e.g. the global magnitude masks on a grid of
removal ratios) with one ``jax.vmap`` of the same single-support cores, and :func:`threshold` turns
the minima into the model's exact removal threshold (reference step 3 of the gap attribution: any
difference from the random-subspace threshold measures how far a magnitude support is from a random
subspace). For nested supports T' ⊂ T the minima are non-decreasing (smaller feasible set).

Every minimum returns a :class:`SupportMinimum` ``(value, point, info)``: ``value`` = m at the
returned ``point`` (a w with w_i = 0 off T), so ``value <= eps`` always certifies that V_T meets
the body, with ``point`` as the witness; ``info`` says how close ``value`` is to the minimum.

References:
    [ZZSL] Q. Zhang, R. Zhang, J. Sun, Y. Liu, "How sparse can we prune a deep network: a
        fundamental limit perspective", NeurIPS 2024 (sec. 4, the l1-induced model).
    [BT09] A. Beck, M. Teboulle, "A fast iterative shrinkage-thresholding algorithm for linear
        inverse problems", SIAM J. Imaging Sci. 2(1), 2009 (FISTA with constant step 1/L).
    [OC15] B. O'Donoghue, E. Candès, "Adaptive restart for accelerated gradient schemes",
        Found. Comput. Math. 15, 2015 (the gradient restart test, sec. 3.2).
    [HS52] M. Hestenes, E. Stiefel, "Methods of conjugate gradients for solving linear systems",
        J. Res. Nat. Bur. Standards 49, 1952 (CG; preconditioned form: Golub & Van Loan,
        Matrix Computations, sec. 11.5).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, _loops, crossings, limits
from phasetrans.estimate import SolverInfo, SolverOptions
from phasetrans.geometry import bodies, conic_admm

MAX_DENSE_DIM = limits.MAX_DENSE_DIM
"""Largest D of the dense (eigendecomposition) path; beyond it use the ``*_matfree`` functions."""

_CELLS_PER_CHUNK = 2**25
"""Dense ellipsoid batches hold chunk x D x D numbers (masked matrix and its Cholesky factor)."""
ELLIPSOID_SOLVER = SolverOptions(tol=None, max_iters=500, check_every=1)
"""Preconditioned CG of :func:`ellipsoid_support_minimum` (tol None = 1e-4 in float32, 1e-8 in
float64)."""
ELLIPSOID_MATFREE_SOLVER = SolverOptions(tol=None, max_iters=1000, check_every=1)
"""CG of :func:`ellipsoid_support_minimum_matfree` (tol as :data:`ELLIPSOID_SOLVER`)."""
L1_SOLVER = SolverOptions(tol=None, max_iters=20000, check_every=10)
"""FISTA of :func:`l1_support_minimum` and :func:`l1_support_minimum_matfree` (tol as
:data:`ELLIPSOID_SOLVER`)."""


def _solver(solver, default: SolverOptions, dtype) -> SolverOptions:
    """``solver`` (None: ``default``) checked, tol defaulted for ``dtype``."""
    return SolverOptions.check(solver, default, dtype=dtype, float32=1e-4, float64=1e-8)


class SupportMinimum(NamedTuple):
    """The minimum of the model over a support's subspace V_T.

    Attributes:
        value: m(point - w*), the model at ``point`` (scalar; (G,) from :func:`support_minima`).
            V_T meets the body {m <= eps} iff the exact minimum is <= eps; ``value`` is that
            minimum up to the solver tolerance and is always attained by ``point``.
        point: the minimising w (D,) ((G, D) batched), exactly 0 off T.
        info: :class:`SolverInfo` (batched fields from :func:`support_minima`); each function's
            docstring says what ``residual`` measures.
    """

    value: jax.Array
    point: jax.Array
    info: SolverInfo


class Threshold(NamedTuple):
    """The model's exact removal threshold on a grid (see :func:`threshold`).

    Attributes:
        removal_ratio: the largest grid ratio p with every p' <= p meeting the body (first
            failure rule); 0.0 if the first grid ratio already fails (p = 0 always meets:
            w* itself has m = 0 <= eps); the last ratio if none fails.
        fractions: (G,) the fraction of the supports at each ratio whose subspace meets the
            body (0 or 1 for one support per ratio); comparable with the random-subspace
            fractions of the kinematic-formula check.
    """

    removal_ratio: float
    fractions: np.ndarray


# ------------------------------------------------------------------------------ validation


def _center(center) -> jax.Array:
    return _checks.array("center", center, ndim=1)


def _keep(name: str, keep, dim: int, *, batched: bool) -> jax.Array:
    """A bool mask (D,) (or (G, D) when ``batched``), True = kept."""
    if isinstance(keep, list | tuple):
        keep = np.asarray(keep)
    if not hasattr(keep, "dtype") or not hasattr(keep, "shape"):
        raise TypeError(f"{name} must be a bool array (True = kept), got {type(keep).__name__}")
    if keep.dtype != bool:
        raise TypeError(f"{name} must have dtype bool (True = kept), got {keep.dtype}; "
                        "convert a 0/1 mask with mask.astype(bool)")
    shape = ("G", dim) if batched else (dim,)
    if keep.ndim != len(shape) or keep.shape[-1] != dim:
        raise ValueError(f"{name} must have shape {shape} to match center, got {keep.shape}")
    if batched and keep.shape[0] == 0:
        raise ValueError(f"{name} holds no supports (shape {keep.shape})")
    return jnp.asarray(keep)


def _dense(eigenvalues, eigenvectors, dim: int, dtype, psd_tol: float = 1e-6):
    """Validated (eigenvalues clipped at 0, eigenvectors) in ``dtype``."""
    if dim > MAX_DENSE_DIM:
        raise ValueError(f"the dense path takes D <= {MAX_DENSE_DIM}, got D = {dim}; use the "
                         "matrix-free functions (*_matfree) with a matvec")
    lam = _checks.array("eigenvalues", eigenvalues, shape=(dim,))
    vecs = _checks.array("eigenvectors", eigenvectors, shape=(dim, dim))
    scale = float(jnp.max(jnp.abs(lam)))
    if float(jnp.min(lam)) < -psd_tol * scale:
        raise ValueError(f"eigenvalues must be >= 0 (A = H+ positive semidefinite): smallest "
                         f"{float(jnp.min(lam)):.3g} < -{psd_tol} x {scale:.3g}; apply an "
                         "eigenvalue treatment first")
    # orthonormal columns, probed with one random vector (V^T V x = x) instead of a D^3 product
    probe = np.random.default_rng(0).normal(size=dim)
    v64 = np.asarray(vecs, np.float64)
    error = np.linalg.norm(v64.T @ (v64 @ probe) - probe) / np.linalg.norm(probe)
    allowed = 1e3 * float(jnp.finfo(vecs.dtype).eps) * np.sqrt(dim)
    if error > allowed:
        raise ValueError(f"eigenvectors must have orthonormal columns: |V^T V x - x| / |x| = "
                         f"{error:.3g} > {allowed:.3g} for a random x")
    return jnp.maximum(lam, 0.0).astype(dtype), vecs.astype(dtype)


def _matvec(matvec, center) -> jax.tree_util.Partial:
    """Check ``matvec`` is a function v -> A v returning a finite (D,) vector; returned as a
    ``jax.tree_util.Partial`` (a pytree), so that the arrays a Partial carries (e.g. a low-rank
    Hessian model's (D, r) factor) enter the jitted solvers as arguments, not as constants
    compiled into the program."""
    if isinstance(matvec, np.ndarray | jax.Array) or not callable(matvec):
        raise TypeError("matvec must be a function v -> A v (D,) -> (D,), not a matrix; the "
                        "matrix-free path never builds A")
    out = jax.eval_shape(matvec, jax.ShapeDtypeStruct(center.shape, center.dtype))
    if getattr(out, "shape", None) != center.shape:
        raise ValueError(f"matvec must map (D,) = {center.shape} to {center.shape}, got "
                         f"{getattr(out, 'shape', type(out).__name__)}")
    probe = jnp.asarray(np.random.default_rng(0).normal(size=center.shape), center.dtype)
    finite = jnp.all(jnp.isfinite(matvec(probe)))
    if not isinstance(finite, jax.core.Tracer) and not bool(finite):  # concrete calls only
        raise ValueError("matvec returned NaN or Inf on a finite vector")
    return matvec if isinstance(matvec, jax.tree_util.Partial) else jax.tree_util.Partial(matvec)


def _gradient(gradient, center) -> jax.Array:
    if gradient is None:
        return jnp.zeros_like(center)
    return _checks.array("gradient", gradient, shape=center.shape).astype(center.dtype)


# ---------------------------------------------------------------------- conjugate gradients


def _cg(op, rhs, precondition, residual, solver: SolverOptions):
    """(Preconditioned) CG from x = 0 on ``op x = rhs`` [HS52] through ``_loops.iterate``.

    ``residual(x, r)`` with r = rhs - op x (updated recursively) is the stopping quantity. From
    x = 0 on a consistent PSD system the iterates stay in range(op) (and the preconditioner,
    a function of op, keeps them there), so the limit is the minimum-norm solution.
    """
    z = precondition(rhs)
    zero = jnp.zeros_like(rhs)

    def step(state):
        x, r, p, rz = state
        ap = op(p)
        pap = p @ ap
        alpha = jnp.where(pap > 0, rz / jnp.where(pap > 0, pap, 1.0), 0.0)
        x, r = x + alpha * p, r - alpha * ap
        z = precondition(r)
        rz_new = r @ z
        beta = jnp.where(rz > 0, rz_new / jnp.where(rz > 0, rz, 1.0), 0.0)
        return x, r, z + beta * p, rz_new

    init = (zero, rhs, z, rhs @ z)
    (x, _, _, _), info = _loops.iterate(step, init, residual=lambda _, s: residual(s[0], s[1]),
                                        tol=solver.tol, max_iters=solver.max_iters,
                                        check_every=solver.check_every,
                                        initial_residual=residual(zero, rhs))
    return x, info


def _ridge(dtype, dim: int) -> float:
    """Relative ridge of the Cholesky preconditioner: sqrt(eps), or 10 D eps if larger (keeps
    A_TT + mu I numerically positive definite whatever the rank of A_TT)."""
    eps = float(jnp.finfo(dtype).eps)
    return max(np.sqrt(eps), 10.0 * dim * eps)


# ---------------------------------------------------------------------------- the ellipsoid


def _ellipsoid_dense_one(matrix, factor, scale, center, keep, solver):
    """One support, dense A (D, D) with ||A|| = scale (see ellipsoid_support_minimum).

    ``factor`` is a lower Cholesky factor whose leading block on T is that of A_TT + mu I:
    either of the masked matrix (A_TT + mu I on T, identity on the pruned block) or, for a
    support that is a leading block of the coordinates, of A + mu I itself (shared by all
    nested supports). Either way the preconditioner (A_TT + mu I)^{-1} on T is the masked
    forward and back substitution below.
    """
    dtype = center.dtype
    m = keep.astype(dtype)
    tiny = jnp.finfo(dtype).tiny
    q0 = -(1.0 - m) * center
    aq0 = matrix @ q0
    rhs = -m * aq0
    solve = jax.scipy.linalg.solve_triangular

    def precondition(v):
        y = m * solve(factor, m * v, lower=True)
        return m * solve(factor, y, lower=True, trans="T")

    def op(v):
        return m * (matrix @ (m * v))

    def residual(x, r):
        return jnp.linalg.norm(r) / (scale * jnp.linalg.norm(q0 + x) + tiny)

    x, info = _cg(op, rhs, precondition, residual, solver)
    x = m * x
    q = q0 + x
    aq = aq0 + matrix @ x
    final = jnp.linalg.norm(m * aq) / (scale * jnp.linalg.norm(q) + tiny)
    return SupportMinimum(0.5 * (q @ aq), m * (center + x),
                          SolverInfo(info.iterations, final, final <= solver.tol))


def _dense_matrix(eigenvalues, eigenvectors):
    return conic_admm.dense_matrix(eigenvalues, eigenvectors), jnp.max(eigenvalues)


@functools.partial(jax.jit, static_argnames=("nested", "chunk"))
def _ellipsoid_dense_many(eigenvalues, eigenvectors, center, keeps, order, solver, *,
                          nested: bool, chunk: int):
    """All supports; coordinates permuted by ``order`` (nested: every support a leading
    block, one shared Cholesky factor; otherwise one masked factor per support)."""
    dim, dtype = center.shape[0], center.dtype
    matrix, scale = _dense_matrix(eigenvalues, eigenvectors[order])
    scale = jnp.maximum(scale, jnp.finfo(dtype).tiny)
    mu = _ridge(dtype, dim) * scale
    center_p, keeps_p = center[order], keeps[:, order]
    if nested:
        factor = jnp.linalg.cholesky(matrix + mu * jnp.eye(dim, dtype=dtype))
        one = functools.partial(_ellipsoid_dense_one, matrix, factor, scale, center_p,
                                solver=solver)
        res = jax.vmap(one)(keeps_p)
    else:
        def one(keep):
            m = keep.astype(dtype)
            block = matrix * (m[:, None] * m[None, :]) + jnp.diag(1.0 - m + mu * m)
            return _ellipsoid_dense_one(matrix, jnp.linalg.cholesky(block), scale, center_p,
                                        keep, solver)

        # lax.map vmaps ``one`` over chunks: each support holds a masked D x D matrix
        res = jax.lax.map(one, keeps_p, batch_size=chunk)
    inverse = jnp.argsort(order)
    return res._replace(point=res.point[:, inverse])


def _nested_order(keeps: np.ndarray) -> tuple[np.ndarray, bool]:
    """An order putting every support first if the supports are nested (a chain)."""
    counts = keeps.sum(axis=0)
    order = np.argsort(-counts, kind="stable")
    permuted = keeps[:, order]
    return order, bool(np.all(permuted[:, :-1] >= permuted[:, 1:]))


def _ellipsoid_dense_call(lam, vecs, center, keeps, solver):
    keeps_np = np.asarray(keeps)
    order, nested = _nested_order(keeps_np)
    chunk = int(max(1, min(len(keeps_np), _CELLS_PER_CHUNK // center.shape[0] ** 2)))
    return _ellipsoid_dense_many(lam, vecs, center, keeps, jnp.asarray(order), solver,
                                 nested=nested, chunk=chunk)


def ellipsoid_support_minimum(eigenvalues, eigenvectors, center, keep, *,
                              solver: SolverOptions | None = None) -> SupportMinimum:
    """Minimum of 1/2 q^T A q over q = w - w* with q_c = -w*_c off the support (dense path).

    The Schur complement 1/2 q_c^T (A_cc - A_cT A_TT^+ A_Tc) q_c [the ellipsoid body
    {1/2 q^T A q <= eps} of ZZSL sec. 4; c = pruned coordinates], i.e. the least-squares
    problem min over q_T of 1/2 ||B (q0 + q_T)||^2, A = B^T B, q0 = -w* off T and 0 on T.
    Solved as A_TT x = -(A q0)_T by conjugate gradients [HS52] preconditioned with the
    Cholesky factor of A_TT + mu I, mu = max(sqrt(eps), 10 D eps) ||A|| (positive definite
    whatever the rank of A_TT; the preconditioned spectrum lambda / (lambda + mu) clusters at
    1, so a few iterations are typical, more near the support size where A_TT turns
    singular). CG from 0 stays in range(A_TT), so for a singular A_TT it converges to the
    minimum-norm minimiser, the pseudo-inverse (lstsq) solution, up to round-off amplified by
    1 / mu (about sqrt(eps) relative along null(A_TT)); ``point`` is w = w* + x on T, 0 off T.
    Cost: one D x D Cholesky factorisation plus O(D^2) per iteration.

    Args:
        eigenvalues: (D,) of A >= 0 (round-off negatives down to -1e-6 max|lambda| are
            clipped; more negative ones raise: treat them first).
        eigenvectors: (D, D) orthonormal columns. D <= ``MAX_DENSE_DIM``.
        center: w* (D,); its dtype sets the computation's.
        keep: (D,) bool, True = kept. An empty support is valid (everything pruned: the value
            is m(-w*) = 1/2 w*^T A w*, ``point`` = 0); the full support gives 0 at w*.
        solver: the CG's :class:`~phasetrans.estimate.SolverOptions` (default None:
            :data:`ELLIPSOID_SOLVER`: 500 iterations, tol 1e-8 in float64 and 1e-4 in float32,
            the bound on ``info.residual`` for ``converged``).

    Returns:
        :class:`SupportMinimum`; ``info.residual`` is the relative gradient norm on T at the
        answer, ||(A q)_T|| / (||A|| ||q|| + tiny) (0 at the exact minimiser). Since
        value - minimum = 1/2 r^T A_TT^+ r for that gradient r, a small residual bounds the
        value's error only relative to the smallest nonzero eigenvalue of A_TT.
    """
    center = _center(center)
    lam, vecs = _dense(eigenvalues, eigenvectors, center.shape[0], center.dtype)
    keep = _keep("keep", keep, center.shape[0], batched=False)
    solver = _solver(solver, ELLIPSOID_SOLVER, center.dtype)
    res = _ellipsoid_dense_call(lam, vecs, center, keep[None], solver)
    return jax.tree_util.tree_map(lambda x: x[0], res)


def _ellipsoid_matfree_one(matvec, center, keep, solver):
    dtype = center.dtype
    m = keep.astype(dtype)
    q0 = -(1.0 - m) * center
    aq0 = matvec(q0)
    rhs = -m * aq0
    norm_rhs = jnp.linalg.norm(rhs)

    def op(v):
        return m * matvec(m * v)

    def relative(r):
        return jnp.where(norm_rhs > 0, jnp.linalg.norm(r) / jnp.where(norm_rhs > 0, norm_rhs,
                                                                      1.0), 0.0)

    x, info = _cg(op, rhs, lambda v: v, lambda _, r: relative(r), solver)
    x = m * x
    q = q0 + x
    aq = aq0 + matvec(x)
    final = relative(m * aq)  # the true residual rhs - A_TT x, not the recursive one
    return SupportMinimum(0.5 * (q @ aq), m * (center + x),
                          SolverInfo(info.iterations, final, final <= solver.tol))


@jax.jit
def _ellipsoid_matfree_many(matvec, center, keeps, solver):
    one = functools.partial(_ellipsoid_matfree_one, matvec, center, solver=solver)
    return jax.vmap(one)(keeps)


def ellipsoid_support_minimum_matfree(matvec: Callable, center, keep, *,
                                      solver: SolverOptions | None = None) -> SupportMinimum:
    """:func:`ellipsoid_support_minimum` from products v -> A v only (large D).

    Needs only ``matvec`` (a JAX-traceable function (D,) -> (D,), e.g. a Hessian-vector
    product); no D x D array is built. Masked CG [HS52] on A_TT x = -(A q0)_T (q0 = -w* off T,
    0 on T), from x = 0 (minimum-norm solution for a singular A_TT), unpreconditioned; one
    matvec per iteration plus two.

    Args:
        matvec: v -> A v with A symmetric PSD (D, D); a matrix is refused (``TypeError``).
        center: w* (D,). keep: (D,) bool, True = kept (empty allowed, as in the dense path).
        solver: the CG's :class:`~phasetrans.estimate.SolverOptions` (default None:
            :data:`ELLIPSOID_MATFREE_SOLVER`: 1000 iterations, since CG needs about the square
            root of the condition number of A_TT on its range; tol 1e-8 in float64, 1e-4 in
            float32).

    Returns:
        :class:`SupportMinimum`; ``info.residual`` is the relative CG residual
        ||(A q)_T|| / ||(A q0)_T|| at the answer (recomputed, not the recursive one; 0 when
        the right-hand side is 0).
    """
    center = _center(center)
    matvec = _matvec(matvec, center)
    keep = _keep("keep", keep, center.shape[0], batched=False)
    solver = _solver(solver, ELLIPSOID_MATFREE_SOLVER, center.dtype)
    res = _ellipsoid_matfree_many(matvec, center, keep[None], solver)
    return jax.tree_util.tree_map(lambda x: x[0], res)


# ------------------------------------------------------------------------- the l1 body


class _L1Problem(NamedTuple):  # shared by all supports of one body
    gradient: jax.Array      # g* (D,)
    center: jax.Array        # w* (D,)
    l1: jax.Array            # lam
    lipschitz: jax.Array     # L >= lambda_max(A)
    anchor: jax.Array        # a with A a ~ g (any a gives a valid bound)
    anchor_image: jax.Array  # A a
    center_image: jax.Array  # A w*


def _certificate(problem: _L1Problem, m, x, ax):
    """(primal value, duality gap) at x (0 off T) with ax = A x (see l1_support_minimum)."""
    g, w0, lam = problem.gradient, problem.center, problem.l1
    a, aa = problem.anchor, problem.anchor_image
    q = x - w0
    aq = ax - problem.center_image
    l1_center = jnp.sum(jnp.abs(w0))
    primal = g @ q + 0.5 * (q @ aq) + lam * (jnp.sum(jnp.abs(x)) - l1_center)
    grad = m * (g + aq)
    n = m * (g - aa)
    d = grad - n
    # feasible alpha: |n_i + alpha d_i| <= lam for i in T (off T: d = n = 0)
    safe = jnp.where(d != 0, d, 1.0)
    a1, a2 = (lam - n) / safe, (-lam - n) / safe
    inf = jnp.asarray(jnp.inf, x.dtype)
    upper = jnp.where(d > 0, a1, jnp.where(d < 0, a2, jnp.where(jnp.abs(n) <= lam, inf, -inf)))
    lower = jnp.where(d > 0, a2, jnp.where(d < 0, a1, jnp.where(jnp.abs(n) <= lam, -inf, inf)))
    lo = jnp.maximum(0.0, jnp.max(lower))
    hi = jnp.minimum(1.0, jnp.min(upper))
    curvature = (q + a) @ (aq + aa)
    slope = q @ aa + a @ aa - aq @ w0 - aa @ w0
    const = aa @ w0 - 0.5 * (a @ aa) - g @ w0 - lam * l1_center
    best = jnp.where(curvature > 0, slope / jnp.where(curvature > 0, curvature, 1.0),
                     jnp.where(slope > 0, inf, -inf))
    alpha = jnp.clip(best, lo, hi)
    dual = -0.5 * curvature * alpha**2 + slope * alpha + const
    gap = jnp.where(lo <= hi, jnp.maximum(primal - dual, 0.0), inf)
    return primal, gap


def _l1_one(matvec, problem: _L1Problem, keep, solver):
    """FISTA with gradient restart on one support (see l1_support_minimum)."""
    dtype = problem.center.dtype
    m = keep.astype(dtype)
    step_size = 1.0 / problem.lipschitz
    threshold = problem.l1 * step_size

    def smooth_gradient(ay):
        return m * (problem.gradient + ay - problem.center_image)

    def step(state):
        x, ax, y, ay, t = state
        v = y - step_size * smooth_gradient(ay)
        x_new = m * jnp.sign(v) * jnp.maximum(jnp.abs(v) - threshold, 0.0)
        ax_new = matvec(x_new)
        t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
        restart = (y - x_new) @ (x_new - x) > 0  # [OC15] gradient scheme
        beta = jnp.where(restart, 0.0, (t - 1.0) / t_new)
        t_new = jnp.where(restart, 1.0, t_new)
        return (x_new, ax_new, x_new + beta * (x_new - x), ax_new + beta * (ax_new - ax), t_new)

    def residual(_, state):
        primal, gap = _certificate(problem, m, state[0], state[1])
        return gap / jnp.maximum(1.0, jnp.abs(primal))

    x0 = m * problem.center
    ax0 = matvec(x0)
    init = (x0, ax0, x0, ax0, jnp.ones((), dtype))
    (x, ax, _, _, _), info = _loops.iterate(step, init, residual=residual, tol=solver.tol,
                                            max_iters=solver.max_iters,
                                            check_every=solver.check_every)
    primal, _ = _certificate(problem, m, x, ax)
    return SupportMinimum(primal, x, info)


@jax.jit
def _l1_dense_many(eigenvalues, eigenvectors, gradient, center, l1, lipschitz, keeps, solver):
    matrix, _ = _dense_matrix(eigenvalues, eigenvectors)
    # anchor a = A^+ g (pseudo-inverse with a relative cutoff): g - A a is g's null-space part
    cutoff = 10.0 * eigenvalues.shape[0] * jnp.finfo(center.dtype).eps * jnp.max(eigenvalues)
    inverse = jnp.where(eigenvalues > cutoff, 1.0 / jnp.where(eigenvalues > cutoff,
                                                              eigenvalues, 1.0), 0.0)
    anchor = eigenvectors @ (inverse * (eigenvectors.T @ gradient))
    problem = _L1Problem(gradient, center, l1, lipschitz, anchor, matrix @ anchor,
                         matrix @ center)
    one = functools.partial(_l1_one, lambda v: matrix @ v, problem, solver=solver)
    return jax.vmap(one)(keeps)


def _top_eigenvalue(matvec, center, num_iters: int = 100):
    """Rayleigh quotient after ``num_iters`` power iterations from a fixed random start."""
    v = jax.random.normal(jax.random.key(0), center.shape, center.dtype)

    def step(_, v):
        w = matvec(v)
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(v.dtype).tiny)

    v = jax.lax.fori_loop(0, num_iters, step, v / jnp.linalg.norm(v))
    return v @ matvec(v)


@jax.jit
def _l1_matfree_many(matvec, gradient, center, l1, lipschitz, keeps, solver):
    if lipschitz is None:
        lipschitz = 1.1 * _top_eigenvalue(matvec, center)
    lipschitz = jnp.maximum(lipschitz, jnp.finfo(center.dtype).tiny)
    # anchor: least squares min ||A a - g|| by CG on the (consistent) normal equations
    # A^2 a = A g from 0 (CG on A a = g itself diverges when g is not in range(A)); any a
    # gives a valid certificate, a good one makes it tight
    target = matvec(gradient)
    norm_t = jnp.linalg.norm(target)
    anchor, _ = _cg(lambda v: matvec(matvec(v)), target, lambda v: v,
                    lambda _, r: jnp.where(norm_t > 0, jnp.linalg.norm(r), 0.0) / jnp.where(
                        norm_t > 0, norm_t, 1.0),
                    SolverOptions(1e3 * jnp.finfo(center.dtype).eps,
                                  max_iters=min(center.shape[0], 200), check_every=1))
    problem = _L1Problem(gradient, center, l1, lipschitz, anchor, matvec(anchor),
                         matvec(center))
    one = functools.partial(_l1_one, matvec, problem, solver=solver)
    return jax.vmap(one)(keeps)


def l1_support_minimum(body: bodies.L1InducedBody, keep, *,
                       solver: SolverOptions | None = None) -> SupportMinimum:
    """Minimum of the l1-induced model over V_T: w_T free, w = 0 off T (dense path).

    Minimises P(w) = g*^T q + 1/2 q^T A q + lam ||w||_1 - lam ||w*||_1 (q = w - w*, w_c = 0;
    [ZZSL sec. 4]; ``body.value(point) == value``) over w_T: a smooth quadratic plus a
    separable l1 term, solved by FISTA [BT09] with constant step 1/L, L = lambda_max(A) >=
    lambda_max(A_TT), the gradient adaptive restart of [OC15], starting from the one-shot
    pruned point M_T ⊙ w*. lam = 0 with g* = 0 is the ellipsoid (a cross-check of
    :func:`ellipsoid_support_minimum`; the certificate below then degenerates to the value
    itself, so use that function for the ellipsoid).

    Certificate (the duality gap). For any u in R^D with ||(g* + A u)_T||_inf <= lam and any
    feasible w (q = w - w*): 1/2 q^T A q >= u^T A q - 1/2 u^T A u (expand
    1/2 (q - u)^T A (q - u) >= 0) and (g* + A u)^T w >= -lam ||w||_1, so
    P(w) >= D(u) = -1/2 u^T A u - (g* + A u)^T w* - lam ||w*||_1: a lower bound on the minimum
    (weak Lagrangian duality with multiplier B u, A = B^T B), valid for a singular A_TT
    because it needs no inverse, with equality at u = q* (the KKT conditions). The dual point
    is built from the current gradient: u = alpha q - (1 - alpha) a on the segment from the
    anchor -a to q, where A a = the range part of g* (a = A^+ g*), so the gradient
    g* + A u = alpha (g* + A q) + (1 - alpha) g_N (g_N = g* - A a, g*'s null-space part) is the
    current gradient scaled into the l_inf ball of radius lam; alpha maximises D on the
    feasible interval (a 1-D concave quadratic). For g* = 0 this is the Lasso dual point
    scaled by min(1, lam / ||grad||_inf). If no alpha is feasible (|g_N,i| > lam on T where
    the gradient is not yet inside the ball) the gap is +inf; if ||g_N,T||_inf > lam on flat
    directions the model may be unbounded below on V_T (then V_T meets the body; ``value``
    keeps decreasing and stays a witness).

    Args:
        body: the l1-induced body (its eigendecomposition, gradient g*, center w*, lam);
            D <= ``MAX_DENSE_DIM``. A low-rank body
            (:func:`phasetrans.theory.hessian_model.l1_body`)
            goes to :func:`l1_support_minimum_matfree` with its exact lambda_max.
        keep: (D,) bool, True = kept; an empty support is valid (value m(-w*)).
        solver: FISTA's :class:`~phasetrans.estimate.SolverOptions` (default None:
            :data:`L1_SOLVER`: 20000 iterations, the gap checked every 10, tol on the relative
            gap 1e-8 in float64 and 1e-4 in float32).

    Returns:
        :class:`SupportMinimum`; ``info.residual`` = gap / max(1, |value|), converged if
        <= ``solver.tol``.
    """
    if not isinstance(body, bodies.L1InducedBody):
        raise TypeError(f"body must be a phasetrans.geometry.bodies.L1InducedBody (build it with "
                        f".create), got {type(body).__name__}")
    if body.low_rank:
        return l1_support_minimum_matfree(body.hessian_operator(), body.center, keep,
                                          l1=body.l1, gradient=body.gradient,
                                          lipschitz=_model_lipschitz(body, None),
                                          solver=solver)
    center, lam, vecs, gradient, l1, lipschitz, solver = _l1_dense_inputs(
        body.center, body.eigenvalues, body.eigenvectors, body.gradient, body.l1, None, solver)
    keep = _keep("keep", keep, center.shape[0], batched=False)
    res = _l1_dense_many(lam, vecs, gradient, center, l1, lipschitz, keep[None], solver)
    return jax.tree_util.tree_map(lambda x: x[0], res)


def _model_lipschitz(body, lipschitz):
    """lambda_max of a low-rank body's H (known exactly), unless the caller gave a bound."""
    if lipschitz is not None:
        return lipschitz
    return max(float(jnp.max(body.eigenvalues)), float(body.bulk), float(jnp.finfo(
        body.center.dtype).tiny))


def _l1_dense_inputs(center, eigenvalues, eigenvectors, gradient, l1, lipschitz, solver):
    center = _center(center)
    lam, vecs = _dense(eigenvalues, eigenvectors, center.shape[0], center.dtype)
    gradient = _gradient(gradient, center)
    l1 = jnp.asarray(_checks.real("l1", l1, nonnegative=True), center.dtype)
    lipschitz = jnp.max(lam) if lipschitz is None else jnp.asarray(
        _checks.real("lipschitz", lipschitz, positive=True), center.dtype)
    lipschitz = jnp.maximum(lipschitz, jnp.finfo(center.dtype).tiny)
    return (center, lam, vecs, gradient, l1, lipschitz,
            _solver(solver, L1_SOLVER, center.dtype))


def _l1_matfree_inputs(matvec, center, gradient, l1, lipschitz, solver):
    center = _center(center)
    matvec = _matvec(matvec, center)
    gradient = _gradient(gradient, center)
    l1 = jnp.asarray(_checks.real("l1", l1, nonnegative=True), center.dtype)
    if lipschitz is not None:
        lipschitz = jnp.asarray(_checks.real("lipschitz", lipschitz, positive=True),
                                center.dtype)
    return matvec, center, gradient, l1, lipschitz, _solver(solver, L1_SOLVER, center.dtype)


def l1_support_minimum_matfree(matvec: Callable, center, keep, *, l1: float, gradient=None,
                               lipschitz: float | None = None,
                               solver: SolverOptions | None = None) -> SupportMinimum:
    """:func:`l1_support_minimum` from products v -> A v only (large D).

    Needs only ``matvec`` (JAX-traceable, (D,) -> (D,)); no D x D array is built: FISTA
    costs one matvec per iteration. The step is 1/L with L = ``lipschitz`` if given (any
    upper bound on lambda_max(A)), else 1.1 x the Rayleigh quotient after 100 power
    iterations (a lower estimate of lambda_max made safe by the 10% margin when the top of the
    spectrum is separated; pass ``lipschitz`` otherwise: a too-small L can make FISTA
    diverge). The certificate's anchor a is CG's least-squares approximation of A a = g*
    (on A^2 a = A g*, at most min(D, 200) steps): any a gives a valid lower bound, a better
    one a tighter gap.

    Args:
        matvec: v -> A v, A symmetric PSD; a matrix is refused (``TypeError``).
        center: w* (D,). keep: (D,) bool, True = kept.
        l1: lam >= 0. gradient: g* (D,), default 0.
        lipschitz, solver: as above and in :func:`l1_support_minimum`.

    Returns:
        :class:`SupportMinimum`; ``info.residual`` = duality gap / max(1, |value|).
    """
    matvec, center, gradient, l1, lipschitz, solver = _l1_matfree_inputs(
        matvec, center, gradient, l1, lipschitz, solver)
    keep = _keep("keep", keep, center.shape[0], batched=False)
    res = _l1_matfree_many(matvec, gradient, center, l1, lipschitz, keep[None], solver)
    return jax.tree_util.tree_map(lambda x: x[0], res)


# ------------------------------------------------------------------------ batches and grids


def support_minima(keeps, *, body: bodies.L1InducedBody | None = None, center=None,
                   eigenvalues=None, eigenvectors=None, matvec: Callable | None = None,
                   l1: float | None = None, gradient=None, lipschitz: float | None = None,
                   solver: SolverOptions | None = None) -> SupportMinimum:
    """The minima of many supports at once (e.g. nested global magnitude masks on a grid).

    ``jax.vmap`` of the single-support cores of the four functions above, jitted at this
    entry (matrix products with a batch of vectors become matrix-matrix products). The dense
    ellipsoid's preconditioner needs a Cholesky factor of A_TT + mu I: when the supports are
    nested (a chain, like global magnitude masks on a grid of ratios) the coordinates are
    ordered so that every T is a leading block, and the leading block of one factor of
    A + mu I is the factor of every A_TT + mu I, so G supports cost one factorisation and
    their triangular solves run as one batched solve; otherwise each support factors its
    masked matrix, in chunks of supports (``jax.lax.map(batch_size=...)``, about 2^25
    numbers per chunk). Problem and path:

    - ``body`` (:class:`phasetrans.geometry.bodies.L1InducedBody`): :func:`l1_support_minimum`
      (nothing else but ``lipschitz``, ``solver``).
    - ``center`` with ``eigenvalues`` + ``eigenvectors`` (dense) or ``matvec``
      (matrix-free): the ellipsoid if ``l1`` is None (then ``gradient`` must be None),
      else the l1-induced model with this lam and ``gradient`` (default 0).

    Args:
        keeps: (G, D) bool, row j the support of problem j (True = kept).
        solver: :class:`~phasetrans.estimate.SolverOptions` of the single-support function
            (None: its default, :data:`ELLIPSOID_SOLVER`, :data:`ELLIPSOID_MATFREE_SOLVER` or
            :data:`L1_SOLVER`).

    Returns:
        :class:`SupportMinimum` with ``value`` (G,), ``point`` (G, D) and batched ``info``
        (fields (G,); reduce with :meth:`SolverInfo.worst`).
    """
    if body is not None:
        others = {"center": center, "eigenvalues": eigenvalues, "eigenvectors": eigenvectors,
                  "matvec": matvec, "l1": l1, "gradient": gradient}
        given = [name for name, value in others.items() if value is not None]
        if given:
            raise ValueError(f"body already holds the model; do not also pass {given}")
        if not isinstance(body, bodies.L1InducedBody):
            raise TypeError(f"body must be a phasetrans.geometry.bodies.L1InducedBody, got "
                            f"{type(body).__name__}")
        if body.low_rank:  # the model's matvec is O(D r): the matrix-free path
            return support_minima(keeps, center=body.center, matvec=body.hessian_operator(),
                                  l1=body.l1, gradient=body.gradient,
                                  lipschitz=_model_lipschitz(body, lipschitz), solver=solver)
        return support_minima(keeps, center=body.center, eigenvalues=body.eigenvalues,
                              eigenvectors=body.eigenvectors, l1=body.l1,
                              gradient=body.gradient, lipschitz=lipschitz, solver=solver)
    if center is None:
        raise ValueError("give body, or center with eigenvalues + eigenvectors or matvec")
    dense = eigenvalues is not None or eigenvectors is not None
    if dense == (matvec is not None):
        raise ValueError("give A as exactly one of eigenvalues + eigenvectors (dense) or "
                         "matvec (matrix-free)")
    if dense and (eigenvalues is None or eigenvectors is None):
        raise ValueError("the dense path needs both eigenvalues and eigenvectors")
    if l1 is None:
        if gradient is not None or lipschitz is not None:
            raise ValueError("gradient and lipschitz belong to the l1 model: pass l1 too (l1 "
                             "= 0 for a quadratic with a gradient)")
        center = _center(center)
        keeps = _keep("keeps", keeps, center.shape[0], batched=True)
        if dense:
            solver = _solver(solver, ELLIPSOID_SOLVER, center.dtype)
            lam, vecs = _dense(eigenvalues, eigenvectors, center.shape[0], center.dtype)
            return _ellipsoid_dense_call(lam, vecs, center, keeps, solver)
        solver = _solver(solver, ELLIPSOID_MATFREE_SOLVER, center.dtype)
        matvec = _matvec(matvec, center)
        return _ellipsoid_matfree_many(matvec, center, keeps, solver)
    if dense:
        center, lam, vecs, gradient, l1, lipschitz, solver = _l1_dense_inputs(
            center, eigenvalues, eigenvectors, gradient, l1, lipschitz, solver)
        keeps = _keep("keeps", keeps, center.shape[0], batched=True)
        return _l1_dense_many(lam, vecs, gradient, center, l1, lipschitz, keeps, solver)
    matvec, center, gradient, l1, lipschitz, solver = _l1_matfree_inputs(
        matvec, center, gradient, l1, lipschitz, solver)
    keeps = _keep("keeps", keeps, center.shape[0], batched=True)
    return _l1_matfree_many(matvec, gradient, center, l1, lipschitz, keeps, solver)


def threshold(removal_ratios, values, epsilon: float) -> Threshold:
    """The model's exact removal threshold: the first failure of ``values <= epsilon``.

    Args:
        removal_ratios: (G,) strictly increasing grid in [0, 1].
        values: (G,) support minima (one support per ratio, e.g. ``support_minima(...).value``
            of the global magnitude masks) or (S, G) (S supports per ratio, e.g. seeds).
        epsilon: the loss tolerance eps > 0.

    Returns:
        :class:`Threshold`: ``fractions`` (G,) = the fraction of supports at each ratio with
        value <= eps, and ``removal_ratio`` = the largest grid p such that every p' <= p has
        fraction 1 (all supports meet the body; the first-failure rule: one failing ratio ends
        the scan even if larger ratios pass again, which for nested supports cannot happen:
        their minima are non-decreasing). 0.0 if the first ratio fails (p = 0 always meets:
        m(0) = 0 <= eps), the last ratio if none fails.
    """
    p = _checks.increasing_ratios("removal_ratios", removal_ratios)
    v = np.asarray(_checks.array("values", values), np.float64)
    if v.ndim not in (1, 2) or v.shape[-1] != p.size:
        raise ValueError(f"values must have shape (G,) or (S, G) with G = {p.size} ratios, got "
                         f"{v.shape}")
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    fractions = np.mean(np.atleast_2d(v) <= epsilon, axis=0)
    value = crossings.largest_passing(p, [fractions == 1.0], "first_failure")[0]
    return Threshold(0.0 if np.isnan(value) else float(value), fractions)
