"""phasetrans: put a geometric theory of network pruning to the test.

The folder tree is the map (imports point down only, checked by ``tests/test_layers.py``):

- ``phasetrans/*.py`` — shared kernels: ``estimate`` (Estimate, SolverInfo, SolverOptions),
  ``sampling`` (the Monte Carlo sampler), ``devices``, and the private ``_checks``, ``_io``,
  ``_loops``, ``_progress``;
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

import importlib

from phasetrans import _moved

_EXPORTS = {
    "explain": ("phasetrans.applications.attribution", "attribute"),
    "Comparison": ("phasetrans.applications.compare", "Comparison"),
    "assess": ("phasetrans.applications.compare", "assess"),
    "Estimate": ("phasetrans.estimate", "Estimate"),
    "SolverInfo": ("phasetrans.estimate", "SolverInfo"),
    "SolverOptions": ("phasetrans.estimate", "SolverOptions"),
    "Model": ("phasetrans.networks.problem", "Model"),
    "Problem": ("phasetrans.networks.problem", "Problem"),
    "sweep": ("phasetrans.networks.prune", "sweep"),
    "load_problem": ("phasetrans.networks.train", "load_problem"),
    "train_problem": ("phasetrans.networks.train", "train_problem"),
    "TrainingOptions": ("phasetrans.networks.train", "TrainingOptions"),
    "PredictOptions": ("phasetrans.theory.predict", "PredictOptions"),
    "predict": ("phasetrans.theory.predict", "predict_problem"),
}
"""Name -> (module, attribute): imported on first use (PEP 562), so that ``import phasetrans``
and the command line's ``--help`` do not load JAX."""

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'phasetrans' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_EXPORTS))


_moved.install()
