"""The Transformer's building blocks: feed-forward, residual + LayerNorm, encoder and decoder
layers.

Post-LN versus pre-LN. The paper wraps every sublayer as ``LayerNorm(x + Sublayer(x))``
(post-LN): the normalisation sits on the residual stream itself, after the sum. Many later
implementations use ``x + Sublayer(LayerNorm(x))`` (pre-LN): the residual stream is never
normalised inside the stack, so gradients reach early layers undiminished and training is
stable without a long warm-up (Xiong et al. 2020); a final LayerNorm after the last layer then
puts the stream back on a common scale. ``norm_first=False`` (the default) is the paper's
post-LN; ``norm_first=True`` is pre-LN. Both match ``torch.nn.Transformer*Layer`` with the
same flag.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn

from minitransformer.attention import KeyValues, MultiHeadAttention
from minitransformer.config import _check_bool, _check_dropout, _check_eps, _check_positive_int

SublayerResult = tuple[Tensor, Tensor | None]


class FeedForward(nn.Module):
    """FFN(x) = max(0, x W1 + b1) W2 + b2, applied to every position separately (D -> F -> D).

    The same two matrices act on each position: attention mixes information across
    positions, this sublayer transforms each position's vector on its own.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0) -> None:
        super().__init__()
        _check_positive_int("d_model", d_model)
        _check_positive_int("d_ff", d_ff)
        _check_dropout("dropout", dropout)
        self.d_model = d_model
        self.linear1 = nn.Linear(d_model, d_ff)  # W1, b1: D -> F
        self.linear2 = nn.Linear(d_ff, d_model)  # W2, b2: F -> D
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.size(-1) != self.d_model or not x.dtype.is_floating_point:
            raise ValueError(
                f"x must be floating point of shape (..., {self.d_model}), got "
                f"{tuple(x.shape)} {x.dtype}"
            )
        hidden = F.relu(self.linear1(x))  # (B, T, F)
        return self.linear2(self.dropout(hidden))  # (B, T, D)


class ResidualLayerNorm(nn.Module):
    """One sublayer wrapped in a residual connection and LayerNorm, with dropout on the
    sublayer's output:

    * post-LN (paper):  LayerNorm(x + Dropout(Sublayer(x)))
    * pre-LN:           x + Dropout(Sublayer(LayerNorm(x)))
    """

    def __init__(self, d_model: int, dropout: float, norm_first: bool, eps: float = 1e-5):
        super().__init__()
        _check_positive_int("d_model", d_model)
        _check_dropout("dropout", dropout)
        _check_bool("norm_first", norm_first)
        _check_eps("layer_norm_eps", eps)
        self.norm = nn.LayerNorm(d_model, eps=eps)
        self.dropout = nn.Dropout(dropout)
        self.norm_first = norm_first

    def forward(self, x: Tensor, sublayer: Callable[[Tensor], SublayerResult]) -> SublayerResult:
        """``sublayer`` maps (B, T, D) to ((B, T, D), extra); extra (e.g. attention weights)
        is passed through untouched."""
        if self.norm_first:
            out, extra = sublayer(self.norm(x))
            return x + self.dropout(out), extra
        out, extra = sublayer(x)
        return self.norm(x + self.dropout(out)), extra


def _check_layer_arguments(
    d_model: object,
    num_heads: object,
    d_ff: object,
    dropout: object,
    norm_first: object,
    layer_norm_eps: object,
) -> None:
    """The checks of TransformerConfig, for layers built on their own."""
    for name, value in (("d_model", d_model), ("num_heads", num_heads), ("d_ff", d_ff)):
        _check_positive_int(name, value)
    _check_dropout("dropout", dropout)
    _check_bool("norm_first", norm_first)
    _check_eps("layer_norm_eps", layer_norm_eps)


class EncoderLayer(nn.Module):
    """Self-attention, then feed-forward, each inside residual + LayerNorm."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        _check_layer_arguments(d_model, num_heads, d_ff, dropout, norm_first, layer_norm_eps)
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.attention_block = ResidualLayerNorm(d_model, dropout, norm_first, layer_norm_eps)
        self.feed_forward_block = ResidualLayerNorm(d_model, dropout, norm_first, layer_norm_eps)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, return_attention: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """x: (B, S, D); mask: bool broadcastable to (B, H, S, S), e.g. padding (B, 1, 1, S).
        Returns (B, S, D) and the self-attention weights (B, H, S, S) or None."""
        x, weights = self.attention_block(
            x, lambda h: self.self_attention(h, h, h, mask, return_attention=return_attention)
        )
        x, _ = self.feed_forward_block(x, lambda h: (self.feed_forward(h), None))
        return x, weights  # (B, S, D), (B, H, S, S) | None


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder attention, then feed-forward, each inside
    residual + LayerNorm."""

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        _check_layer_arguments(d_model, num_heads, d_ff, dropout, norm_first, layer_norm_eps)
        self.self_attention = MultiHeadAttention(d_model, num_heads, dropout)
        self.cross_attention = MultiHeadAttention(d_model, num_heads, dropout)
        self.feed_forward = FeedForward(d_model, d_ff, dropout)
        self.self_attention_block = ResidualLayerNorm(d_model, dropout, norm_first, layer_norm_eps)
        self.cross_attention_block = ResidualLayerNorm(d_model, dropout, norm_first, layer_norm_eps)
        self.feed_forward_block = ResidualLayerNorm(d_model, dropout, norm_first, layer_norm_eps)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        self_mask: Tensor | None = None,
        cross_mask: Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """x: (B, T, D) the target so far; memory: (B, S, D) the encoder's output.

        self_mask: broadcastable to (B, H, T, T), normally look-ahead AND target padding.
        cross_mask: broadcastable to (B, H, T, S), normally the source padding (B, 1, 1, S).
        Returns (B, T, D), self weights (B, H, T, T) and cross weights (B, H, T, S) (or None).
        """
        x, self_weights = self.self_attention_block(
            x, lambda h: self.self_attention(h, h, h, self_mask, return_attention=return_attention)
        )
        x, cross_weights = self.cross_attention_block(
            x,
            lambda h: self.cross_attention(
                h, memory, memory, cross_mask, return_attention=return_attention
            ),
        )
        x, _ = self.feed_forward_block(x, lambda h: (self.feed_forward(h), None))
        return x, self_weights, cross_weights

    def step(
        self,
        x: Tensor,
        self_cached: KeyValues,
        cross_cached: KeyValues,
        self_mask: Tensor | None = None,
        cross_mask: Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, KeyValues]:
        """``forward`` for the T new target positions only, with cached keys and values.

        x: (B, T, D) the new positions. self_cached: (B, H, L, Dh) keys/values of the L earlier
        positions of this layer's self-attention; cross_cached: (B, H, S, Dh) those of the
        memory (``cross_attention.key_values(memory)``, computed once).
        self_mask: broadcastable to (B, H, T, L + T); cross_mask: to (B, H, T, S).
        Returns (B, T, D), self weights (B, H, T, L + T), cross weights (B, H, T, S) (or None)
        and the self-attention keys/values now held, (B, H, L + T, Dh).
        """

        def self_sublayer(h: Tensor) -> tuple[Tensor, tuple[Tensor | None, KeyValues]]:
            out, weights, held = self.self_attention.attend(
                h, self_cached, self_mask, append=True, return_attention=return_attention
            )
            return out, (weights, held)

        x, (self_weights, self_held) = self.self_attention_block(x, self_sublayer)
        x, cross_weights = self.cross_attention_block(
            x,
            lambda h: self.cross_attention.attend(
                h, cross_cached, cross_mask, append=False, return_attention=return_attention
            )[:2],
        )
        x, _ = self.feed_forward_block(x, lambda h: (self.feed_forward(h), None))
        return x, self_weights, cross_weights, self_held
