"""The chapters show the package's real code: issue 11's bar, checked on the built HTML.

For every object in ``SHOWN`` (one table: the object and the chapter page(s) that teach it),
one of those pages must hold a source view (``viz.show_source``) of the object, or of the
class it belongs to, whose highlighted text equals ``inspect.getsource`` of the installed
package now. So a renamed, moved or edited object whose page was not rebuilt fails, and so
does an object that no page shows. Each view must also link to the object's API entry, and
that entry must link back to the page.

Run after `make book` (it reads _build/html); marked ``browser`` with the other tests of the
built site, although it needs no browser.
"""

from __future__ import annotations

import importlib
import inspect
import textwrap
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup

from browser._site import SITE

pytestmark = pytest.mark.browser

CH3 = "notebooks/03-attention"
CH4 = "notebooks/04-queries-keys-values"
CH5 = "notebooks/05-positional-encoding"
CH6 = "notebooks/06-multi-head-attention"
CH7 = "notebooks/07-masking"
CH8 = "notebooks/08-transformer-block"
WHOLE = "notebooks/08b-whole-model"
CH9 = "notebooks/09-training"
CH10 = "notebooks/10-inference"

# (object, the pages that may show it): the object must be shown on at least one of them.
# An object can have several rows (Transformer.decode: its masks in ch7, the model in ch8).
SHOWN: list[tuple[str, tuple[str, ...]]] = [
    ("minitransformer.attention.scaled_dot_product_attention", (CH3, CH4)),
    ("minitransformer.positional.sinusoidal_encoding", (CH5,)),
    ("minitransformer.positional.PositionalEncoding.forward", (CH5,)),
    ("minitransformer.attention.MultiHeadAttention._split_heads", (CH6,)),
    ("minitransformer.attention.MultiHeadAttention._project", (CH6,)),
    ("minitransformer.attention.MultiHeadAttention.forward", (CH6,)),
    ("minitransformer.masks.padding_mask", (CH7,)),
    ("minitransformer.masks.causal_mask", (CH7,)),
    ("minitransformer.model.Transformer.decode", (CH7,)),
    ("minitransformer.layers.FeedForward", (CH8,)),
    ("minitransformer.layers.ResidualLayerNorm", (CH8,)),
    ("minitransformer.layers.EncoderLayer", (CH8, WHOLE)),
    ("minitransformer.layers.DecoderLayer", (CH8, WHOLE)),
    ("minitransformer.model.Encoder", (CH8, WHOLE)),
    ("minitransformer.model.Decoder", (CH8, WHOLE)),
    ("minitransformer.model.Transformer.__init__", (CH8, WHOLE)),
    ("minitransformer.model.Transformer.encode", (CH8, WHOLE)),
    ("minitransformer.model.Transformer.decode", (CH8, WHOLE)),
    ("minitransformer.training.label_smoothed_cross_entropy", (CH9,)),
    ("minitransformer.training.noam_lr", (CH9,)),
    ("minitransformer.training.train_step", (CH9,)),  # the one training step of `train`
    ("minitransformer.decoding.trace_greedy", (CH10,)),  # the greedy loop, step by step
    ("minitransformer.decoding.beam_search", (CH10,)),
    # the rich grammar's mechanisms, measured
    ("minitransformer.experiments.alignment.antecedent_heads", (CH3,)),  # 걔 -> its antecedent
    ("minitransformer.experiments.heads.constructions", (CH6,)),
    ("minitransformer.experiments.scoring.reference_streams", (CH10,)),  # several references
]


@dataclass(frozen=True)
class View:
    """One source view on a built page: the object it names, its code, its API link."""

    qualname: str
    code: str
    highlighted: bool  # pygments token spans inside a python block
    api_href: str | None


def resolve(qualname: str) -> object:
    """The object named ``package.module.Class.attribute`` in the installed package."""
    parts = qualname.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ModuleNotFoundError:
            continue
        for name in parts[split:]:
            if not hasattr(target, name):
                raise LookupError(f"{qualname}: the installed package has no {name!r} here")
            target = getattr(target, name)
        return target
    raise LookupError(f"{qualname}: no such module")


def expected_code(qualname: str) -> str:
    return textwrap.dedent(inspect.getsource(resolve(qualname))).rstrip()


@cache
def views_on(page: str, site: Path = SITE) -> tuple[View, ...]:
    """Every source view of one built page (``page`` without .html, relative to ``site``)."""
    path = site / f"{page}.html"
    if not path.exists():
        return ()
    soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
    views = []
    for marker in soup.select("div.source-view[data-qualname]"):
        block = marker.find_next("div", class_="highlight")
        link = marker.find_next("a", class_="reference")
        pre = block.find("pre") if block is not None else None
        if pre is None:
            continue
        for number in pre.select("span.linenos"):
            number.decompose()
        language = block.find_parent("div", class_="highlight-python") is not None
        views.append(
            View(
                marker["data-qualname"],
                pre.get_text().rstrip(),
                language and pre.find("span", class_=True) is not None,
                link.get("href") if link is not None else None,
            )
        )
    return tuple(views)


def _covering(qualname: str, views: tuple[View, ...]) -> list[View]:
    """The views of ``qualname`` itself, or of the class it is defined in."""
    return [v for v in views if qualname == v.qualname or qualname.startswith(v.qualname + ".")]


def problems(qualname: str, pages: tuple[str, ...], site: Path = SITE) -> list[str]:
    """Why ``qualname`` is not properly shown on any of ``pages`` (empty: it is)."""
    try:
        code = expected_code(qualname)
    except (LookupError, TypeError, OSError) as error:
        return [str(error)]
    found = []
    for page in pages:
        for view in _covering(qualname, views_on(page, site)):
            whole = expected_code(view.qualname)
            if view.code != whole:
                found.append(f"{page}: the view of {view.qualname} differs from the installed code")
            elif qualname != view.qualname and textwrap.indent(code, "    ") not in whole:
                found.append(f"{page}: {view.qualname} does not contain {qualname}")
            elif not view.highlighted:
                found.append(f"{page}: the view of {view.qualname} is not highlighted Python")
            elif not _links_both_ways(view, page, site):
                found.append(f"{page}: {view.qualname} and its API entry do not link both ways")
            else:
                return []
    if not found:
        found.append(f"{qualname} is shown on none of {', '.join(pages)}")
    return found


def _links_both_ways(view: View, page: str, site: Path) -> bool:
    """The view links to an API entry with the object's id, and that entry back to ``page``."""
    if not view.api_href:
        return False
    parts = urlsplit(view.api_href)
    target = ((site / page).parent / parts.path).resolve()
    if not target.exists() or parts.fragment != view.qualname:
        return False
    soup = BeautifulSoup(target.read_text(encoding="utf-8"), "html.parser")
    entry = soup.find(id=view.qualname)
    content = entry.find_next_sibling("dd") if entry is not None else None
    shown_in = content.find("p", class_="shown-in") if content is not None else None
    if shown_in is None:
        return False
    back = {(target.parent / urlsplit(a["href"]).path).resolve() for a in shown_in.select("a")}
    return (site / f"{page}.html").resolve() in back


@pytest.mark.parametrize(("qualname", "pages"), SHOWN, ids=[f"{q}@{p[0]}" for q, p in SHOWN])
def test_object_is_shown_as_its_installed_source(qualname: str, pages: tuple[str, ...]) -> None:
    assert not problems(qualname, pages), problems(qualname, pages)


def test_every_view_on_the_whole_model_page_is_the_installed_source() -> None:
    """The checker itself, on this book's own page that shows the most objects."""
    views = views_on(WHOLE)
    assert len(views) >= 8, f"{WHOLE} shows {len(views)} source views"
    for view in views:
        assert not problems(view.qualname, (WHOLE,)), problems(view.qualname, (WHOLE,))


def test_the_checker_reports_what_a_page_does_not_show() -> None:
    assert views_on(WHOLE), f"{WHOLE} was not built"
    assert problems("minitransformer.layers.FeedForward", (WHOLE,)) == [
        f"minitransformer.layers.FeedForward is shown on none of {WHOLE}"
    ]
    # A method inside a class shown whole counts (EncoderLayer.forward inside EncoderLayer).
    assert not problems("minitransformer.layers.EncoderLayer.forward", (WHOLE,))
    assert "no 'renamed'" in problems("minitransformer.layers.renamed", (WHOLE,))[0]
