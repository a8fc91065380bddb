"""Chapter 7's mask guarantees, checked on a small untrained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitransformer as mt
from minitransformer.experiments import masking


@pytest.fixture
def model() -> mt.Transformer:
    torch.manual_seed(0)
    config = mt.TransformerConfig.small(12, 12, d_model=16, num_heads=2, d_ff=32, dropout=0.1)
    return mt.Transformer(config).eval()


def test_padded_batch() -> None:
    vocab = mt.Vocab(["어제", "카페", "갔었어"])
    batch = masking.padded_batch(vocab, ["어제 카페 갔었어", "카페"])
    assert batch.tolist() == [[4, 5, 6], [5, 0, 0]]


def test_pad_contents_do_not_matter(model: mt.Transformer) -> None:
    source = torch.tensor([[4, 5, 6, 7], [4, 5, 0, 0]])
    memory, maps = masking.encode_with_pad_contents(model, source)
    noise = torch.randn(2, 16) * 100
    memory_noise, maps_noise = masking.encode_with_pad_contents(model, source, noise)
    real = source != 0
    torch.testing.assert_close(memory[real], memory_noise[real])
    assert not torch.allclose(memory[~real], memory_noise[~real])
    assert torch.all(maps[0][1, :, :, 2:] == 0)  # no query looks at a pad key
    torch.testing.assert_close(maps[0][1, :, :2], maps_noise[0][1, :, :2])  # real queries
    assert model.training is False


def test_look_ahead_mask_hides_the_future(model: mt.Transformer) -> None:
    source = torch.tensor([[4, 5, 6]])
    target = torch.tensor([[1, 4, 5, 6, 7]])
    changed = target.clone()
    changed[0, 3] = 9
    masked = masking.decoder_logits(model, source, target)
    masked_changed = masking.decoder_logits(model, source, changed)
    assert torch.equal(masked[:, :3], masked_changed[:, :3])
    assert not torch.allclose(masked[:, 3:], masked_changed[:, 3:])
    torch.testing.assert_close(masked, model(source, target).logits)
    open_ = masking.decoder_logits(model, source, target, look_ahead=False)
    open_changed = masking.decoder_logits(model, source, changed, look_ahead=False)
    assert (open_[:, :3] - open_changed[:, :3]).abs().max() > 1e-4


def test_sequential_equals_parallel(model: mt.Transformer) -> None:
    source = torch.tensor([[4, 5, 6], [7, 8, 0]])
    target = torch.tensor([[1, 4, 5, 6], [1, 9, 10, 0]])
    sequential = masking.sequential_logits(model, source, target)
    parallel = model(source, target).logits
    torch.testing.assert_close(sequential[0], parallel[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(sequential[1, :3], parallel[1, :3], atol=1e-5, rtol=1e-5)


def test_reveal_rows_and_figure() -> None:
    from matplotlib.figure import Figure

    from minitransformer import viz

    viz.setup()
    weights = torch.tensor([[1.0, 0.0], [0.3, 0.7]])
    states = masking.reveal_rows(weights)
    assert len(states) == 2 and np.isnan(states[0][1]).all()
    np.testing.assert_allclose(states[1], weights.numpy())
    mask = mt.causal_mask(3)
    fig = masking.masks_figure([("look-ahead", mask, ["a", "b", "c"], ["a", "b", "c"])])
    assert isinstance(fig, Figure)
