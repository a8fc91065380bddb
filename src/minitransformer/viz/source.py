"""Show the package's own source on a page: the code the reader reads is the code that runs.

:func:`show_source` takes a function, class or method of ``minitransformer`` and displays its
source as the build finds it (``inspect.getsource``), with a heading that names the object,
links to its entry in the API reference, and gives the file and lines it comes from. Nothing is
copied into the notebook, so a page cannot drift from the package.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PACKAGE = "minitransformer"


@dataclass(frozen=True)
class SourceView:
    """The source of one object, ready to display (Markdown in the book, plain text elsewhere)."""

    qualified_name: str  # e.g. "minitransformer.attention.scaled_dot_product_attention"
    kind: str  # "function", "class" or "method" (Sphinx's py domain role)
    path: str  # relative to the package's parent folder, e.g. "minitransformer/attention.py"
    first_line: int
    last_line: int
    code: str  # dedented source, docstring included

    @property
    def name(self) -> str:
        """The name inside its module, e.g. ``MultiHeadAttention.forward``."""
        module = self.path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
        return self.qualified_name.removeprefix(module + ".")

    def markdown(self) -> str:
        """The marker (read by book/_ext/source_views.py), a link to the API entry, the code."""
        role = {"class": "py:class", "method": "py:meth"}.get(self.kind, "py:func")
        fence = "````" if "```" in self.code else "```"
        return (
            f"<div class='source-view' data-qualname='{self.qualified_name}'></div>\n\n"
            f"**Source:** {{{role}}}`{self.name} <{self.qualified_name}>` "
            f"in `{self.path}`, lines {self.first_line}-{self.last_line}\n\n"
            f"{fence}python\n{self.code.rstrip()}\n{fence}\n"
        )

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def __repr__(self) -> str:
        return f"# {self.qualified_name} ({self.path}:{self.first_line})\n{self.code}"


def _qualified_name(obj: Any) -> tuple[str, str]:
    """('minitransformer.module.Qual.name', kind) of a package function, class or method."""
    target = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module or not qualname or not module.startswith(PACKAGE):
        raise TypeError(f"show_source takes a function, class or method of {PACKAGE}, got {obj!r}")
    if inspect.isclass(target):
        kind = "class"
    elif "." in qualname and "<locals>" not in qualname:
        kind = "method"
    else:
        kind = "function"
    return f"{module}.{qualname}", kind


def source_view(obj: Any) -> SourceView:
    """The :class:`SourceView` of ``obj`` (a function, class, method or property)."""
    name, kind = _qualified_name(obj)
    target = inspect.unwrap(obj.fget if isinstance(obj, property) else obj)
    lines, first = inspect.getsourcelines(target)
    file = Path(inspect.getsourcefile(target) or "")
    parts = file.parts
    path = "/".join(parts[parts.index(PACKAGE) :]) if PACKAGE in parts else file.name
    code = textwrap.dedent("".join(lines))
    return SourceView(name, kind, path, first, first + len(lines) - 1, code)


def show_source(obj: Any) -> SourceView:
    """Display the real source of ``obj`` (last line of a cell, or ``display(...)``).

    >>> import minitransformer as mt
    >>> view = show_source(mt.scaled_dot_product_attention)
    >>> view.qualified_name
    'minitransformer.attention.scaled_dot_product_attention'
    """
    return source_view(obj)
