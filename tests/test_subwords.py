"""Byte-pair encoding: learning order and ties, round trips, unseen words, vocabulary size,
bad input."""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minitransformer.data import make_corpus
from minitransformer.subwords import BPE, END_OF_WORD, Merge, segmented_length
from minitransformer.tokens import UNK

LETTERS = "abcde어제카페"
word_st = st.text(alphabet=LETTERS, min_size=1, max_size=8)
counts_st = st.dictionaries(word_st, st.integers(1, 5), min_size=1, max_size=6)


def _corpus_counts() -> Counter:
    corpus = make_corpus(400, 0, seed=0)
    return Counter(w for pair in corpus.train for w in (*pair.source, *pair.target))


def _by_hand(units: list[str], merges: tuple[Merge, ...]) -> list[str]:
    """Every merge in order, written as a text substitution on the space-separated units (a
    second, independent formulation of the same definition)."""
    text = " ".join(units)
    for merge in merges:
        pattern = r"(?<!\S)" + re.escape(" ".join(merge.pair)) + r"(?!\S)"
        text = re.sub(pattern, merge.unit, text)
    return text.split(" ")


@given(counts_st, st.integers(0, 30), st.text(alphabet=LETTERS, min_size=1, max_size=10))
def test_round_trip_for_any_word_of_known_characters(counts, num_merges, word):
    bpe = BPE.learn(counts, num_merges)
    units = bpe.encode(word)
    if set(word) <= set(bpe.symbols):
        assert UNK not in units and set(units) <= set(bpe.vocabulary)
        assert bpe.decode(units) == word
    assert units[-1].endswith(END_OF_WORD)
    assert all(END_OF_WORD not in unit for unit in units[:-1])  # the marker only ends a word


@given(counts_st, st.integers(0, 30))
def test_a_sentence_of_words_round_trips(counts, num_merges):
    bpe = BPE.learn(counts, num_merges)
    words = sorted(counts)
    units = [unit for word in words for unit in bpe.encode(word)]
    assert bpe.decode(units) == " ".join(words)


@given(counts_st, st.integers(0, 30))
def test_encode_applies_the_merges_in_order_as_defined(counts, num_merges):
    bpe = BPE.learn(counts, num_merges)
    for word in counts:
        assert bpe.encode(word) == _by_hand([*word, END_OF_WORD], bpe.merges)


def test_merges_follow_frequency_and_documented_ties():
    # a b: 5 + 2 = 7 side by side, the most frequent. Then five pairs stand 5 times each
    # (ab </w>, c d, d </w>, x y, y </w>): the tie goes to the pair that sorts first.
    bpe = BPE.learn({"ab": 5, "abcd": 2, "cd": 3, "xy": 5}, 4)
    assert list(bpe.merges) == [
        Merge(("a", "b"), 7),
        Merge(("ab", END_OF_WORD), 5),  # "ab" sorts before "c", "d", "x", "y"
        Merge(("c", "d"), 5),
        Merge(("cd", END_OF_WORD), 5),  # "cd" sorts before "x"
    ]
    assert bpe.encode("abcd") == ["ab", "cd</w>"]
    assert bpe.encode("xy") == ["x", "y", END_OF_WORD]


def test_each_merge_is_the_most_frequent_pair_at_its_step():
    counts = _corpus_counts()
    bpe = BPE.learn(counts, 40)
    for k, merge in enumerate(bpe.merges):
        before = BPE(bpe.symbols, bpe.merges[:k])
        pairs: Counter = Counter()
        for word, n in counts.items():
            units = before.encode(word)
            for left, right in pairwise(units):
                pairs[left, right] += n
        best = max(pairs.values())
        assert merge.count == pairs[merge.pair] == best  # no doubled units in this corpus
        assert merge.pair == min(p for p, c in pairs.items() if c == best)  # documented tie


def test_doubled_units_count_once_per_possible_merge():
    bpe = BPE.learn({"aaaa": 1, "aaa": 1}, 1)  # a a a a: two merges; a a a: one
    assert bpe.merges[0] == Merge(("a", "a"), 3)
    assert bpe.encode("aaa") == ["aa", "a", END_OF_WORD]


def test_learning_ignores_the_order_of_the_words():
    counts = _corpus_counts()
    forward = BPE.learn(dict(sorted(counts.items())), 60)
    backward = BPE.learn(dict(sorted(counts.items(), reverse=True)), 60)
    assert forward == backward
    words = [w for w, n in counts.items() for _ in range(n)]
    assert BPE.learn(words, 60) == forward  # a list of words counts each occurrence


def test_learning_on_the_corpus_reproduces_its_words():
    counts = _corpus_counts()
    start = sum((len(w) + 1) * n for w, n in counts.items())  # characters + one marker each
    bpe = BPE.learn(counts, 80)
    assert len(bpe.merges) == 80
    for word in counts:
        assert bpe.decode(bpe.encode(word)) == word
    # every merge shortened the corpus by its count: encoding reproduces learning's segmentation
    assert segmented_length(bpe, counts) == start - sum(m.count for m in bpe.merges)
    for k in (0, 10, 40):
        prefix = BPE(bpe.symbols, bpe.merges[:k])
        assert segmented_length(prefix, counts) == start - sum(m.count for m in bpe.merges[:k])


def test_learning_stops_when_every_word_is_one_unit():
    bpe = BPE.learn({"cafe": 3, "cat": 1}, 1000)
    assert len(bpe.merges) < 1000
    assert bpe.encode("cafe") == ["cafe" + END_OF_WORD]
    assert bpe.encode("cat") == ["cat" + END_OF_WORD]


def test_an_unseen_word_is_split_into_known_units():
    counts = _corpus_counts()
    bpe = BPE.learn(counts, 200)
    candidates = ["카페에", "갔더라", "cafes", *(a + b for a in counts for b in counts)]
    unseen = next(w for w in candidates if w not in counts)  # a Korean or English form
    assert set(unseen) <= set(bpe.symbols)
    units = bpe.encode(unseen)
    assert UNK not in units and set(units) <= set(bpe.vocabulary)
    assert len(units) < len(unseen) + 1  # merges learned elsewhere shorten it
    assert bpe.decode(units) == unseen


def test_an_unknown_character_becomes_unk():
    bpe = BPE.learn({"cafe": 2}, 2)
    units = bpe.encode("café")
    assert units[-2:] == [UNK, END_OF_WORD]
    assert bpe.decode(units) == "caf" + UNK


@given(counts_st, st.integers(0, 30))
def test_vocabulary_size_is_characters_plus_marker_plus_merges(counts, num_merges):
    bpe = BPE.learn(counts, num_merges)
    characters = {ch for word in counts for ch in word}
    assert bpe.symbols == (*sorted(characters), END_OF_WORD)
    assert len(bpe) == len(bpe.vocabulary) == len(characters) + 1 + len(bpe.merges)
    assert bpe.vocabulary[len(bpe.symbols) :] == [m.unit for m in bpe.merges]


def test_vocabulary_size_on_the_corpus():
    counts = _corpus_counts()
    characters = {ch for word in counts for ch in word}
    for num_merges in (0, 1, 50):
        assert len(BPE.learn(counts, num_merges)) == len(characters) + 1 + num_merges


@pytest.mark.parametrize(
    ("words", "num_merges", "error", "message"),
    [
        ("cafe", 3, TypeError, "words must be a dict"),
        ({}, 3, ValueError, "at least one word"),
        ([], 3, ValueError, "at least one word"),
        ({"cafe": 0}, 3, ValueError, "count of 'cafe' must be a positive int"),
        ({"cafe": 1.5}, 3, ValueError, "must be a positive int"),
        ({"cafe": True}, 3, ValueError, "must be a positive int"),
        ({"two words": 1}, 3, ValueError, "must be one word"),
        (["cafe", ""], 3, ValueError, "must be one word"),
        ([3], 3, TypeError, "each word in words must be a str"),
        ({"a</w>": 1}, 3, ValueError, "end-of-word marker"),
        ({"cafe": 1}, -1, ValueError, "num_merges must be >= 0"),
        ({"cafe": 1}, 2.0, TypeError, "num_merges must be an int"),
        ({"cafe": 1}, None, TypeError, "num_merges must be an int"),
    ],
)
def test_bad_input_to_learn(words, num_merges, error, message):
    with pytest.raises(error, match=message):
        BPE.learn(words, num_merges)


def test_bad_input_to_encode_and_decode():
    bpe = BPE.learn({"cafe": 2, "cat": 1}, 3)
    with pytest.raises(TypeError, match="word must be a str"):
        bpe.encode(["cafe"])
    with pytest.raises(ValueError, match="word must be one word"):
        bpe.encode("the cafe")
    with pytest.raises(ValueError, match="word must be one word"):
        bpe.encode("")
    with pytest.raises(TypeError, match="units must be a list of str"):
        bpe.decode("cafe</w>")
    with pytest.raises(TypeError, match="units must hold str"):
        bpe.decode([1])
    with pytest.raises(ValueError, match="not in this BPE's vocabulary"):
        bpe.decode(["dog</w>"])
    with pytest.raises(ValueError, match="must end with a unit ending in '</w>'"):
        bpe.decode(bpe.encode("cafe")[:-1] or ["c"])
    assert bpe.decode([]) == ""


@given(counts_st, st.integers(0, 30))
def test_counts_never_rise_and_fewer_merges_are_a_prefix(counts, num_merges):
    bpe = BPE.learn(counts, num_merges)
    merge_counts = [m.count for m in bpe.merges]
    assert merge_counts == sorted(merge_counts, reverse=True)  # a new pair is at most as frequent
    for k in range(len(bpe.merges) + 1):
        assert BPE.learn(counts, k).merges == bpe.merges[:k]
