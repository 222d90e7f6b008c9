"""The library's API shape: no function takes more than MAX_PARAMETERS parameters (issue 24).

Long parameter lists are grouped into option types with one ``validate()`` each
(``SolverOptions``, ``TrainingOptions``, ``AssessOptions``, ``PredictOptions``, ...). Counted:
positional, keyword-only, ``*args`` and ``**kwargs``; not the ``self`` / ``cls`` of a method.
"""

import ast
import pathlib

import pytest

from phasetrans.estimate import SolverOptions

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "phasetrans"
MAX_PARAMETERS = 10

def _count(node: ast.FunctionDef | ast.AsyncFunctionDef, in_class: bool) -> int:
    args = node.args
    names = [a.arg for a in (*args.posonlyargs, *args.args)]
    count = len(names) + len(args.kwonlyargs) + (args.vararg is not None) + (
        args.kwarg is not None)
    if in_class and names and names[0] in ("self", "cls"):
        count -= 1
    return count


def _functions(tree: ast.AST):
    """(function node, whether it is defined directly in a class body), every nesting level."""
    def visit(node, in_class):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield child, in_class
                yield from visit(child, False)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, True)
            else:
                yield from visit(child, in_class)

    yield from visit(tree, False)


def offenders(limit: int = MAX_PARAMETERS) -> list[str]:
    """``path:line name (count)`` of every function of the package over ``limit``."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        for node, in_class in _functions(ast.parse(path.read_text(), filename=str(path))):
            count = _count(node, in_class)
            if count > limit:
                found.append(f"{relative}:{node.lineno} {node.name} ({count} parameters)")
    return found


def test_no_function_takes_more_than_ten_parameters():
    found = offenders()
    assert offenders(limit=2), "the walk finds the functions"
    assert not found, (f"{len(found)} functions take more than {MAX_PARAMETERS} parameters; "
                       "group related ones into an option type:\n" + "\n".join(found))


def test_the_counter_sees_every_kind_of_parameter():
    source = ("def f(a, /, b, *args, c, **kwargs): pass\n"
              "class C:\n    def m(self, a, b): pass\n"
              "    @classmethod\n    def k(cls, *, a): pass\n"
              "def g(self): pass\n")
    counts = {node.name: _count(node, in_class) for node, in_class in
              _functions(ast.parse(source))}
    assert counts == {"f": 5, "m": 2, "k": 1, "g": 1}


def test_solver_options_are_validated():
    assert SolverOptions().validate() == SolverOptions(None, 20000, 10)
    assert SolverOptions(1e-3, 5, 1).resolve("float32", float32=1.0, float64=2.0).tol == 1e-3
    assert SolverOptions().resolve("float64", float32=1.0, float64=2.0).tol == 2.0
    with pytest.raises(ValueError, match="SolverOptions.tol must be > 0"):
        SolverOptions(tol=0.0).validate()
    with pytest.raises(TypeError, match="SolverOptions.tol must be a real number"):
        SolverOptions(tol="small").validate()
    with pytest.raises(ValueError, match="SolverOptions.max_iters must be >= 1"):
        SolverOptions(max_iters=0).validate()
    with pytest.raises(TypeError, match="SolverOptions.check_every must be an integer"):
        SolverOptions(check_every=2.5).validate()
    with pytest.raises(TypeError, match="solver must be a phasetrans.estimate.SolverOptions"):
        SolverOptions.check({"max_iters": 5}, SolverOptions(), dtype="float32", float32=1.0,
                            float64=1.0)


def test_training_and_assess_options_are_validated():
    from phasetrans.applications import compare
    from phasetrans.networks import stationarity, train

    assert train.TrainingOptions().validate().stop == stationarity.StopRule()
    assert train.TrainingOptions(steps=5).validate().stop is None
    with pytest.raises(ValueError, match="not both"):
        train.TrainingOptions(steps=5, stop=stationarity.StopRule()).validate()
    with pytest.raises(ValueError, match="optimizer"):
        train.TrainingOptions(optimizer="lbfgs").validate()
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        train.TrainingOptions(batch_size=0).validate()
    with pytest.raises(TypeError, match="training must be a phasetrans.networks.train"):
        train.minimise(lambda p, b: 0.0, {"w": 1.0}, ([0.0], [0]), l1=0.0, training={})
    assert compare.AssessOptions().validate() == compare.AssessOptions()
    with pytest.raises(ValueError, match="num_sweep_ratios must be >= 2"):
        compare.AssessOptions(num_sweep_ratios=1).validate()
    with pytest.raises(ValueError, match="accuracy_tol must be >= 0"):
        compare.AssessOptions(accuracy_tol=-0.1).validate()
    with pytest.raises(ValueError, match="batch_size must be None"):
        compare.compare(training=train.TrainingOptions(batch_size=8))


def test_attribution_options_are_validated():
    from phasetrans.applications.attribution import AttributionOptions

    assert AttributionOptions().validate() == AttributionOptions()
    with pytest.raises(ValueError, match="AttributionOptions.num_subspaces must be >= 2"):
        AttributionOptions(num_subspaces=1).validate()
    with pytest.raises(ValueError, match="AttributionOptions.retrain_learning_rate must be > 0"):
        AttributionOptions(retrain_learning_rate=0.0).validate()
    with pytest.raises(TypeError, match="AttributionOptions.retrain_sequential"):
        AttributionOptions(retrain_sequential="yes").validate()
    with pytest.raises(ValueError, match="AttributionOptions.accuracy_tol must be >= 0"):
        AttributionOptions(accuracy_tol=-0.1).validate()
