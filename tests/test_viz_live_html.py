"""The HTML and SVG the live explorers draw (minitransformer.viz.live_html)."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib import colormaps

from minitransformer.viz.live_html import bars_html, curves_svg, heatmap_html


def _hex(value: float, cmap: str = "viridis") -> str:
    r, g, b, _ = colormaps[cmap](value)
    return "#" + "".join(f"{round(255 * c):02x}" for c in (r, g, b))


def test_heatmap_colours_run_over_a_fixed_range_and_label_every_row_and_column():
    weights = np.array([[0.0, 1.0], [0.25, 0.75]])
    page = heatmap_html(weights, ["<sos>", "I"], ["어제", "카페"], title="cross\nlayer 1")
    backgrounds = re.findall(r"<td style='[^']*background:(#[0-9a-f]{6})", page)
    assert backgrounds == [_hex(0.0), _hex(1.0), _hex(64 / 255), _hex(191 / 255)]
    assert re.findall(r"<td [^>]*>([0-9.]*)</td>", page) == ["0.00", "1.00", "0.25", "0.75"]
    assert "&lt;sos&gt;" in page and "<sos>" not in page  # tokens are escaped
    assert page.count("<th scope='row'") == 2 and page.count("<th scope='col'") == 2
    assert "<caption" in page and "cross\nlayer 1" in page
    # text stays readable: dark on the bright end, light on the dark end
    assert re.search(rf"background:{_hex(1.0)};color:#000", page)
    assert re.search(rf"background:{_hex(0.0)};color:#fff", page)
    half = heatmap_html(weights, ["a", "b"], ["c", "d"], vmax=0.5)
    assert re.findall(r"background:(#[0-9a-f]{6})", half)[1] == _hex(1.0)  # clipped at vmax


def test_wide_heatmaps_stand_their_key_labels_upright_and_drop_the_numbers():
    words = [f"word{i}" for i in range(30)]
    weights = np.full((30, 30), 1 / 30)
    page = heatmap_html(weights, words, words)
    assert page.count("writing-mode:vertical-rl") == 30  # one upright label per key
    assert re.findall(r"<td [^>]*>([0-9.]+)</td>", page) == []  # 900 cells: colour only
    short = heatmap_html(np.eye(3), ["a", "b", "c"], ["a", "b", "c"])
    assert "writing-mode" not in short


def test_heatmap_checks_its_input():
    with pytest.raises(ValueError, match="do not match"):
        heatmap_html(np.zeros((2, 3)), ["a", "b"], ["c", "d"])
    with pytest.raises(ValueError, match="vmax"):
        heatmap_html(np.zeros((1, 1)), ["a"], ["b"], vmax=0)


def test_bars_are_as_tall_as_their_weight():
    page = bars_html(np.array([0.0, 0.5, 1.0]), ["a", "b", "카페"], title="row", height=100)
    heights = [int(h) for h in re.findall(r"width:1.8em;height:(\d+)px", page)]
    assert heights == [0, 50, 100]
    assert ["0.00", "0.50", "1.00"] == re.findall(r"<span style='font-size:11px'>([0-9.]+)", page)
    assert "카페" in page and "<figcaption" in page
    with pytest.raises(ValueError, match="2 values but 1 labels"):
        bars_html(np.array([0.5, 0.5]), ["a"])


def test_curves_draw_one_polyline_per_curve_inside_the_plot():
    x = np.arange(50)
    page = curves_svg({"sin": np.sin(x / 5), "cos": np.cos(x / 5)}, title="PE", xlabel="pos")
    lines = re.findall(r"<polyline points='([^']*)'", page)
    assert len(lines) == 2
    for points in lines:
        ys = [float(p.split(",")[1]) for p in points.split()]
        assert len(ys) == 50 and min(ys) >= 26 and max(ys) <= 26 + 260 - 26 - 34
    assert "role='img'" in page and "aria-label='PE: sin, cos'" in page
    with pytest.raises(ValueError, match="at least one curve"):
        curves_svg({})
