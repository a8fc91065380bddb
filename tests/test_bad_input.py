"""Every documented bad input raises a clear error naming the argument and what was expected."""

from __future__ import annotations

import re

import pytest
import torch

import minitransformer as mt


def config(**overrides: object) -> mt.TransformerConfig:
    values = dict(
        src_vocab_size=20,
        tgt_vocab_size=15,
        d_model=16,
        num_heads=2,
        num_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=8,
    )
    return mt.TransformerConfig(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (dict(d_model=100, num_heads=8), ValueError, "d_model=100 is not divisible by num_heads=8"),
        (dict(d_model=0), ValueError, "d_model=0 must be a positive integer"),
        (dict(num_layers=2.0), TypeError, "num_layers must be an int, got float"),
        (dict(dropout=1.0), ValueError, "dropout=1.0 must be a number in [0, 1)"),
        (dict(positional="rotary"), ValueError, "positional='rotary' must be 'sinusoidal' or"),
        (dict(d_model=18, num_heads=2, positional="sinusoidal"), None, None),
        (dict(d_model=15, num_heads=3), ValueError, "d_model=15 must be even"),
        (dict(share_embeddings=True), ValueError, "share_embeddings=True needs one vocabulary"),
        (dict(pad_id=15), ValueError, "pad_id=15 must be a valid id in both vocabularies"),
        (dict(pad_id=True), TypeError, "pad_id must be an int"),
    ],
)
def test_config_rejects_nonsense(overrides: dict, error: type | None, message: str | None) -> None:
    if error is None:
        config(**overrides)  # a valid neighbour of the bad cases: must not raise
        return
    with pytest.raises(error, match=re.escape(message)):
        config(**overrides)


@pytest.fixture(scope="module")
def model() -> mt.Transformer:
    return mt.Transformer(config()).eval()


def ids(*shape: int, high: int = 10) -> torch.Tensor:
    return torch.randint(4, high, shape)


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        (ids(2, 9), ids(2, 3), ValueError, "source_ids has length 9, longer than max_len=8"),
        (ids(2, 3), ids(2, 9), ValueError, "target_ids has length 9, longer than max_len=8"),
        (
            torch.tensor([[4, 20]]),
            ids(1, 3),
            ValueError,
            "source_ids holds ids from 4 to 20; expected 0 <= id < 20",
        ),
        (
            ids(1, 3),
            torch.tensor([[-1, 5]]),
            ValueError,
            "target_ids holds ids from -1 to 5; expected 0 <= id < 15",
        ),
        (ids(2, 0), ids(2, 3), ValueError, "source_ids is empty: shape (2, 0)"),
        (
            ids(2, 3),
            ids(3, 3),
            ValueError,
            "batch sizes differ: source_ids has 2 rows, target_ids 3",
        ),
        (ids(3), ids(1, 3), ValueError, "source_ids must have shape (B, length), got (3,)"),
        (ids(1, 3).float(), ids(1, 3), TypeError, "source_ids must be int64 or int32 token ids"),
        ([[4, 5]], ids(1, 3), TypeError, "source_ids must be a torch.Tensor, got list"),
    ],
)
def test_model_rejects_bad_token_ids(
    model: mt.Transformer, source: object, target: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        model(source, target)


def test_decode_checks_the_encoded_source(model: mt.Transformer) -> None:
    encoded = model.encode(ids(2, 4))
    with pytest.raises(ValueError, match="batch sizes differ: target_ids has 3 rows"):
        model.decode(ids(3, 2), encoded)
    with pytest.raises(TypeError, match=re.escape("encoded must be the EncoderOutput of encode()")):
        model.decode(ids(2, 2), encoded.memory)


def test_model_needs_a_config() -> None:
    with pytest.raises(TypeError, match="config must be a TransformerConfig, got dict"):
        mt.Transformer({"d_model": 16})


@pytest.mark.parametrize(
    ("mask", "error", "message"),
    [
        (torch.ones(3, 5), TypeError, "mask must have dtype torch.bool (True = may attend)"),
        (
            torch.ones(4, 4, dtype=torch.bool),
            ValueError,
            "mask of shape (4, 4) does not broadcast to the attention scores of shape (2, 2, 3, 5)",
        ),
        (torch.ones(2, 3, 3, 5, dtype=torch.bool), ValueError, "does not broadcast"),
        ([[True]], TypeError, "mask must be a boolean torch.Tensor or None, got list"),
    ],
)
def test_attention_rejects_bad_masks(mask: object, error: type, message: str) -> None:
    attention = mt.MultiHeadAttention(8, 2)
    query, memory = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    for return_attention in (False, True):
        with pytest.raises(error, match=re.escape(message)):
            attention(query, memory, memory, mask, return_attention=return_attention)


@pytest.mark.parametrize(
    ("shapes", "error", "message"),
    [
        (((2, 3, 6), (2, 5, 8), (2, 5, 8)), ValueError, "query has width 6, expected d_model=8"),
        (((2, 3, 8), (3, 5, 8), (3, 5, 8)), ValueError, "batch sizes differ: query 2, key 3"),
        (((2, 3, 8), (2, 5, 8), (2, 4, 8)), ValueError, "key and value must have the same length"),
        (((2, 0, 8), (2, 5, 8), (2, 5, 8)), ValueError, "query is an empty sequence (length 0)"),
        (((3, 8), (2, 5, 8), (2, 5, 8)), ValueError, "query must have shape (B, L, D), got (3, 8)"),
    ],
)
def test_multi_head_attention_rejects_bad_shapes(shapes: tuple, error: type, message: str) -> None:
    attention = mt.MultiHeadAttention(8, 2)
    with pytest.raises(error, match=re.escape(message)):
        attention(*(torch.randn(shape) for shape in shapes))


def test_multi_head_attention_rejects_bad_construction_and_non_tensors() -> None:
    with pytest.raises(ValueError, match=re.escape("d_model=10 is not divisible by num_heads=4")):
        mt.MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=re.escape("num_heads=0 must be a positive integer")):
        mt.MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match=re.escape("dropout=1.5 must be in [0, 1)")):
        mt.MultiHeadAttention(8, 2, dropout=1.5)
    with pytest.raises(TypeError, match=re.escape("key must be a torch.Tensor, got ndarray")):
        attention = mt.MultiHeadAttention(8, 2)
        attention(torch.randn(1, 2, 8), torch.randn(1, 2, 8).numpy(), torch.randn(1, 2, 8))


@pytest.mark.parametrize(
    ("q", "k", "v", "message"),
    [
        ((2, 3, 4), (2, 5, 6), (2, 5, 6), "q and k must share their last dimension, got 4 and 6"),
        ((2, 3, 4), (2, 5, 4), (2, 6, 4), "k and v must have the same length S, got 5 and 6"),
        ((4,), (5, 4), (5, 4), "q must have at least 2 dimensions"),
    ],
)
def test_scaled_dot_product_attention_rejects_bad_shapes(
    q: tuple, k: tuple, v: tuple, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        mt.scaled_dot_product_attention(torch.randn(q), torch.randn(k), torch.randn(v))
    with pytest.raises(TypeError, match=re.escape("q must be a torch.Tensor, got list")):
        mt.scaled_dot_product_attention([1.0], torch.randn(k), torch.randn(v))


def test_positional_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match=re.escape("d_model=7 must be even")):
        mt.sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match=re.escape("length=0 must be a positive integer")):
        mt.sinusoidal_encoding(0, 8)
    with pytest.raises(ValueError, match=re.escape("sequence length 11 is longer than max_len=10")):
        mt.PositionalEncoding(8, max_len=10)(torch.randn(1, 11, 8))


def test_mask_helpers_check_their_inputs() -> None:
    with pytest.raises(ValueError, match=re.escape("length=0 must be a positive integer")):
        mt.causal_mask(0)
    with pytest.raises(TypeError, match="token_ids must hold integer token ids, got dtype"):
        mt.padding_mask(torch.ones(2, 3))
    with pytest.raises(ValueError, match=re.escape("token_ids must have shape (B, S), got (3,)")):
        mt.padding_mask(torch.ones(3, dtype=torch.long))
    with pytest.raises(
        TypeError, match=re.escape("token_ids must be a torch.Tensor of token ids, got list")
    ):
        mt.padding_mask([[1, 2]])
