"""Command-line front end: ``phasetrans <command> ... [--json]``.

Each command prints a short human-readable summary, or with ``--json`` exactly one JSON object on
stdout and nothing else there; progress bars, notes and warnings go to stderr.

Errors. Every flag is checked before any training or sampling starts. A mistake a user can make
(a value out of range, a flag that does not apply to the chosen mode, a missing or unreadable
input file, an output whose directory is missing or not writable) exits with status 2 after
printing one line on stderr, ``phasetrans <command>: error: <message>``, whose message names the
flag. A ``ValueError``, ``TypeError`` or ``OSError`` the library raises while loading or writing a
file is reported under the flag that named the file (``--data-file``, ``--params``,
``--save-params``, ``--figure``); one no flag can be blamed for is still reported on one line
(without a flag). Ctrl-C prints ``phasetrans <command>: interrupted`` and exits with status 130.
Any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import pathlib
import sys
import time

from phasetrans import _interrupt, _io, limits

EXIT_USAGE = 2
"""Exit status of a user error (argparse's convention)."""

"""Exit status after Ctrl-C (128 + SIGINT, the shell's convention)."""

MAX_COUNT = 2**31 - 1
"""Largest value of a count flag (``--samples``, ``--steps``, ...): JAX indexes with int32."""

MAX_SEED = 2**32 - 1
"""Largest ``--seed``: ``jax.random.key`` keeps 32 bits; larger seeds would repeat smaller ones."""

MAX_WIDTH_DIM = 10**8
"""Largest ``width --dim``: each Monte Carlo sample is a D-vector in memory (400 MB at 10^8)."""

MAX_CS_DIM = 10**4
"""Largest ``cs --dim``: each trial holds several d x d float64 matrices (800 MB each at 10^4)."""


class UsageError(Exception):
    """A mistake on the command line; its message names the flag (exit status 2)."""


class _ParseError(Exception):
    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose own errors (unknown flag, bad int, missing argument) become one
    line on stderr, like every other error, instead of usage text plus a message."""

    def error(self, message):
        raise _ParseError(self.prog, message)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` after every option, ``(required)`` after required ones; help
    texts that already state their default (flags whose default depends on another) are kept."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default is argparse.SUPPRESS or not action.option_strings:
            return text
        if action.required:
            return text + " (required)"
        if "default" in text:
            return text
        return text + " (default: %(default)s)"


# --------------------------------------------------------------------------------- checks


def _describe(err: BaseException) -> str:
    """The message of a library exception, without a traceback."""
    if isinstance(err, OSError) and err.strerror:
        name = err.filename if err.filename is not None else ""
        return f"{err.strerror}: {str(name)!r}" if name else err.strerror
    return str(err) or type(err).__name__


@contextlib.contextmanager
def _reported_as(flag: str, *extra: type[BaseException]):
    """Re-raise a ValueError, TypeError or OSError (and ``extra`` types) of the body as a
    :class:`UsageError` whose message starts with ``flag``."""
    try:
        yield
    except (ValueError, TypeError, OSError, *extra) as err:
        raise UsageError(f"{flag}: {_describe(err)}") from err


def _integer(flag: str, value: int, *, minimum: int | None = None, maximum: int | None = None,
             maximum_name: str | None = None, why: str = "") -> int:
    """Check an int flag is in [minimum, maximum]; ``maximum_name`` names a maximum given by
    another flag, ``why`` explains the maximum."""
    if minimum is not None and value < minimum:
        raise UsageError(f"{flag} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        bound = maximum if maximum_name is None else f"{maximum_name} ({maximum})"
        raise UsageError(f"{flag} must be <= {bound}, got {value}{why}")
    return value


def _real(flag: str, value: float, *, positive: bool = False, nonnegative: bool = False,
          high: float | None = None, high_name: str | None = None) -> float:
    """Check a float flag is finite and > 0 (``positive``), >= 0 (``nonnegative``), <= high."""
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")
    if positive and value <= 0:
        raise UsageError(f"{flag} must be > 0, got {value}")
    if nonnegative and value < 0:
        raise UsageError(f"{flag} must be >= 0, got {value}")
    if high is not None and value > high:
        raise UsageError(f"{flag} must be <= {high_name or high}, got {value}")
    return value


def _names(flag: str, value: str, allowed, what: str, *, alternative: str = "") -> list[str]:
    """The comma-separated names of ``flag``, each one of ``allowed`` and none twice."""
    names = [name.strip() for name in value.split(",")]
    for name in names:
        if name not in allowed:
            raise UsageError(f"{flag}: unknown {what} {name!r}; allowed: {','.join(allowed)} "
                             f"(comma-separated){alternative}")
    if len(set(names)) != len(names):
        raise UsageError(f"{flag} lists a {what} twice: {value!r}")
    return names


def _seed(value: int) -> int:
    return _integer("--seed", value, minimum=0, maximum=MAX_SEED,
                    why=" (jax.random.key keeps 32 bits)")


def _not_given(flag: str, value, reason: str) -> None:
    """Refuse a flag (given, i.e. not None) that does not apply; ``reason`` says why."""
    if value is not None:
        raise UsageError(f"{flag} does not apply {reason}")


def _existing_file(flag: str, path: str) -> None:
    p = pathlib.Path(path)
    if not p.exists():
        raise UsageError(f"{flag} {path!r} does not exist")
    if not p.is_file():
        raise UsageError(f"{flag} {path!r} is not a file (a directory?); give the file itself")
    if not os.access(p, os.R_OK):
        raise UsageError(f"{flag} {path!r} is not readable (permission denied)")


def _output_file(flag: str, path: str, formats: list[str]) -> bool:
    """Check that ``path`` can be written: its suffix (lower case) is one of ``formats``, its
    directory exists and is writable, it is not a directory. Returns whether it exists."""
    p = pathlib.Path(path)
    allowed = ", ".join(f".{f}" for f in formats)
    if p.suffix[1:].lower() not in formats:
        raise UsageError(f"{flag} {path!r} must end in one of {allowed}")
    parent = p.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path!r}: directory {str(parent)!r} does not exist; create it "
                         "first")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path!r}: directory {str(parent)!r} is not writable")
    if p.is_dir():
        raise UsageError(f"{flag} {path!r} is a directory; give a file name")
    return p.exists()


def _figure_formats() -> list[str]:
    """File suffixes matplotlib can write (png, pdf, svg, jpg, ...)."""
    from matplotlib.figure import Figure

    return sorted(Figure().canvas.get_supported_filetypes())


def _note(command: str, text: str) -> None:
    print(f"phasetrans {command}: {text}", file=sys.stderr)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object on stdout and nothing else there")
    parser.add_argument("--devices", type=int,
                        help="devices sharing the independent work (Monte Carlo samples, SLQ "
                             "probes, seeds x ratios, trials), >= 1; the numbers do not depend "
                             "on it (default: all visible devices; on CPU one, unless "
                             "XLA_FLAGS=--xla_force_host_platform_device_count=N)")


def _resolve_devices(args) -> None:
    """Check ``--devices`` before any work; None becomes every visible device."""
    import jax

    from phasetrans import devices

    if args.devices is None:
        args.devices = jax.device_count()
    with _reported_as("--devices"):
        devices.mesh(args.devices)


# ------------------------------------------------------------------------------------- cs

_CS_DEFAULTS = {"depth": 3, "init_scale": 0.02, "iters": 30_000}


def _cs_distinct(grid: int, dim: int) -> tuple[int, int]:
    """Distinct sparsities and measurement counts of a ``grid`` x ``grid`` default grid at
    ``dim``, rounded as ``cs.success_grid`` rounds them (nearest integer in [1, dim])."""
    import numpy as np

    from phasetrans.applications import cs

    counts = [np.unique(np.clip(np.rint(np.asarray(f) * dim), 1, dim)).size
              for f in cs.grid_fractions(grid)]
    return counts[0], counts[1]


def _check_cs_grid(grid: int, dim: int) -> None:
    _integer("--grid", grid, minimum=2)
    if grid > dim:
        raise UsageError(f"--grid {grid} asks for {grid} measurement counts m in 1..{dim}, but "
                         f"--dim {dim} has only {dim} (and fewer sparsities s <= d/2); use a "
                         f"smaller --grid")
    distinct = _cs_distinct(grid, dim)
    if min(distinct) == grid:
        return
    best = next((g for g in range(grid - 1, 1, -1) if min(_cs_distinct(g, dim)) == g), None)
    hint = (f"use --grid <= {best}" if best is not None
            else "no grid fits: use --dim >= 3")
    raise UsageError(f"--grid {grid} at --dim {dim} repeats cells: its {grid} sparsity "
                     f"fractions s/d in (0, 1/2] round to only {distinct[0]} distinct sparsities "
                     f"and its measurement fractions to {distinct[1]} distinct counts; {hint}")


def _check_cs_flags(args) -> None:
    _integer("--dim", args.dim, minimum=2, maximum=MAX_CS_DIM,
             why=" (each trial holds several d x d float64 matrices, 800 MB each at d = 10^4)")
    _integer("--trials", args.trials, minimum=1, maximum=MAX_COUNT)
    _seed(args.seed)
    if args.solver == "bp":
        for flag, value in (("--depth", args.depth), ("--init-scale", args.init_scale),
                            ("--iters", args.iters)):
            _not_given(flag, value, "to --solver bp; it is for --solver overparam")
    else:
        for name, default in _CS_DEFAULTS.items():
            if getattr(args, name) is None:
                setattr(args, name, default)
        _integer("--depth", args.depth, minimum=2, maximum=MAX_COUNT)
        _real("--init-scale", args.init_scale, positive=True)
        _integer("--iters", args.iters, minimum=1, maximum=MAX_COUNT)
    _check_cs_grid(args.grid, args.dim)


def _cs_summary(result: dict) -> list[str]:
    """A short table of ``cs.report``: per sparsity, the empirical 50% point and the theory."""
    solver = {"bp": "basis pursuit", "overparam": "overparameterized GD"}[result["solver"]]
    size = len(result["transition"])
    info = result["solver_info"]
    lines = [f"{solver}, d = {result['dim']}, {result['trials']} trial(s) per cell on a "
             f"{size} x {len(result['grid']) // size} grid (success: relative error <= "
             f"{result['tol']:g})",
             f"  {'s/d':>6}  {'empirical m/d at 50%':<22}  theory m/d (psi/d)"]
    for row in result["transition"]:
        emp, sem = row["empirical_measurement_fraction"], row["empirical_sem"]
        text = ("no 50% crossing in grid" if not math.isfinite(emp)
                else f"{emp:.3f} (SEM undetermined)" if sem is None or not math.isfinite(sem)
                else f"{emp:.3f} ± {sem:.3f}")
        lines.append(f"  {row['sparsity_fraction']:>6.3f}  {text:<22}  "
                     f"{row['theory_measurement_fraction']:.3f}")
    lines.append(f"  solver converged in every trial: {'yes' if info['converged'] else 'NO'} "
                 f"(worst: {info['iterations']} iterations, residual {info['residual']:.2g})")
    return lines


def _run_cs(args) -> dict:
    """``phasetrans cs``: check the flags, sweep the grid, report."""
    _check_cs_flags(args)
    import jax

    from phasetrans.applications import cs

    options = ({} if args.solver == "bp" else
               {"depth": args.depth, "init_scale": args.init_scale, "num_iters": args.iters})
    sparsity_fractions, measurement_fractions = cs.grid_fractions(args.grid)
    grid = cs.success_grid(key=jax.random.key(args.seed), dim=args.dim,
                           num_trials=args.trials, solver=args.solver,
                           sparsity_fractions=sparsity_fractions,
                           measurement_fractions=measurement_fractions,
                           devices=args.devices, **options)
    result = cs.report(grid)
    result["summary"] = _cs_summary(result)
    return result


def _cs_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "cs", help="compressed-sensing phase transition of basis pursuit or overparameterized GD",
        formatter_class=_HelpFormatter,
        description="Success rates on a (s/d, m/d) grid, the empirical 50% curve (logistic fit "
                    "per sparsity) and the theory curve psi(s, d)/d.")
    parser.add_argument("--dim", type=int, required=True,
                        help=f"ambient dimension d (signal length), 2 to {MAX_CS_DIM}")
    parser.add_argument("--trials", type=int, required=True,
                        help="random problems per grid cell (>= 1)")
    parser.add_argument("--solver", choices=("bp", "overparam"), default="bp",
                        help="basis pursuit (ADMM) or overparameterized gradient descent")
    parser.add_argument("--depth", type=int,
                        help="--solver overparam only: N >= 2 factors per weight, x = u^N - v^N "
                             f"(default: {_CS_DEFAULTS['depth']})")
    parser.add_argument("--init-scale", type=float,
                        help="--solver overparam only: alpha > 0, the initial value of every "
                             f"factor (dimensionless; default: {_CS_DEFAULTS['init_scale']})")
    parser.add_argument("--iters", type=int,
                        help="--solver overparam only: gradient-descent steps (>= 1; default: "
                             f"{_CS_DEFAULTS['iters']})")
    parser.add_argument("--grid", type=int, default=10,
                        help="G: a G x G grid of s/d in (0, 1/2] and m/d in (0, 1]; G >= 2 and "
                             "the rounded sparsities and measurement counts must be distinct")
    parser.add_argument("--seed", type=int, required=True,
                        help=f"PRNG seed, an integer in [0, {MAX_SEED}]")
    parser.set_defaults(run=_run_cs)
    return parser


# ---------------------------------------------------------------------------------- width

_WIDTH_BODIES = ("l2-ball", "l1-ball", "linf-ball", "orthant", "subspace", "circular-cone",
                 "l1-descent-cone", "ball-cone")

_WIDTH_APPLIES = {"sparsity": ("subspace", "l1-descent-cone"),
                  "radius": ("l2-ball", "l1-ball", "linf-ball", "ball-cone"),
                  "distance": ("ball-cone",),
                  "angle": ("circular-cone",)}
"""Which bodies each optional ``width`` flag applies to."""

_WIDTH_DEFAULTS = {"radius": 1.0, "distance": 2.0, "angle": 0.5}


def _check_width_flags(args) -> None:
    _integer("--dim", args.dim, minimum=1, maximum=MAX_WIDTH_DIM,
             why=" (each Monte Carlo sample is a D-vector in memory, 400 MB at D = 10^8)")
    _integer("--samples", args.samples, minimum=2, maximum=MAX_COUNT)
    _seed(args.seed)
    for name, bodies_ in _WIDTH_APPLIES.items():
        if args.body not in bodies_:
            _not_given("--" + name, getattr(args, name),
                       f"to {args.body}; it is for {', '.join(bodies_)}")
        if name in _WIDTH_DEFAULTS and getattr(args, name) is None:
            setattr(args, name, _WIDTH_DEFAULTS[name])
    _real("--radius", args.radius, positive=True)
    _real("--distance", args.distance, positive=True)
    _real("--angle", args.angle, positive=True, high=math.pi / 2, high_name="pi/2 (radians)")
    if args.body == "l1-descent-cone" and args.sparsity is None:
        raise UsageError("l1-descent-cone needs --sparsity S, the number of nonzeros of x0 "
                         "(1 <= S <= --dim)")
    if args.sparsity is not None:
        _integer("--sparsity", args.sparsity, minimum=1, maximum=args.dim, maximum_name="--dim")


def _width_body(args):
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


def _width_summary(result: dict) -> list[str]:
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


def _run_width(args) -> dict:
    """``phasetrans width``: check the flags, estimate, compare with the closed form."""
    _check_width_flags(args)
    import jax

    from phasetrans.geometry import width

    body, quantity, closed, name = _width_body(args)
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
    result["summary"] = _width_summary(result)
    return result


def _width_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "width", help="Monte Carlo Gaussian width / statistical dimension vs its closed form",
        formatter_class=_HelpFormatter,
        description="Balls report the Gaussian width E h(g); cones the statistical dimension "
                    "E ||Pi_C(g)||^2. ball-cone: the cone generated by a ball of radius r at "
                    "distance R, with the paper's approximation D r^2/(R^2 + r^2) beside it.")
    parser.add_argument("body", choices=_WIDTH_BODIES, help="the body or cone")
    parser.add_argument("--dim", type=int, required=True,
                        help=f"ambient dimension D, 1 to {MAX_WIDTH_DIM}")
    parser.add_argument("--sparsity", type=int,
                        help="l1-descent-cone: the number of nonzeros s of x0 (required); "
                             "subspace: its rank (default: D/2); an integer in [1, D]")
    parser.add_argument("--radius", type=float,
                        help="l2/l1/linf-ball and ball-cone: ball radius r > 0 (length; "
                             f"default: {_WIDTH_DEFAULTS['radius']})")
    parser.add_argument("--distance", type=float,
                        help="ball-cone: distance R > 0 from the origin to the ball's centre "
                             f"(same length unit as --radius; default: "
                             f"{_WIDTH_DEFAULTS['distance']})")
    parser.add_argument("--angle", type=float,
                        help="circular-cone: half-angle in radians, in (0, pi/2] (default: "
                             f"{_WIDTH_DEFAULTS['angle']})")
    parser.add_argument("--samples", type=int, default=10_000,
                        help="Monte Carlo samples (Gaussian vectors), >= 2")
    parser.add_argument("--seed", type=int, default=0,
                        help=f"PRNG seed, an integer in [0, {MAX_SEED}]")
    parser.set_defaults(run=_run_width)
    return parser


# -------------------------------------------------------------------------------- predict

_PREDICT_DEFAULTS = {"dataset": "digits", "arch": "32-32", "l1": 1e-4, "seeds": 3,
                     "max_steps": 50000, "check_every": 500, "further_steps": 2000}
_BUILT_IN_FLAGS = ("dataset", "data_file", "arch", "l1", "seeds", "params", "save_params",
                   "steps", "max_steps", "optimizer")
"""Flags of the built-in networks (data, network, training): not with --model."""
# phasetrans.networks.train.OPTIMIZERS (a test keeps them equal)
OPTIMIZERS = ("prox-adam", "adam", "sgd")
L1_BODY_SEARCHES = ("bisection", "near_ellipsoid")  # phasetrans.theory.predict.L1_BODY_SEARCHES
# explain's l1-body Monte Carlo: half the samples, the search started at the ellipsoid's
# prediction (predict.L1BodyOptions), so that its default run stays within ~3 minutes at D ~ 1200
_EXPLAIN_L1_DEFAULTS = {"l1_body_samples": 8, "l1_body_search": "near_ellipsoid"}
# the limit test: phasetrans.applications.limit.DEFAULT_SEARCHES and the stop rule of
# phasetrans.networks.witnesses.SearchOptions (a test keeps them equal)
_LIMIT_DEFAULTS = {"searches": ("retrain",), "max_steps": 10000, "check_every": 250,
                   "window": 1000}


def _check_predict_flags(args) -> list[str]:
    """Check and complete the flags of ``predict`` (no file is read); returns notes for
    stderr (outputs that exist and will be replaced)."""
    from phasetrans.theory import predict

    _seed(args.seed)
    if args.model is not None:
        for name in _BUILT_IN_FLAGS:
            _not_given("--" + name.replace("_", "-"), getattr(args, name),
                       "with --model: your Problem holds the data, the network and lambda")
        _model_spec(args.model)
    if args.dataset is not None and args.data_file is not None:
        raise UsageError("--dataset and --data-file exclude each other: --data-file replaces the "
                         "built-in dataset")
    if args.dataset is None and args.data_file is None and args.model is None:
        args.dataset = _PREDICT_DEFAULTS["dataset"]
    for name in ("arch", "l1", "seeds"):
        if getattr(args, name) is None and args.model is None:
            setattr(args, name, _PREDICT_DEFAULTS[name])
    if args.model is None:
        _real("--l1", args.l1, nonnegative=True)
        _integer("--seeds", args.seeds, minimum=1, maximum=MAX_COUNT)
    if args.params is not None:
        for flag, value in (("--steps", args.steps), ("--max-steps", args.max_steps),
                            ("--optimizer", args.optimizer)):
            _not_given(flag, value, "with --params: the networks are loaded, not trained")
    if args.steps is not None:
        _integer("--steps", args.steps, minimum=1, maximum=MAX_COUNT)
        _not_given("--max-steps", args.max_steps, "with --steps: a fixed budget has no cap")
    if args.max_steps is None:
        args.max_steps = _PREDICT_DEFAULTS["max_steps"]
    check_every = _PREDICT_DEFAULTS["check_every"]
    _integer("--max-steps", args.max_steps, minimum=check_every, maximum=MAX_COUNT)
    if args.max_steps % check_every:
        raise UsageError(f"--max-steps must be a multiple of {check_every} (the stop rule is "
                         f"checked every {check_every} steps), got {args.max_steps}")
    _integer("--further-steps", args.further_steps, minimum=1, maximum=MAX_COUNT)
    if args.optimizer is None:
        args.optimizer = OPTIMIZERS[0]
    _real("--floor", args.floor, positive=True)
    if args.epsilon is not None:
        _real("--epsilon", args.epsilon, positive=True)
    defaults = predict.L1BodyOptions()
    if args.no_monte_carlo:
        _not_given("--l1-body-model-max-dim", args.l1_body_model_max_dim,
                   "with --no-monte-carlo: the l1-induced body's Monte Carlo prediction is not "
                   "computed")
    if args.l1_body_model_max_dim is None:
        args.l1_body_model_max_dim = defaults.model_max_dim
    _integer("--l1-body-model-max-dim", args.l1_body_model_max_dim, minimum=0)
    with_model = args.l1_body_model_max_dim > 0
    off = ("with --no-monte-carlo" if args.no_monte_carlo
           else "with --spectrum slq" if args.spectrum == "slq" else None)
    if args.command == "explain":
        defaults = defaults._replace(num_samples=_EXPLAIN_L1_DEFAULTS["l1_body_samples"],
                                     search=_EXPLAIN_L1_DEFAULTS["l1_body_search"])
    for flag, name, default in (("--l1-body-max-dim", "l1_body_max_dim", defaults.max_dim),
                                ("--l1-body-max-iters", "l1_body_max_iters",
                                 defaults.max_iters),
                                ("--l1-body-samples", "l1_body_samples", defaults.num_samples),
                                ("--l1-body-search", "l1_body_search", defaults.search)):
        if off is not None and not (with_model and name != "l1_body_max_dim"):
            _not_given(flag, getattr(args, name),
                       f"{off}: the l1-induced body's Monte Carlo prediction is not computed"
                       + (" (or give --l1-body-model-max-dim)" if "slq" in off else ""))
        if getattr(args, name) is None:
            setattr(args, name, default)
    _integer("--l1-body-max-dim", args.l1_body_max_dim, minimum=0)
    _integer("--l1-body-max-iters", args.l1_body_max_iters, minimum=1, maximum=MAX_COUNT)
    _integer("--l1-body-samples", args.l1_body_samples, minimum=2, maximum=MAX_COUNT)
    if args.params is not None:
        _existing_file("--params", args.params)
    _check_limit_flags(args)
    notes = []
    if args.save_params is not None:
        if not args.save_params.endswith(".npz"):
            raise UsageError(f"--save-params {args.save_params!r} must end in '.npz' (so that "
                             "--params can load it back under the same name)")
        if _output_file("--save-params", args.save_params, ["npz"]):
            notes.append(f"--save-params {args.save_params!r} exists and will be replaced")
    if args.figure is not None and _output_file("--figure", args.figure, _figure_formats()):
        notes.append(f"--figure {args.figure!r} exists and will be replaced")
    return notes


def _check_limit_flags(args) -> None:
    """Parse ``--searches`` into ``args.search_names`` and check the limit test's flags."""
    from phasetrans.networks import witnesses

    names = [] if args.searches.strip() == "none" else _names(
        "--searches", args.searches, witnesses.SEARCHES, "search", alternative=" or none")
    if "model" in names and args.spectrum == "slq":
        raise UsageError("--searches model ranks the weights with the exact Hessian's model: "
                         "not with --spectrum slq")
    args.search_names = tuple(names)
    every, window = _LIMIT_DEFAULTS["check_every"], _LIMIT_DEFAULTS["window"]
    _integer("--search-max-steps", args.search_max_steps, minimum=window, maximum=MAX_COUNT)
    if args.search_max_steps % every:
        raise UsageError(f"--search-max-steps must be a multiple of {every}, got "
                         f"{args.search_max_steps}")
    if args.witness_dir is not None:
        if not names:
            raise UsageError("--witness-dir needs a witness search: drop --searches none")
        path = pathlib.Path(args.witness_dir)
        if not path.is_dir():
            raise UsageError(f"--witness-dir {args.witness_dir!r} is not an existing directory")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(f"--witness-dir {args.witness_dir!r} is not writable")


def _limit_test(args, comparison) -> dict | None:
    """The limit test's JSON entry (``limit``), None with ``--searches none``."""
    if not args.search_names:
        return None
    import jax

    from phasetrans.applications import limit
    from phasetrans.networks import witnesses

    defaults = witnesses.SearchOptions()
    options = defaults._replace(stop=defaults.stop._replace(max_steps=args.search_max_steps))
    with _reported_as("--witness-dir", OSError):
        result = limit.limit_test(comparison, key=jax.random.key(args.seed),
                                  searches=args.search_names, options=options,
                                  witness_dir=args.witness_dir, progress=True)
    return limit.limit_json(result)


def _with_limit(args, comparison, document: dict, lines: list) -> dict:
    """Attach the limit test to ``document`` and its verdict to the top of the summary."""
    from phasetrans.applications import limit

    document["limit"] = _limit_test(args, comparison)
    top = (["Is the prediction a limit? Not tested (--searches none)."]
           if document["limit"] is None else limit.limit_lines(document["limit"]))
    document["summary"] = top + lines
    return document


def _load_predict_data(args):
    from phasetrans.networks import data

    if args.data_file is not None:
        with _reported_as("--data-file"):
            return data.load_npz(args.data_file)
    with _reported_as("--dataset", ImportError):
        return data.load(args.dataset, seed=args.seed)


def _num_params(net) -> int:
    """All parameters of ``net`` (what an exact spectrum differentiates), without allocating."""
    import jax

    shapes = jax.eval_shape(lambda key: net.init(key=key), jax.random.key(0))
    return sum(math.prod(leaf.shape) for leaf in jax.tree_util.tree_leaves(shapes))


def _predict_options(args):
    """The :class:`phasetrans.theory.predict.PredictOptions` of the prediction flags."""
    from phasetrans.theory import predict

    monte_carlo = not args.no_monte_carlo
    return predict.PredictOptions(
        epsilon=args.epsilon, eigen_treatment=args.eigen_treatment, floor=args.floor,
        spectrum_options=predict.SpectrumOptions(method=args.spectrum),
        ellipsoid_options=predict.EllipsoidOptions(
            max_dim=predict.EllipsoidOptions().max_dim if monte_carlo else 0),
        l1_body_options=predict.L1BodyOptions(
            max_dim=args.l1_body_max_dim if monte_carlo else 0,
            max_iters=args.l1_body_max_iters, num_samples=args.l1_body_samples,
            search=args.l1_body_search,
            model_max_dim=args.l1_body_model_max_dim if monte_carlo else 0))


def _model_spec(spec: str) -> tuple[str, str]:
    """``FILE.py:NAME`` split and checked (the file exists, NAME is an identifier)."""
    path, _, name = spec.rpartition(":")
    if not path or not name.isidentifier():
        raise UsageError(f"--model must be FILE.py:NAME (NAME a Problem or a function returning "
                         f"one), got {spec!r}")
    if not path.endswith(".py"):
        raise UsageError(f"--model {spec!r}: the file must be a Python file ending in .py")
    _existing_file("--model", path)
    return path, name


def _user_problem(spec: str):
    """Run the user's file and take NAME from it: a Problem, or a function returning one.
    Whatever goes wrong in the user's code is one line naming the file (UsageError)."""
    import importlib.util

    from phasetrans.networks.problem import Problem

    path, name = _model_spec(spec)
    where = f"--model {spec!r}"

    def failed(step: str, err: BaseException) -> UsageError:
        first = (str(err).strip().splitlines() or [""])[0]
        return UsageError(f"{where}: {step} raised {type(err).__name__}: {first}")

    module_spec = importlib.util.spec_from_file_location("phasetrans_user_model", path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as err:  # the user's file: report it, not our traceback
        raise failed(f"running {path}", err) from err
    if not hasattr(module, name):
        defined = sorted(k for k in vars(module) if not k.startswith("_"))
        raise UsageError(f"{where}: {path} defines no {name!r} (it defines "
                         f"{', '.join(defined) or 'nothing public'})")
    value = getattr(module, name)
    if callable(value) and not isinstance(value, Problem):
        try:
            value = value()
        except Exception as err:
            raise failed(f"{name}()", err) from err
    if not isinstance(value, Problem):
        raise UsageError(f"{where}: {name} is a {type(value).__name__}, not a phasetrans.Problem "
                         "(build one with Problem.from_apply(apply, params, train=(x, y), "
                         "test=(x, y), l1=...))")
    return value


def _built_in_problem(args, notes: list[str]):
    """Train (or load ``--params``) the built-in networks of the flags, after checking the
    data and network; notes are printed once the inputs are known to be good."""
    from phasetrans.networks import nets, stationarity, train
    from phasetrans.theory import predict

    ds = _load_predict_data(args)
    with _reported_as("--arch"):
        net = nets.parse_arch(args.arch, input_shape=ds.input_shape, num_classes=ds.num_classes)
        total = _num_params(net)
    if args.spectrum == "exact" and total > predict.MAX_EXACT_DIM:
        raise UsageError(f"--arch {args.arch!r} has {total} parameters on this data; the exact "
                         f"spectrum (--spectrum exact, the default) builds their dense Hessian, "
                         f"at most {predict.MAX_EXACT_DIM}: use --spectrum slq or a smaller "
                         "--arch")
    if args.epsilon is None and len(ds.y_train) < 2:
        raise UsageError(f"--data-file {args.data_file!r} has {len(ds.y_train)} training "
                         "example; the default loss tolerance is the spread of mini-batch "
                         "losses, which needs >= 2 examples: give --epsilon")
    if args.params is not None:  # loaded before anything is computed, errors under --params
        with _reported_as("--params"):
            problem = train.load_problem(args.params, ds, arch=args.arch, l1=args.l1,
                                         num_seeds=args.seeds, seed=args.seed)
    for note in notes:
        _note(args.command, note)
    if args.params is None:
        problem = train.train_problem(
            ds, arch=args.arch, l1=args.l1, num_seeds=args.seeds, seed=args.seed,
            steps=args.steps, optimizer=args.optimizer,
            stop=None if args.steps is not None else stationarity.StopRule(
                window=2000 if args.max_steps >= 2000 else args.max_steps,
                max_steps=args.max_steps))
    if args.save_params is not None:
        with _reported_as("--save-params"):
            train.save_problem(args.save_params, problem)
    return problem


def _comparison(args):
    """Check every flag and input file of ``predict``/``explain``/``sweep``, then take the
    user's ``--model`` or train (or load) built-in networks, predict, check the premise and
    prune: the :class:`phasetrans.applications.compare.Comparison`."""
    notes = _check_predict_flags(args)
    import jax

    from phasetrans.applications import compare

    if args.model is not None:
        problem = _user_problem(args.model)
        for note in notes:
            _note(args.command, note)
    else:
        problem = _built_in_problem(args, notes)
    comparison = compare.assess(problem, key=jax.random.key(args.seed),
                                options=_predict_options(args),
                                further_steps=args.further_steps, progress=True,
                                devices=args.devices)
    for warning in comparison.warnings:
        _note(args.command, f"warning: {warning}")
    return comparison


def _run_predict(args) -> dict:
    """``phasetrans predict``: the comparison, its report, optionally the figure."""
    from phasetrans.applications import plots, report

    comparison = _comparison(args)
    document = report.comparison_json(comparison)
    if args.figure is not None:
        with _reported_as("--figure"):
            document["figure"] = str(plots.width_curve(comparison, args.figure))
    return _with_limit(args, comparison, document, report.summary_lines(document))


def _run_explain(args) -> dict:
    """``phasetrans explain``: the comparison, then every stage of the attribution ladder."""
    import jax

    from phasetrans.applications import attribution, plots, report

    defaults = attribution.AttributionOptions()
    for name, default in (("subspaces", defaults.num_subspaces),
                          ("retrain_steps", defaults.retrain_steps),
                          ("retrain_ratios", defaults.retrain_ratios)):
        if getattr(args, name) is None:
            setattr(args, name, default)
    _integer("--subspaces", args.subspaces, minimum=2, maximum=MAX_COUNT)
    _integer("--retrain-steps", args.retrain_steps, minimum=1, maximum=MAX_COUNT)
    _integer("--retrain-ratios", args.retrain_ratios, minimum=2, maximum=MAX_COUNT)
    _real("--accuracy-tol", args.accuracy_tol, nonnegative=True, high=1.0)
    _real("--eta", args.eta, positive=True)
    if args.eta >= 1:
        raise UsageError(f"--eta must be < 1, got {args.eta}")
    comparison = _comparison(args)
    options = attribution.AttributionOptions(num_subspaces=args.subspaces,
                                             l1_num_subspaces=max(2, args.subspaces // 3),
                                             retrain_steps=args.retrain_steps,
                                             retrain_ratios=args.retrain_ratios,
                                             retrain_sequential=args.retrain_sequential,
                                             accuracy_tol=args.accuracy_tol)
    result = attribution.attribute(comparison, key=jax.random.key(args.seed + 1),
                                   options=options, eta=args.eta, progress=True,
                                   devices=args.devices)
    document = report.attribution_json(result)
    if args.figure is not None:
        with _reported_as("--figure"):
            document["figure"] = str(plots.ladders([document], args.figure))
    return _with_limit(args, comparison, document, report.attribution_lines(document))


def _run_sweep(args) -> dict:
    """``phasetrans sweep``: train and predict (width formula), then prune with every method."""
    import jax

    from phasetrans.applications import methods, plots, report

    names = _names("--methods", args.methods, methods.METHODS, "method")
    if "nettrim" in names and args.arch == "cnn":
        raise UsageError("--methods nettrim prunes dense ReLU layers, not --arch cnn: drop "
                         "nettrim or use an MLP --arch such as 16 or 32-32")
    _integer("--ratios", args.ratios, minimum=2, maximum=MAX_COUNT)
    _real("--accuracy-tol", args.accuracy_tol, nonnegative=True, high=1.0)
    _real("--nettrim-epsilon", args.nettrim_epsilon, positive=True)
    if args.nettrim_epsilon >= 1:
        raise UsageError(f"--nettrim-epsilon is relative and must be < 1, got "
                         f"{args.nettrim_epsilon}")
    comparison = _comparison(args)
    result = methods.sweep_methods(
        comparison, methods=names, key=jax.random.key(args.seed + 2), num_ratios=args.ratios,
        nettrim_epsilon=args.nettrim_epsilon, nettrim_variant=args.nettrim_variant,
        accuracy_tol=args.accuracy_tol, progress=True, devices=args.devices)
    document = report.methods_json(result)
    if args.figure is not None:
        with _reported_as("--figure"):
            document["figure"] = str(plots.pruning_methods([document], args.figure))
    return _with_limit(args, comparison, document, report.methods_lines(document))


def _add_network_flags(parser: argparse.ArgumentParser, *, monte_carlo: bool = True) -> None:
    """The flags of ``predict``, ``explain`` and ``sweep``: data, network, training,
    prediction (the Monte Carlo ones only with ``monte_carlo``)."""
    parser.add_argument("--dataset", choices=("digits", "mnist1d", "synthetic"),
                        help="built-in offline dataset (default: "
                             f"{_PREDICT_DEFAULTS['dataset']}); not with --data-file")
    parser.add_argument("--data-file",
                        help="local .npz with arrays x_train, y_train, x_test, y_test (e.g. "
                             "MNIST/CIFAR saved by you) instead of --dataset (default: none)")
    parser.add_argument("--model", metavar="FILE.py:NAME",
                        help="your own trained model instead of a built-in one: NAME in FILE.py "
                             "is a phasetrans.Problem (Problem.from_apply / from_loss: params, "
                             "data, l1) or a function of no arguments returning one; not with "
                             "the data, network and training flags (default: none)")
    parser.add_argument("--arch",
                        help="hidden layer widths (units per layer) like 64-32, or 'cnn' "
                             f"(default: {_PREDICT_DEFAULTS['arch']})")
    parser.add_argument("--l1", type=float,
                        help="l1 penalty lambda >= 0 (nats per unit of sum |w|; default: "
                             f"{_PREDICT_DEFAULTS['l1']})")
    parser.add_argument("--seeds", type=int,
                        help="number of networks trained (vmapped), >= 1 (default: "
                             f"{_PREDICT_DEFAULTS['seeds']})")
    parser.add_argument("--seed", type=int, default=0,
                        help=f"PRNG seed, an integer in [0, {MAX_SEED}]")
    parser.add_argument("--steps", type=int,
                        help="a fixed budget of full-batch training steps >= 1 instead of "
                             "training until w* is a stationary point of F; not with --params "
                             "(default: none, train to stationarity; the results before the "
                             "premise check used --steps 2000 --optimizer adam)")
    parser.add_argument("--max-steps", type=int,
                        help="cap on the steps of training to stationarity, a multiple of "
                             f"{_PREDICT_DEFAULTS['check_every']} (a seed that reaches it is "
                             "reported as not converged); not with --steps or --params "
                             f"(default: {_PREDICT_DEFAULTS['max_steps']})")
    parser.add_argument("--further-steps", type=int, default=_PREDICT_DEFAULTS["further_steps"],
                        help="premise check: full-batch steps of further training from w*; "
                             "w* is reported as a minimum of F when they lower F by at most "
                             "epsilon (default: %(default)s)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help="training optimiser: proximal Adam (exact zeros; its fixed points "
                             "are the stationary points of F) or optax Adam/SGD on F's "
                             f"subgradient; not with --params (default: {OPTIMIZERS[0]})")
    parser.add_argument("--spectrum", choices=("exact", "slq"), default="exact",
                        help="Hessian spectrum: dense and exact (networks of at most "
                             f"{limits.MAX_DENSE_DIM} parameters) or stochastic Lanczos "
                             "quadrature")
    parser.add_argument("--eigen-treatment", choices=("abs", "floor", "drop", "flat"),
                        default="abs", help="how eigenvalues <= --floor enter the formula")
    parser.add_argument("--floor", type=float, default=1e-4,
                        help="eigenvalue threshold > 0 (Hessian units: nats per squared weight)")
    parser.add_argument("--epsilon", type=float,
                        help="loss tolerance epsilon > 0 (nats of mean training cross-entropy; "
                             "default: the spread of mini-batch losses at the trained weights, "
                             "which needs >= 2 training examples)")
    parser.add_argument("--params",
                        help="load trained parameters (.npz from --save-params, same --arch, "
                             "--seeds, --seed, --l1 and data) instead of training (default: "
                             "train)")
    parser.add_argument("--save-params",
                        help="write the trained parameters to this .npz (default: not saved)")
    parser.add_argument("--searches", default=",".join(_LIMIT_DEFAULTS["searches"]),
                        help="witness searches of the limit test, comma-separated: retrain "
                             "(masked retraining to convergence), imp (iterative magnitude "
                             "pruning), gradual (gradual pruning during training), model "
                             "(retraining the support the l1-induced model picks; exact "
                             "spectrum only), or 'none'")
    parser.add_argument("--search-max-steps", type=int,
                        default=_LIMIT_DEFAULTS["max_steps"],
                        help="cap on the steps of each retraining of a witness search, a "
                             f"multiple of {_LIMIT_DEFAULTS['check_every']} and >= "
                             f"{_LIMIT_DEFAULTS['window']} (a run that reaches it is reported "
                             "as not converged; default: %(default)s)")
    parser.add_argument("--witness-dir",
                        help="write every best witness (a sparse network within the tolerance "
                             "set) to this existing directory, one .npz per search, seed and "
                             "criterion, for phasetrans check-witness (default: none)")
    if not monte_carlo:
        parser.set_defaults(no_monte_carlo=True, l1_body_max_dim=None, l1_body_max_iters=None,
                            l1_body_samples=None, l1_body_search=None,
                            l1_body_model_max_dim=None)
        return
    parser.add_argument("--no-monte-carlo", action="store_true",
                        help="skip the Monte Carlo statistical-dimension predictions")
    parser.add_argument("--l1-body-max-dim", type=int,
                        help="largest number of prunable weights D for which the l1-induced "
                             "body's Monte Carlo prediction is computed (O(D^2) per ADMM "
                             "iteration; null above); not with --no-monte-carlo or --spectrum "
                             "slq (default: 1500)")
    parser.add_argument("--l1-body-max-iters", type=int,
                        help="ADMM iterations per l1-body sample, >= 1; a solve that stops "
                             "there is reported as converged: false; not with --no-monte-carlo, "
                             "with --spectrum slq only with --l1-body-model-max-dim (default: "
                             "20000)")
    parser.add_argument("--l1-body-samples", type=int,
                        help="Gaussian samples per evaluation of the l1-induced body's delta, "
                             ">= 2; not with --no-monte-carlo (default: 16; explain: 8)")
    parser.add_argument("--l1-body-search", choices=L1_BODY_SEARCHES,
                        help="how the l1-induced body's fixed point is searched: bisection of "
                             "[0, 1], or steps from the ellipsoid's Monte Carlo prediction "
                             "(same final bracket 1/32, fewer ADMM solves); not with "
                             "--no-monte-carlo (default: bisection; explain: near_ellipsoid)")
    parser.add_argument("--l1-body-model-max-dim", type=int,
                        help="largest D for which the l1-induced body's Monte Carlo prediction "
                             "uses the low-rank Hessian model (the 64 sharpest eigenpairs, "
                             "Ritz pairs with --spectrum slq, + a calibrated bulk; O(D x 64) "
                             "per ADMM iteration) where the exact "
                             "eigendecomposition is not used (--spectrum slq or D above "
                             "--l1-body-max-dim); not with --no-monte-carlo (default: 0, off)")


def _predict_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "predict", help="predict the pruning threshold of trained networks and check it",
        formatter_class=_HelpFormatter,
        description="Train networks with an l1 penalty (vmapped over seeds), predict the largest "
                    "removal ratio from the Hessian spectrum (width formula and Monte Carlo "
                    "statistical dimension), prune at 101 ratios and compare. Losses are mean "
                    "training cross-entropies in nats. Writes a figure only with --figure.")
    _add_network_flags(parser)
    parser.add_argument("--figure",
                        help="write the width-curve figure (first seed) to this file; the "
                             "suffix picks the format: .png, .pdf, .svg, ... (default: no "
                             "figure)")
    parser.set_defaults(run=_run_predict)
    return parser


def _explain_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "explain", help="attribute the gap between predicted and measured thresholds, stage by "
                        "stage",
        formatter_class=_HelpFormatter,
        description="Everything predict does, then each step between the prediction and "
                    "one-shot pruning measured on its own: formula vs Monte Carlo delta, random "
                    "subspaces (kinematic formula), the exact feasibility of the magnitude "
                    "supports, masked retraining of F = L + l1 |w| on them, and the one-shot "
                    "criteria (F, L, test accuracy; first-failure and the official rule). "
                    "Reports the theory window a_eta sqrt(D)/D beside every threshold.")
    _add_network_flags(parser)
    parser.add_argument("--subspaces", type=int,
                        help="random subspaces per removal ratio for the ellipsoid, >= 2 (the "
                             "l1 body uses a third of them; default: "
                             "AttributionOptions.num_subspaces)")
    parser.add_argument("--retrain-ratios", type=int,
                        help="removal ratios of the masked retraining, evenly spaced on [0, 1], "
                             ">= 2 (default: AttributionOptions.retrain_ratios)")
    parser.add_argument("--retrain-steps", type=int,
                        help="masked Adam steps of the retraining on each support, >= 1 "
                             "(default: AttributionOptions.retrain_steps)")
    parser.add_argument("--retrain-sequential", action="store_true",
                        help="retrain the removal ratios one after the other instead of in one "
                             "vmap: faster where one network's activations on the training set "
                             "are large (2.5x on the mnist1d CNN), 1.5x slower on the digits "
                             "MLP 64-16-10")
    parser.add_argument("--accuracy-tol", type=float, default=0.01,
                        help="accuracy criterion: test accuracy >= unpruned - tol (fraction)")
    parser.add_argument("--eta", type=float, default=0.05,
                        help="level of the theory window a_eta sqrt(D), a_eta = "
                             "sqrt(8 log(4/eta)), in (0, 1)")
    parser.add_argument("--figure",
                        help="write the ladder figure to this file; the suffix picks the "
                             "format (default: no figure)")
    parser.set_defaults(run=_run_explain)
    return parser


def _sweep_command(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sweep", help="prune trained networks with several methods, in direct and effective "
                      "removal, beside the predicted threshold",
        formatter_class=_HelpFormatter,
        description="Train networks with an l1 penalty, predict their threshold (width "
                    "formula, exact or SLQ spectrum), then prune them one-shot at --ratios "
                    "removal ratios with each method: global magnitude (LOMP), layer-wise "
                    "magnitude, random, and Net-Trim (layer-wise convex re-fit, MLPs only). "
                    "Reports test accuracy and train loss per ratio, the effective removal "
                    "ratio of every mask (weights off every input-output path count as "
                    "removed) and each method's threshold, direct and effective.")
    _add_network_flags(parser, monte_carlo=False)
    parser.add_argument("--methods", default=",".join(("global", "layerwise", "random",
                                                       "nettrim")),
                        help="comma-separated pruning methods: global, layerwise, random, "
                             "nettrim")
    parser.add_argument("--ratios", type=int, default=51,
                        help="removal ratios on an even grid over [0, 1], >= 2")
    parser.add_argument("--accuracy-tol", type=float, default=0.01,
                        help="a ratio passes when test accuracy >= unpruned - tol (fraction)")
    parser.add_argument("--nettrim-epsilon", type=float, default=0.05,
                        help="Net-Trim's fit tolerance per layer, relative to the layer's "
                             "output norm, in (0, 1)")
    parser.add_argument("--nettrim-variant", choices=("parallel", "cascade"),
                        default="parallel",
                        help="Net-Trim layer inputs from the unpruned (parallel) or the "
                             "pruned (cascade) previous layer")
    parser.add_argument("--figure",
                        help="write accuracy vs removal ratio per method to this file; the "
                             "suffix picks the format (default: no figure)")
    parser.set_defaults(run=_run_sweep)
    return parser


# ------------------------------------------------------------------------------------ main

# Each entry adds one sub-command parser and sets ``run`` (args -> dict) as its default.
def _check_witness_command(subparsers) -> argparse.ArgumentParser:
    from phasetrans.cli import check_witness

    return check_witness.add_command(subparsers, _HelpFormatter)


_SUBCOMMANDS: list = [_width_command, _cs_command, _predict_command, _explain_command,
                      _sweep_command, _check_witness_command]


def build_parser() -> argparse.ArgumentParser:
    """The ``phasetrans`` argument parser with its sub-commands."""
    parser = _Parser(
        prog="phasetrans",
        description="Gaussian widths, Hessian spectra and pruning thresholds (see README).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_subcommand in _SUBCOMMANDS:
        _add_common(add_subcommand(subparsers))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``phasetrans`` console script; returns the process exit status."""
    parser = build_parser()
    try:
        args, unknown = parser.parse_known_args(argv)
    except _ParseError as err:
        print(f"{err.prog}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as err:  # --help
        return err.code if isinstance(err.code, int) else 0
    prefix = f"phasetrans {args.command}"
    if unknown:
        print(f"{prefix}: error: unrecognized arguments: {' '.join(unknown)}", file=sys.stderr)
        return EXIT_USAGE
    start = time.perf_counter()
    try:
        _resolve_devices(args)
        result = args.run(args)
    except UsageError as err:
        print(f"{prefix}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError) as err:  # a library check no flag could be blamed for
        print(f"{prefix}: error: {_describe(err)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return _interrupt.EXIT_INTERRUPTED
    result["seconds"] = time.perf_counter() - start
    result["devices"] = args.devices
    summary = result.pop("summary")
    status = result.pop("exit_status", 0)
    try:
        print(_io.dumps(result) if args.json else "\n".join(summary), flush=True)
    except BrokenPipeError:  # the reader went away (``| head``): not an error of ours
        sys.stdout = None
    return status


def console() -> None:
    """The ``phasetrans`` console script: :func:`main` with Ctrl-C ending the process at once,
    even inside a compiled computation (one line, exit status 130;
    :func:`phasetrans._interrupt.exit_on_interrupt`)."""
    _interrupt.exit_on_interrupt("phasetrans")
    sys.exit(main())


if __name__ == "__main__":
    console()
