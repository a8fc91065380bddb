"""Positional information: the paper's sinusoidal table, and learned positions.

Self-attention treats its input as a set: shuffle the tokens and the outputs shuffle the same
way. Order has to be added to the input. The paper adds, to each token embedding scaled by
sqrt(D), a vector that depends only on the position:

    PE(pos, 2i)     = sin(pos / 10000^(2i / D))
    PE(pos, 2i + 1) = cos(pos / 10000^(2i / D))

The table is always computed in float64 and rounded once to the dtype asked for. A model in
float64 (``model.double()``) reads a float64 table computed afresh, never a float32 table
widened after rounding.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor, nn


def _check_size(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name}={value!r} must be a positive integer")


def _check_dropout(dropout: object) -> None:
    if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real):
        raise TypeError(f"dropout must be a number in [0, 1), got {type(dropout).__name__}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout={dropout!r} must be in [0, 1)")


def _check_embeddings(embeddings: object, d_model: int, max_len: int, offset: object = 0) -> None:
    if not isinstance(embeddings, Tensor):
        raise TypeError(f"embeddings must be a torch.Tensor, got {type(embeddings).__name__}")
    if embeddings.dim() != 3 or embeddings.size(-1) != d_model:
        raise ValueError(
            f"embeddings must have shape (B, T, {d_model}), got {tuple(embeddings.shape)}"
        )
    if not embeddings.dtype.is_floating_point:
        raise TypeError(f"embeddings must be floating point, got dtype {embeddings.dtype}")
    if isinstance(offset, bool) or not isinstance(offset, int):
        raise TypeError(f"offset must be an int, got {type(offset).__name__} {offset!r}")
    if offset < 0:
        raise ValueError(f"offset={offset} must be >= 0 (the position of the first embedding)")
    _check_length(offset + embeddings.size(1), max_len)


def sinusoidal_encoding(length: int, d_model: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The (length, D) table of the paper: even dimensions sine, odd dimensions cosine.

    Dimension pair (2i, 2i+1) turns at the angular frequency 1 / 10000^(2i / D): fast for
    small i, slow for large i, wavelengths from 2*pi to 10000 * 2*pi.
    """
    for name, value in (("length", length), ("d_model", d_model)):
        _check_size(name, value)
    if d_model % 2:
        raise ValueError(f"d_model={d_model} must be even (dimensions come in sin/cos pairs)")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
    positions = torch.arange(length, dtype=torch.float64)[:, None]  # (L, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)  # (D/2,)
    frequencies = torch.exp(-math.log(10000.0) * two_i / d_model)  # 1 / 10000^(2i/D)
    angles = positions * frequencies  # (L, D/2)
    table = torch.empty(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angles)
    table[:, 1::2] = torch.cos(angles)
    return table.to(dtype)  # (L, D)


def _check_length(length: int, max_len: int) -> None:
    if length > max_len:
        raise ValueError(
            f"sequence length {length} is longer than max_len={max_len}; "
            "raise max_len in the config"
        )


class PositionalEncoding(nn.Module):
    """x * sqrt(D) + PE[:T], then dropout. The table is a fixed buffer, not a parameter."""

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        _check_size("max_len", max_len)
        _check_dropout(dropout)
        self.d_model = d_model
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def positions(
        self, length: int, dtype: torch.dtype, device: torch.device, offset: int = 0
    ) -> Tensor:
        """PE[offset:offset + length] in ``dtype``: the float32 buffer, or for float64 the table
        computed afresh in float64 (the buffer may have been rounded to float32 before a
        ``.double()``)."""
        if dtype == torch.float64:
            table = sinusoidal_encoding(offset + length, self.d_model, dtype=torch.float64)
            return table[offset:].to(device)
        return self.table[offset : offset + length].to(dtype)

    def forward(self, embeddings: Tensor, *, offset: int = 0) -> Tensor:
        """embeddings (B, T, D) of positions offset .. offset + T - 1 (offset > 0: the next
        words of a sequence whose first ``offset`` positions were embedded before, as in
        incremental decoding)."""
        _check_embeddings(embeddings, self.d_model, self.max_len, offset)
        B, T, D = embeddings.shape
        scaled = embeddings * math.sqrt(D)  # the paper scales embeddings by sqrt(d_model)
        table = self.positions(T, embeddings.dtype, embeddings.device, offset)  # (T, D)
        return self.dropout(scaled + table)  # (B, T, D)


class LearnedPositionalEmbedding(nn.Module):
    """x * sqrt(D) + P[:T] with P a trained (max_len, D) table: the paper's alternative,
    which it found to give nearly identical results (Table 3, row E)."""

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        _check_size("d_model", d_model)
        _check_size("max_len", max_len)
        _check_dropout(dropout)
        self.d_model = d_model
        self.max_len = max_len
        self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, embeddings: Tensor, *, offset: int = 0) -> Tensor:
        """embeddings (B, T, D) of positions offset .. offset + T - 1."""
        _check_embeddings(embeddings, self.d_model, self.max_len, offset)
        B, T, D = embeddings.shape
        table = self.table[offset : offset + T]  # (T, D)
        return self.dropout(embeddings * math.sqrt(D) + table)  # (B, T, D)
