"""Scaled dot-product and multi-head attention against PyTorch and the numpy reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import copy_attention_to_torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

import minitransformer as mt
from minitransformer import reference

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def random_mask(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return torch.rand(shape, generator=generator) > 0.3


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_sdpa_equals_torch(dtype: torch.dtype, masked: bool) -> None:
    generator = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, n, 8, generator=generator, dtype=dtype) for n in (5, 7, 7))
    mask = random_mask((2, 3, 5, 7), generator) if masked else None
    ours, weights = mt.scaled_dot_product_attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    torch.testing.assert_close(ours, theirs, atol=TOLERANCE[dtype], rtol=0)
    assert weights.shape == (2, 3, 5, 7)


def test_sdpa_weights_are_the_formula() -> None:
    generator = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(4, n, 6, generator=generator, dtype=torch.float64) for n in (3, 5, 5))
    _, weights = mt.scaled_dot_product_attention(q, k, v)
    expected = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(6), dim=-1)
    torch.testing.assert_close(weights, expected, atol=1e-12, rtol=0)


def test_fully_masked_row_gives_zeros_and_no_nan_in_backward() -> None:
    q = torch.randn(1, 4, 8, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 6, 8, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 6, 8, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[2] = False  # query 2 may see nothing
    output, weights = mt.scaled_dot_product_attention(q, k, v, mask)
    assert torch.equal(weights[0, 2], torch.zeros(6, dtype=torch.float64))
    assert torch.equal(output[0, 2], torch.zeros(8, dtype=torch.float64))
    output.square().sum().backward()
    for tensor in (q, k, v):
        assert torch.isfinite(tensor.grad).all()
    assert torch.equal(q.grad[0, 2], torch.zeros(8, dtype=torch.float64))


def test_fully_masked_row_in_multi_head_attention_both_paths() -> None:
    attention = mt.MultiHeadAttention(16, 4).double()
    x = torch.randn(2, 5, 16, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 1, 5, 5, dtype=torch.bool)
    mask[1, :, 3] = False
    for return_attention in (False, True):
        out, _ = attention(x, x, x, mask, return_attention=return_attention)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()
        x.grad = None


def test_sdpa_gradcheck() -> None:
    generator = torch.Generator().manual_seed(3)
    q, k, v = (
        torch.randn(2, n, 4, generator=generator, dtype=torch.float64, requires_grad=True)
        for n in (3, 5, 5)
    )
    mask = random_mask((3, 5), generator)
    mask[:, 0] = True

    def attention_output(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return mt.scaled_dot_product_attention(q, k, v, mask)[0]

    assert torch.autograd.gradcheck(attention_output, (q, k, v))


def test_multi_head_gradcheck() -> None:
    attention = mt.MultiHeadAttention(8, 2).double()
    x = torch.randn(2, 3, 8, dtype=torch.float64, requires_grad=True)
    memory = torch.randn(2, 4, 8, dtype=torch.float64, requires_grad=True)
    for return_attention in (False, True):
        assert torch.autograd.gradcheck(
            lambda q, m, r=return_attention: attention(q, m, m, return_attention=r)[0], (x, memory)
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("kind", ["self", "cross"])
@pytest.mark.parametrize("masks", ["none", "padding", "causal+padding"])
def test_multi_head_equals_nn_multiheadattention(dtype: torch.dtype, kind: str, masks: str) -> None:
    B, T, S, D, H = 3, 5, 7 if kind == "cross" else 5, 32, 4
    ours = mt.MultiHeadAttention(D, H).to(dtype).eval()
    theirs = nn.MultiheadAttention(D, H, batch_first=True).to(dtype).eval()
    copy_attention_to_torch(ours, theirs)
    query = torch.randn(B, T, D, dtype=dtype)
    memory = query if kind == "self" else torch.randn(B, S, D, dtype=dtype)
    key_mask = torch.ones(B, S, dtype=torch.bool)
    key_mask[1, -2:] = False  # row 1 has two padded keys
    our_mask, torch_kwargs = None, {}
    if masks != "none":
        our_mask = key_mask[:, None, None, :]  # (B, 1, 1, S)
        torch_kwargs["key_padding_mask"] = mt.to_torch_key_padding_mask(key_mask)
    if masks == "causal+padding":
        causal = mt.causal_mask(T) if kind == "self" else torch.ones(T, S, dtype=torch.bool)
        our_mask = our_mask & causal
        torch_kwargs["attn_mask"] = ~causal  # torch's boolean attn_mask: True = forbidden
    expected, expected_weights = theirs(
        query, memory, memory, average_attn_weights=False, **torch_kwargs
    )
    fast, none = ours(query, memory, memory, our_mask)
    explicit, weights = ours(query, memory, memory, our_mask, return_attention=True)
    tolerance = TOLERANCE[dtype]
    assert none is None
    torch.testing.assert_close(fast, expected, atol=tolerance, rtol=0)
    torch.testing.assert_close(explicit, expected, atol=tolerance, rtol=0)
    torch.testing.assert_close(weights, expected_weights, atol=tolerance, rtol=0)  # per head


def test_fast_and_explicit_paths_agree_in_training_without_dropout() -> None:
    attention = mt.MultiHeadAttention(24, 3).train()
    x = torch.randn(2, 6, 24)
    fast, _ = attention(x, x, x)
    explicit, _ = attention(x, x, x, return_attention=True)
    torch.testing.assert_close(fast, explicit, atol=1e-5, rtol=0)


def test_distinct_key_and_value_tensors_are_projected_separately() -> None:
    ours = mt.MultiHeadAttention(16, 2).double().eval()
    theirs = nn.MultiheadAttention(16, 2, batch_first=True).double().eval()
    copy_attention_to_torch(ours, theirs)
    query, key, value = (torch.randn(2, n, 16, dtype=torch.float64) for n in (3, 4, 4))
    expected, _ = theirs(query, key, value)
    torch.testing.assert_close(ours(query, key, value)[0], expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_multi_head_equals_numpy_reference(masked: bool) -> None:
    attention = mt.MultiHeadAttention(12, 3).double().eval()
    query = torch.randn(2, 4, 12, dtype=torch.float64)
    memory = torch.randn(2, 6, 12, dtype=torch.float64)
    mask = torch.ones(2, 1, 4, 6, dtype=torch.bool)
    mask[0, :, :, 4:] = False
    mask[1, :, 1] = False  # one query of row 1 sees nothing
    mask = mask if masked else None
    out, weights = attention(query, memory, memory, mask, return_attention=True)
    expected, expected_weights = reference.multi_head_attention(
        query.numpy(),
        memory.numpy(),
        memory.numpy(),
        reference.weights_from_module(attention),
        num_heads=3,
        mask=None if mask is None else mask.numpy(),
    )
    np.testing.assert_allclose(out.detach().numpy(), expected, atol=1e-10, rtol=0)
    np.testing.assert_allclose(weights.detach().numpy(), expected_weights, atol=1e-10, rtol=0)


def test_reference_softmax_is_stable_for_large_scores() -> None:
    weights = reference.softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(weights, [[0.5, 0.5, 0.0]], atol=1e-15)


dims = st.integers(min_value=1, max_value=6)


@given(
    batch=st.integers(1, 3),
    heads=st.integers(1, 3),
    t=dims,
    s=dims,
    seed=st.integers(0, 2**16),
    masked=st.booleans(),
)
def test_weight_rows_are_probabilities_and_masked_keys_get_exactly_zero(
    batch: int, heads: int, t: int, s: int, seed: int, masked: bool
) -> None:
    generator = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, heads, t, 4, generator=generator) * 3
    k = torch.randn(batch, heads, s, 4, generator=generator) * 3
    v = torch.randn(batch, heads, s, 4, generator=generator)
    mask = random_mask((batch, 1, t, s), generator) if masked else None
    _, weights = mt.scaled_dot_product_attention(q, k, v, mask)
    assert (weights >= 0).all()
    row_sums = weights.sum(-1)
    if mask is None:
        torch.testing.assert_close(row_sums, torch.ones_like(row_sums))
    else:
        full = mask.expand_as(weights)
        assert torch.equal(weights[~full], torch.zeros_like(weights[~full]))
        has_key = full.any(-1)
        torch.testing.assert_close(row_sums[has_key], torch.ones_like(row_sums[has_key]))
        assert torch.equal(row_sums[~has_key], torch.zeros_like(row_sums[~has_key]))


@given(length=st.integers(2, 8), seed=st.integers(0, 2**16))
def test_self_attention_without_positions_is_permutation_equivariant(
    length: int, seed: int
) -> None:
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    attention = mt.MultiHeadAttention(16, 4).double().eval()
    x = torch.randn(1, length, 16, generator=generator, dtype=torch.float64)
    permutation = torch.randperm(length, generator=generator)
    out, weights = attention(x, x, x, return_attention=True)
    shuffled_out, shuffled_weights = attention(*[x[:, permutation]] * 3, return_attention=True)
    torch.testing.assert_close(shuffled_out, out[:, permutation], atol=1e-12, rtol=0)
    torch.testing.assert_close(
        shuffled_weights, weights[..., permutation, :][..., permutation], atol=1e-12, rtol=0
    )


@given(batch=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_batched_equals_one_by_one(batch: int, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    attention = mt.MultiHeadAttention(8, 2).double().eval()
    query = torch.randn(batch, 3, 8, generator=generator, dtype=torch.float64)
    memory = torch.randn(batch, 5, 8, generator=generator, dtype=torch.float64)
    mask = random_mask((batch, 1, 1, 5), generator)
    together, _ = attention(query, memory, memory, mask)
    for row in range(batch):
        alone, _ = attention(
            query[row : row + 1], memory[row : row + 1], memory[row : row + 1], mask[row : row + 1]
        )
        torch.testing.assert_close(alone, together[row : row + 1], atol=1e-12, rtol=0)


def test_attention_dropout_is_active_only_in_training() -> None:
    attention = mt.MultiHeadAttention(16, 2, dropout=0.5)
    x = torch.randn(2, 6, 16)
    attention.train()
    first, _ = attention(x, x, x, return_attention=True)
    second, _ = attention(x, x, x, return_attention=True)
    assert not torch.allclose(first, second)
    attention.eval()
    torch.testing.assert_close(attention(x, x, x)[0], attention(x, x, x)[0])


def test_three_dimensional_mask_applies_to_every_head_and_no_bias_variant() -> None:
    attention = mt.MultiHeadAttention(12, 3, bias=False).double().eval()
    query = torch.randn(2, 4, 12, dtype=torch.float64)
    memory = torch.randn(2, 5, 12, dtype=torch.float64)
    mask = torch.rand(2, 4, 5) > 0.4
    mask[..., 0] = True
    out3, weights3 = attention(query, memory, memory, mask, return_attention=True)
    out4, _ = attention(query, memory, memory, mask[:, None])
    torch.testing.assert_close(out3, out4, atol=1e-12, rtol=0)
    expected, expected_weights = reference.multi_head_attention(
        query.numpy(),
        memory.numpy(),
        memory.numpy(),
        reference.weights_from_module(attention),
        num_heads=3,
        mask=mask[:, None].numpy(),
    )
    np.testing.assert_allclose(out3.detach().numpy(), expected, atol=1e-10, rtol=0)
    np.testing.assert_allclose(weights3.detach().numpy(), expected_weights, atol=1e-10, rtol=0)


# -- mask and non-finite policies (issue 15) ----------------------------------------------------


@pytest.mark.parametrize("return_attention", [False, True])
def test_non_finite_inputs_are_refused_on_both_paths(return_attention: bool) -> None:
    attention = mt.MultiHeadAttention(8, 2).eval()
    x = torch.randn(2, 3, 8)
    for value in (float("nan"), float("inf"), float("-inf")):
        bad = x.clone()
        bad[1, 2, 0] = value
        for args, name in (((bad, x, x), "query"), ((x, bad, x), "key"), ((x, x, bad), "value")):
            with pytest.raises(ValueError, match=f"{name} holds NaN or infinite"):
                attention(*args, return_attention=return_attention)
        with pytest.raises(ValueError, match="query holds NaN"):
            attention(bad, bad, bad, return_attention=return_attention)  # self-attention


def test_mask_forms_agree_on_both_paths_and_ambiguous_2d_masks_are_refused() -> None:
    attention = mt.MultiHeadAttention(8, 2).eval()
    B, T, S = 3, 3, 5
    query, memory = torch.randn(B, T, 8), torch.randn(B, S, 8)
    keys = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    padding = keys[:, None, None, :]  # (B, 1, 1, S): the padding form
    per_sentence = keys[:, None, :].expand(B, T, S)  # (B, T, S)
    outputs = []
    for mask in (padding, per_sentence):
        for return_attention in (False, True):
            out, weights = attention(query, memory, memory, mask, return_attention=return_attention)
            outputs.append(out)
            if weights is not None:
                assert weights[~padding.expand(B, 2, T, S)].abs().max() == 0  # padded keys
    for out in outputs[1:]:
        torch.testing.assert_close(out, outputs[0], atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="ambiguous"):
        attention(query, memory, memory, keys)  # (B, S) where (T, S) is expected and B == T
    one_row = torch.randn(1, T, 8)  # B == 1: a (T, S) mask is unambiguous
    window = torch.ones(T, S, dtype=torch.bool).tril()
    fast, _ = attention(one_row, memory[:1], memory[:1], window)
    slow, _ = attention(one_row, memory[:1], memory[:1], window[None], return_attention=True)
    torch.testing.assert_close(fast, slow, atol=1e-6, rtol=0)
