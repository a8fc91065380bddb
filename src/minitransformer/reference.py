"""Attention by hand, in numpy: the version a reader can follow line by line, and an oracle
for the tests that is independent of torch.

Matrices are in the math convention of the paper: a row vector x times W, so W_Q has shape
(D, Dh) for one head or (D, D) for all heads. (``torch.nn.Linear`` stores the transpose;
:func:`weights_from_module` converts.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def softmax(scores: np.ndarray, axis: int = -1) -> np.ndarray:
    """exp(s_i - max) / sum_j exp(s_j - max): subtracting the max changes nothing
    mathematically and keeps exp from overflowing."""
    shifted = scores - np.max(scores, axis=axis, keepdims=True)
    exps = np.exp(shifted)
    return exps / np.sum(exps, axis=axis, keepdims=True)


def scaled_dot_product_attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(Q K^T / sqrt(d_k)) V.  q: (..., T, Dh), k: (..., S, Dh), v: (..., S, Dv).

    mask: bool broadcastable to (..., T, S), True = may attend. A row that may attend to no
    key gets all-zero weights. Returns (output (..., T, Dv), weights (..., T, S)).
    """
    d_k = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(d_k)  # (..., T, S)
    if mask is None:
        weights = softmax(scores)
    else:
        mask = np.broadcast_to(mask, scores.shape)
        row_has_key = mask.any(axis=-1, keepdims=True)
        scores = np.where(mask, scores, -np.inf)
        scores = np.where(row_has_key, scores, 0.0)
        weights = np.where(row_has_key, softmax(scores), 0.0)
    return weights @ v, weights


@dataclass
class MultiHeadWeights:
    """W_Q, W_K, W_V, W_O as (D, D) matrices (x @ W) and their biases (D,) or None."""

    w_q: np.ndarray
    w_k: np.ndarray
    w_v: np.ndarray
    w_o: np.ndarray
    b_q: np.ndarray | None = None
    b_k: np.ndarray | None = None
    b_v: np.ndarray | None = None
    b_o: np.ndarray | None = None


def weights_from_module(module) -> MultiHeadWeights:  # module: a MultiHeadAttention
    """Copy a ``minitransformer.MultiHeadAttention``'s parameters into numpy, transposed to
    the x @ W convention, in float64."""

    def matrix(linear) -> np.ndarray:
        return linear.weight.detach().double().numpy().T.copy()

    def vector(linear) -> np.ndarray | None:
        return None if linear.bias is None else linear.bias.detach().double().numpy().copy()

    return MultiHeadWeights(
        matrix(module.w_q),
        matrix(module.w_k),
        matrix(module.w_v),
        matrix(module.w_o),
        vector(module.w_q),
        vector(module.w_k),
        vector(module.w_v),
        vector(module.w_o),
    )


def _affine(x: np.ndarray, w: np.ndarray, b: np.ndarray | None) -> np.ndarray:
    return x @ w if b is None else x @ w + b


def multi_head_attention(
    query: np.ndarray,
    key: np.ndarray,
    value: np.ndarray,
    weights: MultiHeadWeights,
    num_heads: int,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """MultiHead(Q, K, V) = Concat(head_1..head_H) W_O, one head at a time, by hand.

    query: (B, T, D), key and value: (B, S, D). Head h uses columns h*Dh..(h+1)*Dh of W_Q,
    W_K and W_V. mask: bool broadcastable to (B, H, T, S). Returns the output (B, T, D) and
    the weights (B, H, T, S).
    """
    D = query.shape[-1]
    d_head = D // num_heads
    q_all = _affine(query, weights.w_q, weights.b_q)  # (B, T, D)
    k_all = _affine(key, weights.w_k, weights.b_k)  # (B, S, D)
    v_all = _affine(value, weights.w_v, weights.b_v)  # (B, S, D)
    heads, head_weights = [], []
    for h in range(num_heads):
        columns = slice(h * d_head, (h + 1) * d_head)
        head_mask = None
        if mask is not None:
            full = np.broadcast_to(mask, (query.shape[0], num_heads, query.shape[1], key.shape[1]))
            head_mask = full[:, h]
        out, w = scaled_dot_product_attention(
            q_all[..., columns], k_all[..., columns], v_all[..., columns], head_mask
        )
        heads.append(out)  # (B, T, Dh)
        head_weights.append(w)  # (B, T, S)
    concat = np.concatenate(heads, axis=-1)  # (B, T, D)
    return _affine(concat, weights.w_o, weights.b_o), np.stack(head_weights, axis=1)
