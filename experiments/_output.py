"""Where experiments write, and how: atomic files, quick runs kept apart from the full results.

A full run writes ``results/<name>/``; ``--quick`` writes ``results/<name>/quick/`` (ignored by
git), so a smoke test never replaces committed results. Every file is written through
:mod:`phasetrans._io` (temporary file + rename), so an interrupted run leaves the previous
complete file in place, and a truncated results file is reported by name instead of crashing.
"""

from __future__ import annotations

import pathlib
import sys
import time
from collections.abc import Callable, Sequence

from phasetrans import _io
from phasetrans.networks import nets
from phasetrans.networks.train import TrainingOptions

RESULTS = pathlib.Path("results")
TRAININGS = {"stationary": TrainingOptions(),
             "budget_2000": TrainingOptions(steps=2000, optimizer="adam")}
"""How an experiment trains its networks (``compare.compare(training=...)``): to a stationary point
of F (the default since the premise check), or the fixed budget of 2000 full-batch Adam steps
that every result before it used; those rows are kept in ``results/<name>/budget_2000/``."""


def add_training_flag(parser) -> None:
    """``--training``: which of :data:`TRAININGS` (default ``stationary``)."""
    parser.add_argument("--training", choices=tuple(TRAININGS), default="stationary",
                        help="train to stationarity (default) or the fixed 2000-step Adam "
                             "budget of the earlier results (into results/<name>/budget_2000/)")


def premise_cell(row) -> str:
    """A table cell for the premise check: 'yes'/'no' (w* a minimum of F at the scale of eps)
    with the largest decrease of F under further optimisation in eps, and the training steps;
    '—' for rows computed before the check existed."""
    s = row.get("stationarity")
    if s is None:
        return "—"
    steps = s["training"]["steps"]
    taken = "" if steps is None else f", {min(steps)}–{max(steps)} steps"
    return (f"{'yes' if s['is_minimum'] else 'no'} ({s['max_decrease_in_epsilon']:.2g} ε"
            f"{taken})")


def plot_arguments(doc: str):
    """The ``--training`` flag of a plot script (which results to draw), parsed."""
    import argparse

    parser = argparse.ArgumentParser(description=doc)
    add_training_flag(parser)
    return parser.parse_args()


def figure_path(name: str, training: str) -> pathlib.Path:
    """``figures/<name>.png``, or ``figures/<name>_<training>.png`` for a training other than
    ``stationary``; the folder is created if missing."""
    path = pathlib.Path("figures") / (name if training == "stationary" else f"{name}_{training}")
    path.parent.mkdir(exist_ok=True)
    return path.with_suffix(".png")


def directory(name: str, *, quick: bool, training: str = "stationary") -> pathlib.Path:
    """``results/<name>`` (``results/<name>/<training>`` for a training other than
    ``stationary``; its ``quick`` subfolder for a quick run), created if missing."""
    path = RESULTS / name if training == "stationary" else RESULTS / name / training
    path = path / "quick" if quick else path
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_key(row) -> tuple:
    """(dataset, arch as given on the command line, l1) of a comparison's results row."""
    return row["dataset"], nets.arch_spec(row["arch"]), row["l1"]


def read_rows(path: pathlib.Path) -> list:
    """The rows of an earlier run's results file ([] if there is none); a damaged file stops
    the experiment with a one-line message naming it (delete or restore it from git)."""
    if not path.exists():
        return []
    try:
        return _io.read_json(path)
    except ValueError as err:
        sys.exit(f"error: {err}; restore it (git checkout {path}) or delete it to start over")


def keep_entry(path: pathlib.Path, entry: dict, key: Callable) -> None:
    """Write ``entry`` into the JSON list at ``path`` atomically, replacing an earlier entry
    with the same ``key(entry)``, the list sorted by key (a check's entries kept across runs)."""
    entries = {key(e): e for e in read_rows(path)}
    entries[key(entry)] = entry
    _io.write_json(path, [entries[k] for k in sorted(entries)])


def write_rows(directory_path: pathlib.Path, rows: list, table: str, *,
               suffix: str = "") -> None:
    """Write ``results<suffix>.json`` (the rows) and ``table<suffix>.md`` atomically."""
    _io.write_json(directory_path / f"results{suffix}.json", rows)
    _io.write_text(directory_path / f"table{suffix}.md", table)


def run_configs(out: pathlib.Path, configs: Sequence[tuple], compute: Callable, *,
                table: Callable, describe: Callable, datasets: Sequence[str],
                archs: Sequence[str]) -> list:
    """Compute one row per (dataset, arch, l1) configuration and keep the results file current.

    Rows of other configurations in ``out/results.json`` are kept (so a subset can be rerun);
    each new row gets ``seconds``, replaces its configuration's old row, the rows stay sorted
    by dataset, arch (in the order of ``datasets``, ``archs``) and l1, ``describe(row)`` is
    printed, and ``results.json`` and ``table.md`` (``table(rows)``) are rewritten after every
    configuration, so an interrupted run keeps what it finished. The file is read again just
    before each write, so runs of different configurations side by side keep each other's rows.
    """
    rows = read_rows(out / "results.json")  # a damaged file stops the run before any work
    for config in configs:
        start = time.perf_counter()
        row = compute(*config)
        row["seconds"] = time.perf_counter() - start
        rows = [r for r in read_rows(out / "results.json") if config_key(r) != config] + [row]
        rows.sort(key=lambda r: (list(datasets).index(r["dataset"]),
                                 list(archs).index(config_key(r)[1]), r["l1"]))
        print(describe(row), f"({row['seconds']:.0f} s)", flush=True)
        write_rows(out, rows, table(rows))
    return rows
