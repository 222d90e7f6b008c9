"""Estimators split across devices give the single-device results (phasetrans.devices).

The host-platform device count is fixed when JAX starts, so the multi-device checks run in one
child process with ``XLA_FLAGS=--xla_force_host_platform_device_count=4``: it computes each
estimate with devices = 1 and with 3 and/or 4 devices (uneven splits, e.g. 10 (seed, ratio) pairs
or 5 SLQ probes over 3 or 4 devices, padded) and prints one JSON line that the tests below read.
Bad ``devices`` values are checked in-process; the multi-process run uses examples/multihost.py.
"""

import importlib.util
import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import pytest

from phasetrans import devices, sampling
from phasetrans.geometry import bodies, width
from phasetrans.networks import nets, prune, retrain, spectrum
from phasetrans.networks.data import Dataset
from phasetrans.networks.problem import Problem

ROOT = pathlib.Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json

    import jax
    import jax.numpy as jnp
    import numpy as np
    from jax.flatten_util import ravel_pytree

    from phasetrans import devices, sampling
    from phasetrans.geometry import bodies, width
    from phasetrans.networks import data, nets, prune, retrain, spectrum
    from phasetrans.networks.problem import Problem

    KEY = jax.random.key(3)


    def leaves(tree):
        return [np.asarray(x, np.float64) for x in jax.tree_util.tree_leaves(tree)]


    def compare(results):
        # per device count: bitwise equal to devices=1?, max |difference| / max(|value|, 1e-30)
        out = {}
        for count, result in results.items():
            pairs = list(zip(leaves(results[1]), leaves(result), strict=True))
            out[count] = {
                "identical": all(np.array_equal(a, b) for a, b in pairs),
                "relative": max(float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-30)))
                                for a, b in pairs),
                "absolute": max(float(np.max(np.abs(a - b))) for a, b in pairs)}
        return out


    report = {"visible": jax.device_count()}
    calls = []
    chunk = sampling._chunk

    def recording(fn, operand, key, start, size, dim, dtype, mesh):
        calls.append([int(start), size, mesh.size])
        return chunk(fn, operand, key, start, size, dim, dtype, mesh)

    cone = bodies.L1DescentCone.create(jnp.zeros(200).at[:20].set(1.0))
    sampling._chunk = recording
    per_sample = {n: sampling.gaussian_map(width._squared_projection, cone, key=KEY,
                                           num_samples=301, dim=200, chunk_size=37, devices=n)
                  for n in (1, 3)}
    sampling._chunk = chunk
    report["chunks"] = calls
    report["temp_bytes"] = {  # per device, of one jitted call: (devices, samples per call)
        f"{n} {size}": chunk.lower(width._squared_projection, cone, KEY, 0, size, 200,
                                   jnp.dtype("float32"), devices.mesh(n)).compile()
        .memory_analysis().temp_size_in_bytes for n, size in ((1, 37), (1, 111), (3, 111))}
    report["width"] = {
        "per_sample": compare(per_sample),
        "l2_ball_width": compare({n: width.gaussian_width(
            bodies.L2Ball.create(300, 2.0), key=KEY, num_samples=10, chunk_size=3, devices=n)
            for n in (1, 3, 4)}),
        "l1_descent_statdim": compare({n: width.statistical_dimension(
            cone, key=KEY, num_samples=301, chunk_size=37, devices=n) for n in (1, 3)}),
        "subspace_statdim": compare({n: width.statistical_dimension(
            bodies.Subspace.create(100, 30), key=KEY, num_samples=50, chunk_size=8, devices=n)
            for n in (1, 4)})}

    def owner(_, item):
        return item * 2, jax.lax.axis_index(devices.AXIS)

    report["owners"] = {}
    for n in (3, 4):
        doubled, owners = jax.jit(lambda x, n=n: devices.sharded_map(
            owner, None, x, mesh=devices.mesh(n)))(jnp.arange(10))
        report["owners"][n] = {"doubled": np.asarray(doubled).tolist(),
                               "owners": np.asarray(owners).tolist(),
                               "replicated": bool(doubled.sharding.is_fully_replicated),
                               "on_devices": len(doubled.sharding.device_set)}

    ds = data.load("digits")
    net = nets.mlp([64, 16, 10])
    params = jax.tree_util.tree_map(lambda *w: jnp.stack(w), net.init(key=jax.random.key(0)),
                                    net.init(key=jax.random.key(1)))  # 2 untrained seeds
    first = jax.tree_util.tree_map(lambda w: w[0], params)
    matvec = spectrum.hessian_vector_product(nets.cross_entropy(net.apply), first,
                                             (ds.x_train, ds.y_train))
    dim = ravel_pytree(first)[0].size
    quadratures = {n: spectrum.slq(matvec, dim=dim, key=KEY, num_probes=5, num_iters=12,
                                   devices=n) for n in (1, 4)}
    report["slq"] = compare(quadratures)
    report["slq_count"] = compare({n: spectrum.count_eigenvalues(sq, lower=1e-3)
                                   for n, sq in quadratures.items()})

    grid = np.linspace(0.0, 0.9, 5)  # 2 seeds x 5 ratios = 10 pairs
    # random masks: the per-seed keys travel with the pairs (retrain below: global masks)
    problem = Problem.from_network(net, params, ds, l1=1e-3)
    sweeps = {n: prune.sweep(problem, grid, method="random", key=KEY, devices=n)
              for n in (1, 3)}
    report["sweep"] = compare(sweeps)
    report["sweep_accuracy"] = compare({n: (s.test_accuracy, s.train_accuracy,
                                            s.unpruned_test_accuracy)
                                        for n, s in sweeps.items()})
    retrained = {n: retrain.retrain(problem, grid, steps=10, devices=n)
                 for n in (1, 4)}
    report["retrain"] = compare({n: r._replace(info=None, params=None)
                                 for n, r in retrained.items()})
    report["retrain_params"] = compare({n: (r.params, r.info.residual)
                                        for n, r in retrained.items()})
    report["retrain_exact"] = compare({n: (r.test_accuracy, r.oneshot_test_accuracy,
                                           r.info.iterations, r.info.converged)
                                       for n, r in retrained.items()})
    outputs = [quadratures[4], sweeps[3], retrained[4]]
    report["collected"] = all(len(leaf.sharding.device_set) == 1
                              for leaf in jax.tree_util.tree_leaves(outputs)
                              if isinstance(leaf, jax.Array))
    print(json.dumps(report))
""")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAX_PLATFORMS")}
    env.update(JAX_PLATFORMS="cpu", OPENBLAS_NUM_THREADS="1", **extra)
    return env


@pytest.fixture(scope="module")
def child():
    """The report of the 4-device child process (see the module docstring)."""
    env = _env(XLA_FLAGS="--xla_force_host_platform_device_count=4")
    done = subprocess.run([sys.executable, "-c", CHILD], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["visible"] == 4
    return report


def _identical(comparison):
    return {count: c["identical"] for count, c in comparison.items()}


def test_width_estimates_are_bit_identical_on_any_device_count(child):
    for name, comparison in child["width"].items():
        assert all(_identical(comparison).values()), (name, comparison)
    assert set(child["width"]["l2_ball_width"]) == {"1", "3", "4"}


def test_chunks_are_memory_sized_per_device(child):
    # 301 samples in chunks of 37: N devices evaluate N whole chunks per call (the last call
    # filled up with discarded samples), then the last 301 mod 37 = 5 samples on one device
    calls = [tuple(call) for call in child["chunks"]]
    expected = []
    for count in (1, 3):
        expected += [(start, 37 * count, count) for start in range(0, 296, 37 * count)]
        expected.append((296, 5, 1))
    assert calls == expected


def test_device_memory_is_one_chunk_whatever_the_device_count(child):
    temp = child["temp_bytes"]  # XLA's per-device scratch memory of one call
    assert temp["3 111"] <= 1.1 * temp["1 37"]         # 3 devices x 37 samples: one chunk each
    assert temp["1 111"] >= 2.5 * temp["1 37"]         # 111 samples on one device: three


def test_sharded_map_splits_contiguous_blocks_and_drops_the_padding(child):
    for count, blocks in (("3", [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]),
                          ("4", [0, 0, 0, 1, 1, 1, 2, 2, 2, 3])):
        got = child["owners"][count]
        assert got["doubled"] == list(range(0, 20, 2))
        assert got["owners"] == blocks          # device k holds items k*b .. (k+1)*b - 1
        assert got["replicated"] and got["on_devices"] == int(count)


def test_slq_is_bit_identical_on_any_device_count(child):
    assert all(_identical(child["slq"]).values()), child["slq"]
    assert all(_identical(child["slq_count"]).values()), child["slq_count"]


def test_sweep_and_retrain_equal_to_float32_rounding(child):
    # XLA may round a batch of k pairs differently for another k (one ulp in a mean loss), so
    # losses agree to rounding; accuracies (counts) and iteration counts agree exactly
    for name in ("sweep", "retrain"):
        for count, c in child[name].items():
            assert c["relative"] <= 1e-6, (name, count, c)
    for count, c in child["retrain_params"].items():
        assert c["absolute"] <= 1e-6, (count, c)
    for name in ("sweep_accuracy", "retrain_exact"):
        assert all(_identical(child[name]).values()), (name, child[name])


def test_results_come_back_on_one_device(child):
    # not replicated over the mesh: later work runs once and mixes with other meshes' arrays
    assert child["collected"]


def test_one_device_is_the_default():
    body = bodies.L2Ball.create(50)
    key = jax.random.key(1)
    default = width.gaussian_width(body, key=key, num_samples=20)
    assert width.gaussian_width(body, key=key, num_samples=20, devices=1) == default
    assert devices.mesh_for(None).size == 1
    assert devices.mesh().size == jax.device_count()
    assert devices.mesh(1).axis_names == (devices.AXIS,)


def test_bad_devices():
    visible = jax.device_count()
    for bad in (0, -2, visible + 1):
        with pytest.raises(ValueError, match=rf"devices must be .*{visible} CPU device\(s\) are "
                                             r"visible.*xla_force_host_platform_device_count"):
            devices.mesh(bad)
    for bad in (2.0, "2", True):
        with pytest.raises(TypeError, match="devices must be an integer"):
            devices.mesh(bad)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="devices must be >= 1"):
        width.statistical_dimension(bodies.Orthant.create(3), key=key, num_samples=4, devices=0)
    with pytest.raises(ValueError, match=f"devices must be <= {visible}"):
        sampling.gaussian_map(width._support, bodies.L2Ball.create(3), key=key, num_samples=4,
                              dim=3, devices=visible + 1)
    with pytest.raises(ValueError, match="devices must be >= 1"):
        spectrum.slq(lambda v: v, dim=4, key=key, num_probes=2, num_iters=2, devices=0)
    net = nets.mlp([3, 2])
    params = jax.tree_util.tree_map(lambda w: w[None], net.init(key=key))
    tiny = Dataset(jnp.ones((4, 3)), jnp.zeros(4, jnp.int32), jnp.ones((4, 3)),
                   jnp.zeros(4, jnp.int32), 2, "tiny", (3,))
    with pytest.raises(ValueError, match=f"devices must be <= {visible}"):
        prune.sweep(Problem.from_network(net, params, tiny, l1=0.0), [0.5], devices=visible + 1)
    with pytest.raises(ValueError, match="devices must be >= 1"):
        retrain.retrain(Problem.from_network(net, params, tiny, l1=0.0), [0.5], devices=0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_processes_give_the_single_process_estimate():
    # examples/multihost.py on two local CPU processes with two host devices each (4 devices,
    # gloo collectives) prints, in both processes, the one-device estimate of this process
    script = ROOT / "examples" / "multihost.py"
    spec = importlib.util.spec_from_file_location("multihost", script)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    address = f"127.0.0.1:{_free_port()}"
    workers = [subprocess.Popen(
        [sys.executable, str(script), "--dim", "200", "--samples", "300"], cwd=ROOT,
        env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=2",
                 COORDINATOR_ADDRESS=address, NUM_PROCESSES="2", PROCESS_ID=str(i)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    reference = example.statistical_dimension(200, 300, 0, devices=1)
    for i, worker in enumerate(workers):
        stdout, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr[-3000:]
        out = json.loads(stdout.strip().splitlines()[-1])
        assert (out["process"], out["processes"], out["devices"], out["local_devices"]) == (
            i, 2, 4, 2)
        assert (out["estimate"], out["sem"]) == (reference.mean, reference.sem)


def test_cli_devices_flag_shards_without_changing_the_numbers():
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
           "JAX_PLATFORMS": "cpu"}
    runs = {}
    for count in ("1", "2"):
        for command in (["width", "orthant", "--dim", "300", "--samples", "50"],
                        ["cs", "--dim", "10", "--trials", "3", "--grid", "2", "--seed", "0"]):
            out = subprocess.run([sys.executable, "-m", "phasetrans", *command, "--devices",
                                  count, "--json"], capture_output=True, text=True, env=env,
                                 cwd=ROOT, check=True, timeout=300).stdout
            runs[command[0], count] = json.loads(out)
    assert runs["width", "2"]["devices"] == 2 and runs["cs", "1"]["devices"] == 1
    assert runs["width", "1"]["estimate"] == runs["width", "2"]["estimate"]
    assert runs["cs", "1"]["grid"] == runs["cs", "2"]["grid"]
