"""Shared test setup: deterministic torch, a modest hypothesis profile, weight-copy helpers."""

from __future__ import annotations

import pytest
import torch
from hypothesis import settings
from torch import nn

import minitransformer as mt

settings.register_profile("book", max_examples=40, deadline=None, derandomize=True)
settings.load_profile("book")


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
    """The default corpus (deterministic: seed 0)."""
    return mt.make_corpus()


def copy_attention_to_torch(ours: mt.MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """nn.MultiheadAttention packs W_Q, W_K, W_V into one (3D, D) in_proj_weight."""
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
        theirs.out_proj.weight.copy_(ours.w_o.weight)
        theirs.out_proj.bias.copy_(ours.w_o.bias)


def _copy_linear(source: nn.Linear, target: nn.Linear) -> None:
    target.weight.copy_(source.weight)
    target.bias.copy_(source.bias)


def _copy_norm(source: nn.LayerNorm, target: nn.LayerNorm) -> None:
    target.weight.copy_(source.weight)
    target.bias.copy_(source.bias)


def copy_encoder_layer(ours: mt.EncoderLayer, theirs: nn.TransformerEncoderLayer) -> None:
    copy_attention_to_torch(ours.self_attention, theirs.self_attn)
    with torch.no_grad():
        _copy_linear(ours.feed_forward.linear1, theirs.linear1)
        _copy_linear(ours.feed_forward.linear2, theirs.linear2)
        _copy_norm(ours.attention_block.norm, theirs.norm1)
        _copy_norm(ours.feed_forward_block.norm, theirs.norm2)


def copy_decoder_layer(ours: mt.DecoderLayer, theirs: nn.TransformerDecoderLayer) -> None:
    copy_attention_to_torch(ours.self_attention, theirs.self_attn)
    copy_attention_to_torch(ours.cross_attention, theirs.multihead_attn)
    with torch.no_grad():
        _copy_linear(ours.feed_forward.linear1, theirs.linear1)
        _copy_linear(ours.feed_forward.linear2, theirs.linear2)
        _copy_norm(ours.self_attention_block.norm, theirs.norm1)
        _copy_norm(ours.cross_attention_block.norm, theirs.norm2)
        _copy_norm(ours.feed_forward_block.norm, theirs.norm3)


def randomise_norms(module: nn.Module) -> None:
    """LayerNorms start as the identity affine map; give them random gains and shifts so a
    wrongly wired norm cannot hide."""
    with torch.no_grad():
        for sub in module.modules():
            if isinstance(sub, nn.LayerNorm):
                sub.weight.uniform_(0.5, 1.5)
                sub.bias.uniform_(-0.5, 0.5)
