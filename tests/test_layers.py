"""The import graph keeps the layers: imports point down only (README "Library")."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "phasetrans"

LAYERS = {  # module -> layer; a module may import its own layer and the layers below
    "shared": ["_checks", "_io", "_loops", "_progress", "estimate", "sampling", "devices"],
    "geometry": ["bodies", "closed_forms", "conic_admm", "projections", "width", "feasibility",
                 "subspaces"],
    "networks": ["data", "nets", "problem", "interop", "stationarity", "train", "prune",
                 "retrain", "spectrum", "effective", "nettrim"],
    "theory": ["formula", "hessian_model", "spectral_levels", "predict"],
    "applications": ["compare", "attribution", "methods", "report", "cs", "plots", "cli",
                     "__main__"],
}
ORDER = list(LAYERS)
LAYER_OF = {module: layer for layer, modules in LAYERS.items() for module in modules}
ONLY_FROM = {  # modules only these may import
    "cli": {"__main__"},
    "compare": {"attribution", "methods", "report", "plots", "cli"},
    "methods": {"report", "plots", "cli"},
    "attribution": {"report", "plots", "cli"},
    "plots": {"cli"},
    "report": {"cli"},
}


def _imports(path: pathlib.Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "phasetrans":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith(("phasetrans.", "experiments")):
                found.add(node.module.split(".")[1] if node.module.startswith("phasetrans.")
                          else "experiments")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("phasetrans."):
                    found.add(alias.name.split(".")[1])
                elif alias.name.startswith("experiments"):
                    found.add("experiments")
    return found


def _graph() -> dict[str, set[str]]:
    return {path.stem: _imports(path) for path in PACKAGE.glob("*.py")
            if path.stem != "__init__"}


def test_every_module_has_a_layer():
    assert set(_graph()) == set(LAYER_OF), "add new modules to LAYERS (and the README map)"


def test_imports_point_down_only():
    for module, imported in _graph().items():
        for other in imported:
            assert other != "experiments", f"{module} imports the experiments"
            assert other in LAYER_OF, f"{module} imports unknown module {other}"
            assert ORDER.index(LAYER_OF[other]) <= ORDER.index(LAYER_OF[module]), (
                f"{module} ({LAYER_OF[module]}) imports {other} ({LAYER_OF[other]}), a higher "
                "layer")
            if other in ONLY_FROM:
                assert module in ONLY_FROM[other], f"{module} must not import {other}"


def test_the_layer_check_would_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from phasetrans import cli, width\nimport phasetrans.predict\n"
                   "from experiments import demo\n")
    assert _imports(bad) == {"cli", "width", "predict", "experiments"}
