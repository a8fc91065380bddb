"""Every documented bad input raises a clear error naming the argument and what was expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import minitransformer as mt


def config(**overrides: object) -> mt.TransformerConfig:
    values = dict(
        src_vocab_size=20,
        tgt_vocab_size=15,
        d_model=16,
        num_heads=2,
        num_layers=1,
        d_ff=32,
        dropout=0.0,
        max_len=8,
    )
    return mt.TransformerConfig(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "error", "message"),
    [
        (dict(d_model=100, num_heads=8), ValueError, "d_model=100 is not divisible by num_heads=8"),
        (dict(d_model=0), ValueError, "d_model=0 must be a positive integer"),
        (dict(num_layers=2.0), TypeError, "num_layers must be an int, got float"),
        (dict(dropout=1.0), ValueError, "dropout=1.0 must be a number in [0, 1)"),
        (dict(positional="rotary"), ValueError, "positional='rotary' must be 'sinusoidal' or"),
        (dict(d_model=18, num_heads=2, positional="sinusoidal"), None, None),
        (dict(d_model=15, num_heads=3), ValueError, "d_model=15 must be even"),
        (dict(share_embeddings=True), ValueError, "share_embeddings=True needs one vocabulary"),
        (dict(pad_id=15), ValueError, "pad_id=15 must be a valid id in both vocabularies"),
        (dict(pad_id=True), TypeError, "pad_id must be an int"),
    ],
)
def test_config_rejects_nonsense(overrides: dict, error: type | None, message: str | None) -> None:
    if error is None:
        config(**overrides)  # a valid neighbour of the bad cases: must not raise
        return
    with pytest.raises(error, match=re.escape(message)):
        config(**overrides)


@pytest.fixture(scope="module")
def model() -> mt.Transformer:
    return mt.Transformer(config()).eval()


def ids(*shape: int, high: int = 10) -> torch.Tensor:
    return torch.randint(4, high, shape)


@pytest.mark.parametrize(
    ("source", "target", "error", "message"),
    [
        (ids(2, 9), ids(2, 3), ValueError, "source_ids has length 9, longer than max_len=8"),
        (ids(2, 3), ids(2, 9), ValueError, "target_ids has length 9, longer than max_len=8"),
        (
            torch.tensor([[4, 20]]),
            ids(1, 3),
            ValueError,
            "source_ids holds ids from 4 to 20; expected 0 <= id < 20",
        ),
        (
            ids(1, 3),
            torch.tensor([[-1, 5]]),
            ValueError,
            "target_ids holds ids from -1 to 5; expected 0 <= id < 15",
        ),
        (ids(2, 0), ids(2, 3), ValueError, "source_ids is empty: shape (2, 0)"),
        (
            ids(2, 3),
            ids(3, 3),
            ValueError,
            "batch sizes differ: source_ids has 2 rows, target_ids 3",
        ),
        (ids(3), ids(1, 3), ValueError, "source_ids must have shape (B, length), got (3,)"),
        (ids(1, 3).float(), ids(1, 3), TypeError, "source_ids must be int64 or int32 token ids"),
        ([[4, 5]], ids(1, 3), TypeError, "source_ids must be a torch.Tensor, got list"),
    ],
)
def test_model_rejects_bad_token_ids(
    model: mt.Transformer, source: object, target: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        model(source, target)


def test_decode_checks_the_encoded_source(model: mt.Transformer) -> None:
    encoded = model.encode(ids(2, 4))
    with pytest.raises(ValueError, match="batch sizes differ: target_ids has 3 rows"):
        model.decode(ids(3, 2), encoded)
    with pytest.raises(TypeError, match=re.escape("encoded must be the EncoderOutput of encode()")):
        model.decode(ids(2, 2), encoded.memory)


def test_model_needs_a_config() -> None:
    with pytest.raises(TypeError, match="config must be a TransformerConfig, got dict"):
        mt.Transformer({"d_model": 16})


@pytest.mark.parametrize(
    ("mask", "error", "message"),
    [
        (torch.ones(3, 5), TypeError, "mask must have dtype torch.bool (True = may attend)"),
        (
            torch.ones(4, 4, dtype=torch.bool),
            ValueError,
            "mask of shape (4, 4) does not broadcast to the attention scores of shape (2, 2, 3, 5)",
        ),
        (torch.ones(2, 3, 3, 5, dtype=torch.bool), ValueError, "does not broadcast"),
        ([[True]], TypeError, "mask must be a boolean torch.Tensor or None, got list"),
    ],
)
def test_attention_rejects_bad_masks(mask: object, error: type, message: str) -> None:
    attention = mt.MultiHeadAttention(8, 2)
    query, memory = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    for return_attention in (False, True):
        with pytest.raises(error, match=re.escape(message)):
            attention(query, memory, memory, mask, return_attention=return_attention)


@pytest.mark.parametrize(
    ("shapes", "error", "message"),
    [
        (((2, 3, 6), (2, 5, 8), (2, 5, 8)), ValueError, "query has width 6, expected d_model=8"),
        (((2, 3, 8), (3, 5, 8), (3, 5, 8)), ValueError, "batch sizes differ: query 2, key 3"),
        (((2, 3, 8), (2, 5, 8), (2, 4, 8)), ValueError, "key and value must have the same length"),
        (((2, 0, 8), (2, 5, 8), (2, 5, 8)), ValueError, "query is an empty sequence (length 0)"),
        (((3, 8), (2, 5, 8), (2, 5, 8)), ValueError, "query must have shape (B, L, D), got (3, 8)"),
    ],
)
def test_multi_head_attention_rejects_bad_shapes(shapes: tuple, error: type, message: str) -> None:
    attention = mt.MultiHeadAttention(8, 2)
    with pytest.raises(error, match=re.escape(message)):
        attention(*(torch.randn(shape) for shape in shapes))


def test_multi_head_attention_rejects_bad_construction_and_non_tensors() -> None:
    with pytest.raises(ValueError, match=re.escape("d_model=10 is not divisible by num_heads=4")):
        mt.MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match=re.escape("num_heads=0 must be a positive integer")):
        mt.MultiHeadAttention(8, 0)
    with pytest.raises(ValueError, match=re.escape("dropout=1.5 must be in [0, 1)")):
        mt.MultiHeadAttention(8, 2, dropout=1.5)
    with pytest.raises(TypeError, match=re.escape("key must be a torch.Tensor, got ndarray")):
        attention = mt.MultiHeadAttention(8, 2)
        attention(torch.randn(1, 2, 8), torch.randn(1, 2, 8).numpy(), torch.randn(1, 2, 8))


@pytest.mark.parametrize(
    ("q", "k", "v", "message"),
    [
        ((2, 3, 4), (2, 5, 6), (2, 5, 6), "q and k must share their last dimension, got 4 and 6"),
        ((2, 3, 4), (2, 5, 4), (2, 6, 4), "k and v must have the same length S, got 5 and 6"),
        ((4,), (5, 4), (5, 4), "q must have at least 2 dimensions"),
    ],
)
def test_scaled_dot_product_attention_rejects_bad_shapes(
    q: tuple, k: tuple, v: tuple, message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        mt.scaled_dot_product_attention(torch.randn(q), torch.randn(k), torch.randn(v))
    with pytest.raises(TypeError, match=re.escape("q must be a torch.Tensor, got list")):
        mt.scaled_dot_product_attention([1.0], torch.randn(k), torch.randn(v))


def test_positional_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match=re.escape("d_model=7 must be even")):
        mt.sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match=re.escape("length=0 must be a positive integer")):
        mt.sinusoidal_encoding(0, 8)
    with pytest.raises(ValueError, match=re.escape("sequence length 11 is longer than max_len=10")):
        mt.PositionalEncoding(8, max_len=10)(torch.randn(1, 11, 8))


def test_mask_helpers_check_their_inputs() -> None:
    with pytest.raises(ValueError, match=re.escape("length=0 must be a positive integer")):
        mt.causal_mask(0)
    with pytest.raises(TypeError, match="token_ids must hold integer token ids, got dtype"):
        mt.padding_mask(torch.ones(2, 3))
    with pytest.raises(ValueError, match=re.escape("token_ids must have shape (B, S), got (3,)")):
        mt.padding_mask(torch.ones(3, dtype=torch.long))
    with pytest.raises(
        TypeError, match=re.escape("token_ids must be a torch.Tensor of token ids, got list")
    ):
        mt.padding_mask([[1, 2]])


# --- the table: every public entry point, with the error type and a word the message names ----

NAN = float("nan")


class Context:
    """The objects the table's calls act on (built once per module)."""

    def __init__(self, translator: mt.Translator) -> None:
        torch.manual_seed(0)
        self.config = config()
        self.model = mt.Transformer(self.config).eval()
        self.mha = mt.MultiHeadAttention(8, 2)
        self.encoder_layer = mt.EncoderLayer(8, 2, 16, dropout=0.0)
        self.decoder_layer = mt.DecoderLayer(8, 2, 16, dropout=0.0)
        self.gru = mt.GRUSeq2Seq(20, 15, 8)
        self.vocab = mt.Vocab(["a", "b", "c"])
        self.corpus = mt.make_corpus(30, 5)
        self.data = self.corpus.encoded()
        self.translator = translator
        self.pair = mt.notes_example()
        self.logits = torch.randn(2, 3, 7)
        self.labels = torch.randint(1, 7, (2, 3))
        self.optimizer = mt.training.make_optimizer(self.model)
        self.source = torch.randint(1, 20, (2, 5))
        self.target = torch.randint(1, 15, (2, 6))
        self.encoded = self.model.encode(self.source)
        self.cache = self.model.start_cache(self.encoded)
        self.next_word = torch.ones(2, 1, dtype=torch.long)
        self.self_attention = self.model.decoder.layers[0].self_attention
        self.memory = self.encoded.memory  # (2, 5, 16)
        self.bpe = mt.BPE.learn(["abab", "ab"], 2)

    def step(self, **overrides: object) -> object:
        """train_step on a fresh copy of the model (a bad step must not touch the shared one)."""
        model = mt.Transformer(self.config)
        arguments = dict(
            model=model,
            optimizer=mt.training.make_optimizer(model),
            source=self.source,
            target=self.target,
            learning_rate=1e-3,
        )
        arguments.update(overrides)
        return mt.train_step(**arguments)


def q3(*shape: int) -> torch.Tensor:
    return torch.randn(*shape)


def with_nan(tensor: torch.Tensor, value: float = NAN) -> torch.Tensor:
    tensor = tensor.clone()
    tensor.view(-1)[0] = value
    return tensor


def bool_mask(*shape: int) -> torch.Tensor:
    return torch.ones(shape, dtype=torch.bool)


def long_ids(*shape: int, high: int = 10) -> torch.Tensor:
    return torch.randint(4, high, shape)


C = Context  # the table's lambdas take a Context
SENTENCE = "어제 카페 갔었어"

CASES: list[tuple[str, object, type, str]] = [
    # TransformerConfig
    ("config norm_first str", lambda c: config(norm_first="no"), TypeError, "norm_first"),
    ("config share str", lambda c: config(share_embeddings="no"), TypeError, "share_embeddings"),
    ("config tie_output int", lambda c: config(tie_output=2), TypeError, "tie_output"),
    ("config eps negative", lambda c: config(layer_norm_eps=-1), ValueError, "layer_norm_eps"),
    ("config eps nan", lambda c: config(layer_norm_eps=NAN), ValueError, "layer_norm_eps"),
    ("config eps str", lambda c: config(layer_norm_eps="x"), TypeError, "layer_norm_eps"),
    ("config dropout str", lambda c: config(dropout="0.1"), TypeError, "dropout"),
    ("config dropout nan", lambda c: config(dropout=NAN), ValueError, "dropout"),
    ("config positional int", lambda c: config(positional=3), TypeError, "positional"),
    ("config max_len 0", lambda c: config(max_len=0), ValueError, "max_len"),
    ("config vocab float", lambda c: config(src_vocab_size=2.0), TypeError, "src_vocab_size"),
    ("config heads", lambda c: config(num_heads=3), ValueError, "num_heads"),
    ("config from_dict list", lambda c: mt.TransformerConfig.from_dict([1]), TypeError, "dict"),
    (
        "config from_dict key",
        lambda c: mt.TransformerConfig.from_dict({"x": 1}),
        ValueError,
        "unknown",
    ),
    # MultiHeadAttention
    ("mha dropout str", lambda c: mt.MultiHeadAttention(8, 2, dropout="0.1"), TypeError, "dropout"),
    ("mha d_model float", lambda c: mt.MultiHeadAttention(8.0, 2), TypeError, "d_model"),
    ("mha bias str", lambda c: mt.MultiHeadAttention(8, 2, bias="yes"), TypeError, "bias"),
    (
        "mha 1-D mask",
        lambda c: c.mha(q3(2, 3, 8), q3(2, 5, 8), q3(2, 5, 8), bool_mask(5)),
        ValueError,
        "2 dimensions",
    ),
    (
        "mha ambiguous (B, S) mask",
        lambda c: c.mha(q3(3, 3, 8), q3(3, 5, 8), q3(3, 5, 8), bool_mask(3, 5)),
        ValueError,
        "ambiguous",
    ),
    (
        "mha ambiguous, weights path",
        lambda c: c.mha(
            q3(3, 3, 8), q3(3, 5, 8), q3(3, 5, 8), bool_mask(3, 5), return_attention=True
        ),
        ValueError,
        "ambiguous",
    ),
    (
        "mha 5-D mask",
        lambda c: c.mha(q3(2, 3, 8), q3(2, 5, 8), q3(2, 5, 8), bool_mask(1, 2, 2, 3, 5)),
        ValueError,
        "2, 3 or 4",
    ),
    (
        "mha nan query fast",
        lambda c: c.mha(with_nan(q3(2, 3, 8)), q3(2, 5, 8), q3(2, 5, 8)),
        ValueError,
        "query",
    ),
    (
        "mha nan query explicit",
        lambda c: c.mha(with_nan(q3(2, 3, 8)), q3(2, 5, 8), q3(2, 5, 8), return_attention=True),
        ValueError,
        "query",
    ),
    (
        "mha inf key",
        lambda c: c.mha(q3(2, 3, 8), with_nan(q3(2, 5, 8), float("inf")), q3(2, 5, 8)),
        ValueError,
        "key",
    ),
    (
        "mha int query",
        lambda c: c.mha(torch.ones(2, 3, 8, dtype=torch.long), q3(2, 5, 8), q3(2, 5, 8)),
        TypeError,
        "query",
    ),
    (
        "mha return_attention str",
        lambda c: c.mha(q3(2, 3, 8), q3(2, 5, 8), q3(2, 5, 8), return_attention="yes"),
        TypeError,
        "return_attention",
    ),
    (
        "mha float mask",
        lambda c: c.mha(q3(2, 3, 8), q3(2, 5, 8), q3(2, 5, 8), torch.ones(3, 5)),
        TypeError,
        "bool",
    ),
    (
        "mha mask on meta device",
        lambda c: c.mha(q3(2, 3, 8), q3(2, 5, 8), q3(2, 5, 8), bool_mask(2, 1, 1, 5).to("meta")),
        ValueError,
        "device",
    ),
    # scaled_dot_product_attention
    (
        "sdpa nan q",
        lambda c: mt.scaled_dot_product_attention(with_nan(q3(2, 3, 4)), q3(2, 5, 4), q3(2, 5, 4)),
        ValueError,
        "q holds NaN",
    ),
    (
        "sdpa nan v",
        lambda c: mt.scaled_dot_product_attention(q3(2, 3, 4), q3(2, 5, 4), with_nan(q3(2, 5, 4))),
        ValueError,
        "v holds NaN",
    ),
    (
        "sdpa dropout_p",
        lambda c: mt.scaled_dot_product_attention(
            q3(2, 3, 4), q3(2, 5, 4), q3(2, 5, 4), dropout_p=2.0
        ),
        ValueError,
        "dropout_p",
    ),
    (
        "sdpa 1-D mask",
        lambda c: mt.scaled_dot_product_attention(
            q3(2, 3, 4), q3(2, 5, 4), q3(2, 5, 4), bool_mask(5)
        ),
        ValueError,
        "mask",
    ),
    (
        "sdpa batch dims",
        lambda c: mt.scaled_dot_product_attention(q3(2, 3, 4), q3(3, 5, 4), q3(3, 5, 4)),
        ValueError,
        "broadcast",
    ),
    # layers
    ("encoder layer d_ff -1", lambda c: mt.EncoderLayer(8, 2, -1), ValueError, "d_ff"),
    ("encoder layer d_ff 2.5", lambda c: mt.EncoderLayer(8, 2, 2.5), TypeError, "d_ff"),
    ("encoder layer d_ff 0", lambda c: mt.EncoderLayer(8, 2, 0), ValueError, "d_ff"),
    (
        "encoder layer norm_first str",
        lambda c: mt.EncoderLayer(8, 2, 16, norm_first="no"),
        TypeError,
        "norm_first",
    ),
    (
        "decoder layer eps",
        lambda c: mt.DecoderLayer(8, 2, 16, layer_norm_eps=-1),
        ValueError,
        "layer_norm_eps",
    ),
    ("decoder layer heads", lambda c: mt.DecoderLayer(8, 3, 16), ValueError, "num_heads"),
    (
        "decoder layer dropout",
        lambda c: mt.DecoderLayer(8, 2, 16, dropout=1.0),
        ValueError,
        "dropout",
    ),
    ("feed-forward d_ff 0", lambda c: mt.FeedForward(8, 0), ValueError, "d_ff"),
    ("feed-forward width", lambda c: mt.FeedForward(8, 16)(q3(2, 3, 7)), ValueError, "(..., 8)"),
    ("feed-forward list", lambda c: mt.FeedForward(8, 16)([1.0]), TypeError, "x must be"),
    ("encoder layer width", lambda c: c.encoder_layer(q3(2, 3, 6)), ValueError, "d_model"),
    (
        "decoder layer batch",
        lambda c: c.decoder_layer(q3(2, 3, 8), q3(3, 5, 8)),
        ValueError,
        "batch sizes",
    ),
    (
        "decoder layer nan memory",
        lambda c: c.decoder_layer(q3(2, 3, 8), with_nan(q3(2, 5, 8))),
        ValueError,
        "key",
    ),
    # positional
    ("sinusoidal length float", lambda c: mt.sinusoidal_encoding(2.5, 8), TypeError, "length"),
    (
        "sinusoidal dtype",
        lambda c: mt.sinusoidal_encoding(4, 8, dtype=torch.int64),
        TypeError,
        "dtype",
    ),
    ("positional max_len 0", lambda c: mt.PositionalEncoding(8, 0), ValueError, "max_len"),
    (
        "positional dropout",
        lambda c: mt.PositionalEncoding(8, 10, dropout=1.5),
        ValueError,
        "dropout",
    ),
    (
        "positional width",
        lambda c: mt.PositionalEncoding(8, 10)(q3(1, 3, 6)),
        ValueError,
        "embeddings",
    ),
    ("positional list", lambda c: mt.PositionalEncoding(8, 10)([1.0]), TypeError, "embeddings"),
    (
        "learned too long",
        lambda c: mt.LearnedPositionalEmbedding(8, 4)(q3(1, 5, 8)),
        ValueError,
        "max_len",
    ),
    ("learned d_model 0", lambda c: mt.LearnedPositionalEmbedding(0, 4), ValueError, "d_model"),
    # masks
    ("causal length float", lambda c: mt.causal_mask(2.5), TypeError, "length"),
    (
        "padding pad_id str",
        lambda c: mt.padding_mask(long_ids(2, 3), pad_id="0"),
        TypeError,
        "pad_id",
    ),
    (
        "combine float mask",
        lambda c: mt.combine_masks(bool_mask(2, 3), torch.ones(2, 3)),
        TypeError,
        "masks[1]",
    ),
    (
        "combine shapes",
        lambda c: mt.combine_masks(bool_mask(2, 3), bool_mask(4, 5)),
        ValueError,
        "broadcast",
    ),
    (
        "torch key padding float",
        lambda c: mt.to_torch_key_padding_mask(torch.ones(2, 3)),
        TypeError,
        "mask",
    ),
    (
        "torch key padding 3-D",
        lambda c: mt.to_torch_key_padding_mask(bool_mask(2, 3, 4)),
        ValueError,
        "(B, S)",
    ),
    ("torch attn mask list", lambda c: mt.to_torch_attn_mask([[True]]), TypeError, "mask"),
    # model
    (
        "model return_attention str",
        lambda c: c.model(long_ids(1, 3), long_ids(1, 3), return_attention="yes"),
        TypeError,
        "return_attention",
    ),
    ("encoder config", lambda c: mt.Encoder({}), TypeError, "config"),
    ("decoder config", lambda c: mt.Decoder(None), TypeError, "config"),
    ("encode float ids", lambda c: c.model.encode(long_ids(1, 3).float()), TypeError, "source_ids"),
    (
        "encode meta ids",
        lambda c: c.model.encode(long_ids(1, 3).to("meta")),
        ValueError,
        "source_ids",
    ),
    ("decode encoded type", lambda c: c.model.decode(long_ids(1, 3), None), TypeError, "encoded"),
    # decoding
    ("greedy str source", lambda c: mt.greedy_decode(c.model, "abc"), TypeError, "source_ids"),
    ("greedy empty source", lambda c: mt.greedy_decode(c.model, []), ValueError, "empty"),
    (
        "greedy max_len 0",
        lambda c: mt.greedy_decode(c.model, [4, 5], max_len=0),
        ValueError,
        "max_len",
    ),
    (
        "greedy max_len float",
        lambda c: mt.greedy_decode(c.model, [4, 5], max_len=2.5),
        TypeError,
        "max_len",
    ),
    (
        "greedy force step 0",
        lambda c: mt.greedy_decode(c.model, [4, 5], force={0: 4}),
        ValueError,
        "force",
    ),
    (
        "greedy force id",
        lambda c: mt.greedy_decode(c.model, [4, 5], force={1: 99}),
        ValueError,
        "force[1]",
    ),
    (
        "greedy force str",
        lambda c: mt.greedy_decode(c.model, [4, 5], force={1: "x"}),
        TypeError,
        "force[1]",
    ),
    (
        "greedy force list",
        lambda c: mt.greedy_decode(c.model, [4, 5], force=[1]),
        TypeError,
        "force",
    ),
    ("greedy model", lambda c: mt.greedy_decode("model", [4]), TypeError, "model"),
    ("greedy float ids", lambda c: mt.greedy_decode(c.model, [4.5]), TypeError, "source_ids"),
    (
        "batch empty row",
        lambda c: mt.greedy_decode_batch(c.model, [[4], []]),
        ValueError,
        "sources[1]",
    ),
    (
        "batch float tensor",
        lambda c: mt.greedy_decode_batch(c.model, torch.ones(2, 3)),
        TypeError,
        "sources",
    ),
    (
        "batch size 0",
        lambda c: mt.greedy_decode_batch(c.model, [[4]], batch_size=0),
        ValueError,
        "batch_size",
    ),
    ("batch int", lambda c: mt.greedy_decode_batch(c.model, 5), TypeError, "sources"),
    (
        "batch float ids",
        lambda c: mt.greedy_decode_batch(c.model, [[4.5]]),
        TypeError,
        "sources[0]",
    ),
    (
        "batch 3-D tensor",
        lambda c: mt.greedy_decode_batch(c.model, long_ids(1, 2, 3)),
        ValueError,
        "sources",
    ),
    (
        "beam width 0",
        lambda c: mt.beam_search(c.model, [4], beam_width=0),
        ValueError,
        "beam_width",
    ),
    (
        "beam width float",
        lambda c: mt.beam_search(c.model, [4], beam_width=2.5),
        TypeError,
        "beam_width",
    ),
    (
        "beam penalty negative",
        lambda c: mt.beam_search(c.model, [4], length_penalty=-1),
        ValueError,
        "length_penalty",
    ),
    (
        "beam penalty str",
        lambda c: mt.beam_search(c.model, [4], length_penalty="a"),
        TypeError,
        "length_penalty",
    ),
    (
        "beam penalty nan",
        lambda c: mt.beam_search(c.model, [4], length_penalty=NAN),
        ValueError,
        "length_penalty",
    ),
    ("beam eos id", lambda c: mt.beam_search(c.model, [4], eos_id=99), ValueError, "eos_id"),
    ("beam batch", lambda c: mt.beam_search(c.model, long_ids(2, 3)), ValueError, "one sentence"),
    ("trace max_len", lambda c: mt.trace_greedy(c.model, [4], max_len=-1), ValueError, "max_len"),
    ("trace none", lambda c: mt.trace_greedy(c.model, None), TypeError, "source_ids"),
    ("trace sos id", lambda c: mt.trace_greedy(c.model, [4], sos_id=-1), ValueError, "sos_id"),
    ("exact_match data", lambda c: mt.exact_match(c.model, [[4]]), TypeError, "data"),
    ("token_accuracy data", lambda c: mt.token_accuracy(c.model, None), TypeError, "data"),
    (
        "hypothesis_score type",
        lambda c: mt.hypothesis_score(c.model, [4], ([4], 0.0)),
        TypeError,
        "hypothesis",
    ),
    (
        "log probability empty",
        lambda c: mt.decoding.sequence_log_probability(c.model, [4], [], finished=False),
        ValueError,
        "at least one word",
    ),
    (
        "greedy max_len beyond the table",
        lambda c: mt.greedy_decode(c.model, [4], max_len=50),
        ValueError,
        "config.max_len",
    ),
    (
        "beam max_len beyond the table",
        lambda c: mt.beam_search(c.model, [4], max_len=9),
        ValueError,
        "max_len=9",
    ),
    (
        "loss labels out of range",
        lambda c: mt.label_smoothed_cross_entropy(c.logits, c.labels + 10),
        ValueError,
        "labels hold ids",
    ),
    # tokens
    ("vocab int", lambda c: mt.Vocab(5), TypeError, "words"),
    ("vocab spaces", lambda c: mt.Vocab(["a b"]), ValueError, "single words"),
    ("encode bytes", lambda c: c.vocab.encode(b"abc"), TypeError, "text"),
    ("encode none", lambda c: c.vocab.encode(None), TypeError, "text"),
    ("encode sentences", lambda c: c.vocab.encode(["a b", "c"]), ValueError, "single words"),
    ("encode ints", lambda c: c.vocab.encode([1, 2]), TypeError, "text"),
    ("decode str", lambda c: c.vocab.decode("12"), TypeError, "ids"),
    ("decode floats", lambda c: c.vocab.decode([1.5]), TypeError, "ids"),
    ("decode 2-D", lambda c: c.vocab.decode(long_ids(2, 2)), ValueError, "ids"),
    ("word out of range", lambda c: c.vocab.word(99), IndexError, "outside"),
    ("id of int", lambda c: c.vocab.id(3), TypeError, "word"),
    ("build int", lambda c: mt.Vocab.build(5), TypeError, "sentences"),
    ("from_dict short", lambda c: mt.Vocab.from_dict({"itos": ["a"]}), ValueError, "vocabulary"),
    ("normalize none", lambda c: mt.normalize_text(None), TypeError, "text"),
    ("normalize bytes", lambda c: mt.normalize_text(b"x"), TypeError, "text"),
    ("pad str", lambda c: mt.tokens.pad_sequences("ab"), TypeError, "sequences"),
    ("pad length", lambda c: mt.tokens.pad_sequences([[1]], length=-1), ValueError, "length"),
    ("pad floats", lambda c: mt.tokens.pad_sequences([[1.5]]), TypeError, "sequences[0]"),
    # data
    ("corpus 0", lambda c: mt.make_corpus(0), ValueError, "num_train"),
    ("corpus float", lambda c: mt.make_corpus(2.5), TypeError, "num_train"),
    ("corpus held-out", lambda c: mt.make_corpus(10, -1), ValueError, "num_held_out"),
    ("corpus grammar", lambda c: mt.make_corpus(10, grammar="fancy"), ValueError, "grammar"),
    ("corpus grammar int", lambda c: mt.make_corpus(10, grammar=2), TypeError, "grammar"),
    (
        "corpus num_longer",
        lambda c: mt.make_corpus(10, grammar="rich", num_longer=-1),
        ValueError,
        "num_longer",
    ),
    (
        "corpus num_longer float",
        lambda c: mt.make_corpus(10, grammar="rich", num_longer=1.5),
        TypeError,
        "num_longer",
    ),
    (
        "corpus num_longer notes",
        lambda c: mt.make_corpus(10, num_longer=3),
        ValueError,
        "num_longer",
    ),
    ("notes_example grammar", lambda c: mt.notes_example("rich "), ValueError, "grammar"),
    ("toy task", lambda c: mt.toy_task(5, task="sort"), ValueError, "task"),
    ("toy lengths", lambda c: mt.toy_task(5, lengths=(0,)), ValueError, "lengths"),
    ("toy count str", lambda c: mt.toy_task("5"), TypeError, "num_examples"),
    ("toy vocab", lambda c: mt.toy_vocab(27), ValueError, "num_symbols"),
    ("encode_pairs str", lambda c: mt.encode_pairs("x", c.vocab, c.vocab), TypeError, "pairs"),
    (
        "encode_pairs vocab",
        lambda c: mt.encode_pairs([c.pair], c.vocab, None),
        TypeError,
        "tgt_vocab",
    ),
    ("encoded pairs floats", lambda c: mt.EncodedPairs([[1.5]], [[1]]), TypeError, "source"),
    ("pair list", lambda c: mt.Pair(["a"], ("b",)), TypeError, "source"),
    ("pair alignment", lambda c: mt.Pair(("a",), ("b",), ((0, 3),)), ValueError, "alignment"),
    ("Corpus.encoded split", lambda c: c.corpus.encoded("test"), ValueError, "split"),
    # training
    ("noam step float", lambda c: mt.noam_lr(1.5, 64), TypeError, "step"),
    ("noam warmup 0", lambda c: mt.noam_lr(1, 64, warmup=0), ValueError, "warmup"),
    ("noam factor str", lambda c: mt.noam_lr(1, 64, factor="1"), TypeError, "factor"),
    (
        "loss smoothing",
        lambda c: mt.label_smoothed_cross_entropy(c.logits, c.labels, smoothing=1.0),
        ValueError,
        "smoothing",
    ),
    (
        "loss logits list",
        lambda c: mt.label_smoothed_cross_entropy([1.0], c.labels),
        TypeError,
        "logits",
    ),
    (
        "loss labels float",
        lambda c: mt.label_smoothed_cross_entropy(c.logits, c.labels.float()),
        TypeError,
        "labels",
    ),
    (
        "loss shapes",
        lambda c: mt.label_smoothed_cross_entropy(c.logits, c.labels[:, :2]),
        ValueError,
        "labels",
    ),
    ("train model", lambda c: mt.train("model", c.data), TypeError, "model"),
    ("train data", lambda c: mt.train(c.model, [[1]]), TypeError, "data"),
    ("train steps float", lambda c: mt.train(c.model, c.data, steps=2.5), TypeError, "steps"),
    ("train lr_factor", lambda c: mt.train(c.model, c.data, lr_factor=0), ValueError, "lr_factor"),
    (
        "train smoothing",
        lambda c: mt.train(c.model, c.data, label_smoothing=1),
        ValueError,
        "label_smoothing",
    ),
    ("train clip_norm", lambda c: mt.train(c.model, c.data, clip_norm=-1), ValueError, "clip_norm"),
    ("train callback", lambda c: mt.train(c.model, c.data, callback=5), TypeError, "callback"),
    (
        "train batch size",
        lambda c: mt.train(c.model, c.data, batch_size=0, progress=False),
        ValueError,
        "batch_size",
    ),
    # baselines
    ("gru hidden 0", lambda c: mt.GRUSeq2Seq(20, 15, 0), ValueError, "hidden_size"),
    (
        "gru attention str",
        lambda c: mt.GRUSeq2Seq(20, 15, 8, attention="yes"),
        TypeError,
        "attention",
    ),
    ("gru source list", lambda c: c.gru.encode([[1]]), TypeError, "source_ids"),
    (
        "gru target range",
        lambda c: c.gru(long_ids(1, 3), long_ids(1, 3, high=20)),
        ValueError,
        "target_ids",
    ),
    ("gru batch", lambda c: c.gru(long_ids(1, 3), long_ids(2, 3)), ValueError, "batch sizes"),
    # the translator
    ("translate bytes", lambda c: c.translator.translate(SENTENCE.encode()), TypeError, "korean"),
    ("translate none", lambda c: c.translator.translate(None), TypeError, "korean"),
    ("translate int", lambda c: c.translator.translate(5), TypeError, "korean"),
    (
        "translate sentences",
        lambda c: c.translator.translate(["어제 카페", "갔었어"]),
        ValueError,
        "single words",
    ),
    (
        "translate width 0",
        lambda c: c.translator.translate(SENTENCE, beam_width=0),
        ValueError,
        "beam_width",
    ),
    (
        "translate width float",
        lambda c: c.translator.translate(SENTENCE, beam_width=2.5),
        TypeError,
        "beam_width",
    ),
    (
        "translate punctuation only",
        lambda c: c.translator.translate("!!! ..."),
        ValueError,
        "empty",
    ),
    (
        "translate force word",
        lambda c: c.translator.translate(SENTENCE, force={1: 5}),
        TypeError,
        "force[1]",
    ),
    (
        "translate force step",
        lambda c: c.translator.translate(SENTENCE, force={0: "you"}),
        ValueError,
        "force",
    ),
    ("translate too long", lambda c: c.translator.translate("카페 " * 70), ValueError, "max_len"),
    ("batch of str", lambda c: c.translator.translate_batch(SENTENCE), TypeError, "sentences"),
    (
        "batch none item",
        lambda c: c.translator.translate_batch([SENTENCE, None]),
        TypeError,
        "sentences[1]",
    ),
    ("beam width", lambda c: c.translator.beam(SENTENCE, beam_width=-1), ValueError, "beam_width"),
    (
        "result penalty",
        lambda c: c.translator.translate_result(SENTENCE, length_penalty=-0.5),
        ValueError,
        "length_penalty",
    ),
    (
        "top_words shape",
        lambda c: c.translator.top_words(torch.ones(3)),
        ValueError,
        "probabilities",
    ),
    (
        "top_words k",
        lambda c: c.translator.top_words(torch.ones(len(c.translator.tgt_vocab)), k=0),
        ValueError,
        "k=",
    ),
    (
        "attention english int",
        lambda c: c.translator.attention(SENTENCE, english=5),
        TypeError,
        "english",
    ),
    ("exact_match pairs", lambda c: c.translator.exact_match(["x"]), TypeError, "pairs[0]"),
    (
        "alignment layer",
        lambda c: c.translator.alignment_score([c.pair], layer=5),
        ValueError,
        "layer",
    ),
    (
        "alignment head",
        lambda c: c.translator.alignment_score([c.pair], head=9),
        ValueError,
        "head",
    ),
    ("translator model", lambda c: mt.Translator("m", c.vocab, c.vocab), TypeError, "model"),
    (
        "translator vocab size",
        lambda c: mt.Translator(c.model, c.vocab, c.vocab),
        ValueError,
        "src_vocab",
    ),
    ("trace force str", lambda c: c.translator.trace(SENTENCE, force="you"), TypeError, "force"),
    ("unknown_words none", lambda c: c.translator.unknown_words(None), TypeError, "korean"),
    # one training step
    ("train_step model", lambda c: c.step(model="m"), TypeError, "model"),
    ("train_step optimizer", lambda c: c.step(optimizer="adam"), TypeError, "optimizer"),
    ("train_step target list", lambda c: c.step(target=[[1, 2]]), TypeError, "target"),
    ("train_step target float", lambda c: c.step(target=c.target.float()), TypeError, "target"),
    ("train_step target short", lambda c: c.step(target=c.target[:, :1]), ValueError, "target"),
    ("train_step source float", lambda c: c.step(source=c.source.float()), TypeError, "source"),
    ("train_step lr str", lambda c: c.step(learning_rate="1e-3"), TypeError, "learning_rate"),
    ("train_step lr nan", lambda c: c.step(learning_rate=NAN), ValueError, "learning_rate"),
    ("train_step lr negative", lambda c: c.step(learning_rate=-1.0), ValueError, "learning_rate"),
    ("train_step smoothing", lambda c: c.step(label_smoothing=1.5), ValueError, "label_smoothing"),
    ("train_step clip", lambda c: c.step(clip_norm=-1.0), ValueError, "clip_norm"),
    ("train_step clip str", lambda c: c.step(clip_norm="1"), TypeError, "clip_norm"),
    ("train_step pad_id", lambda c: c.step(pad_id=0.5), TypeError, "pad_id"),
    ("train_step batch", lambda c: c.step(target=c.target[:1]), ValueError, "batch sizes"),
    # length penalty
    ("length penalty length", lambda c: mt.gnmt_length_penalty("3", 0.6), TypeError, "length"),
    ("length penalty negative", lambda c: mt.gnmt_length_penalty(-1, 0.6), ValueError, "length"),
    ("length penalty alpha", lambda c: mt.gnmt_length_penalty(3, "a"), TypeError, "alpha"),
    ("length penalty alpha < 0", lambda c: mt.gnmt_length_penalty(3, -1.0), ValueError, ">= 0"),
    # incremental decoding (the key/value cache)
    ("start_cache encoded", lambda c: c.model.start_cache("memory"), TypeError, "encoded"),
    ("decode_step ids", lambda c: c.model.decode_step([[1]], c.cache), TypeError, "target_ids"),
    (
        "decode_step cache",
        lambda c: c.model.decode_step(c.next_word, "cache"),
        TypeError,
        "cache",
    ),
    (
        "decode_step batch",
        lambda c: c.model.decode_step(torch.ones(3, 1, dtype=torch.long), c.cache),
        ValueError,
        "batch sizes",
    ),
    (
        "decode_step big id",
        lambda c: c.model.decode_step(c.next_word * 99, c.cache),
        ValueError,
        "target_ids",
    ),
    (
        "decode_step flag",
        lambda c: c.model.decode_step(c.next_word, c.cache, return_attention=1),
        TypeError,
        "return_attention",
    ),
    ("key_values source", lambda c: c.self_attention.key_values("m"), TypeError, "source"),
    ("empty_key_values like", lambda c: c.self_attention.empty_key_values("m"), TypeError, "like"),
    (
        "attend cached",
        lambda c: c.self_attention.attend(c.memory, "kv", append=True),
        TypeError,
        "cached",
    ),
    (
        "attend append",
        lambda c: c.self_attention.attend(
            c.memory, c.self_attention.empty_key_values(c.memory), append=1
        ),
        TypeError,
        "append",
    ),
    (
        "attend cross without keys",
        lambda c: c.self_attention.attend(
            c.memory, c.self_attention.empty_key_values(c.memory), append=False
        ),
        ValueError,
        "key_values",
    ),
    ("KeyValues keys", lambda c: mt.KeyValues("k", "v"), TypeError, "keys"),
    (
        "KeyValues shapes",
        lambda c: mt.KeyValues(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5)),
        ValueError,
        "same shape",
    ),
    (
        "DecoderCache lists",
        lambda c: mt.DecoderCache("a", "b", "c", "d"),
        TypeError,
        "self_attention",
    ),
    # byte-pair encoding
    ("BPE.learn words", lambda c: mt.BPE.learn(5, 3), TypeError, "words"),
    ("BPE.learn empty", lambda c: mt.BPE.learn([], 3), ValueError, "words"),
    ("BPE.learn count", lambda c: mt.BPE.learn({"ab": 0}, 3), ValueError, "count"),
    ("BPE.learn merges type", lambda c: mt.BPE.learn(["ab"], 1.5), TypeError, "num_merges"),
    ("BPE.learn merges < 0", lambda c: mt.BPE.learn(["ab"], -1), ValueError, "num_merges"),
    ("BPE.encode type", lambda c: c.bpe.encode(5), TypeError, "word"),
    ("BPE.encode space", lambda c: c.bpe.encode("a b"), ValueError, "one word"),
    ("BPE.decode str", lambda c: c.bpe.decode("ab"), TypeError, "units"),
    ("BPE.decode unknown", lambda c: c.bpe.decode(["zz"]), ValueError, "vocabulary"),
    ("BPE symbols", lambda c: mt.BPE("ab", ()), TypeError, "symbols"),
    ("BPE end marker", lambda c: mt.BPE(("a", "b"), ()), ValueError, "end-of-word"),
    ("BPE merges", lambda c: mt.BPE(c.bpe.symbols, ("ab",)), TypeError, "merges"),
    ("Merge pair", lambda c: mt.Merge(1, 2), TypeError, "pair"),
    ("Merge count", lambda c: mt.Merge(("a", "b"), 0), ValueError, "count"),
    # checkpoints
    ("load int", lambda c: mt.load_pretrained(5), TypeError, "directory"),
    (
        "load missing",
        lambda c: mt.load_pretrained("/nonexistent/checkpoint"),
        mt.CheckpointError,
        "not found",
    ),
    ("save type", lambda c: mt.pretrained.save_translator("x"), TypeError, "translator"),
]


@pytest.fixture(scope="module")
def context(translator: mt.Translator) -> Context:
    return Context(translator)


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(CASES) >= 80
    assert len({name for name, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize(("name", "call", "error", "word"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_table(context: Context, name: str, call, error: type, word: str) -> None:
    with pytest.raises(error) as raised:
        call(context)
    assert type(raised.value) is error or error is mt.CheckpointError, name
    assert word in str(raised.value), f"{name}: {raised.value}"


# Exported names that are not entry points taking arguments from a user: constants, and the
# result types the package returns (built by the package, read by the user).
NOT_ENTRY_POINTS = {
    "EOS_ID",
    "PAD_ID",
    "SOS_ID",
    "UNK_ID",
    "END_OF_WORD",
    "AttentionMaps",
    "DecoderOutput",
    "TransformerOutput",
    "BeamSearchResult",
    "Hypothesis",
    "TraceStep",
    "TrainingHistory",
    "TranslationAttention",
    "TranslationResult",
    "UnknownWordsWarning",
}


def test_every_exported_entry_point_has_bad_input_cases() -> None:
    """A new public function or class must come with rows in this file: its name appears in a
    case (the table or the parametrised tests above)."""
    source = Path(__file__).read_text(encoding="utf-8")
    missing = [
        name
        for name in mt.__all__
        if name not in NOT_ENTRY_POINTS and not re.search(rf"\b{re.escape(name)}\b", source)
    ]
    assert not missing, f"exported but never given bad input here: {missing}"
    assert NOT_ENTRY_POINTS <= set(mt.__all__), NOT_ENTRY_POINTS - set(mt.__all__)
