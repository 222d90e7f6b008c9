"""Net-Trim: layer-wise convex pruning of ReLU networks by ADMM [AANR17].

Notation (rows are samples, as the networks compute ``x @ w + b``): a layer maps its inputs
X (n, N_in) to reference outputs Y = relu(X W + b) (n, N_out), or Y = X W + b for the linear
read-out. The bias is handled by augmenting X~ = [X, 1] (n, N_in + 1) and U = [W; b^T]
(N_in + 1, N_out). Net-Trim retrains the layer as the convex program [AANR17, sec. 2,
"Net-Trim pruning algorithm"]

    minimise ||U_w||_1   subject to   ||(X~ U - Y)_Omega||_F <= eps,   (X~ U)_{Omega^c} <= B,

with Omega = {Y > 0} (the active units, per sample), B = 0 (the cascade variant of :func:`prune`
loosens it, see there), and U_w the weight rows of U: the bias row is left out of the l1 norm (a
bias is one number per unit, and the paper's pruning counts connections). For the linear read-out
Omega is everything: only the fit constraint remains. A solution keeps the layer's response on the
data (to eps on the active entries, never activating an inactive one) with the fewest-in-l1 weights.

Coupled ball, not one per unit. The constraint above is one Frobenius ball for the whole layer, as
in the paper's program (its guarantees bound the layer's and the network's response in Frobenius
norm by this eps). With eps split into per-unit radii eps_m the program separates into N_out
independent programs, one per column of U (the paper's sample-complexity analysis, sec. 3, treats
one unit at a time this way); we keep the coupled ball because it needs no rule for splitting eps
(any fixed split is a stricter program that forbids moving error budget from a unit that is hard to
sparsify to one that is easy), and it costs nothing extra here: every unit shares the Cholesky
factor below either way, and the joint ball projection is one norm. The authors' code
(DNNToolBox/Net-Trim) projects onto the joint ball too.

ADMM. With Z = X~ U and V = U the program is min ||V_w||_1 + I_C(Z) s.t. X~ U = Z, U = V, C the
set above (a ball around Y on Omega, {z <= B} on Omega^c). In scaled form [Boyd et al.,
"Distributed optimization and statistical learning via ADMM", 2011, sec. 3.1.1], with the
(Z, V) block first:

    Z <- Pi_C(X~ U + A),   V <- soft(U + G, 1/rho) (bias row: V_b <- U_b + G_b),
    U <- (X~^T X~ + I)^{-1} (X~^T (Z - A) + V - G),   A <- A + X~ U - Z,   G <- G + U - V,

where Pi_C is explicit: Y + min(1, eps / ||D||) D on Omega (D = (Z - Y)_Omega, one projection
onto the joint ball) and min(z, B) on Omega^c; the Cholesky factor of X~^T X~ + I is computed
once. Over-relaxation alpha = 1.6 [Boyd et al. 2011, sec. 3.4.3] replaces (Z, V) by
alpha (Z, V) + (1 - alpha) (X~ U, U) in the U- and dual updates. The returned weights are V,
exactly sparse (it comes out of the soft-thresholding); it meets the constraints to the primal
residual. The stopping quantity (``SolverInfo.residual``, checked every 10 iterations by
:func:`phasetrans._loops.iterate`) is the larger of the relative primal and dual residuals
[Boyd et al. 2011, sec. 3.3.1]:

    ||(X~ U - Z, U - V)|| / max(||(X~ U, U)||, ||(Z, V)||),
    ||(X~ dU, dU)|| / max(||(A, G)||, 1 / rho),

dU the change of U over the last iteration, 0/0 = 0 in the first. The dual floor 1 / rho is the
size of one entry of rho G, an l1 subgradient: without it a zero multiplier (a loose ball, where
the weights are 0 and the free bias may still move) would leave the ratio undefined.

Scaling. ADMM's speed at a fixed rho depends on the units of X and U, so the iteration runs on
an equilibrated copy: X~ is multiplied by 3 / (its largest column norm) (the normalisation of
the authors' code, c0 = 0.3 max column norm) and U is measured in the unit

    u0 = sqrt(eps max(||Y||_F, eps)) / (||X~||_F sqrt(N_out)),

i.e. a rough RMS weight ||Y||_F / (||X~||_F sqrt(N_out)) times sqrt(eps / ||Y||_F): a thinner
ball wants a larger penalty (measured: the best rho on a fixed scale grew from ~3 at eps = 5% of
||Y||_F to ~30-100 at 0.1%). Y and eps scale along, so the program and its solution are
unchanged. In these units the default rho = 1 took the fewest iterations (geometric mean over
rho in {0.3, 0.5, 1, 2, 3}) on the digits 64-16-10 layers (200 and 1437 samples) and on random
layers, for eps from 0.1% to 20% of ||Y||_F (float64, tol 1e-6: 50-1200 iterations; a 12-sample
layer at eps = 0.1% took 3900).

Reaching a removal ratio (:func:`prune`). The Net-Trim solution at a tolerance has whatever
sparsity the tolerance allows, and its zeros come from the ADMM's soft-thresholding, so they are
exact only to the solver's tolerance (small entries near the threshold flip between zero and
tiny). A removal ratio p is met by keeping, in each weight matrix, the entries of largest |U|
and zeroing floor(p n_l) (``prune.layerwise_magnitude``'s count and tie rule), with the
solution's values on the kept support. So one convex solve per layer serves every ratio (in the
parallel variant; the cascade's inputs depend on the pruned earlier layers, hence on p), and the
result is a ranking by the Net-Trim solution, not one solve per ratio with eps tuned to hit it.

References:
    [AANR17] A. Aghasi, A. Abdi, N. Nguyen, J. Romberg, "Net-Trim: Convex Pruning of Deep Neural
        Networks with Performance Guarantee", NeurIPS 2017 (arXiv 1611.05162).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from phasetrans import _checks, _loops
from phasetrans.estimate import SolverInfo
from phasetrans.networks import prune as magnitude

VARIANTS = ("parallel", "cascade")
"""Net-Trim variants of :func:`prune`: inputs from the original or from the pruned network."""

DEFAULT_TOL = {"float32": 1e-4, "float64": 1e-8}
"""Default ``tol`` on the relative primal/dual residual, by the dtype of the data: in float32
the residual's own rounding (norms over n N_out entries) stalls it near 1e-5 on degenerate layers
(e.g. inputs from a fully pruned layer, all rows equal), so 1e-4 (objective within ~1e-4
relative of the float64 optimum on the digits layers)."""

CASCADE_INFLATION = float(np.sqrt(1.1))
"""gamma of the cascade's tolerance (see :func:`prune`), the value of the authors' code."""

_RELAXATION = 1.6  # ADMM over-relaxation alpha [Boyd et al. 2011, sec. 3.4.3]
_CHECK_EVERY = 10  # iterations per residual evaluation
_COLUMN_NORM = 3.0  # largest column norm of the equilibrated X~ (the authors' 1 / 0.3)


class LayerSolution(NamedTuple):
    """One layer's Net-Trim weights.

    Attributes:
        weights: (N_in, N_out) the sparse weights (the ADMM's soft-thresholded iterate V).
        bias: (N_out,) the bias (not penalised).
        info: ``SolverInfo`` of the ADMM: ``residual`` is the relative primal/dual residual,
            ``converged`` False when ``max_iters`` ran out first.
    """

    weights: jax.Array
    bias: jax.Array
    info: SolverInfo


class NetTrimResult(NamedTuple):
    """Net-Trim pruned networks, one per removal ratio.

    Attributes:
        params: the network's parameter structure (a list of ``{"w", "b"}``) with a leading
            ratio axis P on every leaf, like a ``jax.vmap``-ed result; pruned weights are
            exactly 0.
        masks: bool pytree of the same structure and shapes, True = kept (biases all True).
        info: the worst ``SolverInfo`` over every layer solve (most iterations, largest
            residual, ``converged`` only if every solve converged), as plain Python numbers.
    """

    params: list
    masks: list
    info: SolverInfo


def solve_layer(x, y, *, epsilon, linear: bool = False, rho: float = 1.0, tol=None,
                max_iters: int = 5000) -> LayerSolution:
    """Net-Trim one layer: min ||W||_1 s.t. ||(X W + b - Y)_Omega||_F <= eps, (X W + b) <= 0
    off Omega, Omega = {Y > 0} (everything when ``linear``), by ADMM (module docstring).

    The constraint is one Frobenius ball over the whole layer (not one per unit; module
    docstring), the bias is free and not in the l1 norm.

    Args:
        x: (n, N_in) the layer's inputs, one sample per row.
        y: (n, N_out) the reference outputs: for a ReLU layer the original layer's
            post-activation outputs relu(x W + b) (so y >= 0); for the linear read-out
            (``linear=True``) its outputs x W + b.
        epsilon: eps > 0, the absolute radius of the fit ball (keyword-only, required).
        linear: True for the linear read-out (no ReLU: no Omega^c constraint). Default False.
        rho: ADMM penalty > 0 on the equilibrated problem (default 1); it changes the iteration
            count, not the solution.
        tol: stop when the relative primal/dual residual is <= tol; default 1e-4 for float32
            data, 1e-8 for float64 (``DEFAULT_TOL``).
        max_iters: iteration budget >= 1 (default 5000); the loop runs whole blocks of 10.

    Returns:
        ``LayerSolution(weights (N_in, N_out), bias (N_out,), info)`` in the dtype of x and y.
    """
    x = _checks.array("x", x, ndim=2)
    y = _checks.array("y", y, ndim=2)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"x and y must have one row per sample, the same number of rows; got x "
                         f"of shape {x.shape} and y of shape {y.shape}")
    linear = _checks.boolean("linear", linear)
    if not linear and np.any(np.asarray(y) < 0):
        raise ValueError("y must be >= 0 for a ReLU layer (the post-activation outputs "
                         "relu(x W + b)); pass linear=True for the linear read-out")
    epsilon = _checks.real("epsilon", epsilon, positive=True)
    dtype = jnp.result_type(x, y)
    options = _options(rho, tol, max_iters, dtype)
    x, y = x.astype(dtype), y.astype(dtype)
    return _solve_layer(x, y, jnp.zeros_like(y), jnp.asarray(epsilon, dtype), *options,
                        linear=linear)


def _options(rho, tol, max_iters, dtype):
    """(rho, tol, max_iters) checked, tol defaulted by dtype."""
    rho = _checks.real("rho", rho, positive=True)
    tol = _checks.tol(tol, dtype, float32=DEFAULT_TOL["float32"],
                      float64=DEFAULT_TOL["float64"])
    return rho, tol, _checks.positive_int("max_iters", max_iters)


@functools.partial(jax.jit, static_argnames=("linear",))
def _solve_layer(x, y, bound, epsilon, rho, tol, max_iters, *, linear):
    """The ADMM of the module docstring with Omega^c bound ``bound`` (n, N_out)."""
    dtype = y.dtype
    n, num_in = x.shape
    augmented = jnp.concatenate([x, jnp.ones((n, 1), dtype)], axis=1)
    active = jnp.ones(y.shape, bool) if linear else y > 0
    threshold = jnp.concatenate([jnp.ones(num_in, dtype), jnp.zeros(1, dtype)])[:, None] / rho
    # equilibration (module docstring): X = k X~ / max column norm, U in units of u0
    column = jnp.max(jnp.linalg.norm(augmented, axis=0))
    unit = jnp.sqrt(epsilon * jnp.maximum(jnp.linalg.norm(y), epsilon)) / (
        jnp.linalg.norm(augmented) * np.sqrt(y.shape[1]))
    data_scale = _COLUMN_NORM / column
    to_scaled = data_scale / unit  # X~ U = Y  <=>  X (U / u0) = Y * to_scaled
    matrix = augmented * data_scale
    target, bound, radius = y * to_scaled, bound * to_scaled, epsilon * to_scaled
    factor = jax.scipy.linalg.cho_factor(matrix.T @ matrix + jnp.eye(num_in + 1, dtype=dtype))

    def project(z):  # onto C: the joint ball around the target on Omega, z <= bound elsewhere
        offset = jnp.where(active, z - target, 0)
        shrink = radius / jnp.maximum(jnp.linalg.norm(offset), radius)
        return jnp.where(active, target + shrink * offset, jnp.minimum(z, bound))

    def step(state):
        u, a, g, _, _ = state
        xu = matrix @ u
        z = project(xu + a)
        v = u + g
        v = jnp.sign(v) * jnp.maximum(jnp.abs(v) - threshold, 0)
        z_hat = _RELAXATION * z + (1 - _RELAXATION) * xu
        v_hat = _RELAXATION * v + (1 - _RELAXATION) * u
        u = jax.scipy.linalg.cho_solve(factor, matrix.T @ (z_hat - a) + v_hat - g)
        return u, a + matrix @ u - z_hat, g + u - v_hat, z, v

    def norm(*parts):
        return jnp.sqrt(sum(jnp.sum(p**2) for p in parts))

    def ratio(numerator, denominator):  # 0 when the numerator is 0
        return numerator / jnp.maximum(denominator, jnp.finfo(dtype).tiny)

    def residual(previous, state):
        u, a, g, z, v = state
        xu = matrix @ u
        primal = ratio(norm(xu - z, u - v), jnp.maximum(norm(xu, u), norm(z, v)))
        du = u - previous[0]
        return jnp.maximum(primal, norm(matrix @ du, du) / jnp.maximum(norm(a, g), 1 / rho))

    zeros_u, zeros_z = jnp.zeros((num_in + 1, y.shape[1]), dtype), jnp.zeros_like(y)
    init = (zeros_u, zeros_z, zeros_u, zeros_z, zeros_u)
    state, info = _loops.iterate(step, init, residual=residual, tol=tol, max_iters=max_iters,
                                 check_every=_CHECK_EVERY)
    v = state[4] * unit
    return LayerSolution(v[:-1], v[-1], info)


def prune(apply, params, x, removal_ratios, *, epsilon, variant: str = "parallel",
          rho: float = 1.0, tol=None, max_iters: int = 5000) -> NetTrimResult:
    """Net-Trim a ReLU MLP layer by layer, then keep the largest entries per removal ratio.

    Layer l (weights W_l, b_l) is retrained by :func:`solve_layer`'s program on inputs X_l and
    reference outputs Y_l, the original network's layer outputs on ``x`` (post-ReLU; the last
    layer is the linear read-out), with tolerance eps_l = ``epsilon`` ||Y_l||_F:

    - ``"parallel"`` [AANR17, sec. 2.1, "Parallel Net-Trim"]: X_l is the original network's
      layer input, so the layers are independent and one solve per layer serves every ratio.
    - ``"cascade"`` [AANR17, sec. 2.2, "Cascade Net-Trim"]: X_l is the output of the
      already-pruned layers (at the same ratio), Y_l stays the original network's. The original
      weights need not be feasible for these inputs, so, as in the paper's cascade program, the
      bound off Omega is B = max(X_l W_l + b_l, 0) instead of 0 and the radius is
      max(``epsilon`` ||Y_l||_F, gamma ||(X_l W_l + b_l - Y_l)_Omega||_F), gamma =
      ``CASCADE_INFLATION`` = sqrt(1.1) (the authors' code): (W_l, b_l) is then always feasible
      (with B = 0 and eps_l alone, on a trained digits 64-16-16-10 MLP at ``epsilon`` = 0.05,
      the float64 ADMM stalled at residuals 6e-4 to 0.8 after 20 000 iterations for the read-out
      at every p and for the second layer from p = 0.55 on: no feasible point). With X_l the
      original inputs both reduce to the parallel program, so the first layer is solved once;
      every later layer is solved once per ratio (vmapped).

    Each ratio p then removes, in every weight matrix separately, the floor(p n_l) entries of
    smallest |U| of the layer's Net-Trim solution (``prune.layerwise_magnitude``'s count and
    ties), keeping the solution's values and bias elsewhere (module docstring: why).

    Args:
        apply: the forward pass of a ReLU MLP, e.g. ``nets.mlp(...).apply`` (checked:
            ``apply`` must agree with a ReLU forward pass of ``params`` on ``x``).
        params: its parameters, a list of ``{"w": (N_in, N_out), "b": (N_out,)}``.
        x: (n, features) the inputs the layers are fitted on, typically the training set.
        removal_ratios: (P,) removal ratios in [0, 1].
        epsilon: relative tolerance in (0, 1) (keyword-only, required).
        variant: ``"parallel"`` (default) or ``"cascade"``.
        rho, tol, max_iters: the ADMM's, as in :func:`solve_layer` (per layer solve).

    Returns:
        ``NetTrimResult(params, masks, info)`` with a leading ratio axis P on every leaf.
    """
    if not callable(apply):
        raise TypeError(f"apply must be a ReLU MLP's forward pass apply(params, x) (e.g. "
                        f"nets.mlp(...).apply), got {type(apply).__name__}")
    _checks.one_of("variant", variant, VARIANTS)
    _check_mlp(params)
    x = _checks.array("x", x, ndim=2)
    if x.shape[1] != params[0]["w"].shape[0]:
        raise ValueError(f"x must have the network's {params[0]['w'].shape[0]} input features "
                         f"per row, got shape {x.shape}")
    grid = _checks.removal_ratios("removal_ratios", removal_ratios)
    epsilon = relative_epsilon("epsilon", epsilon)
    dtype = jnp.result_type(x, *jax.tree_util.tree_leaves(params))
    rho, tol, max_iters = _options(rho, tol, max_iters, dtype)
    params = jax.tree_util.tree_map(lambda w: jnp.asarray(w, dtype), params)
    x = x.astype(dtype)
    outputs = _forward(params, x)[-1]
    logits = jnp.asarray(apply(params, x))
    scale = float(jnp.max(jnp.abs(outputs))) + 1.0
    if logits.shape != outputs.shape or not jnp.allclose(
            logits, outputs, rtol=0, atol=1e3 * float(jnp.finfo(dtype).eps) * scale):
        raise ValueError("apply must be a ReLU MLP (nets.mlp with activation='relu'): apply "
                         "disagrees with a ReLU forward pass of params")
    out = _prune(params, x, grid.astype(dtype), jnp.asarray(epsilon, dtype), rho, tol,
                 max_iters, variant=variant)
    infos = [SolverInfo.worst(info) for info in out[2]]
    return NetTrimResult(out[0], out[1], SolverInfo.combine(*infos))


def relative_epsilon(name: str, value) -> float:
    """Check a relative tolerance of :func:`prune` (eps_l = value ||Y_l||_F): a number in (0, 1)."""
    value = _checks.real(name, value)
    if not 0 < value < 1:
        raise ValueError(f"{name} is relative to each layer's ||Y_l||_F and must lie in (0, 1), "
                         f"got {value}")
    return value


def _check_mlp(params) -> None:
    """ValueError unless ``params`` is an MLP's: a list of {"w": 2-D, "b": 1-D} that chain."""
    if not isinstance(params, list | tuple) or not params or not all(
            isinstance(layer, dict) and set(layer) == {"w", "b"} for layer in params):
        raise ValueError("params must be a ReLU MLP's parameters (nets.mlp): a non-empty list of "
                         "{'w', 'b'} dicts")
    _checks.finite("params", params)
    previous = None
    for i, layer in enumerate(params):
        w_shape, b_shape = np.shape(layer["w"]), np.shape(layer["b"])
        if len(w_shape) != 2 or b_shape != w_shape[1:]:
            raise ValueError(f"net must be a ReLU MLP (nets.mlp): every weight 2-D with a 1-D "
                             f"bias per output, but layer {i} has w {w_shape} and b {b_shape}")
        if previous is not None and w_shape[0] != previous:
            raise ValueError(f"layer {i} takes {w_shape[0]} inputs but layer {i - 1} gives "
                             f"{previous}")
        previous = w_shape[1]


def _forward(params, x):
    """The layer inputs X_0 = x, X_1, ..., X_L-1 and the read-out's output (ReLU MLP)."""
    layers = [x]
    for layer in params[:-1]:
        layers.append(jax.nn.relu(layers[-1] @ layer["w"] + layer["b"]))
    return [*layers, layers[-1] @ params[-1]["w"] + params[-1]["b"]]


@functools.partial(jax.jit, static_argnames=("variant",))
def _prune(params, x, grid, epsilon, rho, tol, max_iters, *, variant):
    signals = _forward(params, x)
    last = len(params) - 1

    def solve(l, inputs):  # the cascade program (prune's docstring); parallel when inputs = X_l
        layer, y = params[l], signals[l + 1]
        linear = l == last
        reference = inputs @ layer["w"] + layer["b"]
        mismatch = jnp.where(linear | (y > 0), reference - y, 0)
        radius = jnp.maximum(epsilon * jnp.linalg.norm(y),
                             CASCADE_INFLATION * jnp.linalg.norm(mismatch))
        return _solve_layer(inputs, y, jnp.maximum(reference, 0), radius, rho, tol, max_iters,
                            linear=linear)

    def keep(solution, ratio):
        weights = solution.weights
        mask = magnitude._magnitude_keep(weights.ravel(), ratio).reshape(weights.shape)
        return ({"w": jnp.where(mask, weights, 0), "b": solution.bias},
                {"w": mask, "b": jnp.ones(solution.bias.shape, bool)})

    first = solve(0, x)
    if variant == "parallel":
        solutions = [first] + [solve(l, signals[l]) for l in range(1, last + 1)]
        pruned, masks = jax.vmap(lambda r: tuple(zip(*[keep(s, r) for s in solutions],
                                                     strict=True)))(grid)
        return list(pruned), list(masks), [s.info for s in solutions]

    def cascade(ratio):
        layers, masks, infos = [], [], []
        inputs, solution = x, first
        for l in range(last + 1):
            if l:
                solution = solve(l, inputs)
                infos.append(solution.info)
            layer, mask = keep(solution, ratio)
            layers.append(layer)
            masks.append(mask)
            if l < last:
                inputs = jax.nn.relu(inputs @ layer["w"] + layer["b"])
        return layers, masks, infos

    layers, masks, infos = jax.vmap(cascade)(grid)
    return layers, masks, [first.info, *infos]
