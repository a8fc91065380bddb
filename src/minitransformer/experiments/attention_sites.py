"""Where attention runs inside a Transformer, and what it reads there, caught in the act.

Every ``MultiHeadAttention`` of a model gets a forward pre-hook that records the query, key,
value and mask it was called with. Three places show up (notes §12):

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

from torch import Tensor, nn

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
    key: Tensor  # (B, S, D)
    value: Tensor  # (B, S, D)
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

    for place, layer, module in attention_modules(model):
        handles.append(module.register_forward_pre_hook(hook_for(place, layer), with_kwargs=True))
    try:
        yield calls
    finally:
        for handle in handles:
            handle.remove()


def count_calls(calls: list[AttentionCall]) -> Counter:
    """How many times attention ran in each place."""
    return Counter(call.place for call in calls)


def sources_table(calls: list[AttentionCall], *, layer: int = 0) -> list[dict[str, object]]:
    """One row per place (first call at ``layer``): the shapes read and whether query, key and
    value are one and the same tensor."""
    rows, seen = [], set()
    for call in calls:
        if call.layer != layer or call.place in seen:
            continue
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


__all__ = [
    "CROSS",
    "DECODER_SELF",
    "ENCODER_SELF",
    "PLACES",
    "AttentionCall",
    "attention_modules",
    "count_calls",
    "recording",
    "sources_table",
]
