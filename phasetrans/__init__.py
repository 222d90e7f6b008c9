"""phasetrans: put a geometric theory of network pruning to the test.

One concept per module (the README's "Library" table is the map). Layers, imports pointing
down only (checked by ``tests/test_layers.py``):

- shared: ``estimate`` (Estimate, SolverInfo), ``sampling`` (the Monte Carlo sampler);
- geometry: ``bodies``, ``projections``, ``conic_admm``, ``closed_forms``, ``width``;
- networks: ``data``, ``nets``, ``train``, ``prune``, ``spectrum``;
- theory: ``formula`` (the width formula), ``predict`` (the prediction pipeline);
- applications: ``compare``, ``report``, ``cs``; ``plots`` and ``cli`` are imported on demand.
"""

from phasetrans import (
    bodies,
    closed_forms,
    conic_admm,
    cs,
    data,
    estimate,
    formula,
    nets,
    predict,
    projections,
    prune,
    sampling,
    spectrum,
    train,
    width,
)
from phasetrans.estimate import Estimate, SolverInfo

__all__ = ["Estimate", "SolverInfo", "bodies", "closed_forms", "conic_admm", "cs", "data",
           "estimate", "formula", "nets", "predict", "projections", "prune", "sampling",
           "spectrum", "train", "width"]
__version__ = "0.1.0"
