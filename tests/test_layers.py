"""The folder tree is the map of the layers: imports point down only.

Layer of a module = its folder under ``phasetrans/`` (top-level modules: ``shared``), in the
order of ``ORDER``; a module may import its own layer and the layers below.
"""

import ast
import pathlib
import warnings

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "phasetrans"
ORDER = ["shared", "geometry", "networks", "theory", "applications", "cli"]
ENTRY_POINTS = {"__init__", "__main__"}  # the namespace and ``python -m``: may import anything
ONLY_FROM = {  # modules only these modules (or any module of these layers) may import
    "applications.compare": {"applications.attribution", "applications.methods",
                             "applications.report", "applications.plots",
                             "applications.limit", "cli"},
    "applications.limit": {"cli"},
    # a witness file is checked without the search code (its check imports no search)
    "networks.witnesses": {"applications.limit", "cli"},
    "applications.witness_file": {"applications.limit", "cli.check_witness"},
    "applications.methods": {"applications.report", "applications.plots", "cli"},
    "applications.attribution": {"applications.report", "applications.plots", "cli"},
    "applications.plots": {"cli"},
    "applications.report": {"cli"},
}


def _module(path: pathlib.Path) -> str:
    """``folder.module`` (``cli`` for the cli package, ``module`` at the top level)."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def _layer(module: str) -> str:
    return module.split(".")[0] if "." in module or module == "cli" else "shared"


def _imports(path: pathlib.Path) -> set[str]:
    """The phasetrans modules (``folder.module``) and packages a file imports."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "experiments" or node.module.startswith("experiments."):
                found.add("experiments")
            elif node.module == "phasetrans":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("phasetrans."):
                inner = node.module[len("phasetrans."):]
                if inner in ORDER:  # from phasetrans.networks import prune
                    found |= {f"{inner}.{alias.name}" for alias in node.names}
                else:
                    found.add(inner)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("phasetrans."):
                    found.add(alias.name[len("phasetrans."):])
                elif alias.name.startswith("experiments"):
                    found.add("experiments")
    return found


def _graph() -> dict[str, set[str]]:
    return {_module(path): _imports(path) for path in PACKAGE.rglob("*.py")
            if _module(path) not in ENTRY_POINTS and path.parent.name != "__pycache__"}


def test_every_folder_is_a_layer():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(ORDER) - {"shared"}, "a new folder needs its place in ORDER"


def test_imports_point_down_only():
    graph = _graph()
    for module, imported in graph.items():
        for other in imported:
            assert other != "experiments", f"{module} imports the experiments"
            assert other in graph, f"{module} imports unknown module {other}"
            assert ORDER.index(_layer(other)) <= ORDER.index(_layer(module)), (
                f"{module} ({_layer(module)}) imports {other} ({_layer(other)}), a higher layer")
            if other in ONLY_FROM:  # a layer named there: any of its modules
                allowed = ONLY_FROM[other]
                assert module in allowed or _layer(module) in allowed, (
                    f"{module} must not import {other}")


def test_the_layer_check_would_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from phasetrans import cli, estimate\nimport phasetrans.theory.predict\n"
                   "from phasetrans.geometry import width\nfrom experiments import demo\n"
                   "from phasetrans.networks.prune import sweep\n")
    assert _imports(bad) == {"cli", "estimate", "theory.predict", "geometry.width",
                             "experiments", "networks.prune"}
    assert _layer("geometry.width") == "geometry" and _layer("estimate") == "shared"
    assert _layer("cli") == "cli"


def test_old_paths_warn_once_and_are_the_moved_modules():
    import phasetrans
    from phasetrans import _moved
    from phasetrans.networks import prune as moved

    # never had a flat path (nor had cli's modules)
    newer = {"witnesses", "witness_file", "limit", "spectrum_source", "l1_projection"}
    assert set(_moved.MOVED) == {m.split(".")[-1] for m in _graph()
                                 if "." in m and _layer(m) != "cli"} - {"predict"} - newer
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import phasetrans.retrain as old_retrain

        from phasetrans import spectrum as again
        from phasetrans import spectrum as old_spectrum
    from phasetrans.networks import retrain, spectrum
    assert old_retrain is retrain and old_spectrum is spectrum is again
    messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
    assert messages == [
        "phasetrans.retrain moved to phasetrans.networks.retrain; the old path works for one "
        "release",
        "phasetrans.spectrum moved to phasetrans.networks.spectrum; the old path works for one "
        "release"]
    assert moved.sweep is phasetrans.sweep
    with pytest.raises(ImportError):
        import phasetrans.nonexistent  # noqa: F401
