"""figures/gap_attribution.png from results/gap_attribution/results.json (see run.py)."""

from __future__ import annotations

import pathlib

from phasetrans import _io, plots

RESULTS = pathlib.Path("results/gap_attribution/results.json")
FIGURE = pathlib.Path("figures/gap_attribution.png")


def main() -> None:
    rows = _io.read_json(RESULTS)
    FIGURE.parent.mkdir(exist_ok=True)
    print(f"wrote {plots.ladders(rows, FIGURE)}")


if __name__ == "__main__":
    main()
