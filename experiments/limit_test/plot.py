"""figures/limit_test.png from results/limit_test/results.json (see run.py) and the scale
study's teacher-student family (results/scale_study/family/results.json: the same witness
searches against the same fair reference, one row per (h, seed), here as seed means per h)."""

from __future__ import annotations

import numpy as np

from experiments import _output
from experiments.scale_study import family_run
from phasetrans import _io
from phasetrans.applications import plots

FAMILY = "teacher-student family"


def family_documents(rows) -> list:
    """The family's rows as ``limit``-style documents, one per width: per search the mean of
    the seeds' witness ratios (F <= F*_fair + eps) over the seeds that have one (None when none
    does, as ``limit.limit_json``), the seeds' mean formula, and the window."""
    documents = []
    for width in sorted({r["width"] for r in rows}):
        members = [r for r in rows if r["width"] == width]
        ratios = {}
        for name in members[0]["witness"]:
            found = [r["witness"][name]["ratio"] for r in members
                     if r["witness"][name]["ratio"] is not None]
            ratios[name] = {"mean": float(np.mean(found)) if found else None}
        documents.append({
            "dataset": FAMILY, "num_params": members[0]["num_params"],
            "limit": {"witness_ratio": ratios,
                      "prediction": {"values": {"formula": float(np.mean(
                          [r["formula"]["mean"] for r in members]))}},
                      "window": members[0]["window"]["half_width"]}})
    return documents


def main() -> None:
    _output.plot_arguments(__doc__)
    rows = _io.read_json(_output.directory("limit_test", quick=False) / "results.json")
    family = family_documents(_io.read_json(family_run.OUT / "results.json"))
    path = _output.figure_path("limit_test", "stationary")
    print(f"wrote {plots.limit_test(rows + family, path)}")


if __name__ == "__main__":
    main()
