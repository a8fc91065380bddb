"""Chapter 8 experiments: parameter counts, depth profiles, the nn.Transformer twin, figures."""

from __future__ import annotations

import pytest
import torch

import minitransformer as mt
from minitransformer import torch_reference
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
    theirs = torch_reference.twin_logits(model, twin, source, target)
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
    assert '<th scope="col">model</th>' in table  # every cell has a column header
    assert '<th scope="row">&lt;base&gt;</th><td>512</td>' in table  # and a row header
    assert '<th scope="col">setting</th>' in block.html_table([{"": "D", "base": 512}])
    widget = block.live_parameter_counter()
    html = widget.children[-1].value
    assert "63,082,496" in html and "equal" in html
    sliders = widget.children[0].children[0].children
    sliders[1].value = 7  # 512 is not divisible by 7: a message, not an exception
    assert "divisible" in widget.children[-1].value


def test_parameter_counter_builds_each_configuration_once(monkeypatch) -> None:
    built = []
    real = block.counted_parameters
    monkeypatch.setattr(
        block, "counted_parameters", lambda config: built.append(config) or real(config)
    )
    widget = block.live_parameter_counter()
    d_slider = widget.children[0].children[0].children[0]
    d_slider.value = 256
    d_slider.value = 512  # back: counted from the first build, not built again
    assert len(built) == 2 and "63,082,496" in widget.children[-1].value


def test_depth_profiles_over_seeds_and_figure() -> None:
    profiles = block.depth_profiles(4, seeds=(0, 1), d_model=16, num_heads=2, d_ff=32, length=4,
                                    batch=2)  # fmt: skip
    arrays = block.depth_arrays(profiles)
    assert arrays["post-LN"]["gradient"].shape == (2, 4)
    assert not (arrays["pre-LN"]["gradient"][0] == arrays["pre-LN"]["gradient"][1]).all()
    fig = block.depth_figure(profiles)
    assert len(fig.data) == 4 * 2 * 3  # wirings x panels x (band low, band high, mean)
    mean = fig.data[2].y
    assert mean == pytest.approx(arrays["post-LN"]["activation"].mean(0).tolist())


def test_depth_layers_differ_by_layer_but_not_by_wiring() -> None:
    post = block.untrained_layers(3, 16, 2, 32, seed=0)
    pre = block.untrained_layers(3, 16, 2, 32, seed=0, norm_first=True)
    first = post[0].feed_forward.linear1.weight
    assert not torch.equal(first, post[1].feed_forward.linear1.weight)  # its own weights
    for a, b in zip(post, pre, strict=True):  # the same weights for every wiring
        assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert pre[0].attention_block.norm_first and not post[0].attention_block.norm_first


def test_warmup_lr_has_the_same_peak_with_and_without_the_ramp() -> None:
    with_ramp = [block.warmup_lr(s, 0.01, 10) for s in range(1, 41)]
    without = [block.warmup_lr(s, 0.01, 10, ramp=False) for s in range(1, 41)]
    assert max(with_ramp) == max(without) == pytest.approx(0.01)
    assert with_ramp[0] == pytest.approx(0.001) and without[0] == pytest.approx(0.01)
    assert with_ramp[9:] == pytest.approx(without[9:])  # equal from the end of the warm-up on
    noam = [mt.noam_lr(s, 64, 10) for s in range(1, 41)]
    assert [x / noam[9] for x in noam] == pytest.approx([x / 0.01 for x in with_ramp])


def test_train_with_schedule_and_warmup_runs() -> None:
    corpus = mt.data.make_corpus(48, 16, seed=0)
    torch.manual_seed(0)
    config = mt.TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab), d_model=16,
                                        num_heads=2, d_ff=32, num_layers=1)  # fmt: skip
    model = mt.Transformer(config)
    before = [p.detach().clone() for p in model.parameters()]
    losses = block.train_with_schedule(model, corpus.encoded(), lambda step: 0.0, steps=2,
                                       batch_size=8)  # fmt: skip
    assert len(losses) == 2 and not model.training
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    losses = block.train_with_schedule(model, corpus.encoded(), lambda step: 0.01, steps=30,
                                       batch_size=16)  # fmt: skip
    assert sum(losses[-5:]) < sum(losses[:5])  # it learns
    accuracy = block.teacher_forced_accuracy(model, corpus.encoded("held_out"))
    assert 0.0 <= accuracy <= 1.0
    runs = block.warmup_runs(corpus, seeds=(0,), steps=2, warmup=1, batch_size=4)
    assert [(r.wiring, r.warmup) for r in runs] == [
        ("post-LN", True), ("post-LN", False), ("pre-LN", True), ("pre-LN", False),
    ]  # fmt: skip
    assert all(len(r.loss) == 2 and 0.0 <= r.accuracy <= 1.0 for r in runs)


def test_torch_twin_with_default_stacks_differs() -> None:
    torch.manual_seed(0)
    model = mt.Transformer(mt.TransformerConfig.small(20, 21, dropout=0.0)).eval()
    with torch.no_grad():  # as after training: the layers' LayerNorm gains and shifts moved
        for name, parameter in model.named_parameters():
            if "norm" in name:
                parameter.add_(0.5 * torch.randn_like(parameter))
    source, target = torch.randint(4, 20, (2, 5)), torch.randint(4, 21, (2, 4))
    with torch.no_grad():
        ours = model(source, target).logits
    default_twin = block.torch_twin(model, default_stacks=True)
    default = torch_reference.twin_logits(model, default_twin, source, target)
    assert (ours - default).abs().max() > 1e-2  # the extra final LayerNorms change the logits
