"""``torch.nn.Transformer`` holding a :class:`~minitransformer.model.Transformer`'s weights:
PyTorch's own implementation as an independent check of ours.

PyTorch's modules compute the same functions with their own code: ``nn.MultiheadAttention``
packs W_Q, W_K and W_V into one ``(3D, D)`` matrix and uses the opposite mask convention
(True = do NOT attend), and ``nn.Transformer`` has no embeddings and no output projection.

- :func:`copy_attention` copies one :class:`~minitransformer.attention.MultiHeadAttention`
  into an ``nn.MultiheadAttention``;
- :func:`copy_layer` copies an encoder or decoder layer into its PyTorch counterpart;
- :func:`torch_twin` builds the whole ``nn.Transformer`` with every layer copied;
- :func:`twin_logits` runs the twin between our embeddings and our output projection, so
  its logits can be compared with ``model(source, target).logits``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from minitransformer.attention import MultiHeadAttention
from minitransformer.layers import DecoderLayer, EncoderLayer, ResidualLayerNorm
from minitransformer.model import Transformer


@torch.no_grad()
def copy_attention(ours: MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    """Copy W_Q, W_K, W_V (stacked into ``in_proj_weight``) and W_O into ``theirs``."""
    theirs.in_proj_weight.copy_(torch.cat([ours.w_q.weight, ours.w_k.weight, ours.w_v.weight]))
    theirs.in_proj_bias.copy_(torch.cat([ours.w_q.bias, ours.w_k.bias, ours.w_v.bias]))
    theirs.out_proj.load_state_dict(ours.w_o.state_dict())


@torch.no_grad()
def copy_layer(
    ours: EncoderLayer | DecoderLayer,
    theirs: nn.TransformerEncoderLayer | nn.TransformerDecoderLayer,
) -> None:
    """Copy an encoder (or decoder) layer into ``nn.TransformerEncoderLayer`` (or
    ``nn.TransformerDecoderLayer``): its attentions, feed-forward and LayerNorms, in order."""
    attentions = [m for m in ours.children() if isinstance(m, MultiHeadAttention)]
    torch_attentions = [theirs.self_attn] + (
        [theirs.multihead_attn] if isinstance(theirs, nn.TransformerDecoderLayer) else []
    )
    for mine, torchs in zip(attentions, torch_attentions, strict=True):
        copy_attention(mine, torchs)
    theirs.linear1.load_state_dict(ours.feed_forward.linear1.state_dict())
    theirs.linear2.load_state_dict(ours.feed_forward.linear2.state_dict())
    blocks = [m for m in ours.children() if isinstance(m, ResidualLayerNorm)]
    for k, block in enumerate(blocks, start=1):  # norm1, norm2 (, norm3) in data-flow order
        getattr(theirs, f"norm{k}").load_state_dict(block.norm.state_dict())


def torch_twin(model: Transformer) -> nn.Transformer:
    """``torch.nn.Transformer`` holding ``model``'s layer weights, in eval mode.

    ``nn.Transformer`` ends each stack with a LayerNorm unless it is given its own stacks; the
    paper's post-LN stack has none, so both stacks are built here (``custom_encoder``,
    ``custom_decoder``) with ``norm=None`` for post-LN and a copy of the final norm for
    pre-LN. The twin has no embeddings or output projection: see :func:`twin_logits`.
    """
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a minitransformer Transformer, got {type(model).__name__}")
    c = model.config
    layer_args = (c.d_model, c.num_heads, c.d_ff, 0.0)
    layer_kwargs = dict(batch_first=True, norm_first=c.norm_first, layer_norm_eps=c.layer_norm_eps)

    def final_norm() -> nn.LayerNorm | None:
        return nn.LayerNorm(c.d_model, eps=c.layer_norm_eps) if c.norm_first else None

    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(*layer_args, **layer_kwargs),
        c.num_layers,
        norm=final_norm(),
        enable_nested_tensor=False,
    )
    decoder = nn.TransformerDecoder(
        nn.TransformerDecoderLayer(*layer_args, **layer_kwargs), c.num_layers, norm=final_norm()
    )
    twin = nn.Transformer(
        c.d_model,
        c.num_heads,
        custom_encoder=encoder,
        custom_decoder=decoder,
        batch_first=True,
        norm_first=c.norm_first,
    )
    twin = twin.to(next(model.parameters()).dtype)
    with torch.no_grad():
        for ours, theirs in zip(model.encoder.layers, twin.encoder.layers, strict=True):
            copy_layer(ours, theirs)
        for ours, theirs in zip(model.decoder.layers, twin.decoder.layers, strict=True):
            copy_layer(ours, theirs)
        if c.norm_first:
            twin.encoder.norm.load_state_dict(model.encoder.final_norm.state_dict())
            twin.decoder.norm.load_state_dict(model.decoder.final_norm.state_dict())
    return twin.eval()


def twin_logits(model: Transformer, twin: nn.Transformer, source: Tensor, target: Tensor) -> Tensor:
    """Logits (B, T, V) of ``twin`` on token ids ``source`` (B, S) and ``target`` (B, T).

    Our embeddings and positional encodings feed the twin's stacks and our output projection
    reads them, with PyTorch's mask convention (True = do NOT attend). Rows of ``target``
    that are padding are not meaningful (no loss reads them) and may differ from ours.
    """
    pad = model.config.pad_id
    T = target.size(1)
    look_ahead = torch.triu(torch.ones(T, T, dtype=torch.bool, device=target.device), diagonal=1)
    with torch.no_grad():
        core = twin(
            model.source_positions(model.source_embedding(source)),
            model.target_positions(model.target_embedding(target)),
            tgt_mask=look_ahead,
            src_key_padding_mask=source == pad,
            tgt_key_padding_mask=target == pad,
            memory_key_padding_mask=source == pad,
        )
        return model.output_projection(core)  # (B, T, V)


__all__ = ["copy_attention", "copy_layer", "torch_twin", "twin_logits"]
