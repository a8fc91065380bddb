"""Where attention runs inside a Transformer, and what it reads there, caught in the act.

Every ``MultiHeadAttention`` of a model gets a forward pre-hook that records the query, key,
value and mask it was called with (and, during cached decoding, which calls
``MultiHeadAttention.attend`` instead of ``forward``, a wrapper that records the query and mask
of each ``attend`` call, its keys and values coming from the cache). Three places show up
(notes §12):

- encoder self-attention: query = key = value = the encoder's stream (B, S, D);
- masked decoder self-attention: query = key = value = the decoder's stream (B, T, D), with
  the look-ahead mask;
- encoder-decoder ("cross") attention: query = the decoder's stream (B, T, D), key = value =
  the encoder's output, the memory (B, S, D).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from minitransformer.attention import scaled_dot_product_attention
from minitransformer.model import Transformer

ENCODER_SELF = "encoder self-attention"
DECODER_SELF = "masked decoder self-attention"
CROSS = "encoder-decoder attention"
PLACES = (ENCODER_SELF, DECODER_SELF, CROSS)


@dataclass(frozen=True)
class AttentionCall:
    """One call of one attention module: its place, its layer and the tensors it read."""

    place: str
    layer: int
    query: Tensor  # (B, T, D) or (B, S, D)
    key: Tensor | None  # (B, S, D); None for a cached call (its keys come from the cache)
    value: Tensor | None  # (B, S, D); None for a cached call
    mask: Tensor | None

    @property
    def query_is_key(self) -> bool:
        return self.query is self.key

    @property
    def key_is_value(self) -> bool:
        return self.key is self.value


def attention_modules(model: Transformer) -> list[tuple[str, int, nn.Module]]:
    """(place, layer, module) for every attention module of ``model``, in call order."""
    modules = [
        (ENCODER_SELF, i, layer.self_attention) for i, layer in enumerate(model.encoder.layers)
    ]
    for i, layer in enumerate(model.decoder.layers):
        modules += [(DECODER_SELF, i, layer.self_attention), (CROSS, i, layer.cross_attention)]
    return modules


@contextmanager
def recording(model: Transformer) -> Iterator[list[AttentionCall]]:
    """``with recording(model) as calls: model(...)`` fills ``calls`` with every attention
    call made inside the block (the hooks are removed on exit)."""
    calls: list[AttentionCall] = []
    handles = []

    def hook_for(place: str, layer: int) -> Callable:
        def hook(module, args, kwargs):
            query, key, value, *rest = args
            mask = rest[0] if rest else kwargs.get("mask")
            calls.append(AttentionCall(place, layer, query, key, value, mask))

        return hook

    def attend_for(place: str, layer: int, attend: Callable) -> Callable:
        def recorded_attend(query, cached, mask=None, **options):
            calls.append(AttentionCall(place, layer, query, None, None, mask))
            return attend(query, cached, mask, **options)

        return recorded_attend

    modules = attention_modules(model)
    for place, layer, module in modules:
        handles.append(module.register_forward_pre_hook(hook_for(place, layer), with_kwargs=True))
        module.attend = attend_for(place, layer, module.attend)  # an instance attribute, for now
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()
        for _, _, module in modules:
            del module.attend  # the class's method again


def count_calls(calls: list[AttentionCall]) -> Counter:
    """How many times attention ran in each place."""
    return Counter(call.place for call in calls)


def sources_table(calls: list[AttentionCall], *, layer: int = 0) -> list[dict[str, object]]:
    """One row per place (first call at ``layer``): the shapes read and whether query, key and
    value are one and the same tensor."""
    rows, seen = [], set()
    for call in calls:
        if call.layer != layer or call.place in seen or call.key is None:
            continue  # (a cached call's keys and values come from the cache, not an input)
        seen.add(call.place)
        rows.append(
            {
                "place": call.place,
                "layer": call.layer,
                "query shape": tuple(call.query.shape),
                "key/value shape": tuple(call.key.shape),
                "query is key": call.query_is_key,
                "key is value": call.key_is_value,
                "mask shape": None if call.mask is None else tuple(call.mask.shape),
            }
        )
    return rows


class RNNWithAttention(nn.Module):
    """A GRU encoder-decoder with dot-product attention on top (after Bahdanau et al. 2015 and
    Luong et al. 2015), small and untrained: it shows where attention sits in an RNN model.

    At decoding step t the query is the decoder's hidden state s_t (B, 1, D); the keys and the
    values are all the encoder's hidden states (B, S, D). Attention runs once per step.
    """

    def __init__(self, src_vocab_size: int, tgt_vocab_size: int, d_model: int) -> None:
        super().__init__()
        self.source_embedding = nn.Embedding(src_vocab_size, d_model)
        self.target_embedding = nn.Embedding(tgt_vocab_size, d_model)
        self.encoder = nn.GRU(d_model, d_model, batch_first=True)
        self.decoder = nn.GRUCell(2 * d_model, d_model)  # input: previous word + context

    def forward(self, source_ids: Tensor, target_ids: Tensor) -> tuple[Tensor, int]:
        """source_ids (B, S), target_ids (B, T) -> the weights (B, T, S) and the number of
        attention calls made (one per target position)."""
        states, last = self.encoder(self.source_embedding(source_ids))  # (B, S, D), (1, B, D)
        hidden = last[0]  # (B, D): s_0
        context = torch.zeros_like(hidden)  # (B, D)
        rows, calls = [], 0
        for t in range(target_ids.size(1)):
            word = self.target_embedding(target_ids[:, t])  # (B, D)
            hidden = self.decoder(torch.cat([word, context], dim=-1), hidden)  # (B, D): s_t
            mixed, weights = scaled_dot_product_attention(hidden[:, None], states, states)
            calls += 1
            context = mixed[:, 0]  # (B, D)
            rows.append(weights[:, 0])  # (B, S)
        return torch.stack(rows, dim=1), calls  # (B, T, S)


def three_places_figure(
    encoder: Tensor, decoder_self: Tensor, cross: Tensor, source: list[str], decoder: list[str]
) -> Figure:
    """The three kinds of attention map side by side, each (queries, keys) on [0, 1]:
    encoder self (S, S), masked decoder self (T, T), encoder-decoder (T, S)."""
    from minitransformer.viz._style import PROBABILITY_CMAP, finish, new_figure

    panels = [
        (ENCODER_SELF, encoder, source, source),
        (DECODER_SELF, decoder_self, decoder, decoder),
        (CROSS, cross, decoder, source),
    ]
    fig = new_figure(13.0, 4.8)
    axes = fig.subplots(1, 3, width_ratios=[len(source), len(decoder), len(source)])
    for ax, (title, weights, queries, keys) in zip(axes, panels, strict=True):
        image = ax.imshow(torch.as_tensor(weights).numpy(), vmin=0, vmax=1, cmap=PROBABILITY_CMAP)
        ax.set_xticks(range(len(keys)), keys, rotation=90)
        ax.set_yticks(range(len(queries)), queries)
        ax.set(title=title, xlabel="key", ylabel="query")
    fig.colorbar(image, ax=axes, shrink=0.7, label="weight")
    return finish(fig)


__all__ = [
    "CROSS",
    "DECODER_SELF",
    "ENCODER_SELF",
    "PLACES",
    "AttentionCall",
    "RNNWithAttention",
    "attention_modules",
    "count_calls",
    "recording",
    "sources_table",
    "three_places_figure",
]
