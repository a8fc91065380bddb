"""Chapter 9 experiments: the walk-through, the recorder callback, the figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import minitransformer as mt
from minitransformer.data import make_corpus, notes_example
from minitransformer.experiments import teacher_forcing as tf
from minitransformer.training import train


@pytest.fixture(scope="module")
def setup():
    corpus = make_corpus(60, 10, seed=0, grammar="rich")  # the grammar chapter 9 trains on
    torch.manual_seed(0)
    config = mt.TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab))
    pair = notes_example("rich")
    source = corpus.src_vocab.encode(pair.source)
    target = corpus.tgt_vocab.encode(pair.target, add_sos=True, add_eos=True)
    return corpus, mt.Transformer(config), source, target


def test_probabilities_are_distributions_and_teacher_forcing_equals_steps(setup) -> None:
    _, model, source, target = setup
    all_at_once = tf.next_word_probabilities(model, source, target[:-1])
    assert all_at_once.shape == (len(target) - 1, model.config.tgt_vocab_size)
    torch.testing.assert_close(all_at_once.sum(-1), torch.ones(len(target) - 1))
    for t in (0, 3):
        step = tf.next_word_probabilities(model, source, target[: t + 1])[-1]
        torch.testing.assert_close(step, all_at_once[t], atol=1e-6, rtol=0)


def test_walk_through_raises_the_correct_word_and_leaves_the_model(setup) -> None:
    _, model, source, target = setup
    before = [p.clone() for p in model.parameters()]
    records = tf.walk_through(model, source, target[1:], steps=3, learning_rate=0.01)
    assert [r.step for r in records] == [1, 2, 3]
    assert records[1].decoder_input == target[:2]  # teacher forcing: the gold prefix
    assert all(r.raised > 0 for r in records)
    assert all(0.0 <= r.others_lowered <= 1.0 for r in records)
    assert records[0].others_lowered > 0.5
    for old, new in zip(before, model.parameters(), strict=True):
        assert torch.equal(old, new)


def test_recorder_and_figures(setup) -> None:
    corpus, model, source, target = setup
    recorder = tf.CorrectTokenRecorder(source, target, corpus.encoded("held_out"))
    train(model, corpus.encoded("train"), steps=4, batch_size=8, callback=recorder,
          callback_every=2, progress=False)  # fmt: skip
    assert recorder.steps == [0, 2, 4]
    assert all(p.shape == (len(target) - 1,) for p in recorder.correct_probability)
    assert all(0.0 <= a <= 1.0 for a in recorder.held_out_accuracy)
    assert np.isfinite(recorder.held_out_loss).all()
    fig = tf.correct_probability_slider(recorder, corpus.tgt_vocab)
    assert len(fig.layout.sliders[0].steps) == 3
    assert fig.data[0].x[0] == "0:I"
    records = tf.walk_through(model, source, target[1:], steps=2)
    update = tf.update_figure(records, corpus.tgt_vocab)
    assert len(update.layout.sliders[0].steps) == 2
    assert len(update.data[0].x) == len(corpus.tgt_vocab)
    # Bars carry colour strings (numbers make plotly.js log "Invalid color specifier"); the
    # slider restyles the bars only; the uniform line is named in the legend, not on the bars.
    bars = fig.data[0]
    assert all(isinstance(c, str) and c.startswith("rgb") for c in bars.marker.color)
    assert all(list(step.args[1]) == [0] for step in fig.layout.sliders[0].steps)
    assert all(
        isinstance(c, str) for c in fig.layout.sliders[0].steps[-1].args[0]["marker.color"][0]
    )
    assert not fig.layout.annotations and "uniform 1/V" in fig.data[1].name
    assert fig.data[2].marker.cmin == 0 and fig.data[2].marker.cmax == 1  # the colour bar
    accuracy, loss = tf.teacher_forced_accuracy(model, corpus.encoded("held_out"))
    assert 0.0 <= accuracy <= 1.0 and loss > 0


def test_probability_colors_are_viridis_strings_on_a_fixed_range() -> None:
    colors = tf.probability_colors([0.0, 0.5, 1.0, 1.5, -0.1])
    assert colors[0] == colors[4] and colors[2] == colors[3]  # clipped to [0, 1]
    assert len(set(colors[:3])) == 3 and all(c.startswith("rgb") for c in colors)
