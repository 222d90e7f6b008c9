import jax
import jax.numpy as jnp
import numpy as np
import pytest

from phasetrans.networks import effective, nets, prune

MLP = nets.mlp([3, 3, 2])
DEEP = nets.mlp([3, 3, 3, 2])
CNN_2D = nets.cnn((8, 8), 10)  # kernel (3, 3, 1, 8); read-out (16 * 8, 10)
CNN_1D = nets.cnn((40,), 10)  # kernel (3, 1, 8); read-out (20 * 8, 10)
CHANNELS = 8
# jitted (one compilation per network) where op-by-op dispatch would cost seconds per test
EFFECTIVE_MASK, RATIO, EFFECTIVE_RATIO = map(jax.jit, (
    effective.effective_mask, effective.removal_ratio, effective.effective_removal_ratio))


def _mask(*weights):
    """A mask of hand-written 0/1 weight matrices with every bias kept."""
    return [{"w": np.asarray(w, bool), "b": np.ones(np.shape(w)[-1], bool)} for w in weights]


def _weights(mask):
    return [np.asarray(layer["w"]).astype(int).tolist() for layer in mask]


def _params(net, seed=0):
    return net.init(key=jax.random.key(seed))


def _synflow_effective(mask):
    """Independent reference for MLPs: w is effective iff kept and d(1^T M_L ... M_1^T 1)/dw != 0
    (every term of the path sum is >= 0, so the gradient is > 0 iff w lies on a kept path)."""
    weights = [layer["w"].astype(jnp.float32) for layer in mask]

    def paths(ws):
        x = jnp.ones(ws[0].shape[0])
        for w in ws:
            x = x @ w
        return jnp.sum(x)

    return [g * w > 0 for g, w in zip(jax.grad(paths)(weights), weights, strict=True)]


def test_dead_unit_loses_its_outgoing_weights():
    params = _params(MLP)  # D = 9 + 6 = 15
    mask = _mask([[1, 0, 1], [1, 0, 1], [1, 0, 1]],  # hidden unit 1: every input pruned
                 [[1, 1], [1, 1], [1, 1]])
    out = EFFECTIVE_MASK(params, mask)
    assert _weights(out) == [[[1, 0, 1], [1, 0, 1], [1, 0, 1]], [[1, 1], [0, 0], [1, 1]]]
    assert float(RATIO(params, mask)) == pytest.approx(3 / 15, abs=1e-7)
    assert float(EFFECTIVE_RATIO(params, mask)) == pytest.approx(5 / 15, abs=1e-7)


def test_ratios_follow_the_float_precision(x64):
    params = _params(MLP)
    mask = _mask([[1, 0, 1], [1, 0, 1], [1, 0, 1]], [[1, 1], [1, 1], [1, 1]])
    ratio = EFFECTIVE_RATIO(params, mask)
    assert ratio.dtype == jnp.float64 and float(ratio) == pytest.approx(5 / 15, rel=1e-15)


def test_unit_without_outgoing_path_loses_its_incoming_weights():
    params = _params(MLP)
    mask = _mask([[0, 0, 0], [1, 1, 1], [1, 1, 1]],  # input 0 cut off: nothing else changes
                 [[1, 0], [1, 0], [0, 0]])  # hidden unit 2 reaches no output; output 1 is dead
    out = EFFECTIVE_MASK(params, mask)
    assert _weights(out) == [[[0, 0, 0], [1, 1, 0], [1, 1, 0]], [[1, 0], [1, 0], [0, 0]]]
    assert float(RATIO(params, mask)) == pytest.approx(7 / 15, abs=1e-7)
    assert float(EFFECTIVE_RATIO(params, mask)) == pytest.approx(9 / 15, abs=1e-7)


def test_fully_connected_mask_is_all_effective():
    params = _params(DEEP)
    mask = jax.tree_util.tree_map(lambda w: jnp.ones(w.shape, bool), params)
    assert _weights(EFFECTIVE_MASK(params, mask)) == _weights(mask)
    assert float(EFFECTIVE_RATIO(params, mask)) == 0.0


def test_dead_units_chain_across_two_layers():
    params = _params(DEEP)  # D = 9 + 9 + 6 = 24
    mask = _mask([[0, 1, 1], [0, 1, 1], [0, 1, 1]],  # h1 unit 0 dead
                 [[1, 1, 1], [0, 1, 1], [0, 1, 1]],  # h2 unit 0 fed only by h1 unit 0: dead
                 [[1, 1], [1, 1], [1, 1]])
    expected = [[[0, 1, 1], [0, 1, 1], [0, 1, 1]],
                [[0, 0, 0], [0, 1, 1], [0, 1, 1]],
                [[0, 0], [1, 1], [1, 1]]]
    assert _weights(EFFECTIVE_MASK(params, mask)) == expected
    assert float(RATIO(params, mask)) == pytest.approx(5 / 24, abs=1e-7)
    assert float(EFFECTIVE_RATIO(params, mask)) == pytest.approx(10 / 24, abs=1e-7)
    # and backwards: h2 unit 2 reaches no output, h1 unit 2 feeds only h2 unit 2
    mask = _mask([[1, 1, 1], [1, 1, 1], [1, 1, 1]],
                 [[1, 1, 0], [1, 1, 0], [0, 0, 1]],
                 [[1, 1], [1, 1], [0, 0]])
    expected = [[[1, 1, 0], [1, 1, 0], [1, 1, 0]],
                [[1, 1, 0], [1, 1, 0], [0, 0, 0]],
                [[1, 1], [1, 1], [0, 0]]]
    assert _weights(EFFECTIVE_MASK(params, mask)) == expected
    assert float(EFFECTIVE_RATIO(params, mask)) == pytest.approx(10 / 24, abs=1e-7)


def test_nonzero_bias_does_not_revive_a_dead_unit():
    params = _params(MLP)
    params[0]["b"] = jnp.array([0.0, 5.0, 0.0])  # hidden unit 1 outputs relu(5) = 5 always
    mask = _mask([[1, 0, 1], [1, 0, 1], [1, 0, 1]], [[1, 1], [1, 1], [1, 1]])
    mask[1]["b"] = np.array([True, False])  # bias entries are copied, whatever they are
    out = effective.effective_mask(params, mask)
    assert _weights(out)[1] == [[1, 1], [0, 0], [1, 1]]
    assert [np.asarray(layer["b"]).tolist() for layer in out] == [[True] * 3, [True, False]]
    every_leaf = [{"w": True, "b": True}, {"w": True, "b": True}]  # D = 15 + 5 biases
    assert float(effective.effective_removal_ratio(params, mask, every_leaf)) == pytest.approx(
        6 / 20, abs=1e-7)


def test_removal_ratio_counts_long_rows_of_any_pytree():
    params = {"long": jnp.zeros((2, 40_000)), "wide": jnp.zeros((3, 300)), "bias": jnp.zeros(4)}
    mask = jax.tree_util.tree_map(lambda w: np.ones(w.shape, bool), params)
    mask["long"][1, ::8000] = False  # 5 removed from rows longer than 2**15
    mask["wide"][:, :7] = False  # 21 removed from rows longer than 2**8
    mask["bias"][:] = False  # not prunable by default
    assert float(effective.removal_ratio(params, mask)) == pytest.approx(26 / 80_900, rel=1e-6)


@pytest.mark.parametrize(("net", "positions"), [(CNN_2D, 16), (CNN_1D, 20)])
def test_cnn_channel_cut_off_from_either_side(net, positions):
    params = _params(net)
    kernel, readout = (np.ones(params[i]["w"].shape, bool) for i in (0, 1))
    dim = kernel.size + readout.size
    channel_of = np.arange(readout.shape[0]) % CHANNELS  # flattened (spatial..., C) features

    no_readout = readout.copy()
    no_readout[(channel_of == 3) | (channel_of == 5)] = False  # channel 3 reaches no class
    no_readout[np.flatnonzero(channel_of == 5)[0], 0] = True  # one kept weight: 5 still does
    out = EFFECTIVE_MASK(params, _mask(kernel, no_readout))
    expected_kernel = kernel.copy()
    expected_kernel[..., 0, 3] = False
    np.testing.assert_array_equal(out[0]["w"], expected_kernel)
    np.testing.assert_array_equal(out[1]["w"], no_readout)
    removed = 2 * positions * 10 - 1 + kernel.size // CHANNELS
    ratio = EFFECTIVE_RATIO(params, _mask(kernel, no_readout))
    assert ratio.shape == () and ratio.dtype == jnp.float32
    assert float(ratio) == pytest.approx(removed / dim, abs=1e-7)

    no_kernel = kernel.copy()
    no_kernel[..., 0, 5] = False  # channel 5 is unreachable: its read-out weights are idle
    no_kernel[..., 0, 6] = False
    no_kernel.reshape(-1, CHANNELS)[0, 6] = True  # one kept kernel entry: channel 6 alive
    out = EFFECTIVE_MASK(params, _mask(no_kernel, readout))
    np.testing.assert_array_equal(out[0]["w"], no_kernel)
    np.testing.assert_array_equal(out[1]["w"], readout & (channel_of != 5)[:, None])
    removed = 2 * kernel.size // CHANNELS - 1 + positions * 10
    assert float(EFFECTIVE_RATIO(params, _mask(no_kernel, readout))) == (
        pytest.approx(removed / dim, abs=1e-7))


RATIOS = np.array([0.0, 0.3, 0.6, 0.8, 0.9, 0.95, 0.98])
SEEDS = 12


def _random_masks(params):
    """(SEEDS, len(RATIOS)) random masks, nested in the ratio for each seed."""
    one = jax.vmap(lambda p, k: prune.random_mask(params, p, key=k), (0, None))
    return jax.jit(jax.vmap(one, (None, 0)))(jnp.asarray(RATIOS),
                                             jax.random.split(jax.random.key(0), SEEDS))


def _take(tree, *index):
    return jax.tree_util.tree_map(lambda x: x[index], tree)


@jax.jit
def _batched(params, masks):
    """Effective masks, direct and effective ratios, and the effective masks' own effective
    masks and direct ratios, of masks with leading axes (SEEDS, len(RATIOS))."""
    def both(fn):
        return jax.vmap(jax.vmap(fn, (None, 0)), (None, 0))

    eff = both(effective.effective_mask)(params, masks)
    return (eff, both(effective.removal_ratio)(params, masks),
            both(effective.effective_removal_ratio)(params, masks),
            both(effective.effective_mask)(params, eff), both(effective.removal_ratio)(params, eff))


@pytest.mark.parametrize("net", [nets.mlp([64, 32, 32, 10]), CNN_2D, CNN_1D],
                         ids=lambda net: net.name)
def test_random_masks_properties(net):
    params = _params(net)
    masks = jax.tree_util.tree_map(np.asarray, _random_masks(params))
    eff, direct, ratio, again, eff_direct = jax.tree_util.tree_map(np.asarray,
                                                                   _batched(params, masks))
    np.testing.assert_allclose(direct, np.broadcast_to(RATIOS, direct.shape),
                               atol=1 / prune.num_prunable(params))
    assert np.all(ratio >= direct)
    assert np.any(ratio > direct + 0.01)  # high ratios do disconnect units
    np.testing.assert_array_equal(ratio[:, 0], 0.0)
    np.testing.assert_array_equal(direct[:, 0], 0.0)
    np.testing.assert_array_equal(eff_direct, ratio)
    for m, e, e2 in zip(*map(jax.tree_util.tree_leaves, (masks, eff, again)), strict=True):
        assert np.all(m | ~e)  # effective is a subset of kept
        np.testing.assert_array_equal(e2, e)  # idempotent
        np.testing.assert_array_equal(e[:, 0], m[:, 0])  # ratio 0: all effective
    if net.name.startswith("mlp"):
        reference = jax.jit(jax.vmap(jax.vmap(_synflow_effective)))(masks)
        for layer, ref in zip(eff, reference, strict=True):
            np.testing.assert_array_equal(layer["w"], ref)

    single = jax.jit(lambda p, m: (effective.effective_mask(p, m),
                                   effective.effective_removal_ratio(p, m)))
    for s in range(0, SEEDS, 4):  # the vmapped results equal a loop over single masks
        for j in range(len(RATIOS)):
            single_eff, single_ratio = single(params, _take(masks, s, j))
            assert float(single_ratio) == ratio[s, j]
            for a, b in zip(*map(jax.tree_util.tree_leaves, (single_eff, _take(eff, s, j))),
                            strict=True):
                np.testing.assert_array_equal(a, b)


def test_bad_masks_are_rejected():
    params = _params(MLP)
    good = _mask(np.ones((3, 3)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="mask and params must have the same pytree structure"):
        effective.effective_mask(params, good[:1])
    with pytest.raises(ValueError, match="mask and params have leaves of different shapes"):
        effective.effective_mask(params, _mask(np.ones((3, 3)), np.ones((3, 3))))
    floats = jax.tree_util.tree_map(lambda m: m.astype(np.float32), good)
    with pytest.raises(TypeError, match=r"mask\[0\]\['b'\] must be bool .*float32"):
        effective.effective_removal_ratio(params, floats)
    with pytest.raises(TypeError, match="must be bool"):
        effective.removal_ratio(params, floats)
    with pytest.raises(ValueError, match="different shapes"):  # checked under jit too
        jax.jit(effective.effective_mask)(params, _mask(np.ones((3, 3)), np.ones((3, 3))))
    nothing = [{"w": False, "b": False}, {"w": False, "b": False}]
    with pytest.raises(ValueError, match=r"prunable marks no entry .* \(D = 0\)"):
        effective.removal_ratio(params, good, nothing)


@pytest.mark.parametrize(("params", "error", "message"), [
    ({"w": jnp.ones((3, 2))}, TypeError, "params must be a list of"),
    ([jnp.ones((3, 2))], TypeError, r"params\[0\] must be a dict with the layer's weight"),
    ([], ValueError, "at least one layer"),
    ([{"w": jnp.ones(3), "b": jnp.ones(3)}], ValueError, r"MLP \(2-D weights\) or a CNN"),
    ([{"w": jnp.ones((3, 3, 1, 4)), "b": jnp.ones(4)}], ValueError, "or a CNN"),
    ([{"w": jnp.ones((4, 4)), "b": jnp.ones(4)}, {"w": jnp.ones((3, 3, 4, 4)),
                                                  "b": jnp.ones(4)}], ValueError, "or a CNN"),
    ([{"w": jnp.ones((1, 1, 1, 1, 2)), "b": jnp.ones(2)}], ValueError, "or a CNN"),
    ([{"w": jnp.ones((3, 0)), "b": jnp.ones(0)}], ValueError, "empty axis"),
    ([{"w": jnp.ones((3, 4)), "b": jnp.ones(4)}, {"w": jnp.ones((5, 2)), "b": jnp.ones(2)}],
     ValueError, r"params\[1\]\['w'\] has 5 input units but must have 4, the outputs"),
    ([{"w": jnp.ones((3, 1, 4)), "b": jnp.ones(4)}, {"w": jnp.ones((10, 2)), "b": jnp.ones(2)}],
     ValueError, "must have a multiple of the 4 output channels of layer 0"),
])
def test_unsupported_params_are_rejected(params, error, message):
    mask = jax.tree_util.tree_map(lambda w: jnp.ones(jnp.shape(w), bool), params)
    with pytest.raises(error, match=message):
        effective.effective_mask(params, mask)
