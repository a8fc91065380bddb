"""Sphinx extension: the package's plain-text docstrings render in the API reference.

The package's docstrings are written to be read in the source and in ``help()``: shapes,
small tables and formulas set off by indentation, and long lines continued with a hanging
indent. reStructuredText reads both differently: an indented block after a paragraph is a block
quote (and inside it a further-indented line is an "Unexpected indentation" error), and a
hanging indent right after a line is an error too. Under ``-W`` either fails the build.

Before napoleon and autodoc parse a docstring, this extension checks it with docutils. Only if
docutils reports an indentation error does it rewrite the docstring, in two ways that keep
what the author meant:

* an indented block that follows a blank line becomes a literal block (``::``), shown as
  written, in a monospaced font;
* a line indented more than the line just before it (a hanging indent) joins that line's
  paragraph.

Likewise, if a ``|`` (an absolute value such as ``|p - q|``) reads as a substitution
reference, or a ``*`` (``2*N``) as the start of emphasis, every such character outside inline
literals and literal blocks is escaped.

Docstrings that already parse cleanly (including Google-style sections for napoleon) are
left alone.
"""

from __future__ import annotations

import io
import re

from docutils.core import publish_doctree
from sphinx.application import Sphinx

_INDENTATION_ERRORS = ("Unexpected indentation", "unexpected unindent")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


# Sphinx's roles (:func:, :class:, ...) need a build environment; for this check they are
# plain literals (they cannot change the indentation).
_ROLE = re.compile(r":[A-Za-z][\w:.+-]*:`([^`]*)`")


def _report(lines: list[str]) -> str:
    """What docutils says about the docstring ``lines`` (warnings and errors)."""
    stream = io.StringIO()
    text = _ROLE.sub(r"``\1``", "\n".join(lines))
    try:
        publish_doctree(
            text, settings_overrides={"warning_stream": stream, "report_level": 2, "halt_level": 5}
        )
    except Exception:  # anything else is for autodoc to report, with its location
        return ""
    return stream.getvalue()


def has_indentation_errors(lines: list[str]) -> bool:
    """True if docutils reports an indentation problem in the docstring ``lines``."""
    return any(message in _report(lines) for message in _INDENTATION_ERRORS)


# docutils' complaint -> the character that was meant as itself (|p - q|, 2*N, ...)
_MISREAD = {"substitution": "|", "emphasis": "*", "strong": "*"}


def misread_characters(lines: list[str]) -> set[str]:
    """Characters that docutils read as markup here (``|`` of ``|p - q|``, ``*`` of ``2*N``)."""
    report = _report(lines)
    return {char for word, char in _MISREAD.items() if word in report}


def has_bar_errors(lines: list[str]) -> bool:
    """True if a ``|`` (an absolute value, ``|p - q|``) reads as a substitution reference."""
    return "|" in misread_characters(lines)


_LITERAL = re.compile(r"(``.*?``)")


def escape_bars(lines: list[str], chars: str = "|") -> list[str]:
    """``chars`` outside inline literals and literal blocks escaped: they print as written."""
    out, literal_from = [], None
    for line in lines:
        indent = _indent(line)
        if literal_from is not None and (not line.strip() or indent > literal_from):
            out.append(line)
            continue
        literal_from = indent if line.rstrip().endswith("::") else None
        parts = _LITERAL.split(line)
        out.append("".join(p if p.startswith("``") else _escape(p, chars) for p in parts))
    return out


_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")


def rewrite(lines: list[str]) -> list[str]:
    """The docstring with indented blocks as literal blocks and hanging indents joined."""
    out: list[str] = []
    paragraph = 0  # indentation of the paragraph being read
    literal = False  # inside an indented block (after a blank line)
    previous = ""  # the last non-blank line
    blank = True  # the line before was blank
    for line in lines:
        if not line.strip():
            out.append(line)
            blank = True
            continue
        indent = _indent(line)
        if literal and indent > paragraph:
            out.append(line)
        elif blank and indent > paragraph and previous:
            if not previous.rstrip().endswith("::"):
                out[-1:] = ["", " " * paragraph + "::", ""]
            out.append(line)
            literal = True
        elif not blank and indent > _indent(previous) and not _list_item(previous, indent):
            out.append(" " * _indent(previous) + line.lstrip(" "))  # a hanging indent
            line = out[-1]
        else:
            out.append(line)
            literal = False
            if blank:
                paragraph = indent
        previous = line
        blank = False
    return out


def _list_item(previous: str, indent: int) -> bool:
    """``indent`` continues the text of a bullet or enumerated item started on ``previous``."""
    match = _BULLET.match(previous)
    return match is not None and indent == match.end()


def _escape(text: str, chars: str) -> str:
    for char in chars:
        text = text.replace(char, "\\" + char)
    return text


def _process(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    if lines and has_indentation_errors(lines):
        lines[:] = rewrite(lines)
    misread = misread_characters(lines) if lines else set()
    if misread:
        lines[:] = escape_bars(lines, "".join(sorted(misread)))


def setup(app: Sphinx) -> dict:
    app.connect("autodoc-process-docstring", _process, priority=400)  # before napoleon (500)
    return {"version": "1.0", "parallel_read_safe": True}
