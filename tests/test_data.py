"""The corpus: the notes' sentence, alignments, splits, determinism, toy tasks."""

from __future__ import annotations

import pytest

from minitransformer.data import (
    NOTES_SOURCE,
    NOTES_TARGET,
    EncodedPairs,
    Pair,
    encode_pairs,
    make_corpus,
    notes_example,
    toy_symbols,
    toy_task,
    toy_vocab,
)
from minitransformer.tokens import EOS_ID, SOS_ID, UNK_ID


def test_notes_sentence_and_its_crossing_alignment():
    pair = notes_example()
    assert pair.source_text == "어제 카페 갔었어 거기 사람 많더라" == NOTES_SOURCE
    assert pair.target_text.startswith("I went to the cafe yesterday")
    assert pair.target_text == NOTES_TARGET
    source, target = pair.source, pair.target

    def aligned(word: str) -> list[str]:
        return [source[i] for i in pair.aligned_source(target.index(word))]

    assert aligned("cafe") == ["카페"]
    assert aligned("yesterday") == ["어제"]
    assert aligned("went") == ["갔었어"]
    assert aligned("people") == ["사람"]
    assert aligned("many") == ["많더라"]
    assert pair.aligned_source(target.index("and")) == []
    assert [target[j] for j in pair.content] == ["went", "cafe", "yesterday", "many", "people"]
    # Korean time-place-verb vs English verb-place-time: the alignment crosses.
    assert target.index("went") < target.index("yesterday")
    assert source.index("갔었어") > source.index("어제")


@pytest.fixture(scope="module")
def corpus():
    """The notes grammar's corpus (``make_corpus()``'s default): this file tests that grammar."""
    return make_corpus()


def test_corpus_size_vocabularies_and_notes(corpus):
    assert len(corpus.train) == 4000 and len(corpus.held_out) >= 450
    assert corpus.train[0] == notes_example()
    assert 60 <= len(corpus.src_vocab) <= 150 and 60 <= len(corpus.tgt_vocab) <= 150
    sources = [pair.source for pair in corpus.train + corpus.held_out]
    assert len(set(sources)) == len(sources)  # distinct pairs


def test_held_out_is_unseen_combinations_of_seen_words(corpus):
    train_sources = {pair.source for pair in corpus.train}
    for pair in corpus.held_out:
        assert pair.source not in train_sources
        assert UNK_ID not in corpus.src_vocab.encode(pair.source)
        assert UNK_ID not in corpus.tgt_vocab.encode(pair.target)


def test_every_alignment_is_in_range_and_content_words_are_aligned(corpus):
    crossing = 0
    for pair in corpus.train[:1000] + corpus.held_out:
        assert pair.alignment == tuple(sorted(pair.alignment))
        for i, j in pair.alignment:
            assert 0 <= i < len(pair.source) and 0 <= j < len(pair.target)
        for j in pair.content:
            assert pair.aligned_source(j), (pair.target_text, pair.target[j])
        crossing += any(
            (i1 < i2) != (j1 < j2) for i1, j1 in pair.alignment for i2, j2 in pair.alignment
        )
    assert crossing > 900  # nearly every sentence has crossing alignments


def test_you_is_a_subject_and_a_dropped_subject_means_i(corpus):
    you = [pair for pair in corpus.train if pair.target[0] == "you"]
    assert len(you) > 100 and all(pair.source[0] == "너는" for pair in you)
    dropped = [pair for pair in corpus.train if pair.source[0] in ("어제", "오늘")]
    assert dropped and all(pair.target[0] == "I" for pair in dropped)


def test_corpus_is_deterministic():
    first, second = make_corpus(300, 50, seed=3), make_corpus(300, 50, seed=3)
    assert first == second
    assert make_corpus(300, 50, seed=4).train != first.train
    with pytest.raises(ValueError):
        make_corpus(0, 10)


def test_encoding_adds_sos_and_eos(corpus):
    data = corpus.encoded("train")
    assert isinstance(data, EncodedPairs) and len(data) == len(corpus.train)
    assert data.target[0][0] == SOS_ID and data.target[0][-1] == EOS_ID
    assert corpus.tgt_vocab.decode(data.target[0]) == NOTES_TARGET
    assert corpus.src_vocab.decode(data.source[0]) == NOTES_SOURCE
    assert len(corpus.encoded("held_out")) == len(corpus.held_out)
    with pytest.raises(ValueError, match="split"):
        corpus.encoded("test")
    with pytest.raises(ValueError, match="source sentences"):
        EncodedPairs(source=[[4]], target=[])


@pytest.mark.parametrize("task", ["copy", "reverse"])
def test_toy_tasks(task):
    pairs = toy_task(200, (3, 7), task=task, num_symbols=5, seed=1)
    assert {len(pair.source) for pair in pairs} == {3, 7}
    for pair in pairs:
        expected = pair.source if task == "copy" else pair.source[::-1]
        assert pair.target == expected
        for i, j in pair.alignment:
            assert pair.source[i] == pair.target[j]
        assert pair.content == tuple(range(len(pair.target)))
    assert toy_task(200, (3, 7), task=task, num_symbols=5, seed=1) == pairs
    vocab = toy_vocab(5)
    data = encode_pairs(pairs, vocab, vocab)
    assert UNK_ID not in {index for row in data.source for index in row}


def test_toy_task_bad_arguments():
    assert toy_symbols(3) == ["a", "b", "c"]
    with pytest.raises(ValueError):
        toy_symbols(27)
    with pytest.raises(ValueError):
        toy_task(5, task="sort")
    with pytest.raises(ValueError):
        toy_task(5, lengths=(0,))


def test_pair_text_properties():
    pair = Pair(("a", "b"), ("b", "a"), ((0, 1), (1, 0)), (0, 1))
    assert pair.source_text == "a b" and pair.target_text == "b a"
    assert pair.aligned_source(0) == [1]


def test_small_corpus_moves_unseen_words_into_training():
    small = make_corpus(20, 80, seed=1)
    assert len(small.train) > 20  # some held-out draws had words training lacked
    assert len(small.train) + len(small.held_out) == 100
    for pair in small.held_out:
        assert UNK_ID not in small.src_vocab.encode(pair.source)
        assert UNK_ID not in small.tgt_vocab.encode(pair.target)
