"""Chapter 10 experiments on the shipped translator: trace figure, forcing, beam, widget."""

from __future__ import annotations

import pytest

import minitransformer as mt
from minitransformer import viz
from minitransformer.experiments import inference
from minitransformer.pretrained import recipe_corpus

SENTENCE = "어제 카페 갔었어 거기 사람 많더라"


@pytest.fixture(scope="module")
def translator():
    viz.setup()  # the Hangul font for the widget's figure
    return mt.load_pretrained()


@pytest.fixture(scope="module")
def corpus(translator):
    return recipe_corpus(translator.metadata["recipe"])


@pytest.fixture(scope="module")
def pairs(corpus):
    return corpus.held_out[:12]


def test_trace_figure_has_one_slider_step_per_decoding_step(translator) -> None:
    trace = translator.trace(SENTENCE)
    fig = inference.trace_figure(trace, translator, SENTENCE)
    steps = fig.layout.sliders[0].steps
    assert len(steps) == len(trace)
    assert steps[0].label == "1:yesterday" and steps[-1].label.endswith("<eos>")
    assert fig.data[1].x[1] == "1:카페"
    assert len(fig.data[1].y) == translator.config.num_heads + 1
    assert all(isinstance(c, str) for c in fig.data[0].marker.color)  # no numeric bar colours
    assert all(isinstance(c, str) for c in steps[-1].args[0]["marker.color"][0])
    assert "&lt;sos&gt;" in steps[0].args[1]["title.text"]  # tokens escaped, not swallowed
    assert (
        fig.layout.xaxis2.anchor == "y2"
        and fig.layout.yaxis.domain[0] > fig.layout.yaxis2.domain[1]
    )
    eos = inference.eos_probability(trace)
    assert eos[-1] == max(eos) and eos[-1] > 0.5


def test_forced_recovery_and_least_confident(translator, pairs) -> None:
    recovery = inference.forced_recovery(translator, pairs, step=1, word="you", limit=2)
    assert 0 < recovery.total <= len(pairs)
    assert 0 <= recovery.recovered <= recovery.total and 0.0 <= recovery.rate <= 1.0
    assert len(recovery.examples) == 2 and recovery.examples[0][2].startswith("you")
    ok = inference.forced_recovery(translator, pairs, step=1, word="you", limit=20)
    for _source, right, output in ok.examples[ok.total - ok.recovered :]:  # the recovered ones
        assert output.split()[1:] == right.split()[1:] and right.split()[0] != "you"
    assert inference.Recovery(0, 0, []).rate == 0.0
    assert inference.recovery_text(inference.Recovery(5, 5, []), 0, 0).startswith("every one")
    one_failed = inference.recovery_text(inference.Recovery(5, 4, []), 1, 1)
    assert (
        one_failed.startswith("all but 1. It is printed first")
        and "not what breaks it" in one_failed
    )
    two = inference.recovery_text(inference.Recovery(5, 3, []), 2, 1)
    assert "gets 1 of them wrong too." in two and "breaks" not in two
    outputs, scores = inference.greedy_scores(translator, pairs)
    assert len(outputs) == len(scores) == len(pairs) and all(s <= 0 for s in scores)
    chosen = inference.least_confident(pairs, scores, 3)
    assert len(chosen) == 3 and min(scores) == scores[pairs.index(chosen[0])]


def test_beam_vs_greedy_counts(translator, corpus) -> None:
    pairs = corpus.held_out[:10]
    comparison = inference.beam_vs_greedy(translator, pairs, beam_width=4, length_penalty=0.6)
    assert comparison.total == 10 and len(comparison.greedy) == len(comparison.beam) == 10
    right = [p.right_targets for p in pairs]
    assert comparison.greedy_correct == sum(
        g in r for g, r in zip(comparison.greedy, right, strict=True)
    )
    assert comparison.beam_correct == sum(
        b in r for b, r in zip(comparison.beam, right, strict=True)
    )
    assert comparison.differences  # the two write different right translations here
    for d in comparison.differences:
        assert d.greedy != d.beam and d.greedy == " ".join(comparison.greedy[d.index])
        source = translator.src_vocab.encode(pairs[d.index].source)
        beam = mt.beam_search(translator.model, source, beam_width=4, length_penalty=0.6)
        assert d.beam == translator.tgt_vocab.decode(beam.tokens)
        assert d.beam_log_p == pytest.approx(beam.hypotheses[0].log_probability, abs=1e-4)
    outcomes = [(g, b) for g in (True, False) for b in (True, False)]
    counts = [comparison.count(greedy_right=g, beam_right=b) for g, b in outcomes]
    assert sum(counts) == len(comparison.differences)
    width_one = inference.beam_vs_greedy(translator, pairs[:4], beam_width=1, length_penalty=0.6)
    assert not width_one.differences  # width 1 is greedy decoding
    assert inference.time_first(("on", "the", "weekend", ",", "I", "rested"))
    assert not inference.time_first(("I", "rested", "on", "the", "weekend"))
    both = "I rested at night and on monday , I slept and there were many people there"
    assert inference.fronted_times(both.split()) == 1
    assert inference.fronted_times(("today", "I", "slept", "and", "today", "I", "ate")) == 2


def test_clause_report(translator, corpus) -> None:
    held = inference.clause_report(translator, corpus.held_out[:20])
    assert held.clauses_needed == [inference.clause_count(p.target) for p in corpus.held_out[:20]]
    for ok, error, part in zip(held.right, held.first_error, held.error_part, strict=True):
        assert (error is None) == ok and (part is None) == ok
    assert all(r in p.right_targets for r, p in zip(held.references, corpus.held_out, strict=False))
    longer = inference.clause_report(translator, corpus.longer[:10])
    assert set(longer.clauses_needed) == {3} and not any(longer.right)
    for output, error, length in zip(
        longer.outputs, longer.first_error, longer.output_lengths, strict=True
    ):
        assert len(output) == length and 0 <= error <= length
    tail = ("I", "went", "to", "the", "cafe", "and", "there", "were", "many", "people", "there")
    assert inference.clause_count(tail) == 1
    assert (
        inference.clause_count(("Minsu", "watched", "a", "movie", "and", "she", "saw", "a", "cat"))
        == 2
    )


def test_translate_with_message_and_live_widget(translator) -> None:
    english, message = inference.translate_with_message(translator, SENTENCE)
    assert english == translator.translate(SENTENCE) and message == ""
    english, message = inference.translate_with_message(translator, "어제 우주선 갔었어")
    assert "우주선" in message and "<unk>" in message and english
    assert inference.translate_with_message(translator, "  ")[0] == ""
    widget = inference.live_translator(translator)
    text, shown, note, view = widget.children
    assert "I went" in shown.value and note.value == ""  # "yesterday I went to the cafe ..."
    assert "encoder-decoder attention, last layer" in view.value and "카페" in view.value
    text.value = "어제 우주선 갔었어"
    assert "우주선" in note.value and "&lt;unk&gt;" in view.value
    text.value = ""
    assert "Type" in note.value and view.value == ""


def test_cached_logit_difference_is_float32_rounding(translator, pairs) -> None:
    ids = mt.encode_pairs(pairs, translator.src_vocab, translator.tgt_vocab)
    difference = inference.cached_logit_difference(translator.model, ids.source, ids.target)
    assert 0.0 <= difference <= 1e-5


def test_step_times_and_their_figure(translator, pairs) -> None:
    ids = mt.encode_pairs(pairs[:2], translator.src_vocab, translator.tgt_vocab)
    times = inference.step_times(translator.model, ids.source, [1, 4, 12], repeats=2)
    assert times.lengths == [1, 4, 12] and times.batch == 2 and times.repeats == 2
    assert all(value > 0 for value in times.cached + times.uncached)
    assert times.speedups == [u / c for u, c in zip(times.uncached, times.cached, strict=True)]
    fig = inference.step_time_figure(times)
    assert [trace.name for trace in fig.data[:2]] == ["without cache", "with key/value cache"]
    assert list(fig.data[2].y) == times.speedups
    assert translator.model.training is False
