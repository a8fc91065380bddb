"""The encoder-decoder Transformer: embeddings, positions, N encoder and N decoder layers,
and the output projection to the target vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minitransformer.attention import KeyValues
from minitransformer.config import TransformerConfig
from minitransformer.layers import DecoderLayer, EncoderLayer
from minitransformer.masks import causal_mask, expand_padding_mask, padding_mask
from minitransformer.positional import LearnedPositionalEmbedding, PositionalEncoding


@dataclass
class AttentionMaps:
    """Every attention map of one forward pass, one tensor per layer (index 0 = first)."""

    encoder: list[Tensor]  # N x (B, H, S, S): encoder self-attention
    decoder_self: list[Tensor]  # N x (B, H, T, T): masked decoder self-attention
    cross: list[Tensor]  # N x (B, H, T, S): encoder-decoder attention


@dataclass
class TransformerOutput:
    logits: Tensor  # (B, T, V): one score per target-vocabulary word at each position
    attention: AttentionMaps | None = None


@dataclass
class EncoderOutput:
    memory: Tensor  # (B, S, D): what the decoder's cross-attention reads
    source_mask: Tensor  # (B, S) bool: True = real token, False = padding
    attention: list[Tensor] | None = None  # N x (B, H, S, S)


@dataclass
class DecoderOutput:
    logits: Tensor  # (B, T, V)
    self_attention: list[Tensor] | None = None  # N x (B, H, T, T)
    cross_attention: list[Tensor] | None = None  # N x (B, H, T, S)


@dataclass(frozen=True)
class DecoderCache:
    """What incremental decoding keeps from one step to the next: an explicit object that
    ``Transformer.start_cache`` makes and ``Transformer.decode_step`` takes and returns (the
    model itself stores nothing).

    One KeyValues per decoder layer for each attention:

    * ``self_attention``: N x (B, H, t, Dh), the keys and values of the t target positions
      decoded so far; each step appends its new positions;
    * ``cross_attention``: N x (B, H, S, Dh), those of the encoder's memory, computed once.

    ``source_mask`` (B, S) and ``target_mask`` (B, t) (True = real token) rebuild the padding
    masks the uncached ``decode`` would use. ``length`` = t, the position of the next word.
    """

    self_attention: list[KeyValues]  # N x (B, H, t, Dh), growing by one position per step
    cross_attention: list[KeyValues]  # N x (B, H, S, Dh), fixed
    source_mask: Tensor  # (B, S) bool
    target_mask: Tensor  # (B, t) bool

    def __post_init__(self) -> None:
        for name in ("self_attention", "cross_attention"):
            entries = getattr(self, name)
            if not isinstance(entries, list) or not all(
                isinstance(entry, KeyValues) for entry in entries
            ):
                raise TypeError(f"{name} must be a list of KeyValues, one per decoder layer")
        if not self.self_attention or len(self.self_attention) != len(self.cross_attention):
            raise ValueError(
                f"self_attention and cross_attention must hold one KeyValues per layer, got "
                f"{len(self.self_attention)} and {len(self.cross_attention)}"
            )
        for name in ("source_mask", "target_mask"):
            mask = getattr(self, name)
            if not isinstance(mask, Tensor) or mask.dtype != torch.bool or mask.dim() != 2:
                raise TypeError(f"{name} must be a (B, length) bool tensor")
        B, t, S = self.batch_size, self.length, self.source_mask.size(1)
        for layer, (own, cross) in enumerate(
            zip(self.self_attention, self.cross_attention, strict=True)
        ):
            if own.keys.shape[::2] != (B, t) or cross.keys.shape[::2] != (B, S):
                raise ValueError(
                    f"layer {layer}: self-attention keys {tuple(own.keys.shape)} and cross-"
                    f"attention keys {tuple(cross.keys.shape)} do not match (B={B}, H, t={t}, "
                    f"Dh) and (B={B}, H, S={S}, Dh)"
                )

    @property
    def length(self) -> int:
        """t, the number of target positions decoded so far."""
        return self.target_mask.size(1)

    @property
    def batch_size(self) -> int:
        return self.target_mask.size(0)

    def select_rows(self, rows: Tensor) -> DecoderCache:
        """The cache of batch rows ``rows`` (1-D int64; rows may repeat): finished sentences
        leave a batch, beams that survive a step take their parent's cache."""
        if not isinstance(rows, Tensor) or rows.dtype != torch.int64 or rows.dim() != 1:
            raise TypeError("rows must be a 1-D int64 tensor of batch rows")
        if rows.numel() and not (0 <= int(rows.min()) and int(rows.max()) < self.batch_size):
            raise ValueError(f"rows must lie in 0..{self.batch_size - 1}, got {rows.tolist()}")
        return DecoderCache(
            [entry.select_rows(rows) for entry in self.self_attention],
            [entry.select_rows(rows) for entry in self.cross_attention],
            self.source_mask.index_select(0, rows),
            self.target_mask.index_select(0, rows),
        )


def _check_config(config: object) -> None:
    if not isinstance(config, TransformerConfig):
        raise TypeError(f"config must be a TransformerConfig, got {type(config).__name__}")


def _check_flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")


def _stack(layer_type: type[nn.Module], config: TransformerConfig) -> nn.ModuleList:
    """N layers of one kind, each with the config's D, H, F, dropout and LayerNorm placement."""
    return nn.ModuleList(
        layer_type(config.d_model, config.num_heads, config.d_ff, config.dropout,
                   config.norm_first, config.layer_norm_eps)
        for _ in range(config.num_layers)
    )  # fmt: skip


def _final_norm(config: TransformerConfig) -> nn.Module:
    """Pre-LN leaves the residual stream unnormalised, so the stack ends with a LayerNorm;
    post-LN layers already end with one."""
    if config.norm_first:
        return nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
    return nn.Identity()


class Encoder(nn.Module):
    """N encoder layers; with pre-LN, a final LayerNorm (post-LN layers end normalised)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        _check_config(config)
        self.layers = _stack(EncoderLayer, config)
        self.final_norm = _final_norm(config)

    def forward(
        self, x: Tensor, mask: Tensor | None = None, *, return_attention: bool = False
    ) -> tuple[Tensor, list[Tensor] | None]:
        """x: (B, S, D) embedded source; mask broadcastable to (B, H, S, S)."""
        maps = []
        for layer in self.layers:
            x, weights = layer(x, mask, return_attention=return_attention)
            maps.append(weights)
        return self.final_norm(x), (maps if return_attention else None)


class Decoder(nn.Module):
    """N decoder layers; with pre-LN, a final LayerNorm."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        _check_config(config)
        self.layers = _stack(DecoderLayer, config)
        self.final_norm = _final_norm(config)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        self_mask: Tensor | None = None,
        cross_mask: Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> tuple[Tensor, list[Tensor] | None, list[Tensor] | None]:
        """x: (B, T, D) embedded target; memory: (B, S, D)."""
        self_maps, cross_maps = [], []
        for layer in self.layers:
            x, self_weights, cross_weights = layer(
                x, memory, self_mask, cross_mask, return_attention=return_attention
            )
            self_maps.append(self_weights)
            cross_maps.append(cross_weights)
        if not return_attention:
            return self.final_norm(x), None, None
        return self.final_norm(x), self_maps, cross_maps

    def step(
        self,
        x: Tensor,
        cache: DecoderCache,
        self_mask: Tensor | None = None,
        cross_mask: Tensor | None = None,
        *,
        return_attention: bool = False,
    ) -> tuple[Tensor, list[Tensor] | None, list[Tensor] | None, list[KeyValues]]:
        """``forward`` for the T new positions x (B, T, D), each layer reading its cached keys
        and values; also returns every layer's self-attention keys/values now held."""
        self_maps, cross_maps, held = [], [], []
        for layer, self_cached, cross_cached in zip(
            self.layers, cache.self_attention, cache.cross_attention, strict=True
        ):
            x, self_weights, cross_weights, layer_held = layer.step(
                x, self_cached, cross_cached, self_mask, cross_mask,
                return_attention=return_attention,
            )  # fmt: skip
            self_maps.append(self_weights)
            cross_maps.append(cross_weights)
            held.append(layer_held)
        if not return_attention:
            return self.final_norm(x), None, None, held
        return self.final_norm(x), self_maps, cross_maps, held


class Transformer(nn.Module):
    """The model of "Attention Is All You Need", batch first.

    ``model(source_ids, target_ids)``: source (B, S) and decoder input (B, T) token ids
    (padding = ``config.pad_id``) -> logits (B, T, V). With teacher forcing the decoder input
    is the gold target shifted right by one (``<sos> y1 y2 ...``), and logits[:, t] scores the
    word at position t + 1 of that input, i.e. y_{t+1}.
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        _check_config(config)
        self.config = config
        D = config.d_model
        self.source_embedding = nn.Embedding(config.src_vocab_size, D)
        self.target_embedding = (
            self.source_embedding
            if config.share_embeddings
            else nn.Embedding(config.tgt_vocab_size, D)
        )
        positions = (
            PositionalEncoding if config.positional == "sinusoidal" else LearnedPositionalEmbedding
        )
        self.source_positions = positions(D, config.max_len, config.dropout)
        self.target_positions = positions(D, config.max_len, config.dropout)
        self.encoder = Encoder(config)
        self.decoder = Decoder(config)
        self.output_projection = nn.Linear(D, config.tgt_vocab_size, bias=not config.tie_output)
        self._reset_parameters()
        if config.tie_output:
            self.output_projection.weight = self.target_embedding.weight

    def _reset_parameters(self) -> None:
        """Xavier-uniform matrices (as nn.Transformer), zero biases, and embeddings with
        standard deviation D^-1/2, so that after the sqrt(D) scaling they have unit size,
        comparable to the positional encoding."""
        for name, parameter in self.named_parameters():
            if "embedding" in name:
                nn.init.normal_(parameter, std=self.config.d_model**-0.5)
            elif parameter.dim() > 1:
                nn.init.xavier_uniform_(parameter)
            elif name.endswith("bias") and "norm" not in name:
                nn.init.zeros_(parameter)

    # -- input checks ---------------------------------------------------------------------
    def _check_ids(self, name: str, token_ids: Tensor, vocab_size: int) -> None:
        if not isinstance(token_ids, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(token_ids).__name__}")
        if token_ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"{name} must be int64 or int32 token ids, got dtype {token_ids.dtype}")
        if token_ids.dim() != 2:
            raise ValueError(f"{name} must have shape (B, length), got {tuple(token_ids.shape)}")
        B, L = token_ids.shape
        if B == 0 or L == 0:
            raise ValueError(f"{name} is empty: shape {tuple(token_ids.shape)}")
        if L > self.config.max_len:
            raise ValueError(f"{name} has length {L}, longer than max_len={self.config.max_len}")
        device = self.source_embedding.weight.device
        if token_ids.device != device:
            raise ValueError(f"{name} are on {token_ids.device}, the model on {device}")
        low, high = int(token_ids.min()), int(token_ids.max())
        if low < 0 or high >= vocab_size:
            raise ValueError(
                f"{name} holds ids from {low} to {high}; expected 0 <= id < {vocab_size}"
            )

    def _check_encoded(self, encoded: object) -> None:
        if not isinstance(encoded, EncoderOutput):
            raise TypeError(
                f"encoded must be the EncoderOutput of encode(), got {type(encoded).__name__}"
            )

    def _check_cache(self, cache: object, target_ids: Tensor) -> None:
        """A DecoderCache of this model's shapes, for target_ids' batch, with room left."""
        if not isinstance(cache, DecoderCache):
            raise TypeError(
                f"cache must be the DecoderCache of start_cache() or decode_step(), got "
                f"{type(cache).__name__}"
            )
        config = self.config
        H, Dh = config.num_heads, config.d_head
        layer_shapes = {
            tuple(kv.keys.shape[1::2]) for kv in cache.self_attention + cache.cross_attention
        }
        if len(cache.self_attention) != config.num_layers or layer_shapes != {(H, Dh)}:
            raise ValueError(
                f"cache holds {len(cache.self_attention)} layers of keys shaped (B, H, t, Dh) "
                f"with (H, Dh) in {sorted(layer_shapes)}; this model has "
                f"N={config.num_layers} layers with H={H}, Dh={Dh}"
            )
        dtype = self.target_embedding.weight.dtype
        keys = cache.cross_attention[0].keys
        if keys.dtype != dtype or keys.device != target_ids.device:
            raise ValueError(
                f"cache holds {keys.dtype} on {keys.device}, but the model is {dtype} and "
                f"target_ids are on {target_ids.device}"
            )
        if target_ids.size(0) != cache.batch_size:
            raise ValueError(
                f"batch sizes differ: target_ids has {target_ids.size(0)} rows, the cache "
                f"{cache.batch_size}"
            )
        if cache.length + target_ids.size(1) > config.max_len:
            raise ValueError(
                f"target_ids would take the decoder input to {cache.length + target_ids.size(1)} "
                f"positions (cache holds {cache.length}), more than max_len={config.max_len}"
            )

    # -- the two halves ---------------------------------------------------------------------
    def encode(self, source_ids: Tensor, *, return_attention: bool = False) -> EncoderOutput:
        """source_ids (B, S) -> memory (B, S, D), the source padding mask, encoder maps."""
        _check_flag("return_attention", return_attention)
        self._check_ids("source_ids", source_ids, self.config.src_vocab_size)
        source_mask = padding_mask(source_ids, self.config.pad_id)  # (B, S)
        x = self.source_positions(self.source_embedding(source_ids))  # (B, S, D)
        memory, maps = self.encoder(
            x, expand_padding_mask(source_mask), return_attention=return_attention
        )
        return EncoderOutput(memory, source_mask, maps)

    def decode(
        self, target_ids: Tensor, encoded: EncoderOutput, *, return_attention: bool = False
    ) -> DecoderOutput:
        """target_ids (B, T), the decoder input so far -> logits (B, T, V)."""
        _check_flag("return_attention", return_attention)
        self._check_ids("target_ids", target_ids, self.config.tgt_vocab_size)
        self._check_encoded(encoded)
        if encoded.memory.device != target_ids.device:
            raise ValueError(
                f"target_ids are on {target_ids.device}, the encoded source on "
                f"{encoded.memory.device}"
            )
        if target_ids.size(0) != encoded.memory.size(0):
            raise ValueError(
                f"batch sizes differ: target_ids has {target_ids.size(0)} rows, "
                f"the encoded source {encoded.memory.size(0)}"
            )
        T = target_ids.size(1)
        target_mask = padding_mask(target_ids, self.config.pad_id)  # (B, T)
        self_mask = causal_mask(T, target_ids.device) & expand_padding_mask(target_mask)
        cross_mask = expand_padding_mask(encoded.source_mask)  # (B, 1, 1, S)
        x = self.target_positions(self.target_embedding(target_ids))  # (B, T, D)
        x, self_maps, cross_maps = self.decoder(
            x, encoded.memory, self_mask, cross_mask, return_attention=return_attention
        )
        return DecoderOutput(self.output_projection(x), self_maps, cross_maps)  # (B, T, V)

    # -- incremental decoding with a key/value cache ------------------------------------------
    def start_cache(self, encoded: EncoderOutput) -> DecoderCache:
        """The cache before the first decoding step: each decoder layer's cross-attention keys
        and values of the memory, computed once, and empty self-attention keys and values."""
        self._check_encoded(encoded)
        memory = encoded.memory  # (B, S, D)
        layers = self.decoder.layers
        return DecoderCache(
            self_attention=[layer.self_attention.empty_key_values(memory) for layer in layers],
            cross_attention=[layer.cross_attention.key_values(memory) for layer in layers],
            source_mask=encoded.source_mask,  # (B, S)
            target_mask=encoded.source_mask.new_zeros(memory.size(0), 0),  # (B, 0)
        )

    def decode_step(
        self, target_ids: Tensor, cache: DecoderCache, *, return_attention: bool = False
    ) -> tuple[DecoderOutput, DecoderCache]:
        """The next T words of the decoder input, target_ids (B, T) (usually T = 1: the word
        just chosen), at positions t .. t + T - 1 after the t positions held in ``cache``.

        Returns the logits (B, T, V), equal to those ``decode`` gives at these positions for the
        whole prefix, and the cache grown by T positions. Only the new positions are computed:
        their queries attend over the cached keys and values of the earlier ones.
        """
        _check_flag("return_attention", return_attention)
        self._check_ids("target_ids", target_ids, self.config.tgt_vocab_size)
        self._check_cache(cache, target_ids)
        B, T = target_ids.shape
        t = cache.length
        target_mask = torch.cat(
            [cache.target_mask, padding_mask(target_ids, self.config.pad_id)], dim=1
        )  # (B, t + T)
        look_ahead = causal_mask(t + T, target_ids.device)[t:]  # (T, t + T): rows t .. t+T-1
        self_mask = look_ahead & expand_padding_mask(target_mask)  # (B, 1, T, t + T)
        cross_mask = expand_padding_mask(cache.source_mask)  # (B, 1, 1, S)
        x = self.target_positions(self.target_embedding(target_ids), offset=t)  # (B, T, D)
        x, self_maps, cross_maps, held = self.decoder.step(
            x, cache, self_mask, cross_mask, return_attention=return_attention
        )
        grown = DecoderCache(held, cache.cross_attention, cache.source_mask, target_mask)
        return DecoderOutput(self.output_projection(x), self_maps, cross_maps), grown

    def forward(
        self, source_ids: Tensor, target_ids: Tensor, *, return_attention: bool = False
    ) -> TransformerOutput:
        """source_ids (B, S), target_ids (B, T) -> logits (B, T, V) [+ every attention map]."""
        if (
            isinstance(source_ids, Tensor)
            and isinstance(target_ids, Tensor)
            and source_ids.dim() == target_ids.dim() == 2
            and source_ids.size(0) != target_ids.size(0)
        ):
            raise ValueError(
                f"batch sizes differ: source_ids has {source_ids.size(0)} rows, "
                f"target_ids {target_ids.size(0)}"
            )
        encoded = self.encode(source_ids, return_attention=return_attention)
        decoded = self.decode(target_ids, encoded, return_attention=return_attention)
        maps = None
        if return_attention:
            maps = AttentionMaps(encoded.attention, decoded.self_attention, decoded.cross_attention)
        return TransformerOutput(decoded.logits, maps)

    def num_parameters(self) -> int:
        """Trainable parameters, each shared (tied) matrix counted once."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)
