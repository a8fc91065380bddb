"""minitransformer: the encoder-decoder Transformer of "Attention Is All You Need" (2017).

One implementation for the whole book. Shapes follow book/notation.md: B batch, T target
(query) length, S source (key) length, D = d_model, H heads, Dh = D / H, F = d_ff, V vocabulary,
N layers. Masks are boolean with True = "this query may attend to this key".
"""

from minitransformer.attention import MultiHeadAttention, scaled_dot_product_attention
from minitransformer.config import TransformerConfig
from minitransformer.layers import DecoderLayer, EncoderLayer, FeedForward
from minitransformer.masks import (
    causal_mask,
    combine_masks,
    padding_mask,
    to_torch_attn_mask,
    to_torch_key_padding_mask,
)
from minitransformer.model import (
    AttentionMaps,
    Decoder,
    DecoderOutput,
    Encoder,
    EncoderOutput,
    Transformer,
    TransformerOutput,
)
from minitransformer.positional import (
    LearnedPositionalEmbedding,
    PositionalEncoding,
    sinusoidal_encoding,
)

__all__ = [
    "AttentionMaps",
    "Decoder",
    "DecoderLayer",
    "DecoderOutput",
    "Encoder",
    "EncoderLayer",
    "EncoderOutput",
    "FeedForward",
    "LearnedPositionalEmbedding",
    "MultiHeadAttention",
    "PositionalEncoding",
    "Transformer",
    "TransformerConfig",
    "TransformerOutput",
    "causal_mask",
    "combine_masks",
    "padding_mask",
    "scaled_dot_product_attention",
    "sinusoidal_encoding",
    "to_torch_attn_mask",
    "to_torch_key_padding_mask",
]

# Modules added by later work (data, training, decoding, pretrained, viz) export below this line.
