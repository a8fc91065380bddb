"""Chapter 6's experiment: why H heads of width D/H rather than one head of width D?

- :func:`attention_modules`: every ``MultiHeadAttention`` of a Transformer, by a short name.
- :func:`head_statistics`: per head, the mean entropy of its rows, and per pair of heads of one
  module, how much their weights overlap (sum_k min(p_k, q_k), 1 = identical rows).
- :func:`ablated`: a context manager that removes heads by zeroing their slice of the
  concatenation, just before W^O (a forward pre-hook on ``w_o``).
- :func:`ablation_study`: held-out exact match with each head removed alone, then with heads
  removed one after another (the least harmful first).
- :func:`compare_head_counts`: train one model per head count, same D, same data, same steps,
  same seed, and score each on held-out pairs; :func:`compare_head_counts_over_seeds` repeats
  it for several seeds, :func:`seed_spread`, :func:`verdict` and :func:`seed_table` report the
  spread over seeds and conclude from it.
- :func:`constructions` and :func:`construction_study`: held-out exact match per construction
  of the rich grammar (봤어 with 영화 or with a person, 걔, patient first), with heads removed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from minitransformer.attention import MultiHeadAttention
from minitransformer.config import TransformerConfig
from minitransformer.data import MOVIE, SEE, THAT_ONE, Corpus, EncodedPairs, Pair, encode_pairs
from minitransformer.decoding import (
    exact_match,
    greedy_decode_batch,
    inference_mode,
    output_scores,
)
from minitransformer.model import Transformer
from minitransformer.tokens import PAD_ID, Vocab, pad_sequences
from minitransformer.training import label_smoothed_cross_entropy, train
from minitransformer.viz._style import PROBABILITY_CMAP, SIGNED_CMAP, finish, new_figure
from minitransformer.viz.static import as_array

HeadSet = Mapping[str, Sequence[int]]  # module name -> heads to remove


def attention_modules(model: Transformer) -> dict[str, MultiHeadAttention]:
    """{"enc0.self": ..., "dec0.self": ..., "dec0.cross": ..., ...} in the order of the model."""
    modules = {}
    for n, layer in enumerate(model.encoder.layers):
        modules[f"enc{n}.self"] = layer.self_attention
    for n, layer in enumerate(model.decoder.layers):
        modules[f"dec{n}.self"] = layer.self_attention
        modules[f"dec{n}.cross"] = layer.cross_attention
    return modules


def zero_heads_hook(heads: Sequence[int], d_head: int):
    """A forward pre-hook for ``w_o`` (W^O) that removes ``heads``: it receives the
    concatenation of the head outputs, (B, T, H*Dh), and zeroes the Dh columns that each
    removed head owns, so W^O mixes only the heads that are left."""

    def hook(module: nn.Module, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        concat = inputs[0].clone()  # (B, T, H*Dh): the heads side by side
        for head in heads:
            concat[..., head * d_head : (head + 1) * d_head] = 0.0  # head h's slice
        return (concat, *inputs[1:])  # what w_o receives instead

    return hook


@contextlib.contextmanager
def ablated(model: Transformer, heads: HeadSet) -> Iterator[Transformer]:
    """Within the block, the listed heads contribute nothing: their part of the concatenation
    is set to zero before W^O (W^O's bias still applies). The model is restored afterwards."""
    modules = attention_modules(model)
    handles = []
    try:
        for name, removed in heads.items():
            if name not in modules:
                raise KeyError(f"no attention module {name!r}; choose from {list(modules)}")
            attention = modules[name]
            bad = [h for h in removed if not 0 <= h < attention.num_heads]
            if bad:
                raise ValueError(f"{name} has heads 0..{attention.num_heads - 1}, got {bad}")
            if removed:
                hook = zero_heads_hook(list(removed), attention.d_head)
                handles.append(attention.w_o.register_forward_pre_hook(hook))
        yield model
    finally:
        for handle in handles:
            handle.remove()


def _teacher_forced_maps(model: Transformer, data: EncodedPairs):
    source = pad_sequences(data.source, pad_id=PAD_ID)  # (B, S)
    target = pad_sequences([t[:-1] for t in data.target], pad_id=PAD_ID)  # (B, T)
    with inference_mode(model):
        maps = model(source, target, return_attention=True).attention
    return source != PAD_ID, target != PAD_ID, maps


@dataclass(frozen=True)
class HeadStatistics:
    """entropy[name]: (H,) mean entropy (nats) of the head's rows over real queries;
    max_entropy[name]: the mean of log(number of keys a row may see), the uniform value;
    overlap[name]: (H, H) mean sum_k min(p_k, q_k) between the rows of two heads."""

    entropy: dict[str, Tensor]
    max_entropy: dict[str, float]
    overlap: dict[str, Tensor]


def head_statistics(model: Transformer, data: EncodedPairs) -> HeadStatistics:
    """Entropy of each head and overlap between heads, on teacher-forced ``data``."""
    source_real, target_real, maps = _teacher_forced_maps(model, data)
    groups = {"self": maps.encoder, "dself": maps.decoder_self, "cross": maps.cross}
    names = {"self": "enc{}.self", "dself": "dec{}.self", "cross": "dec{}.cross"}
    entropy, max_entropy, overlap = {}, {}, {}
    for kind, layer_maps in groups.items():
        queries = source_real if kind == "self" else target_real  # (B, L)
        for n, weights in enumerate(layer_maps):  # (B, H, Lq, Lk)
            name = names[kind].format(n)
            rows = weights.permute(0, 2, 1, 3)[queries]  # (rows, H, Lk) real queries only
            plogp = torch.where(rows > 0, rows * rows.clamp_min(1e-12).log(), 0.0)
            entropy[name] = -plogp.sum(-1).mean(0)  # (H,)
            visible = (rows[:, 0] > 0).sum(-1).clamp_min(1).float()  # keys seen per row
            max_entropy[name] = float(visible.log().mean())
            overlap[name] = torch.minimum(rows[:, :, None], rows[:, None, :]).sum(-1).mean(0)
    return HeadStatistics(entropy, max_entropy, overlap)


def decode_limit(data: EncodedPairs) -> int:
    """Words to generate at most when scoring ``data`` by greedy decoding: one more than its
    longest reference. A hypothesis still running by then is longer than every reference, so
    stopping there changes neither exact match nor word accuracy; it only saves the steps of a
    damaged model that never writes <eos>."""
    return 1 + max(len(right) for k in range(len(data)) for right in data.right_targets(k))


def teacher_forced_loss(model: Transformer, data: EncodedPairs) -> float:
    """Mean cross-entropy (no smoothing) of the gold next word over the real target positions."""
    source = pad_sequences(data.source, pad_id=PAD_ID)  # (B, S)
    target = pad_sequences(data.target, pad_id=PAD_ID)  # (B, T + 1)
    with inference_mode(model):
        logits = model(source, target[:, :-1]).logits  # (B, T, V)
        return float(label_smoothed_cross_entropy(logits, target[:, 1:], smoothing=0.0))


@dataclass(frozen=True)
class AblationResult:
    """Held-out exact match (EM) and teacher-forced loss with heads removed."""

    baseline_em: float
    baseline_loss: float
    single_em: dict[tuple[str, int], float]  # one head removed
    single_loss: dict[tuple[str, int], float]
    order: list[tuple[str, int]]  # removal order of the cumulative study
    cumulative_em: list[float]  # after removing order[:k + 1]
    cumulative_loss: list[float]


def ablation_study(
    model: Transformer,
    data: EncodedPairs,
    *,
    order: Sequence[tuple[str, int]] | None = None,
    cumulative: bool = True,
) -> AblationResult:
    """Remove heads and measure held-out exact match (batched greedy decoding) and loss.

    First each head alone. Then, if ``cumulative``, heads are removed one after another in
    ``order`` (default :func:`kind_order`: encoder self-attention, then decoder
    self-attention, then encoder-decoder attention, each from the first layer up) until
    none is left.
    """
    modules = attention_modules(model)
    limit = decode_limit(data)
    single_em, single_loss = {}, {}
    for name, attention in modules.items():
        for head in range(attention.num_heads):
            with ablated(model, {name: [head]}):
                single_em[(name, head)] = exact_match(model, data, max_len=limit)
                single_loss[(name, head)] = teacher_forced_loss(model, data)
    order = list(kind_order(model) if order is None else order)
    cumulative_em, cumulative_loss = [], []
    if cumulative:
        removed: dict[str, list[int]] = {}
        for name, head in order:
            removed.setdefault(name, []).append(head)
            with ablated(model, removed):
                cumulative_em.append(exact_match(model, data, max_len=limit))
                cumulative_loss.append(teacher_forced_loss(model, data))
    return AblationResult(
        baseline_em=exact_match(model, data, max_len=limit),
        baseline_loss=teacher_forced_loss(model, data),
        single_em=single_em,
        single_loss=single_loss,
        order=order if cumulative else [],
        cumulative_em=cumulative_em,
        cumulative_loss=cumulative_loss,
    )


def kind_order(model: Transformer) -> list[tuple[str, int]]:
    """Every (module, head): encoder self-attention first, then decoder self-attention, then
    encoder-decoder attention, layer by layer."""
    modules = attention_modules(model)

    def rank(name: str) -> int:
        return 0 if name.startswith("enc") else 1 if name.endswith("self") else 2

    names = sorted(modules, key=rank)  # stable: layers stay in order within a kind
    return [(name, head) for name in names for head in range(modules[name].num_heads)]


def greedy_scores(model: Transformer, data: EncodedPairs) -> tuple[float, float]:
    """(exact match, word accuracy) of one batched greedy decoding of ``data``: the two
    numbers of ``decoding.exact_match`` and ``decoding.token_accuracy``, decoded once."""
    outputs = greedy_decode_batch(model, data.source, max_len=decode_limit(data))
    return output_scores(outputs, data)


@dataclass(frozen=True)
class HeadCountResult:
    num_heads: int
    d_head: int
    parameters: int
    final_loss: float  # training loss: label-smoothed, dropout on, mean of the last 20 steps
    exact_match: float  # held-out, greedy
    token_accuracy: float  # held-out, greedy
    held_out_loss: float  # teacher-forced cross-entropy (no smoothing, eval mode), held-out
    loss_curve: list[float]  # training loss at every step
    seconds: float
    model: Transformer
    seed: int = 0  # initial weights and batch order


def compare_head_counts(
    corpus: Corpus,
    head_counts: Sequence[int] = (1, 4),
    *,
    steps: int = 300,
    batch_size: int = 64,
    warmup: int = 100,
    seed: int = 0,
    held_out: int | None = None,
    **config: int | float,
) -> list[HeadCountResult]:
    """Train ``TransformerConfig.small`` with each head count (same D and everything else,
    same initial seed, same batches, same number of steps) and score it on held-out pairs."""
    data = corpus.encoded("held_out")
    if held_out is not None:
        data = EncodedPairs(
            data.source[:held_out],
            data.target[:held_out],
            None if data.references is None else data.references[:held_out],
        )
    results = []
    for num_heads in head_counts:
        settings = TransformerConfig.small(
            len(corpus.src_vocab), len(corpus.tgt_vocab), num_heads=num_heads, **config
        )
        torch.manual_seed(seed)
        model = Transformer(settings)
        started = time.perf_counter()
        history = train(
            model, corpus.encoded("train"), steps=steps, batch_size=batch_size, warmup=warmup,
            seed=seed, progress=False,
        )  # fmt: skip
        tail = history.loss[-20:]
        exact, accuracy = greedy_scores(model, data)
        results.append(
            HeadCountResult(
                num_heads=num_heads,
                d_head=settings.d_head,
                parameters=model.num_parameters(),
                final_loss=sum(tail) / max(len(tail), 1),
                exact_match=exact,
                token_accuracy=accuracy,
                held_out_loss=teacher_forced_loss(model, data),
                loss_curve=list(history.loss),
                seconds=time.perf_counter() - started,
                model=model,
                seed=seed,
            )
        )
    return results


METRICS = {  # HeadCountResult field -> (what it is, lower is better)
    "final_loss": ("training loss (label-smoothed, dropout on, last 20 steps)", True),
    "held_out_loss": ("held-out loss (cross-entropy, no smoothing, eval mode)", True),
    "exact_match": ("held-out exact match (greedy)", False),
    "token_accuracy": ("held-out word accuracy (greedy)", False),
}


def compare_head_counts_over_seeds(
    corpus: Corpus,
    head_counts: Sequence[int] = (1, 4),
    *,
    seeds: Sequence[int] = (0, 1, 2),
    **options: int | float,
) -> list[HeadCountResult]:
    """:func:`compare_head_counts` once per seed, every run with the same budget.

    Within one seed every head count starts from the same seed and sees the same batches;
    another seed changes both. Returns every run, seed by seed (``result.seed``)."""
    seeds = [int(seed) for seed in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {seeds}")
    return [
        result
        for seed in seeds
        for result in compare_head_counts(corpus, head_counts, seed=seed, **options)
    ]


@dataclass(frozen=True)
class Spread:
    """One metric of one head count over the seeds: mean, smallest and largest value."""

    mean: float
    low: float
    high: float
    values: tuple[float, ...]  # one per seed, in seed order


def seed_spread(results: Sequence[HeadCountResult], metric: str) -> dict[int, Spread]:
    """{num_heads: Spread of ``metric``} over the seeds of the runs ``results``."""
    if metric not in METRICS:
        raise ValueError(f"metric={metric!r} must be one of {list(METRICS)}")
    by_heads: dict[int, list[float]] = {}
    for result in results:
        by_heads.setdefault(result.num_heads, []).append(float(getattr(result, metric)))
    return {h: Spread(sum(v) / len(v), min(v), max(v), tuple(v)) for h, v in by_heads.items()}


def verdict(
    spreads: Mapping[int, Spread], first: int, second: int, *, lower_is_better: bool
) -> str:
    """Compare two head counts by the spread over seeds, not by one run.

    "no clear difference" when the two ranges [low, high] overlap; otherwise
    "H = a better" for the head count whose every seed beats every seed of the other."""
    a, b = spreads[first], spreads[second]
    if a.low <= b.high and b.low <= a.high:
        return "no clear difference"
    a_better = (a.high < b.low) if lower_is_better else (a.low > b.high)
    return f"H = {first if a_better else second} better"


def paired_wins(
    results: Sequence[HeadCountResult], metric: str, first: int, second: int
) -> tuple[int, int]:
    """(seeds where ``first`` heads did strictly better on ``metric`` than ``second``, seeds):
    the two runs of one seed share the initial seed and the batches."""
    lower = METRICS[metric][1]
    runs = {(r.seed, r.num_heads): float(getattr(r, metric)) for r in results}
    seeds = sorted({r.seed for r in results})
    wins = 0
    for seed in seeds:
        x, y = runs[(seed, first)], runs[(seed, second)]
        wins += (x < y) if lower else (x > y)
    return wins, len(seeds)


def seed_table(results: Sequence[HeadCountResult]) -> str:
    """A Markdown table: one row per head count, each metric as mean [smallest, largest]."""
    spreads = {metric: seed_spread(results, metric) for metric in METRICS}
    first = {r.num_heads: r for r in results}
    seeds = len({r.seed for r in results})
    header = ["H", "Dh", "parameters", *(label for label, _ in METRICS.values())]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for h, run in first.items():
        cells = [str(h), str(run.d_head), f"{run.parameters:,}"]
        for metric in METRICS:
            s = spreads[metric][h]
            cells.append(f"{s.mean:.3f} [{s.low:.3f}, {s.high:.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    note = f"\n\nMean over {seeds} seeds, [smallest, largest] in brackets."
    return "\n".join(lines) + note


def seed_verdicts(results: Sequence[HeadCountResult], first: int = 1, second: int = 4) -> str:
    """Markdown bullets, one per metric: paired wins of ``second`` heads over ``first``, the
    two ranges over the seeds and the :func:`verdict` drawn from them."""
    lines = []
    for metric, (label, lower) in METRICS.items():
        spreads = seed_spread(results, metric)
        wins, seeds = paired_wins(results, metric, second, first)
        a, b = spreads[first], spreads[second]
        better = "lower" if lower else "higher"
        lines.append(
            f"- {label}: H = {second} {better} in {wins} of {seeds} seeds; range "
            f"[{a.low:.3f}, {a.high:.3f}] for H = {first}, [{b.low:.3f}, {b.high:.3f}] for "
            f"H = {second}: **{verdict(spreads, first, second, lower_is_better=lower)}**."
        )
    return "\n".join(lines)


def seed_curves_figure(results: Sequence[HeadCountResult], *, smooth: int = 10) -> Figure:
    """Training loss against step for each head count: the mean over seeds of a moving average
    over ``smooth`` steps, with the range over seeds shaded."""
    by_heads: dict[int, list[HeadCountResult]] = {}
    for result in results:
        by_heads.setdefault(result.num_heads, []).append(result)
    seeds = len({result.seed for result in results})
    fig = new_figure(7.0, 3.4)
    ax = fig.subplots()
    for h, runs in by_heads.items():
        curves = torch.tensor([run.loss_curve for run in runs])  # (seeds, steps)
        window = min(smooth, curves.size(1))
        smoothed = curves.unfold(1, window, 1).mean(-1)  # (seeds, steps - window + 1)
        steps = np.arange(window, curves.size(1) + 1)
        (line,) = ax.plot(steps, smoothed.mean(0), label=f"H = {h} (Dh = {runs[0].d_head})")
        ax.fill_between(steps, smoothed.min(0).values, smoothed.max(0).values,
                        color=line.get_color(), alpha=0.25, linewidth=0)  # fmt: skip
    ax.set(xlabel="training step", ylabel="training loss\n(label-smoothed, dropout on)",
           title=f"Same D, same budget: mean and range over {seeds} seeds")  # fmt: skip
    ax.legend(frameon=False)
    return finish(fig)


SUBJECT_MARKS, OBJECT_MARKS = frozenset({"가", "이"}), frozenset({"를", "을"})
CONSTRUCTIONS = {  # label -> what the label means (Markdown)
    "all": "every held-out sentence",
    "봤어 + 영화": "a clause with 봤어 and 영화: *watched*, decided by 영화",
    "봤어 + person or animal": "a clause with 봤어 and a person or animal: *saw*",
    "걔": "걔 refers back to the patient: *he*, *she* or *it*, decided several words back",
    "patient first": "a clause with the patient (를/을) before the agent (가/이)",
    "none of these": "sentences with none of the constructions above",
}


def constructions(pair: Pair) -> set[str]:
    """The labels of ``CONSTRUCTIONS`` that the Korean side of ``pair`` carries, read off
    its words: clauses are split at 그리고; a clause's agent is the noun before 가/이, its
    patient the noun before 를/을."""
    labels = {"all"}
    clause: list[str] = []
    for word in [*pair.source, "그리고"]:
        if word != "그리고":
            clause.append(word)
            continue
        marks = [k for k, w in enumerate(clause) if w in SUBJECT_MARKS | OBJECT_MARKS]
        if SEE in clause:
            labels.add("봤어 + 영화" if MOVIE in clause else "봤어 + person or animal")
        roles = [clause[k] in OBJECT_MARKS for k in marks]  # True = patient, in order
        if len(roles) == 2 and roles[0]:
            labels.add("patient first")
        clause = []
    if THAT_ONE in pair.source:
        labels.add("걔")
    if labels == {"all"}:
        labels.add("none of these")
    return labels


@dataclass(frozen=True)
class ConstructionResult:
    """sentences[label]: how many pairs carry the label; right[condition][label]: how many of
    them greedy decoding gets exactly right (any reference) with that condition's heads
    removed."""

    sentences: dict[str, int]
    right: dict[str, dict[str, int]]

    def exact_match(self, condition: str, label: str) -> float:
        return self.right[condition][label] / max(self.sentences[label], 1)


def construction_study(
    model: Transformer,
    pairs: Sequence[Pair],
    src_vocab: Vocab,
    tgt_vocab: Vocab,
    conditions: Mapping[str, HeadSet],
) -> ConstructionResult:
    """Exact match of batched greedy decoding per construction of ``pairs``, once per
    condition (a name -> the heads to remove, as for :func:`ablated`; ``{}`` keeps all)."""
    data = encode_pairs(pairs, src_vocab, tgt_vocab)
    labels = [constructions(pair) for pair in pairs]
    sentences = {label: sum(label in found for found in labels) for label in CONSTRUCTIONS}
    right: dict[str, dict[str, int]] = {}
    for condition, removed in conditions.items():
        with ablated(model, removed):
            outputs = greedy_decode_batch(model, data.source, max_len=decode_limit(data))
        hits = [outputs[k] in data.right_targets(k) for k in range(len(data))]
        right[condition] = {
            label: sum(hit for hit, found in zip(hits, labels, strict=True) if label in found)
            for label in CONSTRUCTIONS
        }
    return ConstructionResult(sentences, right)


def construction_table(result: ConstructionResult) -> str:
    """A Markdown table: one row per construction, its number of sentences and its exact match
    under each condition."""
    conditions = list(result.right)
    lines = [
        "| construction | sentences | " + " | ".join(conditions) + " |",
        "|---" * (2 + len(conditions)) + "|",
    ]
    for label, meaning in CONSTRUCTIONS.items():
        cells = [f"**{label}**: {meaning}", str(result.sentences[label])]
        cells += [f"{result.exact_match(c, label):.2f}" for c in conditions]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def multihead_figure(
    head_weights: Tensor, concat: Tensor, output: Tensor, tokens: Sequence[str]
) -> Figure:
    """F37 from real tensors: the H maps (H, S, S), their outputs side by side (S, H*Dh) and
    the result of W^O (S, D). Head boundaries are marked in the concatenation."""
    weights = as_array(head_weights, 3, "head_weights")
    H = weights.shape[0]
    concat, output = as_array(concat, 2, "concat"), as_array(output, 2, "output")
    d_head = concat.shape[1] // H
    labels = [f"{i}:{w}" for i, w in enumerate(tokens)]
    fig = new_figure(2.6 * H, 6.4)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.0, 0.9])
    for h, ax in enumerate(np.atleast_1d(top.subplots(1, H, sharey=True))):
        ax.imshow(weights[h], vmin=0, vmax=1, cmap=PROBABILITY_CMAP)
        ax.set_title(rf"head {h}: softmax$(Q_h K_h^T/\sqrt{{D_h}})$", fontsize=9)
        ax.set_xticks(range(len(labels)), labels, rotation=90, fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
    left, right = bottom.subplots(1, 2, sharey=True)
    limit = float(max(np.abs(concat).max(), np.abs(output).max()))
    for ax, array, title in ((left, concat, f"Concat(head_0 ... head_{H - 1}): S × H·Dh"),
                             (right, output, "× W^O = output: S × D")):  # fmt: skip
        ax.imshow(array, cmap=SIGNED_CMAP, vmin=-limit, vmax=limit, aspect="auto")
        ax.set(title=title, xlabel="dimension")
    for h in range(1, H):
        left.axvline(h * d_head - 0.5, color="black", linewidth=1.5)
    left.set_yticks(range(len(labels)), labels, fontsize=8)
    return finish(fig)


def statistics_figure(stats: HeadStatistics) -> Figure:
    """Left: mean entropy of every head (rows: attention modules). Right: the overlap between
    the heads of each module (1 on the diagonal)."""
    names = list(stats.entropy)
    entropy = np.stack([as_array(stats.entropy[n], 1) for n in names])  # (modules, H)
    H = entropy.shape[1]
    fig = new_figure(12.0, 4.6)
    left, right = fig.subfigures(1, 2, width_ratios=[0.8, 1.2])
    ax = left.subplots()
    top = max(stats.max_entropy.values())
    image = ax.imshow(entropy, cmap="cividis", vmin=0, vmax=top, aspect="auto")
    for (r, c), value in np.ndenumerate(entropy):
        ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="black" if value > 0.6 * top else "white")  # fmt: skip
    ax.set_xticks(range(H), [f"head {h}" for h in range(H)])
    ax.set_yticks(range(len(names)), [f"{n} (max {stats.max_entropy[n]:.2f})" for n in names])
    ax.set_title("mean entropy of a row (nats)")
    left.colorbar(image, ax=ax, shrink=0.8)
    axes = right.subplots(2, (len(names) + 1) // 2).ravel()
    for ax, name in zip(axes, names, strict=False):
        overlap = as_array(stats.overlap[name], 2)
        ax.imshow(overlap, cmap=PROBABILITY_CMAP, vmin=0, vmax=1)
        for (r, c), value in np.ndenumerate(overlap):
            ax.text(c, r, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="black" if value > 0.6 else "white")  # fmt: skip
        ax.set_title(f"{name}: overlap", fontsize=9)
        ax.set_xticks(range(H))
        ax.set_yticks(range(H))
    return finish(fig)


def ablation_figure(result: AblationResult) -> Figure:
    """Left: loss change when each head alone is removed (text: exact match). Right: exact
    match and loss as heads are removed one after another."""
    keys = list(result.single_em)
    names = list(dict.fromkeys(name for name, _ in keys))
    H = 1 + max(head for _, head in keys)
    increase = np.full((len(names), H), np.nan)
    for name, head in keys:
        increase[names.index(name), head] = result.single_loss[(name, head)] - result.baseline_loss
    fig = new_figure(12.5, 4.4)
    left, right = fig.subplots(1, 2, width_ratios=[0.8, 1.2])
    image = left.imshow(increase, cmap="cividis", aspect="auto")
    for name, head in keys:
        value = increase[names.index(name), head]
        em = result.single_em[(name, head)]
        left.text(head, names.index(name), f"{value:+.4f}\nEM {em:.2f}", ha="center",
                  va="center", fontsize=7, color="white" if value < 0.6 * np.nanmax(increase)
                  else "black")  # fmt: skip
    left.set_xticks(range(H), [f"head {h}" for h in range(H)])
    left.set_yticks(range(len(names)), names)
    left.set_title("one head removed: change of loss (EM = exact match)")
    fig.colorbar(image, ax=left, shrink=0.8)
    steps = np.arange(len(result.cumulative_em) + 1)
    right.plot(steps, [result.baseline_em, *result.cumulative_em], marker="o", label="exact match")
    right.set(xlabel="heads removed, one after another", ylabel="held-out exact match",
              ylim=(-0.05, 1.05))  # fmt: skip
    twin = right.twinx()
    twin.plot(steps, [result.baseline_loss, *result.cumulative_loss], color="#D55E00",
              linestyle="--", marker=".", label="loss")  # fmt: skip
    twin.set_ylabel("held-out loss (nats per word)", color="#D55E00")
    labels = ["none"] + [f"{n}:{h}" for n, h in result.order]
    right.set_xticks(steps, labels, rotation=90, fontsize=7)
    right.legend(loc="center left", frameon=False)
    return finish(fig)


__all__ = [
    "CONSTRUCTIONS",
    "METRICS",
    "AblationResult",
    "ConstructionResult",
    "HeadCountResult",
    "HeadStatistics",
    "Spread",
    "ablated",
    "ablation_figure",
    "ablation_study",
    "attention_modules",
    "compare_head_counts",
    "compare_head_counts_over_seeds",
    "construction_study",
    "construction_table",
    "constructions",
    "decode_limit",
    "greedy_scores",
    "head_statistics",
    "multihead_figure",
    "paired_wins",
    "seed_curves_figure",
    "seed_spread",
    "seed_table",
    "seed_verdicts",
    "statistics_figure",
    "teacher_forced_loss",
    "verdict",
    "zero_heads_hook",
]
