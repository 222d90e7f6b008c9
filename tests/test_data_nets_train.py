import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.networks import data, nets, stationarity, train


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


def test_rate_decay_follows_the_linear_schedule_by_closed_form():
    # SGD on L(w) = c w (constant gradient c, l1 = 0): a constant rate a moves w by -a c per
    # step; decayed linearly to 0 over S steps, step t moves it by -a (1 - t / S) c, so after
    # the S steps w0 - a c (S + 1) / 2 (against w0 - a c S at a constant rate)
    def loss(params, batch):
        return jnp.sum(params["w"] * jnp.array([1.0, -2.0])) + 0.0 * jnp.sum(batch[0])

    data_ = (jnp.zeros((4, 1)), jnp.zeros(4))
    start = {"w": jnp.zeros((1, 2))}
    moved = jnp.array([[-1.0, 2.0]]) * 0.1
    for options, factor in ((train.TrainingOptions(steps=8, learning_rate=0.1, optimizer="sgd"),
                             8.0),
                            (train.TrainingOptions(steps=8, learning_rate=0.1, optimizer="sgd",
                                                   rate_decay=True), 4.5)):
        w = train.minimise(loss, start, data_, l1=0.0, training=options).params["w"]
        np.testing.assert_allclose(w, factor * moved, rtol=1e-6)
    # with a stop rule the decay ends at its max_steps; the rule stops the run at a check
    rule = stationarity.StopRule(window=4, check_every=4, max_steps=16)
    result = train.minimise(loss, start, data_, l1=0.0, training=train.TrainingOptions(
        stop=rule, learning_rate=0.1, optimizer="sgd", rate_decay=True))
    k = int(result.steps)
    np.testing.assert_allclose(result.params["w"], moved * (k - k * (k - 1) / 32), rtol=1e-6)
    with pytest.raises(TypeError, match="rate_decay"):
        train.TrainingOptions(rate_decay="yes").validate()


def test_train_bad_input(digits):
    net = nets.mlp([64, 10])
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        train.train(net, digits, key=jax.random.key(0), l1=-1.0)
    with pytest.raises(ValueError, match="batch_size must be <= 1437"):
        train.train(net, digits, key=jax.random.key(0), batch_size=5000)
    with pytest.raises(TypeError, match="unknown training options"):
        train.train_seeds(net, digits, keys=jax.random.split(jax.random.key(0), 2), lr=1.0)


def _npz_arrays(rng, n_train=12, n_test=5):
    return dict(x_train=rng.normal(size=(n_train, 3, 2)), y_train=rng.integers(0, 4, n_train),
                x_test=rng.normal(size=(n_test, 3, 2)), y_test=rng.integers(0, 4, n_test))


def test_load_npz_accepts_float_labels_column_labels_and_one_training_example(tmp_path):
    rng = np.random.default_rng(1)
    arrays = _npz_arrays(rng)
    arrays["y_train"] = arrays["y_train"].astype(np.float32)[:, None]  # (n, 1) integral floats
    np.savez(tmp_path / "d.npz", **arrays)
    ds = data.load_npz(tmp_path / "d.npz")
    assert ds.x_train.shape == (12, 6) and ds.input_shape == (3, 2)
    np.testing.assert_array_equal(ds.y_train, arrays["y_train"][:, 0].astype(np.int32))
    np.testing.assert_allclose(np.asarray(ds.x_train).std(0), 1.0, rtol=1e-5)
    one = _npz_arrays(rng, n_train=1)
    np.savez(tmp_path / "one.npz", **one)
    ds = data.load_npz(tmp_path / "one.npz")
    assert ds.x_train.shape == (1, 6) and np.all(np.asarray(ds.x_train) == 0.0)


def _bad_npz_cases(rng):
    def edit(**changes):
        arrays = _npz_arrays(rng)
        arrays.update(changes)
        return {k: v for k, v in arrays.items() if v is not None}

    x_nan = rng.normal(size=(12, 3, 2))
    x_nan[3, 1, 0] = np.nan
    return {
        "no_y_test": (edit(y_test=None),
                      r"lacks arrays \['y_test'\]; it has \['x_test', 'x_train'"),
        "object": (edit(y_train=np.array([1, None] * 6, dtype=object)),
                   "'y_train' of data file .* is an object array"),
        "lengths": (edit(y_train=np.zeros(11, int)),
                    "x_train of data file .* has 12 examples but y_train has 11 labels"),
        "features": (edit(x_test=np.zeros((5, 6))),
                     r"x_train examples have shape \(3, 2\) but x_test examples have shape \(6,\)"),
        "empty": (edit(x_test=np.zeros((0, 3, 2)), y_test=np.zeros(0, int)),
                  "x_test and y_test of data file .* hold no examples"),
        "fractional": (edit(y_test=np.array([0.0, 1.5, 2.0, 1.0, 0.0])),
                       r"y_test of data file .* non-integer labels \(e.g. 1.5\)"),
        "nan_label": (edit(y_test=np.array([0.0, np.nan, 2.0, 1.0, 0.0])),
                      "y_test of data file .* non-integer labels"),
        "negative": (edit(y_train=-np.ones(12, int)),
                     r"y_train of data file .* negative labels \(min -1\)"),
        "absurd": (edit(y_train=np.full(12, 10_000)),
                   "y_train of data file .* labels up to 10000; labels must be < 10000"),
        "nan_x": (edit(x_train=x_nan), "x_train of data file .* contains NaN or Inf"),
        "one_hot": (edit(y_test=np.eye(5, 4)), r"y_test of data file .* shape \(5, 4\)"),
        "strings": (edit(x_test=np.full((5, 3, 2), "a")), "x_test of data file .* dtype <U1"),
    }


def test_load_npz_rejects_bad_files_naming_file_and_array(tmp_path):
    rng = np.random.default_rng(2)
    for case, (arrays, message) in _bad_npz_cases(rng).items():
        path = tmp_path / f"{case}.npz"
        np.savez(path, **arrays)
        with pytest.raises(ValueError, match=message) as err:
            data.load_npz(path)
        assert f"{case}.npz" in str(err.value), case
    good = tmp_path / "good.npz"
    np.savez(good, **_npz_arrays(rng))
    raw = good.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) - 40])
    (tmp_path / "junk.npz").write_text("x_train,y_train\n1,2\n")
    for name in ("cut.npz", "junk.npz"):
        with pytest.raises(ValueError, match=f"data file .*{name}' is not a readable .npz") as err:
            data.load_npz(tmp_path / name)
        assert "allow_pickle" not in str(err.value)
    with pytest.raises(ValueError, match="is a directory"):
        data.load_npz(tmp_path)
    with pytest.raises(ValueError, match="missing.npz' does not exist"):
        data.load_npz(tmp_path / "missing.npz")


def _small_params(seeds=2):
    net = nets.mlp([4, 3, 2])
    return net, jax.vmap(lambda k: net.init(key=k))(jax.random.split(jax.random.key(0), seeds))


def test_params_round_trip_with_metadata_and_old_call_forms(tmp_path):
    net, params = _small_params()
    meta = {"arch": "4-3-2", "l1": 1e-4, "seeds": 2, "widths": (4, 3, 2)}
    path = tmp_path / "p.npz"
    train.save_params(path, params, metadata=meta)
    with np.load(path, allow_pickle=False) as f:  # metadata is a plain 0-d unicode array
        assert f["__metadata__"].shape == () and f["__metadata__"].dtype.kind == "U"
    for loaded in (train.load_params(path, params),
                   train.load_params(str(path), params, expected_metadata=meta),
                   train.load_params(path, params, expected_metadata={"seeds": 2})):
        for a, b in zip(jax.tree_util.tree_leaves(loaded), jax.tree_util.tree_leaves(params),
                        strict=True):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="disagrees on 'l1': stored 0.0001, expected 0.001"):
        train.load_params(path, params, expected_metadata={**meta, "l1": 1e-3})
    with pytest.raises(ValueError, match="metadata lacks key 'dataset'"):
        train.load_params(path, params, expected_metadata={"dataset": "digits"})
    plain = tmp_path / "plain.npz"
    train.save_params(plain, params)                      # the old call form still works
    train.load_params(plain, params, expected_metadata={})
    old = tmp_path / "old.npz"                            # written by an older version
    np.savez(old, **{f"leaf_{i}": np.asarray(x)
                     for i, x in enumerate(jax.tree_util.tree_leaves(params))})
    train.load_params(old, params)
    with pytest.raises(ValueError, match="old.npz' has no metadata"):
        train.load_params(old, params, expected_metadata={"arch": "4-3-2"})


def test_params_files_are_checked(tmp_path):
    net, params = _small_params()
    with pytest.raises(ValueError, match=r"must end in '.npz'"):
        train.save_params(tmp_path / "params", params)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="does not exist"):
        train.save_params(tmp_path / "nowhere" / "p.npz", params)
    path = tmp_path / "p.npz"
    train.save_params(path, params, metadata={"arch": "4-3-2"})
    leaves = [np.asarray(x) for x in jax.tree_util.tree_leaves(params)]
    _, three_seeds = _small_params(seeds=3)
    with pytest.raises(ValueError, match=r"p.npz' does not match the network's leaf shapes: "
                                         r"leaf 0 has shape \(2, 3\); the network needs \(3, 3\)"):
        train.load_params(path, three_seeds)
    extra = tmp_path / "extra.npz"
    np.savez(extra, **{f"leaf_{i}": x for i, x in enumerate(leaves + [np.ones(2)])})
    with pytest.raises(ValueError, match=f"extra.npz' has {len(leaves) + 1} leaves; the network "
                                         f"needs {len(leaves)}"):
        train.load_params(extra, params)
    np.savez(tmp_path / "fewer.npz", **{f"leaf_{i}": x for i, x in enumerate(leaves[:-1])})
    with pytest.raises(ValueError, match=f"has {len(leaves) - 1} leaves"):
        train.load_params(tmp_path / "fewer.npz", params)
    np.savez(tmp_path / "data.npz", **_npz_arrays(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="data.npz' is a data file"):
        train.load_params(tmp_path / "data.npz", params)
    raw = path.read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "junk.npz").write_text("junk")
    for name in ("cut.npz", "junk.npz"):
        with pytest.raises(ValueError, match=f"params file .*{name}' is not a readable .npz"):
            train.load_params(tmp_path / name, params)
    with pytest.raises(ValueError, match="is a directory"):
        train.load_params(tmp_path, params)
    np.savez(tmp_path / "nan.npz", **{f"leaf_{i}": x * np.nan for i, x in enumerate(leaves)})
    with pytest.raises(ValueError, match="nan.npz' leaves.*NaN"):
        train.load_params(tmp_path / "nan.npz", params)
