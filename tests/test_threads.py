"""phasetrans._threads: one thread for the LAPACK behind JAX's CPU decompositions, nothing else."""

import json
import os
import subprocess
import sys

import pytest

REPORT = """
import json, pathlib
import numpy, scipy, scipy.linalg, threadpoolctl
before = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
import phasetrans.geometry
after = {i["filepath"]: i["num_threads"] for i in threadpoolctl.threadpool_info()}
scipy_libs = pathlib.Path(scipy.__file__).resolve().parent.name + ".libs"
print(json.dumps({"before": before, "after": after, "scipy_libs": scipy_libs}))
"""


def _threads(environment=None):
    env = {**os.environ, **(environment or {})}
    out = subprocess.run([sys.executable, "-c", REPORT], capture_output=True, text=True,
                         check=True, env=env).stdout
    return json.loads(out.splitlines()[-1])


def _scipy_own(report):
    return {path: n for path, n in report["after"].items() if report["scipy_libs"] in path}


def test_importing_a_compute_layer_limits_scipys_blas_to_one_thread():
    report = _threads()
    own = _scipy_own(report)
    if not own:
        pytest.skip("SciPy shares its BLAS here (no scipy.libs): the wheel layout is what this "
                    "test checks")
    assert set(own.values()) == {1}
    for path, before in report["before"].items():  # NumPy's own library keeps its threads
        if report["scipy_libs"] not in path:
            assert report["after"][path] == before


def test_environment_variable_leaves_every_library_as_it_is():
    report = _threads({"PHASETRANS_LAPACK_THREADS": "0"})
    assert report["after"] == report["before"]
