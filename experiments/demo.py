"""``make demo``: the headline reproduction, quick version, on the bundled digits data.

Trains 3 ℓ1-regularised MLPs (64-32-32-10) on sklearn's digits in one vmapped call until each
is a stationary point of F (proximal Adam and the default stop rule; every report then says how
close each w* is to a minimum of F, the premise of the prediction), predicts
their removal threshold (width formula with interval, sensitivity and the theory's window;
Monte Carlo statistical dimension of the ellipsoid's cone and of the l1-induced body's, 8
projections per evaluation), prunes each at 101 ratios and
compares; tests whether the prediction is a limit (masked retraining to convergence searches
for sparse networks within eps of the trained objective: witnesses, written to
results/demo/witnesses/ for ``phasetrans check-witness``; the verdict is the summary's first
line); then attributes the gap stage by stage
(:func:`phasetrans.applications.attribution.attribute`:
12 random subspaces and the actual supports on the ellipsoid, 1000-step masked retraining on
17 ratios, one-shot criteria; the l1 body's support chain, ~12 min at this D = 3392, is
skipped and reported as missing). Writes results/demo/summary.json (the comparison, with the
attribution under "attribution"), the width-curve figure of the first seed (default
results/demo/width_curve.png; ``--figure figures/width_curve.png`` refreshes the README's copy)
and the attribution ladder results/demo/gap_attribution.png.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax

from phasetrans import _compile_cache, _interrupt, _io
from phasetrans.applications import attribution, compare, limit, plots, report
from phasetrans.theory import predict

OUT = pathlib.Path("results/demo")
ATTRIBUTION = attribution.AttributionOptions(l1_support_max_dim=0, num_subspaces=12,
                                             retrain_ratios=17, retrain_steps=1000)
"""The demo's attribution costs: the defaults without the l1 body's support chain, with 12
random subspaces instead of 24 and retraining on 17 ratios (steps of 1/16) for 1000 Adam steps
instead of 51 ratios x 2000 (the whole demo's budget is 2 minutes on 2 cores; retraining is
less converged than in ``phasetrans explain``, so its thresholds are lower bounds)."""

PREDICT = predict.PredictOptions(l1_body_options=predict.L1BodyOptions(num_samples=8))
"""The defaults, with 8 cone projections per evaluation of the l1 body's Monte Carlo instead of
16 (at D = 3392 its fixed point has been where x_p leaves the body, located by membership tests;
the samples only decide that delta/D just outside is below p)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figure", default=str(OUT / "width_curve.png"),
                        help="where to write the figure (default: %(default)s)")
    args = parser.parse_args()
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    comparison = compare.compare("digits", arch="32-32", l1=1e-4, num_seeds=3, progress=True,
                                 options=PREDICT)
    document = report.comparison_json(comparison)
    figure = plots.width_curve(comparison, args.figure)
    limited = time.perf_counter()
    witnesses = OUT / "witnesses"
    witnesses.mkdir(exist_ok=True)
    document["limit"] = limit.limit_json(limit.limit_test(
        comparison, key=jax.random.key(0), searches=limit.DEFAULT_SEARCHES,
        witness_dir=witnesses, progress=True))
    document["limit"]["seconds"] = time.perf_counter() - limited
    print("\n".join(limit.limit_lines(document["limit"]) + report.summary_lines(document)))
    attributed = time.perf_counter()
    ladder = report.attribution_json(attribution.attribute(
        comparison, key=jax.random.key(1), options=ATTRIBUTION, progress=True))
    ladder["seconds"] = time.perf_counter() - attributed
    document["attribution"] = ladder
    document["seconds"] = time.perf_counter() - start
    ladder_figure = plots.ladders([ladder], OUT / "gap_attribution.png")
    _io.write_json(OUT / "summary.json", document)
    print("\n".join(report.attribution_lines(ladder)))
    print(f"  wrote {OUT / 'summary.json'}, {figure} and {ladder_figure} in "
          f"{document['seconds']:.0f} s (attribution {ladder['seconds']:.0f} s)")


if __name__ == "__main__":
    _interrupt.exit_on_interrupt("experiments.demo")
    _compile_cache.enable()
    main()
