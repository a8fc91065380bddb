"""minitransformer.viz: figures carry the data they are given, and leave no global state."""

from __future__ import annotations

import io
import warnings
from types import SimpleNamespace

import matplotlib
import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib._pylab_helpers import Gcf
from matplotlib.figure import Figure

import minitransformer as mt
from minitransformer import viz
from minitransformer.tokens import Vocab
from minitransformer.viz._style import figure_description

KOREAN = ["어제", "카페", "갔었어", "거기", "사람", "많더라"]


@pytest.fixture(autouse=True)
def _restore_global_state():
    """setup() changes rcParams, warning filters and plotly's template: undo after each test."""
    import plotly.io as pio

    template = pio.templates.default
    with matplotlib.rc_context(), warnings.catch_warnings():
        yield
    pio.templates.default = template


@pytest.fixture
def book_style():
    viz.setup()


def _weights(T: int, S: int, seed: int = 0) -> np.ndarray:
    logits = np.random.default_rng(seed).standard_normal((T, S))
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


# --- matplotlib --------------------------------------------------------------------------------


def test_attention_heatmap_returns_a_figure_with_hangul_ticks(book_style):
    weights = _weights(6, 6)
    fig = viz.attention_heatmap(weights, KOREAN, KOREAN, title="카페 행")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == KOREAN
    assert [t.get_text() for t in ax.get_yticklabels()] == KOREAN
    np.testing.assert_allclose(ax.images[0].get_array(), weights)
    assert ax.images[0].get_clim() == (0.0, 1.0)
    assert Gcf.get_num_fig_managers() == 0  # no pyplot figure was opened
    assert viz.figure_png(fig).startswith(b"\x89PNG")


def test_attention_heatmap_accepts_tensors_with_grad(book_style):
    weights = torch.softmax(torch.randn(3, 4, requires_grad=True), dim=-1)
    fig = viz.attention_heatmap(weights, ["a", "b", "c"], ["w", "x", "y", "z"])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), weights.detach().numpy())


def test_attention_heatmap_annotates_small_maps_only(book_style):
    small = viz.attention_heatmap(_weights(2, 3), ["a", "b"], ["x", "y", "z"])
    large = viz.attention_heatmap(_weights(20, 20), list("abcdefghijklmnopqrst"), list("ab" * 10))
    assert len(small.axes[0].texts) == 6
    assert len(large.axes[0].texts) == 0


@pytest.mark.parametrize("shape", [(2, 3), (2, 2), (6,)])
def test_attention_heatmap_rejects_mismatched_shapes(book_style, shape):
    with pytest.raises(ValueError, match="weights"):
        viz.attention_heatmap(np.zeros(shape), ["a", "b", "c"], ["x", "y"])


def test_missing_glyph_is_an_error_after_setup(book_style):
    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}), pytest.raises(UserWarning):
        viz.attention_heatmap(_weights(1, 1), ["카페"], ["거기"])


def test_setup_makes_the_bundled_hangul_font_the_default(book_style):
    # DejaVu Sans draws Latin text and maths signs (its square root is whole), NanumGothic Hangul
    assert matplotlib.rcParams["font.family"] == ["DejaVu Sans", viz.HANGUL_FONT]
    assert viz.HANGUL_FONT in {f.name for f in matplotlib.font_manager.fontManager.ttflist}


def test_setup_seeds_torch_and_numpy():
    viz.setup(seed=3)
    first = torch.rand(3), np.random.rand(3)
    viz.setup(seed=3)
    second = torch.rand(3), np.random.rand(3)
    assert torch.equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])


def test_positional_heatmap_draws_the_package_encoding(book_style):
    fig = viz.positional_heatmap(length=20, d_model=16)
    np.testing.assert_allclose(
        fig.axes[0].images[0].get_array(), mt.sinusoidal_encoding(20, 16).numpy(), atol=1e-6
    )
    own = viz.positional_heatmap(np.zeros((5, 4)), title="zeros")
    assert own.axes[0].get_title() == "zeros"


def test_positional_curves_draw_the_chosen_dimensions(book_style):
    fig = viz.positional_curves((0, 1, 6), length=30, d_model=8)
    table = mt.sinusoidal_encoding(30, 8).numpy()
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    np.testing.assert_allclose(lines[2].get_ydata(), table[:, 6], atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        viz.positional_curves((8,), d_model=8)


def test_training_curves_group_train_and_val(book_style):
    history = {
        "step": [0, 10, 20],
        "train_loss": [3, 2, 1],
        "val_loss": [3, 2.5, 2],
        "lr": [1, 2, 3],
    }
    fig = viz.training_curves(history)
    assert len(fig.axes) == 2
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train_loss", "val_loss"]
    np.testing.assert_array_equal(fig.axes[0].get_lines()[0].get_xdata(), [0, 10, 20])
    rows = [{"step": s, "loss": v} for s, v in [(1, 2.0), (2, 1.0)]]
    fig = viz.training_curves(rows, logy=True, title="run")
    assert fig.axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="no curves"):
        viz.training_curves(history, keys=["accuracy"])
    with pytest.raises(TypeError):
        viz.training_curves([1, 2, 3])


# --- plotly ------------------------------------------------------------------------------------


def test_unique_labels():
    assert viz.unique_labels(["the", "cat", "the"]) == ["0:the", "1:cat", "2:the"]


def test_slider_heatmap_has_one_restyle_step_per_state():
    states = [_weights(3, 4, seed) for seed in range(5)]
    fig = viz.slider_heatmap(
        states, [f"head {i}" for i in range(5)], ["a", "b", "a", "c"], ["x", "y", "x"],
        slider_name="head", active=2,
    )  # fmt: skip
    assert isinstance(fig, go.Figure)
    heatmap = fig.data[0]
    assert list(heatmap.x) == ["0:a", "1:b", "2:a", "3:c"]  # repeated tokens stay apart
    assert list(heatmap.y) == ["0:x", "1:y", "2:x"]
    assert (heatmap.zmin, heatmap.zmax) == (0.0, 1.0)
    assert heatmap.colorscale[0][1].lower() == "#440154"  # viridis
    np.testing.assert_allclose(heatmap.z, states[2], atol=1e-4)
    (slider,) = fig.layout.sliders
    assert slider.active == 2
    assert [step.label for step in slider.steps] == [f"head {i}" for i in range(5)]
    for step, state in zip(slider.steps, states, strict=True):
        assert step.method == "restyle"
        np.testing.assert_allclose(step.args[0]["z"][0], state, atol=1e-4)
        assert list(step.args[1]) == [0]


def test_slider_heatmap_free_range_and_single_state():
    states = [np.array([[-2.0, 0.0]]), np.array([[1.0, 5.0]])]
    fig = viz.slider_heatmap(states, ["a", "b"], ["x", "y"], ["q"], zmax=None)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-2.0, 5.0)
    single = viz.attention_heatmap_plotly(np.eye(2), ["a", "b"], ["c", "d"], title="t")
    assert not single.layout.sliders
    assert single.layout.title.text == "t"
    assert "Korean" in single.layout.font.family or "Nanum" in single.layout.font.family


@pytest.mark.parametrize(
    ("states", "labels", "message"),
    [([], [], "at least one"), ([np.eye(2)], ["a", "b"], "labels"), ([np.eye(3)], ["a"], "shape")],
)
def test_slider_heatmap_rejects_bad_input(states, labels, message):
    with pytest.raises(ValueError, match=message):
        viz.slider_heatmap(states, labels, ["x", "y"], ["q", "r"])


@settings(max_examples=25, deadline=None)
@given(
    n_states=st.integers(1, 4),
    T=st.integers(1, 5),
    S=st.integers(1, 5),
    seed=st.integers(0, 1000),
)
def test_slider_heatmap_round_trips_any_states(n_states, T, S, seed):
    states = [_weights(T, S, seed + i) for i in range(n_states)]
    fig = viz.slider_heatmap(states, list(range(n_states)), ["k"] * S, ["q"] * T)
    if n_states == 1:
        assert not fig.layout.sliders
    else:
        drawn = [step.args[0]["z"][0] for step in fig.layout.sliders[0].steps]
        for z, state in zip(drawn, states, strict=True):
            np.testing.assert_allclose(z, state, atol=1e-4)
    assert len(set(fig.data[0].x)) == S


def test_positional_explorer_sliders_restyle_every_d_model():
    d_models = (8, 16)
    fig = viz.positional_explorer(d_models, length=12, position=3, dimension=10)
    assert len(fig.data) == 3
    d_slider, *rest = fig.layout.sliders
    pos_sliders, dim_sliders = rest[:2], rest[2:]
    assert [s.label for s in d_slider.steps] == ["8", "16"]
    tables = {d: mt.sinusoidal_encoding(12, d).numpy() for d in d_models}
    data, layout, traces = d_slider.steps[0].args
    assert list(traces) == [0, 1, 2]
    np.testing.assert_allclose(data["z"][0], tables[8], atol=1e-4)
    np.testing.assert_allclose(data["y"][1], tables[8][3], atol=1e-4)
    np.testing.assert_allclose(data["y"][2], tables[8][:, 7], atol=1e-4)  # 10 clipped to 7
    # the D step shows its own position and dimension sliders only, at their start steps
    assert layout == {
        "sliders[1].visible": True, "sliders[2].visible": False,
        "sliders[3].visible": True, "sliders[4].visible": False,
        "sliders[1].active": 3, "sliders[3].active": 7,
    }  # fmt: skip
    assert [s.visible for s in pos_sliders + dim_sliders] == [False, True, False, True]
    # one dimension slider per D, with exactly D steps: no step draws an empty panel
    assert [len(s.steps) for s in dim_sliders] == list(d_models)
    assert [s.active for s in dim_sliders] == [7, 10]
    for d, pos_slider, dim_slider in zip(d_models, pos_sliders, dim_sliders, strict=True):
        assert len(pos_slider.steps) == 12
        np.testing.assert_allclose(pos_slider.steps[5].args[0]["y"][0], tables[d][5], atol=1e-4)
        assert list(pos_slider.steps[5].args[1]) == [1]
        for i, step in enumerate(dim_slider.steps):
            assert list(step.args[1]) == [2]
            np.testing.assert_allclose(step.args[0]["y"][0], tables[d][:, i], atol=1e-4)


@pytest.mark.parametrize(
    "kwargs", [{"d_models": (7,)}, {"position": 99}, {"dimension": 64, "d_models": (16,)}]
)
def test_positional_explorer_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        viz.positional_explorer(**{"length": 20, **kwargs})


# --- ipywidgets --------------------------------------------------------------------------------


def test_random_self_attention_is_seeded_and_row_stochastic():
    sentence = " ".join(KOREAN)
    first = viz.random_self_attention(d_model=16, num_heads=2, num_layers=2, seed=1)(sentence)
    again = viz.random_self_attention(d_model=16, num_heads=2, num_layers=2, seed=1)(sentence)
    other = viz.random_self_attention(d_model=16, num_heads=2, num_layers=2, seed=2)(sentence)
    assert first.weights.shape == (2, 2, 6, 6)
    np.testing.assert_allclose(first.weights.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(first.weights, again.weights)
    assert not np.allclose(first.weights, other.weights)
    states, labels = viz.attention_states(first)
    assert len(states) == len(labels) == 2 * (2 + 1)
    assert labels[:3] == ["L0 H0", "L0 H1", "L0 mean"]


def test_attention_view_checks_its_shape():
    with pytest.raises(ValueError, match="do not match"):
        viz.AttentionView(["a"], ["b", "c"], np.zeros((1, 1, 1, 3)))
    with pytest.raises(ValueError, match="4 dimensions"):
        viz.AttentionView(["a"], ["b"], np.zeros((1, 1)))


def test_live_attention_explorer_shows_a_note_where_no_kernel_runs(book_style):
    explorer = viz.live_attention_explorer(viz.random_self_attention(d_model=8, num_heads=2))
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "needs a running Python kernel" in bundle["text/html"]
    assert "live-only-note" in bundle["text/html"]
    text, controls, message, view = explorer.children
    kind, layer, head, mean = controls.children
    assert kind.options == ("attention",)
    assert head.max == 1
    assert "live-explorer" in explorer._dom_classes and "live-output" in view._dom_classes
    text.value = "the cat sat"
    assert view.value.count("<th scope='col'") == 3 and "layer 0, head 0" in view.value
    head.value = 1
    assert "layer 0, head 1" in view.value
    mean.value = True
    drawn = view.value
    assert "mean of heads" in drawn and head.disabled  # the mean does not depend on the head
    head.value = 0
    assert view.value == drawn
    mean.value = False
    assert not head.disabled
    text.value = "   "  # no words: the explorer reports it instead of raising
    assert "at least one word" in message.value
    assert view.value == ""  # and shows no stale heatmap


def test_live_positional_explorer_builds(book_style):
    explorer = viz.live_positional_explorer(d_model=16, length=20)
    assert "needs a running Python kernel" in explorer._repr_mimebundle_()["text/html"]
    (d_slider, _), (dim_a, dim_b) = (box.children for box in explorer.children[:2])
    view = explorer.children[2]
    assert view.value.count("<polyline") == 2 and "i = 0 (sin)" in view.value
    d_slider.value = 8
    assert dim_a.max == dim_b.max == 7 and "D = 8" in view.value
    dim_a.value = dim_b.value = 3  # the same dimension twice: one curve
    assert view.value.count("<polyline") == 1 and "i = 3 (cos)" in view.value


def _drawings(view) -> list[str]:
    drawn: list[str] = []
    view.observe(lambda change: drawn.append(change["new"]), names="value")
    return drawn


def test_live_explorers_draw_once_per_move(book_style):
    """Controls set together (a new sentence's kinds, a smaller D clamping a slider) give one
    drawing, not one per control."""
    explorer = viz.live_positional_explorer(d_model=16, length=20)
    (d_slider, _), (dim_a, dim_b) = (box.children for box in explorer.children[:2])
    drawn = _drawings(explorer.children[2])
    dim_b.value = 15
    d_slider.value = 8  # clamps dim j from 15 to 7
    assert dim_b.value == 7 and len(drawn) == 2 and "i = 7 (cos)" in drawn[-1]
    kinds = {
        name: viz.AttentionView(["a", "b"], ["a", "b"], np.full((2, 2, 2, 2), 0.5))
        for name in ("one", "two")
    }
    box = viz.live_attention_explorer(lambda sentence: kinds, "a b")
    text, controls, _, view = box.children
    kind, layer, head, _ = controls.children
    drawn = _drawings(view)
    layer.value = 1
    assert len(drawn) == 1
    kinds["one"] = viz.AttentionView(["a"], ["a"], np.ones((1, 1, 1, 1)))  # one layer
    text.value = "a"
    assert layer.value == 0 and len(drawn) == 2  # the layer slider moved back, drawn once


def test_transformer_attention_reads_every_map_of_a_model(book_style):
    torch.manual_seed(0)
    src = Vocab(KOREAN)
    tgt = Vocab(["I", "went", "to", "the", "cafe", "yesterday"])
    config = mt.TransformerConfig.small(len(src), len(tgt), num_layers=2, num_heads=2, d_model=16)
    model = mt.Transformer(config)
    encoder_only = viz.transformer_attention(model, src, tgt)(" ".join(KOREAN))
    assert list(encoder_only) == ["encoder self-attention"]
    assert encoder_only["encoder self-attention"].weights.shape == (2, 2, 6, 6)
    translate = viz.transformer_attention(model, src, tgt, translate=lambda s: "I went there")
    views = translate("어제 카페 갔었어")
    cross = views["cross-attention"]
    assert cross.query_tokens == ["<sos>", "I", "went", "<unk>"]
    assert cross.key_tokens == ["어제", "카페", "갔었어"]
    assert cross.weights.shape == (2, 2, 4, 3)
    masked = views["decoder self-attention (masked)"].weights
    assert np.allclose(np.triu(masked, k=1), 0.0)  # no query looks at a later key
    assert model.training  # restored
    explorer = viz.live_attention_explorer(translate, "어제 카페 갔었어")
    assert len(explorer.children[1].children[0].options) == 3
    translator = SimpleNamespace(
        model=model, src_vocab=src, tgt_vocab=tgt, translate=lambda sentence: "I went"
    )
    views = viz.translator_attention(translator)("어제 카페")
    assert views["cross-attention"].query_tokens == ["<sos>", "I", "went"]


def test_live_only_wraps_any_widgets(book_style):
    import ipywidgets

    output = ipywidgets.Output()
    box = viz.live_only([ipywidgets.IntSlider(), output], what="Move it.")
    bundle = box._repr_mimebundle_()
    assert (
        "Move it." in bundle["text/html"] and "needs a running Python kernel" in bundle["text/html"]
    )
    viz.show_figure(output, viz.positional_curves((0,), length=5, d_model=4))


def test_show_source_is_the_installed_source():
    import inspect
    import textwrap

    import minitransformer as mt
    from minitransformer import viz

    view = viz.show_source(mt.MultiHeadAttention.forward)
    assert view.qualified_name == "minitransformer.attention.MultiHeadAttention.forward"
    assert view.kind == "method" and view.path == "minitransformer/attention.py"
    assert view.code == textwrap.dedent(inspect.getsource(mt.MultiHeadAttention.forward))
    markdown = view._repr_markdown_()
    assert "{py:meth}`MultiHeadAttention.forward <minitransformer.attention." in markdown
    assert "```python\n" in markdown
    assert viz.show_source(mt.Transformer).kind == "class"
    assert viz.show_source(mt.scaled_dot_product_attention).kind == "function"
    with pytest.raises(TypeError, match="show_source takes"):
        viz.show_source(len)


def test_figure_png_carries_what_the_figure_shows(book_style):
    """The PNG's Description (the book's build makes it the image's alt text) names the
    figure's title and each panel's axes."""
    from PIL import Image

    fig = viz.attention_heatmap(_weights(2, 2), ["카페", "b"], ["x", "y"], title="one head")
    description = figure_description(fig)
    assert description == "Figure: one head. Axes: x key (S), y query (T)."
    with Image.open(io.BytesIO(viz.figure_png(fig))) as image:
        assert image.info["Description"] == description
    curves = viz.training_curves({"step": [0, 1], "train_loss": [2.0, 1.0], "val_acc": [0, 1]})
    assert "Panel 1: x step, y loss." in figure_description(curves)


def test_loglog_times_draws_curves_fits_and_refuses_bad_input(book_style):
    n = [8, 16, 32, 64]
    seconds = {"quadratic": [1e-6 * v**2 for v in n], "linear": [1e-5 * v for v in n]}
    fig = viz.loglog_times(n, seconds, fit_from=16, slopes={"quadratic": 2.0}, dashed=["linear"])
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["quadratic: slope 2.00", "linear"]
    fitted = ax.lines[0]  # the straight fit, drawn under its curve, over n >= 16 only
    np.testing.assert_allclose(fitted.get_xdata(), [16, 32, 64])
    np.testing.assert_allclose(fitted.get_ydata(), seconds["quadratic"][1:])
    assert ax.lines[-1].get_linestyle() == "--"
    assert Gcf.get_num_fig_managers() == 0
    with pytest.raises(ValueError, match="not curves"):
        viz.loglog_times(n, seconds, slopes={"cubic": 3.0})
    with pytest.raises(ValueError, match="needs 4 positive values"):
        viz.loglog_times(n, {"bad": [1.0, 2.0]})
    with pytest.raises(ValueError, match="lengths must be positive"):
        viz.loglog_times([0, 1, 2, 3], seconds)
