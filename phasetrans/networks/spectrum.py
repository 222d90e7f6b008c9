"""Hessian spectra of a loss over any pytree of parameters: HVP, exact Hessian, Lanczos, SLQ,
trace estimation. All estimators return :class:`phasetrans.estimate.Estimate` with a SEM.

- HVP: forward-over-reverse, H v = d/dt grad L(w + t v) [Pearlmutter 1994], of the *full-data*
  loss: mini-batches (``batch_size``) are accumulated with weights |batch| / n, so a ragged last
  batch is exact.
- Lanczos with partial reorthogonalisation [H. D. Simon, Math. Comp. 42, 1984; Parlett, The
  Symmetric Eigenvalue Problem, ch. 13; Larsen's PROPACK]: the loss of orthogonality
  omega_{j,i} ~ q_j . q_i is estimated by Simon's recurrence from the tridiagonal coefficients
  (O(k) scalars a step), and only when an estimate exceeds sqrt(eps) is the new vector (and the
  next one) orthogonalised against the stored basis: one classical Gram-Schmidt pass, a second
  only under the DGKS / Kahan-Parlett "twice is enough" criterion [Daniel, Gragg, Kaufman &
  Stewart, Math. Comp. 30, 1976; Parlett SEP sec. 6.9]. The basis stays semi-orthogonal
  (|q_i . q_j| <= sqrt(eps)), which keeps the tridiagonal, hence the Ritz values and the
  quadrature, those of full reorthogonalisation to O(eps ||H||) [Simon 1984]. A step costs one
  HVP plus O(k) scalars, plus two reads of the (k, D) basis on the steps that reorthogonalise;
  all steps run in one ``lax.scan`` (see :func:`_lanczos_run`).
- Stochastic Lanczos quadrature [Ubaru, Chen, Saad, SIAM J. Matrix Anal. Appl. 2017; Ghorbani,
  Krishnan, Xiao, ICML 2019]: for a Rademacher probe z/||z||, k Lanczos steps give nodes theta_j
  (Ritz values) and weights tau_j^2 (squared first components of the Ritz vectors), and
  sum_i f(lambda_i) ~ D sum_j tau_j^2 f(theta_j). Each probe is an unbiased-in-the-limit,
  independent estimate, so the spread across probes gives the standard error.
- Trace: Hutchinson [1989] and Hutch++ [Meyer, Musco, Musco, Woodruff, SOSA 2021].

Written directly in JAX rather than with matfree: the pieces are short, and the threshold code
needs per-probe nodes and weights (not only a scalar trace estimate) and input validation.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from phasetrans import _checks, limits
from phasetrans.devices import collect, mesh_for, sharded_map
from phasetrans.estimate import Estimate, from_samples


def hessian_vector_product(loss_fn: Callable, params, data, batch_size: int | None = None):
    """Return ``matvec``: flat v (D,) -> H v (D,), H the Hessian of the full-data mean loss.

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar`` mean loss over the batch.
        params: pytree; D = size of ``ravel_pytree(params)[0]`` (its order is the vector order).
        data: pytree of arrays with a leading example axis n.
        batch_size: examples per HVP batch (None: all at once; memory grows with it).
    """
    _checks.finite("params", params)
    n = _checks.num_examples("data", data)
    batch_size = n if batch_size is None else _checks.integer("batch_size", batch_size,
                                                              minimum=1, maximum=n)
    flat, unravel = ravel_pytree(params)
    num_full = n // batch_size
    head = jax.tree_util.tree_map(
        lambda a: a[: num_full * batch_size].reshape(num_full, batch_size, *a.shape[1:]), data)
    tail = jax.tree_util.tree_map(lambda a: a[num_full * batch_size:], data)
    has_tail = num_full * batch_size < n

    def batch_hvp(v, batch):
        grad = jax.grad(lambda w: loss_fn(unravel(w), batch))
        return jax.jvp(grad, (flat,), (v.astype(flat.dtype),))[1]

    @jax.jit
    def matvec(v):
        def body(acc, batch):
            return acc + batch_hvp(v, batch) * batch_size, None

        total = jax.lax.scan(body, jnp.zeros_like(flat), head)[0]
        if has_tail:
            total = total + batch_hvp(v, tail) * (n - num_full * batch_size)
        return (total / n).astype(v.dtype)

    return matvec


def restrict(matvec: Callable, index, dim: int) -> Callable:
    """v (k,) -> (A [v at ``index``, 0 elsewhere])[index]: the principal submatrix of a (dim, dim)
    operator on the coordinates ``index`` (e.g. the prunable weights of a full-parameter HVP),
    still matrix-free."""
    index = np.asarray(index)

    def restricted(v):
        return matvec(jnp.zeros(dim, v.dtype).at[index].set(v))[index]

    return restricted


def hessian_matrix(loss_fn: Callable, params, data, batch_size: int | None = None,
                   max_dim: int = limits.MAX_DENSE_DIM) -> jax.Array:
    """Dense (D, D) Hessian of the full-data loss, column by column from HVPs (D <= max_dim)."""
    dim = int(ravel_pytree(params)[0].size)
    if dim > _checks.positive_int("max_dim", max_dim):
        raise ValueError(f"D = {dim} > max_dim = {max_dim}: use slq() for large networks")
    matvec = hessian_vector_product(loss_fn, params, data, batch_size)
    eye = jnp.eye(dim, dtype=ravel_pytree(params)[0].dtype)
    columns = jax.lax.map(matvec, eye, batch_size=min(dim, 256))
    return 0.5 * (columns + columns.T)


class Lanczos(NamedTuple):
    """k steps of Lanczos: tridiagonal ``diag`` (k,), ``offdiag`` (k-1,), ascending
    ``ritz_values`` (k,), and ``first_components`` (k,) of the normalised Ritz vectors."""

    diag: jax.Array
    offdiag: jax.Array
    ritz_values: jax.Array
    first_components: jax.Array


def _check_iterations(dim, num_iters):
    dim = _checks.positive_int("dim", dim)
    num_iters = _checks.integer("num_iters", num_iters, minimum=1, maximum=dim)
    return dim, num_iters


#: DGKS / Kahan-Parlett threshold: a Gram-Schmidt pass that keeps less than this fraction of its
#: input's norm is repeated (and a repeat that loses as much again means "in the span").
_REORTH_ETA = 2.0**-0.5

#: The rounding level of the orthogonality estimates: the local rounding term of Simon's
#: recurrence is taken as this many eps ||H||, and an estimate reset after a
#: reorthogonalisation starts at this many eps plus the pass's residual (see
#: :func:`_lanczos_run`).
_ROUNDING = 1.0

#: How many estimates of the orthogonality run side by side (see :func:`_lanczos_run`): one
#: with the rounding terms' signs chosen to increase |omega|, the others with random signs.
_ESTIMATES = 4


class _Run(NamedTuple):
    """One Lanczos run: ``alphas`` (k,), ``betas`` (k,), the semi-orthogonal ``basis`` (k, D)
    (rows; zero rows after a breakdown), ``reorthogonalised`` (k,) booleans: whether step j
    orthogonalised its new vector q_{j+1} against the basis, ``second_passes`` (k,) booleans:
    whether that took the second Gram-Schmidt pass (only when reorthogonalised), and
    ``orthogonality`` (k,): the estimate max_{i<=j} |q_{j+1} . q_i| the run kept for the
    vector it accepted (after a reorthogonalisation, the reset level)."""

    alphas: jax.Array
    betas: jax.Array
    basis: jax.Array
    reorthogonalised: jax.Array
    second_passes: jax.Array
    orthogonality: jax.Array


def _gram_schmidt(basis, w):
    """One classical Gram-Schmidt pass: (w - Q^T Q w, Q w) for the rows Q of ``basis``.
    Q^T c is computed as c^T Q, a vector-matrix product on Q's row-major layout: written as
    ``basis.T @ coeffs``, XLA on CPU materialises the transposed (D, k) basis at every call,
    a copy of the whole basis per step."""
    coeffs = basis @ w
    return w - coeffs @ basis, coeffs


def _orthogonalise(basis, w, i):
    """``w`` orthogonalised against the rows of ``basis``: one classical Gram-Schmidt pass, a
    second one only if the first kept less than :data:`_REORTH_ETA` of the norm, and zero if the
    second lost as much again (see :func:`_lanczos_run`). Returns (w, ||w|| (computed by the
    passes' own tests: no further pass over w), the coefficients removed along row ``i`` summed
    over the passes, whether the second pass ran, sum |c| of the last pass's coefficients
    c = Q w): against rows that are orthonormal only to delta
    (|q_m . q_n| <= delta, m != n), a pass leaves Q w_out = (I - Q Q^T) c + rounding, entries
    at most delta sum |c|."""
    norm_in = jnp.linalg.norm(w)
    w, coeffs = _gram_schmidt(basis, w)
    norm_out = jnp.linalg.norm(w)
    again = norm_out < _REORTH_ETA * norm_in   # False for w = 0 and for NaN

    def second_pass(w):
        w, more = _gram_schmidt(basis, w)
        norm = jnp.linalg.norm(w)
        in_span = norm < _REORTH_ETA * norm_out
        return (jnp.where(in_span, 0.0, w), jnp.where(in_span, 0.0, norm), more[i],
                jnp.sum(jnp.abs(more)))

    def one_pass(w):
        return w, norm_out, jnp.zeros((), w.dtype), jnp.sum(jnp.abs(coeffs))

    w, norm, more, size = jax.lax.cond(again, second_pass, one_pass, w)
    return w, norm, coeffs[i] + more, again, size


def _lanczos_run(matvec, start, num_iters) -> _Run:
    """k Lanczos steps from ``start`` with partial reorthogonalisation [Simon 1984].

    Step j: w = H q_j - beta_{j-1} q_{j-1}, alpha_j = w . q_j, w -= alpha_j q_j (the three-term
    recurrence, whose cancellation along q_j stays a separate local step), beta_j = ||w||,
    q_{j+1} = w / beta_j. In floating point the q_j lose orthogonality as Ritz values converge
    [Paige 1971/1980]; the run tracks it without reading the basis, by Simon's recurrence for
    estimates omega_{j,i} of q_j . q_i [Simon, Math. Comp. 42, 1984; Parlett, The Symmetric
    Eigenvalue Problem, ch. 13; Larsen's PROPACK]: from H q_j = beta_{j-1} q_{j-1} + alpha_j
    q_j + beta_j q_{j+1} - f_j (f_j the rounding of step j) and the symmetry of H, for i < j,

        beta_j omega_{j+1,i} = beta_i omega_{j,i+1} + (alpha_i - alpha_j) omega_{j,i}
                               + beta_{i-1} omega_{j,i-1} - beta_{j-1} omega_{j-1,i}
                               + q_j . f_i - q_i . f_j,

    (with the terms in omega_{j,j} = omega_{j-1,j-1} = 1 cancelling exactly for i = j - 1).
    The rounding term is modelled as +-:data:`_ROUNDING` eps ||H|| (||H|| estimated by the
    largest Gershgorin bound |alpha_i| + beta_{i-1} + beta_i of T so far; the measured terms
    are ~0.01-0.2 eps ||H|| on the test spectra), and the locally orthogonalised
    omega_{j+1,j} is that level over beta_j. The estimate is a model, not a bound, and its sign
    choice matters: with the sign that makes each |omega| largest (the bound of the Templates'
    description and of PROPACK) the estimates can grow more slowly than the true products (seen
    on the test spectra: 3x slower growth, then a 1e5x underestimate and a float32 basis losing
    orthogonality to 2e-2), and with one random sign per entry (a simulation of the rounding) an
    early cancellation can leave a whole trajectory 60x low. So :data:`_ESTIMATES` recurrences
    run side by side, one with the largest-|omega| signs and the others with random signs (a
    fixed key: runs are deterministic), and the largest decides; omega_{j+1,j+1} = 1. Carrying
    the two latest rows of each (k numbers) costs O(k) scalars per step. When max_{i<=j}
    |omega_{j+1,i}| exceeds sqrt(eps) (eps the dtype's machine epsilon), w is orthogonalised
    against the whole (k, D) basis (:func:`_orthogonalise`: one classical Gram-Schmidt pass,
    repeated under the DGKS criterion; the rows after q_j are still zero and change nothing),
    inside ``lax.cond`` so that the steps that do not reorthogonalise never read the basis; as
    Simon prescribes, the next step's vector is reorthogonalised too (omega_{j+2,.} depends on
    omega_{j,.}, which was not reset), and the estimates of a reorthogonalised vector are reset
    to what a pass against a semi-orthogonal basis leaves, :data:`_ROUNDING` eps + sqrt(eps)
    sum |c| / ||w|| (c = Q w, the last pass's coefficients; :func:`_orthogonalise`), not to
    eps: with eps alone, float32 runs on outliers over a bulk (||H|| / beta ~ 1000) kept
    ~1e-6 along the converged directions after each pass, grown to 3e-3 = 10 sqrt(eps) by
    step 80. The pass's component along q_j, at rounding level, is added to alpha_j (the
    coefficient actually removed along q_j, as ARPACK does).

    Guarantee: the basis stays semi-orthogonal, |q_j . q_i| <= sqrt(eps) for i != j (as far
    as the estimates bound the true products; tests/test_spectrum.py checks the returned
    basis), and Simon shows that a semi-orthogonal Lanczos run computes, to O(eps ||H||), the
    same tridiagonal T as the projection of H onto the span of its basis: T_k = N^T H N +
    O(eps ||H||) for an orthonormal basis N of span(q_0..q_{k-1}), so the Ritz values, and the
    quadrature nodes and weights, are those of full reorthogonalisation to O(eps ||H||)
    [Simon, Math. Comp. 42, 1984, and Lin. Alg. Appl. 61, 1984; as summarised in Bai et al.,
    Templates for the Solution of Algebraic Eigenvalue Problems, SIAM 2000, Lanczos
    "Reorthogonalization", which uses the sqrt(eps) threshold; PROPACK's default is the
    stricter sqrt(eps / k)]. Near a breakdown (beta_j at the rounding level
    of an invariant subspace) the estimates blow up through the division by beta_j, so the step
    is reorthogonalised and, if w lies in span(Q) to working precision, comes out zero
    [Kahan-Parlett, Parlett SEP sec. 6.9]: beta_j is then set to zero and the remaining rows
    stay zero.

    Cost: a step is one HVP plus O(k) scalars and one row written into the basis (a
    ``lax.scan`` carry updated in place, one dynamic-update-slice per step, no copy of the
    array); a reorthogonalising step adds a pass that reads the (k, D) basis twice (four times
    in the rare second pass). The steps all run in one ``lax.scan``, so the step and the
    user's matvec are compiled once. (Folding alpha_j into the pass instead, c_j = q_j .
    (H q_j - beta q_{j-1}), would make the pass cancel |alpha_j| whenever beta_j < |alpha_j|,
    which on a one-signed spectrum is nearly every step: the DGKS second pass would almost
    always run.)"""
    dim = start.shape[0]
    dtype = start.dtype
    q0 = start / jnp.linalg.norm(start)
    eps = jnp.finfo(dtype).eps
    threshold = jnp.sqrt(eps)
    index = jnp.arange(num_iters)
    signs = jax.random.key(0)

    def no_pass(w, beta):
        return w, beta, jnp.zeros((), w.dtype), jnp.zeros((), bool), jnp.zeros((), w.dtype)

    def inverse_or_zero(x):  # 1 / x, and 0 for x = 0 (a breakdown)
        return jnp.where(x > 0, 1 / jnp.where(x > 0, x, 1.0), 0.0)

    def step(carry, i):
        basis, q, beta_prev, alphas, betas, omega, omega_prev, norm_h, forced = carry
        basis = jax.lax.dynamic_update_index_in_dim(basis, q, i, 0)
        # q_{i-1} is read from the basis (row 0 at i = 0, where beta_prev = 0): carrying it as
        # well made XLA copy both vectors at every step (the carry's rotation q -> q_prev)
        q_prev = jax.lax.dynamic_index_in_dim(basis, jnp.maximum(i - 1, 0), 0, keepdims=False)
        w = matvec(q) - beta_prev * q_prev
        alpha = w @ q
        w = w - alpha * q
        beta = jnp.linalg.norm(w)
        norm_h = jnp.maximum(norm_h, jnp.abs(alpha) + beta_prev + beta)
        rounding = _ROUNDING * eps * norm_h
        # Simon's recurrence, vectorised over i' < i: omega = omega_{i,.}, omega_prev =
        # omega_{i-1,.}; for i' = i - 1 the two terms in omega_{i,i} = omega_{i-1,i-1} = 1
        # cancel and are left out.
        last = index == i - 1
        below = jnp.where(index > 0, jnp.roll(omega, 1, axis=-1), 0.0)
        beta_below = jnp.where(index > 0, jnp.roll(betas, 1), 0.0)
        rest = ((alphas - alpha) * omega + beta_below * below
                + jnp.where(last, 0.0, betas * jnp.roll(omega, -1, axis=-1)
                            - beta_prev * omega_prev))
        sign = jax.random.rademacher(jax.random.fold_in(signs, i), rest.shape, rest.dtype)
        sign = sign.at[0].set(jnp.where(rest[0] >= 0, 1.0, -1.0))
        rest = rest + rounding * sign
        inverse = inverse_or_zero(beta)
        estimate = jnp.where(index < i, rest * inverse, 0.0)
        estimate = jnp.where(index == i, rounding * inverse, estimate)
        exceeded = jnp.max(jnp.abs(estimate)) > threshold   # False for NaN
        reorth = (exceeded | forced) & (beta > 0)
        w, beta, correction, again, size = jax.lax.cond(
            reorth, lambda w, _: _orthogonalise(basis, w, i), no_pass, w, beta)
        alpha = alpha + correction
        # after the pass, |q_{i+1} . q_i'| <= sqrt(eps) sum |c| / ||w|| against the
        # semi-orthogonal basis (:func:`_orthogonalise`), plus rounding
        reset = _ROUNDING * eps + threshold * size * inverse_or_zero(beta)
        estimate = jnp.where(reorth & (index <= i), reset * sign, estimate)
        ok = beta > 1e3 * eps * jnp.maximum(jnp.abs(alpha), 1.0)
        q_next = jnp.where(ok, w / jnp.where(ok, beta, 1.0), 0.0)
        beta = jnp.where(ok, beta, 0.0)
        estimate = jnp.where(ok, jnp.where(index == i + 1, 1.0, estimate), 0.0)
        alphas = alphas.at[i].set(alpha)
        betas = betas.at[i].set(beta)
        carry = (basis, q_next, beta, alphas, betas, estimate, omega, norm_h,
                 reorth & ~forced & ok)
        loss = jnp.max(jnp.abs(jnp.where(index <= i, estimate, 0.0)))
        return carry, (reorth, again, loss)

    zero = jnp.zeros((), dtype)
    row = jnp.zeros(num_iters, dtype)
    rows = jnp.zeros((_ESTIMATES, num_iters), dtype)
    carry = (jnp.zeros((num_iters, dim), dtype), q0, zero, row, row, rows.at[:, 0].set(1.0),
             rows, zero, jnp.zeros((), bool))
    carry, (reorth, again, loss) = jax.lax.scan(step, carry, index)
    return _Run(carry[3], carry[4], carry[0], reorth, again, loss)


def _lanczos_from(matvec, start, num_iters, *, with_vectors=False):
    """k Lanczos steps from ``start`` (:func:`_lanczos_run`); with ``with_vectors`` also (Ritz
    vectors (D, k), the last beta times |last components|) for :func:`ritz_pairs`."""
    alphas, betas, basis, *_ = _lanczos_run(matvec, start, num_iters)
    offdiag = betas[:-1]
    ritz, vectors = _tridiagonal_eigh(alphas, offdiag)
    result = Lanczos(alphas, offdiag, ritz, vectors[0])
    if with_vectors:
        return result, _orthonormalised(basis.T @ vectors), betas[-1] * jnp.abs(vectors[-1])
    return result


def _tridiagonal_eigh(diag, offdiag):
    """Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal (diag, offdiag)."""
    return jnp.linalg.eigh(jnp.diag(diag) + jnp.diag(offdiag, 1) + jnp.diag(offdiag, -1))


def _orthonormalised(vectors):
    """The orthonormal columns closest to ``vectors`` (D, k) in Frobenius norm, V (V^T V)^-1/2
    [Loewdin 1950; Higham, Functions of Matrices, sec. 8.1], zero columns (a breakdown's
    spurious pairs) kept zero. The semi-orthogonal basis of :func:`_lanczos_run` leaves its
    Ritz vectors orthonormal only to O(sqrt(eps)) (4e-4 in float32 on a 1.6M-parameter
    network); the low-rank Hessian model (:mod:`phasetrans.theory.hessian_model`) needs
    orthonormal columns. The correction moves each vector by O(sqrt(eps)), so a residual
    ||H v - theta v|| can grow by O(sqrt(eps) ||H||): measured in float32 on outliers over a
    bulk (||H|| = 200), the top pair's from 3e-5 to 7e-3 (0.1 sqrt(eps) ||H||; Gram-Schmidt in
    the order of convergence moved it as much, 1e-2: its overlaps with the other converged
    vectors, ~5e-5, times eigenvalue gaps of ~100 set the change). Nonzero columns have unit
    norm to O(k sqrt(eps)), so the Gram matrix's eigenvalues are near 1 or exactly 0 and 1/2
    separates them."""
    gram = vectors.T @ vectors
    values, rotation = jnp.linalg.eigh(gram)
    kept = values > 0.5
    inverse_sqrt = jnp.where(kept, 1.0 / jnp.sqrt(jnp.where(kept, values, 1.0)), 0.0)
    return vectors @ ((rotation * inverse_sqrt) @ rotation.T)


def lanczos(matvec: Callable, *, dim: int, key, num_iters: int) -> Lanczos:
    """Lanczos with partial reorthogonalisation from a random Gaussian start (see module doc).

    On breakdown (an invariant subspace found early) the remaining steps are zero: their Ritz
    values are spurious zeros with zero first component (zero quadrature weight). Raises
    ``ValueError`` if ``matvec`` returned NaN or Inf (seen as non-finite tridiagonal
    coefficients once the compiled run is done; any NaN/Inf entry of a matvec reaches alpha).
    """
    key = _checks.prng_key("key", key)
    dim, num_iters = _check_iterations(dim, num_iters)
    start = jax.random.normal(key, (dim,))
    res = _jit_lanczos(matvec, start, num_iters)
    _check_finite_run(jnp.all(jnp.isfinite(res.diag)) & jnp.all(jnp.isfinite(res.offdiag)))
    return res


@functools.partial(jax.jit, static_argnums=(0, 2))
def _jit_lanczos(matvec, start, num_iters):
    return _lanczos_from(matvec, start, num_iters)


def vector_quadrature(matvec: Callable, vector, *, num_iters: int) -> tuple[jax.Array,
                                                                            jax.Array]:
    """Gauss quadrature of the spectral measure of H seen from ``vector`` c:
    mu_c = sum_i (u_i^T c)^2 / ||c||^2 delta(lambda_i) ~ sum_j weights_j delta(nodes_j), from
    ``num_iters`` reorthogonalised Lanczos steps started at c (exact for polynomials of degree
    < 2 num_iters) [Golub & Meurant, Matrices, Moments and Quadrature with Applications, 2010,
    ch. 6]. Returns (nodes (k,), weights (k,) summing to 1); c must be finite and nonzero."""
    vector = _checks.array("vector", vector, ndim=1)
    _, num_iters = _check_iterations(vector.shape[0], num_iters)
    if not float(jnp.linalg.norm(vector)) > 0:
        raise ValueError("vector must be nonzero (its spectral measure is empty)")
    res = _jit_lanczos(matvec, vector, num_iters)
    _check_finite_run(jnp.all(jnp.isfinite(res.diag)) & jnp.all(jnp.isfinite(res.offdiag)))
    return res.ritz_values, res.first_components**2


class RitzPairs(NamedTuple):
    """k Ritz pairs of one Lanczos run: ascending ``values`` (k,), ``vectors``
    (D, k) (orthonormal columns: the semi-orthogonal basis's Ritz vectors, orthonormalised by
    :func:`_orthonormalised`; zero columns after a breakdown), and
    ``residuals`` (k,) = ||H v_j - theta_j v_j|| = beta_k |s_kj| (the
    last component of the tridiagonal's eigenvector times the last beta; in exact arithmetic
    an eigenvalue of H lies within ``residuals[j]`` of ``values[j]``) [Parlett, The Symmetric
    Eigenvalue Problem, sec. 13.2]."""

    values: jax.Array
    vectors: jax.Array
    residuals: jax.Array


def ritz_pairs(matvec: Callable, *, dim: int, key, num_iters: int) -> RitzPairs:
    """:func:`lanczos` keeping the basis: the Ritz pairs of ``num_iters`` reorthogonalised
    steps from a Gaussian start. The extreme pairs converge first (a few tens of steps for a
    separated top of the spectrum); memory is the basis, num_iters x D numbers. Raises
    ``ValueError`` if ``matvec`` returned NaN or Inf."""
    key = _checks.prng_key("key", key)
    dim, num_iters = _check_iterations(dim, num_iters)
    start = jax.random.normal(key, (dim,))
    res, vectors, residuals = _jit_ritz_pairs(matvec, start, num_iters)
    _check_finite_run(jnp.all(jnp.isfinite(res.diag)) & jnp.all(jnp.isfinite(res.offdiag)))
    return RitzPairs(res.ritz_values, vectors, residuals)


@functools.partial(jax.jit, static_argnums=(0, 2))
def _jit_ritz_pairs(matvec, start, num_iters):
    return _lanczos_from(matvec, start, num_iters, with_vectors=True)


def extreme_eigenvalues(matvec: Callable, *, dim: int, key, num_iters: int, num: int = 5):
    """(top, bottom): the ``num`` largest Ritz values (descending) and smallest (ascending)."""
    num = _checks.integer("num", num, minimum=1, maximum=num_iters)
    ritz = lanczos(matvec, dim=dim, key=key, num_iters=num_iters).ritz_values
    return ritz[::-1][:num], ritz[:num]


class SpectralQuadrature(NamedTuple):
    """SLQ quadrature: per-probe ``nodes`` (P, k), ``weights`` (P, k; rows sum to 1), ``dim`` D.

    The spectral measure (1/D) sum_i delta(lambda_i) ~ sum_j weights[p, j] delta(nodes[p, j]).
    ``diag`` (P, k) and ``offdiag`` (P, k - 1): the probes' Lanczos tridiagonals, from which
    :func:`truncate` gives the quadrature of fewer steps (None when not built by Lanczos).
    """

    nodes: jax.Array
    weights: jax.Array
    dim: int
    diag: jax.Array | None = None
    offdiag: jax.Array | None = None


def truncate(sq: SpectralQuadrature, num_iters: int) -> SpectralQuadrature:
    """The quadrature of the first ``num_iters`` Lanczos steps of the same probes.

    Each probe's rule comes from the leading num_iters x num_iters block of its tridiagonal:
    the nodes are its eigenvalues, the weights the squared first components of its eigenvectors
    (in exact arithmetic the num_iters-point Gauss rule of the probe's spectral measure
    [Golub & Meurant 2010, ch. 6]); equal to :func:`slq` run with ``num_iters`` steps on the
    same probes, without new Hessian-vector products. ``ValueError`` if ``sq`` carries no
    tridiagonals or ``num_iters`` is not in [1, k].
    """
    if sq.diag is None or sq.offdiag is None:
        raise ValueError("this quadrature carries no Lanczos tridiagonals (diag, offdiag); "
                         "truncate needs one made by slq")
    num_iters = _checks.integer("num_iters", num_iters, minimum=1, maximum=sq.diag.shape[1])
    diag, offdiag = sq.diag[:, :num_iters], sq.offdiag[:, :num_iters - 1]
    nodes, vectors = jax.vmap(_tridiagonal_eigh)(diag, offdiag)
    return SpectralQuadrature(nodes, vectors[:, 0, :] ** 2, sq.dim, diag, offdiag)


def slq(matvec: Callable, *, dim: int, key, num_probes: int = 32, num_iters: int = 64,
        devices: int | None = None) -> SpectralQuadrature:
    """Stochastic Lanczos quadrature with ``num_probes`` independent Rademacher probes (>= 2).

    The probes are drawn from ``key`` as one (num_probes, dim) block, then run one after the
    other (memory: one Lanczos basis, num_iters x dim, per device). ``devices`` (default None:
    one device) splits the probes across that many devices, each running its contiguous block
    of probes in turn (see :func:`phasetrans.devices.sharded_map`); the probes, hence the
    nodes and weights, do not depend on the device count. Raises ``ValueError`` if ``matvec``
    returned NaN or Inf for any probe (see :func:`lanczos`).
    """
    key = _checks.prng_key("key", key)
    dim, num_iters = _check_iterations(dim, num_iters)
    num_probes = _checks.integer("num_probes", num_probes, minimum=2)
    mesh = mesh_for(devices)
    probes = slq_probes(key=key, num_probes=num_probes, dim=dim)
    nodes, weights, diag, offdiag = collect(_jit_slq(matvec, probes, num_iters, mesh), mesh=mesh)
    _check_finite_run(jnp.all(jnp.isfinite(diag)) & jnp.all(jnp.isfinite(offdiag)))
    return SpectralQuadrature(nodes, weights, dim, diag, offdiag)


def slq_probes(*, key, num_probes: int, dim: int) -> jax.Array:
    """The (num_probes, dim) Rademacher probes :func:`slq` draws from ``key`` (one block, the
    default float dtype), e.g. to evaluate the same probes' exact quadrature."""
    key = _checks.prng_key("key", key)
    num_probes = _checks.integer("num_probes", num_probes, minimum=1)
    dim = _checks.integer("dim", dim, minimum=1)
    return jax.random.rademacher(key, (num_probes, dim), dtype=jnp.result_type(float))


@functools.partial(jax.jit, static_argnums=(0, 2, 3))
def _jit_slq(matvec, probes, num_iters, mesh):
    def one(_, probe):
        res = _lanczos_from(matvec, probe, num_iters)
        return res.ritz_values, res.first_components**2, res.diag, res.offdiag

    return sharded_map(one, None, probes, mesh=mesh, sequential=True)


def _check_finite_run(all_finite) -> None:
    """Raise if a Lanczos run met NaN/Inf; skipped when traced (inside the caller's jit)."""
    if isinstance(all_finite, jax.core.Tracer):
        return
    if not bool(all_finite):
        raise ValueError("matvec returned non-finite values (NaN or Inf) during Lanczos; check "
                         "the loss, parameters and data (e.g. an overflowing loss)")


def spectral_sum_per_probe(sq: SpectralQuadrature, f: Callable) -> jax.Array:
    """(P,) per-probe estimates D sum_j w_pj f(theta_pj) of sum_i f(lambda_i)."""
    return sq.dim * jnp.sum(sq.weights * f(sq.nodes), axis=1)


def spectral_sum(sq: SpectralQuadrature, f: Callable) -> Estimate:
    """Estimate of sum_i f(lambda_i) (e.g. f = identity: the trace) with SEM across probes."""
    return from_samples(spectral_sum_per_probe(sq, f))


def _bound(name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real | np.ndarray | jax.Array):
        raise TypeError(f"{name} must be a real number or +-inf, got {type(value).__name__} "
                        f"{value!r}")
    if np.ndim(value) != 0:
        raise TypeError(f"{name} must be a scalar, got an array of shape {np.shape(value)}")
    value = float(value)
    if np.isnan(value):
        raise ValueError(f"{name} must be a real number or +-inf, got nan")
    return value


def _interval(lower, upper) -> tuple[float, float]:
    """Checked ends of a count's interval [lower, upper): reals or +-inf, lower <= upper."""
    lower, upper = _bound("lower", lower), _bound("upper", upper)
    if lower > upper:
        raise ValueError(f"lower must be <= upper, got lower = {lower} > upper = {upper}")
    return lower, upper


def count_eigenvalues(sq: SpectralQuadrature, *, lower: float = -np.inf,
                      upper: float = np.inf) -> Estimate:
    """Estimated number of eigenvalues in [lower, upper).

    ``lower`` and ``upper`` are real numbers or +-inf (defaults: the whole line) with
    ``lower <= upper``; NaN or ``lower > upper`` raises ``ValueError``.
    """
    lower, upper = _interval(lower, upper)
    return spectral_sum(sq, lambda x: ((x >= lower) & (x < upper)).astype(x.dtype))


def _distribution_bounds(nodes, weights, t):
    """Per-probe bounds (low, high) on F(t-) = mu((-inf, t)) from the Chebyshev-Markov-Stieltjes
    inequalities for Gauss quadrature: sum_{i<j} w_i <= mu((-inf, theta_j)) and
    mu((-inf, theta_j]) <= sum_{i<=j} w_i [Szego, Orthogonal Polynomials, 1939, Thm 3.41.1]."""
    if t == -np.inf:
        return jnp.zeros(nodes.shape[0]), jnp.zeros(nodes.shape[0])
    if t == np.inf:
        return jnp.ones(nodes.shape[0]), jnp.ones(nodes.shape[0])
    below = jnp.cumsum(weights, axis=1) - weights  # sum_{i<j} w_i
    through = jnp.cumsum(weights, axis=1)          # sum_{i<=j} w_i
    # low: the largest node theta_j <= t gives F(t-) >= F(theta_j -) >= sum_{i<j} w_i
    low = jnp.max(jnp.where(nodes <= t, below, 0.0), axis=1)
    # high: the smallest node theta_m >= t gives F(t-) <= F(theta_m) <= sum_{i<=m} w_i
    high = jnp.min(jnp.where(nodes >= t, through, 1.0), axis=1)
    return low, high


def count_bounds(sq: SpectralQuadrature, *, lower: float = -np.inf,
                 upper: float = np.inf) -> tuple[Estimate, Estimate]:
    """Lower and upper bounds on the number of eigenvalues in [lower, upper), with SEMs.

    :func:`count_eigenvalues` sums the quadrature weights of the Ritz values in [lower, upper);
    a sharp indicator is what Gauss quadrature with k nodes resolves worst, so on a dense
    spectrum that estimate is biased by up to the weight of the nodes next to each end, far
    more than its SEM (see the README). For each probe's spectral measure mu_p (whose count,
    D mu_p([lower, upper)), is an unbiased estimate of the true count), the
    Chebyshev-Markov-Stieltjes inequalities bracket the distribution function between partial
    sums of the Gauss weights (:func:`_distribution_bounds`), so

        D (low_p(upper) - high_p(lower)) <= D mu_p([lower, upper))
                                         <= D (high_p(upper) - low_p(lower))

    holds for every probe exactly (in exact arithmetic), whatever k. Averaging over probes gives
    ``(low, high)`` :class:`Estimate` s whose interval [low - 2 SEM, high + 2 SEM] covers the
    true count up to the probe noise alone: the honest error of an SLQ count is
    (high - low) / 2 (bias bound) plus the SEM. Arguments as in :func:`count_eigenvalues`.
    """
    lower, upper = _interval(lower, upper)
    low_upper, high_upper = _distribution_bounds(sq.nodes, sq.weights, upper)
    low_lower, high_lower = _distribution_bounds(sq.nodes, sq.weights, lower)
    low = jnp.clip(low_upper - high_lower, 0.0, 1.0)
    high = jnp.clip(high_upper - low_lower, 0.0, 1.0)
    return from_samples(sq.dim * low), from_samples(sq.dim * high)


def smoothed_density(sq: SpectralQuadrature, grid, *, sigma: float) -> jax.Array:
    """Probe-averaged Gaussian-smoothed spectral density on ``grid`` (integrates to 1)."""
    sigma = _checks.real("sigma", sigma, positive=True)
    grid = _checks.array("grid", grid, ndim=1)
    kernel = jnp.exp(-0.5 * ((grid[None, None, :] - sq.nodes[..., None]) / sigma) ** 2)
    kernel = kernel / (sigma * jnp.sqrt(2 * jnp.pi))
    return jnp.mean(jnp.sum(sq.weights[..., None] * kernel, axis=1), axis=0)


TRACE_METHODS = ("hutchinson", "hutch++")


def trace(matvec: Callable, *, dim: int, key, num_probes: int = 64,
          method: str = "hutchinson") -> Estimate:
    """Stochastic trace estimate with SEM.

    ``"hutchinson"``: mean of z^T A z over Rademacher z. ``"hutch++"``: a third of the matvecs
    build Q = orth(A S); tr(Q^T A Q) is exact and Hutchinson on (I - QQ^T) A (I - QQ^T) with the
    remaining probes gives the rest; the SEM is that of the residual part (``num_probes`` >= 6).
    """
    key = _checks.prng_key("key", key)
    dim = _checks.positive_int("dim", dim)
    _checks.one_of("method", method, TRACE_METHODS)
    num_probes = _checks.integer("num_probes", num_probes, minimum=2 if method == "hutchinson"
                                 else 6)
    k_s, k_g = jax.random.split(key)
    dtype = jnp.result_type(float)
    if method == "hutchinson":
        z = jax.random.rademacher(k_g, (num_probes, dim), dtype=dtype)
        return from_samples(_quadratic_forms(matvec, z))
    sketch = jax.random.rademacher(k_s, (num_probes // 3, dim), dtype=dtype)
    q, _ = jnp.linalg.qr(jax.lax.map(matvec, sketch).T)
    exact = jnp.trace(q.T @ jax.lax.map(matvec, q.T).T)
    z = jax.random.rademacher(k_g, (num_probes - num_probes // 3 * 2, dim), dtype=dtype)
    z = z - (z @ q) @ q.T
    residual = from_samples(_quadratic_forms(matvec, z))
    return Estimate(float(exact) + residual.mean, residual.sem, residual.num_samples)


def _quadratic_forms(matvec, z):
    return jax.lax.map(lambda v: v @ matvec(v), z)
