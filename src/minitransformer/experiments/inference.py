"""Chapter 10: inference, from <sos> to <eos>, with the shipped translator.

- :func:`trace_figure`: greedy decoding step by step (from ``Translator.trace``) as a plotly
  figure with a slider over steps: the probability vector and the encoder-decoder attention row.
- :func:`forced_recovery`: force a word at one step for many sentences and count how often the
  rest of the translation still matches the reference (exposure bias, measured).
- :func:`beam_vs_greedy`: greedy decoding and beam search on pairs: how many of each are right
  (any of ``Pair.right_targets``), and the sentences where the two differ; :func:`time_first`
  says whether an output puts its time phrase first.
- :func:`clause_report`: greedy outputs measured clause by clause (clauses written and needed,
  lengths, where the first error falls), for the held-out and the ``longer`` split.
- :func:`live_translator`: type Korean, read the translation and its attention (needs a kernel).
- :func:`cached_logit_difference`, :func:`step_times`, :func:`step_time_figure`: the key/value
  cache gives the uncached logits, and what one decoding step costs with and without it.
"""

from __future__ import annotations

import html
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import torch
from plotly.subplots import make_subplots

from minitransformer.data import (
    ACTIVITY_VERBS,
    MOVEMENT_VERBS,
    OBJECT_VERBS,
    PERSON_VERBS,
    TIMES,
    WATCHED,
    Pair,
)
from minitransformer.decoding import (
    TraceStep,
    beam_search,
    greedy_decode_batch,
    inference_mode,
    sequence_log_probability,
)
from minitransformer.experiments.teacher_forcing import probability_colors
from minitransformer.tokens import EOS_ID, PAD_ID, SOS_ID, pad_sequences
from minitransformer.viz._style import PROBABILITY_COLORSCALE


def _wrap(words: Sequence[str], width: int = 32) -> str:
    """Words joined with spaces, broken into lines (``<br>``) of about ``width`` characters."""
    lines, line = [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return "<br>".join([*lines, line])


def _step_state(step: TraceStep, translator, layer: int) -> dict:
    probabilities = np.round(step.probabilities.numpy(), 4)
    cross = step.cross_attention[layer].numpy()  # (H, S)
    rows = np.vstack([cross, cross.mean(axis=0, keepdims=True)])  # (H + 1, S)
    prefix = [html.escape(w) for w in translator.tgt_vocab.tokens(step.prefix, strip=False)]
    word = translator.tgt_vocab.word(step.token)
    forced = " (forced)" if step.forced else ""
    return dict(
        probabilities=probabilities.tolist(),
        colors=probability_colors(probabilities),
        cross=np.round(rows, 4).tolist(),
        title=f"step {step.step} writes <b>{html.escape(word)}</b>{forced}, "
        f"P = {step.probability:.2f}<br>decoder input: {_wrap(prefix)}",
    )


def trace_figure(trace: Sequence[TraceStep], translator, korean: str, *, layer: int = -1):
    """Top: P(every English word) at each step of greedy decoding. Bottom: the encoder-decoder
    attention of the position that writes the step's word, layer ``layer``, each head and their
    mean, over the source words. One slider step per decoding step; colours fixed to [0, 1].
    The panels are stacked, so that each has the page's full width (a phone included)."""
    vocab = translator.tgt_vocab
    words = [vocab.word(i) for i in range(len(vocab))]
    source = [f"{k}:{w}" for k, w in enumerate(translator.src_vocab.tokens(
        translator.src_vocab.encode(korean), strip=False))]  # fmt: skip
    heads = [f"head {h}" for h in range(trace[0].cross_attention[layer].shape[0])] + ["mean"]
    states = [_step_state(step, translator, layer) for step in trace]
    fig = make_subplots(rows=2, cols=1, row_heights=[0.55, 0.45], vertical_spacing=0.2,
                        subplot_titles=(f"P(next word), all {len(words)} English words",
                                        "cross-attention, last layer"))  # fmt: skip
    first = states[0]
    fig.add_trace(go.Bar(x=words, y=first["probabilities"], marker=dict(color=first["colors"]),
                         hovertemplate="%{x}: %{y:.3f}<extra></extra>", showlegend=False),
                  row=1, col=1)  # fmt: skip
    fig.add_trace(go.Heatmap(z=first["cross"], x=source, y=heads, zmin=0, zmax=1,
                             colorscale=PROBABILITY_COLORSCALE,
                             colorbar=dict(thickness=12, len=0.45, y=0, yanchor="bottom"),
                             texttemplate="%{z:.2f}", textfont=dict(size=10),
                             hovertemplate="%{y}, %{x}: %{z:.3f}<extra></extra>"),
                  row=2, col=1)  # fmt: skip
    steps = [
        dict(method="update", label=f"{step.step}:{vocab.word(step.token)}", args=[
            {"x": [words, source], "y": [state["probabilities"], heads],
             "marker.color": [state["colors"], None], "z": [None, state["cross"]]},
            {"title.text": state["title"]},
        ])
        for step, state in zip(trace, states, strict=True)
    ]  # fmt: skip
    fig.update_xaxes(type="category", tickfont=dict(size=8), row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], title_text="probability", row=1, col=1)
    fig.update_xaxes(type="category", title_text="source word (key)", row=2, col=1)
    fig.update_yaxes(type="category", autorange="reversed", row=2, col=1)
    fig.update_layout(height=760, margin=dict(t=135),
                      title=dict(text=first["title"], x=0.0, y=1.0, yref="container",
                                 yanchor="top", pad=dict(t=10), font=dict(size=13)),
                      sliders=[dict(active=0, currentvalue=dict(prefix="step: "), steps=steps,
                                    pad=dict(t=70))])  # fmt: skip
    return fig


@dataclass(frozen=True)
class Recovery:
    """Forcing ``word`` at ``step`` on ``total`` sentences: how many continued as a right
    translation after the forced word, and a few examples (source, right translation,
    forced output): failures first, then one that recovered."""

    total: int
    recovered: int
    examples: list[tuple[str, str, str]]

    @property
    def rate(self) -> float:
        return self.recovered / self.total if self.total else 0.0


def forced_recovery(translator, pairs: Sequence[Pair], *, step: int, word: str, limit: int = 3):
    """Force ``word`` at ``step`` (numbered from 1) for every pair none of whose right
    translations (``Pair.right_targets``) has it there, so that the forced word is a mistake;
    an output recovered if it equals one right translation at every other position."""
    chosen = [p for p in pairs if all(len(r) >= step and r[step - 1] != word
                                      for r in p.right_targets)]  # fmt: skip
    sources = [translator.src_vocab.encode(p.source) for p in chosen]
    forced = {step: translator.tgt_vocab.id(word)}
    outputs = greedy_decode_batch(translator.model, sources, force=forced)
    recovered, failures, successes = 0, [], []
    for pair, output in zip(chosen, outputs, strict=True):
        words = tuple(translator.tgt_vocab.tokens(output))
        same = [r for r in pair.right_targets  # equal but at the forced position
                if r[: step - 1] == words[: step - 1] and r[step:] == words[step:]]  # fmt: skip
        recovered += bool(same)
        (successes if same else failures).append(
            (pair.source_text, " ".join((same or pair.right_targets)[0]), " ".join(words))
        )
    return Recovery(len(chosen), recovered, (failures[: limit - 1] + successes)[:limit])


def recovery_text(recovery: Recovery, shown: int, unforced_wrong: int) -> str:
    """Markdown: how many forced sentences failed to recover; ``shown`` of the failures were
    printed first, and greedy decoding without forcing gets ``unforced_wrong`` of those wrong."""
    failed = recovery.total - recovery.recovered
    if failed == 0:
        return "every one of them (failures would be printed first; there are none)."
    if shown == 1:
        which = "It is" if failed == 1 else "The first of them is"
        text = f"all but {failed:,}. {which} printed first; greedy decoding "
        text += (
            "gets that sentence wrong without any forcing too"
            if unforced_wrong
            else "gets that sentence right without forcing"
        )
    else:
        text = (
            f"all but {failed:,}. The first {shown} failures are printed first; greedy "
            f"decoding without any forcing gets {unforced_wrong} of them wrong too"
        )
    if shown and unforced_wrong == shown:
        text += f", so the forced word is not what breaks {'it' if shown == 1 else 'them'}"
    return text + "."


TIME_STARTS = tuple(tuple(english.split()) for _, english in TIMES)  # "yesterday", "last week"


def time_first(words: Sequence[str]) -> bool:
    """Whether an English sentence starts with a time phrase (the rich grammar's front place)."""
    return any(tuple(words[: len(time)]) == time for time in TIME_STARTS)


def fronted_times(words: Sequence[str]) -> int:
    """How many clauses of an English sentence start with their time phrase (at the start of
    the sentence or right after "and")."""
    return sum(time_first(words[k:]) for k in range(len(words)) if k == 0 or words[k - 1] == "and")


@dataclass(frozen=True)
class BeamDifference:
    """One pair where greedy decoding and beam search write different sentences."""

    index: int  # into the pairs compared
    source: str
    greedy: str
    beam: str
    greedy_right: bool  # equal to one of the pair's right translations
    beam_right: bool
    greedy_log_p: float  # log P(output <eos> | source) under the model
    beam_log_p: float


@dataclass(frozen=True)
class BeamComparison:
    """Greedy decoding and beam search on the same pairs: every output (words), how many of
    each are right (equal to any of ``Pair.right_targets``), and every pair where they differ."""

    total: int
    greedy_correct: int
    beam_correct: int
    greedy: list[tuple[str, ...]]
    beam: list[tuple[str, ...]]
    differences: list[BeamDifference]

    def count(self, *, greedy_right: bool, beam_right: bool) -> int:
        """How many differing pairs have that outcome (e.g. both right, only beam right)."""
        return sum(d.greedy_right == greedy_right and d.beam_right == beam_right
                   for d in self.differences)  # fmt: skip


def beam_vs_greedy(
    translator, pairs: Sequence[Pair], *, beam_width: int = 4, length_penalty: float = 0.0
) -> BeamComparison:
    """Greedy (batched) and the package's beam search (one sentence at a time, with GNMT's
    ``length_penalty`` alpha) on ``pairs``; where they differ, the log-probability of each."""
    model, src, tgt = translator.model, translator.src_vocab, translator.tgt_vocab
    sources = [src.encode(p.source) for p in pairs]
    greedy = [tuple(tgt.tokens(ids)) for ids in greedy_decode_batch(model, sources)]
    beam = [tuple(tgt.tokens(beam_search(model, source, beam_width=beam_width,
                                         length_penalty=length_penalty).tokens))
            for source in sources]  # fmt: skip
    right = [(g in p.right_targets, b in p.right_targets)
             for p, g, b in zip(pairs, greedy, beam, strict=True)]  # fmt: skip
    differences = [
        BeamDifference(k, pairs[k].source_text, " ".join(greedy[k]), " ".join(beam[k]), *right[k],
                       sequence_log_probability(model, sources[k], tgt.encode(greedy[k])),
                       sequence_log_probability(model, sources[k], tgt.encode(beam[k])))
        for k in range(len(pairs)) if greedy[k] != beam[k]
    ]  # fmt: skip
    return BeamComparison(len(pairs), sum(g for g, _ in right), sum(b for _, b in right),
                          greedy, beam, differences)  # fmt: skip


CLAUSE_VERBS = frozenset(
    {english for table in (MOVEMENT_VERBS, ACTIVITY_VERBS, PERSON_VERBS) for _, english in table}
    | {english for _, english, _ in OBJECT_VERBS}
    | {WATCHED}
)  # every clause of the rich grammar has exactly one of these; the 거기 / 걔 tail has none


def clause_count(words: Sequence[str]) -> int:
    """Clauses of an English sentence of the rich grammar: its verbs from the verb tables."""
    return sum(word in CLAUSE_VERBS for word in words)


def _common_prefix(a: Sequence[str], b: Sequence[str]) -> int:
    return next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                min(len(a), len(b)))  # fmt: skip


@dataclass(frozen=True)
class ClauseReport:
    """Greedy outputs of ``pairs`` against their right translations, one entry per pair. The
    reference of an output is its right translation with the longest common first part."""

    outputs: list[tuple[str, ...]]
    references: list[tuple[str, ...]]  # the right translation each output is measured against
    right: list[bool]  # equal to one of the right translations
    clauses_needed: list[int]
    clauses_written: list[int]
    output_lengths: list[int]
    reference_lengths: list[int]
    first_error: list[int | None]  # first position where output and reference differ
    error_part: list[int | None]  # 1 + the "and"s of the reference before that position


def clause_report(translator, pairs: Sequence[Pair]) -> ClauseReport:
    """Greedy decoding of ``pairs`` (one batch), measured clause by clause (see ClauseReport)."""
    sources = [translator.src_vocab.encode(p.source) for p in pairs]
    outputs = [tuple(translator.tgt_vocab.tokens(ids))
               for ids in greedy_decode_batch(translator.model, sources)]  # fmt: skip
    references = [max(p.right_targets, key=lambda r, w=w: _common_prefix(w, r))
                  for p, w in zip(pairs, outputs, strict=True)]  # fmt: skip
    right = [w in p.right_targets for p, w in zip(pairs, outputs, strict=True)]
    errors = [None if ok else _common_prefix(w, r)
              for w, r, ok in zip(outputs, references, right, strict=True)]  # fmt: skip
    return ClauseReport(
        outputs, references, right, [clause_count(r) for r in references],
        [clause_count(w) for w in outputs], [len(w) for w in outputs],
        [len(r) for r in references], errors,
        [None if k is None else 1 + r[:k].count("and") for r, k in zip(references, errors,
                                                                       strict=True)],
    )  # fmt: skip


def greedy_scores(translator, pairs: Sequence[Pair]) -> tuple[list[list[int]], list[float]]:
    """Greedy outputs (ids) for ``pairs`` in one batched pass, and each output's mean
    log-probability per word (with <eos>) from one teacher-forced pass over the outputs."""
    import torch

    from minitransformer.decoding import inference_mode
    from minitransformer.tokens import SOS_ID, pad_sequences

    sources = [translator.src_vocab.encode(p.source) for p in pairs]
    outputs = greedy_decode_batch(translator.model, sources)
    targets = [[SOS_ID, *output, EOS_ID] for output in outputs]
    source, target = pad_sequences(sources), pad_sequences(targets)
    with inference_mode(translator.model):
        logits = translator.model(source, target[:, :-1]).logits  # (B, T, V)
    labels = target[:, 1:]
    log_probs = torch.log_softmax(logits.float(), -1).gather(-1, labels[..., None])[..., 0]
    real = labels != 0
    per_word = (log_probs * real).sum(1) / real.sum(1)  # (B,)
    return outputs, per_word.tolist()


def least_confident(pairs: Sequence[Pair], scores: Sequence[float], count: int) -> list[Pair]:
    """The ``count`` pairs with the lowest scores (e.g. from :func:`greedy_scores`)."""
    order = sorted(range(len(pairs)), key=lambda k: scores[k])[:count]
    return [pairs[k] for k in order]


def translate_with_message(translator, korean: str) -> tuple[str, str]:
    """(English, message). The message names words the model has never seen (they are read as
    <unk>) or says why nothing could be translated; it is empty when all is well."""
    words = korean.split()
    if not words:
        return "", "Type a Korean sentence, words separated by spaces."
    unknown = translator.unknown_words(words)
    english = translator.translate(words)
    if not unknown:
        return english, ""
    known = sorted(w for w in translator.src_vocab.itos if not w.startswith("<"))
    return english, (
        f"Not in the model's vocabulary: {', '.join(dict.fromkeys(unknown))}. These words are "
        f"read as <unk>, so the translation can only guess around them. The model knows "
        f"{len(known)} Korean words, e.g. {' '.join(known[:12])} ..."
    )


def live_translator(translator, sentence: str = "어제 카페 갔었어 거기 사람 많더라"):
    """A text box: the greedy translation, a message about unknown words, and the last layer's
    encoder-decoder attention (mean over heads) of the translation. Needs a kernel."""
    import ipywidgets as widgets

    from minitransformer.viz.live import _live_only_class, live_view
    from minitransformer.viz.live_html import heatmap_html

    text = widgets.Text(value=sentence, description="Korean", continuous_update=False,
                        layout=widgets.Layout(width="95%"))  # fmt: skip
    english, message, output = widgets.HTML(), widgets.HTML(), live_view()

    def redraw(*_):
        translation, note = translate_with_message(translator, text.value)
        english.value = f"<b>English:</b> {html.escape(translation) or '–'}"
        message.value = f"<span style='color:#b00'>{html.escape(note)}</span>" if note else ""
        output.value = ""
        if translation or text.value.split():
            maps = translator.attention(text.value.split(), translation.split())
            weights = maps.cross[-1].mean(0)  # (T, S)
            output.value = heatmap_html(weights, maps.output_tokens, maps.source_tokens,
                                        title="encoder-decoder attention, last layer")  # fmt: skip

    text.observe(redraw, names="value")
    redraw()
    return _live_only_class()(
        [text, english, message, output],
        what="Type a Korean sentence and read its translation and attention.",
    )


def eos_probability(trace: Sequence[TraceStep]) -> list[float]:
    """P(<eos>) at every step of a trace: decoding stops when it wins."""
    return [float(step.probabilities[EOS_ID]) for step in trace]


def cached_logit_difference(model, sources: Sequence[Sequence[int]], targets) -> float:
    """The largest |cached - uncached| logit over every real position of teacher-forced decoding:
    ``decode`` on the whole decoder inputs (<sos> y_1 ... y_n, padded into one batch) against
    ``decode_step`` fed one position at a time. targets: id lists with <sos> and <eos>."""
    source = pad_sequences(sources)  # (B, S)
    decoder_input = pad_sequences([target[:-1] for target in targets])  # (B, T)
    with inference_mode(model):
        encoded = model.encode(source)
        uncached = model.decode(decoder_input, encoded).logits  # (B, T, V)
        cache, steps = model.start_cache(encoded), []
        for t in range(decoder_input.size(1)):
            decoded, cache = model.decode_step(decoder_input[:, t : t + 1], cache)
            steps.append(decoded.logits)  # (B, 1, V)
    difference = (torch.cat(steps, dim=1) - uncached).abs().amax(dim=-1)  # (B, T)
    return float(difference[decoder_input != PAD_ID].max())


@dataclass(frozen=True)
class StepTimes:
    """Median CPU seconds of one greedy decoding step at each prefix length t, for a batch."""

    lengths: list[int]  # t: words in the decoder input at that step (<sos> included)
    cached: list[float]  # decode_step on the last word, with t - 1 positions cached
    uncached: list[float]  # decode on the whole prefix of t positions
    batch: int
    repeats: int

    @property
    def speedups(self) -> list[float]:
        """uncached / cached at each length."""
        return [u / c for u, c in zip(self.uncached, self.cached, strict=True)]


def step_times(model, sources: Sequence[Sequence[int]], lengths: Sequence[int], *,
               repeats: int = 15, seed: int = 0) -> StepTimes:  # fmt: skip
    """Time the decoder's work for the next word at prefix length t (each of ``lengths``):
    uncached, ``decode`` re-reads all t positions; cached, ``decode_step`` reads the last word
    and the keys and values of the t - 1 before it. The two run interleaved, ``repeats`` times
    (after one untimed round), and each figure is the median CPU time of the process (with one
    torch thread, the step's own work, whatever else shares the core). Random prefix words."""
    generator = torch.Generator().manual_seed(seed)
    source = pad_sequences(sources)  # (B, S)
    B, cached, uncached = source.size(0), [], []
    with inference_mode(model):
        encoded = model.encode(source)
        for t in lengths:
            prefix = torch.randint(4, model.config.tgt_vocab_size, (B, t), generator=generator)
            prefix[:, 0] = SOS_ID
            start = model.start_cache(encoded)
            _, cache = model.decode_step(prefix[:, :-1], start) if t > 1 else (None, start)
            runs = {
                "cached": lambda: model.decode_step(prefix[:, -1:], cache),  # noqa: B023
                "uncached": lambda: model.decode(prefix, encoded),  # noqa: B023
            }
            samples = {name: [] for name in runs}
            for repeat in range(repeats + 1):
                for name, run in runs.items():
                    begin = time.process_time()  # CPU time: not the time other jobs hold the core
                    run()
                    if repeat:
                        samples[name].append(time.process_time() - begin)
            cached.append(statistics.median(samples["cached"]))
            uncached.append(statistics.median(samples["uncached"]))
    return StepTimes(list(lengths), cached, uncached, B, repeats)


def step_time_figure(times: StepTimes):
    """Top: milliseconds of one decoding step against the prefix length, with and without the
    cache. Bottom: the speed-up, uncached / cached."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=(f"one decoding step, batch of {times.batch}",
                                        "speed-up (uncached / cached)"))  # fmt: skip
    for name, values, dash in (("without cache", times.uncached, "solid"),
                               ("with key/value cache", times.cached, "dash")):  # fmt: skip
        fig.add_trace(go.Scatter(x=times.lengths, y=[1e3 * v for v in values], name=name,
                                 mode="lines+markers", line=dict(dash=dash),
                                 hovertemplate="t = %{x}: %{y:.2f} ms<extra></extra>"),
                      row=1, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=times.lengths, y=times.speedups, mode="lines+markers+text",
                             text=[f"{s:.1f}x" for s in times.speedups],
                             # neighbours' labels on opposite sides: short prefixes lie close
                             textposition=["bottom right" if k % 2 == 0 else "top left"
                                           for k in range(len(times.speedups))],
                             showlegend=False, hovertemplate="t = %{x}: %{y:.2f}x<extra></extra>"),
                  row=2, col=1)  # fmt: skip
    fig.update_yaxes(title_text="CPU ms per step", rangemode="tozero", row=1, col=1)
    top = max(times.speedups, default=1.0)
    fig.update_yaxes(title_text="speed-up", range=[0, 1.15 * top], row=2, col=1)
    fig.update_xaxes(range=[0, 1.08 * max(times.lengths, default=1)])
    fig.update_xaxes(title_text="prefix length t (words in the decoder input)", row=2, col=1)
    fig.update_layout(height=560, legend=dict(orientation="h", y=1.12, x=0))
    return fig


__all__ = [
    "CLAUSE_VERBS",
    "BeamComparison",
    "BeamDifference",
    "ClauseReport",
    "Recovery",
    "StepTimes",
    "beam_vs_greedy",
    "cached_logit_difference",
    "clause_count",
    "clause_report",
    "eos_probability",
    "forced_recovery",
    "fronted_times",
    "greedy_scores",
    "least_confident",
    "live_translator",
    "recovery_text",
    "step_time_figure",
    "step_times",
    "time_first",
    "trace_figure",
    "translate_with_message",
]
