"""Pages generated when the site is built (mkdocs-gen-files), so that they cannot drift.

- ``reference/``: one API page per public module of ``phasetrans`` (private ``_`` modules, the
  deprecation shim ``_moved`` among them, skipped) and the ``SUMMARY.md`` the literate-nav
  plugin reads;
- ``how-to/cli-reference.md``: every command and flag of ``phasetrans``, from the argparse
  parsers of ``phasetrans.cli.build_parser()``;
- ``explanation/module-map.md``: every module of ``phasetrans``, folder by folder (the layers),
  with the start of its docstring, from the folder tree;
- ``results/<name>.md``: each experiment's committed tables (``results/<name>/table*.md``, or
  a table built here from its JSON), stamped with the date and commit of the last change of
  its results, around the findings prose of ``docs/findings/<name>.md``.

Placeholders in a findings file: ``{{table}}`` (``results/<name>/table.md``),
``{{table:REL}}`` (``results/<name>/REL``), ``{{generated:NAME}}`` (a table built by a
function of this script from the JSON), ``{{value:NAME}}`` (a number or list of numbers in
the prose that is derived from the JSON, such as a difference, by a function of this script),
``{{stamp}}`` and ``{{stamp:REL}}``. tests/test_docs.py checks every other decimal number of
the prose against the results files.
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import pathlib
import re
import statistics
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "phasetrans"
FINDINGS = ROOT / "docs" / "findings"
RESULTS = ROOT / "results"
"""Where the results pages read the results from (tests point it at a copy)."""


# --------------------------------------------------------------------------- module map
LAYERS = ("phasetrans", "geometry", "networks", "theory", "applications", "cli")
"""The folders in import order: shared kernels at the top, then each layer (imports point
down this list only; tests/test_layers.py derives the rule from the same tree)."""


def _summary(path: pathlib.Path, limit: int = 220) -> str:
    """The docstring's first paragraph (with the next one when it ends in a colon), cut at a
    word boundary after ``limit`` characters."""
    paragraphs = [" ".join(p.split()) for p in
                  (ast.get_docstring(ast.parse(path.read_text())) or "").split("\n\n")]
    text = paragraphs[0]
    if text.endswith(":") and len(paragraphs) > 1:
        text = f"{text} {paragraphs[1]}"
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0] + " …"
    return text.replace("|", "\\|")


def module_map() -> str:
    """The module map page: one table row per module, grouped by layer folder."""
    lines = ["# Module map", "",
             "Generated from the folder tree when the site is built: every module of "
             "`phasetrans`, folder by folder in import order (a module imports only from its "
             "own folder and the ones above it), with the start of its docstring. "
             "Why the layers are cut this way: [the layers of the code](layers.md).", "",
             "| folder (layer) | module | what it is |", "|---|---|---|"]
    for layer in LAYERS:
        folder = PACKAGE if layer == "phasetrans" else PACKAGE / layer
        shown = "`phasetrans/` (shared)" if layer == "phasetrans" else f"`{layer}/`"
        for path in sorted(folder.glob("*.py")):
            if path.stem in ("__init__", "__main__"):
                continue
            lines.append(f"| {shown} | `{path.stem}` | {_summary(path)} |")
            shown = ""
    unknown = sorted(p.name for p in PACKAGE.iterdir()
                     if p.is_dir() and (p / "__init__.py").exists() and p.name not in LAYERS)
    if unknown:
        raise ValueError(f"folders {unknown} are not in LAYERS: add them in import order")
    return "\n".join(lines) + "\n"


def write_module_map(gen) -> None:
    with gen.open("explanation/module-map.md", "w") as page:
        page.write(module_map())
    gen.set_edit_path("explanation/module-map.md", "docs/gen_pages.py")


# --------------------------------------------------------------------------- API reference
def _public_modules() -> list[tuple[str, pathlib.Path]]:
    modules = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        elif parts[-1] == "__main__":
            continue
        if any(part.startswith("_") for part in parts):
            continue
        modules.append((".".join(parts), path))
    return modules


def api_pages() -> list[tuple[tuple[str, ...], str, str, pathlib.Path]]:
    """(module parts, page path under reference/, page text, source file) per public module."""
    modules = _public_modules()
    pages = []
    for name, path in modules:
        parts = tuple(name.split("."))
        is_package = path.name == "__init__.py"
        doc = pathlib.Path(*parts, "index.md") if is_package else pathlib.Path(*parts[:-1],
                                                                               f"{parts[-1]}.md")
        if is_package:
            # a package page: its docstring and the list of its modules (each has a page)
            lines = [f"::: {name}", "    options:", "      members: false", ""]
            children = [child for child, _ in modules
                        if child.rsplit(".", 1)[0] == name and child != name]
            if children:
                lines += ["Modules:", ""]
                for child in children:
                    short = child.rsplit(".", 1)[1]
                    is_pkg = (ROOT / pathlib.Path(*child.split(".")) / "__init__.py").exists()
                    link = f"{short}/index.md" if is_pkg else f"{short}.md"
                    lines.append(f"- [`{child}`]({link})")
            text = "\n".join(lines) + "\n"
        else:
            text = f"::: {name}\n"
        pages.append((parts, doc.as_posix(), text, path))
    return pages


def write_reference(gen) -> None:
    nav = gen.Nav()
    for parts, doc, text, source in api_pages():
        nav[parts] = doc
        with gen.open(f"reference/{doc}", "w") as page:
            page.write(text)
        gen.set_edit_path(f"reference/{doc}", source.relative_to(ROOT))
    with gen.open("reference/SUMMARY.md", "w") as summary:
        summary.writelines(nav.build_literate_nav())


# --------------------------------------------------------------------------- CLI reference
def _subcommands(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def _flag_rows(parser: argparse.ArgumentParser) -> list[str]:
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            names = ", ".join(f"`{s}`" for s in action.option_strings)
            if action.nargs != 0 and action.metavar is not None:
                names += f" `{action.metavar}`"
            elif action.nargs != 0:
                names += f" `{action.dest.upper()}`"
        else:
            names = f"`{action.metavar or action.dest}` (positional)"
        text = (action.help or "").replace("%(default)s", str(action.default))
        text = text.replace("%%", "%").replace("|", "\\|").replace("\n", " ")
        if action.choices and "choices" not in text.lower():
            text += " Choices: " + ", ".join(f"`{c}`" for c in action.choices) + "."
        default = action.default
        if action.option_strings and default not in (None, argparse.SUPPRESS, False) \
                and "default" not in text.lower():
            text += f" Default: `{default}`."
        rows.append(f"| {names} | {text} |")
    return rows


def _command_section(name: str, parser: argparse.ArgumentParser, level: int) -> list[str]:
    lines = [f"{'#' * level} `{name}`", ""]
    if parser.description:
        lines += [parser.description.strip(), ""]
    usage = parser.format_usage().strip().removeprefix("usage: ")
    lines += ["```text", usage, "```", ""]
    rows = _flag_rows(parser)
    if rows:
        lines += ["| flag | what it does |", "|---|---|", *rows, ""]
    for child, subparser in _subcommands(parser):
        lines += _command_section(f"{name} {child}", subparser, min(level + 1, 6))
    return lines


def cli_reference() -> str:
    """The CLI reference page: every command and flag of ``phasetrans.cli.build_parser()``."""
    from phasetrans.cli import build_parser

    parser = build_parser()
    commands = [name for name, _ in _subcommands(parser)]
    lines = ["# CLI reference", "",
             "Generated when the site is built from `phasetrans.cli.build_parser()`, the "
             "parser the `phasetrans` command itself uses, so every command and flag here is "
             "the one installed. How the commands fit together: [the command line](cli.md).",
             "", "Commands: " + ", ".join(f"`{c}`" for c in commands) + ".", ""]
    if parser.description:
        lines += [parser.description.strip(), ""]
    for name, subparser in _subcommands(parser):
        lines += _command_section(f"phasetrans {name}", subparser, 2)
    return "\n".join(lines) + "\n"


def write_cli_reference(gen) -> None:
    with gen.open("how-to/cli-reference.md", "w") as page:
        page.write(cli_reference())
    gen.set_edit_path("how-to/cli-reference.md", "phasetrans/cli/__init__.py")


# --------------------------------------------------------------------------- results pages
def git_stamp(*paths: pathlib.Path) -> str:
    """'date, commit' of the last commit that changed any of ``paths``, or a note saying why
    there is none (no git, not a repository, never committed)."""
    rels = [os.path.relpath(p, ROOT) for p in paths if p.exists()]
    if not rels:
        return "no results file"
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%cs %h", "--", *rels], cwd=ROOT,
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "date and commit unknown (git not available)"
    if not out.strip():
        return "not committed yet"
    date, commit = out.split()
    return f"{date}, commit `{commit}`"


def _commit_time(*paths: pathlib.Path) -> int | None:
    rels = [os.path.relpath(p, ROOT) for p in paths if p.exists()]
    try:
        out = subprocess.run(["git", "log", "-1", "--format=%ct", "--", *rels], cwd=ROOT,
                             capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out) if out.strip() else None


def _stamp_line(directory: pathlib.Path, rel: str | None, findings: pathlib.Path) -> str:
    files = [directory / rel] if rel else sorted(directory.glob("*.json")) + sorted(
        directory.glob("*.md")) + sorted(directory.glob("*.csv"))
    where = f"`results/{directory.name}/{rel}`" if rel else f"`results/{directory.name}/`"
    text = (f"!!! info \"Where these numbers come from\"\n    The tables are generated at build "
            f"time from {where}; last changed {git_stamp(*files)}. The figures are "
            f"the committed ones in `figures/`.\n")
    results_time, prose_time = _commit_time(*files), _commit_time(findings)
    if results_time is not None and prose_time is not None and results_time > prose_time:
        text += (f"\n!!! warning \"The results changed after this prose was written\"\n    "
                 f"`docs/findings/{findings.name}` was last edited {git_stamp(findings)}: "
                 f"the tables are current, numbers quoted in the prose may not be.\n")
    return text


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_fmt(v, digits) for v in value) + "]"
    return f"{value:.{digits}f}"


def table_limit_scaling(directory: pathlib.Path) -> str:
    """The weight-magnitude claim: each scale's prediction, one-shot and best witness."""
    rows = json.loads((directory / "scaling.json").read_text())
    lines = ["| c | ε (nats) | predicted | one-shot (acc) | best witness (F ≤ F\\*_fair + ε) "
             "| best search | verdict | premise: ΔF under further training (ε, max over seeds) |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        limit = row.get("limit") or {}
        lines.append(
            f"| {row['scale']:g} | {_fmt(row['epsilon'], 4)} "
            f"| {_fmt(row['predicted_removal_ratio'])} "
            f"| {_fmt(row['empirical_removal_ratio']['accuracy'])} "
            f"| {_fmt(limit.get('best_witness_ratio'))} | {limit.get('best_search', '—')} "
            f"| {limit.get('verdict', '—')} "
            f"| {_fmt(row['stationarity']['max_decrease_in_epsilon'], 2)} |")
    return "\n".join(lines)


def table_cs_transition(directory: pathlib.Path) -> str:
    """Each solver's 50 % success point per sparsity against ψ(s, d)/d."""
    out = []
    for file, label in (("bp_grid.json", "basis pursuit"),
                        ("overparam_grid.json", "overparameterized GD")):
        doc = json.loads((directory / file).read_text())
        diffs = [t["empirical_measurement_fraction"] - t["theory_measurement_fraction"]
                 for t in doc["transition"] if t["empirical_measurement_fraction"] is not None]
        out += [f"**{label}** (`{file}`: d = {doc['dim']}, {doc['trials']} trials per cell, "
                f"{doc['seconds']:.0f} s; empirical − ψ/d: mean {sum(diffs) / len(diffs):+.3f}, "
                f"largest |·| {max(abs(d) for d in diffs):.3f})", "",
                "| s/d | m/d at 50 % success | SEM | ψ(s, d)/d | difference |",
                "|---|---|---|---|---|"]
        for t in doc["transition"]:
            emp, theory = t["empirical_measurement_fraction"], t["theory_measurement_fraction"]
            diff = None if emp is None else emp - theory
            out.append(f"| {t['sparsity_fraction']:g} | {_fmt(emp)} | {_fmt(t['empirical_sem'])} "
                       f"| {_fmt(theory)} | {'—' if diff is None else f'{diff:+.3f}'} |")
        out.append("")
    return "\n".join(out)


GENERATED_TABLES = {"limit_scaling": table_limit_scaling, "cs_transition": table_cs_transition}


def value_scale_gaps(directory: pathlib.Path, criterion: str) -> str:
    """One-shot threshold minus the formula per width (seed means), e.g. '−0.27, −0.15'; the
    last (largest) width gets a third digit where two would round it to zero."""
    rows = json.loads((directory / "results.json").read_text())
    values = [r["oneshot"][criterion]["mean"] - r["formula"]["mean"] for r in rows]
    out = [_num(v, 2 if round(abs(v), 2) >= 0.02 or criterion == "accuracy" else 3, sign=True)
           for v in values]
    return ", ".join(text.replace("+", "") for text in out)


def value_scale_kept(directory: pathlib.Path) -> str:
    """Kept fractions 1 − p, predicted vs one-shot (accuracy), at the smallest width, at 256
    and at the largest width."""
    rows = {r["width"]: r for r in json.loads((directory / "results.json").read_text())}
    widths = sorted(rows)

    def pair(width: int, digits: int) -> str:
        r = rows[width]
        return (f"{1 - r['formula']['mean']:.{digits}f} vs "
                f"{1 - r['oneshot']['accuracy']['mean']:.{digits}f} at h = {width}")

    return f"{pair(widths[0], 2)}, {pair(256, 2)} and {pair(widths[-1], 3)}"


def value_scale_spot_check(directory: pathlib.Path) -> str:
    """The exact spot check of the family's SLQ formula (results/scale_study/family/
    spot_check.json): '0.613 [0.606, 0.621] against the exact spectrum's 0.607 at D = 7072,
    0.007 apart (window ±0.070)'."""
    from phasetrans.geometry.closed_forms import theory_window

    check = json.loads((directory / "family" / "spot_check.json").read_text())
    slq, exact = check["formula"]["slq"], check["formula"]["exact"]
    dim = check["num_params"]
    lo, hi = slq["interval"]
    apart = abs(slq["removal_ratio"] - exact["removal_ratio"])
    return (f"{slq['removal_ratio']:.3f} [{lo:.3f}, {hi:.3f}] against the exact spectrum's "
            f"{exact['removal_ratio']:.3f} at D = {dim}, {apart:.3f} apart "
            f"(window ±{theory_window(dim).half_width:.3f})")


def value_scale_spot_check_steps(directory: pathlib.Path) -> str:
    """The spot check's SLQ formula per Lanczos step count on the same probes: '0.597, 0.602,
    0.608, 0.612 and 0.613 with 15, 20, 30, 40 and 60 steps'."""
    check = json.loads((directory / "family" / "spot_check.json").read_text())
    steps = [s for s in check["formula"]["slq_by_num_iters"] if not s.get("exact_eigenpairs")]
    return (_and([f"{s['removal_ratio']:.3f}" for s in steps]) + " with "
            + _and([str(s["num_iters"]) for s in steps]) + " steps")


def value_l1_offsets(directory: pathlib.Path) -> str:
    """The calibrated point estimate minus the exact one, per network: '+0.05 and +0.20'."""
    rows = json.loads((directory / "results.json").read_text())
    return " and ".join(_num(r["calibrated"]["removal_ratio"] - r["exact"]["removal_ratio"], 2,
                             sign=True)
                        for r in rows)


def value_l1_window(directory: pathlib.Path) -> str:
    """The theory's window ±a_η√D/D at the largest D of these networks, from the
    predicted_vs_actual network of that size."""
    sizes = [r["num_params"] for r in json.loads((directory / "results.json").read_text())]
    rows = json.loads((directory.parent / "predicted_vs_actual" / "results.json").read_text())
    (width,) = {r["window"]["half_width"] for r in rows if r["num_params"] == max(sizes)}
    return f"D = {max(sizes)} is ±{width:.2f}"



# l1_body_model: the large-D predict run, when its JSON is committed
L1_LARGE_RUN = "predict_mnist1d_300-300.json"
L1_LARGE_COMMAND = ("phasetrans predict --dataset mnist1d --arch 300-300 --spectrum slq "
                    "--seeds 1 --l1-body-model-max-dim 200000 --json")
L1_MODELS = "`mc_prediction.ellipsoid.hessian_model`, `mc_prediction.l1_body.hessian_model`"


def _duration(seconds: float) -> str:
    """'388 s' under ten minutes, '12 min 45 s' from there on."""
    total = round(seconds)
    return f"{total} s" if total < 600 else f"{total // 60} min {total % 60} s"


def _last_bracket(curve: dict) -> tuple[tuple[float, float], tuple[float, float]]:
    """(p, δ/D) at the two evaluated ratios around the fixed point of one seed's
    ``statdim_curve``: the largest p with δ/D > p and the next ratio evaluated."""
    points = sorted(zip(curve["removal_ratios"], curve["statdim_ratio"], strict=True))
    i = max(k for k, (p, ratio) in enumerate(points) if ratio > p)
    return points[i], points[i + 1]


def value_l1_large_predict(directory: pathlib.Path) -> str:
    """The paragraph on the D = 105 000 predict run: its numbers from
    ``results/l1_body_model/predict_mnist1d_300-300.json`` (the JSON ``phasetrans predict
    --json`` prints) when that file is committed, a sentence without numbers when not.

    Fields read: ``num_params``, ``seconds``, ``predicted_removal_ratio`` (the formula),
    ``window.half_width``, ``spectrum[0].method/num_probes/num_iters``,
    ``mc_prediction.ellipsoid.removal_ratio/hessian_model/statdim_curve[0].removal_ratios``,
    ``mc_prediction.l1_body.removal_ratio/converged/statdim_curve[0]`` (``removal_ratios``,
    ``statdim_ratio``: the last bracket of the bisection), ``limit`` (whether the limit test
    ran)."""
    path = directory / L1_LARGE_RUN
    if not path.exists():
        return (f"`{L1_LARGE_COMMAND}` (D = 105 000) computes the formula, the spectral-levels "
                f"Monte Carlo and the ℓ1 body on the low-rank model at this size on 2 cores; "
                f"the JSON says which model each Monte Carlo used ({L1_MODELS}). The output of "
                f"the runs measured so far was not kept, so no numbers are quoted here: they "
                f"come from `results/{directory.name}/{L1_LARGE_RUN}` once it is committed. The "
                f"default 5 bisection steps of the ℓ1 body resolve 1/32 in p, coarser than the "
                f"theory's window at this D.")
    doc = json.loads(path.read_text())
    window = doc["window"]["half_width"]
    ellipsoid, l1 = doc["mc_prediction"]["ellipsoid"], doc["mc_prediction"]["l1_body"]
    spectrum = doc["spectrum"][0]
    parts = ["training"]
    if spectrum.get("method") == "slq":
        parts.append(f"{spectrum['num_probes']} × {spectrum['num_iters']} SLQ")
    if ellipsoid:
        kind = "spectral-levels" if "levels" in ellipsoid["hessian_model"] else "ellipsoid"
        parts.append(f"the {kind} Monte Carlo on "
                     f"{len(ellipsoid['statdim_curve'][0]['removal_ratios'])} ratios")
    if l1:
        parts.append("the ℓ1 body's bisection")
    parts.append("the sweep")
    if doc.get("limit"):
        parts.append("the limit test's searches")
    mc = "no Monte Carlo ellipsoid" if not ellipsoid else (
        f"Monte Carlo ({'levels' if 'levels' in ellipsoid['hessian_model'] else 'ellipsoid'}) "
        f"{ellipsoid['removal_ratio']:.3f}")
    text = (f"`{L1_LARGE_COMMAND}` (D = {_thousands(doc['num_params'])}; its output is "
            f"`results/{directory.name}/{L1_LARGE_RUN}`): {_duration(doc['seconds'])} in total "
            f"on 2 cores ({_and(parts)}); formula {doc['predicted_removal_ratio']:.3f}, {mc}, "
            f"window ±{window:.3f}; the JSON says which model each Monte Carlo used "
            f"({L1_MODELS}). ")
    if not l1:
        return text + "The ℓ1 body was not computed in this run (`mc_prediction.l1_body` is null)."
    (lo, at_lo), (hi, at_hi) = _last_bracket(l1["statdim_curve"][0])
    steps = round(-math.log2(hi - lo))
    seed = "" if doc.get("seeds", 1) == 1 else " on the first seed"
    converged = "every solve converged" if l1["converged"] else \
        "not every solve converged within the ADMM budget: biased low"
    return text + (
        f"The ℓ1 body on the low-rank model: {l1['removal_ratio']:.3f} ({converged}; the "
        f"{steps} bisection steps resolve 1/{2 ** steps} in p, "
        f"{'coarser' if hi - lo > window else 'finer'} than the window ±{window:.3f} here: δ/D "
        f"is {at_lo:.2f} at p = {lo:.3f} and {at_hi:.2f} at {hi:.3f}{seed}).")


# helpers of the values below: the configurations they cover and the rounding they show
def _rows(directory: pathlib.Path, rel: str = "results.json", dataset: str | None = None,
          arch: str | None = None, l1: float | None = None) -> list[dict]:
    """The rows of a results JSON (file order: λ ascending per architecture), filtered."""
    return [r for r in json.loads((directory / rel).read_text())
            if dataset in (None, r["dataset"]) and arch in (None, r["arch"])
            and l1 in (None, r["l1"])]


def _num(value: float, digits: int = 2, sign: bool = False) -> str:
    return (f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}").replace("-", "−")


def _span(values, digits: int = 2, sign: bool = False) -> str:
    """'lo–hi' (or 'lo to hi' for signed differences), one number when both round alike."""
    lo, hi = _num(min(values), digits, sign), _num(max(values), digits, sign)
    return lo if lo == hi else f"{lo} to {hi}" if sign else f"{lo}–{hi}"


def _percent_span(values) -> str:
    return _span([100 * v for v in values], 0) + " %"


def _series(values, digits: int = 2, sign: bool = False, last: str = ", ") -> str:
    return _join([_num(v, digits, sign) for v in values], last)


def _join(texts: list[str], last: str = ", ") -> str:
    """'a, b, c' with ``last`` before the final item ('a, b and c' for ``last`` = ' and ')."""
    return ", ".join(texts[:-1]) + last + texts[-1] if len(texts) > 1 else texts[0]


def _same_or_series(values, digits: int = 2, sign: bool = False) -> str:
    """One number when all round alike, else the series."""
    texts = {_num(v, digits, sign) for v in values}
    return texts.pop() if len(texts) == 1 else _series(values, digits, sign)


def _minutes(rows) -> str:
    return _span([r["seconds"] / 60 for r in rows], 0)


# gap_attribution's stages ('difference' = later − earlier, seed means)
FORMULA_DELTA = ("formula", "mc_ellipsoid")
KINEMATIC = (("mc_ellipsoid", "random_subspace_ellipsoid"),
             ("mc_l1_body", "random_subspace_l1_body"))
SUPPORT_ELL = ("random_subspace_ellipsoid", "support_ellipsoid")
SUPPORT_L1 = ("random_subspace_l1_body", "support_l1_body")
MODEL = ("support_ellipsoid", "support_l1_body")
L1_RETRAIN = ("support_l1_body", "retrain_F")
RETRAIN_ONESHOT = ("retrain_F", "oneshot_F")
CRITERION_ACC = ("oneshot_L", "oneshot_accuracy")
RULE = ("oneshot_accuracy", "oneshot_accuracy_official_rule")
BUDGET = "budget_2000/results.json"
D16, D32, DCNN = "mlp-64-16-10", "mlp-64-32-32-10", "cnn-8x8-c8-k3"
M16, M32, MCNN = "mlp-40-16-10", "mlp-40-32-32-10", "cnn-40-c8-k3"


def _diffs(rows, *stages) -> list[float]:
    """The measured differences of these stages over these rows (None = not computed)."""
    return [s["difference"] for r in rows for s in r["stages"]
            if (s["from"], s["to"]) in stages and s["difference"] is not None]


def _ga(directory, rel="results.json", **filters):
    return _rows(directory, rel, **filters)


def _ga_stage(directory, stages, rel="results.json", **filters) -> list[float]:
    return _diffs(_ga(directory, rel, **filters), *stages)


def value_ga_wide_ladder(directory: pathlib.Path) -> str:
    """digits 64-32-32-10 at λ = 1e-5 (converged): each stage's threshold, seed means, 2 d."""
    (row,) = _ga(directory, arch=D32, l1=1e-5)
    t = {name: _num(v["mean"]) for name, v in row["thresholds"].items() if v}
    return (f"formula {t['formula']}, Monte Carlo ellipsoid {t['mc_ellipsoid']}, random "
            f"subspaces {t['random_subspace_ellipsoid']}, support {t['support_ellipsoid']}, "
            f"masked retraining {t['retrain_F']}, one-shot {t['oneshot_F']} (F) and "
            f"{t['oneshot_accuracy']} (accuracy)")


def value_ga_budget_retrain_oneshot(directory: pathlib.Path) -> str:
    """retrain_F → oneshot_F per fixed-budget network, λ = 1e-5, 1e-4, 5e-4, 2 d."""
    out = []
    for dataset, arch, label in [
            ("digits", D16, "digits 16, λ = 1e-5, 1e-4, 5e-4"), ("digits", D32, "digits 32-32"),
            ("mnist1d", M16, "mnist1d 16"), ("mnist1d", M32, "mnist1d 32-32"),
            ("digits", DCNN, "digits CNN"), ("mnist1d", MCNN, "mnist1d CNN")]:
        values = _ga_stage(directory, [RETRAIN_ONESHOT], BUDGET, dataset=dataset, arch=arch)
        out.append(f"{_series(values, sign=False)} ({label})")
    return ", ".join(out)


def _retrain_gains(directory: pathlib.Path, arch: str, budget: bool = False) -> str:
    """−(retrain_F → oneshot_F) per λ measured on converged networks of ``arch``: 'a, b and c';
    with ``budget``, the fixed-budget networks' at the same λ."""
    return _series([-v for r in _ga(directory, arch=arch) for v in _ga_stage(
        directory, [RETRAIN_ONESHOT], BUDGET if budget else "results.json", arch=arch,
        l1=r["l1"])], last=" and ")


GAP_VALUES = {
    # wall time per converged configuration, minutes: the 16-unit MLPs / digits 32-32
    "ga_minutes_16": lambda d: _minutes([r for r in _ga(d) if "-16-" in r["arch"]]),
    "ga_minutes_d32": lambda d: _minutes(_ga(d, arch=D32)),
    "ga_minutes_m32": lambda d: _minutes(_ga(d, arch=M32)),
    # converged digits 64-16-10, all λ: largest |difference| of any stage (±, 2 d)
    "ga_d16_max_step": lambda d: "±" + _num(max(abs(v) for v in _diffs(_ga(d, arch=D16), *[
        (s["from"], s["to"]) for s in _ga(d)[0]["stages"]]))),
    # converged digits 64-16-10, all λ: formula → MC ellipsoid, range (signed, 2 d)
    "ga_d16_formula_delta": lambda d: _span(_ga_stage(d, [FORMULA_DELTA], arch=D16), sign=True),
    # converged digits 64-16-10: largest |MC → random subspaces| (ellipsoid and ℓ1 body)
    "ga_d16_kinematic": lambda d: "±" + _num(max(map(abs, _ga_stage(d, KINEMATIC, arch=D16)))),
    # converged digits 64-16-10: random subspaces → support (ellipsoid and ℓ1), range
    "ga_d16_support": lambda d: _span(_ga_stage(d, [SUPPORT_ELL, SUPPORT_L1], arch=D16),
                                      sign=True),
    # converged digits 64-16-10: support ℓ1 → retrain_F, range
    "ga_d16_l1_retrain": lambda d: _span(_ga_stage(d, [L1_RETRAIN], arch=D16), sign=True),
    # converged digits 64-16-10: retrain_F → oneshot_F, one number if all λ round alike
    "ga_d16_retrain_oneshot": lambda d: _same_or_series(
        _ga_stage(d, [RETRAIN_ONESHOT], arch=D16)),
    # fixed-budget digits 64-16-10: retrain_F → oneshot_F per λ
    "ga_d16_budget_retrain_oneshot": lambda d: _series(
        _ga_stage(d, [RETRAIN_ONESHOT], BUDGET, arch=D16)),
    # digits 64-16-10: retrain_converged_fraction range, converged / fixed-budget (%, 0 d)
    "ga_d16_converged": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, arch=D16)]),
    "ga_d16_budget_converged": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, BUDGET, arch=D16)]),
    "ga_wide_ladder": value_ga_wide_ladder,
    # converged digits 64-32-32-10, λ = 1e-5, 1e-4, 5e-4: retrain_F → oneshot_F, 'a, b and c'
    "ga_wide_retrain_oneshot": lambda d: _series(_ga_stage(d, [RETRAIN_ONESHOT], arch=D32),
                                                 last=" and "),
    # converged digits 64-32-32-10, all λ: largest |difference| of any measured stage (±, 2 d)
    "ga_wide_max_step": lambda d: "±" + _num(max(abs(v) for v in _diffs(_ga(d, arch=D32), *[
        (s["from"], s["to"]) for s in _ga(d)[0]["stages"]]))),
    # fixed-budget digits 64-32-32-10 at 1e-5: formula, oneshot_accuracy, retrain_F (2 d)
    **{f"ga_wide_budget_{name}": (lambda d, name=name: _num(
        _ga(d, BUDGET, arch=D32, l1=1e-5)[0]["thresholds"][name]["mean"]))
       for name in ("formula", "oneshot_accuracy", "retrain_F")},
    # converged mnist1d 40-16-10: −(retrain_F → oneshot_F) per λ, 'a, b and c'
    "ga_m16_retrain_gain": lambda d: _series(
        [-v for v in _ga_stage(d, [RETRAIN_ONESHOT], arch=M16)], last=" and "),
    # fixed-budget mnist1d 40-16-10: the same
    "ga_m16_budget_retrain_gain": lambda d: _series(
        [-v for v in _ga_stage(d, [RETRAIN_ONESHOT], BUDGET, arch=M16)]),
    # converged mnist1d 40-16-10: random subspaces → support per λ, ellipsoid / ℓ1 body
    "ga_m16_support_ellipsoid": lambda d: _series(_ga_stage(d, [SUPPORT_ELL], arch=M16),
                                                  sign=True),
    "ga_m16_support_l1": lambda d: _series(_ga_stage(d, [SUPPORT_L1], arch=M16), sign=True),
    # converged mnist1d 40-16-10 at 5e-4: oneshot_L → oneshot_accuracy
    "ga_m16_criterion": lambda d: _num(_ga_stage(d, [CRITERION_ACC], arch=M16, l1=5e-4)[0]),
    # converged mnist1d 40-16-10: largest |MC → random subspaces| (ellipsoid and ℓ1 body)
    "ga_m16_kinematic": lambda d: "±" + _num(max(map(abs, _ga_stage(d, KINEMATIC, arch=M16)))),
    # converged mnist1d 40-16-10: formula → MC ellipsoid, range
    "ga_m16_formula_delta": lambda d: _span(_ga_stage(d, [FORMULA_DELTA], arch=M16), sign=True),
    # converged mnist1d 40-16-10: support ℓ1 → retrain_F, range
    "ga_m16_l1_retrain": lambda d: _span(_ga_stage(d, [L1_RETRAIN], arch=M16), sign=True),
    # converged mnist1d 40-16-10: retrain_converged_fraction range (%, 0 d)
    "ga_m16_converged": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, arch=M16)]),
    # converged mnist1d 40-16-10: retrain_F / support_l1_body thresholds, range over λ
    "ga_m16_retrain_F": lambda d: _span(
        [r["thresholds"]["retrain_F"]["mean"] for r in _ga(d, arch=M16)]),
    "ga_m16_support_l1_threshold": lambda d: _span(
        [r["thresholds"]["support_l1_body"]["mean"] for r in _ga(d, arch=M16)]),
    # converged mnist1d 40-32-32-10: the λ measured so far ('5e-4' or '1e-4 and 5e-4')
    "ga_m32_l1s": lambda d: _and([_lam(r["l1"]) for r in _ga(d, arch=M32)]),
    # converged mnist1d 40-32-32-10, per measured λ: −(retrain_F → oneshot_F), random
    # subspaces → support (ellipsoid), formula → MC ellipsoid, MC → random subspaces
    # (ellipsoid), support ℓ1 → retrain_F; the fixed-budget network's retraining gain at the
    # same λ
    "ga_m32_retrain_gain": lambda d: _retrain_gains(d, M32),
    "ga_m32_budget_retrain_gain": lambda d: _retrain_gains(d, M32, budget=True),
    **{f"ga_m32_{name}": (lambda d, stages=stages: _series(
        _ga_stage(d, stages, arch=M32), sign=True, last=" and "))
       for name, stages in (("support_ellipsoid", [SUPPORT_ELL]),
                            ("formula_delta", [FORMULA_DELTA]),
                            ("kinematic", KINEMATIC[:1]), ("l1_retrain", [L1_RETRAIN]))},
    # converged mnist1d 40-32-32-10: the Monte Carlo δ/D of the ℓ1 body and the ellipsoid
    **{f"ga_m32_{name}": (lambda d, name=name: _series(
        [r["thresholds"][name]["mean"] for r in _ga(d, arch=M32)], last=" and "))
       for name in ("mc_l1_body", "mc_ellipsoid")},
    # converged mnist1d 40-32-32-10, per measured λ: oneshot_L → oneshot_accuracy
    "ga_m32_criterion": lambda d: _series(_ga_stage(d, [CRITERION_ACC], arch=M32),
                                          last=" and "),
    "ga_m32_converged": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, arch=M32)]),
    # converged digits CNN: the λ measured so far, minutes per configuration, the largest
    # |difference| of a judged stage (within_window not None), retrain_F → oneshot_F and
    # oneshot_L → oneshot_accuracy per λ, the formula and one-shot accuracy thresholds
    "ga_dcnn_l1s": lambda d: _and([_lam(r["l1"]) for r in _ga(d, arch=DCNN)]),
    "ga_minutes_dcnn": lambda d: _minutes(_ga(d, arch=DCNN)),
    "ga_dcnn_max_step": lambda d: "±" + _num(max(
        abs(s["difference"]) for r in _ga(d, arch=DCNN) for s in r["stages"]
        if s["within_window"] is not None)),
    **{f"ga_dcnn_{name}": (lambda d, stage=stage: _series(_ga_stage(d, [stage], arch=DCNN),
                                                          sign=True, last=" and "))
       for name, stage in (("retrain_oneshot", RETRAIN_ONESHOT),
                           ("criterion", CRITERION_ACC))},
    **{f"ga_dcnn_{name}": (lambda d, name=name: _series(
        [r["thresholds"][name]["mean"] for r in _ga(d, arch=DCNN)], last=" and "))
       for name in ("formula", "oneshot_accuracy")},
    # converged mnist1d CNN: the λ measured so far, minutes per configuration; per λ
    # −(retrain_F → oneshot_F) (and the fixed-budget network's at the same λ), random
    # subspaces → support (ellipsoid), formula → MC ellipsoid; the formula, retrain_F and
    # one-shot accuracy thresholds; the retraining runs that converged
    "ga_mcnn_l1s": lambda d: _and([_lam(r["l1"]) for r in _ga(d, arch=MCNN)]),
    "ga_minutes_mcnn": lambda d: _minutes(_ga(d, arch=MCNN)),
    "ga_mcnn_retrain_gain": lambda d: _retrain_gains(d, MCNN),
    "ga_mcnn_budget_retrain_gain": lambda d: _retrain_gains(d, MCNN, budget=True),
    **{f"ga_mcnn_{name}": (lambda d, stage=stage: _series(_ga_stage(d, [stage], arch=MCNN),
                                                          sign=True, last=" and "))
       for name, stage in (("support_ellipsoid", SUPPORT_ELL),
                           ("formula_delta", FORMULA_DELTA))},
    **{f"ga_mcnn_{name}": (lambda d, name=name: _series(
        [r["thresholds"][name]["mean"] for r in _ga(d, arch=MCNN)], last=" and "))
       for name in ("formula", "retrain_F", "oneshot_accuracy")},
    "ga_mcnn_converged": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, arch=MCNN)]),
    # fixed budget: number of configurations, and of those with the ℓ1-body stages
    "ga_budget_count": lambda d: str(len(_ga(d, BUDGET))),
    "ga_budget_l1_count": lambda d: str(len(_ga_stage(d, [KINEMATIC[1]], BUDGET))),
    # fixed-budget wall time, minutes: MLPs / digits CNN / mnist1d CNN
    "ga_budget_minutes_mlp": lambda d: _minutes(
        [r for r in _ga(d, BUDGET) if r["arch"].startswith("mlp")]),
    "ga_budget_minutes_dcnn": lambda d: _minutes(_ga(d, BUDGET, arch=DCNN)),
    "ga_budget_minutes_mcnn": lambda d: _minutes(_ga(d, BUDGET, arch=MCNN)),
    # fixed budget, all 18: MC → random subspaces, range, ellipsoid / ℓ1 body
    "ga_budget_kinematic_ellipsoid": lambda d: _span(_ga_stage(d, KINEMATIC[:1], BUDGET),
                                                     sign=True),
    "ga_budget_kinematic_l1": lambda d: _span(_ga_stage(d, KINEMATIC[1:], BUDGET), sign=True),
    # fixed budget: formula → MC ellipsoid, range on mnist1d / the mnist1d CNN / digits λ ≥ 1e-4
    "ga_budget_formula_mnist1d": lambda d: _span(
        _ga_stage(d, [FORMULA_DELTA], BUDGET, dataset="mnist1d"), sign=True),
    "ga_budget_formula_mcnn": lambda d: _span(_ga_stage(d, [FORMULA_DELTA], BUDGET, arch=MCNN),
                                              sign=True),
    "ga_budget_formula_digits": lambda d: _span(_diffs(
        [r for r in _ga(d, BUDGET, dataset="digits") if r["l1"] >= 1e-4], FORMULA_DELTA),
        sign=True),
    # fixed budget at λ = 1e-5: formula → MC ellipsoid, digits 16 / 32-32 / CNN
    **{f"ga_budget_formula_{label}_1e5": (lambda d, arch=arch: _num(
        _ga_stage(d, [FORMULA_DELTA], BUDGET, arch=arch, l1=1e-5)[0]))
       for label, arch in (("d16", D16), ("d32", D32), ("dcnn", DCNN))},
    # fixed budget: random subspaces → support (ellipsoid), all / mnist1d 32-32 / mnist1d CNN
    "ga_budget_support_ellipsoid": lambda d: _span(_ga_stage(d, [SUPPORT_ELL], BUDGET),
                                                   sign=True),
    "ga_budget_support_ellipsoid_m32": lambda d: _span(
        _ga_stage(d, [SUPPORT_ELL], BUDGET, arch=M32), sign=True),
    "ga_budget_support_ellipsoid_mcnn": lambda d: _span(
        _ga_stage(d, [SUPPORT_ELL], BUDGET, arch=MCNN), sign=True),
    # fixed budget: random subspaces → support (ℓ1 body), digits 16 / digits CNN / mnist1d 16
    **{f"ga_budget_support_l1_{label}": (lambda d, arch=arch: _span(
        _ga_stage(d, [SUPPORT_L1], BUDGET, arch=arch), sign=True))
       for label, arch in (("d16", D16), ("dcnn", DCNN), ("m16", M16))},
    # fixed budget: support ℓ1 → retrain_F, range over all 18 / per λ on the mnist1d CNN
    "ga_budget_l1_retrain": lambda d: _span(_ga_stage(d, [L1_RETRAIN], BUDGET), sign=True),
    "ga_budget_l1_retrain_mcnn": lambda d: _series(
        _ga_stage(d, [L1_RETRAIN], BUDGET, arch=MCNN)),
    # fixed budget: support ellipsoid → support ℓ1: largest on digits and mnist1d 32-32,
    # range on the mnist1d CNN and on mnist1d 16
    "ga_budget_model_max": lambda d: _num(max(_diffs(
        [r for r in _ga(d, BUDGET) if r["dataset"] == "digits" or r["arch"] == M32], MODEL))),
    "ga_budget_model_mcnn": lambda d: _span(_ga_stage(d, [MODEL], BUDGET, arch=MCNN)),
    "ga_budget_model_m16": lambda d: _span(_ga_stage(d, [MODEL], BUDGET, arch=M16)),
    "ga_budget_retrain_oneshot": value_ga_budget_retrain_oneshot,
    # fixed budget: oneshot_L → oneshot_accuracy, |range| on digits / mnist1d 32-32 /
    # mnist1d 16 / mnist1d CNN, per λ on the digits CNN
    "ga_budget_criterion_digits": lambda d: _span(
        _ga_stage(d, [CRITERION_ACC], BUDGET, dataset="digits")),
    "ga_budget_criterion_dcnn": lambda d: _series(
        _ga_stage(d, [CRITERION_ACC], BUDGET, arch=DCNN), sign=True),
    **{f"ga_budget_criterion_{label}": (lambda d, arch=arch: _span(
        [abs(v) for v in _ga_stage(d, [CRITERION_ACC], BUDGET, arch=arch)]))
       for label, arch in (("m32", M32), ("m16", M16), ("mcnn", MCNN))},
    # fixed budget: unpruned test accuracy, mean over λ and seeds, mnist1d 16 / mnist1d CNN
    **{f"ga_budget_test_accuracy_{label}": (lambda d, arch=arch: _num(
        sum(a for r in _ga(d, BUDGET, arch=arch) for a in r["unpruned_test_accuracy"])
        / sum(len(r["unpruned_test_accuracy"]) for r in _ga(d, BUDGET, arch=arch))))
       for label, arch in (("m16", M16), ("mcnn", MCNN))},
    # fixed budget: oneshot_accuracy → official rule, range over all 18 ('0' for 0.00)
    "ga_budget_rule": lambda d: _span(_ga_stage(d, [RULE], BUDGET)).replace("0.00–", "0–"),
    # fixed budget: retrain_converged_fraction (%), all but mnist1d 16 / mnist1d CNN / mnist1d 16
    "ga_budget_converged": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, BUDGET) if r["arch"] != M16]),
    "ga_budget_converged_mcnn": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, BUDGET, arch=MCNN)]),
    "ga_budget_converged_m16": lambda d: _percent_span(
        [r["retrain_converged_fraction"] for r in _ga(d, BUDGET, arch=M16)]),
}


# predicted_vs_actual: |p̂ − one-shot accuracy threshold| (seed means) per row
def _gap(row) -> float:
    return abs(row["predicted_removal_ratio"] - row["empirical_removal_ratio"]["accuracy"])


def _gap_span(directory, rel="results.json", **filters) -> str:
    return _span([_gap(r) for r in _rows(directory, rel, **filters)])


def _mc_minus_formula(row) -> float:
    return row["mc_prediction"]["ellipsoid"]["removal_ratio"] - row["predicted_removal_ratio"]


def _config(row) -> tuple:
    return row["dataset"], row["arch"], row["l1"]


def _without_stationary_row(directory: pathlib.Path) -> list[dict]:
    """The fixed-budget rows (file order) whose configuration has no stationary row."""
    measured = {_config(r) for r in _rows(directory)}
    return [r for r in _rows(directory, BUDGET) if _config(r) not in measured]


def value_pva_measured(directory: pathlib.Path) -> str:
    """'Measured for all n configurations.' or 'Measured for k of the n configurations: X at
    λ = L has only its fixed-budget row (below).', n the configurations of the fixed-budget
    run, the missing ones those without a stationary row."""
    budget = _rows(directory, BUDGET)
    missing = _without_stationary_row(directory)
    if not missing:
        return f"Measured for all {len(budget)} configurations."
    names = _and([f"{_label(r)} at λ = {_lam(r['l1'])}" for r in missing])
    verb = "has only its fixed-budget row" if len(missing) == 1 else \
        "have only their fixed-budget rows"
    return (f"Measured for {len(budget) - len(missing)} of the {len(budget)} configurations: "
            f"{names} {verb} (below).")


def _all_or_of(count: int, total: int, every: str, noun: str) -> str:
    """'every network' (``every``) when count == total, else 'k of the n networks'."""
    return every if count == total else f"{count} of the {total} {noun}"


def _covers(row) -> bool:
    lo, hi = row["predicted_interval"]
    return lo <= row["empirical_removal_ratio"]["accuracy"] <= hi


def value_pva_above(directory: pathlib.Path) -> str:
    """Where p̂ > one-shot (acc): 'on every network' or 'on k of the n networks'; and where
    the estimator interval covers one-shot: 'no estimator interval covers it' or 'the
    estimator interval covers it on k of the n'."""
    rows = _rows(directory)
    above = sum(r["predicted_removal_ratio"] > r["empirical_removal_ratio"]["accuracy"]
                for r in rows)
    covered = sum(map(_covers, rows))
    return (f"lies above one-shot pruning on "
            f"{_all_or_of(above, len(rows), 'every network', 'networks')}, and "
            + ("no estimator interval covers it" if not covered else
               f"the estimator interval covers it on {covered} of the {len(rows)}"))


def value_pva_mnist1d_verdict(directory: pathlib.Path) -> str:
    """mnist1d: 'the gap survives and is outside the window' (every network), 'the gap
    survives, outside the window on k of the n networks' or 'the gap is inside the window'."""
    windows = _windows(directory)
    rows = _rows(directory, dataset="mnist1d")
    outside = sum(_gap(r) > windows[r["num_params"]] for r in rows)
    if outside == len(rows):
        return "the gap survives and is outside the window"
    if outside:
        return f"the gap survives, outside the window on {outside} of the {len(rows)} networks"
    return "the gap is inside the window"


def value_pva_minima(directory: pathlib.Path) -> str:
    """'all n are' or 'k of the n are' minima of F (stationarity.is_minimum)."""
    rows = _rows(directory)
    k = sum(r["stationarity"]["is_minimum"] for r in rows)
    return f"all {k} are" if k == len(rows) else f"{k} of the {len(rows)} are"


def value_pva_minima_mcnn(directory: pathlib.Path) -> str:
    """The mnist1d CNN: 'minima of F', 'not minima of F' or 'minima of F except at λ = L'."""
    rows = _rows(directory, arch=MCNN)
    not_minima = [f"λ = {_lam(r['l1'])}" for r in rows if not r["stationarity"]["is_minimum"]]
    if not not_minima:
        return "minima of F"
    if len(not_minima) == len(rows):
        return "not minima of F"
    return f"minima of F except at {_and(not_minima)}"


def _grows(rows) -> bool:
    """p̂ and the one-shot (acc) threshold both non-decreasing in λ."""
    rows = sorted(rows, key=lambda r: r["l1"])
    return all(values == sorted(values) for values in (
        [r["predicted_removal_ratio"] for r in rows],
        [r["empirical_removal_ratio"]["accuracy"] for r in rows]))


def _short(arch: str) -> str:
    return "the CNN" if arch.startswith("cnn") else arch.removeprefix("mlp-")


def value_pva_mnist1d_growth(directory: pathlib.Path) -> str:
    """mnist1d: the networks (with two λ or more) where p̂ and one-shot both grow with λ,
    with the one-shot threshold at the smallest → largest λ (2 d), and those where not (their
    one-shot threshold at every λ)."""
    rows = _rows(directory, dataset="mnist1d")
    grow, other = [], []
    for arch in dict.fromkeys(r["arch"] for r in rows):
        arch_rows = sorted(_rows(directory, dataset="mnist1d", arch=arch), key=lambda r: r["l1"])
        if len(arch_rows) < 2:
            continue
        if _grows(arch_rows):
            grow.append((_short(arch), " → ".join(_num(r["empirical_removal_ratio"]["accuracy"])
                                                  for r in (arch_rows[0], arch_rows[-1]))))
        else:
            other.append((_short(arch), " → ".join(_num(r["empirical_removal_ratio"]["accuracy"])
                                                   for r in arch_rows)))

    def shown(items):
        return _and([f"{values} on {name}" for name, values in items])

    if not grow:
        return f"the thresholds do not both grow with λ (one-shot {shown(other)})"
    if not other:
        return f"both thresholds still grow with λ (one-shot {shown(grow)})"
    return (f"both thresholds still grow with λ on {_and([name for name, _ in grow])} "
            f"(one-shot {shown(grow)}), not on {_and([name for name, _ in other])} "
            f"(one-shot {shown(other)})")


def _models(row) -> dict[str, float]:
    """The predictions of a row: formula, Monte Carlo ellipsoid and (if computed) ℓ1 body."""
    mc = row["mc_prediction"]
    out = {"formula": row["predicted_removal_ratio"],
           "ellipsoid": mc["ellipsoid"]["removal_ratio"]}
    if mc.get("l1_body"):
        out["l1_body"] = mc["l1_body"]["removal_ratio"]
    return out


def value_pva_l1_farthest_m16(directory: pathlib.Path) -> str:
    """mnist1d 40-16-10: 'the farthest on mnist1d 40-16-10' when the ℓ1 body is the model
    farthest from one-shot at every λ, else where it is ('… at λ = 1e-5 and 1e-4') or 'not
    the farthest …'."""
    rows = _rows(directory, arch=M16)
    where = [_lam(r["l1"]) for r in rows if max(_models(r).items(), key=lambda item: abs(
        item[1] - r["empirical_removal_ratio"]["accuracy"]))[0] == "l1_body"]
    text = "the farthest on mnist1d 40-16-10"
    return text if len(where) == len(rows) else f"{text} at λ = {_and(where)}" if where \
        else "not the farthest on mnist1d 40-16-10"


PVA_VALUES = {
    # configurations measured trained to stationarity / in the fixed-budget run
    "pva_count": lambda d: str(len(_rows(d))),
    "pva_budget_count": lambda d: str(len(_rows(d, BUDGET))),
    # 'Measured for …' with the configurations that have only a fixed-budget row
    "pva_measured": value_pva_measured,
    # 'all n are' / 'k of the n are' minima of F
    "pva_minima": value_pva_minima,
    # p̂ above one-shot, intervals covering one-shot: on every network or how many
    "pva_above": value_pva_above,
    # mnist1d: outside the window on every network or how many
    "pva_mnist1d_verdict": value_pva_mnist1d_verdict,
    # wall time per configuration, minutes: the mnist1d CNN / every other configuration
    "pva_minutes_mcnn": lambda d: _minutes(_rows(d, arch=MCNN)),
    "pva_minutes_other": lambda d: _minutes([r for r in _rows(d) if r["arch"] != MCNN]),
    # |p̂ − one-shot (acc)| range over λ (2 d): digits 16 / 32-32 / CNN, mnist1d 16 / 32-32
    **{f"pva_gap_{label}": (lambda d, arch=arch: _gap_span(d, arch=arch))
       for label, arch in (("d16", D16), ("d32", D32), ("dcnn", DCNN), ("m16", M16),
                           ("m32", M32))},
    # the mnist1d CNN at the λ it has stationary rows for: those λ ('λ = 1e-5 and 1e-4');
    # |p̂ − one-shot|, 'a and b'; the same in the fixed budget run at those λ; minima of F or
    # not; stationarity max_decrease_in_epsilon (1 significant digit)
    "pva_lambdas_mcnn": lambda d: "λ = " + _and([_lam(r["l1"]) for r in _rows(d, arch=MCNN)]),
    "pva_gap_mcnn": lambda d: _series([_gap(r) for r in _rows(d, arch=MCNN)], last=" and "),
    "pva_budget_gap_mcnn": lambda d: _series(
        [_gap(r) for r in _rows(d, BUDGET, arch=MCNN)
         if r["l1"] in {s["l1"] for s in _rows(d, arch=MCNN)}], last=" and "),
    "pva_minima_mcnn": value_pva_minima_mcnn,
    "pva_decrease_mcnn": lambda d: _and(
        [f"{r['stationarity']['max_decrease_in_epsilon']:.1g}" for r in _rows(d, arch=MCNN)]),
    # fixed budget: |p̂ − one-shot| range over the digits networks
    "pva_budget_gap_digits": lambda d: _gap_span(d, BUDGET, dataset="digits"),
    # mnist1d, all networks: unpruned test accuracy over seeds and λ (%); mnist1d 40-16-10:
    # ε (seed means) over λ (2 d)
    "pva_test_accuracy_mnist1d": lambda d: _percent_span(
        [a for r in _rows(d, dataset="mnist1d") for a in r["unpruned_test_accuracy"]]),
    "pva_epsilon_m16": lambda d: _span([r["epsilon"] for r in _rows(d, arch=M16)]),
    # mnist1d, all networks: one-shot (acc) threshold and p̂, ranges (%)
    "pva_oneshot_mnist1d": lambda d: _percent_span(
        [r["empirical_removal_ratio"]["accuracy"] for r in _rows(d, dataset="mnist1d")]),
    "pva_predicted_mnist1d": lambda d: _percent_span(
        [r["predicted_removal_ratio"] for r in _rows(d, dataset="mnist1d")]),
    # MC ellipsoid − p̂: largest |·| on digits (2 d), signed range on mnist1d
    "pva_mc_digits": lambda d: _num(max(abs(_mc_minus_formula(r))
                                        for r in _rows(d, dataset="digits"))),
    "pva_mc_mnist1d": lambda d: _span([_mc_minus_formula(r) for r in _rows(d, dataset="mnist1d")],
                                      sign=True),
    # ℓ1-body Monte Carlo on digits 64-16-10 and mnist1d 40-16-10, one-shot on digits
    # 64-16-10: ranges over λ (2 d)
    "pva_l1_body_d16": lambda d: _span([r["mc_prediction"]["l1_body"]["removal_ratio"]
                                        for r in _rows(d, arch=D16)]),
    "pva_oneshot_d16": lambda d: _span([r["empirical_removal_ratio"]["accuracy"]
                                        for r in _rows(d, arch=D16)]),
    "pva_l1_body_m16": lambda d: _span([r["mc_prediction"]["l1_body"]["removal_ratio"]
                                        for r in _rows(d, arch=M16)]),
    # mnist1d 40-16-10: '' if the ℓ1 body is the farthest from one-shot at every λ, else where
    "pva_l1_farthest_m16": value_pva_l1_farthest_m16,
    # digits: largest move of p̂ or one-shot from the smallest to the largest λ, per network,
    # converged / fixed budget (range)
    "pva_lambda_move_digits": lambda d: _num(max(_lambda_moves(_rows(d, dataset="digits")))),
    "pva_budget_lambda_move_digits": lambda d: _span(_lambda_moves(
        _rows(d, BUDGET, dataset="digits"))),
    # mnist1d: where p̂ and one-shot both grow with λ, one-shot at the smallest → largest λ
    "pva_mnist1d_growth": value_pva_mnist1d_growth,
}


def _lambda_moves(rows) -> list[float]:
    """|threshold(largest λ) − threshold(smallest λ)| of p̂ and one-shot, per architecture."""
    out = []
    for arch in dict.fromkeys(r["arch"] for r in rows):
        first, last = [r for r in rows if r["arch"] == arch][::len(
            [r for r in rows if r["arch"] == arch]) - 1]
        out += [abs(last["predicted_removal_ratio"] - first["predicted_removal_ratio"]),
                abs(last["empirical_removal_ratio"]["accuracy"]
                    - first["empirical_removal_ratio"]["accuracy"])]
    return out

# predicted_vs_actual, the fixed 2000-step budget (budget_2000/results.json, all configurations
# in it): |p̂ − one-shot (acc)| against the goal and the window of the theory
GOAL = 0.05
"""The goal |p̂ − one-shot| ≤ 0.05 (the band of experiments/predicted_vs_actual/plot.py)."""


def _windows(directory: pathlib.Path) -> dict[int, float]:
    """The theory's window half-width per D, from the 'window' field of the stationary rows
    (the fixed-budget JSON has none; the window depends on D and η only)."""
    return {r["num_params"]: r["window"]["half_width"] for r in _rows(directory)}


def _of(count: int, total: int) -> str:
    return f"{count} of {total}"


def _inside_window(directory) -> list[dict]:
    windows = _windows(directory)
    return [r for r in _rows(directory, BUDGET) if _gap(r) <= windows[r["num_params"]]]


def _sig2(value: float) -> str:
    """Two significant digits, no exponent: 0.48, 17, 100, 1000."""
    text = f"{value:.2g}"
    return f"{float(text):.0f}" if "e" in text or value >= 10 else text


PVA_BUDGET_VALUES = {
    # sum of the configurations' 'seconds', minutes (0 d)
    "pva_budget_minutes": lambda d: f"{sum(r['seconds'] for r in _rows(d, BUDGET)) / 60:.0f}",
    # mean |p̂ − one-shot (acc)| over all / digits / mnist1d rows (2 d)
    "pva_budget_mean_gap": lambda d: _num(statistics.fmean(map(_gap, _rows(d, BUDGET)))),
    **{f"pva_budget_mean_gap_{ds}": lambda d, ds=ds: _num(
        statistics.fmean(map(_gap, _rows(d, BUDGET, dataset=ds)))) for ds in ("digits", "mnist1d")},
    # 'k of n': rows with |p̂ − one-shot| ≤ GOAL; rows inside / outside the window (window of
    # the same D from the stationary JSON); 'k/n': rows with p̂ > one-shot
    "pva_budget_goal_count": lambda d: _of(sum(_gap(r) <= GOAL for r in _rows(d, BUDGET)),
                                           len(_rows(d, BUDGET))),
    "pva_budget_inside_count": lambda d: _of(len(_inside_window(d)), len(_rows(d, BUDGET))),
    "pva_budget_outside_count": lambda d: str(len(_rows(d, BUDGET)) - len(_inside_window(d))),
    "pva_budget_over_count": lambda d: _of(sum(
        r["predicted_removal_ratio"] > r["empirical_removal_ratio"]["accuracy"]
        for r in _rows(d, BUDGET)), len(_rows(d, BUDGET))).replace(" of ", "/"),
    # mean |MC ellipsoid − one-shot (acc)| over all / digits rows (2 d)
    "pva_budget_mc_gap": lambda d: _num(statistics.fmean(
        abs(r["mc_prediction"]["ellipsoid"]["removal_ratio"]
            - r["empirical_removal_ratio"]["accuracy"]) for r in _rows(d, BUDGET))),
    "pva_budget_mc_gap_digits": lambda d: _num(statistics.fmean(
        abs(r["mc_prediction"]["ellipsoid"]["removal_ratio"]
            - r["empirical_removal_ratio"]["accuracy"])
        for r in _rows(d, BUDGET, dataset="digits"))),
    # digits: near-zero eigenvalues (spectrum num_near_zero / num_params, mean over seeds),
    # range over the rows (%, 0 d)
    "pva_budget_near_zero_digits": lambda d: _percent_span(
        [statistics.fmean(s["num_near_zero"] for s in r["spectrum"]) / r["num_params"]
         for r in _rows(d, BUDGET, dataset="digits")]),
    # digits 64-32-32-10 at λ = 1e-4: 'sensitivity' at epsilon_scale 1, abs → drop (2 d)
    "pva_budget_drop_d32": lambda d: " to ".join(
        _num(s["predicted_removal_ratio"]) for t in ("abs", "drop")
        for s in _rows(d, BUDGET, arch=D32, l1=1e-4)[0]["sensitivity"]
        if s["eigen_treatment"] == t and s["epsilon_scale"] == 1.0),
    # |p̂ − one-shot| at the largest λ on digits / at every λ on mnist1d: ranges (2 d)
    "pva_budget_gap_digits_largest": lambda d: _gap_span(
        d, BUDGET, dataset="digits", l1=max(r["l1"] for r in _rows(d, BUDGET))),
    "pva_budget_gap_mnist1d": lambda d: _gap_span(d, BUDGET, dataset="mnist1d"),
    # mnist1d 40-16-10: one-shot (acc) threshold per λ, 'a → b → c' (2 d)
    "pva_budget_oneshot_m16": lambda d: " → ".join(
        _num(r["empirical_removal_ratio"]["accuracy"]) for r in _rows(d, BUDGET, arch=M16)),
    # trace_hessian (mean over seeds), range over mnist1d / digits rows (2 significant digits)
    **{f"pva_budget_trace_{ds}": lambda d, ds=ds: "–".join(_sig2(f(
        statistics.fmean(r["trace_hessian"]) for r in _rows(d, BUDGET, dataset=ds)))
        for f in (min, max))
       for ds in ("digits", "mnist1d")},
    # mnist1d: unpruned test accuracy over seeds and λ (%, 0 d); ε (seed means, 2 d); one-shot
    # threshold by the loss / the accuracy criterion (seed means, 2 d)
    "pva_budget_test_accuracy_mnist1d": lambda d: _percent_span(
        [a for r in _rows(d, BUDGET, dataset="mnist1d") for a in r["unpruned_test_accuracy"]]),
    "pva_budget_epsilon_mnist1d": lambda d: _span(
        [r["epsilon"] for r in _rows(d, BUDGET, dataset="mnist1d")]),
    **{f"pva_budget_oneshot_{c}_mnist1d": lambda d, c=c: _span(
        [r["empirical_removal_ratio"][c] for r in _rows(d, BUDGET, dataset="mnist1d")])
       for c in ("loss", "accuracy")},
}


# premise (results_premise.json: per configuration its 'budget' and, once trained to
# stationarity, its 'stationary' measures, seed means or max over seeds as the table shows;
# the per-seed steps from results.json's stationarity.training)
PREMISE = "results_premise.json"


def _premise(directory, side: str | None = None, **filters) -> list:
    """The premise rows (or their 'budget'/'stationary' part), filtered; 'stationary' keeps
    only the configurations that have been trained to stationarity."""
    rows = _rows(directory, PREMISE, **filters)
    return rows if side is None else [r[side] for r in rows if r[side] is not None]


def _decrease(value: float) -> str:
    """ΔF/ε as the prose writes it: one decimal, integers from 100 on."""
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _lam(l1: float) -> str:
    return f"{l1:.0e}".replace("e-0", "e-")


def _label(row) -> str:
    arch = row["arch"]
    return f"the {row['dataset']} CNN" if arch.startswith("cnn") else \
        f"{row['dataset']} {arch.removeprefix('mlp-')}"


def _steps(directory, **filters) -> list[tuple[int, bool, dict]]:
    """(steps, converged, row) per seed of the stationary rows (results.json)."""
    return [(s, c, r) for r in _rows(directory, **filters)
            for s, c in zip(r["stationarity"]["training"]["steps"],
                            r["stationarity"]["training"]["converged"], strict=True)]


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _step_span(values) -> str:
    lo, hi = _thousands(min(values)), _thousands(max(values))
    return lo if lo == hi else f"{lo}–{hi}"


def _and(texts: list[str]) -> str:
    return _join(texts, " and ")


def _budget_to_stationary(directory, key: str, **filters) -> str:
    """'from a–b to c–d' of a budget/stationary field (seed means, 0 d) over the
    configurations of these filters that have both."""
    rows = [r for r in _premise(directory, **filters) if r["stationary"] is not None]
    return (f"from {_span([r['budget'][key] for r in rows], 0)} "
            f"to {_span([r['stationary'][key] for r in rows], 0)}")


def _premise_gap(side: str):
    return lambda r: abs(r[side]["predicted"] - r[side]["oneshot_accuracy"])


def value_premise_mnist1d_gaps(directory: pathlib.Path) -> str:
    """Stationary |p̂ − one-shot| per mnist1d network (range over λ, 2 d) with its window."""
    windows = _windows(directory)
    out = []
    for arch in dict.fromkeys(r["arch"] for r in _premise(directory, dataset="mnist1d")):
        rows = [r for r in _premise(directory, dataset="mnist1d", arch=arch) if r["stationary"]]
        if rows:
            name = "CNN" if arch.startswith("cnn") else arch.removeprefix("mlp-")
            out.append(f"{_span(list(map(_premise_gap('stationary'), rows)))} ({name}, window "
                       f"±{windows[rows[0]['num_params']]:.2f})")
    return _and(out)


def value_premise_outside(directory: pathlib.Path) -> str:
    """'all n' (or 'k of n') stationary mnist1d configurations outside the window."""
    windows = _windows(directory)
    rows = [r for r in _premise(directory, dataset="mnist1d") if r["stationary"]]
    k = sum(_premise_gap("stationary")(r) > windows[r["num_params"]] for r in rows)
    return f"all {k}" if k == len(rows) else _of(k, len(rows))


def value_premise_mlp_capped(directory: pathlib.Path) -> str:
    """'k of the n seeds: where' of the digits MLPs that reached the step cap."""
    seeds = [(c, r) for _, c, r in _steps(directory, dataset="digits")
             if r["arch"].startswith("mlp")]
    where = dict.fromkeys(f"{r['arch'].removeprefix('mlp-')} at λ = {_lam(r['l1'])}"
                          for c, r in seeds if not c)
    text = f"{len([c for c, _ in seeds if not c]) or 'none'} of the {len(seeds)} seeds"
    return text + (f": {_and(list(where))}" if where else "")


def value_premise_digits_inside(directory: pathlib.Path) -> str:
    """'every digits network' or 'k of the n digits networks' with the stationary
    |p̂ − one-shot| inside the window."""
    windows = _windows(directory)
    rows = [r for r in _premise(directory, dataset="digits") if r["stationary"]]
    k = sum(_premise_gap("stationary")(r) <= windows[r["num_params"]] for r in rows)
    return (f"all {k} digits networks" if k == len(rows)
            else f"{k} of the {len(rows)} digits networks")


PREMISE_VALUES = {
    # configurations: 'k of the n' whose budget network is not a minimum (budget.is_minimum);
    # 'k of n' trained to stationarity that are (stationary.is_minimum)
    "premise_budget_not_minima": lambda d: (
        f"{sum(not b['is_minimum'] for b in _premise(d, 'budget'))} of the {len(_premise(d))}"),
    "premise_minima": lambda d: _of(sum(s["is_minimum"] for s in _premise(d, "stationary")),
                                    len(_premise(d, "stationary"))),
    # budget.max_decrease_in_epsilon (max over seeds), range on digits / mnist1d (1 d, ≥ 100: 0 d)
    **{f"premise_budget_decrease_{ds}": lambda d, ds=ds: "–".join(_decrease(f(
        b["max_decrease_in_epsilon"] for b in _premise(d, "budget", dataset=ds)))
        for f in (min, max)) for ds in ("digits", "mnist1d")},
    # budget.epsilon (seed means) of the budget networks that are minima (2 d)
    "premise_budget_minima_epsilon": lambda d: _span(
        [b["epsilon"] for b in _premise(d, "budget") if b["is_minimum"]]),
    # digits: budget.objective / stationary.objective, range (1 d)
    "premise_objective_ratio_digits": lambda d: _span(
        [r["budget"]["objective"] / r["stationary"]["objective"]
         for r in _premise(d, dataset="digits") if r["stationary"]], 1),
    # budget.max_relative_subgradient (max over seeds), range over every configuration (1 d)
    "premise_budget_subgradient": lambda d: _span(
        [b["max_relative_subgradient"] for b in _premise(d, "budget")], 1),
    # mnist1d 40-32-32-10 at λ = 1e-5: budget.max_decrease_in_epsilon (1 d); budget.objective
    # → stationary.objective (3 d)
    "premise_m32_decrease": lambda d: _decrease(
        _premise(d, "budget", arch=M32, l1=1e-5)[0]["max_decrease_in_epsilon"]),
    "premise_m32_objectives": lambda d: " to ".join(
        _num(r[side]["objective"], 3) for r in _premise(d, arch=M32, l1=1e-5)
        for side in ("budget", "stationary")),
    # stationary.max_decrease_in_epsilon: largest of the minima (2 d); the configurations that
    # are not minima, each with its value (1 d)
    "premise_minima_decrease": lambda d: _num(max(
        s["max_decrease_in_epsilon"] for s in _premise(d, "stationary") if s["is_minimum"])),
    "premise_exceptions": lambda d: _and([
        f"{_label(r)} at λ = {_lam(r['l1'])} ({r['stationary']['max_decrease_in_epsilon']:.1f} ε)"
        for r in _premise(d) if r["stationary"] and not r["stationary"]["is_minimum"]]),
    # results.json stationarity.training per seed: digits MLPs, steps of the seeds that met
    # the stop rule (range) and the seeds that reached the cap; the digits CNN, steps of every
    # seed (range), 'k of n' seeds that met the rule, the λ where every seed reached the cap
    "premise_mlp_steps": lambda d: _step_span(
        [s for s, c, r in _steps(d, dataset="digits") if c and r["arch"].startswith("mlp")]),
    "premise_mlp_capped": value_premise_mlp_capped,
    "premise_dcnn_steps": lambda d: _step_span([s for s, _, _ in _steps(d, arch=DCNN)]),
    "premise_dcnn_converged": lambda d: _of(sum(c for _, c, _ in _steps(d, arch=DCNN)),
                                            len(_steps(d, arch=DCNN))),
    "premise_dcnn_all_capped": lambda d: _and([
        f"λ = {_lam(r['l1'])}" for r in _rows(d, arch=DCNN)
        if not any(r["stationarity"]["training"]["converged"])]),
    # mnist1d: 'none of the n seeds' (or 'k of the n') that met the stop rule
    "premise_mnist1d_converged": lambda d: (
        f"{sum(c for _, c, _ in _steps(d, dataset='mnist1d')) or 'none'} "
        f"of the {len(_steps(d, dataset='mnist1d'))}"),
    # mnist1d, stationary.max_relative_subgradient (max over seeds), range on the MLPs / the
    # CNN (2 d)
    "premise_subgradient_mnist1d_mlp": lambda d: _span(
        [r["stationary"]["max_relative_subgradient"] for r in _premise(d, dataset="mnist1d")
         if r["stationary"] and r["arch"].startswith("mlp")]),
    "premise_subgradient_mcnn": lambda d: _span(
        [s["max_relative_subgradient"] for s in _premise(d, "stationary", arch=MCNN)]),
    # stationary.zero_fraction (seed means), range per digits network / over mnist1d (%, 0 d)
    **{f"premise_zeros_{label}": lambda d, filters=filters: _percent_span(
        [s["zero_fraction"] for s in _premise(d, "stationary", **filters)])
       for label, filters in (("d16", {"arch": D16}), ("d32", {"arch": D32}),
                              ("dcnn", {"arch": DCNN}), ("mnist1d", {"dataset": "mnist1d"}))},
    # num_negative / num_near_zero (seed means, 0 d): 'from budget range to stationary range'
    # per digits network ('of D' after the negative ones) and mnist1d 40-32-32-10 (negative);
    # mnist1d 40-16-10: range of both counts on both sides; mnist1d 40-32-32-10 at λ = 1e-5:
    # num_near_zero budget → stationary
    **{f"premise_negative_{label}": lambda d, arch=arch: _budget_to_stationary(
        d, "num_negative", arch=arch) + f" of {_premise(d, arch=arch)[0]['num_params']}"
       for label, arch in (("d16", D16), ("d32", D32), ("dcnn", DCNN))},
    **{f"premise_near_zero_{label}": lambda d, arch=arch: _budget_to_stationary(
        d, "num_near_zero", arch=arch)
       for label, arch in (("d16", D16), ("d32", D32), ("dcnn", DCNN))},
    "premise_counts_m16": lambda d: _span(
        [s[key] for s in _premise(d, "budget", arch=M16) + _premise(d, "stationary", arch=M16)
         for key in ("num_negative", "num_near_zero")], 0)
        + f" of {_premise(d, arch=M16)[0]['num_params']}",
    "premise_negative_m32": lambda d: " → ".join(
        _span([s["num_negative"] for s in _premise(d, side, arch=M32)], 0)
        for side in ("budget", "stationary")) + f" of {_premise(d, arch=M32)[0]['num_params']}",
    "premise_near_zero_m32_1e5": lambda d: " → ".join(
        f"{r[side]['num_near_zero']:.0f}" for r in _premise(d, arch=M32, l1=1e-5)
        for side in ("budget", "stationary")),
    # digits: budget → stationary ranges of p̂ (predicted), one-shot (oneshot_accuracy) and
    # |p̂ − one-shot| (2 d); the digits windows (results.json, '±a to ±b'); 'every digits
    # network' or 'k of n' inside them
    **{f"premise_digits_{key}": lambda d, key=key: " to ".join(
        _span([r[side][key] for r in _premise(d, dataset="digits") if r["stationary"]])
        for side in ("budget", "stationary")) for key in ("predicted", "oneshot_accuracy")},
    "premise_digits_gap": lambda d: " to ".join(
        _span([_premise_gap(side)(r) for r in _premise(d, dataset="digits") if r["stationary"]])
        for side in ("budget", "stationary")),
    "premise_digits_windows": lambda d: " to ".join(
        f"±{f(_windows(d)[r['num_params']] for r in _rows(d, dataset='digits')):.2f}"
        for f in (min, max)),
    "premise_digits_inside": value_premise_digits_inside,
    # mnist1d: stationary |p̂ − one-shot| per network with its window; how many outside
    "premise_mnist1d_gaps": value_premise_mnist1d_gaps,
    "premise_mnist1d_outside": value_premise_outside,
}


DERIVED_VALUES = {
    "scale_accuracy_gaps": lambda d: value_scale_gaps(d, "accuracy"),
    "scale_loss_gaps": lambda d: value_scale_gaps(d, "loss"),
    "scale_kept_fractions": value_scale_kept,
    "scale_spot_check": value_scale_spot_check,
    "scale_spot_check_steps": value_scale_spot_check_steps,
    "l1_calibrated_offsets": value_l1_offsets,
    "l1_window": value_l1_window,
    "l1_large_predict": value_l1_large_predict,
    **GAP_VALUES,
    **PVA_VALUES,
    **PVA_BUDGET_VALUES,
    **PREMISE_VALUES,
}

RESULTS_PAGES = ["premise", "predicted_vs_actual", "three_models", "gap_attribution",
                 "pruning_comparison", "scale_study", "limit_test", "cs_phase_transition",
                 "l1_body_model"]
RESULTS_DIR_OF = {"premise": "predicted_vs_actual"}


def render_findings(name: str) -> str:
    directory = RESULTS / RESULTS_DIR_OF.get(name, name)
    text = (FINDINGS / f"{name}.md").read_text()

    def table(match: re.Match) -> str:
        rel = match.group(1) or "table.md"
        path = directory / rel
        if not path.exists():
            return f"*(`results/{directory.name}/{rel}` is not in this checkout)*"
        body = path.read_text().strip()
        # a table file may start with its own heading: keep the table only
        body = "\n".join(line for line in body.splitlines() if not line.startswith("#"))
        return body.strip()

    text = re.sub(r"\{\{table(?::([^}]+))?\}\}", table, text)
    text = re.sub(r"\{\{generated:([a-z_]+)\}\}",
                  lambda m: GENERATED_TABLES[m.group(1)](directory), text)
    text = re.sub(r"\{\{value:([A-Za-z0-9_]+)\}\}",
                  lambda m: DERIVED_VALUES[m.group(1)](directory), text)
    text = re.sub(r"\{\{stamp(?::([^}]+))?\}\}",
                  lambda m: _stamp_line(directory, m.group(1), FINDINGS / f"{name}.md"), text)
    return text


def write_results(gen) -> None:
    for name in RESULTS_PAGES:
        with gen.open(f"results/{name}.md", "w") as page:
            page.write(render_findings(name))
        gen.set_edit_path(f"results/{name}.md", f"docs/findings/{name}.md")


def main() -> None:
    import mkdocs_gen_files  # only when the site is built (the docs extra)

    write_reference(mkdocs_gen_files)
    write_cli_reference(mkdocs_gen_files)
    write_module_map(mkdocs_gen_files)
    write_results(mkdocs_gen_files)


# mkdocs-gen-files runs this file with runpy.run_path (run name "<run_path>"); tests import it
if __name__ in ("__main__", "<run_path>"):
    main()
