"""phasetrans: put a geometric theory of network pruning to the test.

The folder tree is the map (imports point down only, checked by ``tests/test_layers.py``):

- ``phasetrans/*.py`` — shared kernels: ``estimate`` (Estimate, SolverInfo), ``sampling`` (the
  Monte Carlo sampler), ``devices``, and the private ``_checks``, ``_io``, ``_loops``,
  ``_progress``;
- ``geometry/`` — bodies, cones, projections, widths, feasibility of subspaces;
- ``networks/`` — data, networks, the pruning ``Problem``, training, masks, Hessian spectra;
- ``theory/`` — the width formula and the prediction pipeline;
- ``applications/`` — comparisons, attribution, other methods, reports, figures, compressed
  sensing;
- ``cli/`` — the command line.

The curated namespace below is the front door: build a :class:`Problem` from your model, then
:func:`predict`, :func:`assess` (prediction + premise check + one-shot sweep),
:func:`sweep` and :func:`explain`. The modules of the old flat layout (``phasetrans.prune``,
...) still import, with a ``DeprecationWarning``, for one release (``phasetrans._moved``);
``phasetrans.predict`` is now the function, the module is ``phasetrans.theory.predict``.
"""

from phasetrans import _moved
from phasetrans.applications.attribution import attribute as explain
from phasetrans.applications.compare import Comparison, assess
from phasetrans.estimate import Estimate, SolverInfo
from phasetrans.networks.problem import Model, Problem
from phasetrans.networks.prune import sweep
from phasetrans.networks.train import load_problem, train_problem
from phasetrans.theory.predict import PredictOptions
from phasetrans.theory.predict import predict_problem as predict

__all__ = ["Comparison", "Estimate", "Model", "PredictOptions", "Problem", "SolverInfo",
           "assess", "explain", "load_problem", "predict", "sweep", "train_problem"]
__version__ = "0.1.0"

_moved.install()
