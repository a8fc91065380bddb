"""Chapter 9: training one token at a time, on the notes' own sentence.

- :func:`next_word_probabilities`: the decoder's probability vector over the whole target
  vocabulary at every position of a teacher-forced pass.
- :func:`walk_through`: the notes' steps 1, 2, 3 ("I", "went", "to"): at each step the gold
  prefix goes in, one gradient step raises the correct word's probability, and the vector
  before and after the update is kept.
- :class:`CorrectTokenRecorder`: a ``train()`` callback that records P(correct word) at every
  position of one sentence, and the teacher-forced accuracy on held-out pairs.
- :func:`update_figure`, :func:`correct_probability_slider`: plotly figures with sliders;
  :func:`probability_colors` colours probabilities (viridis, fixed [0, 1]) as strings.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import plotly.graph_objects as go
import torch
import torch.nn.functional as F
from plotly.colors import sample_colorscale
from torch import Tensor, nn

from minitransformer.data import EncodedPairs
from minitransformer.decoding import inference_mode
from minitransformer.tokens import PAD_ID, SOS_ID, Vocab, pad_sequences
from minitransformer.viz._style import PROBABILITY_COLORSCALE


def next_word_probabilities(
    model: nn.Module, source_ids: Sequence[int], decoder_input: Sequence[int]
):
    """Softmax of the logits at every decoder position, shape (T, V): row t is the model's
    distribution for the word that follows decoder_input[: t + 1]."""
    with inference_mode(model):
        logits = model(torch.tensor([list(source_ids)]), torch.tensor([list(decoder_input)])).logits
    return torch.softmax(logits[0].float(), dim=-1)  # (T, V)


@dataclass(frozen=True)
class UpdateStep:
    """One step of the walk-through: the decoder input (gold prefix), the word to predict, and
    the probability vector (V,) over the target vocabulary before and after one update."""

    step: int
    decoder_input: list[int]
    target: int
    before: Tensor
    after: Tensor

    @property
    def raised(self) -> float:
        """P(target) after minus before."""
        return float(self.after[self.target] - self.before[self.target])

    @property
    def others_lowered(self) -> float:
        """Share of the other words whose probability went down."""
        others = torch.ones_like(self.before, dtype=torch.bool)
        others[self.target] = False
        return float((self.after[others] < self.before[others]).float().mean())


def walk_through(
    model: nn.Module,
    source_ids: Sequence[int],
    target_ids: Sequence[int],
    *,
    steps: int = 3,
    learning_rate: float = 0.05,
    sos_id: int = SOS_ID,
) -> list[UpdateStep]:
    """The notes' walk-through on a copy of ``model`` (the model itself is not changed).

    Step k feeds the gold prefix <sos> y_1 ... y_{k-1} (teacher forcing), computes the
    cross-entropy of y_k at the last position only, and takes one plain gradient step
    (SGD, ``learning_rate``) on every parameter. Dropout is off throughout.
    """
    model = copy.deepcopy(model).eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    source = torch.tensor([list(source_ids)])
    records = []
    for step in range(1, steps + 1):
        prefix = [sos_id, *target_ids[: step - 1]]
        target = int(target_ids[step - 1])
        before = next_word_probabilities(model, source_ids, prefix)[-1]
        logits = model(source, torch.tensor([prefix])).logits[0, -1]  # (V,)
        loss = F.cross_entropy(logits[None], torch.tensor([target]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        after = next_word_probabilities(model, source_ids, prefix)[-1]
        records.append(UpdateStep(step, prefix, target, before, after))
    return records


def teacher_forced_accuracy(model: nn.Module, data: EncodedPairs, *, pad_id: int = PAD_ID):
    """(accuracy, loss): share of gold next words that are the argmax with the gold prefix
    fed in, and the mean cross-entropy, over every non-padding position of ``data``."""
    source = pad_sequences(data.source, pad_id=pad_id)
    target = pad_sequences(data.target, pad_id=pad_id)
    decoder_input, labels = target[:, :-1], target[:, 1:]
    with inference_mode(model):
        logits = model(source, decoder_input).logits  # (B, T, V)
    real = labels != pad_id
    correct = (logits.argmax(-1) == labels) & real
    loss = F.cross_entropy(logits[real].float(), labels[real])
    return float(correct.sum() / real.sum()), float(loss)


@dataclass
class CorrectTokenRecorder:
    """A ``train(callback=...)``: at each call, P(gold word) at every position of one sentence
    (teacher forcing), and the held-out teacher-forced accuracy and loss."""

    source_ids: list[int]
    target_ids: list[int]  # <sos> y_1 ... y_m <eos>
    held_out: EncodedPairs | None = None
    steps: list[int] = field(default_factory=list)
    correct_probability: list[np.ndarray] = field(default_factory=list)  # each (m + 1,)
    held_out_accuracy: list[float] = field(default_factory=list)
    held_out_loss: list[float] = field(default_factory=list)

    def __call__(self, step: int, model: nn.Module, history: object) -> None:
        probabilities = next_word_probabilities(model, self.source_ids, self.target_ids[:-1])
        gold = torch.tensor(self.target_ids[1:])
        self.steps.append(step)
        self.correct_probability.append(probabilities[torch.arange(len(gold)), gold].numpy())
        if self.held_out is not None:
            accuracy, loss = teacher_forced_accuracy(model, self.held_out)
            self.held_out_accuracy.append(accuracy)
            self.held_out_loss.append(loss)


def update_figure(records: Sequence[UpdateStep], vocab: Vocab) -> go.Figure:
    """The probability of every target word before and after each update; a slider picks the
    step. The correct word is marked; the y axis is log scale so small changes show."""
    words = [vocab.word(i) for i in range(len(vocab))]

    def traces(record: UpdateStep):
        before, after = record.before.numpy(), record.after.numpy()
        return [np.round(before, 6).tolist(), np.round(after, 6).tolist(),
                [float(before[record.target])], [float(after[record.target])]], [
            None, None, [f"{words[record.target]}"], [f"{words[record.target]}"]]  # fmt: skip

    ys, _ = traces(records[0])
    fig = go.Figure([
        go.Bar(x=words, y=ys[0], name="before the update", marker_color="#999999"),
        go.Bar(x=words, y=ys[1], name="after one update", marker_color="#0072B2"),
        go.Scatter(x=[words[records[0].target]], y=ys[3], mode="markers+text", text=[
            words[records[0].target]], textposition="top center", name="correct word",
            marker=dict(symbol="star", size=14, color="#E69F00")),
    ])  # fmt: skip
    steps = []
    for record in records:
        ys, _ = traces(record)
        word = words[record.target]
        steps.append(dict(method="restyle", label=f"{record.step}: {word}", args=[
            {"y": [ys[0], ys[1], ys[3]], "x": [words, words, [word]], "text": [None, None, [word]]}
        ]))  # fmt: skip
    fig.update_layout(
        barmode="group", height=460, bargap=0.1, legend=dict(orientation="h", y=1.1),
        xaxis=dict(title=f"every word of the target vocabulary (V = {len(words)})",
                   type="category", tickfont=dict(size=9)),
        yaxis=dict(title="probability (log scale)", type="log", range=[-3.5, 0]),
        sliders=[dict(active=0, currentvalue=dict(prefix="step: "), steps=steps, pad=dict(t=90))],
    )  # fmt: skip
    return fig


def probability_colors(values: Sequence[float]) -> list[str]:
    """Viridis colours for probabilities on the fixed range [0, 1], as colour strings.

    Plotly bar charts given numbers as ``marker.color`` log "Invalid color specifier" for
    every bar in the browser, even with a colour scale; strings draw the same bars silently.
    """
    clipped = np.clip(np.asarray(values, dtype=float), 0.0, 1.0)
    return sample_colorscale(PROBABILITY_COLORSCALE, clipped.tolist())


def probability_colorbar(x=None, y=None, **colorbar) -> go.Scatter:
    """A trace that only draws the colour bar of :func:`probability_colors`: two transparent
    markers at ``(x, y)`` (one place, e.g. a point on a line already drawn), or none."""
    return go.Scatter(
        x=[x, x], y=[y, y], mode="markers", showlegend=False, hoverinfo="skip",
        marker=dict(color=[0.0, 1.0], colorscale=PROBABILITY_COLORSCALE, cmin=0, cmax=1,
                    opacity=0, showscale=True, colorbar=dict(thickness=12, **colorbar)),
    )  # fmt: skip


def correct_probability_slider(recorder: CorrectTokenRecorder, vocab: Vocab) -> go.Figure:
    """Bars of P(gold word) at each target position, one slider step per recorded training
    step; the dashed line is the uniform 1 / V (named in the legend, so that no label sits on
    the bars). Colours fixed to [0, 1]."""
    words = [f"{t}:{vocab.word(i)}" for t, i in enumerate(recorder.target_ids[1:])]
    uniform = 1.0 / len(vocab)

    def bar(values: np.ndarray) -> dict:
        rounded = np.round(values, 4).tolist()
        return dict(y=rounded, colors=probability_colors(rounded),
                    text=[f"{v:.2f}" for v in values])  # fmt: skip

    first = bar(recorder.correct_probability[0])
    fig = go.Figure([
        go.Bar(x=words, y=first["y"], text=first["text"], textposition="outside",
               marker=dict(color=first["colors"]), showlegend=False,
               hovertemplate="%{x}: P = %{y:.3f}<extra></extra>"),
        go.Scatter(x=[words[0], words[-1]], y=[uniform, uniform], mode="lines",
                   line=dict(dash="dash", color="#777777"), hoverinfo="skip",
                   name=f"uniform 1/V = {uniform:.3f}"),  # named in the legend, not on the bars
        probability_colorbar(words[0], uniform, title="P"),
    ])  # fmt: skip
    steps = []
    for step, values in zip(recorder.steps, recorder.correct_probability, strict=True):
        state = bar(values)
        steps.append(dict(method="restyle", label=str(step), args=[
            {"y": [state["y"]], "marker.color": [state["colors"]], "text": [state["text"]]}, [0]
        ]))  # fmt: skip
    fig.update_layout(
        height=500, yaxis=dict(title="P(correct word)", range=[0, 1.12]),
        xaxis=dict(title="target position: the word it must predict", type="category"),
        legend=dict(orientation="h", x=0, y=1.02, yanchor="bottom"),
        sliders=[dict(active=0, currentvalue=dict(prefix="training step: "), steps=steps,
                      pad=dict(t=140))],  # below the axis title, even with upright tick labels
    )  # fmt: skip
    return fig


__all__ = [
    "CorrectTokenRecorder",
    "UpdateStep",
    "correct_probability_slider",
    "next_word_probabilities",
    "probability_colorbar",
    "probability_colors",
    "teacher_forced_accuracy",
    "update_figure",
    "walk_through",
]
