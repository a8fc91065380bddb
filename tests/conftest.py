"""Shared test setup: deterministic torch, a modest hypothesis profile, weight-copy helpers."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import settings
from torch import nn

import minitransformer as mt
from minitransformer import torch_reference

settings.register_profile("book", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("book")


def pytest_xdist_make_scheduler(config, log):
    """`pytest -n 2 --dist loadscope` (the browser suite in `make test`): every test of one
    built page goes to one worker, so that worker audits the page once (tests/browser/_audit.py)
    and all the page's tests read that audit; any other test is a scope of its own.
    (xdist's loadgroup would do this from markers, but 3.8 cannot rename pytest 9's node ids.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PageScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            page = re.search(r"\[([^\]]*?\.html)", nodeid)
            return page.group(1) if page else nodeid

    return PageScheduling(config, log)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The book's models are tiny: one thread is as fast as two, never fights other work for
    the cores, and gives the same float sums on every machine (as viz.setup does)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def translator() -> mt.Translator:
    """The shipped checkpoint, loaded once (tests must not modify it)."""
    return mt.load_pretrained()


@pytest.fixture(scope="session")
def corpus() -> mt.Corpus:
    """The shipped translator's corpus (the rich grammar, seed 0: ``pretrained.RECIPE``)."""
    return mt.pretrained.recipe_corpus()


# The weight copies into PyTorch's modules live in the package (the whole-model chapter uses
# them too); the tests keep their short names.
copy_attention_to_torch = torch_reference.copy_attention
copy_encoder_layer = torch_reference.copy_layer
copy_decoder_layer = torch_reference.copy_layer


def randomise_norms(module: nn.Module) -> None:
    """LayerNorms start as the identity affine map; give them random gains and shifts so a
    wrongly wired norm cannot hide."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.LayerNorm):
                sub.weight.uniform_(0.5, 1.5)
                sub.bias.uniform_(-0.5, 0.5)
