"""Spectrum speed and memory on one MLP: HVP / gradient time, Lanczos vs a NumPy reference, SLQ
peak memory on a large MLP.

    python benchmarks/bench_spectrum.py [--quick]

- HVP/grad: full-batch HVP (forward-over-reverse) vs full-batch gradient, jitted, warm.
- Lanczos: 100 reorthogonalised steps in one lax.scan vs PyHessian's SLQ Lanczos
  (``hessian(...).density(iter=100, n_v=1)``) on an identical PyTorch MLP with the same weights
  and data, when torch and pyhessian are importable (benchmark-only:
  ``pip install torch==2.13.0 pyhessian``); otherwise vs the same algorithm as a NumPy loop
  calling the same jitted HVP (reference "numpy").
- Memory: peak resident set size (ru_maxrss) after SLQ on an MLP with D ~ 1e6 (1e5 with
  --quick): O(D k), never D^2 (a dense Hessian would need D^2 * 4 bytes).
Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from phasetrans import data, nets, spectrum


def _timed(fn, repeats=5):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    return (time.perf_counter() - start) / repeats


def _numpy_lanczos(matvec, dim, num_iters, rng):
    q = rng.normal(size=dim).astype(np.float32)
    q /= np.linalg.norm(q)
    basis = np.zeros((num_iters, dim), np.float32)
    q_prev, beta = np.zeros_like(q), 0.0
    alphas = []
    for i in range(num_iters):
        basis[i] = q
        w = np.asarray(matvec(jnp.asarray(q))) - beta * q_prev
        alpha = float(w @ q)
        w -= alpha * q
        for _ in range(2):
            w -= basis.T @ (basis @ w)
        beta = float(np.linalg.norm(w))
        q_prev, q = q, w / beta
        alphas.append(alpha)
    return alphas


def _pyhessian_seconds(params, x, y, num_iters):
    """Seconds for PyHessian's Lanczos on the same MLP, or None if torch/pyhessian are missing."""
    try:
        import torch
        from pyhessian import hessian
    except ImportError:
        return None
    torch.set_num_threads(2)
    if not hasattr(torch, "_phasetrans_eig_shim"):
        # PyHessian 0.1 calls torch.eig (removed in torch 1.9) once, on the final k x k
        # tridiagonal matrix; give it the old (real, imaginary) layout via eigh.
        def eig(t, eigenvectors=True):
            values, vectors = torch.linalg.eigh(t)
            return torch.stack([values, torch.zeros_like(values)], 1), vectors

        torch.eig, torch._phasetrans_eig_shim = eig, True
    layers = []
    for i, layer in enumerate(params):
        linear = torch.nn.Linear(*layer["w"].shape)
        linear.weight.data = torch.tensor(np.asarray(layer["w"]).T.copy())
        linear.bias.data = torch.tensor(np.asarray(layer["b"]).copy())
        layers += [linear] + ([torch.nn.ReLU()] if i < len(params) - 1 else [])
    model = torch.nn.Sequential(*layers)
    inputs = (torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y), dtype=torch.long))
    start = time.perf_counter()
    hessian(model, torch.nn.CrossEntropyLoss(), data=inputs, cuda=False).density(
        iter=num_iters, n_v=1)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    ds = data.load("digits")
    net = nets.mlp([64, 64, 64, 10])
    params = net.init(key=jax.random.key(0))
    loss_fn = nets.cross_entropy(net.apply)
    batch = (ds.x_train, ds.y_train)
    flat, unravel = ravel_pytree(params)
    dim = flat.size
    grad = jax.jit(jax.grad(lambda w: loss_fn(unravel(w), batch)))
    matvec = spectrum.hessian_vector_product(loss_fn, params, batch)
    v = jax.random.normal(jax.random.key(1), (dim,))
    grad_seconds = _timed(lambda: grad(flat))
    hvp_seconds = _timed(lambda: matvec(v))

    num_iters = 100
    lanczos_seconds = _timed(lambda: spectrum.lanczos(matvec, dim=dim, key=jax.random.key(2),
                                                      num_iters=num_iters).ritz_values, 3)
    reference_seconds = _pyhessian_seconds(params, *batch, num_iters)
    reference = "pyhessian"
    if reference_seconds is None:
        reference = "numpy"
        start = time.perf_counter()
        _numpy_lanczos(matvec, dim, num_iters, np.random.default_rng(0))
        reference_seconds = time.perf_counter() - start

    width = 700 if args.quick else 2300  # D ~ 1e5 / 1e6
    big = nets.mlp([64, width, width // 4, 10])
    big_params = big.init(key=jax.random.key(3))
    big_dim = ravel_pytree(big_params)[0].size
    big_matvec = spectrum.hessian_vector_product(nets.cross_entropy(big.apply), big_params,
                                                 (ds.x_train[:256], ds.y_train[:256]))
    sq = spectrum.slq(big_matvec, dim=big_dim, key=jax.random.key(4), num_probes=2,
                      num_iters=30)
    jax.block_until_ready(sq.nodes)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"MLP D={dim}: HVP {hvp_seconds * 1e3:.2f} ms, grad {grad_seconds * 1e3:.2f} ms, "
          f"ratio {hvp_seconds / grad_seconds:.2f}; "
          f"Lanczos {num_iters} it: {lanczos_seconds:.3f} s "
          f"vs {reference} {reference_seconds:.3f} s ({reference_seconds / lanczos_seconds:.1f}x); "
          f"SLQ on D={big_dim}: peak RSS {peak_mb:.0f} MB (dense H would be "
          f"{big_dim**2 * 4 / 2**20:.0f} MB)")
    print(json.dumps({"benchmark": "spectrum", "hvp_over_grad": hvp_seconds / grad_seconds,
                      "lanczos_seconds": lanczos_seconds, "reference": reference,
                      "reference_seconds": reference_seconds,
                      "speedup": reference_seconds / lanczos_seconds,
                      "slq_dim": int(big_dim), "peak_memory_mb": peak_mb}))


if __name__ == "__main__":
    main()
