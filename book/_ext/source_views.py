"""Sphinx extension: the chapters' source views and the API reference link to each other.

``viz.show_source(obj)`` writes, above the code it displays, a marker
``<div class='source-view' data-qualname='minitransformer.module.Name'>`` and a
``{py:func}``/``{py:class}``/``{py:meth}`` link to the object's entry in the API reference
(``book/api/``). This extension reads those markers from the pages as Sphinx builds them:

* each marker gets an anchor (``source-<qualname>``, numbered when a page shows an object
  twice), so that a link can land on the code;
* a marker whose object has no entry in the reference fails the build (a warning under
  ``-W``): a renamed, moved or undocumented object cannot leave a dead link on a chapter page;
* every reference entry that a chapter shows gets a **Shown in** line linking back to each
  place, with the page title and the section it sits in.

The list is rebuilt from the pages on every build (nothing is written by hand, so it cannot
drift), and the reference pages are re-rendered whenever any page changed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging

logger = logging.getLogger(__name__)

MARKER = re.compile(r"""<div class=['"]source-view['"] data-qualname=['"]([\w.]+)['"]""")
ENV_KEY = "source_views"


@dataclass(frozen=True)
class Place:
    """One source view: the page, the anchor of its marker and the section it sits in."""

    docname: str
    anchor: str
    section: str


def _views(env: BuildEnvironment) -> dict[str, list[Place]]:
    if not hasattr(env, ENV_KEY):
        setattr(env, ENV_KEY, {})
    return getattr(env, ENV_KEY)


def anchor_for(qualname: str, taken: set[str]) -> str:
    """``source-minitransformer-attention-MultiHeadAttention-forward`` (``-2``, ... if taken)."""
    base = "source-" + qualname.replace(".", "-").replace("_", "-").lower()
    anchor, number = base, 2
    while anchor in taken:
        anchor, number = f"{base}-{number}", number + 1
    taken.add(anchor)
    return anchor


def _section_title(node: nodes.Node) -> str:
    parent = node.parent
    while parent is not None:
        if isinstance(parent, nodes.section) and parent.children:
            return parent[0].astext()
        parent = parent.parent
    return ""


def collect_views(doctree: nodes.document, docname: str) -> list[tuple[str, Place]]:
    """Find the markers on one page, give each an anchor; return (qualname, place) pairs."""
    found = []
    taken = set(doctree.ids)
    for raw in list(doctree.findall(nodes.raw)):
        if "html" not in raw.get("format", "").split():
            continue
        for qualname in MARKER.findall(raw.astext()):
            anchor = anchor_for(qualname, taken)
            target = nodes.target("", "", ids=[anchor])
            raw.parent.insert(raw.parent.index(raw), target)
            doctree.ids[anchor] = target
            found.append((qualname, Place(docname, anchor, _section_title(raw))))
    return found


def _doctree_read(app: Sphinx, doctree: nodes.document) -> None:
    views = _views(app.env)
    for qualname, place in collect_views(doctree, app.env.docname):
        views.setdefault(qualname, []).append(place)


def _purge(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    views = _views(env)
    for qualname in list(views):
        views[qualname] = [p for p in views[qualname] if p.docname != docname]
        if not views[qualname]:
            del views[qualname]


def _merge(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment):
    views = _views(env)
    for qualname, places in _views(other).items():
        views.setdefault(qualname, []).extend(p for p in places if p.docname in docnames)


def _reference_pages(env: BuildEnvironment) -> set[str]:
    return {entry[0] for entry in env.get_domain("py").objects.values()}


def _outdated(app: Sphinx, env: BuildEnvironment, added, changed, removed) -> list[str]:
    """Any page read again may add or drop a view: re-render the reference pages too."""
    if added or changed or removed:
        return sorted(_reference_pages(env) - set(added) - set(changed))
    return []


def _check(app: Sphinx, env: BuildEnvironment) -> None:
    objects = env.get_domain("py").objects
    for qualname, places in sorted(_views(env).items()):
        if qualname not in objects:
            for place in places:
                logger.warning(
                    "the source view of %s has no entry in the API reference (book/api/): "
                    "document its module there, or show an object the reference has",
                    qualname,
                    location=place.docname,
                    type="source_views",
                )


def _link_text(env: BuildEnvironment, place: Place) -> str:
    title = env.titles[place.docname].astext() if place.docname in env.titles else place.docname
    return f"{title} › {place.section}" if place.section and place.section != title else title


def _add_backlinks(app: Sphinx, doctree: nodes.document, fromdocname: str) -> None:
    views = _views(app.env)
    if not views:
        return
    for signature in list(doctree.findall(addnodes.desc_signature)):
        places = [p for name in signature.get("ids", []) for p in views.get(name, [])]
        content = signature.parent.next_node(addnodes.desc_content) if places else None
        if content is None:
            continue
        line = nodes.paragraph(classes=["shown-in"])
        line += nodes.strong("", "Shown in: ")
        for k, place in enumerate(places):
            if k:
                line += nodes.Text("; ")
            uri = app.builder.get_relative_uri(fromdocname, place.docname) + "#" + place.anchor
            line += nodes.reference("", _link_text(app.env, place), refuri=uri, internal=True)
        content.insert(0, line)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", _doctree_read)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", _outdated)
    app.connect("env-check-consistency", _check)
    app.connect("doctree-resolved", _add_backlinks)
    return {"version": "1.0", "env_version": 1, "parallel_read_safe": True}
