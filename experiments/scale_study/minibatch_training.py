"""Mini-batch training with a decaying rate against the family's full-batch staged training.

    python -m experiments.scale_study.minibatch_training --width 128 --seeds 0 1 2
        [--batch-size 64] [--steps 2000000] [--learning-rate 3e-3]

The family's members are trained full batch (:func:`family.problem`: proximal Adam at constant
rates in stages, then settled), which is most of a row's cost and does not scale: at D = 1.0e6
(h = 700) a full-batch step costs about 20x a step on 64 examples. This trains the same member
(data, init and lambda of ``family.recommended(width, seed=s)``) with
:func:`phasetrans.networks.train.minimise` on mini-batches, the rate decaying linearly to 0
(``TrainingOptions(steps, batch_size, rate_decay=True)``), then measures what the family's rows
measure: F, the premise check (2000 further full-batch steps at 1e-3, the last stage's rate of
the h = 128 rows) and one settling round (the limit test's fair reference at the family's
horizon: 40 000 further full-batch steps at 1e-3, the lowest F visited), each decrease in units
of the member's eps (:func:`family.training_epsilon`); beside them the stored full-batch row's
F(w*) and training seconds, training and settling (``results/scale_study/family/rows``; None
where no row exists). Writes ``results/scale_study/family/minibatch_training.json`` (one entry
per (width, seed, batch size, steps), kept across runs).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax

from experiments import _output
from experiments.scale_study import family, family_run
from phasetrans import _interrupt, _io
from phasetrans.networks import train, witnesses

OUT = pathlib.Path("results/scale_study/family/minibatch_training.json")
CHECK_RATE = family.AFTER_MINIBATCH_RATE
"""The rate of the premise check and of the settling round (the h = 128 rows' last stage)."""
DEFAULT = family.MINIBATCH_TRAINING


def check(width: int, seed: int, batch_size: int, steps: int, learning_rate: float) -> dict:
    """One member trained on mini-batches (``family.recommended`` with these training
    options, which runs the premise check), and its settling round, as a plain dict."""
    problem, training = family.recommended(width, seed=seed, training=train.TrainingOptions(
        steps=steps, learning_rate=learning_rate, batch_size=batch_size, rate_decay=True))
    [stage] = training["stages"]
    epsilon = stage["epsilon"]
    horizon = family_run.horizon(family_run.SEARCHES)
    start = time.perf_counter()
    settling = witnesses.reference(problem, epsilon=epsilon, max_steps=horizon,
                                   options=witnesses.SearchOptions(learning_rate=CHECK_RATE))
    settling_seconds = time.perf_counter() - start
    stored = family_run.row_path(family_run.OUT, width, seed)
    row = _io.read_json(stored) if stored.exists() else None
    return {"width": width, "seed": seed,
            "num_params": sum(w.size for w in jax.tree_util.tree_leaves(problem.seed(0))),
            "batch_size": batch_size, "steps": steps, "learning_rate": learning_rate,
            "objective": float(settling.objective[0]), "epsilon": epsilon,
            "train_seconds": stage["seconds"],
            "premise_decrease_in_epsilon": stage["premise_decrease_in_epsilon"],
            "settling_round": {"max_steps": horizon, "learning_rate": CHECK_RATE,
                               "decrease_in_epsilon": float(settling.decrease_in_epsilon[0]),
                               "best_step": int(settling.best_step[0]),
                               "seconds": settling_seconds},
            "full_batch": row and {"objective": row["stationarity"]["objective"],
                                   "epsilon": row["epsilon"],
                                   "steps": row["training"]["steps"][0],
                                   "train_seconds": row["seconds"]["train"]},
            "command": f"python -m experiments.scale_study.minibatch_training --width {width} "
                       f"--seeds {seed} --batch-size {batch_size} --steps {steps} "
                       f"--learning-rate {learning_rate:g}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=128, help="h (default 128)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="default 0")
    parser.add_argument("--batch-size", type=int, default=DEFAULT.batch_size,
                        help=f"examples per step (default {DEFAULT.batch_size})")
    parser.add_argument("--steps", type=int, default=DEFAULT.steps,
                        help=f"training steps (default {DEFAULT.steps})")
    parser.add_argument("--learning-rate", type=float, default=DEFAULT.learning_rate,
                        help=f"the first step's rate (default {DEFAULT.learning_rate:g})")
    args = parser.parse_args()
    if args.width < 1 or any(seed < 0 for seed in args.seeds):  # checked before any training
        parser.error(f"--width must be >= 1 and --seeds >= 0, got {args.width}, {args.seeds}")
    examples = family.size("multilabel", args.width, family.RATIO)["n"]
    if not 1 <= args.batch_size <= examples:
        parser.error(f"--batch-size must be an integer from 1 to {examples} (the member's "
                     f"training examples), got {args.batch_size}")
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    if not 0 < args.learning_rate < float("inf"):
        parser.error(f"--learning-rate must be a positive finite number, got "
                     f"{args.learning_rate}")
    _interrupt.exit_on_interrupt("experiments.scale_study.minibatch_training")
    for seed in args.seeds:
        entry = check(args.width, seed, args.batch_size, args.steps, args.learning_rate)
        _output.keep_entry(OUT, entry, key=lambda e: (e["width"], e["seed"], e["batch_size"],
                                                      e["steps"]))
        full = entry["full_batch"]
        print(f"h = {args.width}, seed {seed}: F {entry['objective']:.6f} in "
              f"{entry['train_seconds']:.0f} s (full batch: " + (
                  f"{full['objective']:.6f} in {full['train_seconds']:.0f} s" if full else
                  "no row") + f"); premise "
              f"{entry['premise_decrease_in_epsilon']:.2f} eps, settling round "
              f"{entry['settling_round']['decrease_in_epsilon']:.2f} eps", file=sys.stderr)


if __name__ == "__main__":
    main()
