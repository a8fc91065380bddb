"""minitransformer: the encoder-decoder Transformer of "Attention Is All You Need" (2017).

One implementation for the whole book. Shapes follow book/notation.md: B batch, T target
(query) length, S source (key) length, D = d_model, H heads, Dh = D / H, F = d_ff, V vocabulary,
N layers. Masks are boolean with True = "this query may attend to this key".
"""

from minitransformer.attention import KeyValues, MultiHeadAttention, scaled_dot_product_attention
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
    DecoderCache,
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

# Data, tokens, training, decoding, the shipped translator and GRU baselines (issue 3).
from minitransformer.baselines import GRUSeq2Seq
from minitransformer.data import (
    Corpus,
    EncodedPairs,
    Pair,
    encode_pairs,
    make_corpus,
    notes_example,
    toy_task,
    toy_vocab,
)
from minitransformer.decoding import (
    BeamSearchResult,
    Hypothesis,
    TraceStep,
    beam_search,
    exact_match,
    gnmt_length_penalty,
    greedy_decode,
    greedy_decode_batch,
    hypothesis_score,
    sequence_log_probability,
    token_accuracy,
    trace_greedy,
)
from minitransformer.pretrained import (
    CheckpointError,
    TranslationAttention,
    TranslationResult,
    Translator,
    UnknownWordsWarning,
    load_pretrained,
)
from minitransformer.tokens import EOS_ID, PAD_ID, SOS_ID, UNK_ID, Vocab, normalize_text
from minitransformer.training import (
    TrainingHistory,
    label_smoothed_cross_entropy,
    noam_lr,
    train,
    train_step,
)

__all__ += [
    "EOS_ID",
    "PAD_ID",
    "SOS_ID",
    "UNK_ID",
    "BeamSearchResult",
    "CheckpointError",
    "Corpus",
    "EncodedPairs",
    "GRUSeq2Seq",
    "Pair",
    "TraceStep",
    "TrainingHistory",
    "TranslationAttention",
    "Translator",
    "Vocab",
    "beam_search",
    "encode_pairs",
    "exact_match",
    "greedy_decode",
    "greedy_decode_batch",
    "label_smoothed_cross_entropy",
    "load_pretrained",
    "make_corpus",
    "noam_lr",
    "notes_example",
    "token_accuracy",
    "toy_task",
    "toy_vocab",
    "trace_greedy",
    "train",
    "train_step",
]

# Sound edges (issue 15): the translator's result, beam hypotheses, text normalisation.
__all__ += [
    "Hypothesis",
    "TranslationResult",
    "UnknownWordsWarning",
    "gnmt_length_penalty",
    "hypothesis_score",
    "normalize_text",
    "sequence_log_probability",
]

# Subwords: byte-pair encoding learned from word counts.
from minitransformer.subwords import BPE, END_OF_WORD, Merge  # noqa: E402

__all__ += ["BPE", "END_OF_WORD", "Merge"]

# Key/value caching: what incremental decoding keeps between steps.
__all__ += ["DecoderCache", "KeyValues"]
