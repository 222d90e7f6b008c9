"""The premise check run longer: does F keep falling near a family member's w*?

    python -m experiments.scale_study.longer_check --width 128 --seeds 0 1
        [--rates 1e-3 3e-4] [--steps 20000]

Trains ``family.recommended(width, seed=s)`` in :mod:`family_run`'s stages, before settling
(the check that led :func:`family.problem` to settle members at the searches' horizon), then runs
:func:`phasetrans.networks.train.check_stationarity` with ``--steps`` fresh proximal-Adam steps
(instead of the premise's 2000) at each rate, eps the staged training's own
(:func:`family.training_epsilon`). A decrease above 1 eps means w* is not a minimum of F at the
scale of the tolerance set, so S = {F <= F(w*) + eps} is larger than the theory's, and a
witness against it is not a refutation. Writes ``results/scale_study/family/longer_check.json``
(one entry per (width, seed), kept across runs).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import jax.numpy as jnp

from experiments import _output
from experiments.scale_study import family
from phasetrans import _interrupt
from phasetrans.networks import train

OUT = pathlib.Path("results/scale_study/family/longer_check.json")


def check(width: int, seed: int, rates, steps: int) -> dict:
    """One member's longer premise checks as a plain dict."""
    start = time.perf_counter()
    problem, training = family.recommended(width, seed=seed)
    params, data = problem.seed(0), tuple(map(jnp.asarray, problem.train))
    epsilon = family.training_epsilon(problem.model.loss, params, data, seed=seed)
    checks = []
    for rate in rates:
        st = train.check_stationarity(problem.model.loss, params, data, l1=problem.l1,
                                      epsilon=epsilon, learning_rate=rate, further_steps=steps)
        checks.append({"learning_rate": rate, "further_steps": steps,
                       "decrease_in_epsilon": st.decrease_in_epsilon})
    return {"width": width, "seed": seed, "epsilon": epsilon,
            "stages": training["stages"], "checks": checks,
            "seconds": time.perf_counter() - start,
            "command": f"python -m experiments.scale_study.longer_check --width {width} "
                       f"--seeds {seed} --rates {' '.join(f'{r:g}' for r in rates)} "
                       f"--steps {steps}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-3, 3e-4])
    parser.add_argument("--steps", type=int, default=20000)
    args = parser.parse_args()
    _interrupt.exit_on_interrupt("experiments.scale_study.longer_check")
    for seed in args.seeds:
        entry = check(args.width, seed, args.rates, args.steps)
        _output.keep_entry(OUT, entry, key=lambda e: (e["width"], e["seed"]))
        print(f"h = {args.width}, seed {seed}: " + ", ".join(
            f"{c['decrease_in_epsilon']:.2f} eps at {c['learning_rate']:g}"
            for c in entry["checks"]), file=sys.stderr)


if __name__ == "__main__":
    main()
