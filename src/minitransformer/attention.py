"""Scaled dot-product attention and multi-head attention (Vaswani et al. 2017, section 3.2).

    Attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V
    MultiHead(Q, K, V) = Concat(head_1, ..., head_H) W^O
    head_h = Attention(Q W^Q_h, K W^K_h, V W^V_h)

Masks are boolean with True = "this query may attend to this key" (see ``masks.py``).

Mask policy (also in book/notation.md). ``MultiHeadAttention`` accepts a mask of shape

* (T, S): one mask for every sentence and head (e.g. the look-ahead mask);
* (B, T, S): one per sentence, the same for every head;
* (B | 1, H | 1, T | 1, S): the full form, e.g. a padding mask as (B, 1, 1, S).

A (B, S) padding mask has the shape of a (T, S) mask whenever B == T; read as (T, S) it would
hide the wrong keys. So a 2-D mask is refused when B == T > 1 (ambiguous): pass
``mask[None]`` for one (T, S) mask for every sentence, or ``mask[:, None, None, :]`` for a
padding mask. 1-D masks, masks on another device than the query, and any mask that does not
broadcast are refused. :func:`scaled_dot_product_attention` takes a mask broadcastable to its
(..., T, S) scores under torch's rules (no 1-D masks).

Non-finite policy: attention refuses query, key and value holding NaN or infinity
(``ValueError`` naming the argument), on both paths (the fused ``F.scaled_dot_product_attention``
and the explicit one), which would otherwise disagree (one can return a finite row where the other
returns NaN). A row whose mask allows no key gets all-zero weights on both paths.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check_finite(name: str, tensor: Tensor) -> None:
    if not tensor.dtype.is_floating_point:
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {tensor.dtype}")
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(
            f"{name} holds NaN or infinite values; attention refuses non-finite input "
            "(see the non-finite policy in minitransformer.attention)"
        )


def _check_mask(
    mask: Tensor | None,
    scores_shape: torch.Size | tuple[int, ...],
    device: torch.device | None = None,
) -> None:
    if mask is None:
        return
    if not isinstance(mask, Tensor):
        raise TypeError(f"mask must be a boolean torch.Tensor or None, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"mask must have dtype torch.bool (True = may attend), got {mask.dtype}")
    if mask.dim() < 2:
        raise ValueError(
            f"mask must have at least 2 dimensions (..., T, S), got shape {tuple(mask.shape)}"
        )
    if device is not None and mask.device != device:
        raise ValueError(f"mask is on device {mask.device}, but the query is on {device}")
    # Broadcasts to the scores' shape (and not beyond): each trailing size is 1 or the same.
    # (Written out: torch.broadcast_shapes costs more than a decoding step's attention.)
    fits = mask.dim() <= len(scores_shape) and all(
        size in (1, target)
        for size, target in zip(reversed(mask.shape), reversed(scores_shape), strict=False)
    )
    if not fits:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to the attention scores "
            f"of shape {tuple(scores_shape)} (..., T, S)"
        )


def scaled_dot_product_attention(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    mask: Tensor | None = None,
    *,
    dropout_p: float = 0.0,
) -> tuple[Tensor, Tensor]:
    r"""softmax(Q K^T / sqrt(d_k)) V, computed step by step so the weights can be returned.

    q: (..., T, Dh), k: (..., S, Dh), v: (..., S, Dv).
    mask: bool, broadcastable to (..., T, S); True = this query may look at this key.
    dropout_p: dropout on the weights before they mix the values (pass 0 in evaluation).
    Returns the output (..., T, Dv) and the weights (..., T, S), before dropout. Each weight
    row sums to 1, or is all zeros where the mask allows no key at all (no NaN, in the
    forward pass or the backward pass).
    """
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() < 2:
            raise ValueError(f"{name} must have at least 2 dimensions (..., length, width)")
    if q.size(-1) != k.size(-1):
        raise ValueError(
            f"q and k must share their last dimension, got {q.size(-1)} and {k.size(-1)}"
        )
    if k.size(-2) != v.size(-2):
        raise ValueError(f"k and v must have the same length S, got {k.size(-2)} and {v.size(-2)}")
    try:
        batch_shape = torch.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the leading dimensions of q {tuple(q.shape)}, k {tuple(k.shape)} and v "
            f"{tuple(v.shape)} do not broadcast"
        ) from None
    for name, tensor in (("q", q), ("k", k), ("v", v)):
        _check_finite(name, tensor)
    scores_shape = (*batch_shape, q.size(-2), k.size(-2))
    _check_mask(mask, scores_shape, q.device)
    _check_dropout_p(dropout_p)

    d_k = q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, S)
    if mask is None:
        weights = torch.softmax(scores, dim=-1)  # (..., T, S)
    else:
        # A row that may see no key would be softmax(-inf, ..., -inf) = NaN. Give such rows
        # finite scores first, then zero their weights: exact zeros, and zero gradients.
        row_has_key = mask.any(dim=-1, keepdim=True)  # (..., T, 1)
        scores = scores.masked_fill(~mask, float("-inf")).masked_fill(~row_has_key, 0.0)
        weights = torch.softmax(scores, dim=-1).masked_fill(~row_has_key, 0.0)
    mixing = F.dropout(weights, p=dropout_p) if dropout_p > 0.0 else weights
    return mixing @ v, weights  # (..., T, Dv), (..., T, S)


def _check_dropout_p(dropout_p: object) -> None:
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, numbers.Real):
        raise TypeError(f"dropout_p must be a number in [0, 1), got {type(dropout_p).__name__}")
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p={dropout_p!r} must be in [0, 1)")


@dataclass(frozen=True)
class KeyValues:
    """The keys and values of one attention, already projected and split into heads: what a
    key/value cache keeps between decoding steps (see ``MultiHeadAttention.attend``).

    keys, values: (B, H, L, Dh), L the number of positions they hold (0 for an empty cache).
    """

    keys: Tensor  # (B, H, L, Dh): K = x W^K, one row per position
    values: Tensor  # (B, H, L, Dh): V = x W^V

    def __post_init__(self) -> None:
        for name in ("keys", "values"):
            tensor = getattr(self, name)
            if not isinstance(tensor, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
            if tensor.dim() != 4:
                raise ValueError(f"{name} must have shape (B, H, L, Dh), got {tuple(tensor.shape)}")
        if self.keys.shape != self.values.shape:
            raise ValueError(
                f"keys {tuple(self.keys.shape)} and values {tuple(self.values.shape)} must have "
                "the same shape (B, H, L, Dh)"
            )

    @property
    def length(self) -> int:
        """L, the number of positions held."""
        return self.keys.size(2)

    def append(self, keys: Tensor, values: Tensor) -> KeyValues:
        """A new KeyValues with the T new positions' (B, H, T, Dh) keys and values after these
        (this one is left as it was)."""
        return KeyValues(
            torch.cat([self.keys, keys], dim=2),  # (B, H, L + T, Dh)
            torch.cat([self.values, values], dim=2),
        )

    def select_rows(self, rows: Tensor) -> KeyValues:
        """The batch rows ``rows`` (a 1-D index tensor; rows may repeat, as beams do)."""
        return KeyValues(self.keys.index_select(0, rows), self.values.index_select(0, rows))


class MultiHeadAttention(nn.Module):
    """H heads of scaled dot-product attention in parallel, each in Dh = D / H dimensions.

    ``w_q``, ``w_k``, ``w_v`` map D -> D (all H heads at once: head h owns output columns
    h*Dh .. (h+1)*Dh), ``w_o`` mixes the concatenated heads back to D. Used three ways:
    encoder self-attention (query = key = value = the source), masked decoder
    self-attention, and encoder-decoder ("cross") attention (query from the decoder, key =
    value = the encoder's output).

    Two paths give the same result: with ``return_attention=False`` the heads run through
    ``F.scaled_dot_product_attention`` (fused, fast); with ``return_attention=True`` they run
    through :func:`scaled_dot_product_attention` above, which returns the weights.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        for name, value in (("d_model", d_model), ("num_heads", num_heads)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
            if value <= 0:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if d_model % num_heads:
            raise ValueError(f"d_model={d_model} is not divisible by num_heads={num_heads}")
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
            raise TypeError(f"dropout must be a number in [0, 1), got {type(dropout).__name__}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout={dropout!r} must be in [0, 1)")
        if not isinstance(bias, bool):
            raise TypeError(f"bias must be True or False, got {type(bias).__name__}")
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_head = d_model // num_heads  # Dh
        self.dropout = dropout
        self.w_q = nn.Linear(d_model, d_model, bias=bias)  # W^Q for all heads: D -> H*Dh
        self.w_k = nn.Linear(d_model, d_model, bias=bias)  # W^K
        self.w_v = nn.Linear(d_model, d_model, bias=bias)  # W^V
        self.w_o = nn.Linear(d_model, d_model, bias=bias)  # W^O: concat(heads) -> D

    def _split_heads(self, x: Tensor) -> Tensor:
        B, L, D = x.shape
        return x.view(B, L, self.num_heads, self.d_head).transpose(1, 2)  # (B, H, L, Dh)

    def _project(self, query: Tensor, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Q = query W^Q, K = key W^K, V = value W^V, each split into heads (B, H, ., Dh).

        Self-attention projects one input three ways, so the three matrices are applied as one
        (D -> 3D) product; cross-attention does the same for K and V."""
        if query is key and key is value:
            weight = torch.cat([self.w_q.weight, self.w_k.weight, self.w_v.weight])
            bias = (
                None
                if self.w_q.bias is None
                else torch.cat([self.w_q.bias, self.w_k.bias, self.w_v.bias])
            )
            q, k, v = F.linear(query, weight, bias).chunk(3, dim=-1)
            return self._split_heads(q), self._split_heads(k), self._split_heads(v)
        return (self._split_heads(self.w_q(query)), *self._project_key_value(key, value))

    def _project_key_value(self, key: Tensor, value: Tensor) -> tuple[Tensor, Tensor]:
        """K = key W^K, V = value W^V, split into heads (B, H, S, Dh); one (D -> 2D) product
        when key is value."""
        if key is value:
            weight = torch.cat([self.w_k.weight, self.w_v.weight])
            bias = None if self.w_k.bias is None else torch.cat([self.w_k.bias, self.w_v.bias])
            k, v = F.linear(key, weight, bias).chunk(2, dim=-1)
        else:
            k, v = self.w_k(key), self.w_v(value)
        return self._split_heads(k), self._split_heads(v)

    def _check_inputs(self, query: Tensor, key: Tensor, value: Tensor) -> None:
        for name, tensor in (("query", query), ("key", key), ("value", value)):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
            if tensor.dim() != 3:
                raise ValueError(f"{name} must have shape (B, L, D), got {tuple(tensor.shape)}")
            if tensor.size(-1) != self.d_model:
                raise ValueError(
                    f"{name} has width {tensor.size(-1)}, expected d_model={self.d_model}"
                )
            if tensor.size(1) == 0:
                raise ValueError(f"{name} is an empty sequence (length 0)")
            if name == "query" or not (tensor is query or (name == "value" and tensor is key)):
                _check_finite(name, tensor)
        if not query.size(0) == key.size(0) == value.size(0):
            raise ValueError(
                f"batch sizes differ: query {query.size(0)}, key {key.size(0)}, "
                f"value {value.size(0)}"
            )
        if key.size(1) != value.size(1):
            raise ValueError(
                f"key and value must have the same length S, got {key.size(1)} and {value.size(1)}"
            )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        mask: Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """query: (B, T, D); key, value: (B, S, D).

        mask: bool, True = may attend; (T, S), (B, T, S) or broadcastable to (B, H, T, S),
        e.g. a padding mask as (B, 1, 1, S). A 2-D mask is refused when B == T > 1, where a
        (B, S) padding mask would look the same (see the mask policy above).
        Returns the output (B, T, D) and, if ``return_attention``, the weights (B, H, T, S)
        (else None).
        """
        self._check_inputs(query, key, value)
        if not isinstance(return_attention, bool):
            raise TypeError(
                f"return_attention must be True or False, got {type(return_attention).__name__}"
            )
        B, T, D = query.shape
        mask = self._head_mask(mask, B, T, key.size(1), query.device)
        q, k, v = self._project(query, key, value)  # (B, H, T, Dh), (B, H, S, Dh) x2
        return self._heads_attend(q, k, v, mask, return_attention)

    def _head_mask(
        self, mask: Tensor | None, B: int, T: int, S: int, device: torch.device
    ) -> Tensor | None:
        """The mask policy: (T, S), (B, T, S) or broadcastable to (B, H, T, S), checked; a
        (B, T, S) mask gets a head axis."""
        if isinstance(mask, Tensor) and mask.dim() > 4:
            raise ValueError(f"mask must have 2, 3 or 4 dimensions, got shape {tuple(mask.shape)}")
        if isinstance(mask, Tensor) and mask.dim() == 2 and B == T > 1:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} is ambiguous when B == T == {B}: a (T, S) "
                "mask and a (B, S) padding mask look the same. Pass mask[None] (one (T, S) mask "
                "for every sentence) or mask[:, None, None, :] (a padding mask, (B, 1, 1, S))"
            )
        if isinstance(mask, Tensor) and mask.dim() == 3:
            mask = mask[:, None]  # (B, 1, T, S): the same mask for every head
        _check_mask(mask, (B, self.num_heads, T, S), device)
        return mask

    def _heads_attend(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, return_attention: bool
    ) -> tuple[Tensor, Tensor | None]:
        """The H heads on projected q (B, H, T, Dh), k, v (B, H, S, Dh), then W^O."""
        B, H, T, Dh = q.shape
        dropout_p = self.dropout if self.training else 0.0
        if return_attention:
            heads, weights = scaled_dot_product_attention(q, k, v, mask, dropout_p=dropout_p)
        else:
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p)
            weights = None
        concat = heads.transpose(1, 2).reshape(B, T, H * Dh)  # (B, T, D): heads side by side
        return self.w_o(concat), weights  # (B, T, D), (B, H, T, S) | None

    # -- incremental decoding: keys and values kept from one step to the next -----------------
    def key_values(self, source: Tensor) -> KeyValues:
        """K = source W^K and V = source W^V, split into heads (B, H, S, Dh), for a source
        (B, S, D) that every later query reads (cross-attention over the encoder's memory):
        computed once, they are reused at every decoding step."""
        if not isinstance(source, Tensor):
            raise TypeError(f"source must be a torch.Tensor (B, S, D), got {type(source).__name__}")
        self._check_inputs(source, source, source)
        return KeyValues(*self._project_key_value(source, source))  # (B, H, S, Dh) x2

    def empty_key_values(self, like: Tensor) -> KeyValues:
        """A self-attention cache that holds no position yet: (B, H, 0, Dh), with the batch
        size, dtype and device of ``like`` (B, ., D)."""
        if not isinstance(like, Tensor) or like.dim() != 3 or not like.is_floating_point():
            shown = tuple(like.shape) if isinstance(like, Tensor) else type(like).__name__
            raise TypeError(f"like must be a float tensor (B, T, D), got {shown}")
        empty = like.new_zeros(like.size(0), self.num_heads, 0, self.d_head)  # (B, H, 0, Dh)
        return KeyValues(empty, empty)

    def attend(
        self,
        query: Tensor,
        cached: KeyValues,
        mask: Tensor | None = None,
        *,
        append: bool,
        return_attention: bool = False,
    ) -> tuple[Tensor, Tensor | None, KeyValues]:
        """Attention of T new positions over cached keys and values (incremental decoding).

        query: (B, T, D), the new positions only. cached: the KeyValues kept so far.
        append=True (decoder self-attention): the new positions' own keys and values, computed
        from ``query``, are appended to ``cached`` first, so each new position reads the L
        earlier ones and the new ones (the mask hides those after it). append=False
        (cross-attention): ``cached`` is the memory's, from :meth:`key_values`, used as it is.
        mask: bool broadcastable to (B, H, T, L') with L' the keys read (L + T if appended).
        Returns the output (B, T, D), the weights (B, H, T, L') or None, and the KeyValues now
        held (to pass to the next step). Equals ``forward`` on the whole sequence at the new
        positions, without recomputing the earlier positions' keys and values.
        """
        if not isinstance(cached, KeyValues):
            raise TypeError(f"cached must be a KeyValues, got {type(cached).__name__}")
        for name, flag in (("append", append), ("return_attention", return_attention)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be True or False, got {type(flag).__name__}")
        self._check_inputs(query, query, query)
        B, T, D = query.shape
        expected = (B, self.num_heads, cached.length, self.d_head)
        if (
            tuple(cached.keys.shape) != expected
            or cached.keys.dtype != query.dtype
            or cached.keys.device != query.device
        ):
            raise ValueError(
                f"cached holds keys of shape {tuple(cached.keys.shape)} {cached.keys.dtype} on "
                f"{cached.keys.device}; this attention needs (B={B}, H={self.num_heads}, L, "
                f"Dh={self.d_head}) {query.dtype} on {query.device}"
            )
        if append:
            q, k, v = self._project(query, query, query)  # (B, H, T, Dh) x3
            held = cached.append(k, v)  # (B, H, L + T, Dh)
        else:
            if cached.length == 0:
                raise ValueError("cached holds no keys: cross-attention needs key_values(memory)")
            q = self._split_heads(self.w_q(query))  # (B, H, T, Dh)
            held = cached
        mask = self._head_mask(mask, B, T, held.length, query.device)
        out, weights = self._heads_attend(q, held.keys, held.values, mask, return_attention)
        return out, weights, held  # (B, T, D), (B, H, T, L') | None
