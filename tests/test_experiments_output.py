"""Experiment output: quick runs kept apart, atomic rows, damaged results reported."""

import pytest

from experiments import _output


def test_quick_runs_write_elsewhere_and_damaged_files_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(_output, "RESULTS", tmp_path / "results")
    full = _output.directory("demo_experiment", quick=False)
    quick = _output.directory("demo_experiment", quick=True)
    assert quick == full / "quick" and quick.is_dir()
    _output.write_rows(full, [{"a": 1.0, "b": float("nan")}], "| a |\n")
    assert _output.read_rows(full / "results.json") == [{"a": 1.0, "b": None}]   # strict JSON
    assert (full / "table.md").read_text() == "| a |\n"
    assert _output.read_rows(quick / "results.json") == []                      # nothing yet
    (full / "results.json").write_text('[{"a": 1.0, "b"')                        # truncated
    with pytest.raises(SystemExit, match="truncated or not JSON.*git checkout"):
        _output.read_rows(full / "results.json")
