"""Vocabularies: special ids, round trips, unknown words, files."""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minitransformer.tokens import (
    EOS_ID,
    PAD_ID,
    SOS_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Vocab,
    normalize_text,
    pad_sequences,
    split_words,
)

WORDS = ["어제", "카페", "갔었어", "I", "went", "cafe"]


def test_special_ids_are_fixed():
    vocab = Vocab(WORDS)
    assert (PAD_ID, SOS_ID, EOS_ID, UNK_ID) == (0, 1, 2, 3)
    assert vocab.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"]
    assert [vocab.id(token) for token in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert len(vocab) == 4 + len(WORDS)


@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12))
def test_round_trip(words):
    vocab = Vocab(WORDS)
    text = " ".join(words)
    ids = vocab.encode(text)
    assert all(index >= 4 for index in ids)
    assert vocab.decode(ids) == text
    assert vocab.encode(words) == ids  # a word list works like the text
    assert vocab.decode(vocab.encode(text, add_sos=True, add_eos=True) + [PAD_ID] * 3) == text


def test_unknown_words_become_unk_and_are_reported():
    vocab = Vocab(WORDS)
    encoded = vocab.encode_checked("어제 우주 갔었어 우주")
    assert encoded.ids == [vocab.id("어제"), UNK_ID, vocab.id("갔었어"), UNK_ID]
    assert encoded.unknown == ["우주", "우주"]
    assert vocab.decode(encoded.ids) == "어제 <unk> 갔었어 <unk>"
    assert vocab.encode_checked("어제 카페").unknown == []


def test_decode_strips_specials_and_stops_at_eos():
    vocab = Vocab(WORDS)
    ids = [SOS_ID, vocab.id("I"), vocab.id("went"), EOS_ID, vocab.id("cafe"), PAD_ID]
    assert vocab.decode(ids) == "I went"
    assert vocab.tokens(ids, strip=False) == ["<sos>", "I", "went", "<eos>", "cafe", "<pad>"]
    assert vocab.decode(torch.tensor(ids)) == "I went"


def test_bad_ids_and_words_raise():
    vocab = Vocab(WORDS)
    with pytest.raises(IndexError, match="outside the vocabulary"):
        vocab.decode([99])
    with pytest.raises(IndexError):
        vocab.word(-1)
    for bad in ["two words", "", " 카페", None]:
        with pytest.raises(ValueError, match="single words"):
            Vocab([bad])


def test_build_is_sorted_deduplicated_and_comparable():
    vocab = Vocab.build(["b a", "a c", ["c", "<pad>"]])
    assert vocab.itos[4:] == ["a", "b", "c"]
    assert vocab == Vocab(["a", "b", "c", "a"])
    assert vocab != Vocab(["c", "b", "a"])
    assert hash(vocab) == hash(Vocab(["a", "b", "c"]))
    assert "a" in vocab and "z" not in vocab
    assert "7 tokens" in repr(vocab)
    assert split_words("  a  b ") == ["a", "b"]


def test_save_and_load(tmp_path):
    vocab = Vocab(WORDS)
    path = tmp_path / "vocab.json"
    vocab.save(path)
    assert "카페" in path.read_text(encoding="utf-8")  # Hangul stays readable
    assert Vocab.load(path) == vocab


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        json.dumps({"itos": ["a", "b"]}),
        json.dumps(["<pad>", "<sos>", "<eos>", "<unk>"]),
        json.dumps({"itos": ["<pad>", "<sos>", "<eos>", "<unk>", "a", "a"]}),
    ],
)
def test_load_bad_file_names_it(tmp_path, content):
    path = tmp_path / "broken.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.json"):
        Vocab.load(path)


def test_pad_sequences():
    batch = pad_sequences([[5, 6, 7], [8]])
    assert batch.dtype == torch.long
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert pad_sequences([[5]], length=3, pad_id=9).tolist() == [[5, 9, 9]]
    assert pad_sequences([[]]).shape == (1, 0)


def test_normalize_text_nfc_and_punctuation() -> None:
    import unicodedata

    text = "어제 카페 갔었어, 거기 사람 많더라!"
    assert normalize_text(text) == ["어제", "카페", "갔었어", "거기", "사람", "많더라"]
    assert normalize_text(unicodedata.normalize("NFD", text)) == normalize_text(text)
    assert normalize_text("“카페”…(어제)「갔었어」。") == ["카페", "어제", "갔었어"]
    assert normalize_text("사람-많더라") == ["사람", "많더라"]  # a hyphen is punctuation (Pd)
    assert normalize_text("<unk> 1+1") == ["<unk>", "1+1"]  # symbols (S*) are not punctuation
    assert normalize_text(" \t\n") == []


def test_split_words_refuses_what_is_not_text() -> None:
    assert split_words(("a", "b")) == ["a", "b"]
    for bad, error in (
        (b"a", TypeError),
        (None, TypeError),
        (["a b"], ValueError),
        ([""], ValueError),
    ):
        with pytest.raises(error, match="text"):
            split_words(bad)
