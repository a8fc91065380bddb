"""Hyperparameters of the encoder-decoder Transformer (notation: book/notation.md)."""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any, Literal

Positional = Literal["sinusoidal", "learned"]


def _check_positive_int(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name}={value} must be a positive integer")


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def _check_dropout(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(value).__name__} {value!r}")
    if not 0.0 <= value < 1.0:  # also refuses NaN
        raise ValueError(f"{name}={value!r} must be a number in [0, 1)")


def _check_eps(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__} {value!r}")
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise ValueError(f"{name}={value!r} must be a finite number in (0, 1), e.g. 1e-5")


@dataclass(frozen=True)
class TransformerConfig:
    """Every hyperparameter of the model, checked when the config is made.

    The defaults are the paper's base model (Vaswani et al. 2017, Table 3) apart from the
    vocabulary sizes, which depend on the data.
    """

    src_vocab_size: int  # V of the source language
    tgt_vocab_size: int  # V of the target language
    d_model: int = 512  # D, width of every residual stream
    num_heads: int = 8  # H; each head works in Dh = D / H dimensions
    num_layers: int = 6  # N, encoder layers = decoder layers
    d_ff: int = 2048  # F, hidden width of the position-wise feed-forward sublayer
    dropout: float = 0.1  # on sublayer outputs, embeddings+positions and attention weights
    max_len: int = 256  # longest sequence the positional table covers
    norm_first: bool = False  # False = post-LN (the paper); True = pre-LN (later practice)
    share_embeddings: bool = False  # one embedding table for source and target (needs one V)
    tie_output: bool = False  # output projection reuses the target embedding matrix
    positional: Positional = "sinusoidal"  # or "learned": a trained table of max_len rows
    pad_id: int = 0  # token id of <pad> in both vocabularies
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in (
            "src_vocab_size",
            "tgt_vocab_size",
            "d_model",
            "num_heads",
            "num_layers",
            "d_ff",
            "max_len",
        ):
            _check_positive_int(name, getattr(self, name))
        if self.d_model % self.num_heads:
            raise ValueError(
                f"d_model={self.d_model} is not divisible by num_heads={self.num_heads}"
            )
        if self.positional == "sinusoidal" and self.d_model % 2:
            raise ValueError(
                f"d_model={self.d_model} must be even for sinusoidal positions "
                "(dimensions come in sin/cos pairs)"
            )
        _check_dropout("dropout", self.dropout)
        for name in ("norm_first", "share_embeddings", "tie_output"):
            _check_bool(name, getattr(self, name))
        _check_eps("layer_norm_eps", self.layer_norm_eps)
        if not isinstance(self.positional, str):
            raise TypeError(f"positional must be a str, got {type(self.positional).__name__}")
        if self.positional not in ("sinusoidal", "learned"):
            raise ValueError(f"positional={self.positional!r} must be 'sinusoidal' or 'learned'")
        if self.share_embeddings and self.src_vocab_size != self.tgt_vocab_size:
            raise ValueError(
                f"share_embeddings=True needs one vocabulary, but src_vocab_size="
                f"{self.src_vocab_size} and tgt_vocab_size={self.tgt_vocab_size}"
            )
        if isinstance(self.pad_id, bool) or not isinstance(self.pad_id, int):
            raise TypeError(f"pad_id must be an int, got {type(self.pad_id).__name__}")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(
                f"pad_id={self.pad_id} must be a valid id in both vocabularies "
                f"(0 <= pad_id < {min(self.src_vocab_size, self.tgt_vocab_size)})"
            )

    @property
    def d_head(self) -> int:
        """Dh = D / H, the width of one head's queries, keys and values."""
        return self.d_model // self.num_heads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TransformerConfig:
        if not isinstance(values, dict):
            raise TypeError(f"values must be a dict of config fields, got {type(values).__name__}")
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown TransformerConfig fields: {sorted(unknown)}")
        return cls(**values)

    @classmethod
    def paper_base(cls, vocab_size: int = 37000, **overrides: Any) -> TransformerConfig:
        """The paper's base model: D 512, H 8, N 6, F 2048, dropout 0.1, one shared vocabulary
        (37,000 byte-pair tokens for English-German) whose embedding is also the output
        projection."""
        values = dict(
            src_vocab_size=vocab_size,
            tgt_vocab_size=vocab_size,
            d_model=512,
            num_heads=8,
            num_layers=6,
            d_ff=2048,
            dropout=0.1,
            share_embeddings=True,
            tie_output=True,
        )
        return cls(**{**values, **overrides})

    @classmethod
    def paper_big(cls, vocab_size: int = 37000, **overrides: Any) -> TransformerConfig:
        """The paper's big model: D 1024, H 16, N 6, F 4096, dropout 0.3, shared vocabulary."""
        values = dict(
            src_vocab_size=vocab_size,
            tgt_vocab_size=vocab_size,
            d_model=1024,
            num_heads=16,
            num_layers=6,
            d_ff=4096,
            dropout=0.3,
            share_embeddings=True,
            tie_output=True,
        )
        return cls(**{**values, **overrides})

    @classmethod
    def small(cls, src_vocab_size: int, tgt_vocab_size: int, **overrides: Any) -> TransformerConfig:
        """The book's model: D 64, H 4, N 2, F 256. Trains on a CPU in well under a minute."""
        values = dict(
            src_vocab_size=src_vocab_size,
            tgt_vocab_size=tgt_vocab_size,
            d_model=64,
            num_heads=4,
            num_layers=2,
            d_ff=256,
            dropout=0.1,
            max_len=64,
        )
        return cls(**{**values, **overrides})
