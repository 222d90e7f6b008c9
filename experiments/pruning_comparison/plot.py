"""figures/pruning_comparison.png and figures/effective_sparsity.png from
results/pruning_comparison/results.json (see run.py)."""

from __future__ import annotations

import pathlib

from phasetrans import _io
from phasetrans.applications import plots

RESULTS = pathlib.Path("results/pruning_comparison/results.json")
FIGURES = pathlib.Path("figures")


def main() -> None:
    rows = _io.read_json(RESULTS)
    FIGURES.mkdir(exist_ok=True)
    print(f"wrote {plots.pruning_methods(rows, FIGURES / 'pruning_comparison.png')}")
    print(f"wrote {plots.effective_sparsity(rows, FIGURES / 'effective_sparsity.png')}")


if __name__ == "__main__":
    main()
