"""Attention masks, in one convention: a boolean tensor where True means "may attend".

A mask is broadcast against the attention scores of shape (B, H, T, S): rows are queries,
columns are keys. The two masks of the paper are

* the padding mask: keys that are <pad> tokens are hidden from every query, and
* the look-ahead (causal) mask: target position t may only see positions <= t.

PyTorch's own modules use other conventions; the ``to_torch_*`` functions convert.

Which shapes attention accepts, and why a 2-D mask is refused when B == T > 1 (a (B, S) padding
mask and a (T, S) mask look alike then), is the mask policy in ``minitransformer.attention``
and book/notation.md. The model builds its masks itself: padding as (B, 1, 1, S), look-ahead
and target padding together as (B, 1, T, T).
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check_token_ids(name: str, token_ids: Tensor) -> None:
    if not isinstance(token_ids, Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of token ids, got {type(token_ids).__name__}"
        )
    if token_ids.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{name} must hold integer token ids, got dtype {token_ids.dtype}")


def _check_bool_mask(name: str, mask: object) -> None:
    if not isinstance(mask, Tensor):
        raise TypeError(f"{name} must be a boolean torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise TypeError(f"{name} must have dtype torch.bool (True = may attend), got {mask.dtype}")


def padding_mask(token_ids: Tensor, pad_id: int = 0) -> Tensor:
    """True where a token is real, False where it is padding.

    token_ids: (B, S) integers. Returns (B, S) bool. Broadcast it to the scores with
    ``mask[:, None, None, :]`` (one row per query, one for every head): that is what
    :func:`expand_padding_mask` does.
    """
    _check_token_ids("token_ids", token_ids)
    if isinstance(pad_id, bool) or not isinstance(pad_id, int):
        raise TypeError(f"pad_id must be an int, got {type(pad_id).__name__}")
    if token_ids.dim() != 2:
        raise ValueError(f"token_ids must have shape (B, S), got {tuple(token_ids.shape)}")
    return token_ids != pad_id  # (B, S)


def expand_padding_mask(mask: Tensor) -> Tensor:
    """(B, S) key mask -> (B, 1, 1, S), ready to broadcast over heads and queries."""
    _check_bool_mask("mask", mask)
    if mask.dim() != 2:
        raise ValueError(f"mask must be a (B, S) padding mask, got shape {tuple(mask.shape)}")
    return mask[:, None, None, :]


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """The look-ahead mask: (T, T) bool, True on and below the diagonal.

    Row t is query position t; it may attend to keys 0..t and never to a later one.
    """
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError(f"length must be an int, got {type(length).__name__} {length!r}")
    if length <= 0:
        raise ValueError(f"length={length!r} must be a positive integer")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()  # (T, T)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of any number of broadcastable boolean masks; None entries are skipped."""
    present = [mask for mask in masks if mask is not None]
    for position, mask in enumerate(present):
        _check_bool_mask(f"masks[{position}]", mask)
    if not present:
        return None
    try:
        torch.broadcast_shapes(*(mask.shape for mask in present))
    except RuntimeError:
        shapes = ", ".join(str(tuple(mask.shape)) for mask in present)
        raise ValueError(f"masks of shapes {shapes} do not broadcast together") from None
    combined = present[0]
    for mask in present[1:]:
        combined = combined & mask
    return combined


def to_torch_key_padding_mask(mask: Tensor) -> Tensor:
    """Our (B, S) padding mask (True = real token) -> the ``key_padding_mask`` of
    ``nn.MultiheadAttention`` / ``nn.Transformer`` (True = ignore this key)."""
    _check_bool_mask("mask", mask)
    if mask.dim() != 2:
        raise ValueError(f"mask must be a (B, S) padding mask, got shape {tuple(mask.shape)}")
    return ~mask


def to_torch_attn_mask(mask: Tensor) -> Tensor:
    """Our (T, S) mask (True = may attend) -> a float ``attn_mask`` for ``nn.Transformer``
    and ``nn.MultiheadAttention``: 0 where attending is allowed, -inf where it is not.

    (``F.scaled_dot_product_attention`` already takes our boolean convention as it is.)
    """
    _check_bool_mask("mask", mask)
    return torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill(
        ~mask, float("-inf")
    )
