"""Shape trace, parameter count and stack figure of chapter 2."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

import minitransformer as mt
from minitransformer.experiments import encoder_decoder as ed


@pytest.mark.parametrize(
    "config",
    [
        mt.TransformerConfig.small(11, 13),
        mt.TransformerConfig.small(11, 11, share_embeddings=True, tie_output=True, num_layers=3),
        mt.TransformerConfig.small(7, 9, norm_first=True, positional="learned", num_heads=2),
    ],
)
def test_count_parameters_matches_the_model(config) -> None:
    assert ed.count_parameters(config) == mt.Transformer(config).num_parameters()


def test_paper_base_has_about_63_million_parameters() -> None:
    # 37,000 shared tokens: the paper's Table 3 reports 65M for its base model
    assert 60e6 < ed.count_parameters(mt.TransformerConfig.paper_base()) < 66e6


def test_shape_trace_lists_every_block_in_order() -> None:
    config = mt.TransformerConfig.small(11, 13, dropout=0.0)
    model = mt.Transformer(config)
    source = torch.randint(4, 11, (2, 5))
    target = torch.randint(4, 13, (2, 7))
    rows, logits = ed.shape_trace(model, source, target)
    assert logits.shape == (2, 7, 13)
    names = [row.module for row in rows]
    assert names[0] == "source_embedding" and names[-1] == "softmax"
    assert names[-2] == "output_projection"
    assert names.index("encoder.layers.1") < names.index("target_embedding")
    by_name = {row.module: row for row in rows}
    assert by_name["source_embedding"].outputs == "(2, 5, 64)"
    assert by_name["decoder.layers.0.cross_attention"].inputs == "(2, 7, 64) + (2, 5, 64)"
    assert by_name["decoder.layers.0.cross_attention"].outputs == "(2, 7, 64) + (2, 4, 7, 5)"
    assert by_name["encoder.layers.0"].outputs == "(2, 5, 64) + (2, 4, 5, 5)"
    assert by_name["softmax"].outputs == "(2, 7, 13)"
    assert [row.step for row in rows] == list(range(1, len(rows) + 1))
    assert len(rows) == 2 + 3 * 2 + 2 + 4 * 2 + 2
    # hooks are removed afterwards and the model's mode is restored
    assert all(not m._forward_hooks for m in model.modules())
    assert model.training


def test_html_table() -> None:
    table = ed.html_table([{"a": 1, "b": "<x>"}, {"a": 2}])
    assert table.count("<tr>") == 3 and "&lt;x&gt;" in table
    row = ed.ShapeRow(1, "m", "w", "(1)", "(2)")
    assert "<td>m</td>" in ed.html_table([row], ["module"])
    with pytest.raises(ValueError):
        ed.html_table([])


def test_stack_figure() -> None:
    fig = ed.stack_figure(
        [("paper", mt.TransformerConfig.paper_base()), ("book", mt.TransformerConfig.small(9, 9))]
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "encoder layer 6" in texts and "N = 2 + 2" in texts and "63,082,496" in texts
