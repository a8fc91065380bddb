"""Attention masks, in one convention: a boolean tensor where True means "may attend".

A mask is broadcast against the attention scores of shape (B, H, T, S): rows are queries,
columns are keys. The two masks of the paper are

* the padding mask: keys that are <pad> tokens are hidden from every query, and
* the look-ahead (causal) mask: target position t may only see positions <= t.

PyTorch's own modules use other conventions; the ``to_torch_*`` functions convert.
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


def padding_mask(token_ids: Tensor, pad_id: int = 0) -> Tensor:
    """True where a token is real, False where it is padding.

    token_ids: (B, S) integers. Returns (B, S) bool. Broadcast it to the scores with
    ``mask[:, None, None, :]`` (one row per query, one for every head): that is what
    :func:`expand_padding_mask` does.
    """
    _check_token_ids("token_ids", token_ids)
    if token_ids.dim() != 2:
        raise ValueError(f"token_ids must have shape (B, S), got {tuple(token_ids.shape)}")
    return token_ids != pad_id  # (B, S)


def expand_padding_mask(mask: Tensor) -> Tensor:
    """(B, S) key mask -> (B, 1, 1, S), ready to broadcast over heads and queries."""
    return mask[:, None, None, :]


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """The look-ahead mask: (T, T) bool, True on and below the diagonal.

    Row t is query position t; it may attend to keys 0..t and never to a later one.
    """
    if isinstance(length, bool) or not isinstance(length, int) or length <= 0:
        raise ValueError(f"length={length!r} must be a positive integer")
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()  # (T, T)


def combine_masks(*masks: Tensor | None) -> Tensor | None:
    """Logical AND of any number of broadcastable boolean masks; None entries are skipped."""
    present = [mask for mask in masks if mask is not None]
    if not present:
        return None
    combined = present[0]
    for mask in present[1:]:
        combined = combined & mask
    return combined


def to_torch_key_padding_mask(mask: Tensor) -> Tensor:
    """Our (B, S) padding mask (True = real token) -> the ``key_padding_mask`` of
    ``nn.MultiheadAttention`` / ``nn.Transformer`` (True = ignore this key)."""
    return ~mask


def to_torch_attn_mask(mask: Tensor) -> Tensor:
    """Our (T, S) mask (True = may attend) -> a float ``attn_mask`` for ``nn.Transformer``
    and ``nn.MultiheadAttention``: 0 where attending is allowed, -inf where it is not.

    (``F.scaled_dot_product_attention`` already takes our boolean convention as it is.)
    """
    return torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill(
        ~mask, float("-inf")
    )
