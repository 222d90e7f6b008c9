import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans import data, nets, train


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def test_digits_split_and_standardisation(digits):
    assert digits.x_train.shape == (1437, 64) and digits.x_test.shape == (360, 64)
    assert digits.num_classes == 10 and digits.x_train.dtype == jnp.float32
    assert digits.input_shape == (8, 8)
    cnn = nets.parse_arch("cnn", input_shape=digits.input_shape, num_classes=10)
    assert cnn.name == "cnn-8x8-c8-k3"
    np.testing.assert_allclose(np.asarray(digits.x_train).mean(0), 0.0, atol=1e-5)
    again = data.load("digits")
    np.testing.assert_array_equal(again.y_test, digits.y_test)


def test_synthetic_and_mnist1d_are_offline_and_balanced():
    syn = data.load("synthetic")
    assert syn.x_train.shape == (2000, 20) and syn.num_classes == 10
    assert np.bincount(np.asarray(syn.y_train)).min() > 50
    m1d = data.load("mnist1d")
    assert m1d.x_train.shape == (4000, 40) and m1d.x_test.shape == (1000, 40)


def test_local_file_loaders(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "mnist_small.npz"
    np.savez(path, x_train=rng.integers(0, 255, (30, 28, 28)), y_train=rng.integers(0, 10, 30),
             x_test=rng.integers(0, 255, (10, 28, 28)), y_test=np.arange(10))
    ds = data.load_npz(path, name="mnist")
    assert ds.x_train.shape == (30, 784) and ds.num_classes == 10 and ds.name == "mnist"
    assert ds.input_shape == (28, 28)
    import pickle

    cifar = tmp_path / "cifar-10-batches-py"
    cifar.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        with open(cifar / name, "wb") as f:
            pickle.dump({b"data": rng.integers(0, 255, (4, 3072), dtype=np.uint8),
                         b"labels": list(range(4))}, f)
    ds = data.load_cifar10(cifar)
    assert ds.x_train.shape == (20, 3072) and ds.x_test.shape == (4, 3072)
    with pytest.raises(ValueError, match="does not exist"):
        data.load_npz(tmp_path / "missing.npz")
    np.savez(tmp_path / "bad.npz", x_train=np.ones(3))
    with pytest.raises(ValueError, match="lacks arrays"):
        data.load_npz(tmp_path / "bad.npz")


def test_bad_dataset_and_arch():
    with pytest.raises(ValueError, match="name must be one of"):
        data.load("cifar100")
    with pytest.raises(ValueError, match="arch must be 'cnn' or hidden widths"):
        nets.parse_arch("32-x", input_shape=(64,), num_classes=10)
    with pytest.raises(ValueError, match="activation must be one of"):
        nets.mlp([4, 2], activation="sigmoid")


def test_networks_shapes_and_keys():
    for net, shape in [(nets.mlp([64, 16, 10]), (3, 64)), (nets.cnn((8, 8), 10), (3, 64)),
                       (nets.cnn((40,), 10), (3, 40))]:
        params = net.init(key=jax.random.key(0))
        assert net.apply(params, jnp.ones(shape)).shape == (3, 10)
        same = net.init(key=jax.random.key(0))
        pairs = zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(same), strict=True)
        assert all(jnp.array_equal(a, b) for a, b in pairs)
    with pytest.raises(TypeError, match="key is required"):
        nets.mlp([4, 2]).init(key=None)


def test_cross_entropy_by_hand():
    params = [{"w": jnp.zeros((2, 3)), "b": jnp.array([0.0, np.log(2.0), 0.0])}]
    loss = nets.cross_entropy(nets.mlp([2, 3]).apply)(params, (jnp.ones((2, 2)), jnp.array([1, 0])))
    expected = -(np.log(2 / 4) + np.log(1 / 4)) / 2
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_training_reduces_loss_and_vmapped_seeds_equal_separate_runs(digits):
    net = nets.mlp([64, 16, 10])
    keys = jax.random.split(jax.random.key(0), 2)
    batch = train.train_seeds(net, digits, keys=keys, steps=200, l1=1e-4, batch_size=64)
    assert batch.loss_history.shape == (2, 200)
    assert np.all(batch.loss_history[:, -1] < 0.5 * batch.loss_history[:, 0])
    single = train.train(net, digits, key=keys[1], steps=200, l1=1e-4, batch_size=64)
    for a, b in zip(jax.tree_util.tree_leaves(single.params),
                    jax.tree_util.tree_leaves(batch.params), strict=True):
        np.testing.assert_allclose(a, b[1], rtol=1e-4, atol=1e-5)
    acc = nets.accuracy(net.apply, single.params, digits.x_test, digits.y_test)
    assert acc > 0.85


def test_l1_penalty_counts_only_weights():
    params = [{"w": -2 * jnp.ones((2, 3)), "b": 5 * jnp.ones(3)}]
    assert float(train.l1_norm(params, train.default_prunable(params))) == 12.0


def test_train_bad_input(digits):
    net = nets.mlp([64, 10])
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        train.train(net, digits, key=jax.random.key(0), l1=-1.0)
    with pytest.raises(ValueError, match="batch_size must be <= 1437"):
        train.train(net, digits, key=jax.random.key(0), batch_size=5000)
    with pytest.raises(TypeError, match="unknown training options"):
        train.train_seeds(net, digits, keys=jax.random.split(jax.random.key(0), 2), lr=1.0)
