"""Scale study on the family without the ceiling (issue 26): one row per (width h, seed).

    python -m experiments.scale_study.family_run [--widths 16 32 ...] [--seeds 0 1 2]
        [--searches retrain imp] [--batch-size B] [--rate-decay] [--minibatch-training]

Per (h, seed) whose row file ``results/scale_study/family/rows/h<h>_seed<s>.json`` does not
exist yet: train ``family.recommended(h, seed=s)`` (teacher-student multilabel, n m / D = 2,
lam n m = 0.2; proximal Adam to the default StopRule, in stages of decreasing rate while the
premise check fails, then settled at the witness searches' horizon: continued until the limit
test's fair reference, :func:`horizon` steps, lowers F by <= eps: :func:`family.problem`),
then

1. predict (:func:`phasetrans.theory.predict.predict_problem`, key ``jax.random.key(s)``): the
   width formula on an SLQ spectrum (16 probes x 60 Lanczos steps, as run.py; eigenvalue
   treatment "abs", floor 1e-4; eps from mini-batches of min(128, n / 4) examples) with its
   interval, and the Monte Carlo ellipsoid on the SLQ source's spectral levels (default
   ``EllipsoidOptions``: 9 ratios within +-0.2 of the formula, 48 samples, 32 levels); the l1
   body off;
2. premise and one-shot (:func:`phasetrans.applications.compare.assess` with those
   predictions): the stationarity check (2000 further steps at the last stage's rate) and
   global magnitude pruning on
   101 ratios, thresholds under the first-failure rule for accuracy (test accuracy >= unpruned
   - 0.01, as run.py) and loss (train loss <= unpruned + eps); each grid bracket [last pass,
   first failure] is then bisected (:func:`phasetrans.crossings.refine`, one one-ratio sweep
   per step) to <= window / 4;
3. witnesses (:func:`phasetrans.applications.limit.limit_test`, default ``--searches retrain
   imp``: masked retraining to the searches' default stop rule, at most 10 000 steps per run,
   and iterative magnitude pruning with 4 rounds; each row records the fraction of runs that
   met the stop rule) with :func:`search_options` (resolution window / 4; proximal Adam at
   the training's last rate for the fair reference and the searches): the largest removal
   ratio with a witness under each criterion, bracketed to <= window / 4 (or 1/D); the best
   witnesses go to :func:`witness_path` (``results/scale_study/family/witnesses/h<h>_seed<s>``).

With ``--batch-size B`` the witness searches and their fair reference take mini-batch steps of B
examples (``SearchOptions.batch_size``; training, prediction and one-shot pruning unchanged,
every criterion still the full training set's F), and the rows go to :func:`out_directory`
(``results/scale_study/family/batch<B>/``), beside the full-batch ones they are compared with;
``--rate-decay`` decays every search run's rate linearly to 0 at its step cap
(``SearchOptions.rate_decay``; rows under ``.../batch<B>-decay/``, or ``.../decay/``).
``--minibatch-training`` trains the members with ``family.MINIBATCH_TRAINING`` (2e6 steps on 64
examples, the rate decaying to 0, then the premise check, settling and searches at 1e-3)
instead of the full-batch stages (rows under ``.../minibatch-trained.../``).

The row is written atomically (:mod:`phasetrans._io`), so an interrupted run keeps its finished
rows and a rerun skips them; after each row ``results.json`` (every row file, sorted by h, seed)
and ``table.md`` are rebuilt.

Columns of a row: ``width``, ``num_params`` D, ``n``, ``l1`` (lambda), ``seed``, ``arch``;
``training`` {steps, converged, rule, learning_rate, stages (per stage: learning_rate,
steps, converged, premise_decrease_in_epsilon), settling (eps, max_steps, settled, rounds:
decrease_in_epsilon and steps per round; rows without it were not settled)};
``stationarity`` (the premise measures of
:class:`phasetrans.networks.stationarity.Stationarity`: decrease_in_epsilon, is_minimum,
relative_subgradient, ...); ``test_accuracy`` (unpruned); ``epsilon``; ``formula`` {mean,
interval}; ``mc_ellipsoid`` {mean, interval, converged, hessian_model}; ``window`` {half_width,
eta}; ``oneshot`` {accuracy, loss, brackets, grid (the 101-ratio thresholds), accuracy_tol};
``witness`` {search: {ratio (criterion F <= F*_fair + eps), by_criterion, brackets,
converged_fraction, seconds, settings (optimizer, learning_rate, stop, ...; rows without it ran
at the searches' default 3e-3)}}; ``best_witness`` {ratio, search, verdict (the limit test's),
reference_decrease_in_epsilon, reference_max_steps (the fair reference's decrease of F and
length: the largest search budget, every step; rows without it had a stop rule and a
10 000-step cap)};
``witness_files`` (the names written under :func:`witness_path`);
``resolution`` (the largest bracket width among the one-shot and witness thresholds; must be <=
window / 4, else ``resolution_ok`` is False); ``seconds`` {train, predict, premise_oneshot
(assess: stationarity + 101-ratio sweep), oneshot_refine, witnesses, total};
``witness_batch_size`` (the searches' mini-batch, None or absent: full batch);
``witness_rate_decay`` (True: their rates decayed to 0); ``command`` (the command line that
recomputes this row); ``warnings``.

Cost (2 busy cores): at h = 16 (D = 1024) 74 s per row, measured (train 4, predict 15,
premise + sweep 7, refine 0: the 0.01 grid is already below window / 4 = 0.046, witnesses 47
with retrain and imp); at D = 1e6 (h = 700) family.py's measurements give ~7 h of training,
~0.35 h of SLQ, the levels' Monte Carlo one Lanczos run per ratio (9 x 60 HVPs, ~0.2 h) and
~18 h of witness searches per seed.
"""

from __future__ import annotations

import argparse
import functools
import math
import pathlib
import sys
import time

import jax
import numpy as np

from experiments.scale_study import family
from experiments.scale_study.run import ACCURACY_TOL, SPECTRUM
from phasetrans import _interrupt, _io, crossings
from phasetrans.applications import compare, limit, report
from phasetrans.networks import prune, witnesses
from phasetrans.theory import predict

OUT = pathlib.Path("results/scale_study/family")
WIDTHS = (16, 32, 64, 128, 224, 400, 700)
"""D = 32 h + 2 h^2: 1024, 3072, 10 240, 36 864, 107 520, 332 800, 1 002 400."""
SEEDS = (0, 1, 2)
SEARCHES = ("retrain", "imp")
SEARCH_CHOICES = ("retrain", "imp", "gradual")
"""``"model"`` needs the exact spectrum, which the SLQ pipeline does not have."""
OPTIONS = predict.PredictOptions(spectrum_options=SPECTRUM,
                                 l1_body_options=predict.L1BodyOptions(max_dim=0))
"""Prediction options; ``noise_batch_size`` is set per member (:func:`options`)."""
NUM_SWEEP_RATIOS = 101
MODULE = "experiments.scale_study.family_run"


def row_path(directory, width: int, seed: int) -> pathlib.Path:
    """``directory/rows/h<width>_seed<seed>.json``."""
    return pathlib.Path(directory) / "rows" / f"h{width}_seed{seed}.json"


def out_directory(batch_size: int | None = None, rate_decay: bool = False,
                  minibatch_training: bool = False) -> pathlib.Path:
    """Where the rows of witness searches with mini-batches of ``batch_size`` (None: full
    batch) and a decaying rate (``rate_decay``) go: :data:`OUT` for full-batch searches at a
    constant rate, else ``OUT/batch<batch_size>``, ``OUT/batch<batch_size>-decay`` or
    ``OUT/decay``; members trained with :data:`family.MINIBATCH_TRAINING`
    (``minibatch_training``) put ``minibatch-trained`` first (``OUT/minibatch-trained``,
    ``OUT/minibatch-trained-batch64-decay``, ...)."""
    parts = (["minibatch-trained"] if minibatch_training else []) + (
        [] if batch_size is None else [f"batch{batch_size}"]) + (["decay"] if rate_decay else [])
    return OUT / "-".join(parts) if parts else OUT


def command(width: int, seed: int, searches, batch_size: int | None = None,
            rate_decay: bool = False, minibatch_training: bool = False) -> str:
    """The command line that recomputes the row of (width, seed) with ``searches`` (and
    mini-batches of ``batch_size`` examples, None: full batch; ``rate_decay``;
    ``minibatch_training``)."""
    return (f"python -m {MODULE} --widths {width} --seeds {seed} "
            f"--searches {' '.join(searches)}"
            + ("" if batch_size is None else f" --batch-size {batch_size}")
            + (" --rate-decay" if rate_decay else "")
            + (" --minibatch-training" if minibatch_training else ""))


def witness_path(directory, width: int, seed: int) -> pathlib.Path:
    """``directory/witnesses/h<width>_seed<seed>``: the row's best witnesses, one ``.npz`` per
    search and criterion (:mod:`phasetrans.networks.witness_file`; git keeps the
    ``*-objective.npz`` ones, the criterion F <= F*_fair + eps)."""
    return pathlib.Path(directory) / "witnesses" / f"h{width}_seed{seed}"


def search_options(training: dict, resolution: float, batch_size: int | None = None,
                   rate_decay: bool = False) -> witnesses.SearchOptions:
    """The witness searches' options for a member trained as ``training`` records: brackets to
    ``resolution``, and proximal Adam at the training's last rate (on mini-batches of
    ``batch_size`` examples, None: full batch; decaying to 0 with ``rate_decay``), for the
    fair reference and the searches alike.
    At the searches' default rate (3e-3) the fair reference of a member trained down to 1e-3 is
    continued at a rate where F stays higher (h = 128 seed 1 in session 39: it lowered F by 0.0
    eps, while 20 000 steps at 1e-3 lower it by 9.1 eps), so witnesses were held to an F*_fair
    that was not the smallest F the optimiser reaches."""
    return witnesses.SearchOptions(resolution=resolution,
                                   learning_rate=float(training["learning_rate"]),
                                   batch_size=batch_size, rate_decay=rate_decay)


def horizon(searches) -> int:
    """The length in steps of the limit test's fair reference for ``searches`` (with
    :func:`search_options`, whose stop rule and IMP rounds are the defaults): the members are
    settled at it (:func:`family.problem`)."""
    return limit.reference_budget(tuple(searches), witnesses.SearchOptions())


def options(n: int) -> predict.PredictOptions:
    """:data:`OPTIONS` with eps's mini-batches of :func:`family.noise_batch_size` examples."""
    return OPTIONS._replace(noise_batch_size=family.noise_batch_size(n))


def _oneshot(c: compare.Comparison, resolution: float) -> dict:
    """The first-failure one-shot thresholds of the one network of ``c`` with each grid bracket
    bisected to <= ``resolution``: a ratio passes when a one-ratio sweep's threshold is finite
    (prune.empirical_threshold's criteria, unchanged)."""
    grid = np.asarray(c.sweep.removal_ratios)
    eps = c.predictions[0].noise.epsilon.mean
    out = {"accuracy_tol": c.accuracy_tol, "brackets": {}, "grid": {}}
    for criterion in ("accuracy", "loss"):
        coarse = float(getattr(c.empirical, criterion)[0])
        out["grid"][criterion] = coarse
        if not math.isfinite(coarse):  # the first ratio (0) already fails: no threshold
            out[criterion], out["brackets"][criterion] = None, None
            continue
        above = grid[grid > coarse]
        if above.size == 0:  # every ratio passes, up to 1
            out[criterion], out["brackets"][criterion] = coarse, [coarse, coarse]
            continue

        def passes(p, criterion=criterion):
            swept = prune.sweep(c.problem, np.array([p]))
            threshold = prune.empirical_threshold(swept, epsilon=eps,
                                                  accuracy_tol=c.accuracy_tol)
            return bool(np.isfinite(getattr(threshold, criterion)[0]))

        low, high = crossings.refine(passes, coarse, float(above[0]), resolution=resolution)
        out[criterion], out["brackets"][criterion] = low, [low, high]
    return out


def _witness(lt: limit.LimitTest) -> tuple[dict, dict]:
    """Per search: the fair-criterion ratio, every criterion's ratio and bracket; and the limit
    test's best witness and verdict (from :func:`limit.limit_json`)."""
    doc = limit.limit_json(lt)
    per_search = {}
    for name, result in lt.results.items():
        entry = doc["witness_ratio"][name]
        per_search[name] = {
            "ratio": entry["mean"],
            "by_criterion": {k: v["mean"] for k, v in entry["by_criterion"].items()},
            "brackets": {k: result.bracket[0, i].tolist()
                         for i, k in enumerate(witnesses.CRITERIA)},
            "contiguous": bool(np.all(result.contiguous)), "settings": result.settings,
            "converged_fraction": entry["converged_fraction"], "seconds": entry["seconds"]}
    best = {"ratio": doc["best_witness_ratio"], "search": doc["best_search"],
            "verdict": doc["verdict"],
            "reference_decrease_in_epsilon": doc["reference"]["decrease_in_epsilon"][0],
            "reference_max_steps": doc["reference"]["max_steps"]}
    return per_search, best


def resolution(row: dict) -> float | None:
    """The largest bracket width among a row's measured thresholds (one-shot accuracy and loss,
    every witness search and criterion); brackets of missing thresholds are skipped; None if
    there is none."""
    brackets = [b for b in row["oneshot"]["brackets"].values() if b is not None]
    brackets += [b for w in row["witness"].values() for b in w["brackets"].values()]
    widths = [hi - lo for lo, hi in brackets if lo is not None and math.isfinite(lo)]
    return max(widths) if widths else None


def compute_row(width: int, seed: int, searches=SEARCHES, witness_dir=None, *,
                batch_size: int | None = None, rate_decay: bool = False,
                minibatch_training: bool = False) -> dict:
    """Train, predict, prune and search witnesses for one member (see the module docstring);
    the row as a plain dict. ``witness_dir``: where the best witnesses are written (created
    if missing), or None (not written); ``batch_size``: the witness searches' mini-batch
    (None: full batch); ``rate_decay``: their rate decays to 0 (:func:`search_options`);
    ``minibatch_training``: the member is trained with :data:`family.MINIBATCH_TRAINING`
    instead of the full-batch stages."""
    seconds = {}
    start = time.perf_counter()
    problem, training = family.recommended(
        width, seed=seed, horizon=horizon(searches),
        training=family.MINIBATCH_TRAINING if minibatch_training else None)
    seconds["train"] = time.perf_counter() - start
    key = jax.random.key(seed)
    t = time.perf_counter()
    predictions = predict.predict_problem(problem, key=key,
                                          options=options(problem.metadata["n"]))
    seconds["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    c = compare.assess(problem, key=key, predictions=predictions,
                       num_sweep_ratios=NUM_SWEEP_RATIOS, accuracy_tol=ACCURACY_TOL)
    seconds["premise_oneshot"] = time.perf_counter() - t
    doc = report.comparison_json(c)
    window = doc["window"]
    target = window["half_width"] / 4
    t = time.perf_counter()
    oneshot = _oneshot(c, target)
    seconds["oneshot_refine"] = time.perf_counter() - t
    t = time.perf_counter()
    if witness_dir is not None:
        pathlib.Path(witness_dir).mkdir(parents=True, exist_ok=True)
    lt = limit.limit_test(c, key=key, searches=tuple(searches),
                          options=search_options(training, target, batch_size, rate_decay),
                          witness_dir=witness_dir)
    seconds["witnesses"] = time.perf_counter() - t
    per_search, best = _witness(lt)
    seconds["total"] = time.perf_counter() - start
    ell = doc["mc_prediction"]["ellipsoid"]
    meta = problem.metadata
    row = {"width": width, "num_params": doc["num_params"], "n": meta["n"], "l1": problem.l1,
           "seed": seed, "arch": meta["arch"], "training": training,
           "stationarity": c.stationarity[0].to_dict(),
           "test_accuracy": doc["unpruned_test_accuracy"][0], "epsilon": doc["epsilon"],
           "formula": {"mean": doc["predicted_removal_ratio"],
                       "interval": doc["predicted_interval"]},
           "mc_ellipsoid": None if ell is None else {
               "mean": ell["removal_ratio"], "interval": ell["interval"],
               "converged": ell["converged"], "hessian_model": ell.get("hessian_model")},
           "window": {"half_width": window["half_width"], "eta": window["eta"]},
           "oneshot": oneshot, "witness": per_search, "best_witness": best,
           "witness_files": sorted(pathlib.Path(f).name for f in lt.witness_files),
           "witness_batch_size": batch_size, "witness_rate_decay": rate_decay,
           "seconds": seconds, "command": command(width, seed, searches, batch_size, rate_decay,
                                                minibatch_training),
           "warnings": doc["warnings"]}
    row["resolution"] = resolution(row)
    row["resolution_ok"] = row["resolution"] is not None and row["resolution"] <= target
    return row


def _witness_cell(entry) -> str:
    if entry is None or entry["ratio"] is None:
        return "— | "
    converged = entry.get("converged_fraction")
    return (f"{entry['ratio']:.3f}" + ("" if converged is None else
                                       f" ({100 * converged:.0f} % conv.)") + " | ")


def _settling_note(settling) -> str:
    if settling is None:
        return "; not settled"
    rounds = len(settling["rounds"])
    return (f"; settled in {rounds}" if settling["settled"]
            else f"; **not settled** after {rounds}")


def table(rows) -> str:
    """Markdown: one line per (h, seed); a witness cell is the search's ratio under F <= F*_fair
    + eps with the fraction of its retraining runs that met the stop rule."""
    searches = sorted({s for r in rows for s in r["witness"]})
    fmt = lambda x: "—" if x is None else f"{x:.3f}"  # noqa: E731
    lines = ["| h | D | n | λ | seed | test acc. | premise (ΔF/ε at rate; settling rounds) | "
             "formula [interval] | MC ellipsoid | ±window | one-shot acc. | one-shot loss | "
             "fair ref. ΔF/ε | "
             + "".join(f"witness {s} | " for s in searches)
             + "resolution | s (train / predict / premise+sweep / refine / witnesses) |",
             "|---" * (15 + len(searches)) + "|"]
    for r in rows:
        f, mc, o, s = r["formula"], r["mc_ellipsoid"], r["oneshot"], r["seconds"]
        st = r["stationarity"]
        lines.append(
            f"| {r['width']} | {r['num_params']} | {r['n']} | {r['l1']:.2g} | {r['seed']} | "
            f"{r['test_accuracy']:.3f} | {'yes' if st['is_minimum'] else '**no**'} "
            f"({st['decrease_in_epsilon']:.2f} at {r['training']['learning_rate']:g}"
            f"{_settling_note(r['training'].get('settling'))}) | "
            f"{f['mean']:.3f} [{f['interval'][0]:.3f}, "
            f"{f['interval'][1]:.3f}] | {fmt(None if mc is None else mc['mean'])} | "
            f"{r['window']['half_width']:.3f} | {fmt(o['accuracy'])} | {fmt(o['loss'])} | "
            f"{r['best_witness']['reference_decrease_in_epsilon']:.1f} | "
            + "".join(_witness_cell(r["witness"].get(x)) for x in searches)
            + f"{fmt(r['resolution'])} | {s['train']:.0f} / {s['predict']:.0f} / "
            f"{s['premise_oneshot']:.0f} / {s['oneshot_refine']:.0f} / {s['witnesses']:.0f} |")
    return "\n".join(lines) + "\n"


def assemble(directory) -> list:
    """Read every row file under ``directory/rows``, write ``results.json`` (the rows sorted by
    width, seed) and ``table.md`` into ``directory``; returns the rows."""
    directory = pathlib.Path(directory)
    rows = [_io.read_json(p) for p in sorted((directory / "rows").glob("h*_seed*.json"))]
    rows.sort(key=lambda r: (r["width"], r["seed"]))
    _io.write_json(directory / "results.json", rows)
    _io.write_text(directory / "table.md",
                   "# Scale study, family without the ceiling (issue 26)\n\nGenerated by "
                   f"`python -m {MODULE}`; one row per (h, seed), each row's `command` "
                   "recomputes it.\n\n" + table(rows))
    return rows


def run(widths, seeds, searches=SEARCHES, *, directory=OUT, compute=None) -> list:
    """Compute and store every (width, seed) row not stored yet under ``directory``
    (``compute(width, seed, searches, witness_dir)`` with :func:`witness_path`, default
    :func:`compute_row`), reassembling the results
    after each; returns the (width, seed) pairs computed. ``ValueError`` for a width < 1, a
    seed < 0 or a search outside :data:`SEARCH_CHOICES`."""
    compute = compute_row if compute is None else compute
    widths, seeds, searches = list(widths), list(seeds), tuple(searches)
    if any(int(w) != w or w < 1 for w in widths) or any(int(s) != s or s < 0 for s in seeds):
        raise ValueError(f"widths must be integers >= 1 and seeds integers >= 0, got {widths}, "
                         f"{seeds}")
    for name in searches:
        if name not in SEARCH_CHOICES:
            raise ValueError(f"searches must be among {SEARCH_CHOICES}, got {name!r}")
    directory = pathlib.Path(directory)
    (directory / "rows").mkdir(parents=True, exist_ok=True)
    done = []
    for width in widths:
        for seed in seeds:
            path = row_path(directory, width, seed)
            if path.exists():
                print(f"h = {width}, seed {seed}: stored ({path}), skipped", file=sys.stderr)
                continue
            print(f"h = {width}, seed {seed}: computing", file=sys.stderr)
            _io.write_json(path, compute(width, seed, searches,
                                         witness_path(directory, width, seed)))
            done.append((width, seed))
            assemble(directory)
    if not done and any((directory / "rows").glob("h*_seed*.json")):
        assemble(directory)
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                      formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--searches", nargs="+", default=list(SEARCHES), choices=SEARCH_CHOICES)
    parser.add_argument("--batch-size", type=int, default=None,
                        help="examples per mini-batch step of the witness searches and their "
                             "fair reference (default: full batch)")
    parser.add_argument("--rate-decay", action="store_true",
                        help="decay every search run's rate linearly to 0 at its step cap")
    parser.add_argument("--minibatch-training", action="store_true",
                        help="train the members with family.MINIBATCH_TRAINING (mini-batches, "
                             "decaying rate) instead of the full-batch stages")
    args = parser.parse_args()
    if args.batch_size is not None:  # checked here, not after the first member's training
        recommended = [(w, family.recommended_arguments(w)) for w in args.widths if w >= 1]
        examples = min((family.size(a["family"], w, a["ratio"])["n"] for w, a in recommended),
                       default=args.batch_size)
        if not 1 <= args.batch_size <= examples:
            parser.error(f"--batch-size must be an integer from 1 to {examples} (the smallest "
                         f"member's training examples), got {args.batch_size}")
    out = out_directory(args.batch_size, args.rate_decay, args.minibatch_training)
    run(args.widths, args.seeds, args.searches, directory=out,
        compute=functools.partial(compute_row, batch_size=args.batch_size,
                                  rate_decay=args.rate_decay,
                                  minibatch_training=args.minibatch_training))
    print((out / "table.md").read_text())


if __name__ == "__main__":
    _interrupt.exit_on_interrupt(MODULE)
    main()
