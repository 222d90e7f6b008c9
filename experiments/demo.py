"""``make demo``: the headline reproduction, quick version, on the bundled digits data.

Trains 3 ℓ1-regularised MLPs (64-32-32-10) on sklearn's digits in one vmapped call, predicts
their removal threshold (width formula with interval, sensitivity and the theory's window;
Monte Carlo statistical dimension of the ellipsoid's cone), prunes each at 101 ratios and
compares; then attributes the gap stage by stage (phasetrans.attribution at demo cost: exact
support feasibility of the ellipsoid, random subspaces, masked retraining on 21 ratios x 500
steps; the l1 body's support feasibility, ~12 min at this D, is left to
``phasetrans explain``). Writes results/demo/summary.json (the attribution under
``"attribution"``), the width-curve figure of the first seed (default
results/demo/width_curve.png; ``--figure figures/width_curve.png`` refreshes the README's copy)
and the attribution ladder results/demo/ladder.png.
"""

from __future__ import annotations

import argparse
import pathlib
import time

import jax

from phasetrans import _io, attribution, compare, plots, report

OUT = pathlib.Path("results/demo")
ATTRIBUTION = attribution.AttributionOptions(num_subspaces=12, retrain_ratios=21,
                                             retrain_steps=500, l1_support_max_dim=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figure", default=str(OUT / "width_curve.png"),
                        help="where to write the figure (default: %(default)s)")
    args = parser.parse_args()
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    comparison = compare.compare("digits", arch="32-32", l1=1e-4, num_seeds=3, progress=True)
    document = report.comparison_json(comparison)
    figure = plots.width_curve(comparison, args.figure)
    attributed = report.attribution_json(attribution.attribute(
        comparison, key=jax.random.key(1), options=ATTRIBUTION, progress=True))
    ladder = plots.ladders([attributed], OUT / "ladder.png")
    document["attribution"] = attributed
    document["seconds"] = time.perf_counter() - start
    _io.write_json(OUT / "summary.json", document)
    print("\n".join(report.summary_lines(document) + report.attribution_lines(attributed)))
    print(f"  wrote {OUT / 'summary.json'}, {figure} and {ladder} in "
          f"{document['seconds']:.0f} s")


if __name__ == "__main__":
    main()
