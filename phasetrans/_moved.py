"""The flat layout's module paths (``phasetrans.prune``, ...), kept importable for one release.

A finder on ``sys.meta_path`` (after the real files, installed by ``phasetrans/__init__.py``)
answers for the old names: importing one warns once (a ``DeprecationWarning`` naming the new
path) and puts the moved module itself in its place in ``sys.modules``, so
``import phasetrans.prune`` *is* ``phasetrans.networks.prune`` (same object, private names and
monkeypatching included). ``phasetrans.predict`` is not among them: it is the top-level
prediction function; the module is ``phasetrans.theory.predict``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    **{name: f"phasetrans.geometry.{name}" for name in (
        "bodies", "closed_forms", "conic_admm", "projections", "width", "feasibility",
        "subspaces")},
    **{name: f"phasetrans.networks.{name}" for name in (
        "data", "nets", "problem", "interop", "stationarity", "train", "prune", "retrain",
        "spectrum", "effective", "nettrim")},
    **{name: f"phasetrans.theory.{name}" for name in (
        "formula", "hessian_model", "spectral_levels")},
    **{name: f"phasetrans.applications.{name}" for name in (
        "compare", "attribution", "methods", "report", "cs", "plots")},
}
"""Old module name -> its new path."""


def alias(name: str) -> None:
    """Make the old module ``name`` (``"phasetrans.<old>"``) the moved one, with a warning."""
    new = MOVED[name.removeprefix("phasetrans.")]
    warnings.warn(f"{name} moved to {new}; the old path works for one release",
                  DeprecationWarning, stacklevel=3)
    sys.modules[name] = importlib.import_module(new)


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return None  # the default empty module, replaced in exec_module

    def exec_module(self, module):
        alias(module.__name__)


class Finder(importlib.abc.MetaPathFinder):
    """Finds the old module names of :data:`MOVED` (and nothing else)."""

    def find_spec(self, fullname, path, target=None):
        if fullname.startswith("phasetrans.") and fullname[len("phasetrans."):] in MOVED:
            return importlib.util.spec_from_loader(fullname, _Loader())
        return None


def install() -> None:
    """Append one :class:`Finder` to ``sys.meta_path`` (idempotent)."""
    if not any(isinstance(finder, Finder) for finder in sys.meta_path):
        sys.meta_path.append(Finder())
