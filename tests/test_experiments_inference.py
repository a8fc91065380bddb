"""Chapter 10 experiments on the shipped translator: trace figure, forcing, beam, widget."""

from __future__ import annotations

import pytest

import minitransformer as mt
from minitransformer import viz
from minitransformer.data import make_corpus
from minitransformer.experiments import inference

SENTENCE = "어제 카페 갔었어 거기 사람 많더라"


@pytest.fixture(scope="module")
def translator():
    viz.setup()  # the Hangul font for the widget's figure
    return mt.load_pretrained()


@pytest.fixture(scope="module")
def pairs():
    return make_corpus(4000, 500, seed=0).held_out[:12]


def test_trace_figure_has_one_slider_step_per_decoding_step(translator) -> None:
    trace = translator.trace(SENTENCE)
    fig = inference.trace_figure(trace, translator, SENTENCE)
    steps = fig.layout.sliders[0].steps
    assert len(steps) == len(trace)
    assert steps[0].label == "1:I" and steps[-1].label.endswith("<eos>")
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
    assert inference.Recovery(0, 0, []).rate == 0.0
    outputs, scores = inference.greedy_scores(translator, pairs)
    assert len(outputs) == len(scores) == len(pairs) and all(s <= 0 for s in scores)
    chosen = inference.least_confident(pairs, scores, 3)
    assert len(chosen) == 3 and min(scores) == scores[pairs.index(chosen[0])]


def test_beam_vs_greedy_counts(translator, pairs) -> None:
    comparison = inference.beam_vs_greedy(translator, pairs[:4], beam_width=2)
    assert comparison.total == 4
    assert 0 <= comparison.greedy_correct <= 4 and 0 <= comparison.beam_correct <= 4
    for _, _, greedy, beam, _, _ in comparison.differences:
        assert greedy != beam
    assert comparison.beam_correct == comparison.greedy_correct == 4  # a confident model


def test_translate_with_message_and_live_widget(translator) -> None:
    english, message = inference.translate_with_message(translator, SENTENCE)
    assert english.startswith("I went to the cafe") and message == ""
    english, message = inference.translate_with_message(translator, "어제 우주선 갔었어")
    assert "우주선" in message and "<unk>" in message and english
    assert inference.translate_with_message(translator, "  ")[0] == ""
    widget = inference.live_translator(translator)
    text, shown, note, view = widget.children
    assert "I went" in shown.value and note.value == ""
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
