"""phasetrans: put a geometric theory of network pruning to the test.

One concept per module (see the README's "Library" table): ``bodies``, ``closed_forms``,
``width``, ``solvers``, ``l1_body`` (convex geometry); ``spectrum`` (Hessian spectra);
``data``, ``nets``, ``train``, ``prune`` (the empirical side); ``threshold``, ``compare`` (the
prediction and the comparison); ``cs`` (compressed sensing); ``estimate`` (Monte Carlo mean with
SEM). ``plots`` and ``cli`` are imported on demand.
"""

from phasetrans import (
    bodies,
    closed_forms,
    compare,
    cs,
    data,
    estimate,
    l1_body,
    nets,
    prune,
    solvers,
    spectrum,
    threshold,
    train,
    width,
)
from phasetrans.estimate import Estimate

__all__ = ["Estimate", "bodies", "closed_forms", "compare", "cs", "data", "estimate", "l1_body",
           "nets", "prune", "solvers", "spectrum", "threshold", "train", "width"]
__version__ = "0.1.0"
