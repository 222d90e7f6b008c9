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

RESULTS = pathlib.Path("results")


def directory(name: str, *, quick: bool) -> pathlib.Path:
    """``results/<name>`` (or its ``quick`` subfolder), created if missing."""
    path = RESULTS / name / "quick" if quick else RESULTS / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_key(row) -> tuple:
    """(dataset, arch as given on the command line, l1) of a comparison's results row."""
    spec = "cnn" if row["arch"].startswith("cnn") else "-".join(row["arch"].split("-")[2:-1])
    return row["dataset"], spec, row["l1"]


def read_rows(path: pathlib.Path) -> list:
    """The rows of an earlier run's results file ([] if there is none); a damaged file stops
    the experiment with a one-line message naming it (delete or restore it from git)."""
    if not path.exists():
        return []
    try:
        return _io.read_json(path)
    except ValueError as err:
        sys.exit(f"error: {err}; restore it (git checkout {path}) or delete it to start over")


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
