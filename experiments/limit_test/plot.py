"""figures/limit_test.png from results/limit_test/results.json (see run.py)."""

from __future__ import annotations

from experiments import _output
from phasetrans import _io
from phasetrans.applications import plots


def main() -> None:
    _output.plot_arguments(__doc__)
    rows = _io.read_json(_output.directory("limit_test", quick=False) / "results.json")
    print(f"wrote {plots.limit_test(rows, _output.figure_path('limit_test', 'stationary'))}")


if __name__ == "__main__":
    main()
