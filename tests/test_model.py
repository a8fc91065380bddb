"""Layers and the whole model against torch.nn.Transformer, plus the model's properties."""

from __future__ import annotations

import pytest
import torch
from conftest import copy_decoder_layer, copy_encoder_layer, randomise_norms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import minitransformer as mt
from minitransformer import torch_reference

D, H, F_, N = 32, 4, 64, 2


def small_config(**overrides: object) -> mt.TransformerConfig:
    values = dict(
        src_vocab_size=30,
        tgt_vocab_size=25,
        d_model=D,
        num_heads=H,
        num_layers=N,
        d_ff=F_,
        dropout=0.0,
        max_len=20,
    )
    return mt.TransformerConfig(**{**values, **overrides})


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_equals_torch(norm_first: bool) -> None:
    ours = mt.EncoderLayer(D, H, F_, dropout=0.0, norm_first=norm_first).double().eval()
    randomise_norms(ours)
    theirs = (
        nn.TransformerEncoderLayer(D, H, F_, 0.0, batch_first=True, norm_first=norm_first)
        .double()
        .eval()
    )
    copy_encoder_layer(ours, theirs)
    x = torch.randn(3, 6, D, dtype=torch.float64)
    keep = torch.ones(3, 6, dtype=torch.bool)
    keep[2, 4:] = False
    out, weights = ours(x, keep[:, None, None, :], return_attention=True)
    expected = theirs(x, src_key_padding_mask=~keep)
    torch.testing.assert_close(out[keep], expected[keep], atol=1e-10, rtol=0)
    assert weights.shape == (3, H, 6, 6)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_equals_torch(norm_first: bool) -> None:
    ours = mt.DecoderLayer(D, H, F_, dropout=0.0, norm_first=norm_first).double().eval()
    randomise_norms(ours)
    theirs = (
        nn.TransformerDecoderLayer(D, H, F_, 0.0, batch_first=True, norm_first=norm_first)
        .double()
        .eval()
    )
    copy_decoder_layer(ours, theirs)
    x = torch.randn(2, 5, D, dtype=torch.float64)
    memory = torch.randn(2, 7, D, dtype=torch.float64)
    source_keep = torch.ones(2, 7, dtype=torch.bool)
    source_keep[0, 5:] = False
    out, self_w, cross_w = ours(
        x, memory, mt.causal_mask(5), source_keep[:, None, None, :], return_attention=True
    )
    expected = theirs(x, memory, tgt_mask=~mt.causal_mask(5), memory_key_padding_mask=~source_keep)
    torch.testing.assert_close(out, expected, atol=1e-10, rtol=0)
    assert self_w.shape == (2, H, 5, 5) and cross_w.shape == (2, H, 5, 7)


def build_torch_twin(model: mt.Transformer) -> nn.Transformer:
    """nn.Transformer with our weights (post-LN stacks without PyTorch's final LayerNorm)."""
    return torch_reference.torch_twin(model)


def padded_batch(
    config: mt.TransformerConfig, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    source = torch.randint(4, config.src_vocab_size, (3, 9), generator=generator)
    target = torch.randint(4, config.tgt_vocab_size, (3, 6), generator=generator)
    source[1, 6:] = config.pad_id
    source[2, 3:] = config.pad_id
    target[2, 4:] = config.pad_id
    return source, target


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("norm_first", [False, True])
def test_whole_model_equals_torch_transformer(norm_first: bool, dtype: torch.dtype) -> None:
    config = small_config(norm_first=norm_first)
    model = mt.Transformer(config).to(dtype).eval()
    randomise_norms(model)
    twin = build_torch_twin(model)
    source, target = padded_batch(config, torch.Generator().manual_seed(4))
    with torch.no_grad():
        embedded_source = model.source_positions(model.source_embedding(source))
        embedded_target = model.target_positions(model.target_embedding(target))
        core = twin(
            embedded_source,
            embedded_target,
            tgt_mask=~mt.causal_mask(6),
            src_key_padding_mask=source == config.pad_id,
            tgt_key_padding_mask=target == config.pad_id,
            memory_key_padding_mask=source == config.pad_id,
        )
        expected = model.output_projection(core)
        logits = model(source, target).logits
        with_maps = model(source, target, return_attention=True).logits
    real = target != config.pad_id  # padded target rows are never read by a loss
    tolerance = 1e-10 if dtype == torch.float64 else 1e-5
    torch.testing.assert_close(logits[real], expected[real], atol=tolerance, rtol=0)
    torch.testing.assert_close(with_maps[real], expected[real], atol=tolerance, rtol=0)


def test_attention_maps_have_documented_shapes_and_are_probabilities() -> None:
    config = small_config()
    model = mt.Transformer(config).eval()
    source, target = padded_batch(config, torch.Generator().manual_seed(5))
    out = model(source, target, return_attention=True)
    maps = out.attention
    assert out.logits.shape == (3, 6, config.tgt_vocab_size)
    assert [m.shape for m in maps.encoder] == [(3, H, 9, 9)] * N
    assert [m.shape for m in maps.decoder_self] == [(3, H, 6, 6)] * N
    assert [m.shape for m in maps.cross] == [(3, H, 6, 9)] * N
    for weights in maps.encoder + maps.cross:
        assert torch.equal(weights[2, ..., 3:], torch.zeros_like(weights[2, ..., 3:]))
        torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))
    for weights in maps.decoder_self:
        assert torch.equal(weights.triu(1), torch.zeros_like(weights))  # no look-ahead
    assert model(source, target).attention is None
    assert not any(
        isinstance(v, torch.Tensor) and v.dim() == 4
        for m in model.modules()
        for v in vars(m).values()
    ), "maps stashed on modules"


def test_encode_then_decode_equals_forward() -> None:
    config = small_config()
    model = mt.Transformer(config).eval()
    source, target = padded_batch(config, torch.Generator().manual_seed(6))
    encoded = model.encode(source, return_attention=True)
    decoded = model.decode(target, encoded, return_attention=True)
    whole = model(source, target, return_attention=True)
    torch.testing.assert_close(decoded.logits, whole.logits)
    torch.testing.assert_close(decoded.cross_attention[-1], whole.attention.cross[-1])
    assert encoded.source_mask.dtype == torch.bool and encoded.source_mask.shape == (3, 9)


@pytest.fixture(scope="module")
def float64_model() -> mt.Transformer:
    torch.manual_seed(11)
    return mt.Transformer(small_config()).double().eval()


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_causality_future_target_tokens_do_not_change_earlier_outputs(
    float64_model: mt.Transformer, cut: int, seed: int
) -> None:
    torch.manual_seed(seed)
    model = float64_model
    config = model.config
    source, target = padded_batch(config, torch.Generator().manual_seed(seed))
    changed = target.clone()
    changed[:, cut:] = torch.randint(4, config.tgt_vocab_size, changed[:, cut:].shape)
    with torch.no_grad():
        before = model(source, target).logits
        after = model(source, changed).logits
    torch.testing.assert_close(after[:, :cut], before[:, :cut], atol=1e-12, rtol=0)


@settings(max_examples=15)
@given(seed=st.integers(0, 2**16))
def test_padding_invariance_pad_positions_content_is_irrelevant(seed: int) -> None:
    """Whatever embedding the pad token has, real positions give the same logits; and a
    sentence padded to any length gives the same logits as alone."""
    torch.manual_seed(seed)
    config = small_config(num_layers=1)
    model = mt.Transformer(config).double().eval()
    source = torch.randint(4, config.src_vocab_size, (1, 5))
    target = torch.randint(4, config.tgt_vocab_size, (1, 4))
    pad = config.pad_id
    padded_source = torch.cat([source, torch.full((1, 4), pad)], dim=1)
    padded_target = torch.cat([target, torch.full((1, 3), pad)], dim=1)
    with torch.no_grad():
        alone = model(source, target).logits
        padded = model(padded_source, padded_target).logits[:, :4]
        model.source_embedding.weight[pad] = torch.randn(config.d_model)
        model.target_embedding.weight[pad] = torch.randn(config.d_model)
        repainted = model(padded_source, padded_target).logits[:, :4]
    torch.testing.assert_close(padded, alone, atol=1e-12, rtol=0)
    torch.testing.assert_close(repainted, alone, atol=1e-12, rtol=0)


def test_batched_equals_one_by_one_for_the_model() -> None:
    config = small_config()
    model = mt.Transformer(config).double().eval()
    source, target = padded_batch(config, torch.Generator().manual_seed(7))
    with torch.no_grad():
        together = model(source, target).logits
        for row in range(3):
            keep_source = source[row][source[row] != config.pad_id][None]
            keep_target = target[row][target[row] != config.pad_id][None]
            alone = model(keep_source, keep_target).logits
            torch.testing.assert_close(
                alone, together[row : row + 1, : keep_target.size(1)], atol=1e-12, rtol=0
            )


def test_learned_positions_and_shared_tied_embeddings() -> None:
    config = small_config(
        src_vocab_size=25, positional="learned", share_embeddings=True, tie_output=True
    )
    model = mt.Transformer(config)
    assert model.source_embedding is model.target_embedding
    assert model.output_projection.weight is model.target_embedding.weight
    assert model.output_projection.bias is None
    assert isinstance(model.source_positions, mt.LearnedPositionalEmbedding)
    source, target = padded_batch(config, torch.Generator().manual_seed(8))
    model(source, target).logits.sum().backward()
    assert model.source_positions.table.grad is not None


def test_model_trains_loss_goes_down() -> None:
    config = small_config()
    model = mt.Transformer(config)
    source, target = padded_batch(config, torch.Generator().manual_seed(9))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(20):
        logits = model(source, target[:, :-1]).logits
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, config.tgt_vocab_size), target[:, 1:].reshape(-1), ignore_index=0
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def _positions_by_hand(length: int, d_model: int) -> torch.Tensor:
    """PE in float64 straight from the paper's formula (no package code)."""
    pos = torch.arange(length, dtype=torch.float64)[:, None]
    i2 = torch.arange(0, d_model, 2, dtype=torch.float64)
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64), i2 / d_model)
    table = torch.zeros(length, d_model, dtype=torch.float64)
    table[:, 0::2], table[:, 1::2] = torch.sin(angle), torch.cos(angle)
    return table


@pytest.mark.parametrize("via_float32", [False, True])
def test_float64_model_from_token_ids_equals_torch(via_float32: bool) -> None:
    """From token ids: embedding * sqrt(D) + PE (computed here in float64) through
    nn.Transformer equals our model in float64 to 1e-10, also for a model that was float32
    before ``.double()`` (its positional table must not stay rounded to float32)."""
    config = small_config()
    model = mt.Transformer(config)
    model = (model.float() if via_float32 else model).double().eval()
    randomise_norms(model)
    twin = build_torch_twin(model)
    source, target = padded_batch(config, torch.Generator().manual_seed(7))
    scale = config.d_model**0.5
    with torch.no_grad():
        src = nn.functional.embedding(source, model.source_embedding.weight) * scale
        tgt = nn.functional.embedding(target, model.target_embedding.weight) * scale
        src = src + _positions_by_hand(source.size(1), config.d_model)
        tgt = tgt + _positions_by_hand(target.size(1), config.d_model)
        core = twin(
            src,
            tgt,
            tgt_mask=~mt.causal_mask(target.size(1)),
            src_key_padding_mask=source == config.pad_id,
            tgt_key_padding_mask=target == config.pad_id,
            memory_key_padding_mask=source == config.pad_id,
        )
        expected = model.output_projection(core)
        logits = model(source, target).logits
    real = target != config.pad_id
    torch.testing.assert_close(logits[real], expected[real], atol=1e-10, rtol=0)
    table = model.source_positions.positions(9, torch.float64, torch.device("cpu"))
    torch.testing.assert_close(table, _positions_by_hand(9, config.d_model), atol=1e-12, rtol=0)
