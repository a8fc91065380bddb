"""Chapter 7's measurements: what the padding mask and the look-ahead mask guarantee.

Every function takes a trained or untrained ``minitransformer.Transformer`` and runs it the
way ``Transformer.forward`` does, with one thing changed on purpose:

- :func:`encode_with_pad_contents`: whatever vectors sit at the <pad> positions;
- :func:`decoder_logits`: with or without the look-ahead mask;
- :func:`sequential_logits`: one position at a time, as at inference, instead of one pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from minitransformer.decoding import inference_mode
from minitransformer.masks import causal_mask, expand_padding_mask, padding_mask
from minitransformer.model import Transformer
from minitransformer.tokens import PAD_ID, Vocab, pad_sequences
from minitransformer.viz._style import finish, new_figure
from minitransformer.viz.static import as_array


def padded_batch(vocab: Vocab, sentences: Sequence[str]) -> Tensor:
    """Token ids (B, S_max) of ``sentences``, each padded with <pad> (id 0) to the longest."""
    return pad_sequences([vocab.encode(sentence) for sentence in sentences], pad_id=PAD_ID)


def encode_with_pad_contents(
    model: Transformer, source_ids: Tensor, pad_vectors: Tensor | None = None
) -> tuple[Tensor, list[Tensor]]:
    """The encoder's output and maps when the input vectors at <pad> positions are replaced.

    source_ids: (B, S). pad_vectors: (number of pad positions, D) put where the source is
    <pad>, in place of the <pad> embedding plus its position (None: leave them). The padding
    mask is computed from the ids as usual. Returns memory (B, S, D) and N x (B, H, S, S).
    """
    with inference_mode(model):
        mask = padding_mask(source_ids, model.config.pad_id)  # (B, S)
        x = model.source_positions(model.source_embedding(source_ids))  # (B, S, D)
        if pad_vectors is not None:
            x = x.clone()
            x[~mask] = pad_vectors.to(x.dtype)
        memory, maps = model.encoder(x, expand_padding_mask(mask), return_attention=True)
    return memory, maps


def decoder_logits(
    model: Transformer, source_ids: Tensor, decoder_input: Tensor, *, look_ahead: bool = True
) -> Tensor:
    """Teacher-forced logits (B, T, V), with the look-ahead mask or (``look_ahead=False``)
    with the target padding mask only, so that every position may see later ones."""
    with inference_mode(model):
        encoded = model.encode(source_ids)
        T = decoder_input.size(1)
        self_mask = expand_padding_mask(padding_mask(decoder_input, model.config.pad_id))
        if look_ahead:
            self_mask = self_mask & causal_mask(T, decoder_input.device)  # (B, 1, T, T)
        cross_mask = expand_padding_mask(encoded.source_mask)  # (B, 1, 1, S)
        x = model.target_positions(model.target_embedding(decoder_input))  # (B, T, D)
        x, _, _ = model.decoder(x, encoded.memory, self_mask, cross_mask)
        return model.output_projection(x)  # (B, T, V)


def sequential_logits(model: Transformer, source_ids: Tensor, decoder_input: Tensor) -> Tensor:
    """Logits (B, T, V) computed as inference does: step t feeds the prefix of length t and
    keeps only the last position's scores. T decoder runs instead of one."""
    with inference_mode(model):
        encoded = model.encode(source_ids)
        steps = [
            model.decode(decoder_input[:, : t + 1], encoded).logits[:, -1]  # (B, V)
            for t in range(decoder_input.size(1))
        ]
    return torch.stack(steps, dim=1)  # (B, T, V)


def reveal_rows(weights: Tensor | np.ndarray) -> list[np.ndarray]:
    """Slider states for a (T, T) decoder map: state t shows rows 0..t, later rows blank
    (NaN), i.e. what the decoder has computed after t + 1 positions."""
    array = as_array(weights, 2, "weights")
    states = []
    for t in range(array.shape[0]):
        state = np.full_like(array, np.nan)
        state[: t + 1] = array[: t + 1]
        states.append(state)
    return states


def masks_figure(
    panels: Sequence[tuple[str, Tensor, Sequence[str], Sequence[str]]],
    *,
    width: float = 4.0,
) -> Figure:
    """Boolean masks side by side: (title, mask (rows, cols), row labels, column labels).

    Allowed cells (True) are drawn light, hidden cells (False) dark; small panels (at most
    10 x 10) also get a tick or a cross in each cell.
    """
    fig = new_figure(width * len(panels), 1.8 + 0.42 * max(len(p[2]) for p in panels))
    axes = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (title, mask, rows, cols) in zip(axes, panels, strict=True):
        allowed = as_array(mask, 2, "mask")
        ax.imshow(allowed, cmap="cividis", vmin=0, vmax=1, aspect="auto")
        if allowed.size <= 100:
            for (r, c), value in np.ndenumerate(allowed):
                ax.text(c, r, "✓" if value else "×", ha="center", va="center", fontsize=9,
                        color="black" if value else "white")  # fmt: skip
        ax.set_xticks(range(len(cols)), cols, rotation=90)
        ax.set_yticks(range(len(rows)), rows)
        ax.set_title(title, fontsize=10)
        ax.spines[:].set_visible(False)
    return finish(fig)


__all__ = [
    "decoder_logits",
    "encode_with_pad_contents",
    "masks_figure",
    "padded_batch",
    "reveal_rows",
    "sequential_logits",
]
