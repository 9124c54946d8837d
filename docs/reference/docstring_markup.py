"""griffe extension: adapt localchain's docstrings to what mkdocstrings renders.

- ``Example:`` headings become ``Examples:``. localchain's docstrings follow Google style and
  head their usage examples ``Example:``; griffe reads only the plural as an examples
  section (``>>>`` lines shown as Python sessions) and would render the singular as an
  admonition whose ``>>>`` lines are Markdown text.
- Sphinx roles (``:class:`~localchain.memory.Memory```, ``:func:`sequential```) become code
  spans, the way Sphinx shows them: the last name with ``~``, else the text as written.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_EXAMPLE_HEADING = re.compile(r"^Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:class|func|meth|attr|mod|exc|data|obj|const):`(~?)([^`]+)`")


def _code_span(match: re.Match[str]) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


class DocstringMarkup(griffe.Extension):
    """Rewrite a docstring's ``Example:`` heading and Sphinx roles before it is parsed."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            text = _EXAMPLE_HEADING.sub("Examples:", obj.docstring.value)
            obj.docstring.value = _ROLE.sub(_code_span, text)
