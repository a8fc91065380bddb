"""The three places attention runs, recorded with hooks on a small random Transformer."""

from __future__ import annotations

import torch

import minitransformer as mt
from minitransformer.experiments import attention_sites as sites


def _model() -> mt.Transformer:
    config = mt.TransformerConfig.small(20, 20, num_layers=2, d_model=16, num_heads=2, d_ff=32)
    return mt.Transformer(config).eval()


def test_recording_finds_three_places_with_their_sources() -> None:
    model = _model()
    source, target = torch.randint(3, 20, (1, 6)), torch.randint(3, 20, (1, 5))
    with torch.no_grad(), sites.recording(model) as calls:
        model(source, target)
        memory = model.encode(source).memory
    assert sites.count_calls(calls) == {
        sites.ENCODER_SELF: 4,
        sites.DECODER_SELF: 2,
        sites.CROSS: 2,
    }
    rows = {row["place"]: row for row in sites.sources_table(calls, layer=0)}
    assert list(rows) == list(sites.PLACES)
    assert rows[sites.ENCODER_SELF]["query shape"] == (1, 6, 16)
    assert rows[sites.DECODER_SELF]["mask shape"] == (1, 1, 5, 5)
    assert rows[sites.CROSS]["key/value shape"] == (1, 6, 16)
    assert rows[sites.CROSS]["query is key"] is False
    assert all(row["key is value"] for row in rows.values())
    cross = [c for c in calls if c.place == sites.CROSS]
    assert torch.equal(cross[-1].key, memory)
    # the hooks are gone after the block
    with torch.no_grad():
        model(source, target)
    assert len(calls) == 8


def test_modules_in_call_order() -> None:
    places = [(place, layer) for place, layer, _ in sites.attention_modules(_model())]
    assert places == [
        (sites.ENCODER_SELF, 0),
        (sites.ENCODER_SELF, 1),
        (sites.DECODER_SELF, 0),
        (sites.CROSS, 0),
        (sites.DECODER_SELF, 1),
        (sites.CROSS, 1),
    ]


def test_mask_passed_by_keyword_is_recorded() -> None:
    model = _model()
    x = torch.randn(1, 3, 16)
    mask = torch.ones(3, 3, dtype=torch.bool)
    with sites.recording(model) as calls:
        model.encoder.layers[0].self_attention(x, x, x, mask=mask)
    assert calls[0].mask is mask


def test_rnn_attention_runs_once_per_target_word() -> None:
    model = sites.RNNWithAttention(20, 12, 8)
    weights, calls = model(torch.randint(3, 20, (2, 6)), torch.randint(3, 12, (2, 4)))
    assert calls == 4
    assert weights.shape == (2, 4, 6)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4))


def test_three_places_figure() -> None:
    source, decoder = ["a", "b", "c"], ["<sos>", "x"]
    fig = sites.three_places_figure(
        torch.full((3, 3), 1 / 3),
        torch.tensor([[1.0, 0.0], [0.5, 0.5]]),
        torch.ones(2, 3) / 3,
        source,
        decoder,
    )
    assert [ax.get_title() for ax in fig.axes[:3]] == list(sites.PLACES)


def test_recording_counts_cached_and_uncached_decoding_alike() -> None:
    translator = mt.load_pretrained()
    model = translator.model
    source = translator.src_vocab.encode("어제 카페 갔었어")
    counts = {}
    for use_cache in (True, False):
        with sites.recording(model) as calls:
            words = mt.greedy_decode(model, source, use_cache=use_cache)
        counts[use_cache] = sites.count_calls(calls)
        assert sites.sources_table(calls)  # the encoder's call, with its key and value
    N, steps = model.config.num_layers, len(words) + 1
    assert counts[True] == counts[False]
    assert counts[True][sites.CROSS] == counts[True][sites.DECODER_SELF] == N * steps
    assert "attend" not in vars(model.decoder.layers[0].self_attention)  # the wrapper is gone
