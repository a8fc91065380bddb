"""The synthetic typhoon task and the numeric-input Transformer of chapter 2."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

import minitransformer as mt
from minitransformer.decoding import greedy_decode_batch
from minitransformer.experiments import typhoon as ty


def test_data_shapes_ranges_and_determinism() -> None:
    data = ty.make_typhoon_data(200, seed=3)
    assert data.temperatures.shape == (200, ty.DAYS_IN)
    assert data.labels.shape == data.clean_labels.shape == (200, ty.DAYS_OUT)
    assert 24.0 < data.temperatures.min() and data.temperatures.max() < 33.0
    assert 0.1 < data.positive_rate < 0.4
    again = ty.make_typhoon_data(200, seed=3)
    np.testing.assert_array_equal(data.temperatures, again.temperatures)
    np.testing.assert_array_equal(data.labels, again.labels)
    assert len(data) == 200


def test_label_noise_flips_about_the_requested_share() -> None:
    clean = ty.make_typhoon_data(2000, label_noise=0.0, seed=1)
    assert np.array_equal(clean.labels, clean.clean_labels)
    noisy = ty.make_typhoon_data(2000, label_noise=0.1, seed=1)
    assert 0.08 < (noisy.labels != noisy.clean_labels).mean() < 0.12


def test_true_rule_reproduces_the_clean_labels_from_the_observed_month() -> None:
    data = ty.make_typhoon_data(500, seed=2)
    np.testing.assert_array_equal(ty.true_rule(data), data.clean_labels)


def test_window_means_reads_the_lagged_three_day_window() -> None:
    series = np.arange(37, dtype=float)[None]  # day d (0-based) has value d
    means = ty.window_means(series)[0]
    # future day k reads days 30+k-10 .. 30+k-8 (1-based) = 0-based 19+k .. 21+k
    np.testing.assert_allclose(means, [20 + k for k in range(1, 8)])


def test_encoding_round_trips_temperatures_and_labels() -> None:
    data = ty.make_typhoon_data(5, seed=0)
    encoded = data.encoded()
    np.testing.assert_allclose(np.array(encoded.source) / ty.CENTI, data.temperatures)
    for target, labels in zip(encoded.target, data.labels, strict=True):
        assert target[0] == 1 and target[-1] == 2  # <sos> ... <eos>
        assert [t == ty.YES_ID for t in target[1:-1]] == labels.tolist()


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="num_examples"):
        ty.make_typhoon_data(0)
    with pytest.raises(ValueError, match="label_noise"):
        ty.make_typhoon_data(10, label_noise=0.5)
    with pytest.raises(ValueError, match="shapes differ"):
        ty.score(np.zeros((2, 7), bool), np.zeros((3, 7), bool))


def test_scores_and_baselines() -> None:
    labels = np.array([[True, False, True, False]])
    s = ty.score(np.array([[True, True, False, False]]), labels)
    assert (s.accuracy, s.precision, s.recall, s.f1) == (0.5, 0.5, 0.5, 0.5)
    lazy = ty.score(np.zeros_like(labels), labels)
    assert lazy.accuracy == 0.5 and lazy.f1 == 0.0 and np.isnan(lazy.precision)
    data = ty.make_typhoon_data(400, seed=4)
    assert not ty.always_no(data).any()
    threshold = ty.fit_recent_warmth_rule(data)
    rule = ty.score(ty.recent_warmth_rule(data, threshold), data.labels)
    assert rule.accuracy >= 1 - data.positive_rate  # the fitted rule beats always-no in-sample


def test_model_has_the_transformer_interface() -> None:
    data = ty.make_typhoon_data(4, seed=0)
    encoded = data.encoded()
    model = ty.TyphoonTransformer(ty.typhoon_config(d_model=16, d_ff=16, num_layers=2))
    source = torch.tensor(encoded.source)  # (4, 30)
    decoder_input = torch.tensor(encoded.target)[:, :-1]  # (4, 8)
    out = model(source, decoder_input, return_attention=True)
    assert out.logits.shape == (4, 8, len(ty.LABEL_VOCAB))
    assert out.attention.cross[0].shape == (4, 2, 8, ty.DAYS_IN)
    assert out.attention.encoder[1].shape == (4, 2, ty.DAYS_IN, ty.DAYS_IN)
    assert model(source, decoder_input).attention is None
    plain = mt.Transformer(model.config).num_parameters()
    assert model.num_parameters() == plain + 2 * model.config.d_model  # + the value embedding
    outputs = greedy_decode_batch(model, encoded.source, max_len=ty.DAYS_OUT)
    assert all(len(row) <= ty.DAYS_OUT for row in outputs)
    p = ty.probabilities(model, data)
    assert p.shape == (4, ty.DAYS_OUT) and ((0 <= p) & (p <= 1)).all()
    assert ty.predict(model, data).shape == (4, ty.DAYS_OUT)


def test_a_short_training_run_learns_something() -> None:
    train_data = ty.make_typhoon_data(256, seed=0)
    test_data = ty.make_typhoon_data(100, seed=1)
    probe = ty.make_typhoon_data(3, seed=2)
    run = ty.train_typhoon(train_data, probe, steps=30, batch_size=32, warmup=10,
                           snapshot_every=10, d_model=16, d_ff=32)  # fmt: skip
    assert run.snapshot_steps == [0, 10, 20, 30]
    assert all(s.shape == (3, ty.DAYS_OUT) for s in run.snapshots)
    history = run.history
    assert np.mean(history.loss[-5:]) < np.mean(history.loss[:5])
    scores = ty.score(ty.predict(run.model, test_data), test_data.labels)
    assert scores.accuracy > 1 - test_data.positive_rate - 0.1  # near always-no or better


def test_month_figure() -> None:
    data = ty.make_typhoon_data(3, seed=0)
    fig = ty.month_figure(data, 1, predicted=data.labels[1])
    assert isinstance(fig, Figure)
    assert "Month 1" in fig.axes[0].get_title()
    assert len(fig.axes[0].collections) == 3  # labels yes, labels no, predictions


def test_rule_window_and_attention_peaks() -> None:
    assert ty.rule_window(1) == (21, 23) and ty.rule_window(7) == (27, 29)
    with pytest.raises(ValueError, match="k="):
        ty.rule_window(0)
    data = ty.make_typhoon_data(6, seed=0)
    model = ty.TyphoonTransformer(ty.typhoon_config(d_model=16, d_ff=16))
    peaks = ty.attention_peaks(model, data)
    assert peaks.weights.shape == (ty.DAYS_OUT, ty.DAYS_IN)
    np.testing.assert_allclose(peaks.weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(peaks.peaks, peaks.weights.argmax(axis=1) + 1)
    windows = [ty.rule_window(k) for k in range(1, 8)]
    expected = [lo <= p <= hi for p, (lo, hi) in zip(peaks.peaks, windows, strict=True)]
    np.testing.assert_array_equal(peaks.inside, expected)
    np.testing.assert_allclose(peaks.peak_weights, peaks.weights.max(axis=1))
    assert model.training  # the mode is restored


def test_run_seeds_trains_one_model_per_seed_and_reuses_the_first() -> None:
    train_data, test_data = ty.make_typhoon_data(64, seed=0), ty.make_typhoon_data(16, seed=1)
    options = dict(steps=3, batch_size=8, d_model=16, d_ff=16)
    first = ty.train_typhoon(train_data, test_data, seed=5, snapshot_every=1, **options)
    assert len(first.snapshots) == 4  # step 0 and every step
    runs = ty.run_seeds(train_data, test_data, (5, 6), first=first, **options)
    assert [r.seed for r in runs] == [5, 6]
    again = ty.score(ty.predict(first.model, test_data), test_data.labels)
    np.testing.assert_array_equal(list(vars(runs[0].scores).values()), list(vars(again).values()))
    assert ty.train_typhoon(train_data, None, seed=6, **options).snapshots == []
    rows = ty.seeds_table(runs)
    assert [row["seed"] for row in rows] == [5, 6]
    assert 0 <= rows[0]["peak in window (of 7 days)"] <= 7
    with pytest.raises(ValueError, match="seeds"):
        ty.run_seeds(train_data, test_data, ())


def test_format_score_names_undefined_precision() -> None:
    assert ty.format_score(float("nan")) == "undefined"
    assert ty.format_score(0.12345) == "0.123"
