"""Chapter 9's subword experiment: corpus counts, the merge table, the unseen word, the curve."""

from __future__ import annotations

from itertools import pairwise

import pytest

from minitransformer.data import make_corpus
from minitransformer.experiments import subwords as sw
from minitransformer.subwords import BPE, segmented_length


@pytest.fixture(scope="module")
def corpus_counts():
    return sw.word_counts(make_corpus(300, 0, seed=0).train)


def test_word_counts_hold_both_languages(corpus_counts):
    pair = make_corpus(300, 0, seed=0).train[0]
    assert all(corpus_counts[w] >= 1 for w in (*pair.source, *pair.target))
    assert {sw.language(w) for w in corpus_counts} == {"Korean", "English"}
    assert sw.language("카페</w>") == "Korean" and sw.language("the</w>") == "English"


def test_merge_rows_follow_the_merges(corpus_counts):
    bpe = BPE.learn(corpus_counts, 12)
    rows = sw.merge_rows(bpe.merges, first=10)
    assert [r["step"] for r in rows] == list(range(1, 11))
    for row, merge in zip(rows, bpe.merges, strict=False):
        assert (row["left"], row["right"], row["new unit"]) == (*merge.pair, merge.unit)
        assert row["count"] == f"{merge.count:,}"


def test_first_unseen_skips_training_words_and_unknown_characters(corpus_counts):
    bpe = BPE.learn(corpus_counts, 20)
    seen = next(iter(corpus_counts))
    assert sw.first_unseen([seen, "카페xq", seen + seen], corpus_counts, bpe) == seen + seen
    with pytest.raises(ValueError, match="no candidate"):
        sw.first_unseen([seen, "ÿ"], corpus_counts, bpe)


def test_units_per_word_matches_encoding(corpus_counts):
    bpe = BPE.learn(corpus_counts, 60)
    sizes, means = sw.units_per_word(bpe, corpus_counts)
    assert len(sizes) == len(means) == 61
    occurrences = sum(corpus_counts.values())
    for k in (0, 7, 60):
        prefix = BPE(bpe.symbols, bpe.merges[:k])
        assert sizes[k] == len(prefix)
        assert means[k] == pytest.approx(segmented_length(prefix, corpus_counts) / occurrences)
    assert all(b < a for a, b in pairwise(means))  # every merge shortens


def test_vocabulary_figure_draws_both_curves(corpus_counts):
    sizes, means = sw.units_per_word(BPE.learn(corpus_counts, 30), corpus_counts)
    fig = sw.vocabulary_figure(sizes, means, words=len(corpus_counts))
    assert [list(t.y) for t in fig.data] == [sizes, means]
    assert len(fig.layout.shapes) == 2  # the word-vocabulary and one-unit references
