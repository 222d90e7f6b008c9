"""``phasetrans width BODY``: the Monte Carlo Gaussian width (balls) or statistical dimension
(cones) of a body, beside its closed form."""

from __future__ import annotations

import argparse
import math

from phasetrans.cli import _flags
from phasetrans.cli._flags import UsageError

MAX_DIM = 10**8
"""Largest ``width --dim``: each Monte Carlo sample is a D-vector in memory (400 MB at 10^8)."""

BODIES = ("l2-ball", "l1-ball", "linf-ball", "orthant", "subspace", "circular-cone",
          "l1-descent-cone", "ball-cone")

_APPLIES = {"sparsity": ("subspace", "l1-descent-cone"),
            "radius": ("l2-ball", "l1-ball", "linf-ball", "ball-cone"),
            "distance": ("ball-cone",),
            "angle": ("circular-cone",)}
"""Which bodies each optional ``width`` flag applies to."""

_DEFAULTS = {"radius": 1.0, "distance": 2.0, "angle": 0.5}


def _check_flags(args) -> None:
    _flags.integer("--dim", args.dim, minimum=1, maximum=MAX_DIM,
                   why=" (each Monte Carlo sample is a D-vector in memory, 400 MB at D = 10^8)")
    _flags.integer("--samples", args.samples, minimum=2, maximum=_flags.MAX_COUNT)
    _flags.seed(args.seed)
    for name, bodies_ in _APPLIES.items():
        if args.body not in bodies_:
            _flags.not_given("--" + name, getattr(args, name),
                             f"to {args.body}; it is for {', '.join(bodies_)}")
        if name in _DEFAULTS and getattr(args, name) is None:
            setattr(args, name, _DEFAULTS[name])
    _flags.real("--radius", args.radius, positive=True)
    _flags.real("--distance", args.distance, positive=True)
    _flags.real("--angle", args.angle, positive=True, high=math.pi / 2, high_name="pi/2 (radians)")
    if args.body == "l1-descent-cone" and args.sparsity is None:
        raise UsageError("l1-descent-cone needs --sparsity S, the number of nonzeros of x0 "
                         "(1 <= S <= --dim)")
    if args.sparsity is not None:
        _flags.integer("--sparsity", args.sparsity, minimum=1, maximum=args.dim,
                       maximum_name="--dim")


def _body(args):
    """(body or cone, quantity, closed form, closed-form name) for ``phasetrans width``."""
    import numpy as np

    from phasetrans.geometry import bodies
    from phasetrans.geometry import closed_forms as cf

    dim, r = args.dim, args.radius
    if args.body in ("l2-ball", "l1-ball", "linf-ball"):
        cls, form = {"l2-ball": (bodies.L2Ball, cf.l2_ball_width),
                     "l1-ball": (bodies.L1Ball, cf.l1_ball_width),
                     "linf-ball": (bodies.LinfBall, cf.linf_ball_width)}[args.body]
        return (cls.create(dim, r), "gaussian_width", form(dim=dim, radius=r),
                f"{form.__name__}")
    if args.body == "orthant":
        return bodies.Orthant.create(dim), "statistical_dimension", cf.orthant_statdim(
            dim=dim), "orthant_statdim: D/2"
    if args.body == "subspace":
        rank = dim // 2 if args.sparsity is None else args.sparsity
        return (bodies.Subspace.create(dim, rank), "statistical_dimension",
                cf.subspace_statdim(rank=rank), "subspace_statdim: rank (--sparsity, default D/2)")
    if args.body == "circular-cone":
        return (bodies.CircularCone.create(dim, args.angle), "statistical_dimension",
                cf.circular_cone_statdim(dim=dim, angle=args.angle),
                "circular_cone_statdim: D sin^2(a) + cos(2a) (ALMT, approximate)")
    if args.body == "l1-descent-cone":
        psi = cf.l1_descent_cone_statdim(sparsity=args.sparsity, dim=dim)
        x0 = np.zeros(dim, np.float32)
        x0[:args.sparsity] = 1.0
        return (bodies.L1DescentCone.create(x0), "statistical_dimension", psi,
                "psi(s, d) of ALMT Prop 4.5 (upper bound; delta >= psi - 2 sqrt(d/s))")
    return (bodies.ball_cone(dim=dim, radius=r, distance=args.distance), "statistical_dimension",
            cf.ball_cone_statdim(dim=dim, radius=r, distance=args.distance),
            "ball_cone_statdim: circular cone with sin(a) = r/R")


def _summary(result: dict) -> list[str]:
    """Estimate ± SEM, the closed form and their difference in SEMs."""
    quantity = result["quantity"].replace("_", " ")
    estimate, sem, closed = result["estimate"], result["sem"], result["closed_form"]
    diff = estimate - closed
    in_sems = f"{diff / sem:+.2f} SEM" if sem > 0 else "SEM is 0"
    info = result.get("solver_info")
    flag = "" if info is None or info["converged"] else "  (projections NOT converged)"
    paper = ("" if "paper_approximation" not in result
             else f"; the paper's D r^2/(R^2 + r^2) = {result['paper_approximation']:.4g}")
    return [f"{quantity} of {result['body']} in D = {result['dim']} "
            f"({result['num_samples']} Monte Carlo samples)",
            f"  Monte Carlo:  {estimate:.4g} ± {sem:.2g} (1 SEM){flag}",
            f"  closed form:  {closed:.4g} ({result['closed_form_name']}){paper}",
            f"  difference:   {diff:+.3g} ({in_sems})"]


def run(args) -> dict:
    """``phasetrans width``: check the flags, estimate, compare with the closed form."""
    _check_flags(args)
    import jax

    from phasetrans.geometry import width

    body, quantity, closed, name = _body(args)
    estimator = (width.gaussian_width if quantity == "gaussian_width"
                 else width.statistical_dimension)
    est = estimator(body, key=jax.random.key(args.seed), num_samples=args.samples,
                    progress=True, devices=args.devices)
    info = None
    if quantity == "statistical_dimension":
        est, info = est.estimate, est.info
    result = {"body": args.body, "dim": args.dim, "quantity": quantity,
              "estimate": float(est.mean), "sem": float(est.sem),
              "num_samples": int(est.num_samples), "closed_form": closed,
              "closed_form_name": name}
    if info is not None:
        result["solver_info"] = info.to_dict()
    if args.body == "ball-cone":
        r2 = args.radius**2
        result["paper_approximation"] = args.dim * r2 / (args.distance**2 + r2)
    result["summary"] = _summary(result)
    return result


def add_command(subparsers, formatter) -> argparse.ArgumentParser:
    """Add the ``width`` parser to ``subparsers``."""
    parser = subparsers.add_parser(
        "width", help="Monte Carlo Gaussian width / statistical dimension vs its closed form",
        formatter_class=formatter,
        description="Balls report the Gaussian width E h(g); cones the statistical dimension "
                    "E ||Pi_C(g)||^2. ball-cone: the cone generated by a ball of radius r at "
                    "distance R, with the paper's approximation D r^2/(R^2 + r^2) beside it.")
    parser.add_argument("body", choices=BODIES, help="the body or cone")
    parser.add_argument("--dim", type=int, required=True,
                        help=f"ambient dimension D, 1 to {MAX_DIM}")
    parser.add_argument("--sparsity", type=int,
                        help="l1-descent-cone: the number of nonzeros s of x0 (required); "
                             "subspace: its rank (default: D/2); an integer in [1, D]")
    parser.add_argument("--radius", type=float,
                        help="l2/l1/linf-ball and ball-cone: ball radius r > 0 (length; "
                             f"default: {_DEFAULTS['radius']})")
    parser.add_argument("--distance", type=float,
                        help="ball-cone: distance R > 0 from the origin to the ball's centre "
                             f"(same length unit as --radius; default: "
                             f"{_DEFAULTS['distance']})")
    parser.add_argument("--angle", type=float,
                        help="circular-cone: half-angle in radians, in (0, pi/2] (default: "
                             f"{_DEFAULTS['angle']})")
    parser.add_argument("--samples", type=int, default=10_000,
                        help="Monte Carlo samples (Gaussian vectors), >= 2")
    parser.add_argument("--seed", type=int, default=0,
                        help=f"PRNG seed, an integer in [0, {_flags.MAX_SEED}]")
    parser.set_defaults(run=run)
    return parser
