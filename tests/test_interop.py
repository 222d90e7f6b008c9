"""PyTorch nn.Sequential -> JAX: logits and loss equal to PyTorch's (committed fixture made by
tests/fixtures/make_torch_fixture.py with torch), and the imported network as a Problem."""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.networks import data, interop, prune
from phasetrans.networks.problem import Problem

FIXTURES = pathlib.Path(__file__).resolve().parent / "fixtures"
LAYERS = {"mlp": ["linear", "relu", "linear"],
          "cnn": [interop.Layer("conv2d", padding=1), "relu",
                  interop.Layer("conv2d", stride=2, padding=1), "relu", "flatten", "linear"]}


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(FIXTURES / "torch_reference.npz"))


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_logits_and_loss_equal_pytorchs(reference, name):
    imported = interop.from_state_dict(FIXTURES / f"torch_{name}.safetensors", LAYERS[name])
    x, y = reference[f"x_{name}"], reference["y"]
    logits = imported.apply(imported.params, jnp.asarray(x))
    np.testing.assert_allclose(logits, reference[f"logits_{name}"], rtol=1e-5, atol=1e-5)
    problem = Problem.from_apply(imported.apply, imported.params, train=(x, y), test=(x, y),
                                 l1=0.0)
    loss = problem.model.loss(problem.seed(0), problem.train)
    assert float(loss) == pytest.approx(float(reference[f"loss_{name}"]), abs=1e-5)
    assert imported.names == (["0.weight", "2.weight"] if name == "mlp"
                              else ["0.weight", "2.weight", "5.weight"])
    # PyTorch's layouts: Linear (out, in), Conv2d (out, in, kh, kw); weights are prunable
    assert imported.params[0]["w"].shape == ((16, 64) if name == "mlp" else (4, 1, 3, 3))
    assert problem.prunable == [{"w": True, "b": False}] * len(imported.params)


def test_an_imported_cnn_prunes_on_digits():
    imported = interop.from_state_dict(FIXTURES / "torch_cnn.safetensors", LAYERS["cnn"])
    ds = data.load("digits")
    images = lambda x: x.reshape(-1, 1, 8, 8)  # noqa: E731  (n, C, H, W) as PyTorch
    problem = Problem.from_apply(imported.apply, imported.params,
                                 train=(images(ds.x_train), ds.y_train),
                                 test=(images(ds.x_test), ds.y_test), l1=1e-4)
    swept = prune.sweep(problem, [0.0, 0.5, 1.0])
    assert swept.test_accuracy.shape == (1, 3)
    masks = prune.sweep_masks(problem, [0.5])
    kept = sum(int(np.sum(m["w"])) for m in masks)
    dim = 4 * 9 + 6 * 4 * 9 + 96 * 10
    assert kept == dim - int(np.floor(0.5 * dim))  # floor(p D) removed, by hand


def test_bad_state_and_layers(tmp_path):
    path = FIXTURES / "torch_mlp.safetensors"
    state = dict(np.load(FIXTURES / "torch_reference.npz"))  # not a state: wrong keys
    with pytest.raises(ValueError, match="state has no '0.weight'"):
        interop.from_state_dict(state, LAYERS["mlp"])
    with pytest.raises(ValueError, match=r"entries no layer uses: \['2.bias', '2.weight'\]"):
        interop.from_state_dict(path, ["linear", "relu"])
    with pytest.raises(ValueError, match="0.weight must have 4 dimension"):
        interop.from_state_dict(path, ["conv2d", "relu", "linear"])
    with pytest.raises(ValueError, match="layers\\[1\\].kind must be one of"):
        interop.from_state_dict(path, ["linear", "gelu", "linear"])
    with pytest.raises(ValueError, match="stride and padding apply to 'conv2d' only"):
        interop.from_state_dict(path, ["linear", interop.Layer("relu", stride=2), "linear"])
    with pytest.raises(ValueError, match="must be a .safetensors file"):
        interop.from_state_dict(tmp_path / "model.pt", LAYERS["mlp"])
    with pytest.raises(ValueError, match="does not exist"):
        interop.from_state_dict(tmp_path / "none.safetensors", LAYERS["mlp"])
    with pytest.raises(TypeError, match="layers must be a non-empty list"):
        interop.from_state_dict(path, "linear")
    nan = {"0.weight": np.full((3, 2), np.nan), "0.bias": np.zeros(3)}
    with pytest.raises(ValueError, match="0.weight contains NaN"):
        interop.from_state_dict(nan, ["linear"])


@pytest.mark.slow
def test_live_module_equals_pytorch():
    torch = pytest.importorskip("torch", reason="the live path needs torch (not in the test "
                                                "extra: a ~1 GB install)")
    torch.manual_seed(1)
    module = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(3 * 64, 10))
    x = torch.randn(4, 1, 8, 8)
    imported = interop.from_module(module)
    with torch.no_grad():
        want = module(x).numpy()
    np.testing.assert_allclose(imported.apply(imported.params, jnp.asarray(x.numpy())), want,
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="module\\[1\\] is a Tanh"):
        interop.from_module(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Tanh()))
    assert jax.tree_util.tree_structure(imported.params) == jax.tree_util.tree_structure(
        [{"w": 0, "b": 0}] * 2)


@pytest.mark.slow  # the import is checked above; the walkthrough's path by test_examples.py
def test_torch_example_runs_end_to_end(capsys, check_walkthrough):
    from examples import torch_import

    check_walkthrough(torch_import.main(quick=True), 4 * 9 + 6 * 4 * 9 + 96 * 10)
    assert "PyTorch CNN (imported)" in capsys.readouterr().out
