"""Positional information: the paper's sinusoidal table, and learned positions.

Self-attention treats its input as a set: shuffle the tokens and the outputs shuffle the same
way. Order has to be added to the input. The paper adds, to each token embedding scaled by
sqrt(D), a vector that depends only on the position:

    PE(pos, 2i)     = sin(pos / 10000^(2i / D))
    PE(pos, 2i + 1) = cos(pos / 10000^(2i / D))
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_encoding(length: int, d_model: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """The (length, D) table of the paper: even dimensions sine, odd dimensions cosine.

    Dimension pair (2i, 2i+1) turns at the angular frequency 1 / 10000^(2i / D): fast for
    small i, slow for large i, wavelengths from 2*pi to 10000 * 2*pi.
    """
    for name, value in (("length", length), ("d_model", d_model)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name}={value!r} must be a positive integer")
    if d_model % 2:
        raise ValueError(f"d_model={d_model} must be even (dimensions come in sin/cos pairs)")
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
        self.d_model = d_model
        self.max_len = max_len
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, embeddings: Tensor) -> Tensor:
        B, T, D = embeddings.shape
        _check_length(T, self.max_len)
        scaled = embeddings * math.sqrt(D)  # the paper scales embeddings by sqrt(d_model)
        return self.dropout(scaled + self.table[:T].to(embeddings.dtype))  # (B, T, D)


class LearnedPositionalEmbedding(nn.Module):
    """x * sqrt(D) + P[:T] with P a trained (max_len, D) table: the paper's alternative,
    which it found to give nearly identical results (Table 3, row E)."""

    def __init__(self, d_model: int, max_len: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.d_model = d_model
        self.max_len = max_len
        self.table = nn.Parameter(torch.randn(max_len, d_model) * 0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, embeddings: Tensor) -> Tensor:
        B, T, D = embeddings.shape
        _check_length(T, self.max_len)
        return self.dropout(embeddings * math.sqrt(D) + self.table[:T])  # (B, T, D)
