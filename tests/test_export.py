"""The browser export of the translator (minitransformer.export) and its widget placeholder."""

from __future__ import annotations

import html
import json
import re

import numpy as np
import pytest
import torch

import minitransformer as mt
from minitransformer import viz
from minitransformer.data import PARTICLE_WORDS
from minitransformer.export import (
    BROWSER_MANIFEST,
    BROWSER_WEIGHTS,
    browser_model_files,
    browser_tensors,
    export_browser_model,
    load_browser_model,
    main,
)


@pytest.fixture(scope="module")
def exported(tmp_path_factory, translator):
    directory = tmp_path_factory.mktemp("browser")
    export_browser_model(translator, directory)
    return directory


def test_manifest_describes_every_tensor(exported, translator):
    manifest = json.loads((exported / BROWSER_MANIFEST).read_text(encoding="utf-8"))
    config = translator.config
    assert manifest["config"] == config.to_dict()
    assert manifest["src_vocab"] == translator.src_vocab.itos
    assert manifest["tgt_vocab"] == translator.tgt_vocab.itos
    assert manifest["particles"] == list(PARTICLE_WORDS)  # what the page splits off
    shapes = {entry["name"]: tuple(entry["shape"]) for entry in manifest["tensors"]}
    state = translator.model.state_dict()
    assert set(shapes) == set(state) | {"source_positions.table", "target_positions.table"}
    for name, tensor in state.items():
        assert shapes[name] == tuple(tensor.shape), name
    D, F = config.d_model, config.d_ff
    assert shapes["source_embedding.weight"] == (config.src_vocab_size, D)
    assert shapes["output_projection.weight"] == (config.tgt_vocab_size, D)
    assert shapes["encoder.layers.0.feed_forward.linear1.weight"] == (F, D)
    assert shapes["target_positions.table"] == (config.max_len, D)
    # the offsets tile the binary file exactly, with no gap and no overlap
    stored = sorted((e["offset"], e["length"]) for e in manifest["tensors"] if "offset" in e)
    position = 0
    for offset, length in stored:
        assert offset == position
        position += length
    assert 4 * position == manifest["weights_bytes"] == (exported / BROWSER_WEIGHTS).stat().st_size
    assert manifest["num_parameters"] == translator.model.num_parameters()


def test_round_trip_is_exact(exported, translator):
    arrays, _ = load_browser_model(exported)
    for name, tensor in browser_tensors(translator.model).items():
        np.testing.assert_array_equal(arrays[name], tensor.numpy(), err_msg=name)
    # the sinusoidal table is the package's own, not a re-derivation
    table = mt.sinusoidal_encoding(translator.config.max_len, translator.config.d_model)
    np.testing.assert_array_equal(arrays["source_positions.table"], table.numpy())


def test_reloaded_weights_translate_the_same(exported, translator):
    """A model rebuilt from the exported arrays alone gives the same logits."""
    arrays, manifest = load_browser_model(exported)
    model = mt.Transformer(mt.TransformerConfig.from_dict(manifest["config"]))
    state = {name: torch.from_numpy(arrays[name].copy()) for name in model.state_dict()}
    model.load_state_dict(state)
    model.eval()
    source = torch.tensor([translator.src_vocab.encode(mt.data.NOTES_SOURCE)])
    target = torch.tensor([[mt.tokens.SOS_ID, 5, 6]])
    with torch.no_grad():
        expected = translator.model(source, target).logits
        assert torch.equal(model(source, target).logits, expected)


def test_unchanged_export_keeps_the_files(exported, translator):
    before = {p.name: p.stat().st_mtime_ns for p in exported.iterdir()}
    export_browser_model(translator, exported)
    assert {p.name: p.stat().st_mtime_ns for p in exported.iterdir()} == before


def test_tied_weights_are_written_once(translator):
    config = mt.TransformerConfig.small(20, 20, share_embeddings=True, tie_output=True)
    model = mt.Transformer(config)
    vocab = mt.tokens.Vocab([f"w{i}" for i in range(16)])  # 4 special tokens + 16 = V = 20
    tied = mt.Translator(model, vocab, vocab)
    weights, manifest = browser_model_files(tied)
    entries = {entry["name"]: entry for entry in manifest["tensors"]}
    assert entries["target_embedding.weight"]["same_as"] == "source_embedding.weight"
    assert entries["output_projection.weight"]["same_as"] == "source_embedding.weight"
    assert "output_projection.bias" not in entries
    stored = sum(entry.get("length", 0) for entry in manifest["tensors"])
    assert len(weights) == 4 * stored


def test_corrupted_files_are_named(tmp_path, translator):
    export_browser_model(translator, tmp_path)
    weights = tmp_path / BROWSER_WEIGHTS
    data = bytearray(weights.read_bytes())
    data[100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="checksum"):
        load_browser_model(tmp_path)
    weights.write_bytes(bytes(data[:-4]))
    with pytest.raises(ValueError, match="bytes"):
        load_browser_model(tmp_path)
    manifest = tmp_path / BROWSER_MANIFEST
    values = json.loads(manifest.read_text(encoding="utf-8"))
    manifest.write_text(json.dumps({**values, "format": 99}), encoding="utf-8")
    with pytest.raises(ValueError, match="format 99"):
        load_browser_model(tmp_path)


def test_bad_translator_is_named():
    with pytest.raises(TypeError, match="Translator"):
        browser_model_files(object())


def test_command_line(tmp_path, capsys):
    assert main([str(tmp_path)]) == 0
    assert "translator.bin" in capsys.readouterr().out
    assert (tmp_path / BROWSER_MANIFEST).is_file()
    assert main([]) == 2


def test_widget_placeholder():
    widget = viz.browser_translator('카페 <가자> & "좋아"')
    page = widget._repr_html_()
    assert page.startswith('<div class="mt-browser-translator" data-config="')
    config = json.loads(html.unescape(re.search(r'data-config="([^"]*)"', page).group(1)))
    assert config["sentence"] == '카페 <가자> & "좋아"'
    assert config["colorscale"] == "Viridis" and config["fontFamily"] == viz.PLOTLY_FONT_FAMILY
    assert config["layer"] == -1 and config["head"] is None
    assert "published HTML book" in page  # what Jupyter shows: where it runs
    assert "<가자>" not in page  # the sentence is escaped
    assert viz.browser_translator().sentence == mt.data.NOTES_SOURCE


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"sentence": 3}, TypeError, "sentence must be a str"),
        ({"layer": 1.5}, TypeError, "layer must be an int"),
        ({"layer": None}, TypeError, "layer must be an int"),
        ({"layer": 2}, ValueError, "layer=2 must be in -2..1"),
        ({"head": 4}, ValueError, "head=4 must be in 0..3"),
        ({"head": True}, TypeError, "head must be an int or None"),
    ],
)
def test_widget_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        viz.browser_translator(**kwargs)
