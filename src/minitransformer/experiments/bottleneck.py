"""The seq2seq bottleneck, measured: copy strings of 5 to 40 symbols with three models.

The notes (§2) say that an RNN encoder-decoder squeezes the whole source into one
fixed-length vector and loses information, and that attention was added to fix it. Here the
claim is tested on the simplest task that needs every source word: copy a random string.

- ``"gru"``: a GRU encoder-decoder whose decoder sees only the encoder's last state
  (Sutskever et al. 2014, Cho et al. 2014): the bottleneck.
- ``"gru+attention"``: the same, plus attention over every encoder state at every decoding
  step (Bahdanau et al. 2015).
- ``"transformer"``: the package's ``Transformer`` (1 + 1 layers, 1 head).

All three train on the same batches (one model per architecture, lengths mixed), with the
same number of steps, the same optimiser and schedule, then decode greedily; the score is
token accuracy per source length and per target position.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import plotly.graph_objects as go
import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import nn

from minitransformer.config import TransformerConfig
from minitransformer.data import EncodedPairs, encode_pairs, toy_task, toy_vocab
from minitransformer.decoding import greedy_decode_batch
from minitransformer.model import Transformer
from minitransformer.tokens import EOS_ID
from minitransformer.training import train
from minitransformer.viz._style import PLOTLY_FONT_FAMILY, finish, new_figure

KINDS = ("gru", "gru+attention", "transformer")
LABELS = {
    "gru": "GRU, no attention (one vector)",
    "gru+attention": "GRU + attention",
    "transformer": "Transformer",
}
COLOURS = {"gru": "#D55E00", "gru+attention": "#0072B2", "transformer": "#009E73"}
LENGTHS = (5, 10, 20, 40)


@dataclass(frozen=True)
class Budget:
    """What every model gets: the same data, steps, batch size and learning-rate schedule."""

    steps: int = 130
    batch_size: int = 64
    num_train: int = 20000  # training strings, lengths drawn uniformly from ``lengths``
    num_test: int = 100  # held-out strings per length
    lengths: tuple[int, ...] = LENGTHS
    hidden: int = 64  # GRU hidden size = Transformer d_model
    warmup: int = 40
    lr_factor: float = 0.5
    num_symbols: int = 20
    task: str = "copy"  # or "reverse"
    seed: int = 0


def build_model(kind: str, vocab_size: int, hidden: int = 64, max_len: int = 64) -> nn.Module:
    """One of ``KINDS``, with ``hidden`` units (GRU) or d_model (Transformer)."""
    if kind == "transformer":
        config = TransformerConfig(
            src_vocab_size=vocab_size, tgt_vocab_size=vocab_size, d_model=hidden, num_heads=1,
            num_layers=1, d_ff=2 * hidden, dropout=0.0, max_len=max_len,
        )  # fmt: skip
        return Transformer(config)
    if kind in ("gru", "gru+attention"):
        from minitransformer.baselines import GRUSeq2Seq

        return GRUSeq2Seq(vocab_size, vocab_size, hidden, attention=kind == "gru+attention")
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


@dataclass
class TrainedModel:
    model: nn.Module
    seconds: float  # training wall time
    final_loss: float


def train_one(kind: str, data: EncodedPairs, vocab_size: int, budget: Budget) -> TrainedModel:
    """Build one model of ``kind`` from ``budget.seed`` and train it on ``data``.

    Every kind gets the same batches in the same order (``train`` draws them from ``seed``),
    the same number of steps and the same learning-rate schedule; plain cross-entropy.
    """
    torch.manual_seed(budget.seed)  # the initial weights
    model = build_model(kind, vocab_size, budget.hidden, max_len=max(budget.lengths) + 2)
    started = time.perf_counter()
    history = train(
        model, data, steps=budget.steps, batch_size=budget.batch_size, warmup=budget.warmup,
        lr_factor=budget.lr_factor, d_model=budget.hidden, label_smoothing=0.0,
        seed=budget.seed, progress=False,
    )  # fmt: skip
    final_loss = history.loss[-1] if history.loss else float("nan")
    return TrainedModel(model, time.perf_counter() - started, final_loss)


def position_accuracy(model: nn.Module, pairs, vocab) -> np.ndarray:
    """Greedy-decode ``pairs`` (all of one length L); returns (L + 1,) the share right at each
    target position, the last being <eos>. A missing word counts as wrong."""
    data = encode_pairs(pairs, vocab, vocab)
    length = len(data.target[0]) - 1  # words + <eos>
    outputs = greedy_decode_batch(model, data.source, max_len=length)  # no <sos>, no <eos>
    correct = np.zeros(length)
    for output, target in zip(outputs, data.target, strict=True):
        hypothesis = [*output, EOS_ID]
        for position, (a, b) in enumerate(zip(hypothesis, target[1:], strict=False)):
            correct[position] += a == b  # right symbol at the right position
    return correct / len(outputs)


@dataclass
class ModelResult:
    kind: str
    parameters: int
    seconds: float  # training wall time
    final_loss: float
    by_position: dict[int, np.ndarray] = field(default_factory=dict)  # length -> (L + 1,)
    model: nn.Module | None = field(default=None, repr=False)  # the trained model

    def accuracy(self, length: int) -> float:
        """Token accuracy at ``length``: the mean over every target position and <eos>."""
        return float(self.by_position[length].mean())


@dataclass
class BottleneckResult:
    budget: Budget
    models: dict[str, ModelResult]

    def table(self) -> list[dict[str, object]]:
        """One row per model: parameters, training seconds and the accuracy at each length."""
        rows = []
        for kind, result in self.models.items():
            row: dict[str, object] = {"model": LABELS[kind], "parameters": result.parameters}
            row["train s"] = round(result.seconds, 1)
            for length in self.budget.lengths:
                row[f"L={length}"] = round(result.accuracy(length), 3)
            rows.append(row)
        return rows


def test_sets(budget: Budget) -> dict[int, list]:
    """``budget.num_test`` held-out strings of each length, from seeds no training set uses."""
    return {
        length: toy_task(budget.num_test, (length,), task=budget.task,
                         num_symbols=budget.num_symbols, seed=budget.seed + 1000 + length)
        for length in budget.lengths
    }  # fmt: skip


def run(budget: Budget = Budget(), kinds: Sequence[str] = KINDS) -> BottleneckResult:
    """Train one model of each kind on the mixed-length task (``train_one``) and score it per
    length and position (``position_accuracy``), all from ``budget.seed``."""
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"kinds must be a non-empty selection of {KINDS}, got {kinds!r}")
    vocab = toy_vocab(budget.num_symbols)
    train_pairs = toy_task(
        budget.num_train, budget.lengths, task=budget.task, num_symbols=budget.num_symbols,
        seed=budget.seed,
    )  # fmt: skip
    data = encode_pairs(train_pairs, vocab, vocab)
    tests = test_sets(budget)
    results = {}
    for kind in kinds:
        trained = train_one(kind, data, len(vocab), budget)
        parameters = sum(p.numel() for p in trained.model.parameters() if p.requires_grad)
        result = ModelResult(kind, parameters, trained.seconds, trained.final_loss,
                             model=trained.model)  # fmt: skip
        for length, pairs in tests.items():
            result.by_position[length] = position_accuracy(trained.model, pairs, vocab)
        results[kind] = result
    return BottleneckResult(budget, results)


# --- several seeds --------------------------------------------------------------------------


@dataclass
class SeedStudy:
    """The same experiment repeated with several seeds (data, initial weights, batch order).

    ``runs[i]`` is the ``BottleneckResult`` of ``seeds[i]``; every summary below is over seeds.
    """

    budget: Budget  # the budget of every run, apart from its seed
    seeds: tuple[int, ...]
    runs: list[BottleneckResult]

    @property
    def kinds(self) -> list[str]:
        return list(self.runs[0].models)

    @property
    def lengths(self) -> tuple[int, ...]:
        return self.budget.lengths

    def accuracies(self, kind: str, length: int) -> np.ndarray:
        """(n_seeds,) token accuracy of ``kind`` at ``length``, one per seed."""
        return np.array([run.models[kind].accuracy(length) for run in self.runs])

    def positions(self, kind: str, length: int) -> np.ndarray:
        """(n_seeds, L + 1) share right at each output position, one row per seed."""
        return np.stack([run.models[kind].by_position[length] for run in self.runs])

    def seconds(self, kind: str) -> np.ndarray:
        """(n_seeds,) training wall time of ``kind``."""
        return np.array([run.models[kind].seconds for run in self.runs])

    def table(self) -> list[dict[str, object]]:
        """One row per model: parameters, then mean (min-max over seeds) of the training time
        and of the token accuracy at each length."""

        def spread(values: np.ndarray, digits: int) -> str:
            mean, low, high = (
                f"{v:.{digits}f}" for v in (values.mean(), values.min(), values.max())
            )
            return f"{mean} ({low}-{high})"

        rows = []
        for kind in self.kinds:
            parameters = self.runs[0].models[kind].parameters
            row: dict[str, object] = {"model": LABELS[kind], "parameters": parameters}
            row["train s"] = spread(self.seconds(kind), 1)
            for length in self.lengths:
                row[f"L={length}"] = spread(self.accuracies(kind, length), 2)
            rows.append(row)
        return rows


def run_seeds(
    budget: Budget = Budget(), seeds: Sequence[int] = (0, 1, 2), kinds: Sequence[str] = KINDS
) -> SeedStudy:
    """``run`` once per seed in ``seeds`` (the budget's own seed is replaced)."""
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds!r}")
    runs = [run(replace(budget, seed=seed), kinds) for seed in seeds]
    return SeedStudy(budget, seeds, runs)


# --- figures -----------------------------------------------------------------------------


def as_study(result: BottleneckResult | SeedStudy) -> SeedStudy:
    """A single run as a study of one seed (figures take either)."""
    if isinstance(result, SeedStudy):
        return result
    return SeedStudy(result.budget, (result.budget.seed,), [result])


def accuracy_figure(result: BottleneckResult | SeedStudy) -> Figure:
    """Token accuracy against source length, one line per model: the mean over seeds, with a
    band from the lowest to the highest seed (matplotlib)."""
    study = as_study(result)
    fig = new_figure(6.0, 4.2)
    ax = fig.subplots()
    lengths = list(study.lengths)
    for kind in study.kinds:
        values = np.array([study.accuracies(kind, length) for length in lengths])  # (L, seeds)
        ax.plot(lengths, values.mean(1), marker="o", color=COLOURS[kind], label=LABELS[kind],
                linewidth=2)  # fmt: skip
        if values.shape[1] > 1:
            ax.fill_between(lengths, values.min(1), values.max(1), color=COLOURS[kind],
                            alpha=0.2, linewidth=0)  # fmt: skip
    budget = study.budget
    seeds = f", {len(study.seeds)} seeds" if len(study.seeds) > 1 else ""
    title = f"{budget.task.capitalize()} task, {budget.steps} steps of batch {budget.batch_size}"
    title += seeds
    ax.set(xlabel="source length (symbols)", ylabel="token accuracy (greedy)",
           ylim=(0, 1.03), xticks=lengths, title=title)  # fmt: skip
    ax.axhline(1 / budget.num_symbols, color="grey", linestyle=":", linewidth=1)
    ax.text(lengths[0], 1 / budget.num_symbols + 0.02, "chance", ha="left",
            color="grey", fontsize=9)  # fmt: skip
    # below the axes, clear of the x-axis title
    fig.legend(frameon=False, loc="outside lower center", ncols=2, fontsize=9)
    return finish(fig)


def position_slider(result: BottleneckResult | SeedStudy) -> go.Figure:
    """plotly: accuracy at each target position, one line per model (mean over seeds, the
    range in the hover text), a slider over the source length.

    Every length's curves are precomputed, so the slider works in the static HTML.
    """
    study = as_study(result)
    lengths = list(study.lengths)
    kinds = study.kinds

    def xs(length: int) -> list[str]:
        return [*(str(i + 1) for i in range(length)), "<eos>"]

    def curve(kind: str, length: int) -> tuple[list[float], list[list[float]]]:
        rows = study.positions(kind, length)  # (seeds, L + 1)
        ranges = np.stack([rows.min(0), rows.max(0)], axis=1)
        return np.round(rows.mean(0), 3).tolist(), np.round(ranges, 2).tolist()

    fig = go.Figure()
    first = lengths[-1]
    for kind in kinds:
        ys, ranges = curve(kind, first)
        fig.add_trace(
            go.Scatter(
                x=xs(first), y=ys, customdata=ranges, mode="lines+markers", name=LABELS[kind],
                line=dict(color=COLOURS[kind]),
                hovertemplate="position %{x}: %{y:.2f} (seeds %{customdata[0]:.2f}-"
                "%{customdata[1]:.2f})<extra>" + LABELS[kind] + "</extra>",
            )
        )  # fmt: skip
    steps = []
    for length in lengths:
        curves = [curve(kind, length) for kind in kinds]
        label = f"L = {length}"
        title = f"Copying {length} symbols: accuracy at each output position"
        steps.append(
            dict(method="update", label=label,
                 args=[{"x": [xs(length)] * len(kinds), "y": [c[0] for c in curves],
                        "customdata": [c[1] for c in curves]}, {"title.text": title}])
        )  # fmt: skip
    seeds = f" (mean of {len(study.seeds)} seeds)" if len(study.seeds) > 1 else ""
    fig.update_layout(
        title=dict(text=f"Copying {first} symbols: accuracy at each output position", x=0.0,
                   y=0.98, yanchor="top"),
        xaxis=dict(title="output position", type="category"),
        yaxis=dict(title="share right (greedy)" + seeds, range=[0, 1.05]),
        font=dict(family=PLOTLY_FONT_FAMILY, size=13),
        # the legend sits above the plot, clear of the x-axis title and the slider below it
        height=520, legend=dict(orientation="h", x=0.0, y=1.02, yanchor="bottom"),
        margin=dict(l=60, r=20, t=110, b=40),
        sliders=[dict(active=len(lengths) - 1, currentvalue=dict(prefix="source length "),
                      pad=dict(t=70), steps=steps)],
    )  # fmt: skip
    return fig


def _box(ax, x: float, y: float, text: str, colour: str, *, width=0.8, height=0.55) -> None:
    ax.add_patch(
        FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                       boxstyle="round,pad=0.02,rounding_size=0.1", facecolor=colour,
                       edgecolor="#333333", linewidth=1)
    )  # fmt: skip
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end, *, colour="#333333", width=1.0, alpha=1.0, rad=0.0) -> None:
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=9, color=colour,
                        linewidth=width, alpha=alpha, connectionstyle=f"arc3,rad={rad}",
                        shrinkA=10, shrinkB=10)
    )  # fmt: skip


def data_flow_figure(
    source: Sequence[str], target: Sequence[str], weights: np.ndarray | None = None
) -> Figure:
    """Two panels: the decoder reading one fixed vector c (left) against reading every
    encoder state through attention (right). ``weights`` (T, S), e.g. a trained model's
    attention, sets the width of each attention line; by default every line is equal."""
    S, T = len(source), len(target)
    if weights is None:
        weights = np.full((T, S), 1.0 / S)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != (T, S):
        raise ValueError(f"weights has shape {weights.shape}, expected (T, S) = {(T, S)}")
    fig = new_figure(10.0, 4.2)
    axes = fig.subplots(1, 2)
    titles = ("Without attention: one fixed vector c", "With attention: every state, every step")
    for panel, (ax, title) in enumerate(zip(axes, titles, strict=True)):
        enc_y, dec_y = 0.0, 2.6
        for i, word in enumerate(source):
            _box(ax, i, enc_y - 0.9, word, "#F2F2F2")
            _box(ax, i, enc_y, f"h{i + 1}", "#CFE3F3")
            _arrow(ax, (i, enc_y - 0.9), (i, enc_y))
            if i:
                _arrow(ax, (i - 1, enc_y), (i, enc_y))
        offset = S + 0.6
        for j, word in enumerate(target):
            x = offset + j
            _box(ax, x, dec_y, f"s{j + 1}", "#FBE3C8")
            _box(ax, x, dec_y + 0.9, word, "#F2F2F2")
            _arrow(ax, (x, dec_y), (x, dec_y + 0.9))
            if j:
                _arrow(ax, (x - 1, dec_y), (x, dec_y))
        if panel == 0:
            cx = S - 0.2
            _box(ax, cx, (enc_y + dec_y) / 2, "c", "#D55E00", width=0.6)
            _arrow(ax, (S - 1, enc_y), (cx, (enc_y + dec_y) / 2), width=2.0)
            for j in range(T):
                _arrow(ax, (cx, (enc_y + dec_y) / 2), (offset + j, dec_y), colour="#D55E00",
                       alpha=0.8)  # fmt: skip
        else:
            top = weights.max()
            for j in range(T):
                for i in range(S):
                    strength = weights[j, i] / top
                    _arrow(ax, (i, enc_y), (offset + j, dec_y), colour="#0072B2",
                           width=0.3 + 2.5 * strength, alpha=0.15 + 0.85 * strength)  # fmt: skip
        ax.set(xlim=(-0.7, offset + T - 0.3), ylim=(-1.9, dec_y + 1.9), title=title)
        # row labels outside the rows, where no arrow passes: under the source words, over
        # the target words
        ax.text((S - 1) / 2, enc_y - 1.5, "encoder", fontsize=10, ha="center", va="center",
                color="#555555")  # fmt: skip
        ax.text(offset + (T - 1) / 2, dec_y + 1.5, "decoder", fontsize=10, ha="center",
                va="center", color="#555555")  # fmt: skip
        ax.axis("off")
    return finish(fig)
