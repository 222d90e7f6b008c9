"""figures/gap_attribution.png from results/gap_attribution/results.json (see run.py);
``--training budget_2000``: the fixed-budget rows into figures/gap_attribution_budget_2000.png."""

from __future__ import annotations

from experiments import _output
from phasetrans import _io
from phasetrans.applications import plots


def main() -> None:
    training = _output.plot_arguments(__doc__).training
    rows = _io.read_json(_output.directory("gap_attribution", quick=False, training=training)
                         / "results.json")
    print(f"wrote {plots.ladders(rows, _output.figure_path('gap_attribution', training))}")


if __name__ == "__main__":
    main()
