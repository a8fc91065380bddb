"""Chapter 4's measurements and widgets: shapes, variance, saturation, rows, figures."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.figure import Figure

from minitransformer.experiments import qkv


def test_matrix_sizes_of_the_paper() -> None:
    shapes = {row["matrix"]: row["shape"] for row in qkv.matrix_sizes(4, 512, 8)}
    assert shapes["X"] == (4, 512)
    assert shapes["W_Q, W_K, W_V"] == (512, 64)
    assert shapes["Q, K, V"] == (4, 64)
    assert shapes["K^T"] == (64, 4)
    assert shapes["softmax(...)"] == (4, 4)
    assert shapes["softmax(...) V"] == (4, 64)
    with pytest.raises(ValueError, match="divisible"):
        qkv.matrix_sizes(4, 10, 3)


def test_markdown_table() -> None:
    table = qkv.markdown_table([{"a": 1, "b": "x|y"}])
    assert table.splitlines() == ["| a | b |", "|---|---|", "| 1 | x\\|y |"]
    with pytest.raises(ValueError):
        qkv.markdown_table([])


def test_table_renders_html_and_markdown() -> None:
    table = qkv.Table([{"word": "<카페>", "weight": 0.4}])
    assert "<td>&lt;카페&gt;</td><td>0.4</td>" in table._repr_html_()
    assert table._repr_markdown_() == repr(table) == qkv.markdown_table(table.rows)
    with pytest.raises(ValueError):
        qkv.Table([])


def test_dot_product_variance_grows_like_d_k() -> None:
    result = qkv.dot_product_variance((4, 64, 256), samples=20000)
    np.testing.assert_allclose(result["raw"] / result["d_k"], 1.0, atol=0.06)
    np.testing.assert_allclose(result["scaled"], 1.0, atol=0.06)


def test_softmax_saturates_without_scaling() -> None:
    result = qkv.softmax_saturation((1, 16, 256), trials=500)
    assert result["max_raw"][0] == pytest.approx(result["max_scaled"][0])
    assert np.all(np.diff(result["max_raw"]) > 0)
    assert result["max_raw"][-1] > 0.9
    assert np.all(np.diff(result["grad_raw"]) < 0)
    assert np.ptp(result["max_scaled"]) < 0.1


def test_row_table() -> None:
    tokens = ["a", "b", "c"]
    weights = np.zeros((1, 2, 3, 3))
    weights[0, 0, 1] = [0.2, 0.5, 0.3]
    weights[0, 1, 1] = [0.6, 0.1, 0.3]
    rows = qkv.row_table(weights, tokens, "b")
    assert [r["head"] for r in rows] == [0, 1, "mean"]
    assert (rows[0]["top key"], rows[0]["weight"]) == ("b", 0.5)
    assert (rows[0]["top other key"], rows[0]["other weight"]) == ("c", 0.3)
    assert (rows[2]["top key"], rows[2]["weight"]) == ("a", 0.4)
    assert "top other key" not in qkv.row_table(weights, tokens, "b", exclude_self=False)[0]
    with pytest.raises(ValueError, match=r"\(N, H, S, S\)"):
        qkv.row_table(weights[0], tokens, "b")


def test_product_figure() -> None:
    x, w = np.ones((1, 4)), np.eye(4)[:, :2]
    fig = qkv.product_figure([("x", x), ("W", w), ("q", x @ w)], ["@", "="])
    assert isinstance(fig, Figure)
    assert [ax.get_title() for ax in fig.axes] == ["x\n1 x 4", "W\n4 x 2", "q\n1 x 2"]
    with pytest.raises(ValueError, match="operator"):
        qkv.product_figure([("x", x), ("W", w)], [])


def test_live_explorers_redraw_and_carry_the_note() -> None:
    softmax_box = qkv.live_softmax_explorer(np.array([0.1, 1.0, -0.5]), ["a", "b", "c"])
    tau, d_k = softmax_box.children[0].children
    view = softmax_box.children[1]
    flat = view.value
    tau.value, d_k.value = 0.5, 64
    assert view.value != flat and "d_k = 64" in view.value and "τ = 0.50" in view.value
    expected = qkv.softmax(np.array([0.1, 1.0, -0.5]) * np.sqrt(64 / 4) / 0.5)
    assert [f"{v:.2f}" for v in expected] == re.findall(r"font-size:11px'>([0-9.]+)", view.value)
    assert "needs a running" in softmax_box._repr_mimebundle_()["text/html"]

    weights = np.random.default_rng(0).dirichlet(np.ones(3), size=(2, 2, 3))  # (N, H, S, S)
    row_box = qkv.live_row_explorer(weights, ["a", "b", "c"], "b")
    word, layer, head = row_box.children[0].children
    word.value, layer.value, head.value = "c", 0, "1"
    shown = re.findall(r"font-size:11px'>([0-9.]+)", row_box.children[1].value)
    assert shown == [f"{v:.2f}" for v in weights[0, 1, 2]]
    assert "query c: layer 0, head 1" in row_box.children[1].value
    assert "needs a running" in row_box._repr_mimebundle_()["text/html"]
