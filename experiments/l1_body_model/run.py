"""How much does the low-rank Hessian model move the l1-induced body's Monte Carlo prediction?

    python -m experiments.l1_body_model.run [--quick]

For one trained network per family (digits 64-16-10, D = 1184; mnist1d 40-32-32-10, D = 2624;
l1 = 1e-4, 2000 full-batch Adam steps, seed 0), the Monte Carlo fixed point p = delta(cone(K -
x_p)) / D of the l1-induced body K [ZZSL sec. 4] (phasetrans.theory.predict.l1_body_prediction: 5
bisection steps x 16 samples) with H from

- its exact eigendecomposition (|lambda|, as predict does), and
- the low-rank model of phasetrans.theory.hessian_model (the 64 largest of 128 Ritz pairs, treatment
  "abs" with floor 1e-4) with the bulk "lower" (upper bound), "upper" (lower bound) and
  calibrated on the width formula's fixed point (the point estimate),

all with the same Gaussian draws (one key), so the differences are the model's alone; plus the
seconds each took on 2 CPU cores. -> results/l1_body_model/{results.json, table.md}.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from experiments import _output
from phasetrans import _interrupt, _io
from phasetrans.geometry import bodies
from phasetrans.networks import data, nets, prune, spectrum
from phasetrans.networks import train as training
from phasetrans.theory import formula, hessian_model, predict

NETWORKS = (("digits", (64, 16, 10)), ("mnist1d", (40, 32, 32, 10)))
L1, STEPS, RANK = 1e-4, 2000, 64


def _network_row(name, sizes, *, key, num_samples, num_steps) -> dict:
    ds = data.load(name)
    net = nets.mlp(list(sizes))
    params = training.train(net, ds, key=jax.random.key(0), steps=STEPS, l1=L1).params
    loss_fn = nets.cross_entropy(net.apply)
    batch = (ds.x_train, ds.y_train)
    pred = predict.predict(params, loss_fn, batch, key=key, l1=L1, options=predict.PredictOptions(
        l1_body_options=predict.L1BodyOptions(max_dim=0),
        ellipsoid_options=predict.EllipsoidOptions(max_dim=0)))
    model, eps = pred.model, pred.noise.epsilon.mean
    dim, dtype = model.center.size, jnp.result_type(float)

    def apex_at(p):
        return jnp.asarray(prune.pruned_points(params, np.array([p]))[0][0], dtype)

    def mc(body):
        start = time.perf_counter()
        res = predict.l1_body_prediction(body, apex_at, key=key, num_samples=num_samples,
                                         num_steps=num_steps)
        return {"removal_ratio": res.removal_ratio, "interval": list(res.interval),
                "converged": bool(res.info.converged),
                "seconds": round(time.perf_counter() - start, 1)}

    center, gradient = jnp.asarray(model.center, dtype), jnp.asarray(model.gradient, dtype)
    exact = bodies.L1InducedBody.create(
        center=center, l1=L1, epsilon=eps, gradient=gradient,
        eigenvalues=jnp.asarray(formula.psd_eigenvalues(model.eigenvalues,
                                                        eigen_treatment="abs"), dtype),
        eigenvectors=jnp.asarray(model.eigenvectors, dtype))
    row = {"dataset": name, "arch": "-".join(map(str, sizes)), "num_params": dim,
           "epsilon": eps, "formula": pred.formula.removal_ratio, "rank": RANK,
           "exact": mc(exact)}
    flat_size = ravel_pytree(params)[0].size
    matvec = spectrum.restrict(spectrum.hessian_vector_product(loss_fn, params, batch),
                               jnp.asarray(model.index), flat_size)
    pairs = spectrum.ritz_pairs(matvec, dim=dim, key=jax.random.key(1), num_iters=2 * RANK)
    upper = hessian_model.from_ritz_pairs(pairs, rank=RANK, bulk="upper")
    p_star = pred.formula.removal_ratio
    beta = hessian_model.calibrated_bulk(
        upper.eigenvalues, dim=dim, removal_ratio=p_star,
        distance=float(prune.pruned_distance(params, p_star)), epsilon=eps, floor=1e-4)
    for label, bulk in (("calibrated", beta), ("upper_bulk", "upper"), ("lower_bulk", "lower")):
        low_rank = hessian_model.from_ritz_pairs(pairs, rank=RANK, bulk=bulk)
        row[label] = {**mc(hessian_model.l1_body(low_rank, center=center, l1=L1, epsilon=eps,
                                                 gradient=gradient)),
                      "bulk": float(low_rank.bulk)}
    return row


def table(rows) -> str:
    lines = ["| network | D | formula | exact | calibrated (r = 64) | bracket (upper, lower "
             "bulk) | seconds exact / calibrated |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['dataset']} {r['arch']} | {r['num_params']} | {r['formula']:.3f} | "
                     f"{r['exact']['removal_ratio']:.3f} | "
                     f"{r['calibrated']['removal_ratio']:.3f} | "
                     f"[{r['upper_bulk']['removal_ratio']:.3f}, "
                     f"{r['lower_bulk']['removal_ratio']:.3f}] | "
                     f"{r['exact']['seconds']:.0f} / {r['calibrated']['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="digits only, 4 samples x 2 steps, into results/.../quick/")
    args = parser.parse_args()
    networks = NETWORKS[:1] if args.quick else NETWORKS
    num_samples, num_steps = (4, 2) if args.quick else (16, 5)
    out = _output.directory("l1_body_model", quick=args.quick)
    rows = []
    for name, sizes in networks:  # written after each network (the exact ADMM takes minutes)
        rows.append(_network_row(name, sizes, key=jax.random.key(7), num_samples=num_samples,
                                 num_steps=num_steps))
        _io.write_json(out / "results.json", rows)
        _io.write_text(out / "table.md", table(rows))
    print(table(rows))


if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.l1_body_model.run")
    main()
