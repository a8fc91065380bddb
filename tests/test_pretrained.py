"""The shipped translator: loads, translates the held-out set, fails clearly on bad files."""

from __future__ import annotations

import dataclasses
import json
import shutil
import unicodedata

import pytest
import torch

import minitransformer as mt
from minitransformer import pretrained
from minitransformer.data import (
    RichChoice,
    RichClause,
    build_rich_pair,
    notes_example,
    split_particles,
)
from minitransformer.pretrained import (
    CHECKPOINT_DIR,
    METADATA_FILE,
    WEIGHTS_FILE,
    CheckpointError,
    load_pretrained,
    save_translator,
    train_translator,
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A 3-step translator on a small corpus, saved to a temporary folder."""
    recipe = {"num_train": 200, "num_held_out": 20, "steps": 3, "batch_size": 16}
    model = train_translator(recipe, progress=False)
    folder = tmp_path_factory.mktemp("tiny")
    save_translator(model, folder)
    return model, folder


def test_checkpoint_is_in_the_package_and_small():
    weights, metadata = CHECKPOINT_DIR / WEIGHTS_FILE, CHECKPOINT_DIR / METADATA_FILE
    assert weights.is_file() and metadata.is_file()
    assert weights.stat().st_size + metadata.stat().st_size < 5 * 1024 * 1024
    assert mt.load_pretrained is load_pretrained


def test_loads_in_eval_mode_with_the_book_config(translator, corpus):
    assert not translator.model.training
    assert translator.config == mt.TransformerConfig.small(
        len(translator.src_vocab), len(translator.tgt_vocab)
    )
    assert translator.src_vocab == corpus.src_vocab and translator.tgt_vocab == corpus.tgt_vocab
    assert translator.metadata["recipe"] == pretrained.RECIPE
    assert f"{translator.model.num_parameters():,} parameters" in repr(translator)


def test_held_out_exact_match_at_least_98_percent(translator, corpus):
    assert translator.exact_match(corpus.held_out) >= 0.98


def right_texts(pair) -> set[str]:
    return {" ".join(words) for words in pair.right_targets}


def test_translates_the_notes_sentence(translator):
    pair = notes_example("rich")
    greedy = translator.translate(pair.source_text)
    # greedy writes a right translation, though not the likeliest one: beam search finds that,
    # the notes' own order
    assert greedy in right_texts(pair) and greedy != pair.target_text
    assert translator.translate(pair.source_text, beam_width=3) == pair.target_text
    forced = translator.translate(pair.source_text, force={1: "you"})
    assert forced == "you" + pair.target_text[1:]
    park = build_rich_pair(RichChoice((RichClause("movement", 3, 2, 0, subject=2),)))
    assert park.source_text == "너 는 주말에 공원 갔었어"
    notes_text, park_text = translator.translate_batch(
        [pair.source_text, "너는 주말에 공원 갔었어"]
    )
    assert notes_text == greedy and park_text in right_texts(park)  # 너는 is read as 너 는
    best = translator.beam(pair.source_text, beam_width=2)
    assert translator.tgt_vocab.decode(best.tokens) == pair.target_text


def test_unknown_words_are_reported_not_fatal(translator):
    text = "어제 우주 갔었어"
    assert translator.unknown_words(text) == ["우주"]
    assert isinstance(translator.translate(text), str)
    assert translator.unknown_words("어제 카페 갔었어") == []
    with pytest.raises(ValueError, match="empty"):
        translator.translate("   ")
    with pytest.raises(ValueError, match="not in the English vocabulary"):
        translator.translate("어제 카페 갔었어", force={1: "dragon"})
    with pytest.raises(ValueError, match="greedy"):
        translator.translate("어제 카페 갔었어", beam_width=2, force={1: "you"})


def test_trace_and_top_words(translator):
    records = translator.trace("어제 카페 갔었어", force={1: "you"})
    words = [translator.tgt_vocab.word(record.token) for record in records]
    assert words == ["you", "went", "to", "the", "cafe", "yesterday", "<eos>"]
    top = translator.top_words(records[0].probabilities, k=3)
    # the time phrase first (front, front with comma) is likelier than the subject first
    assert [word for word, _ in top[:2]] == ["yesterday", "I"] and len(top) == 3
    assert top[0][1] > top[1][1] > 0.2


def test_attention_maps_with_token_lists(translator):
    pair = notes_example()
    pair = dataclasses.replace(pair, target=tuple(translator.translate(pair.source_text).split()))
    maps = translator.attention(pair.source_text)  # English defaults to the translation
    S, T = len(pair.source), len(pair.target) + 1
    H, N = translator.config.num_heads, translator.config.num_layers
    assert maps.source_tokens == list(pair.source)
    assert maps.decoder_tokens == ["<sos>", *pair.target]
    assert maps.output_tokens == [*pair.target, "<eos>"]
    assert len(maps.encoder) == len(maps.decoder_self) == len(maps.cross) == N
    assert maps.encoder[0].shape == (H, S, S)
    assert maps.decoder_self[0].shape == (H, T, T)
    assert maps.cross[-1].shape == (H, T, S)
    assert torch.triu(maps.decoder_self[0], diagonal=1).abs().max() == 0  # no peeking ahead
    cafe = maps.output_tokens.index("cafe")
    assert maps.source_tokens[int(maps.cross[-1][:, cafe].mean(0).argmax())] == "카페"
    given = translator.attention(pair.source_text, notes_example().target_text)
    assert given.output_tokens == [*notes_example().target, "<eos>"]


def test_alignment_score(translator, corpus):
    pairs = corpus.held_out[:100]
    content = translator.alignment_score(pairs)
    assert content >= 0.9
    assert translator.alignment_score(pairs, content_only=False) < content
    assert 0.0 <= translator.alignment_score(pairs, layer=0, head=0, batch_size=32) <= 1.0
    with pytest.raises(ValueError, match="no aligned"):
        translator.alignment_score([])


def test_save_and_load_round_trip(tiny):
    model, folder = tiny
    loaded = load_pretrained(folder)
    assert loaded.config == model.config and loaded.tgt_vocab == model.tgt_vocab
    for name, tensor in model.model.state_dict().items():
        torch.testing.assert_close(loaded.model.state_dict()[name], tensor)
    assert loaded.metadata["recipe"]["steps"] == 3
    assert loaded.translate("어제 카페 갔었어") == model.translate("어제 카페 갔었어")


def test_missing_file_names_it(tmp_path, tiny):
    with pytest.raises(CheckpointError, match=METADATA_FILE):
        load_pretrained(tmp_path)
    shutil.copy(tiny[1] / METADATA_FILE, tmp_path / METADATA_FILE)
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_pretrained(tmp_path)


def test_corrupted_weights_name_the_file(tmp_path, tiny):
    shutil.copytree(tiny[1], tmp_path, dirs_exist_ok=True)
    (tmp_path / WEIGHTS_FILE).write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_pretrained(tmp_path)


@pytest.mark.parametrize(
    "change",
    [
        lambda meta: meta.update(format=99),
        lambda meta: meta.pop("config"),
        lambda meta: meta["config"].update(d_model=63),
        lambda meta: meta.update(src_vocab=["a"]),
    ],
)
def test_bad_metadata_names_the_file(tmp_path, tiny, change):
    shutil.copytree(tiny[1], tmp_path, dirs_exist_ok=True)
    meta = json.loads((tmp_path / METADATA_FILE).read_text(encoding="utf-8"))
    change(meta)
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match=METADATA_FILE):
        load_pretrained(tmp_path)


def test_mismatched_weights_name_the_file(tmp_path, tiny):
    shutil.copytree(tiny[1], tmp_path, dirs_exist_ok=True)
    meta = json.loads((tmp_path / METADATA_FILE).read_text(encoding="utf-8"))
    meta["config"]["d_ff"] = 128  # the saved weights have d_ff 256
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE):
        load_pretrained(tmp_path)
    meta["config"]["d_ff"] = 256
    meta["src_vocab"] = meta["src_vocab"][:-1]  # one word short of the config
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(CheckpointError, match="do not match"):
        load_pretrained(tmp_path)


def test_command_line(tmp_path, tiny, monkeypatch, capsys):
    assert pretrained.main(["--output", str(tiny[1])]) == 0
    assert "held-out exact match" in capsys.readouterr().out
    for key, value in {"num_train": 100, "num_held_out": 10, "batch_size": 8}.items():
        monkeypatch.setitem(pretrained.RECIPE, key, value)
    assert pretrained.main(["--retrain", "--steps", "2", "--output", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert load_pretrained(tmp_path).metadata["recipe"]["steps"] == 2


# -- validation before the model is built (issue 15) -------------------------------------------

from safetensors.torch import load_file, save_file  # noqa: E402


def _copy(tiny, tmp_path):
    shutil.copytree(tiny[1], tmp_path, dirs_exist_ok=True)
    return json.loads((tmp_path / METADATA_FILE).read_text(encoding="utf-8"))


def _write_meta(tmp_path, meta):
    (tmp_path / METADATA_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def _rewrite_weights(tmp_path, change):
    state = load_file(str(tmp_path / WEIGHTS_FILE))
    change(state)
    save_file(state, str(tmp_path / WEIGHTS_FILE), metadata={"format": "1"})


WEIGHT_CHANGES = {
    "nan": (
        lambda s: (
            s["encoder.layers.0.feed_forward.linear1.weight"].view(-1).__setitem__(0, float("nan"))
        ),
        "NaN",
    ),
    "inf": (lambda s: s["output_projection.bias"].__setitem__(0, float("inf")), "infinite"),
    "int32": (
        lambda s: s.__setitem__("output_projection.bias", s["output_projection.bias"].int()),
        "int32",
    ),
    "float64": (
        lambda s: s.__setitem__("output_projection.bias", s["output_projection.bias"].double()),
        "float64",
    ),
    "shape": (
        lambda s: s.__setitem__("output_projection.bias", s["output_projection.bias"][:-1].clone()),
        "shape",
    ),
    "missing": (lambda s: s.pop("output_projection.bias"), "missing"),
    "extra": (lambda s: s.__setitem__("extra.weight", torch.zeros(2)), "unexpected"),
}


@pytest.mark.parametrize("kind", sorted(WEIGHT_CHANGES))
def test_bad_weights_are_refused_naming_file_and_tensor(tmp_path, tiny, kind):
    _copy(tiny, tmp_path)
    change, word = WEIGHT_CHANGES[kind]
    _rewrite_weights(tmp_path, change)
    with pytest.raises(CheckpointError, match=WEIGHTS_FILE) as raised:
        load_pretrained(tmp_path)
    assert word in str(raised.value)


def test_weights_changed_after_saving_fail_the_hash(tmp_path, tiny):
    _copy(tiny, tmp_path)
    _rewrite_weights(tmp_path, lambda s: s["output_projection.bias"].add_(0.5))
    with pytest.raises(CheckpointError, match=r"sha256\.weights"):
        load_pretrained(tmp_path)


META_CHANGES = {
    "huge d_ff": (lambda m: m["config"].update(d_ff=20_000_000), "config.d_ff"),
    "num_heads": (lambda m: m["config"].update(num_heads=8), "'config'"),
    "max_len": (lambda m: m["config"].update(max_len=128), "'config'"),
    "reordered vocab": (
        lambda m: m.update(src_vocab=[*m["src_vocab"][:4], *m["src_vocab"][:3:-1]]),
        "'src_vocab'",
    ),
    "renamed word": (lambda m: m["tgt_vocab"].__setitem__(4, "dragon"), "'tgt_vocab'"),
    "no hashes": (lambda m: m.pop("sha256"), "'sha256'"),
    "bad hashes": (lambda m: m.update(sha256={"config": 1}), "'sha256'"),
    "not an object": (
        lambda m: (
            m.clear() or m.update(config="x", format=1, src_vocab=[], tgt_vocab=[], sha256={})
        ),
        "'config'",
    ),
    "vocab of ints": (lambda m: m.update(src_vocab=[1, 2]), "'src_vocab'"),
    "norm_first str": (lambda m: m["config"].update(norm_first="no"), "norm_first"),
    "eps": (lambda m: m["config"].update(layer_norm_eps=-1), "layer_norm_eps"),
}


@pytest.mark.parametrize("kind", sorted(META_CHANGES))
def test_bad_metadata_is_refused_naming_file_and_field(tmp_path, tiny, kind):
    meta = _copy(tiny, tmp_path)
    change, field = META_CHANGES[kind]
    change(meta)
    _write_meta(tmp_path, meta)
    with pytest.raises(CheckpointError, match=METADATA_FILE) as raised:
        load_pretrained(tmp_path)
    assert field in str(raised.value)


def test_metadata_that_is_not_json_or_not_an_object(tmp_path, tiny):
    _copy(tiny, tmp_path)
    (tmp_path / METADATA_FILE).write_bytes(b"\xff\xfe not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_pretrained(tmp_path)
    (tmp_path / METADATA_FILE).write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CheckpointError, match="JSON object"):
        load_pretrained(tmp_path)


def test_the_shipped_metadata_records_hashes(translator):
    meta = json.loads((CHECKPOINT_DIR / METADATA_FILE).read_text(encoding="utf-8"))
    assert set(meta["sha256"]) == {"config", "src_vocab", "tgt_vocab", "weights"}
    assert "sha256" not in translator.metadata


# -- the translator's front door -----------------------------------------------------------------


def test_translate_result_reports_what_the_model_read(translator):
    pair = notes_example()
    result = translator.translate_result("어제 우주 갔었어")
    assert isinstance(result, mt.TranslationResult)
    assert result.source_words == ["어제", "우주", "갔었어"]
    assert result.source_tokens == ["어제", "<unk>", "갔었어"]
    assert result.unknown == ["우주"] and result.has_unknown and not result.all_unknown
    assert result.text == " ".join(result.output_tokens) == translator.translate("어제 우주 갔었어")
    assert translator.tgt_vocab.encode(result.output_tokens) == result.output_ids
    clean = translator.translate_result(pair.source_text, beam_width=3, length_penalty=0.6)
    assert clean.text == pair.target_text and not clean.unknown  # the notes' order
    assert clean.beam is not None and clean.beam.hypotheses[0].finished


def test_punctuation_and_decomposed_hangul_are_normalised(translator):
    pair = notes_example()
    words = pair.source_text.split()
    punctuated = f"{words[0]} {words[1]} {words[2]}, {words[3]} {words[4]} {words[5]}!"
    plain = translator.translate(pair.source_text)
    assert translator.translate(punctuated) == plain
    nfd = unicodedata.normalize("NFD", pair.source_text)
    assert nfd != pair.source_text and translator.translate(nfd) == plain
    assert translator.unknown_words(nfd) == []
    assert translator.translate([f"{w}." for w in words]) == plain  # a list of words
    assert translator.translate_batch([punctuated, nfd]) == [plain] * 2


def test_particles_typed_onto_a_noun_are_split_off(translator):
    spaced = "어제 공원 에서 민수 가 지수 를 만났어"
    typed = "어제 공원에서 민수가 지수를 만났어"
    assert translator.translate_result(typed).source_words == spaced.split()
    assert translator.translate(typed) == translator.translate(spaced)
    assert translator.unknown_words(typed) == []
    # an unknown noun keeps its particle (the word stays whole and is reported)
    assert translator.unknown_words("어제 우주에서 민수가 만났어") == ["우주에서"]
    assert split_particles(["카페에서", "책을", "형은", "에서"], {"카페", "에서", "책", "을"}) == [
        "카페", "에서", "책", "을", "형은", "에서",
    ]  # fmt: skip


def test_only_unknown_words_warn(translator):
    with pytest.warns(mt.UnknownWordsWarning, match="none of the words"):
        text = translator.translate("우주 행성")
    assert isinstance(text, str)
    assert translator.translate_result("우주 행성").all_unknown
    with pytest.warns(mt.UnknownWordsWarning, match=r"sentences\[1\]"):
        translator.translate_batch(["어제 카페 갔었어", "우주"])


def test_translate_beam_width_is_checked_not_silently_greedy(translator):
    pair = notes_example()
    assert translator.translate(pair.source_text, beam_width=2) == pair.target_text
    for bad, error in ((0, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(error, match="beam_width"):
            translator.translate(pair.source_text, beam_width=bad)


def test_live_explorers_name_unknown_words(translator):
    from minitransformer.viz.live import _unknown_note, translator_attention

    attend = translator_attention(translator)
    views = attend("어제 우주 갔었어!")
    assert views["encoder self-attention"].key_tokens == ["어제", "<unk>", "갔었어"]
    assert attend.unknown_words("어제 우주 갔었어!") == ["우주"]
    assert "우주" in _unknown_note(attend, "어제 우주 갔었어") and "&lt;unk&gt;" in _unknown_note(
        attend, "어제 우주 갔었어"
    )
    assert _unknown_note(attend, "어제 카페 갔었어") == ""
    assert _unknown_note(lambda sentence: None, "우주") == ""
