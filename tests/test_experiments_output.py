"""Experiment output: quick runs kept apart, atomic rows, damaged results reported."""

import pytest

from experiments import _output
from phasetrans.networks import train


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


def test_run_configs_resumes_replaces_and_sorts(tmp_path, capsys):
    def row(dataset, arch, l1, value):
        return {"dataset": dataset, "arch": f"mlp-64-{arch}-10", "l1": l1, "value": value}

    _output.write_rows(tmp_path, [row("mnist1d", "16", 1e-4, 1.0), row("digits", "16", 1e-4, 2.0)],
                       "old\n")
    rows = _output.run_configs(
        tmp_path, [("digits", "16", 1e-4), ("digits", "8", 1e-4)],
        lambda dataset, arch, l1: row(dataset, arch, l1, 3.0),
        table=lambda rows: f"{len(rows)} rows\n", describe=lambda r: r["arch"],
        datasets=("digits", "mnist1d"), archs=("8", "16"))
    assert [(r["dataset"], r["arch"], r["value"]) for r in rows] == [
        ("digits", "mlp-64-8-10", 3.0), ("digits", "mlp-64-16-10", 3.0),
        ("mnist1d", "mlp-64-16-10", 1.0)]                    # kept, replaced, sorted
    assert all("seconds" in r for r in rows[:2]) and "seconds" not in rows[2]
    assert _output.read_rows(tmp_path / "results.json") == rows
    assert (tmp_path / "table.md").read_text() == "3 rows\n"
    assert capsys.readouterr().out.splitlines()[0].startswith("mlp-64-16-10 (")


def test_run_configs_keeps_rows_another_run_wrote_meanwhile(tmp_path, capsys):
    def row(arch, value):
        return {"dataset": "digits", "arch": f"mlp-64-{arch}-10", "l1": 1e-4, "value": value}

    def compute(dataset, arch, l1):  # another process finishes configuration "32" meanwhile
        others = [r for r in _output.read_rows(tmp_path / "results.json")
                  if r["arch"] != "mlp-64-32-10"]
        _output.write_rows(tmp_path, others + [row("32", 5.0)], "")
        return row(arch, 3.0)

    _output.write_rows(tmp_path, [row("16", 1.0)], "")
    rows = _output.run_configs(tmp_path, [("digits", "8", 1e-4)], compute, table=lambda r: "",
                               describe=lambda r: "", datasets=("digits",),
                               archs=("8", "16", "32"))
    assert [(r["arch"], r["value"]) for r in rows] == [
        ("mlp-64-8-10", 3.0), ("mlp-64-16-10", 1.0), ("mlp-64-32-10", 5.0)]
    assert _output.read_rows(tmp_path / "results.json") == rows


def test_training_variants_and_the_premise_cell(tmp_path, monkeypatch):
    monkeypatch.setattr(_output, "RESULTS", tmp_path / "results")
    assert _output.directory("e", quick=False, training="budget_2000") == (
        tmp_path / "results" / "e" / "budget_2000")
    assert _output.directory("e", quick=True, training="budget_2000").name == "quick"
    assert _output.figure_path("e", "stationary").name == "e.png"
    assert _output.figure_path("e", "budget_2000").name == "e_budget_2000.png"
    assert _output.TRAININGS["budget_2000"] == train.TrainingOptions(steps=2000,
                                                                     optimizer="adam")
    assert _output.premise_cell({}) == "—"  # rows from before the premise check
    row = {"stationarity": {"is_minimum": False, "max_decrease_in_epsilon": 56.4,
                            "training": {"steps": [2000, 2000]}}}
    assert _output.premise_cell(row) == "no (56 ε, 2000–2000 steps)"
    row["stationarity"].update(is_minimum=True, max_decrease_in_epsilon=0.0023,
                               training={"steps": None})
    assert _output.premise_cell(row) == "yes (0.0023 ε)"


def test_keep_entry_replaces_by_key_and_sorts(tmp_path):
    path = tmp_path / "check.json"
    key = lambda e: (e["width"], e["seed"])  # noqa: E731
    for width, seed, value in ((128, 1, "a"), (16, 0, "b"), (128, 1, "c"), (128, 0, "d")):
        _output.keep_entry(path, {"width": width, "seed": seed, "value": value}, key=key)
    assert [(e["width"], e["seed"], e["value"]) for e in _output.read_rows(path)] == [
        (16, 0, "b"), (128, 0, "d"), (128, 1, "c")]
