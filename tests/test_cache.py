"""Key/value caching: incremental decoding gives the uncached decoder's logits and words."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from conftest import randomise_norms
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import minitransformer as mt
from minitransformer.attention import KeyValues
from minitransformer.data import encode_pairs
from minitransformer.decoding import beam_search, greedy_decode, greedy_decode_batch
from minitransformer.model import DecoderCache
from minitransformer.tokens import EOS_ID, PAD_ID, SOS_ID, pad_sequences

TOLERANCE = 1e-5  # float32 logits, cached against uncached
HELD_OUT = 100


@pytest.fixture(scope="module")
def held_out(translator, corpus):
    """The first 100 held-out pairs, in the translator's ids."""
    return encode_pairs(corpus.held_out[:HELD_OUT], translator.src_vocab, translator.tgt_vocab)


def stepwise_logits(model, source, decoder_input, chunks=None):
    """Logits (B, T, V) of the decoder input fed through decode_step, ``chunks`` positions at a
    time (default one), and the final cache."""
    cache = model.start_cache(model.encode(source))
    sizes = chunks or [1] * decoder_input.size(1)
    pieces, start = [], 0
    for size in sizes:
        decoded, cache = model.decode_step(decoder_input[:, start : start + size], cache)
        pieces.append(decoded.logits)
        start += size
    return torch.cat(pieces, dim=1), cache


def same_hypotheses(ours, theirs, *, ties: bool = False) -> bool:
    """The same sentences in the same order, finished alike, scores equal within 1e-4 (sums
    of log-probabilities from float32 logits). ``ties=True`` (random models, which can score two
    sentences alike): at a rank where the sentences differ, both searches must hold a tie there,
    two hypotheses within 1e-4 of each other."""

    def tied(result, rank: int) -> bool:
        scores = [h.score for h in result.hypotheses]
        return any(abs(scores[rank] - scores[other]) <= 1e-4
                   for other in (rank - 1, rank + 1) if 0 <= other < len(scores))  # fmt: skip

    pairs = list(zip(ours.hypotheses, theirs.hypotheses, strict=True))
    for rank, (a, b) in enumerate(pairs):
        if abs(a.score - b.score) > 1e-4:
            return False
        same = a.tokens == b.tokens and a.finished == b.finished
        if not same and not (ties and tied(ours, rank) and tied(theirs, rank)):
            return False
    return True


# -- the shipped translator, on held-out sentences --------------------------------------------


def test_cached_logits_equal_uncached_on_held_out_sentences(translator, held_out):
    model = translator.model.eval()
    assert model.training is False and len(held_out) == HELD_OUT
    source = pad_sequences(held_out.source)  # (100, S), padded
    decoder_input = pad_sequences([target[:-1] for target in held_out.target])  # <sos> y ...
    assert bool((source == PAD_ID).any()) and bool((decoder_input == PAD_ID).any())
    with torch.no_grad():
        uncached = model(source, decoder_input).logits  # (100, T, V)
        cached, cache = stepwise_logits(model, source, decoder_input)
    assert cache.length == decoder_input.size(1)
    real = decoder_input != PAD_ID  # every real position, step by step
    difference = (cached - uncached).abs().amax(dim=-1)[real]
    assert float(difference.max()) <= TOLERANCE
    # one sentence at a time too (no padding at all), along the greedy path
    with torch.no_grad():
        for source_ids in held_out.source[:20]:
            one = torch.tensor([source_ids])
            words = greedy_decode(model, source_ids)
            prefix = torch.tensor([[SOS_ID, *words]])
            full = model(one, prefix).logits
            steps, _ = stepwise_logits(model, one, prefix)
            torch.testing.assert_close(steps, full, atol=TOLERANCE, rtol=0)
            assert int(steps[0, -1].argmax()) == EOS_ID


def test_greedy_outputs_identical_cached_and_uncached(translator, held_out):
    model = translator.model
    cached = greedy_decode_batch(model, held_out.source)
    uncached = greedy_decode_batch(model, held_out.source, use_cache=False)
    assert cached == uncached
    right = sum(output in held_out.right_targets(k) for k, output in enumerate(cached))
    assert right >= 0.98 * len(held_out)  # and they are right translations
    for source_ids in held_out.source[:10]:
        assert greedy_decode(model, source_ids) == greedy_decode(model, source_ids, use_cache=False)


def test_beam_outputs_identical_cached_and_uncached(translator, held_out):
    model = translator.model
    for source_ids in held_out.source:
        cached = beam_search(model, source_ids, beam_width=4)
        uncached = beam_search(model, source_ids, beam_width=4, use_cache=False)
        assert same_hypotheses(cached, uncached)


def test_beam_cache_rows_follow_their_parents(translator, held_out):
    """With a length penalty the beams keep changing parents; every returned hypothesis's score
    must still be the uncached search's (a cache row left with the wrong beam would change it)."""
    model = translator.model
    for source_ids in held_out.source[:10]:
        cached = beam_search(model, source_ids, beam_width=5, length_penalty=1.0, max_len=6)
        uncached = beam_search(
            model, source_ids, beam_width=5, length_penalty=1.0, max_len=6, use_cache=False
        )
        assert same_hypotheses(cached, uncached)


# -- random small models: properties ----------------------------------------------------------


@st.composite
def model_and_batch(draw):
    heads = draw(st.sampled_from([1, 2, 4]))
    tied = draw(st.booleans())
    config = mt.TransformerConfig(
        src_vocab_size=draw(st.integers(6, 20)) if not tied else 16,
        tgt_vocab_size=draw(st.integers(6, 20)) if not tied else 16,
        d_model=heads * draw(st.sampled_from([4, 8])),
        num_heads=heads,
        num_layers=draw(st.integers(1, 3)),
        d_ff=draw(st.sampled_from([8, 32])),
        dropout=0.1,  # decoding must switch it off
        max_len=12,
        norm_first=draw(st.booleans()),
        positional=draw(st.sampled_from(["sinusoidal", "learned"])),
        share_embeddings=tied,
        tie_output=tied,
    )
    torch.manual_seed(draw(st.integers(0, 2**16)))
    model = mt.Transformer(config).eval()
    randomise_norms(model)
    B = draw(st.integers(1, 4))
    lengths = draw(st.lists(st.integers(1, 6), min_size=B, max_size=B))
    sources = [torch.randint(4, config.src_vocab_size, (n,)).tolist() for n in lengths]
    T = draw(st.integers(1, 8))
    decoder_input = torch.randint(1, config.tgt_vocab_size, (B, T))
    decoder_input[:, 0] = SOS_ID
    cut = draw(st.lists(st.integers(1, T), min_size=B, max_size=B))
    for row, end in enumerate(cut):  # target padding at the end of some rows
        decoder_input[row, end:] = PAD_ID
    chunks = draw(st.lists(st.integers(1, 3), min_size=1, max_size=T))
    return model, pad_sequences(sources), decoder_input, chunks


def _chunked(sizes: list[int], total: int) -> list[int]:
    """Chunk sizes covering exactly ``total`` positions (the last one trimmed or added)."""
    out, used = [], 0
    for size in sizes:
        if used >= total:
            break
        out.append(min(size, total - used))
        used += out[-1]
    if used < total:
        out.append(total - used)
    return out


@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(case=model_and_batch())
def test_cached_logits_equal_uncached_for_random_models(case):
    model, source, decoder_input, chunks = case
    with torch.no_grad():
        uncached = model(source, decoder_input).logits
        one_by_one, cache = stepwise_logits(model, source, decoder_input)
        chunked, _ = stepwise_logits(
            model, source, decoder_input, _chunked(chunks, decoder_input.size(1))
        )
    torch.testing.assert_close(one_by_one, uncached, atol=TOLERANCE, rtol=0)
    torch.testing.assert_close(chunked, uncached, atol=TOLERANCE, rtol=0)
    assert cache.length == decoder_input.size(1)
    assert torch.equal(cache.target_mask, decoder_input != PAD_ID)


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(case=model_and_batch())
def test_step_attention_maps_are_the_rows_of_the_full_maps(case):
    model, source, decoder_input, _ = case
    with torch.no_grad():
        encoded = model.encode(source)
        full = model.decode(decoder_input, encoded, return_attention=True)
        cache = model.start_cache(encoded)
        for t in range(decoder_input.size(1)):
            step, cache = model.decode_step(
                decoder_input[:, t : t + 1], cache, return_attention=True
            )
            for layer in range(model.config.num_layers):
                own = step.self_attention[layer][:, :, 0]  # (B, H, t + 1)
                torch.testing.assert_close(
                    own, full.self_attention[layer][:, :, t, : t + 1], atol=1e-6, rtol=0
                )
                torch.testing.assert_close(
                    step.cross_attention[layer][:, :, 0],
                    full.cross_attention[layer][:, :, t],
                    atol=1e-6,
                    rtol=0,
                )


@settings(max_examples=20, suppress_health_check=[HealthCheck.too_slow])
@given(case=model_and_batch(), beam_width=st.integers(1, 4), penalty=st.sampled_from([0.0, 0.6]))
def test_greedy_and_beam_identical_for_random_models(case, beam_width, penalty):
    model, source, _, _ = case
    sources = [[token for token in row if token != PAD_ID] for row in source.tolist()]
    assert greedy_decode_batch(model, sources, max_len=10) == greedy_decode_batch(
        model, sources, max_len=10, use_cache=False
    )
    cached = beam_search(model, sources[0], beam_width=beam_width, length_penalty=penalty)
    uncached = beam_search(
        model, sources[0], beam_width=beam_width, length_penalty=penalty, use_cache=False
    )
    assert same_hypotheses(cached, uncached, ties=True)
    assert model.training is False


def test_float64_cache_is_exact_to_float64_precision():
    config = mt.TransformerConfig(
        src_vocab_size=20, tgt_vocab_size=18, d_model=16, num_heads=4, num_layers=2, d_ff=32,
        dropout=0.0, max_len=16, norm_first=True,
    )  # fmt: skip
    model = mt.Transformer(config).double().eval()
    source = torch.tensor([[5, 6, 7, 0], [8, 9, 10, 11]])
    decoder_input = torch.tensor([[SOS_ID, 4, 5, 6, 7], [SOS_ID, 8, 9, 0, 0]])
    with torch.no_grad():
        uncached = model(source, decoder_input).logits
        cached, cache = stepwise_logits(model, source, decoder_input)
    assert cached.dtype == torch.float64 and cache.self_attention[0].keys.dtype == torch.float64
    torch.testing.assert_close(cached, uncached, atol=1e-12, rtol=0)


# -- the cache is an explicit value; the model keeps no state -----------------------------------


def test_the_cache_is_a_value_and_the_model_stores_nothing(translator):
    model = translator.model.eval()
    before = {name: sorted(vars(module)) for name, module in model.named_modules()}
    source = torch.tensor([translator.src_vocab.encode("어제 카페 갔었어")])
    with torch.no_grad():
        start = model.start_cache(model.encode(source))
        first, after_one = model.decode_step(torch.tensor([[SOS_ID]]), start)
        again, _ = model.decode_step(torch.tensor([[SOS_ID]]), start)  # the old cache still works
        _, after_two = model.decode_step(torch.tensor([[4]]), after_one)
    assert torch.equal(first.logits, again.logits)
    assert first.self_attention is None and first.cross_attention is None  # only when asked
    assert (start.length, after_one.length, after_two.length) == (0, 1, 2)
    assert after_two.cross_attention is start.cross_attention  # computed once, reused
    assert {name: sorted(vars(module)) for name, module in model.named_modules()} == before
    layer = after_two.self_attention[0]
    H, Dh = model.config.num_heads, model.config.d_head
    assert layer.keys.shape == layer.values.shape == (1, H, 2, Dh)
    assert start.cross_attention[0].keys.shape == (1, H, source.size(1), Dh)


def test_select_rows_repeats_and_drops_rows(translator):
    model = translator.model.eval()
    source = pad_sequences([translator.src_vocab.encode(s) for s in ("어제 카페 갔었어", "거기")])
    with torch.no_grad():
        _, cache = model.decode_step(
            torch.tensor([[SOS_ID], [SOS_ID]]), model.start_cache(model.encode(source))
        )
    picked = cache.select_rows(torch.tensor([1, 1, 0]))
    assert picked.batch_size == 3 and picked.length == 1
    assert torch.equal(picked.self_attention[1].keys[2], cache.self_attention[1].keys[0])
    assert torch.equal(picked.source_mask[0], cache.source_mask[1])
    assert cache.select_rows(torch.tensor([], dtype=torch.long)).batch_size == 0


def test_models_without_a_cache_decode_as_before():
    gru = mt.GRUSeq2Seq(20, 15, 8, attention=True)
    sources = [[5, 6, 7], [8, 9]]
    assert greedy_decode_batch(gru, sources, max_len=5) == greedy_decode_batch(
        gru, sources, max_len=5, use_cache=False
    )
    assert (
        beam_search(gru, sources[0], max_len=5).tokens
        == beam_search(gru, sources[0], max_len=5, use_cache=False).tokens
    )


def test_multi_head_attention_attend_equals_forward():
    torch.manual_seed(1)
    attention = mt.MultiHeadAttention(16, 4).eval()
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    mask = mt.causal_mask(5)[None, None]  # (1, 1, 5, 5)
    whole, _ = attention(x, x, x, mask)
    held = attention.empty_key_values(x)
    for t in range(5):
        out, weights, held = attention.attend(
            x[:, t : t + 1], held, mask[..., t : t + 1, : t + 1], append=True
        )
        torch.testing.assert_close(out[:, 0], whole[:, t], atol=1e-6, rtol=0)
        assert weights is None and held.length == t + 1
    cross, cross_weights = attention(x, memory, memory, return_attention=True)
    out, weights, kept = attention.attend(
        x, attention.key_values(memory), append=False, return_attention=True
    )
    torch.testing.assert_close(out, cross, atol=1e-6, rtol=0)
    torch.testing.assert_close(weights, cross_weights, atol=1e-6, rtol=0)
    assert kept.length == 7


def test_positions_with_an_offset_are_the_rows_of_the_whole_table():
    for positions in (mt.PositionalEncoding(8, 10), mt.LearnedPositionalEmbedding(8, 10)):
        x = torch.randn(2, 6, 8)
        whole = positions(x)
        torch.testing.assert_close(positions(x[:, 4:], offset=4), whole[:, 4:])
        torch.testing.assert_close(positions.double()(x.double()[:, 2:3], offset=2)[0, 0],
                                   positions(x.double())[0, 2])  # fmt: skip


# -- bad input ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_model():
    config = mt.TransformerConfig(
        src_vocab_size=20, tgt_vocab_size=15, d_model=16, num_heads=2, num_layers=2, d_ff=32,
        dropout=0.0, max_len=4,
    )  # fmt: skip
    return mt.Transformer(config).eval()


@pytest.fixture(scope="module")
def small_cache(small_model):
    return small_model.start_cache(small_model.encode(torch.tensor([[5, 6, 0], [7, 8, 9]])))


def test_decode_step_rejects_bad_input(small_model, small_cache):
    model, cache = small_model, small_cache
    step = torch.tensor([[SOS_ID], [SOS_ID]])
    cases = [
        ((step, "cache"), TypeError, "cache must be the DecoderCache of start_cache()"),
        ((step[:1], cache), ValueError, "batch sizes differ: target_ids has 1 rows, the cache 2"),
        ((torch.tensor([[1, 4, 5, 6, 7]] * 2), cache), ValueError, "target_ids has length 5"),
        ((torch.tensor([[1, 4, 5, 6]] * 2), model.decode_step(step, cache)[1]), ValueError,
         "would take the decoder input to 5 positions (cache holds 1), more than max_len=4"),
        ((torch.tensor([[1], [15]]), cache), ValueError, "target_ids holds ids from 1 to 15"),
        ((step.float(), cache), TypeError, "target_ids must be int64 or int32"),
        ((step, cache.select_rows(torch.tensor([0, 1]))), None, None),
    ]  # fmt: skip
    for arguments, error, message in cases:
        if error is None:
            model.decode_step(*arguments)  # a valid neighbour: must not raise
            continue
        with pytest.raises(error, match=re.escape(message)):
            model.decode_step(*arguments)
    with pytest.raises(TypeError, match="return_attention must be True or False"):
        model.decode_step(step, cache, return_attention=1)


def test_a_cache_from_another_model_is_refused(small_model, small_cache):
    other = mt.Transformer(dataclasses.replace(small_model.config, num_heads=4)).eval()
    step = torch.tensor([[SOS_ID], [SOS_ID]])
    with pytest.raises(ValueError, match=re.escape("this model has N=2 layers with H=4, Dh=4")):
        other.decode_step(step, small_cache)
    in_float64 = mt.Transformer(small_model.config).double().eval()
    with pytest.raises(ValueError, match=re.escape("but the model is torch.float64")):
        in_float64.decode_step(step, small_cache)
    shallow = DecoderCache(
        small_cache.self_attention[:1],
        small_cache.cross_attention[:1],
        small_cache.source_mask,
        small_cache.target_mask,
    )
    with pytest.raises(ValueError, match=re.escape("cache holds 1 layers")):
        small_model.decode_step(step, shallow)
    with pytest.raises(TypeError, match=re.escape("encoded must be the EncoderOutput of encode()")):
        small_model.start_cache(torch.zeros(2, 3, 16))


def test_cache_objects_reject_inconsistent_parts(small_cache):
    kv = small_cache.cross_attention[0]
    with pytest.raises(ValueError, match=re.escape("must have the same shape (B, H, L, Dh)")):
        KeyValues(kv.keys, kv.values[:, :, :1])
    with pytest.raises(ValueError, match=re.escape("keys must have shape (B, H, L, Dh)")):
        KeyValues(kv.keys[0], kv.values[0])
    with pytest.raises(TypeError, match="values must be a torch\\.Tensor"):
        KeyValues(kv.keys, kv.values.tolist())
    parts = dict(
        self_attention=small_cache.self_attention,
        cross_attention=small_cache.cross_attention,
        source_mask=small_cache.source_mask,
        target_mask=small_cache.target_mask,
    )
    bad = [
        (dict(self_attention=[]), ValueError, "one KeyValues per layer, got 0 and 2"),
        (dict(cross_attention=[kv.keys]), TypeError, "cross_attention must be a list of KeyValues"),
        (dict(target_mask=small_cache.target_mask.long()), TypeError, "target_mask must be a"),
        (dict(source_mask=small_cache.source_mask[:, :2]), ValueError, "layer 0: self-attention"),
        (dict(target_mask=torch.ones(2, 1, dtype=torch.bool)), ValueError, "t=1"),
    ]
    for change, error, message in bad:
        with pytest.raises(error, match=re.escape(message)):
            DecoderCache(**{**parts, **change})
    with pytest.raises(TypeError, match="rows must be a 1-D int64 tensor"):
        small_cache.select_rows([0, 1])
    with pytest.raises(ValueError, match=re.escape("rows must lie in 0..1, got [0, 2]")):
        small_cache.select_rows(torch.tensor([0, 2]))


def test_attend_and_offsets_reject_bad_input(small_model, small_cache):
    attention = small_model.decoder.layers[0].self_attention
    x = torch.randn(2, 1, 16)
    empty = attention.empty_key_values(x)
    with pytest.raises(TypeError, match="cached must be a KeyValues, got Tensor"):
        attention.attend(x, empty.keys, append=True)
    with pytest.raises(TypeError, match="append must be True or False, got int"):
        attention.attend(x, empty, append=1)
    with pytest.raises(ValueError, match=re.escape("this attention needs (B=1, H=2, L, Dh=8)")):
        attention.attend(x[:1], empty, append=True)
    with pytest.raises(ValueError, match="cross-attention needs key_values"):
        attention.attend(x, empty, append=False)
    with pytest.raises(ValueError, match=re.escape("does not broadcast to the attention scores")):
        attention.attend(x, empty, torch.ones(2, 1, 1, 3, dtype=torch.bool), append=True)
    with pytest.raises(ValueError, match="query holds NaN"):
        attention.attend(torch.full((2, 1, 16), float("nan")), empty, append=True)
    positions = small_model.target_positions
    with pytest.raises(TypeError, match="offset must be an int, got float"):
        positions(torch.randn(1, 1, 16), offset=1.0)
    with pytest.raises(ValueError, match=re.escape("offset=-1 must be >= 0")):
        positions(torch.randn(1, 1, 16), offset=-1)
    with pytest.raises(ValueError, match="sequence length 5 is longer than max_len=4"):
        positions(torch.randn(1, 2, 16), offset=3)


@pytest.mark.parametrize("function", [greedy_decode, beam_search])
def test_use_cache_must_be_a_bool(small_model, function):
    with pytest.raises(TypeError, match="use_cache must be True or False, got str"):
        function(small_model, [5, 6], max_len=2, use_cache="yes")
    with pytest.raises(TypeError, match="use_cache must be True or False, got NoneType"):
        greedy_decode_batch(small_model, [[5, 6]], max_len=2, use_cache=None)
