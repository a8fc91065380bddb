"""torch_reference: torch.nn.Transformer holding the package's weights gives the same logits."""

from __future__ import annotations

import pytest
import torch

import minitransformer as mt
from minitransformer import torch_reference


def _config(**overrides: object) -> mt.TransformerConfig:
    return mt.TransformerConfig.small(30, 25, max_len=20, dropout=0.0, **overrides)


@pytest.mark.parametrize("norm_first", [False, True])
def test_twin_logits_equal_the_model_on_a_padded_batch(norm_first: bool) -> None:
    model = mt.Transformer(_config(norm_first=norm_first)).double().eval()
    source = torch.randint(4, 30, (3, 9))
    target = torch.randint(4, 25, (3, 6))
    source[1, 5:] = 0
    target[2, 3:] = 0
    twin = torch_reference.torch_twin(model)
    assert isinstance(twin, torch.nn.Transformer) and not twin.training
    assert (twin.encoder.norm is None) == (not norm_first)
    with torch.no_grad():
        ours = model(source, target).logits
    theirs = torch_reference.twin_logits(model, twin, source, target)
    real = target != 0
    torch.testing.assert_close(theirs[real], ours[real], atol=1e-10, rtol=0)


def test_twin_of_the_shipped_translator_agrees_in_float32(translator) -> None:
    source = torch.tensor([translator.src_vocab.encode("어제 카페 갔었어 거기 사람 많더라")])
    target = torch.tensor([translator.tgt_vocab.encode("I went to the cafe", add_sos=True)])
    twin = torch_reference.torch_twin(translator.model)
    with torch.no_grad():
        ours = translator.model(source, target).logits
    theirs = torch_reference.twin_logits(translator.model, twin, source, target)
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)


def test_twin_needs_a_package_transformer() -> None:
    with pytest.raises(TypeError, match="model must be a minitransformer Transformer"):
        torch_reference.torch_twin(torch.nn.Linear(2, 2))
