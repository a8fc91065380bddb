"""GRU encoder-decoders, the models the Transformer replaced (for the bottleneck chapter).

Two variants, with the Transformer's interface (``encode``, ``decode``, ``forward`` returning
``.logits``), so ``train``, ``greedy_decode_batch`` and ``exact_match`` work on them unchanged:

* ``attention=False`` (Sutskever et al. 2014; Cho et al. 2014): the encoder GRU reads the source
  and only its last state h_S reaches the decoder, as the decoder's initial state. Every source
  word must squeeze through that one vector of ``hidden_size`` numbers: the bottleneck.

* ``attention=True`` (Luong et al. 2015, "general" score): the decoder also looks at every
  encoder state at every step,

      score(t, s) = d_t^T W_a e_s
      a_t         = softmax_s(score(t, s))                 (padding masked out)
      c_t         = sum_s a_t(s) e_s
      o_t         = tanh(W_c [d_t; c_t])                   -> logits = W_out o_t

  where d_t is the decoder state and e_s the encoder state of source word s.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from minitransformer.masks import padding_mask
from minitransformer.model import AttentionMaps, DecoderOutput, TransformerOutput
from minitransformer.tokens import PAD_ID


@dataclass(frozen=True)
class GRUConfig:
    """Sizes of a GRU encoder-decoder."""

    src_vocab_size: int
    tgt_vocab_size: int
    hidden_size: int = 64  # width of embeddings and GRU states
    attention: bool = False
    max_len: int = 256  # longest decoder input greedy decoding will build
    pad_id: int = PAD_ID

    def __post_init__(self) -> None:
        for name in ("src_vocab_size", "tgt_vocab_size", "hidden_size", "max_len"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
            if value <= 0:
                raise ValueError(f"{name}={value!r} must be a positive integer")
        if not isinstance(self.attention, bool):
            raise TypeError(f"attention must be True or False, got {type(self.attention).__name__}")
        if isinstance(self.pad_id, bool) or not isinstance(self.pad_id, int):
            raise TypeError(f"pad_id must be an int, got {type(self.pad_id).__name__}")
        if not 0 <= self.pad_id < min(self.src_vocab_size, self.tgt_vocab_size):
            raise ValueError(f"pad_id={self.pad_id} must be a valid id in both vocabularies")

    @property
    def d_model(self) -> int:
        """The width the learning-rate schedule scales by (as the Transformer's D)."""
        return self.hidden_size

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class GRUEncoderOutput:
    memory: Tensor  # (B, S, D): every encoder state e_s
    source_mask: Tensor  # (B, S) bool: True = real token
    final_state: Tensor  # (B, D): the encoder state after the last real source word
    attention: list[Tensor] | None = None  # always None: the encoder has no attention


class GRUSeq2Seq(nn.Module):
    """A one-layer GRU encoder-decoder, with or without attention.

    ``GRUSeq2Seq(src_vocab_size, tgt_vocab_size, hidden_size=64, attention=False)``;
    ``model(source_ids (B, S), target_ids (B, T)).logits`` is (B, T, V) as for the Transformer.
    """

    def __init__(
        self,
        src_vocab_size: int,
        tgt_vocab_size: int,
        hidden_size: int = 64,
        *,
        attention: bool = False,
        max_len: int = 256,
        pad_id: int = PAD_ID,
    ) -> None:
        super().__init__()
        self.config = GRUConfig(
            src_vocab_size, tgt_vocab_size, hidden_size, attention, max_len, pad_id
        )
        D = hidden_size
        self.source_embedding = nn.Embedding(src_vocab_size, D, padding_idx=pad_id)
        self.target_embedding = nn.Embedding(tgt_vocab_size, D, padding_idx=pad_id)
        self.encoder = nn.GRU(D, D, batch_first=True)
        self.decoder = nn.GRU(D, D, batch_first=True)
        if attention:
            self.score = nn.Linear(D, D, bias=False)  # W_a
            self.combine = nn.Linear(2 * D, D)  # W_c
        self.output_projection = nn.Linear(D, tgt_vocab_size)  # W_out

    def _check_ids(self, name: str, token_ids: object, vocab_size: int) -> None:
        if not isinstance(token_ids, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(token_ids).__name__}")
        if token_ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{name} must be int64 or int32 token ids, got dtype {token_ids.dtype}")
        if token_ids.dim() != 2 or 0 in token_ids.shape:
            raise ValueError(f"{name} must have shape (B, length), got {tuple(token_ids.shape)}")
        low, high = int(token_ids.min()), int(token_ids.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                f"{name} holds ids from {low} to {high}; expected 0 <= id < {vocab_size}"
            )

    def encode(self, source_ids: Tensor, *, return_attention: bool = False) -> GRUEncoderOutput:
        """source_ids (B, S) -> every encoder state (B, S, D) and the last real one (B, D)."""
        self._check_ids("source_ids", source_ids, self.config.src_vocab_size)
        B, S = source_ids.shape
        source_mask = padding_mask(source_ids, self.config.pad_id)  # (B, S)
        lengths = source_mask.sum(1).clamp(min=1).cpu()  # (B,)
        packed = pack_padded_sequence(
            self.source_embedding(source_ids), lengths, batch_first=True, enforce_sorted=False
        )
        states, final = self.encoder(packed)  # final: (1, B, D)
        memory, _ = pad_packed_sequence(states, batch_first=True, total_length=S)  # (B, S, D)
        return GRUEncoderOutput(memory, source_mask, final[0])

    def decode(
        self, target_ids: Tensor, encoded: GRUEncoderOutput, *, return_attention: bool = False
    ) -> DecoderOutput:
        """target_ids (B, T), the decoder input so far -> logits (B, T, V).

        With attention and ``return_attention``, ``cross_attention`` is one (B, 1, T, S) map
        (one "layer" with one "head", the shape the Transformer uses).
        """
        self._check_ids("target_ids", target_ids, self.config.tgt_vocab_size)
        if not isinstance(encoded, GRUEncoderOutput):
            raise TypeError(
                f"encoded must be the GRUEncoderOutput of encode(), got {type(encoded).__name__}"
            )
        if target_ids.size(0) != encoded.memory.size(0):
            raise ValueError(
                f"batch sizes differ: target_ids has {target_ids.size(0)} rows, "
                f"the encoded source {encoded.memory.size(0)}"
            )
        initial = encoded.final_state.unsqueeze(0).contiguous()  # (1, B, D)
        states, _ = self.decoder(self.target_embedding(target_ids), initial)  # (B, T, D)
        if not self.config.attention:
            return DecoderOutput(self.output_projection(states))
        scores = self.score(states) @ encoded.memory.transpose(1, 2)  # (B, T, S)
        scores = scores.masked_fill(~encoded.source_mask[:, None, :], float("-inf"))
        weights = torch.softmax(scores, dim=-1)  # (B, T, S)
        context = weights @ encoded.memory  # (B, T, D)
        combined = torch.tanh(self.combine(torch.cat([states, context], dim=-1)))  # (B, T, D)
        maps = [weights.unsqueeze(1)] if return_attention else None  # 1 x (B, 1, T, S)
        return DecoderOutput(self.output_projection(combined), None, maps)

    def forward(
        self, source_ids: Tensor, target_ids: Tensor, *, return_attention: bool = False
    ) -> TransformerOutput:
        """source_ids (B, S), target_ids (B, T) -> logits (B, T, V)."""
        decoded = self.decode(
            target_ids, self.encode(source_ids), return_attention=return_attention
        )
        maps = None
        if return_attention:
            maps = AttentionMaps(encoder=[], decoder_self=[], cross=decoded.cross_attention or [])
        return TransformerOutput(decoded.logits, maps)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
