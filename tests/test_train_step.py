"""``train_step`` is the loop body of ``train``: the same numbers as the loop it replaced."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
from torch import nn

from minitransformer import Transformer, TransformerConfig
from minitransformer.data import encode_pairs, toy_task, toy_vocab
from minitransformer.training import (
    BatchSampler,
    StepResult,
    label_smoothed_cross_entropy,
    make_optimizer,
    noam_lr,
    train,
    train_step,
)


def tiny_model(vocab_size: int) -> Transformer:
    torch.manual_seed(0)
    config = TransformerConfig(
        vocab_size, vocab_size, d_model=32, num_heads=2, num_layers=1, d_ff=64,
        dropout=0.1, max_len=32,
    )  # fmt: skip
    return Transformer(config)


@pytest.fixture(scope="module")
def data():
    vocab = toy_vocab(8)
    return encode_pairs(toy_task(48, (2, 3, 4), num_symbols=8, seed=0), vocab, vocab), len(vocab)


def old_loop(model, data, *, steps, batch_size, warmup, seed):
    """The body of ``train`` before ``train_step`` was factored out, written out in full."""
    torch.manual_seed(seed)
    sampler = BatchSampler(data, batch_size, seed=seed)
    optimizer = make_optimizer(model)
    losses, accuracies = [], []
    model.train()
    for step in range(1, steps + 1):
        source, target = sampler.next_batch()
        decoder_input, labels = target[:, :-1], target[:, 1:]
        for group in optimizer.param_groups:
            group["lr"] = noam_lr(step, model.config.d_model, warmup)
        logits = model(source, decoder_input).logits
        loss = label_smoothed_cross_entropy(logits, labels, smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        real = labels != 0
        correct = ((logits.argmax(-1) == labels) & real).sum().item()
        losses.append(loss.item())
        accuracies.append(correct / int(real.sum()))
    return losses, accuracies, [p.detach().clone() for p in model.parameters()]


def test_train_gives_the_same_numbers_as_the_old_loop(data) -> None:
    pairs, vocab_size = data
    expected_loss, expected_accuracy, expected_weights = old_loop(
        tiny_model(vocab_size), pairs, steps=12, batch_size=8, warmup=4, seed=3
    )
    model = tiny_model(vocab_size)
    history = train(model, pairs, steps=12, batch_size=8, warmup=4, seed=3, progress=False)
    assert history.loss == expected_loss  # bit for bit, dropout included
    assert history.accuracy == expected_accuracy
    for new, old in zip(model.parameters(), expected_weights, strict=True):
        assert torch.equal(new, old)


def test_train_step_updates_and_reports(data) -> None:
    pairs, vocab_size = data
    model = tiny_model(vocab_size).eval()
    source, target = BatchSampler(pairs, 6, seed=0).next_batch()
    optimizer = make_optimizer(model)
    before = [p.detach().clone() for p in model.parameters()]
    result = train_step(model, optimizer, source, target, learning_rate=1e-3, clip_norm=None)
    assert isinstance(result, StepResult)
    assert result.target_tokens == int((target[:, 1:] != 0).sum())
    assert 0 <= result.correct <= result.target_tokens
    assert result.accuracy == result.correct / result.target_tokens
    assert optimizer.param_groups[0]["lr"] == 1e-3
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    # Repeating the step on one batch drives its loss down.
    for _ in range(30):
        last = train_step(model, optimizer, source, target, learning_rate=3e-3)
    assert last.loss < result.loss
    assert StepResult(0.0, 0, 0).accuracy == 0.0
    with pytest.raises(ValueError, match="target"):
        train_step(model, optimizer, source, target[:, :1], learning_rate=1e-3)


def test_progress_bar_ends_on_the_true_count(data) -> None:
    pairs, vocab_size = data
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        train(tiny_model(vocab_size), pairs, steps=7, batch_size=8, warmup=2)
    states = [state for state in err.getvalue().split("\r") if state.strip()]
    assert "7/7" in states[-1]
