"""ipywidgets explorers: they need a running Python kernel (Jupyter, Binder, live code).

In the static HTML they must not look alive. Each explorer is a :class:`LiveOnly` box whose
``_repr_mimebundle_`` adds a ``text/html`` note beside the widget view; the book build drops
the widget view (``nb_mime_priority_overrides`` in ``_config.yml``), so the page shows the note,
while Jupyter, VS Code and Thebe render the widget. Put a static plotly figure carrying the same
interaction beside every explorer.

An explorer reads attention through a duck-typed callable, so any model plugs in::

    attend(sentence: str) -> AttentionView | Mapping[str, AttentionView]

:func:`random_self_attention` (a seeded, untrained ``MultiHeadAttention``) and
:func:`transformer_attention` (any ``Transformer`` plus its vocabularies, optionally a
``translate`` function for the target side) and :func:`translator_attention` (a trained
translator, e.g. ``minitransformer.load_pretrained()``) build such callables.
"""

from __future__ import annotations

import contextlib
import html
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from minitransformer.viz._style import figure_png
from minitransformer.viz.live_html import curves_svg, heatmap_html
from minitransformer.viz.static import as_array

LIVE_NOTE = (
    "<div class='live-only-note' data-live-only='true'><strong>Live explorer — needs a running "
    "Python kernel.</strong> {what} It runs in Jupyter and on Binder, and in the published "
    "book with <em>Live Code</em> from the launch menu (rocket icon) at the top of the page; "
    "with no kernel behind it only this note is shown (in Jupyter: run the cell). The static "
    "figure beside it carries the same interaction.</div>"
)


@dataclass(frozen=True)
class AttentionView:
    """Attention maps of one kind for one sentence: weights (N, H, T, S) and the tokens."""

    query_tokens: list[str]
    key_tokens: list[str]
    weights: np.ndarray  # (N, H, T, S): layers, heads, queries, keys

    def __post_init__(self) -> None:
        weights = as_array(self.weights, 4, "weights")
        object.__setattr__(self, "weights", weights)
        N, H, T, S = weights.shape
        if (T, S) != (len(self.query_tokens), len(self.key_tokens)):
            raise ValueError(
                f"weights (N, H, T, S) = {weights.shape} do not match {len(self.query_tokens)} "
                f"query and {len(self.key_tokens)} key tokens"
            )


AttendFn = Callable[[str], "AttentionView | Mapping[str, AttentionView]"]


def _views(result: AttentionView | Mapping[str, AttentionView]) -> dict[str, AttentionView]:
    if isinstance(result, AttentionView):
        return {"attention": result}
    views = dict(result)
    if not views or not all(isinstance(v, AttentionView) for v in views.values()):
        raise TypeError("attend(sentence) must return an AttentionView or a dict of them")
    return views


def _widgets():
    import ipywidgets

    return ipywidgets


def _live_only_class():
    widgets = _widgets()

    class LiveOnly(widgets.VBox):
        """A VBox that, where no widget can render, shows a note saying it needs a kernel."""

        def __init__(self, children, *, what: str = "", **kwargs):
            super().__init__(children, **kwargs)
            self._live_note = LIVE_NOTE.format(what=html.escape(what))
            self.add_class("live-explorer")  # found by the JupyterLab test and benchmark

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs) or {}
            bundle["text/html"] = self._live_note
            bundle["text/plain"] = "Live explorer: needs Jupyter, Binder or Live Code."
            return bundle

    return LiveOnly


def live_only(children: Sequence[Any], *, what: str = ""):
    """Wrap ipywidgets ``children`` in a box that, in the static HTML, shows the "needs a
    kernel" note instead (``what``: one sentence on what the reader can do with it). Use it for
    any explorer not built by a ``live_*`` helper."""
    return _live_only_class()(list(children), what=what)


def show_figure(output: Any, fig: Any) -> None:
    """Replace the contents of an ``ipywidgets.Output`` with a matplotlib Figure (as PNG)."""
    _show_png(output, fig)


def live_note_html(what: str = "") -> str:
    """The note a live-only cell shows in the static HTML (also usable on its own)."""
    return LIVE_NOTE.format(what=html.escape(what))


def live_view():
    """The HTML view an explorer redraws by replacing its ``value`` (see
    :mod:`minitransformer.viz.live_html`)."""
    view = _widgets().HTML()
    view.add_class("live-output")
    return view


def _show_png(output, fig) -> None:
    from IPython.display import Image, display

    output.clear_output(wait=True)
    with output:
        display(Image(data=figure_png(fig)))


@contextlib.contextmanager
def _quiet(state: dict):
    """While controls are set together, their observers skip drawing (``state["quiet"]``)."""
    state["quiet"] = True
    try:
        yield
    finally:
        state["quiet"] = False


def _unknown_note(attend: AttendFn, sentence: str) -> str:
    """A line naming the words the model read as <unk>, if ``attend`` can tell
    (``attend.unknown_words(sentence)``, set by :func:`transformer_attention`)."""
    unknown_words = getattr(attend, "unknown_words", None)
    unknown = unknown_words(sentence) if callable(unknown_words) else []
    if not unknown:
        return ""
    words = ", ".join(dict.fromkeys(unknown))
    return (
        f"<span style='color:#b00'>Not in the model's vocabulary, read as &lt;unk&gt;: "
        f"{html.escape(words)}</span>"
    )


def live_attention_explorer(
    attend: AttendFn,
    sentence: str = "어제 카페 갔었어 거기 사람 많더라",
    *,
    title: str = "",
):
    """Type a sentence, pick the kind of attention, the layer and the head (or their mean).

    ``attend(sentence)`` returns an :class:`AttentionView` or a dict ``name -> AttentionView``
    (e.g. encoder self-attention, masked decoder self-attention, cross-attention).
    Returns a widget box; display it as the last line of a cell.
    """
    widgets = _widgets()
    text = widgets.Text(value=sentence, description="sentence", continuous_update=False,
                        layout=widgets.Layout(width="95%"))  # fmt: skip
    kind = widgets.Dropdown(description="attention")
    layer = widgets.IntSlider(description="layer", min=0, max=0)
    head = widgets.IntSlider(description="head", min=0, max=0)
    mean = widgets.Checkbox(description="mean over heads", value=False)
    message = widgets.HTML()
    output = live_view()
    state: dict[str, Any] = {"views": {}, "quiet": False}

    def redraw(change=None):
        views = state["views"]
        if state["quiet"] or not views or kind.value not in views:
            return  # quiet: controls being set together, drawn once afterwards
        if mean.value and change is not None and change.get("owner") is head:
            return  # the mean of the heads does not depend on the head slider
        view = views[kind.value]
        with _quiet(state):  # a smaller max may move a slider: no second drawing for that
            head.disabled = mean.value
            layer.max, head.max = view.weights.shape[0] - 1, view.weights.shape[1] - 1
        weights = view.weights[layer.value]
        weights = weights.mean(axis=0) if mean.value else weights[head.value]
        which = "mean of heads" if mean.value else f"head {head.value}"
        heading = title or f"{kind.value}\nlayer {layer.value}, {which}"  # fits one-word input
        output.value = heatmap_html(weights, view.query_tokens, view.key_tokens, title=heading)

    def recompute(*_):
        try:
            state["views"] = _views(attend(text.value))
        except (ValueError, KeyError, TypeError) as error:
            message.value = f"<span style='color:#b00'>{html.escape(str(error))}</span>"
            state["views"] = {}
            output.value = ""  # no stale heatmap of the previous sentence
            return
        message.value = _unknown_note(attend, text.value)
        names = list(state["views"])
        with _quiet(state):
            if tuple(kind.options) != tuple(names):
                kind.options = names
            if kind.value not in names:
                kind.value = names[0]
        redraw()

    text.observe(recompute, names="value")
    for control in (kind, layer, head, mean):
        control.observe(redraw, names="value")
    recompute()
    LiveOnly = _live_only_class()
    controls = widgets.HBox([kind, layer, head, mean], layout=widgets.Layout(flex_flow="wrap"))
    return LiveOnly(
        [text, controls, message, output],
        what="Type any sentence and pick the attention kind, layer and head.",
    )


def live_positional_explorer(d_model: int = 64, length: int = 50):
    """Sliders for D (d_model), the sequence length and two dimensions of the encoding."""
    widgets = _widgets()
    d_slider = widgets.IntSlider(description="D", min=4, max=512, step=4, value=d_model)
    length_slider = widgets.IntSlider(description="length", min=10, max=200, value=length)
    dim_a = widgets.IntSlider(description="dim i", min=0, max=d_model - 1, value=0)
    dim_b = widgets.IntSlider(description="dim j", min=0, max=d_model - 1, value=d_model // 2)
    output = live_view()
    state = {"quiet": False}

    def redraw(*_):
        from minitransformer.positional import sinusoidal_encoding

        if state["quiet"]:
            return
        with _quiet(state):  # a smaller D moves the dimension sliders: draw once, below
            dim_a.max = dim_b.max = d_slider.value - 1
        D = d_slider.value
        table = sinusoidal_encoding(length_slider.value, D).numpy()
        curves = {f"i = {i} ({'sin' if i % 2 == 0 else 'cos'})": table[:, i]
                  for i in dict.fromkeys((dim_a.value, dim_b.value))}  # fmt: skip
        output.value = curves_svg(curves, title=f"positional encoding curves, D = {D}",
                                  xlabel="position pos")  # fmt: skip

    for control in (d_slider, length_slider, dim_a, dim_b):
        control.observe(redraw, names="value")
    redraw()
    LiveOnly = _live_only_class()
    return LiveOnly(
        [widgets.HBox([d_slider, length_slider]), widgets.HBox([dim_a, dim_b]), output],
        what="Change D, the length and the two dimensions drawn.",
    )


def _word_vector(word: str, d_model: int, seed: int) -> np.ndarray:
    """A fixed pseudo-random embedding per word (the same word gets the same vector)."""
    rng = np.random.default_rng([seed, zlib.crc32(word.encode("utf-8"))])
    return rng.standard_normal(d_model)


def random_self_attention(
    d_model: int = 32, num_heads: int = 4, num_layers: int = 1, seed: int = 0
) -> Callable[[str], AttentionView]:
    """attend(sentence) for an untrained, seeded ``MultiHeadAttention`` per layer.

    Each word gets a fixed pseudo-random embedding (scaled by sqrt(D), as in the paper) plus
    the sinusoidal positional encoding; each layer is self-attention over the previous layer's
    output. The maps mean nothing linguistically: they show the mechanics only.
    """
    import torch

    from minitransformer.attention import MultiHeadAttention
    from minitransformer.positional import sinusoidal_encoding

    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    layers = [MultiHeadAttention(d_model, num_heads).eval() for _ in range(num_layers)]
    torch.random.set_rng_state(generator_state)

    def attend(sentence: str) -> AttentionView:
        words = sentence.split()
        if not words:
            raise ValueError("type at least one word")
        embeddings = np.stack([_word_vector(w, d_model, seed) for w in words])
        x = torch.tensor(embeddings, dtype=torch.float32)[None] * d_model**0.5  # (1, S, D)
        x = x + sinusoidal_encoding(len(words), d_model)[None]
        maps = []
        with torch.no_grad():
            for attention in layers:
                x, weights = attention(x, x, x, return_attention=True)  # (1, S, D), (1, H, S, S)
                maps.append(weights[0])
        return AttentionView(words, words, torch.stack(maps).numpy())  # (N, H, S, S)

    return attend


def transformer_attention(
    model: Any,
    src_vocab: Any,
    tgt_vocab: Any,
    translate: Callable[[str], str] | None = None,
) -> Callable[[str], dict[str, AttentionView]]:
    """attend(sentence) for an encoder-decoder ``Transformer`` and its two vocabularies.

    Without ``translate`` only the encoder self-attention is shown. With it, the sentence is
    translated first and the translation is fed to the decoder (after ``<sos>``), which adds the
    masked decoder self-attention and the cross-attention. Decoder rows are labelled with the
    token each position is *fed* (``<sos>``, then the translation): the row of ``<sos>`` is the
    one that predicts the first English word.
    """
    import torch

    from minitransformer.tokens import normalize_text

    def attend(sentence: str) -> dict[str, AttentionView]:
        src_ids = src_vocab.encode(normalize_text(sentence))
        if not src_ids:
            raise ValueError("type at least one word")
        src_tokens = [src_vocab.word(i) for i in src_ids]
        target = translate(sentence) if translate is not None else ""
        tgt_ids = tgt_vocab.encode(target, add_sos=True)
        tgt_tokens = [tgt_vocab.word(i) for i in tgt_ids]
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                out = model(torch.tensor([src_ids]), torch.tensor([tgt_ids]),
                            return_attention=True)  # fmt: skip
        finally:
            model.train(was_training)
        maps = out.attention
        views = {
            "encoder self-attention": AttentionView(
                src_tokens, src_tokens, torch.stack([m[0] for m in maps.encoder]).numpy()
            )
        }
        if translate is not None:
            views["decoder self-attention (masked)"] = AttentionView(
                tgt_tokens, tgt_tokens, torch.stack([m[0] for m in maps.decoder_self]).numpy()
            )
            views["cross-attention"] = AttentionView(
                tgt_tokens, src_tokens, torch.stack([m[0] for m in maps.cross]).numpy()
            )
        return views

    attend.unknown_words = lambda sentence: (
        src_vocab.encode_checked(  # type: ignore[attr-defined]
            normalize_text(sentence)
        ).unknown
    )
    return attend


def translator_attention(translator: Any) -> Callable[[str], dict[str, AttentionView]]:
    """attend(sentence) for a translator (``minitransformer.load_pretrained()`` or anything with
    ``.model``, ``.src_vocab``, ``.tgt_vocab`` and ``.translate(str) -> str``): the sentence is
    translated, then all three kinds of attention are read from one forward pass."""
    return transformer_attention(
        translator.model, translator.src_vocab, translator.tgt_vocab, translate=translator.translate
    )


def attention_states(
    view: AttentionView, *, mean_label: str | None = "mean"
) -> tuple[list[np.ndarray], list[str]]:
    """Every (layer, head) map of a view as ``slider_heatmap`` states and labels.

    Use it to pair a live explorer with a static figure carrying the same interaction::

        states, labels = attention_states(view)
        slider_heatmap(states, labels, view.key_tokens, view.query_tokens)
    """
    states, labels = [], []
    N, H = view.weights.shape[:2]
    for layer in range(N):
        for head in range(H):
            states.append(view.weights[layer, head])
            labels.append(f"L{layer} H{head}")
        if mean_label is not None:
            states.append(view.weights[layer].mean(axis=0))
            labels.append(f"L{layer} {mean_label}")
    return states, labels


__all__: Sequence[str] = [
    "AttentionView",
    "attention_states",
    "live_attention_explorer",
    "live_note_html",
    "live_only",
    "live_positional_explorer",
    "live_view",
    "random_self_attention",
    "show_figure",
    "transformer_attention",
    "translator_attention",
]
