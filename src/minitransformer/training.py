"""Training with teacher forcing, label smoothing and the paper's warm-up schedule.

One training step, for a batch of pairs (source x, target <sos> y_1 ... y_m <eos>):

    decoder input  = <sos> y_1 ... y_m          (the gold target shifted right: teacher forcing)
    labels         = y_1 ... y_m <eos>
    loss           = label-smoothed cross-entropy over the real (non-<pad>) label positions
    update         = Adam(beta1 0.9, beta2 0.98, eps 1e-9), learning rate from ``noam_lr``
                     (Vaswani et al. 2017, section 5.3); the gradient norm is clipped to 1 by
                     default, which the paper does not do

``train_step`` is one such step; ``train`` repeats it over random batches.

``train`` works for any model with the Transformer's interface ``model(source_ids,
target_ids).logits`` (B, T, V); the GRU baselines in ``minitransformer.baselines`` have it too.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.std import tqdm

from minitransformer.data import EncodedPairs
from minitransformer.tokens import PAD_ID, pad_sequences


def noam_lr(step: int, d_model: int, warmup: int = 4000, factor: float = 1.0) -> float:
    r"""The paper's learning rate at optimiser step ``step`` (counted from 1).

    lr(step) = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)

    It rises linearly for ``warmup`` steps, peaks at factor * (d_model * warmup)^-0.5, then
    decays like 1 / sqrt(step). Step 0 (before any update) gives 0.
    """
    for name, value in (("step", step), ("d_model", d_model), ("warmup", warmup)):
        _check_int(name, value)
    _check_number("factor", factor)
    if d_model <= 0 or warmup <= 0:
        raise ValueError(f"d_model={d_model} and warmup={warmup} must be positive")
    if step < 0:
        raise ValueError(f"step={step} must be >= 0")
    if step == 0:
        return 0.0
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


def label_smoothed_cross_entropy(
    logits: Tensor, labels: Tensor, *, smoothing: float = 0.1, pad_id: int = PAD_ID
) -> Tensor:
    r"""Cross-entropy against a smoothed target, averaged over the non-padding labels.

    logits: (B, T, V); labels: (B, T) token ids, ``pad_id`` where there is no word.
    The target distribution puts 1 - eps on the gold word and spreads eps evenly over all V
    words (as ``torch.nn.functional.cross_entropy(label_smoothing=eps)``), so

        loss_t = (1 - eps) * (-log p_t[y_t]) + eps * mean_v(-log p_t[v])

    Positions whose label is ``pad_id`` contribute nothing, whatever their logits.
    """
    _check_number("smoothing", smoothing)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing={smoothing} must be in [0, 1)")
    _check_int("pad_id", pad_id)
    if not isinstance(logits, Tensor) or not logits.dtype.is_floating_point or logits.dim() < 2:
        raise TypeError(
            f"logits must be a floating-point tensor (B, T, V), got {_describe(logits)}"
        )
    if not isinstance(labels, Tensor) or labels.dtype not in (torch.int64, torch.int32):
        raise TypeError(
            f"labels must be an int64 tensor of token ids (B, T), got {_describe(labels)}"
        )
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} do not match"
        )
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= logits.size(-1)):
        raise ValueError(
            f"labels hold ids from {int(labels.min())} to {int(labels.max())}; expected "
            f"0 <= id < {logits.size(-1)} (the vocabulary size V of the logits)"
        )
    log_probs = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
    gold = -log_probs.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # (B, T)
    uniform = -log_probs.mean(dim=-1)  # (B, T)
    per_token = (1.0 - smoothing) * gold + smoothing * uniform  # (B, T)
    real = labels != pad_id  # (B, T)
    count = real.sum()
    if count == 0:
        return per_token.sum() * 0.0
    return per_token.masked_fill(~real, 0.0).sum() / count


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")


def _check_number(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}={value!r} must be finite")


def _check_smoothing_and_clip(arguments: dict[str, object]) -> None:
    """label_smoothing in [0, 1) and clip_norm positive or None: shared by train and
    train_step."""
    _check_number("label_smoothing", arguments["label_smoothing"])
    if not 0.0 <= arguments["label_smoothing"] < 1.0:
        raise ValueError(f"label_smoothing={arguments['label_smoothing']} must be in [0, 1)")
    if arguments["clip_norm"] is not None:
        _check_number("clip_norm", arguments["clip_norm"])
        if arguments["clip_norm"] <= 0:
            raise ValueError(f"clip_norm={arguments['clip_norm']} must be positive or None")


def _check_train_arguments(model: object, data: object, arguments: dict[str, object]) -> None:
    """The argument checks of :func:`train`: types first, then ranges."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(data, EncodedPairs):
        raise TypeError(
            f"data must be EncodedPairs (Corpus.encoded() or encode_pairs()), got "
            f"{type(data).__name__}"
        )
    for name in ("steps", "batch_size", "warmup", "seed", "pad_id", "callback_every"):
        _check_int(name, arguments[name])
    if arguments["d_model"] is not None:
        _check_int("d_model", arguments["d_model"])
        if arguments["d_model"] <= 0:
            raise ValueError(f"d_model={arguments['d_model']} must be positive")
    _check_number("lr_factor", arguments["lr_factor"])
    if arguments["lr_factor"] <= 0:
        raise ValueError(f"lr_factor={arguments['lr_factor']} must be positive")
    _check_smoothing_and_clip(arguments)
    if arguments["warmup"] <= 0:
        raise ValueError(f"warmup={arguments['warmup']} must be positive")
    if arguments["callback"] is not None and not callable(arguments["callback"]):
        raise TypeError(
            f"callback must be callable or None, got {type(arguments['callback']).__name__}"
        )
    if not isinstance(arguments["progress"], bool):
        raise TypeError(
            f"progress must be True or False, got {type(arguments['progress']).__name__}"
        )


def _check_step_arguments(
    model: object, optimizer: object, source: object, target: object, arguments: dict
) -> None:
    """The argument checks of :func:`train_step` (source's ids are checked by the model)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(
            f"optimizer must be a torch.optim.Optimizer (make_optimizer(model)), got "
            f"{type(optimizer).__name__}"
        )
    for name, ids in (("source", source), ("target", target)):
        if not isinstance(ids, Tensor) or ids.dtype not in (torch.int32, torch.int64):
            raise TypeError(f"{name} must be an integer tensor of token ids, got {_describe(ids)}")
    if target.dim() != 2 or target.size(1) < 2:
        raise ValueError(f"target must be (B, T + 1) with T + 1 >= 2, got {tuple(target.shape)}")
    _check_number("learning_rate", arguments["learning_rate"])
    if arguments["learning_rate"] < 0:
        raise ValueError(f"learning_rate={arguments['learning_rate']} must be >= 0")
    _check_smoothing_and_clip(arguments)
    _check_int("pad_id", arguments["pad_id"])


@dataclass
class TrainingHistory:
    """What happened at every optimiser step (lists of equal length, index k = step k + 1)."""

    step: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # label-smoothed loss of the batch
    accuracy: list[float] = field(default_factory=list)  # argmax == label, non-pad positions
    learning_rate: list[float] = field(default_factory=list)
    target_tokens: list[int] = field(default_factory=list)  # non-pad labels in the batch
    seconds: float = 0.0  # wall time of the whole call
    stopped_early: bool = False  # True when the callback asked to stop

    def __len__(self) -> int:
        return len(self.step)


class BatchSampler:
    """Random batches of an ``EncodedPairs``, reshuffled every epoch by its own generator.

    Padding is done once here: ``source`` (N, S_max) and ``target`` (N, T_max + 2). Each batch
    is cut to the longest sentence it contains.
    """

    def __init__(
        self, data: EncodedPairs, batch_size: int, *, seed: int = 0, pad_id: int = PAD_ID
    ) -> None:
        if len(data) == 0:
            raise ValueError("cannot train on an empty data set")
        if batch_size <= 0:
            raise ValueError(f"batch_size={batch_size} must be positive")
        self.source = pad_sequences(data.source, pad_id=pad_id)  # (N, S_max)
        self.target = pad_sequences(data.target, pad_id=pad_id)  # (N, T_max + 2)
        self.source_lengths = torch.tensor([len(s) for s in data.source])
        self.target_lengths = torch.tensor([len(t) for t in data.target])
        self.batch_size = min(batch_size, len(data))
        self.generator = torch.Generator().manual_seed(seed)
        self._order = torch.empty(0, dtype=torch.long)
        self._position = 0

    def next_batch(self) -> tuple[Tensor, Tensor]:
        """(source (B, S), target (B, T + 1)) with B = batch_size."""
        if self._position + self.batch_size > len(self._order):
            self._order = torch.randperm(len(self.source), generator=self.generator)
            self._position = 0
        rows = self._order[self._position : self._position + self.batch_size]
        self._position += self.batch_size
        S = max(int(self.source_lengths[rows].max()), 1)
        T = int(self.target_lengths[rows].max())
        return self.source[rows, :S], self.target[rows, :T]


Callback = Callable[[int, nn.Module, TrainingHistory], "bool | None"]


def make_optimizer(model: nn.Module) -> torch.optim.Adam:
    """Adam with the paper's settings (beta1 0.9, beta2 0.98, eps 1e-9); lr set per step."""
    return torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.9, 0.98), eps=1e-9)


@dataclass(frozen=True)
class StepResult:
    """What one optimiser step measured on its batch (before the update was applied)."""

    loss: float  # label-smoothed loss of the batch
    correct: int  # label positions where the argmax is the gold word
    target_tokens: int  # non-pad label positions

    @property
    def accuracy(self) -> float:
        return self.correct / max(self.target_tokens, 1)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    source: Tensor,
    target: Tensor,
    *,
    learning_rate: float,
    label_smoothing: float = 0.1,
    clip_norm: float | None = 1.0,
    pad_id: int = PAD_ID,
) -> StepResult:
    """One teacher-forced optimiser step on a batch: source (B, S), target (B, T + 1) holding
    <sos> y_1 ... y_m <eos> (padded with ``pad_id``).

    Shift right (decoder input) and left (labels), one forward pass for every position, the
    label-smoothed loss, backward, clip the gradient norm to ``clip_norm`` (None: no clipping;
    the paper does not clip), and one step of ``optimizer`` at ``learning_rate``.
    """
    _check_step_arguments(model, optimizer, source, target, dict(locals()))
    decoder_input, labels = target[:, :-1], target[:, 1:]  # (B, T): <sos> y..., y... <eos>
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
    logits = model(source, decoder_input).logits  # (B, T, V)
    loss = label_smoothed_cross_entropy(logits, labels, smoothing=label_smoothing, pad_id=pad_id)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()  # gradients of every parameter
    if clip_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
    optimizer.step()  # Adam update

    real = labels != pad_id  # (B, T)
    correct = int(((logits.argmax(-1) == labels) & real).sum())
    return StepResult(loss.item(), correct, int(real.sum()))


def train(
    model: nn.Module,
    data: EncodedPairs,
    *,
    steps: int = 1500,
    batch_size: int = 64,
    warmup: int = 200,
    lr_factor: float = 1.0,
    d_model: int | None = None,
    label_smoothing: float = 0.1,
    clip_norm: float | None = 1.0,
    seed: int = 0,
    pad_id: int = PAD_ID,
    callback: Callback | None = None,
    callback_every: int = 100,
    progress: bool = True,
) -> TrainingHistory:
    """Train ``model`` in place for ``steps`` optimiser steps and return the history.

    model: any module with ``model(source (B, S), decoder_input (B, T)).logits`` (B, T, V).
    data: pairs as ids (``Corpus.encoded()``); targets carry <sos> ... <eos>.
    warmup, lr_factor, d_model: the schedule ``noam_lr`` (d_model defaults to
        ``model.config.d_model``, else 64).
    seed: seeds ``torch.manual_seed`` (dropout) and the batch order; the model's initial
        weights are the caller's business (seed before building it).
    callback(step, model, history): called once before the first step (step 0) and after every
        ``callback_every`` steps and the last, in eval mode under ``torch.no_grad()``; if it
        returns True, training stops there (``history.stopped_early``).
    progress: show a tqdm bar on stderr. Nothing else is printed.
    """
    _check_train_arguments(model, data, dict(locals()))
    if steps < 0:
        raise ValueError(f"steps={steps} must be >= 0")
    if callback_every <= 0:
        raise ValueError(f"callback_every={callback_every} must be positive")
    if d_model is None:
        config = getattr(model, "config", None)
        d_model = getattr(config, "d_model", 64)
    torch.manual_seed(seed)
    sampler = BatchSampler(data, batch_size, seed=seed, pad_id=pad_id)
    optimizer = make_optimizer(model)
    history = TrainingHistory()

    def run_callback(step: int) -> bool:
        if callback is None:
            return False
        was_training = model.training
        model.eval()
        with torch.no_grad():
            stop = callback(step, model, history)
        model.train(was_training)
        return bool(stop)

    started = time.perf_counter()
    stop = run_callback(0)
    model.train()
    bar = tqdm(total=steps, disable=not progress, file=sys.stderr, desc="training", leave=False)
    for step in range(1, steps + 1):
        if stop:
            history.stopped_early = True
            break
        source, target = sampler.next_batch()
        learning_rate = noam_lr(step, d_model, warmup, lr_factor)
        result = train_step(
            model, optimizer, source, target, learning_rate=learning_rate,
            label_smoothing=label_smoothing, clip_norm=clip_norm, pad_id=pad_id,
        )  # fmt: skip
        history.step.append(step)
        history.loss.append(result.loss)
        history.accuracy.append(result.accuracy)
        history.learning_rate.append(learning_rate)
        history.target_tokens.append(result.target_tokens)
        bar.update(1)
        if step % callback_every == 0 or step == steps:
            bar.set_postfix(loss=f"{history.loss[-1]:.3f}", refresh=False)
            stop = run_callback(step)
            model.train()
    bar.refresh()  # the last state written shows the true final count
    bar.close()
    model.eval()
    history.seconds = time.perf_counter() - started
    return history
