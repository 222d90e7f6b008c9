"""Shared fixtures. float64 is a scoped opt-in (``x64`` fixture), never global."""

import gc
import os

import jax
import numpy as np
import pytest
import threadpoolctl

# One BLAS thread per test worker: the suite runs two workers on two cores, and OpenBLAS's
# spinning threads beside another busy process slow NumPy's decompositions (the tests' own
# np.linalg oracles) by up to ~30x (phasetrans._threads).
threadpoolctl.threadpool_limits(1, user_api="blas")

# The suite is compile-bound (measured on tests/test_cli.py: 88 s of its 125 s in XLA's backend
# compiler, 790 programs). Compiling without LLVM's expensive passes, as JAX's own test suite
# does, cuts that; the numbers differ from optimised builds by rounding only, and no test
# compares against a number computed under the other setting.
# (The environment variable carries it to the subprocesses of the CLI, tutorial and example tests.)
os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1"
jax.config.update("jax_disable_most_optimizations", True)

# The console script's subprocesses keep no compiled programs in the user's cache directory
# (phasetrans._compile_cache; tests/test_compile_cache.py turns it on in a temporary one).
os.environ["PHASETRANS_COMPILE_CACHE"] = "0"


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test file.

    Every XLA CPU executable keeps a few memory mappings for its code; a test worker that
    compiles for the whole suite without releasing them passes Linux's vm.max_map_count
    (65530) after ~15 minutes, and the next compile segfaults inside LLVM. Measured: one
    worker's mappings grew ~80 per second, to 35k after 7 minutes."""
    yield
    jax.clear_caches()
    gc.collect()


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats enabled, restoring the default afterwards."""
    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="session")
def trained_spectrum():
    """One trained digits 64-16-10 MLP (l1 = 1e-4, D = 1184 prunable weights) with its exact
    Hessian eigendecomposition on the prunable coordinates (float64), for the matrix-free
    models' tests: dict with net, data, params, loss_fn, index, epsilon, eigenvalues,
    eigenvectors, center (w*), matvec (v -> H v on the prunable coordinates)."""
    import numpy as np
    from jax.flatten_util import ravel_pytree

    from phasetrans.networks import data, nets, prune, spectrum, train

    ds = data.load("digits")
    net = nets.mlp([64, 16, 10])
    params = train.train(net, ds, key=jax.random.key(0), steps=2000, l1=1e-4,
                         optimizer="adam").params  # a fixed fixture (not a minimum of F)
    loss_fn = nets.cross_entropy(net.apply)
    batch = (ds.x_train, ds.y_train)
    index = np.flatnonzero(prune.prunable_flat_mask(params))
    flat = ravel_pytree(params)[0]
    hessian = np.asarray(spectrum.hessian_matrix(loss_fn, params, batch), np.float64)
    eigenvalues, eigenvectors = np.linalg.eigh(hessian[np.ix_(index, index)])
    matvec = spectrum.restrict(spectrum.hessian_vector_product(loss_fn, params, batch), index,
                               flat.size)
    return {"net": net, "data": ds, "params": params, "loss_fn": loss_fn, "index": index,
            "epsilon": 0.01, "eigenvalues": eigenvalues, "eigenvectors": eigenvectors,
            "center": np.asarray(flat)[index], "matvec": matvec}


def _check_walkthrough(documents: dict, dim: int) -> None:
    """What every example must produce: the prediction with its premise check, the sweep of
    three methods, the attribution ladder and the limit verdict, on the model's D prunable
    weights."""
    predicted, swept, explained = documents["predict"], documents["sweep"], documents["explain"]
    assert predicted["num_params"] == swept["num_params"] == explained["num_params"] == dim
    assert 0.0 <= predicted["predicted_removal_ratio"] <= 1.0
    assert predicted["stationarity"]["per_seed"][0]["further_steps"] == 100
    assert float(np.mean(predicted["unpruned_test_accuracy"])) > 0.5  # the model learned
    assert list(swept["methods"]) == ["global", "layerwise", "random"]
    assert explained["thresholds"]["support_ellipsoid"] is not None
    assert any(stage["difference"] is not None for stage in explained["stages"])
    from phasetrans.applications import limit
    from phasetrans.geometry import closed_forms

    tested = documents["limit"]
    assert list(tested["witness_ratio"]) == ["retrain"]
    assert tested["prediction"]["value"] == pytest.approx(predicted["predicted_removal_ratio"])
    assert tested["verdict"] == limit.verdict(tested["best_witness_ratio"],
                                              tested["prediction"]["value"], tested["window"])
    assert tested["window"] == pytest.approx(closed_forms.theory_window(dim).half_width)


@pytest.fixture
def check_walkthrough():
    """The checks of an example's predict -> sweep -> explain -> limit documents (examples/)."""
    return _check_walkthrough
