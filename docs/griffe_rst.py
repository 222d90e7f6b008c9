"""A griffe extension for the API reference: the library's docstrings are Google-style with a
few reStructuredText habits, which Markdown renders badly. Without touching the library, this
rewrites each docstring once the package is loaded (configured in mkdocs.yml):

- Sphinx roles (``:func:`x```, ``:class:`~a.b.C```, ``:mod:``, ``:data:``, ``:meth:``,
  ``:attr:``, ...) that name an object of ``phasetrans`` with a page in the API reference become
  mkdocs-autorefs links to it (``[`x`][phasetrans.full.path]``); a name that is not fully
  qualified is looked up from the docstring's own object outwards (its class, its module, and
  the modules above), as Sphinx would. Any other role (jax, numpy, a private helper, a name
  that does not resolve) becomes inline code, so that the strict build never meets a link
  without a target. The ``~`` form shows the last name only;
- a bullet list that follows a line of prose without a blank line gets one, so that Markdown
  sees a list (only in the free text before the first Google section such as ``Args:``, whose
  layout griffe parses itself).
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|mod|data|meth|attr|exc|obj|const):`(~?)([^`]+)`")
SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Return|Yields|Raises|Attributes|"
                     r"Examples?|Notes?|Warns|Warnings?|See Also|Other Parameters):\s*$")
BULLET = re.compile(r"^\s*[-*] ")
TITLED = re.compile(r"(.+?)\s*<([^<>]+)>", flags=re.S)
ROOT_PACKAGE = "phasetrans"


def _rendered(obj: griffe.Object) -> bool:
    """Whether the API reference has an anchor for ``obj``: a public module with a page, or a
    public member of a module page (not a package page: those list modules, not members),
    reached through public classes only."""
    parts = obj.path.split(".")
    if parts[0] != ROOT_PACKAGE or any(p.startswith("_") for p in parts):
        return False
    if obj.is_module:
        return True
    parent = obj.parent
    while parent is not None and parent.is_class:
        parent = parent.parent
    return (parent is not None and parent.is_module and not parent.is_init_module
            and all(p.is_class for p in _chain(obj.parent, parent)))


def _chain(start, stop):
    node = start
    while node is not None and node is not stop:
        yield node
        node = node.parent


def _lookup(scope: griffe.Object, dotted: str) -> griffe.Object | None:
    node = scope
    for name in dotted.split("."):
        try:
            node = node.members[name]
            if node.is_alias:
                node = node.final_target
        except (KeyError, AttributeError, griffe.AliasResolutionError,
                griffe.CyclicAliasError):
            return None
    return node


def resolve(target: str, where: griffe.Object | None, package: griffe.Module | None) -> str | None:
    """The path of the API-reference object that ``target`` (a role's text) names, seen from
    the docstring of ``where``; None if it names nothing with a page."""
    if package is None:
        return None
    found = None
    if target == package.path:
        found = package
    elif target.startswith(package.path + "."):
        found = _lookup(package, target[len(package.path) + 1:])
    else:
        scope = where
        while scope is not None and found is None:
            if scope.is_alias:
                break
            found = _lookup(scope, target)
            scope = scope.parent
    if found is None or found.is_alias or not _rendered(found):
        return None
    return found.path


def rewrite(text: str, where: griffe.Object | None = None,
            package: griffe.Module | None = None) -> str:
    def role(match: re.Match) -> str:
        short, target = match.group(1), re.sub(r"\s+", "", match.group(2))
        title = TITLED.fullmatch(match.group(2).strip())
        if title:                   # Sphinx's explicit title: :func:`shown text <target>`
            shown, target = f"`{' '.join(title.group(1).split())}`", title.group(2)
        else:
            shown = f"`{target.rsplit('.', 1)[-1] if short else target}`"
        path = resolve(target.removesuffix("()"), where, package)
        return f"[{shown}][{path}]" if path else shown

    text = ROLE.sub(role, text)
    out: list[str] = []
    in_sections = False
    for line in text.splitlines():
        if SECTION.match(line):
            in_sections = True
        if (not in_sections and BULLET.match(line) and out and out[-1].strip()
                and not BULLET.match(out[-1]) and not out[-1].startswith((" ", "\t"))):
            out.append("")
        out.append(line)
    return "\n".join(out)


def _objects(obj: griffe.Object):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


class RstHabits(griffe.Extension):
    """Rewrite every docstring as described in the module docstring, once the whole package is
    loaded (a role may name an object of a module loaded after its own)."""

    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = rewrite(obj.docstring.value, obj, pkg)
