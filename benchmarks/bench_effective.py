"""Effective removal ratios of many masks: one jitted vmap vs a loop of warm jitted calls.

    python benchmarks/bench_effective.py [--quick]

Effective sparsity [Vysogorets & Kempe 2023, sec. 3] of random masks of the digits MLP
64-32-32-10 (D = 3392) at 250 removal ratios in [0, 1] x 4 seeds = 1000 masks (``--quick``:
50 x 4 = 200): ``effective.effective_removal_ratio`` vmapped over all masks in one jitted call
(``seconds``) vs a Python loop calling the same function, jitted for one mask, on each mask
(``loop_seconds``; the masks are on the device beforehand). Times are after compilation; each
is the median of 3 runs, ``*_spread`` is their max - min. Both must give the same ratios.

Second section: Net-Trim [Aghasi et al. 2017] on the first layer (64 x 16, ReLU) of a trained
digits MLP 64-16-10 on the 1437 training images, ``nettrim.solve_layer`` (float64, tol 1e-8,
and float32 at its default tol) vs an exact SciPy reference independent of the ADMM: for a
multiplier lam the program min ||W||_1 + lam/2 ||R||^2 separates by unit, each unit's dual is a
box-constrained least squares (``lsq_linear``, BVLS), and ``brentq`` finds the lam where the
fit equals eps (``--quick``: eps = 5% of ||Y||_F only; full: 2%, 5%, 10%). Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from scipy import linalg, optimize

from phasetrans.networks import data, effective, nets, nettrim, prune, train

REPEATS = 3


def _timed(fn):
    """(last output, median seconds, max - min seconds) of ``REPEATS`` calls of ``fn()``."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times)), float(np.ptp(times))


def effective_sparsity(quick: bool) -> dict:
    """Time the effective removal ratios of random MLP masks, batched and looped."""
    num_ratios, num_seeds = (50, 4) if quick else (250, 4)
    params = nets.mlp([64, 32, 32, 10]).init(key=jax.random.key(0))
    per_seed = jax.vmap(lambda p, k: prune.random_mask(params, p, key=k), (0, None))
    masks = jax.jit(jax.vmap(per_seed, (None, 0)))(
        jnp.linspace(0, 1, num_ratios), jax.random.split(jax.random.key(1), num_seeds))
    masks = jax.tree_util.tree_map(lambda m: m.reshape(-1, *m.shape[2:]), masks)
    count = num_ratios * num_seeds
    host = jax.tree_util.tree_map(np.asarray, masks)
    singles = [jax.device_put(jax.tree_util.tree_map(lambda m, i=i: m[i], host))
               for i in range(count)]

    batched = jax.jit(jax.vmap(effective.effective_removal_ratio, (None, 0)))
    single = jax.jit(effective.effective_removal_ratio)
    jax.block_until_ready((batched(params, masks), single(params, singles[0])))  # compile
    ratios, seconds, spread = _timed(lambda: jax.block_until_ready(batched(params, masks)))
    looped, loop_seconds, loop_spread = _timed(
        lambda: jax.block_until_ready([single(params, m) for m in singles]))
    same = bool(np.array_equal(np.asarray(ratios), np.asarray(looped)))
    direct = np.asarray(jax.jit(jax.vmap(effective.removal_ratio, (None, 0)))(params, masks))
    gap = float(np.max(np.asarray(ratios) - direct))
    print(f"{count} masks ({num_ratios} ratios x {num_seeds} seeds, D = "
          f"{prune.num_prunable(params)}): one jitted vmap {seconds * 1e3:.2f} ms "
          f"(spread {spread * 1e3:.2f}); loop of warm jitted calls {loop_seconds * 1e3:.1f} ms "
          f"(spread {loop_spread * 1e3:.1f}) = {loop_seconds / seconds:.1f}x; same ratios: "
          f"{same}; largest effective - direct gap {gap:.3f}")
    return {"masks": count, "seconds": seconds, "seconds_spread": spread,
            "loop_seconds": loop_seconds, "loop_seconds_spread": loop_spread,
            "speedup": loop_seconds / seconds, "same_ratios": same,
            "max_effective_minus_direct": gap}


def _nettrim_reference(x, y, eps, ridge=1e-9):
    """min ||W||_1 s.t. ||(XW+b-Y)_Omega||_F <= eps, (XW+b)_{Omega^c} <= 0, without ADMM (see
    the module docstring); the 1e-9 ridge handles units whose active rows are rank deficient."""
    used = np.any(x != 0, axis=0)                  # all-zero pixels get weight 0
    xa = np.c_[x[:, used], np.ones(len(x))]
    d1 = xa.shape[1]
    delta = ridge * np.trace(xa.T @ xa) / len(xa)
    units = []
    for m in range(y.shape[1]):
        act = y[:, m] > 0
        a, t, b = xa[act], y[act, m], xa[~act]
        chol = linalg.cholesky(a.T @ a + delta * np.eye(d1), lower=True)
        u_ls = linalg.cho_solve((chol, True), a.T @ t)
        cols = np.hstack([np.eye(d1)[:, :-1], b.T])  # duals: l1 (box [-1, 1]), Omega^c (>= 0)
        k = linalg.solve_triangular(chol, cols, lower=True)
        box = (np.r_[-np.ones(d1 - 1), np.zeros(len(b))],
               np.r_[np.ones(d1 - 1), np.full(len(b), np.inf)])
        units.append((a, t, chol, u_ls, cols, k, box))

    def solve(lam):
        u = np.stack([u_ls - linalg.cho_solve((chol, True), cols @ optimize.lsq_linear(
            k, lam * chol.T @ u_ls, bounds=box, method="bvls", tol=1e-14).x) / lam
            for a, t, chol, u_ls, cols, k, box in units], axis=1)
        fit = sum(np.sum((a @ u[:, m] - t) ** 2) for m, (a, t, *_) in enumerate(units))
        return u, np.sqrt(fit + delta * np.sum(u**2))

    lo, hi = -5.0, 5.0
    while solve(np.exp(lo))[1] < eps:
        lo -= 5
    while solve(np.exp(hi))[1] > eps:
        hi += 5
    u = solve(np.exp(optimize.brentq(lambda s: solve(np.exp(s))[1] - eps, lo, hi,
                                     xtol=1e-13, rtol=1e-15)))[0]
    return np.abs(u[:-1]).sum()


def nettrim_layer(quick: bool) -> dict:
    """Time Net-Trim's ADMM on the digits 64 x 16 layer against the SciPy reference."""
    ds = data.load("digits")
    params = train.train(nets.mlp([64, 16, 10]), ds, key=jax.random.key(0), steps=2000).params
    x = np.asarray(ds.x_train, np.float64)
    y = np.maximum(x @ np.asarray(params[0]["w"]) + np.asarray(params[0]["b"]), 0)
    rows = []
    for relative in (0.05,) if quick else (0.02, 0.05, 0.1):
        eps = relative * np.linalg.norm(y)
        best, t_ref, _ = _timed(lambda eps=eps: _nettrim_reference(x, y, eps))
        row = {"relative_epsilon": relative, "scipy_seconds": t_ref}
        for name, dtype, tol in (("float64", jnp.float64, 1e-8), ("float32", jnp.float32, None)):
            with jax.enable_x64(dtype == jnp.float64):
                args = (jnp.asarray(x, dtype), jnp.asarray(y, dtype))

                def run(args=args, eps=eps, tol=tol):
                    sol = nettrim.solve_layer(*args, epsilon=eps, tol=tol)
                    return jax.block_until_ready(sol)

                run()  # compile
                sol, seconds, spread = _timed(run)
            got = float(np.abs(np.asarray(sol.weights, np.float64)).sum())
            row[name] = {"seconds": seconds, "spread": spread,
                         "iterations": int(sol.info.iterations),
                         "relative_objective_difference": (got - best) / best,
                         "speedup": t_ref / seconds}
            print(f"Net-Trim 64x16, eps = {relative:g} ||Y||: {name} ADMM {seconds:.3f} s "
                  f"({int(sol.info.iterations)} iterations) vs SciPy {t_ref:.2f} s = "
                  f"{t_ref / seconds:.0f}x; objective {(got - best) / best:+.1e} relative")
        rows.append(row)
    return {"nettrim": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="50 ratios x 4 seeds (200 masks)")
    args = parser.parse_args()
    figures = {"benchmark": "effective_sparsity"}
    figures.update(effective_sparsity(args.quick))
    figures.update(nettrim_layer(args.quick))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
