"""The book's links between source views and the API reference (book/_ext/source_views.py)
and the docstring clean-up for the reference (book/_ext/plain_docstrings.py), without a build."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from docutils import nodes
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx import addnodes

import minitransformer as mt
from minitransformer import experiments, viz

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "book" / "_ext"))
import plain_docstrings  # noqa: E402
import source_views  # noqa: E402

CORE = [
    "config",
    "masks",
    "positional",
    "attention",
    "layers",
    "model",
    "data",
    "tokens",
    "subwords",
    "training",
    "decoding",
    "pretrained",
    "reference",
    "torch_reference",
    "baselines",
    *(f"experiments.{m.name}" for m in pkgutil.iter_modules(experiments.__path__)),
]


def _page(*views: object) -> nodes.document:
    """A page with one section per view, each holding the Markdown's raw marker."""
    document = new_document("page", get_default_settings(Parser))
    for k, view in enumerate(views):
        section = nodes.section(ids=[f"s{k}"])
        section += nodes.title("", f"Part {k}")
        marker = viz.source_view(view).markdown().split("\n\n")[0]
        section += nodes.raw("", marker, format="html")
        document += section
    return document


def test_markers_get_unique_anchors_and_their_section():
    document = _page(mt.Encoder, mt.Transformer.decode, mt.Encoder)
    found = source_views.collect_views(document, "notebooks/x")
    assert [q for q, _ in found] == [
        "minitransformer.model.Encoder",
        "minitransformer.model.Transformer.decode",
        "minitransformer.model.Encoder",
    ]
    anchors = [p.anchor for _, p in found]
    assert anchors == [
        "source-minitransformer-model-encoder",
        "source-minitransformer-model-transformer-decode",
        "source-minitransformer-model-encoder-2",
    ]
    assert [p.section for _, p in found] == ["Part 0", "Part 1", "Part 2"]
    targets = [t["ids"][0] for t in document.findall(nodes.target)]
    assert targets == anchors  # each anchor sits right before its marker


def _env(views: dict, objects: dict) -> SimpleNamespace:
    domain = SimpleNamespace(objects=objects)
    env = SimpleNamespace(get_domain=lambda name: domain, titles={})
    env.source_views = views
    env.titles["notebooks/x"] = nodes.title("", "The whole model")
    return env


def test_a_view_without_an_api_entry_fails_the_build(caplog):
    caplog.set_level(logging.WARNING)
    place = source_views.Place("notebooks/x", "source-a", "Part 0")
    env = _env({"minitransformer.model.Gone": [place]}, objects={})
    source_views._check(None, env)
    messages = [r.getMessage() for r in caplog.records]
    assert any("model.Gone has no entry in the API reference" in m for m in messages)


def test_an_api_entry_links_back_to_every_place_that_shows_it(caplog):
    name = "minitransformer.model.Encoder"
    places = [
        source_views.Place("notebooks/x", "source-a", "4. The encoder"),
        source_views.Place("notebooks/x", "source-b", "The whole model"),
    ]
    env = _env({name: places}, objects={name: ("book/api/model", name, "class", False)})
    builder = SimpleNamespace(get_relative_uri=lambda src, dst: f"../../{dst}.html")
    app = SimpleNamespace(env=env, builder=builder)
    document = new_document("api", get_default_settings(Parser))
    desc = addnodes.desc()
    desc += addnodes.desc_signature(ids=[name])
    desc += addnodes.desc_content()
    document += desc
    source_views._add_backlinks(app, document, "book/api/model")
    line = document.next_node(addnodes.desc_content)[0]
    assert "shown-in" in line["classes"]
    links = [(r.astext(), r["refuri"]) for r in line.findall(nodes.reference)]
    assert links == [
        ("The whole model › 4. The encoder", "../../notebooks/x.html#source-a"),
        ("The whole model", "../../notebooks/x.html#source-b"),
    ]
    assert not caplog.records


def test_reading_a_page_again_replaces_its_views():
    env = SimpleNamespace()
    views = source_views._views(env)
    views["a"] = [source_views.Place("p", "x", ""), source_views.Place("q", "y", "")]
    views["b"] = [source_views.Place("p", "z", "")]
    source_views._purge(None, env, "p")
    assert env.source_views == {"a": [source_views.Place("q", "y", "")]}


HANGING = [
    "Train a model.",
    "",
    "warmup, d_model: the schedule (d_model defaults to",
    "    the config's), else 64.",
    "seed: the seed.",
]
TABLE = [
    "One step:",
    "",
    "    input  = <sos> y_1 ... y_m     (teacher forcing)",
    "    update = Adam, clipped,",
    "             learning rate from noam_lr",
    "",
    "After the table.",
]


@pytest.mark.parametrize("lines", [HANGING, TABLE], ids=["hanging indent", "indented table"])
def test_plain_docstrings_are_rewritten_only_where_rst_fails(lines):
    assert plain_docstrings.has_indentation_errors(lines)
    fixed = plain_docstrings.rewrite(lines)
    assert not plain_docstrings.has_indentation_errors(fixed)
    words = [w for line in fixed for w in line.split() if w != "::"]
    assert words == [w for line in lines for w in line.split()]  # nothing lost or added


def test_an_indented_table_becomes_a_literal_block_as_written():
    fixed = plain_docstrings.rewrite(TABLE)
    assert fixed[:4] == ["One step:", "", "::", ""]
    assert fixed[4:7] == TABLE[2:5]  # kept exactly, alignment and all


def test_clean_docstrings_and_lists_are_left_alone():
    clean = ["Post-LN or pre-LN:", "", "* post-LN: LayerNorm(x + f(x)),", "  the paper", ""]
    lines = list(clean)
    plain_docstrings._process(None, "function", "f", None, {}, lines)
    assert lines == clean


def test_every_core_docstring_renders_without_indentation_errors():
    """What the API reference reads: every module, class, function and method docstring."""
    bad = []
    for name in CORE:
        module = importlib.import_module(f"minitransformer.{name}")
        objects = [module] + [
            o for o in vars(module).values() if getattr(o, "__module__", None) == module.__name__
        ]
        objects += [m for o in objects if inspect.isclass(o) for m in vars(o).values()]
        for obj in objects:
            doc = inspect.getdoc(obj) if callable(obj) or inspect.ismodule(obj) else None
            if not doc:
                continue
            lines = doc.splitlines()
            plain_docstrings._process(None, "", "", obj, {}, lines)
            if plain_docstrings.has_indentation_errors(lines) or plain_docstrings.has_bar_errors(
                lines
            ):
                bad.append(getattr(obj, "__qualname__", getattr(obj, "__name__", obj)))
    assert not bad


def test_an_absolute_value_bar_prints_as_written():
    lines = ["The distance |p - q| of ``|x|``:", "", "    |a| literal::", "", "Done."]
    assert plain_docstrings.has_bar_errors(lines)
    fixed = plain_docstrings.escape_bars(lines)
    assert fixed[0] == "The distance \\|p - q\\| of ``|x|``:"  # inline literal untouched
    assert not plain_docstrings.has_bar_errors(fixed)
    lines = ["A literal block::", "", "    |p - q|", "", "after |p|"]
    assert plain_docstrings.escape_bars(lines)[2:] == ["    |p - q|", "", "after \\|p\\|"]
