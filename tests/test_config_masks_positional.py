"""Config presets and parameter counts, masks, and the positional table."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import minitransformer as mt


def closed_form_parameters(config: mt.TransformerConfig) -> int:
    """Count, written out from the architecture:

    attention  = 4 (D^2 + D)                        W_Q, W_K, W_V, W_O with biases
    FFN        = (D F + F) + (F D + D)              two linear layers
    LayerNorm  = 2 D                                gain and shift
    encoder layer = attention + FFN + 2 LayerNorm
    decoder layer = 2 attention + FFN + 3 LayerNorm
    embeddings = V_src D + V_tgt D  (one table if shared)
    output     = D V_tgt + V_tgt    (0 if tied: the weight is the target embedding, no bias)
    positions  = max_len D if learned (two tables), 0 if sinusoidal
    final norms (pre-LN only) = 2 x 2 D
    """
    D, F, N = config.d_model, config.d_ff, config.num_layers
    attention = 4 * (D * D + D)
    feed_forward = D * F + F + F * D + D
    norm = 2 * D
    encoder_layer = attention + feed_forward + 2 * norm
    decoder_layer = 2 * attention + feed_forward + 3 * norm
    embeddings = config.src_vocab_size * D + (
        0 if config.share_embeddings else config.tgt_vocab_size * D
    )
    output = 0 if config.tie_output else D * config.tgt_vocab_size + config.tgt_vocab_size
    positions = 2 * config.max_len * D if config.positional == "learned" else 0
    final_norms = 2 * norm if config.norm_first else 0
    return N * (encoder_layer + decoder_layer) + embeddings + output + positions + final_norms


@pytest.mark.parametrize(
    "config",
    [
        mt.TransformerConfig.paper_base(),
        mt.TransformerConfig.paper_big(),
        mt.TransformerConfig.small(97, 83),
        mt.TransformerConfig.small(97, 83, norm_first=True, positional="learned"),
    ],
    ids=["paper_base", "paper_big", "small", "small_pre_ln_learned"],
)
def test_parameter_count_matches_closed_form(config: mt.TransformerConfig) -> None:
    with torch.device("meta"):  # shapes only: the big model would take 1 GB of memory
        model = mt.Transformer(config)
    assert model.num_parameters() == closed_form_parameters(config)


def test_paper_sizes_are_close_to_the_reported_65m_and_213m() -> None:
    base = closed_form_parameters(mt.TransformerConfig.paper_base())
    big = closed_form_parameters(mt.TransformerConfig.paper_big())
    assert base == 63_082_496 and abs(base / 65e6 - 1) < 0.05
    assert big == 214_245_376 and abs(big / 213e6 - 1) < 0.01


def test_presets_hold_the_papers_table_3_rows() -> None:
    base, big = mt.TransformerConfig.paper_base(), mt.TransformerConfig.paper_big()
    assert (base.d_model, base.num_heads, base.num_layers, base.d_ff, base.dropout) == (
        512,
        8,
        6,
        2048,
        0.1,
    )
    assert (big.d_model, big.num_heads, big.num_layers, big.d_ff, big.dropout) == (
        1024,
        16,
        6,
        4096,
        0.3,
    )
    assert base.d_head == 64 and big.d_head == 64
    small = mt.TransformerConfig.small(100, 90)
    assert (small.d_model, small.num_heads, small.num_layers, small.d_ff) == (64, 4, 2, 256)


def test_config_round_trips_through_a_dict() -> None:
    config = mt.TransformerConfig.small(50, 40, norm_first=True)
    assert mt.TransformerConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown TransformerConfig fields: \\['heads'\\]"):
        mt.TransformerConfig.from_dict({**config.to_dict(), "heads": 3})


def test_padding_mask_and_conversions() -> None:
    ids = torch.tensor([[5, 6, 0, 0], [7, 8, 9, 0]])
    mask = mt.padding_mask(ids, pad_id=0)
    assert mask.tolist() == [[True, True, False, False], [True, True, True, False]]
    assert torch.equal(mt.to_torch_key_padding_mask(mask), ids == 0)
    float_mask = mt.to_torch_attn_mask(mt.causal_mask(3))
    assert float_mask.tolist() == [[0, -math.inf, -math.inf], [0, 0, -math.inf], [0, 0, 0]]


def test_causal_mask_is_lower_triangular() -> None:
    mask = mt.causal_mask(4)
    assert mask.dtype == torch.bool
    assert torch.equal(mask, torch.tril(torch.ones(4, 4, dtype=torch.bool)))


def test_combine_masks() -> None:
    causal = mt.causal_mask(3)
    keys = torch.tensor([[True, True, False]])[:, None, None, :]
    combined = mt.combine_masks(causal, None, keys)
    assert combined.shape == (1, 1, 3, 3)
    assert combined[0, 0].tolist() == [
        [True, False, False],
        [True, True, False],
        [True, True, False],
    ]
    assert mt.combine_masks(None, None) is None


def test_sinusoidal_table_matches_the_formula_entry_by_entry() -> None:
    table = mt.sinusoidal_encoding(50, 16, dtype=torch.float64).numpy()
    for pos in (0, 1, 7, 49):
        for i in range(8):
            angle = pos / 10000 ** (2 * i / 16)
            assert table[pos, 2 * i] == pytest.approx(math.sin(angle), abs=1e-12)
            assert table[pos, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-12)


def test_sinusoidal_shift_is_a_rotation_and_dot_products_depend_on_distance() -> None:
    D = 32
    table = mt.sinusoidal_encoding(120, D, dtype=torch.float64).numpy()
    k = 5
    frequencies = 1 / 10000 ** (np.arange(0, D, 2) / D)
    rotation = np.zeros((D, D))
    for i, w in enumerate(frequencies):  # each (sin, cos) pair turns by the angle k * w
        c, s = math.cos(k * w), math.sin(k * w)
        rotation[2 * i : 2 * i + 2, 2 * i : 2 * i + 2] = [[c, s], [-s, c]]
    np.testing.assert_allclose(table[k:], table[:-k] @ rotation.T, atol=1e-10)
    gram = table @ table.T
    np.testing.assert_allclose(gram[10, 17], gram[40, 47], atol=1e-10)


def test_positional_modules_scale_and_add() -> None:
    sinusoidal = mt.PositionalEncoding(8, max_len=10)
    x = torch.randn(2, 4, 8)
    torch.testing.assert_close(sinusoidal(x), x * math.sqrt(8) + mt.sinusoidal_encoding(4, 8))
    assert not list(sinusoidal.parameters())
    learned = mt.LearnedPositionalEmbedding(8, max_len=10)
    torch.testing.assert_close(learned(x), x * math.sqrt(8) + learned.table[:4])
