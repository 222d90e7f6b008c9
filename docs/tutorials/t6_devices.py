# %% [markdown]
# # Several devices and hosts
#
# The independent work of phasetrans (Monte Carlo samples, SLQ probes, (seed, ratio) pairs of
# sweeps and retraining, compressed-sensing trials) can be split across devices with the
# `devices=` argument, and the numbers do not change: sample i is always drawn from
# `fold_in(key, i)` and evaluated by the same program at the same position of a batch of the
# same size, so widths and statistical dimensions are **bit for bit** those of one device.
# [Several devices and hosts](../explanation/devices.md) explains how, and what memory each
# device holds.
#
# On GPUs and TPUs the devices are there already. On a CPU, JAX can pretend to have several
# before it starts: the flag must be set before `jax` is imported.

# %%
import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=4"

import jax  # noqa: E402  (after XLA_FLAGS on purpose)
import numpy as np  # noqa: E402

from phasetrans import devices  # noqa: E402
from phasetrans.geometry import bodies, width  # noqa: E402

print(jax.device_count(), "devices:", jax.devices())

# %% [markdown]
# ## The same estimate on 1, 2, 3 and 4 devices
# The statistical dimension of the ℓ1 descent cone at a 40-sparse point of R^400, with 2000
# samples; `devices=N` shards the samples over a 1-D mesh (`phasetrans.devices.sharded_map`,
# `jax.shard_map`), uneven splits included.

# %%
x0 = np.zeros(400)
x0[:40] = 1.0
cone = bodies.L1DescentCone.create(x0)
estimates = {n: width.statistical_dimension(cone, key=jax.random.key(0), num_samples=2000,
                                            devices=n).estimate
             for n in (1, 2, 3, 4)}
for n, est in estimates.items():
    print(f"devices={n}: delta = {est.mean!r} ± {est.sem!r}")
assert all(est == estimates[1] for est in estimates.values())   # bit for bit
assert devices.mesh().size == jax.device_count()

# %% [markdown]
# `devices=0`, a negative number, a non-integer or more devices than are visible is refused
# with a message saying how many there are:

# %%
try:
    devices.mesh(jax.device_count() + 1)
except ValueError as err:
    print("ValueError:", err)

# %% [markdown]
# On one CPU there is no speedup to expect: XLA already spreads one device's work over the
# cores, and host-platform devices share them (`benchmarks/bench_scale.py` measures it, see
# `benchmarks/README.md`). `devices=` on a CPU is for testing the sharded path and for several
# hosts.
#
# ## Several hosts
# Every process runs the same program; `jax.distributed.initialize` connects them, after which
# `devices=jax.device_count()` splits the samples over every process's devices and gathers the
# outputs to each. `examples/multihost.py` reads the coordinator from the environment; two local
# CPU processes with two devices each:
#
# ```bash
# for i in 0 1; do
#   COORDINATOR_ADDRESS=127.0.0.1:12345 NUM_PROCESSES=2 PROCESS_ID=$i JAX_PLATFORMS=cpu \
#   XLA_FLAGS=--xla_force_host_platform_device_count=2 python examples/multihost.py &
# done; wait
# ```
#
# Both processes print the one-process estimate bit for bit (`tests/test_sharding.py` runs
# exactly this).
#
# From the command line, every command takes `--devices N`
# (default: all visible devices), and its JSON records `devices`.
