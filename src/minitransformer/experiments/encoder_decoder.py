"""The encoder-decoder at a glance: the N + N stack drawn from a config, and the shape of every
tensor in one forward pass, recorded with forward hooks on the real modules."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from torch import Tensor, nn

from minitransformer.attention import MultiHeadAttention
from minitransformer.config import TransformerConfig
from minitransformer.layers import DecoderLayer, EncoderLayer, FeedForward
from minitransformer.model import Transformer
from minitransformer.positional import LearnedPositionalEmbedding, PositionalEncoding
from minitransformer.viz._style import finish, new_figure


def count_parameters(config: TransformerConfig) -> int:
    """Trainable parameters of ``Transformer(config)`` from the config alone (building the
    paper's 63-million-parameter model just to count would take seconds), each tied matrix
    counted once. The tests check it against ``Transformer(config).num_parameters()``."""
    D, F, N, L = config.d_model, config.d_ff, config.num_layers, config.max_len
    attention = 4 * (D * D + D)  # W^Q, W^K, W^V, W^O with biases
    feed_forward = D * F + F + F * D + D
    norm = 2 * D  # LayerNorm gain and bias
    encoder_layer = attention + feed_forward + 2 * norm
    decoder_layer = 2 * attention + feed_forward + 3 * norm
    total = N * (encoder_layer + decoder_layer)
    total += 2 * norm if config.norm_first else 0  # final LayerNorms of the pre-LN stacks
    total += 2 * L * D if config.positional == "learned" else 0
    total += config.src_vocab_size * D
    total += 0 if config.share_embeddings else config.tgt_vocab_size * D
    total += 0 if config.tie_output else D * config.tgt_vocab_size + config.tgt_vocab_size
    return total


# --- the shape of every tensor -------------------------------------------------------------


@dataclass(frozen=True)
class ShapeRow:
    step: int  # order of execution
    module: str  # dotted path inside the model, e.g. "encoder.layers.0.self_attention"
    what: str  # what the module does
    inputs: str  # shapes of the tensors it reads
    outputs: str  # shapes of the tensors it returns


def _shape(value: object) -> str:
    if isinstance(value, Tensor):
        return "(" + ", ".join(str(n) for n in value.shape) + ")"
    if isinstance(value, (tuple, list)):
        shapes = [_shape(v) for v in value if isinstance(v, Tensor)]
        return " + ".join(shapes)
    return ""


def _describe(name: str, module: nn.Module) -> str | None:
    """What a module does, or None for modules the table leaves out."""
    part = "encoder" if name.startswith("encoder") else "decoder"
    if isinstance(module, nn.Embedding):
        side = "Korean" if name.startswith("source") else "English"
        return f"{side} word ids -> vectors (embedding)"
    if isinstance(module, (PositionalEncoding, LearnedPositionalEmbedding)):
        return "x * sqrt(D) + positional encoding"
    if isinstance(module, MultiHeadAttention):
        if name.endswith("cross_attention"):
            return "encoder-decoder attention: queries from the decoder, keys/values = memory"
        if part == "decoder":
            return "masked self-attention over the English prefix (output + weights)"
        return "self-attention over the Korean words (output + weights)"
    if isinstance(module, FeedForward):
        return "position-wise feed-forward D -> F -> D"
    if isinstance(module, EncoderLayer):
        return f"{part} layer output (after both sublayers)"
    if isinstance(module, DecoderLayer):
        return f"{part} layer output (after all three sublayers)"
    if name == "output_projection":
        return "scores (logits) over the English vocabulary"
    return None


def shape_trace(
    model: Transformer, source_ids: Tensor, decoder_input: Tensor
) -> tuple[list[ShapeRow], Tensor]:
    """Run ``model(source_ids, decoder_input, return_attention=True)`` with a forward hook on
    every block and record the shapes that pass through, in execution order.

    Returns the rows (plus a last row for the softmax) and the logits (B, T, V).
    """
    rows: list[ShapeRow] = []
    handles = []

    def hook_for(name: str, what: str):
        def hook(module, args, kwargs, output):
            inputs = [a for a in args if isinstance(a, Tensor)]
            if isinstance(module, MultiHeadAttention):
                inputs = inputs[:2]  # query and key (= value); the mask is not data
            elif isinstance(module, (EncoderLayer, DecoderLayer)):
                inputs = inputs[: 1 if isinstance(module, EncoderLayer) else 2]
            rows.append(ShapeRow(len(rows) + 1, name, what, _shape(inputs), _shape(output)))

        return hook

    for name, module in model.named_modules():
        what = _describe(name, module)
        if what is None:
            continue
        handles.append(module.register_forward_hook(hook_for(name, what), with_kwargs=True))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            logits = model(source_ids, decoder_input, return_attention=True).logits
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    probabilities = torch.softmax(logits, dim=-1)
    rows.append(ShapeRow(len(rows) + 1, "softmax", "probabilities over the English vocabulary",
                         _shape(logits), _shape(probabilities)))  # fmt: skip
    return rows, logits


def html_table(rows: Sequence[object], columns: Sequence[str] | None = None) -> str:
    """A plain HTML table of dataclass rows or dicts (the book has no pandas)."""
    records = [r if isinstance(r, dict) else vars(r) for r in rows]
    if not records:
        raise ValueError("no rows to show")
    columns = list(columns or records[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in records
    )
    return f'<table class="table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# --- the stack, drawn from a config ----------------------------------------------------------


def _box(ax, x, y, w, h, text, colour, fontsize=8) -> None:
    ax.add_patch(
        FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                       facecolor=colour, edgecolor="#333333", linewidth=0.9)
    )  # fmt: skip
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def _arrow(ax, start, end, colour="#333333", rad=0.0) -> None:
    ax.add_patch(
        FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=8, color=colour,
                        linewidth=0.9, connectionstyle=f"arc3,rad={rad}", shrinkA=2, shrinkB=2)
    )  # fmt: skip


def _draw_stack(ax, config: TransformerConfig, title: str, tallest: int) -> None:
    N = config.num_layers
    h, gap = 0.7, 0.25
    top = N * (h + gap)
    enc_x, dec_x, w = 0.0, 2.6, 2.0
    _box(ax, enc_x, -0.9, w, 0.6, "source embedding\n+ positions", "#F2F2F2")
    _box(ax, dec_x, -0.9, w, 0.6, "target embedding\n+ positions", "#F2F2F2")
    for i in range(N):
        y = i * (h + gap) + h / 2
        _box(ax, enc_x, y, w, h, f"encoder layer {i + 1}\nself-attn + FFN", "#CFE3F3")
        _box(ax, dec_x, y, w, h, f"decoder layer {i + 1}\nmasked + cross + FFN", "#FBE3C8")
        below = -0.6 if i == 0 else y - h / 2 - gap
        _arrow(ax, (enc_x, below), (enc_x, y - h / 2))
        _arrow(ax, (dec_x, below), (dec_x, y - h / 2))
        # every decoder layer reads the encoder's last output (the memory)
        _arrow(ax, (enc_x + w / 2, top - gap - h / 2), (dec_x - w / 2, y), colour="#0072B2")
    _box(ax, dec_x, top + 0.45, w, 0.55, f"linear + softmax\nV = {config.tgt_vocab_size:,}",
         "#E6F2E6")  # fmt: skip
    _arrow(ax, (dec_x, top - gap), (dec_x, top + 0.17))
    facts = (
        f"N = {N} + {N},  D = {config.d_model},  H = {config.num_heads},  "
        f"Dh = {config.d_head},  F = {config.d_ff}\n{count_parameters(config):,} parameters"
    )
    ax.text((enc_x + dec_x) / 2, -1.65, facts, ha="center", va="top", fontsize=8.5)
    ax.set(xlim=(-1.3, 3.9), ylim=(-2.4, tallest * (h + gap) + 1.0), title=title)
    ax.axis("off")


def _draw_rnn(ax, steps: int = 4) -> None:
    for t in range(steps):
        _box(ax, t, 0, 0.75, 0.6, "RNN\ncell", "#CFE3F3")
        _box(ax, t, -1.0, 0.75, 0.45, f"x{t + 1}", "#F2F2F2")
        _arrow(ax, (t, -0.77), (t, -0.3))
        if t:
            _arrow(ax, (t - 0.62, 0), (t - 0.38, 0))
    ax.text((steps - 1) / 2, 0.65, "one cell, the same weights,\napplied t times in order",
            ha="center", va="bottom", fontsize=8.5)  # fmt: skip
    ax.set(xlim=(-0.7, steps - 0.3), ylim=(-2.4, 2.2), title="RNN encoder: one layer over time")
    ax.axis("off")


def stack_figure(configs: Sequence[tuple[str, TransformerConfig]]) -> Figure:
    """An RNN encoder unrolled over time (F14, left) next to one N + N stack per config
    (F15), each drawn with its real N, D, H, F, V and parameter count."""
    fig = new_figure(3.2 + 3.6 * len(configs), 4.6)
    axes = fig.subplots(1, 1 + len(configs), width_ratios=[0.8] + [1.0] * len(configs))
    tallest = max(config.num_layers for _, config in configs)
    _draw_rnn(axes[0])
    for ax, (title, config) in zip(axes[1:], configs, strict=True):
        _draw_stack(ax, config, title, tallest)
    return finish(fig)
