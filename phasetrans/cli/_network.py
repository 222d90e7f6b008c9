"""What ``predict``, ``explain`` and ``sweep`` share: the network flags (data or ``--model``,
network, training, prediction, the limit test) and their checks, the user's model, and the
comparison each command starts from (:func:`comparison`)."""

from __future__ import annotations

import argparse
import math
import os
import pathlib

from phasetrans import limits
from phasetrans.cli import _flags
from phasetrans.cli._flags import UsageError

PREDICT_DEFAULTS = {"dataset": "digits", "arch": "32-32", "l1": 1e-4, "seeds": 3,
                    "max_steps": 50000, "check_every": 500, "further_steps": 2000}
"""Defaults of the built-in networks: dataset, arch and l1 of
``phasetrans.networks.train.train_problem``, max_steps and check_every of
``stationarity.StopRule``, further_steps ``train.FURTHER_STEPS`` (a test keeps them equal);
seeds is the command line's own."""
BUILT_IN_FLAGS = ("dataset", "data_file", "arch", "l1", "seeds", "params", "save_params",
                  "steps", "max_steps", "optimizer")
"""Flags of the built-in networks (data, network, training): not with --model."""

# The library's allowed values and defaults, retyped here so that ``--help`` needs no JAX
# (the library modules import it); tests/test_cli.py keeps each equal to its source.
DATASETS = ("digits", "mnist1d", "synthetic")  # phasetrans.networks.data.DATASETS
OPTIMIZERS = ("prox-adam", "adam", "sgd")  # phasetrans.networks.train.OPTIMIZERS
SPECTRUM_METHODS = ("exact", "slq")  # SpectrumOptions.method, its default first
EIGEN_TREATMENTS = ("abs", "floor", "drop", "flat")  # phasetrans.theory.formula
PREDICTION_DEFAULTS = {"eigen_treatment": "abs", "floor": 1e-4}  # predict.PredictOptions
L1_BODY_SEARCHES = ("bisection", "near_ellipsoid")  # phasetrans.theory.predict.L1_BODY_SEARCHES
L1_BODY_DEFAULTS = {"max_dim": 3500, "max_iters": 20000, "num_samples": 16,
                    "search": "bisection", "model_max_dim": 0, "rank": 64}
"""The fields of ``phasetrans.theory.predict.L1BodyOptions`` the flags' help states."""
# the limit test: phasetrans.applications.limit.DEFAULT_SEARCHES and the stop rule of
# phasetrans.networks.witnesses.SearchOptions (a test keeps them equal)
LIMIT_DEFAULTS = {"searches": ("retrain",), "max_steps": 10000, "check_every": 250,
                  "window": 1000}


def _check_flags(args) -> list[str]:
    """Check and complete the flags of ``predict`` (no file is read); returns notes for
    stderr (outputs that exist and will be replaced)."""
    from phasetrans.theory import predict

    _flags.seed(args.seed)
    if args.model is not None:
        for name in BUILT_IN_FLAGS:
            _flags.not_given("--" + name.replace("_", "-"), getattr(args, name),
                             "with --model: your Problem holds the data, the network and lambda")
        _model_spec(args.model)
    if args.dataset is not None and args.data_file is not None:
        raise UsageError("--dataset and --data-file exclude each other: --data-file replaces the "
                         "built-in dataset")
    if args.dataset is None and args.data_file is None and args.model is None:
        args.dataset = PREDICT_DEFAULTS["dataset"]
    for name in ("arch", "l1", "seeds"):
        if getattr(args, name) is None and args.model is None:
            setattr(args, name, PREDICT_DEFAULTS[name])
    if args.model is None:
        _flags.real("--l1", args.l1, nonnegative=True)
        _flags.integer("--seeds", args.seeds, minimum=1, maximum=_flags.MAX_COUNT)
    if args.params is not None:
        for flag, value in (("--steps", args.steps), ("--max-steps", args.max_steps),
                            ("--optimizer", args.optimizer)):
            _flags.not_given(flag, value, "with --params: the networks are loaded, not trained")
    if args.steps is not None:
        _flags.integer("--steps", args.steps, minimum=1, maximum=_flags.MAX_COUNT)
        _flags.not_given("--max-steps", args.max_steps, "with --steps: a fixed budget has no cap")
    if args.max_steps is None:
        args.max_steps = PREDICT_DEFAULTS["max_steps"]
    check_every = PREDICT_DEFAULTS["check_every"]
    _flags.integer("--max-steps", args.max_steps, minimum=check_every, maximum=_flags.MAX_COUNT)
    if args.max_steps % check_every:
        raise UsageError(f"--max-steps must be a multiple of {check_every} (the stop rule is "
                         f"checked every {check_every} steps), got {args.max_steps}")
    _flags.integer("--further-steps", args.further_steps, minimum=1, maximum=_flags.MAX_COUNT)
    if args.optimizer is None:
        args.optimizer = OPTIMIZERS[0]
    _flags.real("--floor", args.floor, positive=True)
    if args.epsilon is not None:
        _flags.real("--epsilon", args.epsilon, positive=True)
    defaults = predict.L1BodyOptions()
    if args.no_monte_carlo:
        _flags.not_given("--l1-body-model-max-dim", args.l1_body_model_max_dim,
                         "with --no-monte-carlo: the l1-induced body's Monte Carlo prediction "
                         "is not computed")
    if args.l1_body_model_max_dim is None:
        args.l1_body_model_max_dim = defaults.model_max_dim
    _flags.integer("--l1-body-model-max-dim", args.l1_body_model_max_dim, minimum=0)
    with_model = args.l1_body_model_max_dim > 0
    off = ("with --no-monte-carlo" if args.no_monte_carlo
           else "with --spectrum slq" if args.spectrum == "slq" else None)
    for flag, name, default in (("--l1-body-max-dim", "l1_body_max_dim", defaults.max_dim),
                                ("--l1-body-max-iters", "l1_body_max_iters",
                                 defaults.max_iters),
                                ("--l1-body-samples", "l1_body_samples", defaults.num_samples),
                                ("--l1-body-search", "l1_body_search", defaults.search)):
        if off is not None and not (with_model and name != "l1_body_max_dim"):
            _flags.not_given(flag, getattr(args, name),
                             f"{off}: the l1-induced body's Monte Carlo prediction is not computed"
                             + (" (or give --l1-body-model-max-dim)" if "slq" in off else ""))
        if getattr(args, name) is None:
            setattr(args, name, default)
    _flags.integer("--l1-body-max-dim", args.l1_body_max_dim, minimum=0)
    _flags.integer("--l1-body-max-iters", args.l1_body_max_iters, minimum=1,
                   maximum=_flags.MAX_COUNT)
    _flags.integer("--l1-body-samples", args.l1_body_samples, minimum=2,
                   maximum=_flags.MAX_COUNT)
    if args.params is not None:
        _flags.existing_file("--params", args.params)
    _check_limit_flags(args)
    notes = []
    if args.save_params is not None:
        if not args.save_params.endswith(".npz"):
            raise UsageError(f"--save-params {args.save_params!r} must end in '.npz' (so that "
                             "--params can load it back under the same name)")
        if _flags.output_file("--save-params", args.save_params, ["npz"]):
            notes.append(f"--save-params {args.save_params!r} exists and will be replaced")
    if args.figure is not None and _flags.output_file("--figure", args.figure,
                                                      _flags.figure_formats()):
        notes.append(f"--figure {args.figure!r} exists and will be replaced")
    return notes


def _check_limit_flags(args) -> None:
    """Parse ``--searches`` into ``args.search_names`` and check the limit test's flags."""
    from phasetrans.networks import witnesses

    names = [] if args.searches.strip() == "none" else _flags.names(
        "--searches", args.searches, witnesses.SEARCHES, "search", alternative=" or none")
    if "model" in names and args.spectrum == "slq":
        raise UsageError("--searches model ranks the weights with the exact Hessian's model: "
                         "not with --spectrum slq")
    args.search_names = tuple(names)
    every, window = LIMIT_DEFAULTS["check_every"], LIMIT_DEFAULTS["window"]
    _flags.integer("--search-max-steps", args.search_max_steps, minimum=window,
                   maximum=_flags.MAX_COUNT)
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
    with _flags.reported_as("--witness-dir", OSError):
        result = limit.limit_test(comparison, key=jax.random.key(args.seed),
                                  searches=args.search_names, options=options,
                                  witness_dir=args.witness_dir, progress=True)
    return limit.limit_json(result)


def finish(args, comparison, document: dict, summarise, draw) -> dict:
    """How predict, explain and sweep end: the figure ``draw(path)`` when ``--figure`` is
    given, then the limit test attached to ``document`` and its verdict put on top of the
    summary ``summarise(document)``."""
    from phasetrans.applications import limit

    if args.figure is not None:
        with _flags.reported_as("--figure"):
            document["figure"] = str(draw(args.figure))
    lines = summarise(document)
    document["limit"] = _limit_test(args, comparison)
    top = (["Is the prediction a limit? Not tested (--searches none)."]
           if document["limit"] is None else limit.limit_lines(document["limit"]))
    document["summary"] = top + lines
    return document


def _load_data(args):
    from phasetrans.networks import data

    if args.data_file is not None:
        with _flags.reported_as("--data-file"):
            return data.load_npz(args.data_file)
    with _flags.reported_as("--dataset", ImportError):
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
    _flags.existing_file("--model", path)
    return path, name


def user_problem(spec: str):
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

    ds = _load_data(args)
    with _flags.reported_as("--arch"):
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
        with _flags.reported_as("--params"):
            problem = train.load_problem(args.params, ds, arch=args.arch, l1=args.l1,
                                         num_seeds=args.seeds, seed=args.seed)
    for note in notes:
        _flags.note(args.command, note)
    if args.params is None:
        problem = train.train_problem(
            ds, arch=args.arch, l1=args.l1, num_seeds=args.seeds, seed=args.seed,
            steps=args.steps, optimizer=args.optimizer,
            stop=None if args.steps is not None else stationarity.StopRule(
                window=min(stationarity.StopRule().window, args.max_steps),
                max_steps=args.max_steps))
    if args.save_params is not None:
        with _flags.reported_as("--save-params"):
            train.save_problem(args.save_params, problem)
    return problem


def comparison(args):
    """Check every flag and input file of ``predict``/``explain``/``sweep``, then take the
    user's ``--model`` or train (or load) built-in networks, predict, check the premise and
    prune: the :class:`phasetrans.applications.compare.Comparison`."""
    notes = _check_flags(args)
    import jax

    from phasetrans.applications import compare

    if args.model is not None:
        problem = user_problem(args.model)
        for note in notes:
            _flags.note(args.command, note)
    else:
        problem = _built_in_problem(args, notes)
    comparison = compare.assess(problem, key=jax.random.key(args.seed),
                                options=_predict_options(args),
                                further_steps=args.further_steps, progress=True,
                                devices=args.devices)
    for warning in comparison.warnings:
        _flags.note(args.command, f"warning: {warning}")
    return comparison


def add_flags(parser: argparse.ArgumentParser, *, monte_carlo: bool = True) -> None:
    """The flags of ``predict``, ``explain`` and ``sweep``: data, network, training,
    prediction (the Monte Carlo ones only with ``monte_carlo``)."""
    parser.add_argument("--dataset", choices=DATASETS,
                        help="built-in offline dataset (default: "
                             f"{PREDICT_DEFAULTS['dataset']}); not with --data-file")
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
                             f"(default: {PREDICT_DEFAULTS['arch']})")
    parser.add_argument("--l1", type=float,
                        help="l1 penalty lambda >= 0 (nats per unit of sum |w|; default: "
                             f"{PREDICT_DEFAULTS['l1']})")
    parser.add_argument("--seeds", type=int,
                        help="number of networks trained (vmapped), >= 1 (default: "
                             f"{PREDICT_DEFAULTS['seeds']})")
    parser.add_argument("--seed", type=int, default=0,
                        help=f"PRNG seed, an integer in [0, {_flags.MAX_SEED}]")
    parser.add_argument("--steps", type=int,
                        help="a fixed budget of full-batch training steps >= 1 instead of "
                             "training until w* is a stationary point of F; not with --params "
                             "(default: none, train to stationarity; the results before the "
                             "premise check used --steps 2000 --optimizer adam)")
    parser.add_argument("--max-steps", type=int,
                        help="cap on the steps of training to stationarity, a multiple of "
                             f"{PREDICT_DEFAULTS['check_every']} (a seed that reaches it is "
                             "reported as not converged); not with --steps or --params "
                             f"(default: {PREDICT_DEFAULTS['max_steps']})")
    parser.add_argument("--further-steps", type=int, default=PREDICT_DEFAULTS["further_steps"],
                        help="premise check: full-batch steps of further training from w*; "
                             "w* is reported as a minimum of F when they lower F by at most "
                             "epsilon (default: %(default)s)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS,
                        help="training optimiser: proximal Adam (exact zeros; its fixed points "
                             "are the stationary points of F) or optax Adam/SGD on F's "
                             f"subgradient; not with --params (default: {OPTIMIZERS[0]})")
    parser.add_argument("--spectrum", choices=SPECTRUM_METHODS, default=SPECTRUM_METHODS[0],
                        help="Hessian spectrum: dense and exact (networks of at most "
                             f"{limits.MAX_DENSE_DIM} parameters) or stochastic Lanczos "
                             "quadrature")
    parser.add_argument("--eigen-treatment", choices=EIGEN_TREATMENTS,
                        default=PREDICTION_DEFAULTS["eigen_treatment"],
                        help="how eigenvalues <= --floor enter the formula")
    parser.add_argument("--floor", type=float, default=PREDICTION_DEFAULTS["floor"],
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
    parser.add_argument("--searches", default=",".join(LIMIT_DEFAULTS["searches"]),
                        help="witness searches of the limit test, comma-separated: retrain "
                             "(masked retraining to convergence), imp (iterative magnitude "
                             "pruning), gradual (gradual pruning during training), model "
                             "(retraining the support the l1-induced model picks; exact "
                             "spectrum only), or 'none'")
    parser.add_argument("--search-max-steps", type=int,
                        default=LIMIT_DEFAULTS["max_steps"],
                        help="cap on the steps of each retraining of a witness search, a "
                             f"multiple of {LIMIT_DEFAULTS['check_every']} and >= "
                             f"{LIMIT_DEFAULTS['window']} (a run that reaches it is reported "
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
                             f"slq (default: {L1_BODY_DEFAULTS['max_dim']})")
    parser.add_argument("--l1-body-max-iters", type=int,
                        help="ADMM iterations per l1-body sample, >= 1; a solve that stops "
                             "there is reported as converged: false; not with --no-monte-carlo, "
                             "with --spectrum slq only with --l1-body-model-max-dim (default: "
                             f"{L1_BODY_DEFAULTS['max_iters']})")
    parser.add_argument("--l1-body-samples", type=int,
                        help="Gaussian samples per evaluation of the l1-induced body's delta, "
                             ">= 2; not with --no-monte-carlo (default: "
                             f"{L1_BODY_DEFAULTS['num_samples']})")
    parser.add_argument("--l1-body-search", choices=L1_BODY_SEARCHES,
                        help="how the l1-induced body's fixed point is searched beyond where "
                             "the pruned point leaves the body: bisection, or steps from the "
                             "ellipsoid's Monte Carlo prediction (same final bracket 1/32); not "
                             f"with --no-monte-carlo (default: {L1_BODY_DEFAULTS['search']})")
    parser.add_argument("--l1-body-model-max-dim", type=int,
                        help="largest D for which the l1-induced body's Monte Carlo prediction "
                             "uses the low-rank Hessian model (the "
                             f"{L1_BODY_DEFAULTS['rank']} sharpest eigenpairs, Ritz pairs with "
                             "--spectrum slq, + a calibrated bulk; O(D x "
                             f"{L1_BODY_DEFAULTS['rank']}) "
                             "per ADMM iteration) where the exact "
                             "eigendecomposition is not used (--spectrum slq or D above "
                             "--l1-body-max-dim); not with --no-monte-carlo (default: "
                             f"{L1_BODY_DEFAULTS['model_max_dim']}, off)")
