"""Chapter 8: the Transformer block, residual + LayerNorm across depth, parameter counts, and
the package's model set equal to ``torch.nn.Transformer``.

- :func:`parameter_breakdown` counts the parameters of a config in closed form, by component;
  :func:`counted_parameters` builds the model on the meta device (shapes only) and counts.
- :func:`depth_profile` stacks encoder layers wired four ways (post-LN, pre-LN, residual
  without LayerNorm, neither) and records the size of the activations and of the gradients at
  every depth.
- :func:`torch_twin` builds ``torch.nn.Transformer`` with a model's weights copied in.
- :func:`block_diagram` draws an encoder and a decoder layer from their own submodules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor, nn

from minitransformer import torch_reference
from minitransformer.attention import MultiHeadAttention
from minitransformer.config import TransformerConfig
from minitransformer.layers import DecoderLayer, EncoderLayer, FeedForward
from minitransformer.model import Transformer

# -- parameter counts ---------------------------------------------------------------------------

COMPONENTS = (
    "embeddings",
    "output projection",
    "attention",
    "feed-forward",
    "LayerNorm",
    "learned positions",
)


def parameter_breakdown(config: TransformerConfig) -> dict[str, int]:
    """Parameters of ``Transformer(config)`` by component, written out from the architecture.

    attention sublayer = 4 (D^2 + D) (W_Q, W_K, W_V, W_O and biases); N of them in the encoder,
    2N in the decoder. feed-forward = D F + F + F D + D, 2N of them. LayerNorm = 2 D each:
    2N + 3N, plus 2 final norms with pre-LN. Embeddings V_src D + V_tgt D (one table when
    shared); output projection D V_tgt + V_tgt (0 when tied to the target embedding).
    """
    D, F, N = config.d_model, config.d_ff, config.num_layers
    embeddings = config.src_vocab_size * D
    if not config.share_embeddings:
        embeddings += config.tgt_vocab_size * D
    norms = 5 * N + (2 if config.norm_first else 0)
    return {
        "embeddings": embeddings,
        "output projection": 0 if config.tie_output else (D + 1) * config.tgt_vocab_size,
        "attention": 3 * N * 4 * (D * D + D),
        "feed-forward": 2 * N * (2 * D * F + F + D),
        "LayerNorm": norms * 2 * D,
        "learned positions": 2 * config.max_len * D if config.positional == "learned" else 0,
    }


def counted_parameters(config: TransformerConfig) -> int:
    """``Transformer(config).num_parameters()``, built on the meta device (no memory used)."""
    with torch.device("meta"):
        return Transformer(config).num_parameters()


# -- residual + LayerNorm across depth ----------------------------------------------------------

WIRINGS = ("post-LN", "pre-LN", "residual, no LayerNorm", "neither")


class _Sublayers(nn.Module):
    """An encoder layer's two sublayers with a chosen wiring of residual and LayerNorm."""

    def __init__(self, layer: EncoderLayer, wiring: str) -> None:
        super().__init__()
        self.layer, self.wiring = layer, wiring

    def forward(self, x: Tensor) -> Tensor:
        if self.wiring in ("post-LN", "pre-LN"):
            return self.layer(x)[0]  # the package's own layer, norm_first set at build time
        attention = self.layer.self_attention
        feed_forward = self.layer.feed_forward
        residual = self.wiring == "residual, no LayerNorm"
        h = attention(x, x, x)[0]
        x = x + h if residual else h
        h = feed_forward(x)
        return x + h if residual else h


def untrained_layers(
    depth: int, d_model: int, num_heads: int, d_ff: int, *, seed: int, norm_first: bool = False
) -> list[EncoderLayer]:
    """``depth`` freshly initialised encoder layers (no dropout): each layer draws its own
    random weights, and the same seed gives the same list whatever ``norm_first`` is."""
    torch.manual_seed(seed)
    return [EncoderLayer(d_model, num_heads, d_ff, 0.0, norm_first=norm_first)
            for _ in range(depth)]  # fmt: skip


@dataclass(frozen=True)
class DepthProfile:
    """activation[w][k]: RMS of the residual stream after layer k; gradient[w][k]: norm of the
    gradient of the loss with respect to layer k's parameters (w = wiring)."""

    depth: int
    activation: dict[str, list[float]]
    gradient: dict[str, list[float]]


def depth_profile(
    depth: int = 24,
    *,
    d_model: int = 64,
    num_heads: int = 4,
    d_ff: int = 256,
    length: int = 10,
    batch: int = 8,
    seed: int = 0,
) -> DepthProfile:
    """Untrained stacks of ``depth`` encoder layers, each layer with its own random weights;
    every wiring gets the same ``depth`` sets of weights (the same seed), the same input and
    the same target.

    The input is random with unit RMS; the loss is the mean squared output against a fixed
    random target, so its gradient reaches every layer through the whole stack.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, length, d_model, generator=generator)
    target = torch.randn(batch, length, d_model, generator=generator)
    activation, gradient = {}, {}
    for wiring in WIRINGS:
        layers = untrained_layers(depth, d_model, num_heads, d_ff, seed=seed,
                                  norm_first=wiring == "pre-LN")  # fmt: skip
        stack = [_Sublayers(layer, wiring) for layer in layers]
        h, sizes = x, []
        for block in stack:
            h = block(h)
            sizes.append(float(h.detach().pow(2).mean().sqrt()))
        if wiring == "pre-LN":
            h = nn.functional.layer_norm(h, (d_model,))  # the stack's final LayerNorm
        nn.functional.mse_loss(h, target).backward()
        gradient[wiring] = [
            float(
                torch.cat(
                    [p.grad.flatten() for p in layer.parameters() if p.grad is not None]
                ).norm()
            )
            for layer in layers  # (the LayerNorms unused by a wiring have no gradient)
        ]
        activation[wiring] = sizes
    return DepthProfile(depth, activation, gradient)


def depth_profiles(depth: int = 24, seeds=(0, 1, 2), **kwargs) -> list[DepthProfile]:
    """:func:`depth_profile` for several seeds (other weights, input and target each time)."""
    return [depth_profile(depth, seed=seed, **kwargs) for seed in seeds]


def depth_arrays(profiles: list[DepthProfile]) -> dict[str, dict[str, np.ndarray]]:
    """{wiring: {"activation": (seeds, depth), "gradient": (seeds, depth)}} of several runs."""
    return {
        wiring: {
            "activation": np.array([p.activation[wiring] for p in profiles]),
            "gradient": np.array([p.gradient[wiring] for p in profiles]),
        }
        for wiring in WIRINGS
    }


def depth_figure(profiles: list[DepthProfile]):
    """Two log-scale panels against depth, activation RMS and gradient norm: for each wiring
    the mean over the seeds as a line and the range (min to max) as a band. An exact zero is
    drawn at 1e-30."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    arrays, layers = depth_arrays(profiles), list(range(1, profiles[0].depth + 1))
    titles = ("activation size after layer k (RMS)", "gradient norm at layer k's parameters")
    fig = make_subplots(rows=1, cols=2, subplot_titles=titles)
    colours = ["#0072B2", "#E69F00", "#009E73", "#CC79A7"]
    for colour, wiring in zip(colours, WIRINGS, strict=True):
        for col, key in [(1, "activation"), (2, "gradient")]:
            values = np.maximum(arrays[wiring][key], 1e-30)
            band = dict(mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False,
                        legendgroup=wiring)  # fmt: skip
            fig.add_trace(go.Scatter(x=layers, y=values.min(0), **band), row=1, col=col)
            fig.add_trace(go.Scatter(x=layers, y=values.max(0), fill="tonexty", opacity=0.3,
                                     fillcolor=colour, **band), row=1, col=col)  # fmt: skip
            fig.add_trace(go.Scatter(x=layers, y=values.mean(0), name=wiring, legendgroup=wiring,
                                     showlegend=col == 1, line=dict(color=colour)),
                          row=1, col=col)  # fmt: skip
    fig.update_yaxes(type="log", exponentformat="power")
    fig.update_xaxes(title_text="layer k (1 = nearest the input)")
    fig.update_layout(height=430, legend=dict(orientation="h", y=-0.25))
    return fig


# -- warm-up at the same peak rate -----------------------------------------------------------


def warmup_lr(step: int, peak: float, warmup: int, *, ramp: bool = True) -> float:
    """The shape of the paper's schedule with its peak given directly.

    ramp=True:  peak * min(step / warmup, sqrt(warmup / step)), a linear rise for ``warmup``
                steps, then the 1 / sqrt(step) decay (``noam_lr`` up to its factor).
    ramp=False: peak * min(1, sqrt(warmup / step)): the same peak and the same decay, only the
                rise removed; from step ``warmup`` on the two rates are equal.
    """
    rise = step / warmup if ramp else 1.0
    return peak * min(rise, (warmup / step) ** 0.5)


def train_with_schedule(
    model: nn.Module, data, learning_rate, *, steps: int, batch_size: int = 64, seed: int = 0
) -> list[float]:
    """The package's training step (teacher forcing, label-smoothed loss, Adam as in the paper,
    gradient clipping) with ``learning_rate(step)`` for the rate. Returns every step's loss."""
    from minitransformer.training import BatchSampler, make_optimizer, train_step

    torch.manual_seed(seed)  # dropout
    sampler, optimizer = BatchSampler(data, batch_size, seed=seed), make_optimizer(model)
    model.train()
    losses = []
    for step in range(1, steps + 1):
        source, target = sampler.next_batch()
        result = train_step(model, optimizer, source, target, learning_rate=learning_rate(step))
        losses.append(result.loss)
    model.eval()
    return losses


@dataclass(frozen=True)
class WarmupRun:
    wiring: str  # "post-LN" or "pre-LN"
    warmup: bool  # linear rise to the peak, or the peak from step 1
    seed: int
    loss: list[float]  # training loss (label-smoothed) of every step
    accuracy: float  # held-out next-word accuracy with teacher forcing, after training


def teacher_forced_accuracy(model: nn.Module, data) -> float:
    """Share of the real (non-<pad>) target words that the model ranks first, given the gold
    prefix (one decoder pass per batch)."""
    from minitransformer.tokens import pad_sequences

    source, target = pad_sequences(data.source), pad_sequences(data.target)
    with torch.no_grad():
        logits = model(source, target[:, :-1]).logits  # (B, T, V)
    labels = target[:, 1:]
    real = labels != model.config.pad_id
    return float(((logits.argmax(-1) == labels) & real).sum() / real.sum())


def warmup_runs(
    corpus,
    *,
    seeds=(0, 1, 2),
    steps: int = 120,
    warmup: int = 40,
    peak: float = 0.01,
    batch_size: int = 32,
) -> list[WarmupRun]:
    """The book's small model, post-LN and pre-LN, trained with and without the warm-up at the
    same peak rate (:func:`warmup_lr`), one fresh model per seed."""
    train_data, held_out = corpus.encoded("train"), corpus.encoded("held_out")
    runs = []
    for wiring in ("post-LN", "pre-LN"):
        for ramp in (True, False):
            for seed in seeds:
                torch.manual_seed(seed)
                config = TransformerConfig.small(
                    len(corpus.src_vocab), len(corpus.tgt_vocab), norm_first=wiring == "pre-LN"
                )
                model = Transformer(config)
                losses = train_with_schedule(
                    model,
                    train_data,
                    lambda s, r=ramp: warmup_lr(s, peak, warmup, ramp=r),
                    steps=steps,
                    batch_size=batch_size,
                    seed=seed,
                )
                runs.append(
                    WarmupRun(wiring, ramp, seed, losses, teacher_forced_accuracy(model, held_out))
                )
    return runs


# -- torch.nn.Transformer with our weights --------------------------------------------------------


def torch_twin(model: Transformer, *, default_stacks: bool = False) -> nn.Transformer:
    """``torch.nn.Transformer`` holding ``model``'s layer weights, in eval mode.

    nn.Transformer always ends each stack with a LayerNorm unless it is given its own stacks;
    the paper's post-LN stack has none, so both stacks are built here (``custom_encoder``,
    ``custom_decoder``) with ``norm=None`` for post-LN and a copied final norm for pre-LN.
    ``default_stacks=True`` keeps nn.Transformer's own stacks instead, with their extra
    (freshly initialised) final LayerNorms. nn.Transformer has no embeddings or output
    projection: feed it the embedded inputs.
    """
    if not default_stacks:
        return torch_reference.torch_twin(model)
    c = model.config
    twin = nn.Transformer(c.d_model, c.num_heads, c.num_layers, c.num_layers, c.d_ff, 0.0,
                          batch_first=True, norm_first=c.norm_first,
                          layer_norm_eps=c.layer_norm_eps)  # fmt: skip
    twin.encoder.use_nested_tensor = False  # a padded-batch fast path; not what we compare
    twin = twin.to(next(model.parameters()).dtype)
    with torch.no_grad():
        for ours, theirs in zip(model.encoder.layers, twin.encoder.layers, strict=True):
            torch_reference.copy_layer(ours, theirs)
        for ours, theirs in zip(model.decoder.layers, twin.decoder.layers, strict=True):
            torch_reference.copy_layer(ours, theirs)
        if c.norm_first:
            twin.encoder.norm.load_state_dict(model.encoder.final_norm.state_dict())
            twin.decoder.norm.load_state_dict(model.decoder.final_norm.state_dict())
    return twin.eval()


# -- the block diagram --------------------------------------------------------------------------

_COLOURS = {"MultiHeadAttention": "#E69F00", "FeedForward": "#56B4E9", "norm": "#F0E442"}


def sublayers(layer: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layer's sublayers in the order data flows through them (name, module)."""
    return [
        (name, module)
        for name, module in layer.named_children()
        if isinstance(module, (MultiHeadAttention, FeedForward))
    ]


def block_diagram(encoder_layer: EncoderLayer, decoder_layer: DecoderLayer) -> Figure:
    """Two columns of boxes, bottom to top, read from the layers' submodules: each sublayer
    (with its parameter count) followed by its "Add & LayerNorm" box."""
    fig = Figure(figsize=(8.0, 6.2), layout="constrained")
    axes = fig.subplots(1, 2)
    columns = [  # the encoder reads the source (length S), the decoder the target (length T)
        ("encoder layer (인코더 층)", encoder_layer, "(B, S, D)"),
        ("decoder layer (디코더 층)", decoder_layer, "(B, T, D)"),
    ]
    for ax, (title, layer, shape) in zip(axes, columns, strict=True):
        y = 0.3
        ax.annotate("", xy=(0.5, y), xytext=(0.5, 0.0), arrowprops=dict(arrowstyle="->"))
        ax.text(0.52, 0.08, f"input {shape}", fontsize=8)
        for name, module in sublayers(layer):
            count = sum(p.numel() for p in module.parameters())
            label = f"{name}\n{type(module).__name__}, {count:,} params"
            if name == "cross_attention":
                label += "\n(K, V from the encoder, (B, S, D))"
            elif isinstance(layer, DecoderLayer) and name == "self_attention":
                label += "\n(masked: no look-ahead)"
            skip = dict(color="#555555", linestyle="--", linewidth=1.0)  # the residual path
            ax.plot([0.5, 0.02, 0.02], [y - 0.12, y - 0.12, y + 1.2], **skip)
            ax.annotate("", xy=(0.08, y + 1.2), xytext=(0.02, y + 1.2),
                        arrowprops=dict(arrowstyle="->", **skip))  # fmt: skip
            for text, colour, height in (
                (label, _COLOURS[type(module).__name__], 0.75),
                ("Add & LayerNorm (잔차 연결 & 층 정규화)", _COLOURS["norm"], 0.4),
            ):
                ax.add_patch(_box(y, height, colour))
                ax.text(0.5, y + height / 2, text, ha="center", va="center", fontsize=8)
                y += height + 0.25
                ax.annotate(
                    "", xy=(0.5, y), xytext=(0.5, y - 0.25), arrowprops=dict(arrowstyle="->")
                )
        ax.text(0.52, y - 0.15, f"output {shape}", fontsize=8)
        ax.set(xlim=(-0.05, 1), ylim=(0, 5.6), title=title)
        ax.axis("off")
    return fig


def _box(y: float, height: float, colour: str):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((0.08, y), 0.84, height, boxstyle="round,pad=0.02", facecolor=colour,
                          edgecolor="#333333", linewidth=1.0)  # fmt: skip


# -- the parameter counter: a static slider figure and a live widget ------------------------------


def html_table(rows: list[dict], *, corner: str = "setting") -> str:
    """A plain HTML table of dicts with the same keys (the book has no pandas). The first
    column holds each row's name as a row header; a blank first key is named ``corner``."""
    import html

    def text(value: object) -> str:
        return html.escape(str(value))

    head = "".join(f'<th scope="col">{text(key or corner)}</th>' for key in rows[0])
    body = "".join(
        f'<tr><th scope="row">{text(name)}</th>'
        + "".join(f"<td>{text(value)}</td>" for value in values)
        + "</tr>"
        for name, *values in (list(row.values()) for row in rows)
    )
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def paper_like(d_model: int, num_layers: int, vocab_size: int = 37000, **overrides):
    """A config shaped like the paper's: F = 4 D, Dh = 64, one shared and tied vocabulary."""
    values = dict(num_heads=max(1, d_model // 64), num_layers=num_layers, d_ff=4 * d_model,
                  **overrides)  # fmt: skip
    return TransformerConfig.paper_base(vocab_size, d_model=d_model, **values)


def parameter_slider_figure(
    d_models=(64, 128, 256, 512, 768, 1024),
    layer_counts=(1, 2, 4, 6, 8, 12),
    *,
    vocab_size: int = 37000,
    active: int = 3,
):
    """Stacked bars of parameters (millions) by component against N, one slider step per D;
    every state is computed here with :func:`parameter_breakdown`."""
    import plotly.graph_objects as go

    shown = [c for c in COMPONENTS if c != "learned positions"]
    states = {
        d: [parameter_breakdown(paper_like(d, n, vocab_size)) for n in layer_counts]
        for d in d_models
    }

    def ys(d):
        columns = [[round(b[c] / 1e6, 3) for b in states[d]] for c in shown]
        totals = [round(sum(b.values()) / 1e6, 2) for b in states[d]]
        return [*columns, totals], [[f"{t:.1f}M" for t in totals]]

    xs = [f"N={n}" for n in layer_counts]
    columns, texts = ys(d_models[active])
    fig = go.Figure([go.Bar(x=xs, y=y, name=c) for c, y in zip(shown, columns, strict=False)])
    fig.add_trace(go.Scatter(x=xs, y=columns[-1], text=texts[0], mode="text",
                             textposition="top center", showlegend=False))  # fmt: skip
    steps = []
    for d in d_models:
        columns, texts = ys(d)
        bars = [[y] for y in columns[:-1]]
        steps.append(dict(method="restyle", label=f"{d}", args=[
            {"y": [y[0] for y in bars] + [columns[-1]], "text": [None] * len(bars) + texts},
        ]))  # fmt: skip
    top = max(sum(parameter_breakdown(paper_like(d, max(layer_counts), vocab_size)).values())
              for d in d_models) / 1e6  # fmt: skip
    fig.update_layout(
        barmode="stack", height=480,
        yaxis=dict(title="parameters (millions)", range=[0, top * 1.12]),
        xaxis_title="layers per stack N", legend=dict(orientation="h", y=1.12),
        title=dict(text=f"Parameters by component (F = 4D, H = D/64, V = {vocab_size:,} shared)",
                   y=0.98),
        sliders=[dict(active=active, currentvalue=dict(prefix="D (d_model): "), steps=steps,
                      pad=dict(t=50))],
    )  # fmt: skip
    return fig


def live_parameter_counter():
    """Sliders for D, H, N, F and V (and the sharing switches): the count by component, and
    the same total counted on a model built on the meta device. Needs a kernel."""
    import html

    import ipywidgets as widgets

    from minitransformer.viz.live import _live_only_class

    d = widgets.IntSlider(description="D", min=32, max=1024, step=32, value=512)
    h = widgets.IntSlider(description="H", min=1, max=16, value=8)
    n = widgets.IntSlider(description="N", min=1, max=12, value=6)
    f = widgets.IntSlider(description="F", min=64, max=8192, step=64, value=2048)
    v = widgets.IntSlider(description="V", min=100, max=50000, step=100, value=37000)
    tied = widgets.Checkbox(description="shared + tied vocabulary", value=True)
    pre = widgets.Checkbox(description="pre-LN", value=False)
    output = widgets.HTML()
    output.add_class("live-output")
    built_counts: dict[TransformerConfig, int] = {}

    def redraw(*_):
        try:
            config = TransformerConfig.paper_base(
                v.value,
                d_model=d.value,
                num_heads=h.value,
                num_layers=n.value,
                d_ff=f.value,
                share_embeddings=tied.value,
                tie_output=tied.value,
                norm_first=pre.value,
            )
        except ValueError as error:
            output.value = f"<span style='color:#b00'>{html.escape(str(error))}</span>"
            return
        parts = parameter_breakdown(config)
        rows = "".join(
            f"<tr><td>{k}</td><td align='right'>{c:,}</td></tr>" for k, c in parts.items() if c
        )
        if config not in built_counts:  # building the model is the slow part: once per config
            built_counts[config] = counted_parameters(config)
        total, built = sum(parts.values()), built_counts[config]
        output.value = (
            f"<table>{rows}<tr><th>total</th><th align='right'>{total:,}</th></tr>"
            f"</table>built model: {built:,} ({'equal' if built == total else 'DIFFERENT'})"
        )

    for control in (d, h, n, f, v, tied, pre):
        control.observe(redraw, names="value")
    redraw()
    controls = widgets.VBox([widgets.HBox([d, h, n]), widgets.HBox([f, v]),
                             widgets.HBox([tied, pre])])  # fmt: skip
    return _live_only_class()([controls, output], what="Move D, H, N, F and V to count parameters.")


__all__ = [
    "COMPONENTS",
    "WIRINGS",
    "DepthProfile",
    "WarmupRun",
    "block_diagram",
    "counted_parameters",
    "depth_arrays",
    "depth_figure",
    "depth_profile",
    "depth_profiles",
    "html_table",
    "live_parameter_counter",
    "paper_like",
    "parameter_breakdown",
    "parameter_slider_figure",
    "sublayers",
    "teacher_forced_accuracy",
    "torch_twin",
    "train_with_schedule",
    "untrained_layers",
    "warmup_lr",
    "warmup_runs",
]
