"""Pages generated when the site is built (mkdocs-gen-files), so that they cannot drift.

- ``reference/``: one API page per public module of ``phasetrans`` (private ``_`` modules and
  the deprecation shim ``_moved`` skipped) and the ``SUMMARY.md`` the literate-nav plugin reads;
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
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "phasetrans"
FINDINGS = ROOT / "docs" / "findings"
SKIP_MODULES = {"phasetrans._moved"}


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
        name = ".".join(parts)
        if name not in SKIP_MODULES:
            modules.append((name, path))
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
    rels = [str(p.relative_to(ROOT)) for p in paths if p.exists()]
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
    rels = [str(p.relative_to(ROOT)) for p in paths if p.exists()]
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


def _signed(value: float, digits: int) -> str:
    """A difference as the prose writes it: typographic minus, explicit plus."""
    text = f"{value:+.{digits}f}"
    return text.replace("-", "−")


def value_scale_gaps(directory: pathlib.Path, criterion: str) -> str:
    """One-shot threshold minus the formula per width (seed means), e.g. '−0.27, −0.15'; the
    last (largest) width gets a third digit where two would round it to zero."""
    rows = json.loads((directory / "results.json").read_text())
    values = [r["oneshot"][criterion]["mean"] - r["formula"]["mean"] for r in rows]
    out = [_signed(v, 2 if round(abs(v), 2) >= 0.02 or criterion == "accuracy" else 3)
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


def value_l1_offsets(directory: pathlib.Path) -> str:
    """The calibrated point estimate minus the exact one, per network: '+0.05 and +0.20'."""
    rows = json.loads((directory / "results.json").read_text())
    return " and ".join(_signed(r["calibrated"]["removal_ratio"] - r["exact"]["removal_ratio"], 2)
                        for r in rows)


def value_l1_window(directory: pathlib.Path) -> str:
    """The theory's window ±a_η√D/D at the largest D of these networks, from the
    predicted_vs_actual network of that size."""
    sizes = [r["num_params"] for r in json.loads((directory / "results.json").read_text())]
    rows = json.loads((directory.parent / "predicted_vs_actual" / "results.json").read_text())
    (width,) = {r["window"]["half_width"] for r in rows if r["num_params"] == max(sizes)}
    return f"D = {max(sizes)} is ±{width:.2f}"


DERIVED_VALUES = {
    "scale_accuracy_gaps": lambda d: value_scale_gaps(d, "accuracy"),
    "scale_loss_gaps": lambda d: value_scale_gaps(d, "loss"),
    "scale_kept_fractions": value_scale_kept,
    "l1_calibrated_offsets": value_l1_offsets,
    "l1_window": value_l1_window,
}

RESULTS_PAGES = ["premise", "predicted_vs_actual", "three_models", "gap_attribution",
                 "pruning_comparison", "scale_study", "limit_test", "cs_phase_transition",
                 "l1_body_model"]
RESULTS_DIR_OF = {"premise": "predicted_vs_actual"}


def render_findings(name: str) -> str:
    directory = ROOT / "results" / RESULTS_DIR_OF.get(name, name)
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
    text = re.sub(r"\{\{value:([a-z0-9_]+)\}\}",
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
