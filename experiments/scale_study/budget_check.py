"""A family row's best witness against a dense reference given the witness's own budget.

    python -m experiments.scale_study.budget_check --width 128 --seeds 1 [--search imp]

The limit test's fair reference continues w* for one retraining's budget (at most 10 000
steps), but an IMP witness has had up to ``imp_rounds`` such runs (4 x 10 000 steps). Where
F still falls near w* (:mod:`longer_check`: 20 000 steps at 1e-3 lower F by 9.1 eps on
h = 128 seed 1), that asymmetry alone can put a witness inside S = {F <= F*_fair + eps}.
Per (width, seed) this reads the stored witness of ``--search`` under the criterion
F <= F*_fair + eps (``family_run.witness_path``), recomputes its claim from the file alone
(:func:`phasetrans.applications.witness_file.check`, on the member's data rebuilt from its
seed: no training), then continues the stored w* with proximal Adam at the search's rate for
exactly the witness's step count, all weights free, full batch (one run: IMP restarts Adam's
moments every round, the continuation does not). F*_matched = min(F(w*), the lowest F on the
continuation's path), the lowest point as in the fair reference (its last point can lie above
F(w*) where Adam's F spikes; ``matched_step``: the steps taken at that point). The
witness holds against it when F(x) <= F*_matched + eps, eps the file's. Writes
``results/scale_study/family/budget_check.json`` (one entry per (width, seed, search, file),
kept across runs). ``--file`` checks another witness file of the member, e.g. one a row held before
it was rerun (``results/scale_study/family/budget_check/``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax
import jax.numpy as jnp

from experiments.scale_study import family, family_run
from phasetrans import _interrupt, _io
from phasetrans.applications import witness_file
from phasetrans.networks import train
from phasetrans.networks.problem import Problem

OUT = family_run.OUT / "budget_check.json"


def member(width: int, seed: int, params) -> Problem:
    """The recommended member of (width, seed) with ``params`` in place of training
    (:func:`family.member` with :func:`family.recommended_arguments`)."""
    return family.member(params, width=width, seed=seed, **family.recommended_arguments(width))


def check(width: int, seed: int, search: str, path=None) -> dict:
    """One stored witness against the matched-budget reference, as a plain dict; ``path``:
    the witness file (default: the row's, under ``family_run.witness_path``)."""
    start = time.perf_counter()
    default = family_run.witness_path(family_run.OUT, width, seed) / f"{search}-seed0-objective.npz"
    path = default if path is None else pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"no stored witness {path}: run family_run for h = {width}, seed "
                         f"{seed} with --searches {search}")
    like = family.init(family.recommended_arguments(width)["family"], width,
                       key=jax.random.key(seed))
    problem = member(width, seed, like)
    claim = witness_file.check(path, problem)
    meta, trees = witness_file.load(path, like)
    steps, rate = int(meta["steps"]), float(meta["settings"]["learning_rate"])
    for setting in ("batch_size", "rate_decay"):  # the continuation is full batch, one rate
        if setting in meta["settings"]:
            raise ValueError(f"{path} was found with {setting} "
                             f"{meta['settings'][setting]!r}; this check continues w* with "
                             "full-batch steps at a constant rate only")
    data = tuple(map(jnp.asarray, problem.train))
    objective = jax.jit(train.objective(problem.model.loss, problem.l1, problem.prunable))
    continued = train.minimise(problem.model.loss, trees["trained"], data, l1=problem.l1,
                               prunable=problem.prunable,
                               training=train.TrainingOptions(steps=steps, learning_rate=rate))
    values = claim.recomputed
    path_values = jnp.append(continued.loss_history, objective(continued.params, data))
    matched = min(values["trained_objective"], float(jnp.min(path_values)))
    epsilon = float(meta["epsilon"])
    return {"width": width, "seed": seed, "search": search, "file": str(path),
            "claim_holds": claim.holds, "removal_ratio": meta["removal_ratio"],
            "witness_steps": steps, "learning_rate": rate, "epsilon": epsilon,
            "objective": values["objective"], "trained_objective": values["trained_objective"],
            "fair_objective": values["fair_objective"], "matched_objective": matched,
            "fair_decrease_in_epsilon": (values["trained_objective"]
                                         - values["fair_objective"]) / epsilon,
            "matched_decrease_in_epsilon": (values["trained_objective"] - matched) / epsilon,
            "matched_step": int(jnp.argmin(path_values)),
            "margin_in_epsilon": (matched + epsilon - values["objective"]) / epsilon,
            "holds_against_matched": values["objective"] <= matched + epsilon,
            "seconds": time.perf_counter() - start,
            "command": f"python -m experiments.scale_study.budget_check --width {width} "
                       f"--seeds {seed} --search {search}"
                       + ("" if path == default else f" --file {path}")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--search", default="imp", choices=family_run.SEARCH_CHOICES)
    parser.add_argument("--file", default=None,
                        help="a witness file other than the row's (one seed only)")
    args = parser.parse_args()
    if args.file is not None and len(args.seeds) != 1:
        parser.error("--file checks one witness: give one seed")
    _interrupt.exit_on_interrupt("experiments.scale_study.budget_check")
    out = pathlib.Path(OUT)
    entries = {(e["width"], e["seed"], e["search"], e["file"]): e
               for e in (_io.read_json(out) if out.exists() else [])}
    for seed in args.seeds:
        entry = check(args.width, seed, args.search, args.file)
        entries[(args.width, seed, args.search, entry["file"])] = entry
        _io.write_json(out, [entries[k] for k in sorted(entries)])
        print(f"h = {args.width}, seed {seed}, {args.search}: witness at "
              f"{entry['removal_ratio']:.4f} after {entry['witness_steps']} steps; the dense "
              f"network given those steps lowers F by {entry['matched_decrease_in_epsilon']:.2f}"
              f" eps (fair reference: {entry['fair_decrease_in_epsilon']:.2f}); the witness "
              f"{'holds' if entry['holds_against_matched'] else 'fails'} against it (margin "
              f"{entry['margin_in_epsilon']:+.2f} eps)", file=sys.stderr)


if __name__ == "__main__":
    main()
