"""``make demo``: the headline reproduction, quick version, on the bundled digits data.

Trains 3 ℓ1-regularised MLPs (64-32-32-10) on sklearn's digits in one vmapped call, predicts
their removal threshold (width formula with interval, sensitivity and the theory's window;
Monte Carlo statistical dimension of the ellipsoid's cone), prunes each at 101 ratios and
compares. Writes results/demo/summary.json and the width-curve figure of the first seed
(default results/demo/width_curve.png; ``--figure figures/width_curve.png`` refreshes the
README's copy).
"""

from __future__ import annotations

import argparse
import pathlib
import time

from phasetrans import _io, compare, plots, report

OUT = pathlib.Path("results/demo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--figure", default=str(OUT / "width_curve.png"),
                        help="where to write the figure (default: %(default)s)")
    args = parser.parse_args()
    start = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    comparison = compare.compare("digits", arch="32-32", l1=1e-4, num_seeds=3, progress=True)
    document = report.comparison_json(comparison)
    document["seconds"] = time.perf_counter() - start
    figure = plots.width_curve(comparison, args.figure)
    _io.write_json(OUT / "summary.json", document)
    print("\n".join(report.summary_lines(document)))
    print(f"  wrote {OUT / 'summary.json'} and {figure} in {document['seconds']:.0f} s")


if __name__ == "__main__":
    main()
