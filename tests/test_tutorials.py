"""Every tutorial script (docs/tutorials/*.py) runs on its own, as a reader would run it.

The longer ones are marked ``slow`` (``make test-all``); ``make docs`` executes all of them when
it builds the site (mkdocs-jupyter), and ``make docs-check`` / CI builds without executing them.
A file of its own, so that pytest-xdist runs it beside tests/test_docs.py.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

SLOW_TUTORIALS = {"t2_your_model.py", "t3_gap.py", "t4_sweep.py", "t5_compressed_sensing.py"}
TUTORIALS = sorted((DOCS / "tutorials").glob("t*.py"))


@pytest.mark.parametrize(
    "script",
    [pytest.param(t, marks=pytest.mark.slow) if t.name in SLOW_TUTORIALS else t
     for t in TUTORIALS],
    ids=lambda t: t.name)
def test_tutorial_runs(script, tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("XLA_FLAGS", None)
    done = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]


def test_every_tutorial_is_in_the_nav_and_the_test():
    nav = (ROOT / "mkdocs.yml").read_text()
    for script in TUTORIALS:
        assert f"tutorials/{script.name}" in nav
    assert SLOW_TUTORIALS <= {t.name for t in TUTORIALS}
