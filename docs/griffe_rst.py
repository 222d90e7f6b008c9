"""A griffe extension for the API reference: the library's docstrings are Google-style with a
few reStructuredText habits, which Markdown renders badly. Without touching the library, this
rewrites each docstring as it is loaded (configured in mkdocs.yml):

- Sphinx roles (``:func:`x```, ``:class:`~a.b.C```, ``:mod:``, ``:data:``, ...) become inline
  code (the ``~`` form shows the last name only, as Sphinx would);
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


def _role(match: re.Match) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def rewrite(text: str) -> str:
    text = ROLE.sub(_role, text)
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


class RstHabits(griffe.Extension):
    """Rewrite every docstring as described in the module docstring."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
