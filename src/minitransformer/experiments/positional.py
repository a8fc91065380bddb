"""Chapter 5's measurements: properties of the sinusoidal positional encoding.

- :func:`shift_matrix`: the fixed (D, D) matrix M_k with PE(pos + k) = M_k PE(pos) for every
  pos: one 2 x 2 rotation per sin/cos pair.
- :func:`distance_profile`: how far the dot products PE(p) . PE(q) are from depending on
  |p - q| alone.
- :func:`halves_permutation`, :func:`concatenated_encoding`: the "first all sines, then all
  cosines" layout that many implementations use instead of the paper's interleaving.
- :func:`permute_encoder_layer`: an encoder layer whose residual stream is relabelled by a
  permutation of the D dimensions; it computes exactly the same function in the new labels,
  which is why the layout of the encoding does not matter to a model that learns its weights.
- :func:`split_by_length`, :func:`train_for_lengths`, :func:`run_length_study`: positions
  beyond the training length. The same small model, with sinusoidal and with learned positions,
  trains on the short pairs of any list of ``Pair`` and is scored, length by length, on pairs
  up to the longest in the list, over several seeds.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
from matplotlib.figure import Figure
from torch import Tensor

from minitransformer.config import TransformerConfig, _check_positive_int
from minitransformer.data import Pair, encode_pairs
from minitransformer.decoding import greedy_decode_batch
from minitransformer.layers import EncoderLayer
from minitransformer.model import Transformer
from minitransformer.positional import sinusoidal_encoding
from minitransformer.tokens import EOS_ID, Vocab
from minitransformer.training import train
from minitransformer.viz import slider_heatmap
from minitransformer.viz._style import SIGNED_CMAP, finish, new_figure
from minitransformer.viz.static import as_array


def frequencies(d_model: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """omega_i = 1 / 10000^(2i / D) for i = 0 .. D/2 - 1: the angular speed of pair i."""
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model={d_model} must be a positive even integer")
    two_i = torch.arange(0, d_model, 2, dtype=dtype)
    return torch.exp(-math.log(10000.0) * two_i / d_model)  # (D/2,)


def shift_matrix(k: int, d_model: int, *, dtype: torch.dtype = torch.float64) -> Tensor:
    """M_k, (D, D), with PE(pos + k) = M_k @ PE(pos) for every position pos.

    Pair i holds (sin(omega_i pos), cos(omega_i pos)); the angle-sum formulas give
    sin(a + b) = sin a cos b + cos a sin b and cos(a + b) = cos a cos b - sin a sin b, so moving
    k positions rotates that pair by the angle omega_i k, whatever pos is. M_k is block
    diagonal with one 2 x 2 rotation per pair; it depends on k and D only.
    """
    angles = frequencies(d_model, dtype=dtype) * k  # (D/2,)
    cos, sin = torch.cos(angles), torch.sin(angles)
    matrix = torch.zeros(d_model, d_model, dtype=dtype)
    even = torch.arange(0, d_model, 2)
    matrix[even, even] = cos  # new sin = cos(wk) sin + sin(wk) cos
    matrix[even, even + 1] = sin
    matrix[even + 1, even] = -sin  # new cos = -sin(wk) sin + cos(wk) cos
    matrix[even + 1, even + 1] = cos
    return matrix


def distance_profile(table: Tensor) -> dict[str, Tensor | float]:
    """Dot products of every pair of rows of a (L, D) encoding, grouped by distance.

    Returns ``similarity`` (L, L), ``by_distance`` (L,) the mean of the dot products at each
    distance |p - q|, and ``max_spread``: the largest difference between two dot products at
    the same distance (0 when they depend on the distance alone).
    """
    table = table.to(torch.float64)
    similarity = table @ table.T  # (L, L)
    L = table.size(0)
    distance = (torch.arange(L)[:, None] - torch.arange(L)[None, :]).abs()
    means, spread = torch.zeros(L, dtype=torch.float64), 0.0
    for d in range(L):
        values = similarity[distance == d]
        means[d] = values.mean()
        spread = max(spread, float(values.max() - values.min()))
    return {"similarity": similarity, "by_distance": means, "max_spread": spread}


def halves_permutation(d_model: int) -> Tensor:
    """Indices that turn the interleaved layout (sin, cos, sin, cos, ...) into the
    concatenated one (all sines, then all cosines): ``interleaved[:, perm]``."""
    if d_model <= 0 or d_model % 2:
        raise ValueError(f"d_model={d_model} must be a positive even integer")
    return torch.cat([torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)])


def concatenated_encoding(length: int, d_model: int) -> Tensor:
    """The (L, D) table with sin(pos * omega_i) in columns 0..D/2-1 and cos in the rest,
    computed from the formula (not by permuting the package's table)."""
    angles = torch.arange(length, dtype=torch.float64)[:, None] * frequencies(d_model)
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()  # (L, D)


def permute_encoder_layer(layer: EncoderLayer, perm: Tensor) -> EncoderLayer:
    """A copy of ``layer`` that reads and writes the residual stream in the order ``perm``.

    If ``y = layer(x)`` then ``permuted(x[..., perm]) == y[..., perm]``: every matrix that
    reads the stream has its input columns permuted, every matrix that writes it has its
    output rows permuted, and the LayerNorm gains and biases follow their dimensions. Inside
    the attention heads and the feed-forward hidden layer nothing changes.
    """
    new = copy.deepcopy(layer)
    attention, feed_forward = new.self_attention, new.feed_forward
    with torch.no_grad():
        for linear in (attention.w_q, attention.w_k, attention.w_v, feed_forward.linear1):
            linear.weight.copy_(linear.weight[:, perm])  # reads the stream: columns
        for linear in (attention.w_o, feed_forward.linear2):
            linear.weight.copy_(linear.weight[perm])  # writes the stream: rows
            if linear.bias is not None:
                linear.bias.copy_(linear.bias[perm])
        for block in (new.attention_block, new.feed_forward_block):
            block.norm.weight.copy_(block.norm.weight[perm])
            block.norm.bias.copy_(block.norm.bias[perm])
    return new


def same_input_two_positions(
    embedding: Tensor, positions: tuple[int, int], table: Tensor
) -> dict[str, float]:
    """One word's embedding (D,) placed at two positions: embedding * sqrt(D) + PE[pos].

    Returns the cosine similarity of the two inputs and the distance between them (the
    embedding alone would give similarity 1 and distance 0).
    """
    D = embedding.numel()
    first, second = (embedding * math.sqrt(D) + table[p] for p in positions)
    return {
        "cosine": float(torch.nn.functional.cosine_similarity(first, second, dim=0)),
        "distance": float((first - second).norm()),
    }


def input_figure(scaled: Tensor, table: Tensor, tokens: Sequence[str]) -> Figure:
    """Three heatmaps side by side: embedding * sqrt(D), PE, and their sum (the real input).

    (Titles use mathtext for the square root: the glyph renders poorly in the figure fonts.)

    scaled, table: (S, D). Rows are the words of the sentence, columns the D dimensions; the
    colour range is shared so the three panels compare.
    """
    panels = [as_array(scaled, 2), as_array(table, 2)]
    panels.append(panels[0] + panels[1])
    limit = float(max(np.abs(panel).max() for panel in panels))
    fig = new_figure(11.0, 2.2 + 0.3 * len(tokens))
    axes = fig.subplots(1, 3, sharey=True)
    titles = (
        r"embedding × $\sqrt{D}$ (임베딩)",
        "+ PE (포지셔널 인코딩)",
        "= input of the first layer (입력)",
    )
    for ax, panel, title in zip(axes, panels, titles, strict=True):
        image = ax.imshow(panel, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, aspect="auto")
        ax.set(title=title, xlabel="dimension i")
    axes[0].set_yticks(range(len(tokens)), [f"{p}:{w}" for p, w in enumerate(tokens)])
    axes[0].set_ylabel("position: word")
    fig.colorbar(image, ax=axes, shrink=0.85, label="value")
    return finish(fig)


def layouts_figure(length: int = 50, d_model: int = 32) -> Figure:
    """The paper's interleaved table beside the concatenated-halves table."""
    tables = (sinusoidal_encoding(length, d_model), concatenated_encoding(length, d_model))
    fig = new_figure(10.0, 3.6)
    axes = fig.subplots(1, 2, sharey=True)
    titles = ("interleaved: sin, cos, sin, cos, ... (paper)", "concatenated: all sin | all cos")
    for ax, table, title in zip(axes, tables, titles, strict=True):
        image = ax.imshow(as_array(table), cmap=SIGNED_CMAP, vmin=-1, vmax=1, aspect="auto")
        ax.set(title=title, xlabel="dimension i")
    axes[0].set_ylabel("position pos")
    fig.colorbar(image, ax=axes, shrink=0.85, label="PE(pos, i)")
    return finish(fig)


def similarity_slider(d_models: Sequence[int] = (4, 16, 64, 128), length: int = 30) -> go.Figure:
    """PE(p) . PE(q) / (D/2) for every pair of positions, one slider state per D.

    Dividing by D/2 = |PE(p)|^2 puts every state on [-1, 1] (it is the cosine similarity).
    """
    states = [
        as_array(distance_profile(sinusoidal_encoding(length, d))["similarity"]) / (d / 2)
        for d in d_models
    ]
    positions = [str(p) for p in range(length)]
    return slider_heatmap(
        states, [f"D = {d}" for d in d_models], positions, positions,
        slider_name="d_model", x_title="position q", y_title="position p", zmin=-1.0,
        zmax=1.0, colorscale="RdBu_r", annotate=False, active=len(states) - 1,
        title="Similarity of the encodings of two positions: PE(p)·PE(q) / (D/2)",
    )  # fmt: skip


# --- positions beyond the training length ---------------------------------------------------

KINDS = ("sinusoidal", "learned")
LABELS = {"sinusoidal": "sinusoidal (the formula)", "learned": "learned table"}
COLOURS = {"sinusoidal": "#0072B2", "learned": "#D55E00"}


def pair_length(pair: Pair) -> int:
    """The number of words on the longer side of ``pair``: how far into the positional tables
    it reaches (the decoder reads one position more, its <sos>)."""
    return max(len(pair.source), len(pair.target))


@dataclass(frozen=True)
class LengthSplit:
    """Short pairs to train on, and test pairs of every length.

    train: the pairs of at most ``threshold`` words, minus the test pairs (no training pair has
    the source of a test pair). test: length -> the test pairs of that length; the short ones
    are held out from training, the long ones are longer than anything trained on. dropped:
    test pairs left out because they hold a word that no training pair uses.
    """

    train: list[Pair]
    test: dict[int, list[Pair]]
    threshold: int
    dropped: int = 0

    @property
    def lengths(self) -> tuple[int, ...]:
        """Every test length, shortest first."""
        return tuple(sorted(self.test))

    @property
    def longest_train(self) -> int:
        """The longest training pair, in words (at most ``threshold``)."""
        return max(pair_length(pair) for pair in self.train)


def split_by_length(
    pairs: Sequence[Pair], threshold: int, *, num_test: int = 50, seed: int = 0
) -> LengthSplit:
    """Train on the pairs of at most ``threshold`` words, test on every length.

    Works on any list of ``Pair`` (the grammar's corpus, the toy tasks, a richer corpus): for
    each length (``pair_length``), ``num_test`` pairs drawn with ``seed`` are the test pairs of
    that length; the other pairs of at most ``threshold`` words are the training set, and the
    other longer ones are not used.
    """
    if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
        raise TypeError(f"pairs must be a list of Pair, got {type(pairs).__name__}")
    if not pairs or not all(isinstance(pair, Pair) for pair in pairs):
        raise TypeError("pairs must be a non-empty list of Pair")
    _check_positive_int("threshold", threshold)
    _check_positive_int("num_test", num_test)
    by_length: dict[int, list[Pair]] = {}
    for pair in pairs:
        by_length.setdefault(pair_length(pair), []).append(pair)
    rng = random.Random(seed)
    test = {length: rng.sample(group, min(num_test, len(group)))
            for length, group in sorted(by_length.items())}  # fmt: skip
    held_out = {pair.source for group in test.values() for pair in group}
    train_pairs = [p for p in pairs if pair_length(p) <= threshold and p.source not in held_out]
    if not train_pairs:
        raise ValueError(
            f"no pair of at most threshold={threshold} words is left to train on "
            f"(shortest pair: {min(by_length)} words)"
        )
    source_words = {word for pair in train_pairs for word in pair.source}
    target_words = {word for pair in train_pairs for word in pair.target}
    kept, dropped = {}, 0
    for length, group in test.items():
        known = [p for p in group if set(p.source) <= source_words
                 and set(p.target) <= target_words]  # fmt: skip
        dropped += len(group) - len(known)
        if known:
            kept[length] = known
    return LengthSplit(train_pairs, kept, threshold, dropped)


@dataclass(frozen=True)
class LengthBudget:
    """The model and its training run: the same for both kinds of positions."""

    d_model: int = 32  # D
    num_heads: int = 1  # H
    num_layers: int = 1  # N, encoder layers = decoder layers
    d_ff: int = 64  # F
    steps: int = 300
    batch_size: int = 64
    warmup: int = 40
    lr_factor: float = 0.5


@dataclass(frozen=True)
class LengthScore:
    """Greedy decoding of the test pairs of one length."""

    exact: float  # share of pairs decoded word for word
    tokens: float  # share of reference words (and <eos>) right at their position
    by_position: np.ndarray  # (L + 1,) share right at each output position, <eos> last
    output_length: float  # mean number of words written (without <eos>)


def score_by_length(
    model: Transformer, test: dict[int, list[Pair]], src_vocab: Vocab, tgt_vocab: Vocab
) -> dict[int, LengthScore]:
    """Greedy-decode the test pairs of each length and score them.

    Exact match and token accuracy are those of ``decoding.exact_match`` and
    ``decoding.token_accuracy`` (a missing or extra word counts as wrong), from one decoding.
    """
    scores = {}
    for length, pairs in test.items():
        data = encode_pairs(pairs, src_vocab, tgt_vocab)
        outputs = greedy_decode_batch(model, data.source)  # words, no <sos>, no <eos>
        width = max(len(target) - 1 for target in data.target)  # words + <eos>
        right, present, exact = np.zeros(width), np.zeros(width), 0
        for output, target in zip(outputs, data.target, strict=True):
            reference, hypothesis = target[1:], [*output, EOS_ID]  # words + <eos>
            hits = [a == b for a, b in zip(hypothesis, reference, strict=False)]
            right[: len(hits)] += hits
            present[: len(reference)] += 1
            exact += hypothesis == reference
        scores[length] = LengthScore(
            exact=exact / len(pairs), tokens=float(right.sum() / present.sum()),
            by_position=right / present, output_length=float(np.mean([len(o) for o in outputs])),
        )  # fmt: skip
    return scores


@dataclass
class LengthRun:
    """One model trained on the short pairs and scored on every length."""

    positional: str  # "sinusoidal" or "learned"
    seed: int
    scores: dict[int, LengthScore]  # length -> score
    seconds: float  # training wall time
    final_loss: float
    trained_change: float | None = None  # learned: smallest change of a row training reached
    untrained_change: float | None = None  # learned: largest change of a row past them
    model: Transformer | None = field(default=None, repr=False)


def _table_changes(model: Transformer, before: list[Tensor], split: LengthSplit):
    """(smallest change of a reached row, largest change of a row past them) over the two
    learned tables; the decoder reads <sos> + the words, one row more than the target."""
    reached = (max(len(p.source) for p in split.train), max(len(p.target) for p in split.train) + 1)
    tables = (model.source_positions.table, model.target_positions.table)
    trained, untrained = math.inf, 0.0
    for table, initial, rows in zip(tables, before, reached, strict=True):
        change = (table.detach() - initial).abs().amax(dim=1)  # (max_len,) per row
        trained = min(trained, float(change[:rows].min()))
        untrained = max(untrained, float(change[rows:].max()))
    return trained, untrained


def train_for_lengths(
    split: LengthSplit, positional: str, budget: LengthBudget = LengthBudget(), *, seed: int = 0
) -> LengthRun:
    """Train the budget's model with ``positional`` positions on ``split.train``; score it on
    ``split.test``.

    max_len covers the longest test pair, so a learned table has a row for every test
    position; the rows past the training lengths receive no gradient and keep their random
    initial values (``LengthRun.untrained_change`` measures it).
    """
    if not isinstance(split, LengthSplit):
        kind = type(split).__name__
        raise TypeError(f"split must be a LengthSplit (from split_by_length), got {kind}")
    if positional not in KINDS:
        raise ValueError(f"positional must be one of {KINDS}, got {positional!r}")
    src_vocab = Vocab.build(pair.source for pair in split.train)
    tgt_vocab = Vocab.build(pair.target for pair in split.train)
    config = TransformerConfig(
        src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab), d_model=budget.d_model,
        num_heads=budget.num_heads, num_layers=budget.num_layers, d_ff=budget.d_ff,
        dropout=0.0, max_len=max(split.lengths) + 2, positional=positional,
    )  # fmt: skip
    torch.manual_seed(seed)  # the initial weights
    model = Transformer(config)
    learned = positional == "learned"
    before = [m.table.detach().clone() for m in (model.source_positions, model.target_positions)]
    history = train(
        model, encode_pairs(split.train, src_vocab, tgt_vocab), steps=budget.steps,
        batch_size=budget.batch_size, warmup=budget.warmup, lr_factor=budget.lr_factor,
        label_smoothing=0.0, seed=seed, progress=False,
    )  # fmt: skip
    changes = _table_changes(model, before, split) if learned else (None, None)
    scores = score_by_length(model, split.test, src_vocab, tgt_vocab)
    loss = history.loss[-1] if history.loss else float("nan")
    return LengthRun(positional, seed, scores, history.seconds, loss, *changes, model=model)


def clear_difference(a: np.ndarray, b: np.ndarray) -> int:
    """+1 if every value of ``a`` is above every value of ``b``, -1 if below, 0 when the two
    ranges (e.g. over seeds) overlap: no clear difference."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.min() > b.max():
        return 1
    if a.max() < b.min():
        return -1
    return 0


@dataclass
class LengthStudy:
    """``train_for_lengths`` for each kind and seed, on one split (the seeds change the
    initial weights and the batch order)."""

    split: LengthSplit
    budget: LengthBudget
    seeds: tuple[int, ...]
    runs: dict[str, list[LengthRun]]  # kind -> one run per seed

    @property
    def kinds(self) -> list[str]:
        return list(self.runs)

    @property
    def lengths(self) -> tuple[int, ...]:
        return self.split.lengths

    @property
    def threshold(self) -> int:
        return self.split.threshold

    def metric(self, kind: str, name: str) -> np.ndarray:
        """(seeds, lengths) of ``name``: "exact", "tokens" or "output_length"."""
        if name not in ("exact", "tokens", "output_length"):
            raise ValueError(f"name must be 'exact', 'tokens' or 'output_length', got {name!r}")
        return np.array([[getattr(run.scores[L], name) for L in self.lengths]
                         for run in self.runs[kind]])  # fmt: skip

    def over(self, kind: str, name: str, *, beyond: bool) -> np.ndarray:
        """(seeds,) mean of ``name`` over the lengths past the threshold (``beyond=True``) or
        up to it."""
        lengths = np.array(self.lengths)
        columns = lengths > self.threshold if beyond else lengths <= self.threshold
        if not columns.any():
            raise ValueError("no test length on that side of the threshold")
        return self.metric(kind, name)[:, columns].mean(axis=1)

    def positions(self, kind: str, length: int) -> np.ndarray:
        """(seeds, L + 1) share right at each output position of the length-``length`` pairs."""
        return np.stack([run.scores[length].by_position for run in self.runs[kind]])

    def table(self, lengths: Sequence[int] | None = None) -> list[dict[str, object]]:
        """One row per length: mean (lowest-highest over seeds) of exact match and token
        accuracy for each kind."""

        def spread(values: np.ndarray) -> str:
            return f"{values.mean():.2f} ({values.min():.2f}-{values.max():.2f})"

        rows = []
        for length in lengths or self.lengths:
            column = self.lengths.index(length)
            row: dict[str, object] = {"length": length}
            row["in training"] = "yes" if length <= self.threshold else "no: longer"
            for name, title in (("exact", "exact match"), ("tokens", "token accuracy")):
                for kind in self.kinds:
                    row[f"{title}, {kind}"] = spread(self.metric(kind, name)[:, column])
            rows.append(row)
        return rows


def run_length_study(
    split: LengthSplit,
    budget: LengthBudget = LengthBudget(),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    kinds: Sequence[str] = KINDS,
) -> LengthStudy:
    """``train_for_lengths`` once per kind and seed."""
    seeds = tuple(seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds!r}")
    if not kinds or any(kind not in KINDS for kind in kinds):
        raise ValueError(f"kinds must be a non-empty selection of {KINDS}, got {kinds!r}")
    runs = {kind: [train_for_lengths(split, kind, budget, seed=s) for s in seeds] for kind in kinds}
    return LengthStudy(split, budget, seeds, runs)


def length_figure(study: LengthStudy, *, unit: str = "words") -> Figure:
    """Three panels: exact match and token accuracy against length, and the share right at
    each output position of the longest test pairs; mean over seeds, a band from the lowest to
    the highest seed, the lengths and positions past training shaded. ``unit`` names what the
    lengths count (e.g. "symbols" for the toy tasks)."""
    fig = new_figure(11.0, 3.9)
    axes = fig.subplots(1, 3)
    lengths = np.array(study.lengths)
    longest = int(lengths.max())
    edge = study.threshold + 0.5
    panels = [(axes[0], "exact", "exact match"), (axes[1], "tokens", "token accuracy")]
    for kind in study.kinds:
        style = dict(color=COLOURS[kind], marker="o", markersize=3, linewidth=2)
        for ax, name, _ in panels:
            values = study.metric(kind, name)  # (seeds, lengths)
            ax.plot(lengths, values.mean(0), label=LABELS[kind], **style)
            ax.fill_between(lengths, values.min(0), values.max(0), color=COLOURS[kind],
                            alpha=0.2, linewidth=0)  # fmt: skip
        rows = study.positions(kind, longest)  # (seeds, L + 1)
        steps = np.arange(1, rows.shape[1] + 1)
        axes[2].plot(steps, rows.mean(0), **style)
        axes[2].fill_between(steps, rows.min(0), rows.max(0), color=COLOURS[kind], alpha=0.2,
                             linewidth=0)  # fmt: skip
    for ax, _, title in panels:
        ax.set(xlabel=f"length of the pair ({unit})", ylabel=title, title=f"{title} by length")
        ax.axvspan(edge, lengths.max() + 0.5, color="grey", alpha=0.15, linewidth=0)
    axes[2].set(xlabel="output position (the last: end of sentence)", ylabel="share right",
                title=f"each position, pairs of {longest} {unit}")  # fmt: skip
    axes[2].axvspan(edge, longest + 1.5, color="grey", alpha=0.15, linewidth=0)
    for ax in axes:
        ax.set_ylim(-0.02, 1.03)
        ax.text(edge + 0.3, 0.5, "longer than\nin training", color="#555555", fontsize=8)
    fig.legend(*axes[0].get_legend_handles_labels(), frameon=False, ncols=2,
               loc="outside lower center", fontsize=9)  # fmt: skip
    return finish(fig)


__all__ = [
    "KINDS",
    "LengthBudget",
    "LengthRun",
    "LengthScore",
    "LengthSplit",
    "LengthStudy",
    "clear_difference",
    "concatenated_encoding",
    "distance_profile",
    "frequencies",
    "halves_permutation",
    "input_figure",
    "layouts_figure",
    "length_figure",
    "pair_length",
    "permute_encoder_layer",
    "run_length_study",
    "same_input_two_positions",
    "score_by_length",
    "shift_matrix",
    "similarity_slider",
    "split_by_length",
    "train_for_lengths",
]
