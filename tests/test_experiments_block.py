"""Chapter 8 experiments: parameter counts, depth profiles, the nn.Transformer twin, figures."""

from __future__ import annotations

import pytest
import torch

import minitransformer as mt
from minitransformer.experiments import block


@pytest.mark.parametrize(
    "config",
    [
        mt.TransformerConfig.paper_base(),
        mt.TransformerConfig.paper_big(),
        mt.TransformerConfig.small(93, 91),
        mt.TransformerConfig.small(93, 91, norm_first=True, positional="learned"),
    ],
)
def test_breakdown_sums_to_the_built_model(config: mt.TransformerConfig) -> None:
    parts = block.parameter_breakdown(config)
    assert set(parts) == set(block.COMPONENTS)
    assert sum(parts.values()) == block.counted_parameters(config)


def test_paper_sizes() -> None:
    base = sum(block.parameter_breakdown(mt.TransformerConfig.paper_base()).values())
    big = sum(block.parameter_breakdown(mt.TransformerConfig.paper_big()).values())
    assert (base, big) == (63_082_496, 214_245_376)
    assert block.paper_like(512, 6).to_dict() == mt.TransformerConfig.paper_base().to_dict()


def test_depth_profile_shows_what_residual_and_layernorm_do() -> None:
    profile = block.depth_profile(8, d_model=16, num_heads=2, d_ff=32, length=4, batch=2)
    assert set(profile.activation) == set(block.WIRINGS)
    assert all(len(v) == 8 for v in profile.gradient.values())
    post = profile.activation["post-LN"]
    assert max(abs(a - 1.0) for a in post) < 0.05  # LayerNorm keeps the stream at unit RMS
    assert profile.activation["residual, no LayerNorm"][-1] > profile.activation["post-LN"][-1]
    neither = profile.gradient["neither"]
    assert neither[0] < 1e-3 * profile.gradient["post-LN"][0]  # vanishing without residuals


@pytest.mark.parametrize("norm_first", [False, True])
def test_torch_twin_gives_the_same_logits(norm_first: bool) -> None:
    torch.manual_seed(0)
    config = mt.TransformerConfig.small(20, 21, norm_first=norm_first, dropout=0.0)
    model = mt.Transformer(config).double().eval()
    twin = block.torch_twin(model)
    assert isinstance(twin, torch.nn.Transformer)
    source = torch.randint(4, 20, (3, 7))
    source[1, 5:] = config.pad_id
    target = torch.randint(4, 21, (3, 6))
    target[2, 4:] = config.pad_id
    real = target != config.pad_id
    with torch.no_grad():
        ours = model(source, target).logits
    theirs = block.twin_logits(model, twin, source, target)
    torch.testing.assert_close(ours[real], theirs[real], atol=1e-10, rtol=0)
    assert (twin.encoder.norm is None) != norm_first


def test_figures_and_widget() -> None:
    encoder, decoder = mt.EncoderLayer(16, 2, 32), mt.DecoderLayer(16, 2, 32)
    assert [name for name, _ in block.sublayers(decoder)] == [
        "self_attention", "cross_attention", "feed_forward",
    ]  # fmt: skip
    fig = block.block_diagram(encoder, decoder)
    assert len(fig.axes) == 2
    plot = block.parameter_slider_figure((64, 512), (1, 6), active=1)
    assert len(plot.layout.sliders[0].steps) == 2
    totals = plot.data[-1].y
    assert totals[-1] == pytest.approx(63.08, abs=0.01)
    table = block.html_table([{"model": "<base>", "D": 512}])
    assert "<th>model</th>" in table and "&lt;base&gt;" in table
    widget = block.live_parameter_counter()
    html = widget.children[-1].value
    assert "63,082,496" in html and "equal" in html
    sliders = widget.children[0].children[0].children
    sliders[1].value = 7  # 512 is not divisible by 7: a message, not an exception
    assert "divisible" in widget.children[-1].value
