"""A Monte Carlo statistical dimension split across processes (hosts) with jax.distributed.

    # on every host, the same command with its own PROCESS_ID (0, 1, ...):
    COORDINATOR_ADDRESS=host0:12345 NUM_PROCESSES=2 PROCESS_ID=0 python examples/multihost.py

    # two processes on one CPU machine, two host-platform devices each (4 devices in all):
    for i in 0 1; do
        COORDINATOR_ADDRESS=127.0.0.1:12345 NUM_PROCESSES=2 PROCESS_ID=$i JAX_PLATFORMS=cpu \\
        XLA_FLAGS=--xla_force_host_platform_device_count=2 python examples/multihost.py &
    done; wait

    # without COORDINATOR_ADDRESS: one process (the reference the distributed run must equal)
    python examples/multihost.py

Every process runs this same program (JAX's multi-controller model). ``jax.distributed.initialize``
connects the processes through the coordinator (process 0's address); then ``jax.devices()`` lists
the devices of every process, ``devices=jax.device_count()`` splits the samples across all of
them, and the per-sample outputs are gathered to every process (on CPU through gloo collectives),
so each process prints the same estimate, bit for bit the single-process one. Options: ``--dim``,
``--samples``, ``--seed``. Prints one JSON line per process.
"""

from __future__ import annotations

import argparse
import json
import os

import jax
import numpy as np


def statistical_dimension(dim: int, samples: int, seed: int, devices: int):
    """delta of the l1 descent cone at a (dim // 10)-sparse point, split across ``devices``."""
    from phasetrans.geometry import bodies, width  # no JAX work before jax.distributed.initialize

    x0 = np.zeros(dim)
    x0[:dim // 10] = 1.0
    return width.statistical_dimension(bodies.L1DescentCone.create(x0),
                                       key=jax.random.key(seed), num_samples=samples,
                                       devices=devices).estimate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dim", type=int, default=1000, help="ambient dimension d")
    parser.add_argument("--samples", type=int, default=2000, help="Monte Carlo samples")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    args = parser.parse_args()
    if "COORDINATOR_ADDRESS" in os.environ:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # the default in new JAX
        jax.distributed.initialize(coordinator_address=os.environ["COORDINATOR_ADDRESS"],
                                   num_processes=int(os.environ["NUM_PROCESSES"]),
                                   process_id=int(os.environ["PROCESS_ID"]))
    from phasetrans.geometry import closed_forms

    est = statistical_dimension(args.dim, args.samples, args.seed, jax.device_count())
    print(json.dumps({"process": jax.process_index(), "processes": jax.process_count(),
                      "devices": jax.device_count(), "local_devices": jax.local_device_count(),
                      "estimate": est.mean, "sem": est.sem, "num_samples": est.num_samples,
                      "psi": closed_forms.l1_descent_cone_statdim(sparsity=args.dim // 10,
                                                                  dim=args.dim)}), flush=True)


if __name__ == "__main__":
    main()
