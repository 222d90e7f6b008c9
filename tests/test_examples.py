"""Every example runs predict -> sweep -> explain -> limit on its own model at the small size (the
PyTorch import's example runs in tests/test_interop.py, to balance the test workers).

The plain-pytree walkthrough is ``slow`` (``make test-all``): in the CI run the same path, a
user's dict of arrays through predict -> sweep -> attribution, is
tests/test_problem.py::test_a_users_dict_model_end_to_end."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.networks import data

EXAMPLES = {"plain_pytree": 64 * 8 + 8 * 10, "equinox_model": 64 * 8 + 8 * 8 + 8 * 10,
            "flax_batchnorm": 64 * 8 + 8 * 10}


@pytest.mark.parametrize("name", [pytest.param(name, marks=pytest.mark.slow)
                                  if name == "plain_pytree" else name for name in EXAMPLES])
def test_example_runs_end_to_end(name, capsys, check_walkthrough):
    module = importlib.import_module(f"examples.{name}")
    check_walkthrough(module.main(quick=True), EXAMPLES[name])
    assert "one-shot pruning kept test accuracy" in capsys.readouterr().out


def test_flax_batchnorm_is_the_inference_mode_network():
    """apply uses the trained running statistics as constants (train=False), not the batch's
    own statistics; the statistics are not parameters (neither differentiated nor pruned)."""
    from examples import flax_batchnorm as example

    ds = data.load("digits")
    model = example.BatchNormNet(8)
    params, stats = example.fit(model, ds.x_train, ds.y_train, steps=50)
    apply = example.frozen_apply(model, stats)
    x = ds.x_test[:40]
    inference = model.apply({"params": params, "batch_stats": stats}, x, train=False)
    np.testing.assert_array_equal(apply(params, x), inference)
    training, _ = model.apply({"params": params, "batch_stats": stats}, x, train=True,
                              mutable=["batch_stats"])
    assert float(jnp.max(jnp.abs(training - inference))) > 1e-3
    # the same example, alone: a batch of one gives the same logits (no batch statistics)
    np.testing.assert_allclose(apply(params, x[:1])[0], inference[0], rtol=1e-5, atol=1e-6)
    assert "batch_stats" not in jax.tree_util.keystr(jax.tree_util.tree_leaves_with_path(
        params)[0][0])
