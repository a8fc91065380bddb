"""Chapter 10's scores: exact match, word accuracy and BLEU (sacrebleu), checked by hand."""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest
import sacrebleu

import minitransformer as mt
from minitransformer.experiments import heads, scoring
from minitransformer.pretrained import recipe_corpus


def bleu_by_hand(outputs: list[str], references: list[str]) -> float:
    """Papineni et al.'s corpus BLEU: clipped n-gram counts summed over the corpus, n = 1..4,
    geometric mean of the precisions, times exp(1 - r / c) if c < r (no zero counts here)."""
    log_precision = 0.0
    for n in range(1, 5):
        matched = possible = 0
        for output, reference in zip(outputs, references, strict=True):
            o, r = output.split(), reference.split()
            grams = Counter(tuple(o[i : i + n]) for i in range(len(o) - n + 1))
            gold = Counter(tuple(r[i : i + n]) for i in range(len(r) - n + 1))
            matched += sum(min(count, gold[gram]) for gram, count in grams.items())
            possible += max(len(o) - n + 1, 0)
        log_precision += math.log(matched / possible) / 4
    c = sum(len(o.split()) for o in outputs)
    r = sum(len(ref.split()) for ref in references)
    penalty = 1.0 if c >= r else math.exp(1 - r / c)
    return 100 * penalty * math.exp(log_precision)


REFERENCES = [
    "she went to the office last year",
    "I went to the cafe yesterday and there were many people there",
    "they rested at the park on the weekend",
]
OUTPUTS = [
    "she went to the cafe last year",  # one content word wrong
    "I went to the cafe yesterday and there were many people there",  # right
    "they rested at the park",  # cut short
]


def test_scores_against_a_computation_by_hand() -> None:
    scores = scoring.score_translations(OUTPUTS, REFERENCES)
    assert scores.sentences == 3 and scores.exact_match == pytest.approx(1 / 3)
    # word accuracy, end included: 7 of 8, 13 of 13, 5 of 9 (the end comes where "on" is)
    assert scores.token_accuracy == pytest.approx((7 + 13 + 5) / (8 + 13 + 9))
    assert scores.bleu == pytest.approx(bleu_by_hand(OUTPUTS, REFERENCES), rel=1e-9)
    assert scores.output_length == 24 and scores.reference_length == 27
    assert scores.brevity_penalty == pytest.approx(math.exp(1 - 27 / 24))
    assert scores.precisions[0] == pytest.approx(100 * 23 / 24)
    assert scores.signature == (
        f"nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:{sacrebleu.__version__}"
    )
    # words and strings give the same scores; a perfect set scores 100 everywhere
    as_words = [tuple(reference.split()) for reference in REFERENCES]
    words = scoring.score_translations([output.split() for output in OUTPUTS], as_words)
    assert words == scores
    perfect = scoring.score_translations(REFERENCES, REFERENCES)
    assert perfect.exact_match == perfect.token_accuracy == 1.0
    assert perfect.bleu == pytest.approx(100.0) and perfect.brevity_penalty == 1.0


def test_sentence_bleu_and_an_empty_output() -> None:
    assert scoring.sentence_bleu(REFERENCES[1], REFERENCES[1]) == pytest.approx(100.0)
    one_wrong = scoring.sentence_bleu(OUTPUTS[0], REFERENCES[0])
    assert one_wrong == pytest.approx(bleu_by_hand(OUTPUTS[:1], REFERENCES[:1]), rel=1e-9)
    assert 0 < one_wrong < 100
    assert scoring.sentence_bleu("", REFERENCES[0]) == 0.0
    empty = scoring.score_translations(["", REFERENCES[1]], REFERENCES[:2])
    assert empty.exact_match == 0.5 and empty.output_length == 12
    assert empty.token_accuracy == pytest.approx(13 / (8 + 13))  # its end is where "she" is
    assert empty.brevity_penalty == pytest.approx(math.exp(1 - 19 / 12))
    backwards = scoring.score_translations(["e d c b a"], ["a b c d e"])  # no 2-gram survives
    assert backwards.precisions == (100.0, 0.0, 0.0, 0.0) and 0 < backwards.bleu < 100


def test_scores_table() -> None:
    scores = scoring.score_translations(OUTPUTS, REFERENCES)
    table = scoring.scores_table({"greedy": scores, "beam": scores})
    lines = table.splitlines()
    assert len(lines) == 4 and lines[1].count("|---") == 7
    assert lines[2].startswith("| greedy | 3 | 33.3% |") and f"{scores.bleu:.1f}" in lines[2]


RIGHT = [  # several right translations per sentence, as Pair.right_targets gives them
    (
        ("I", "went", "home", "yesterday"),
        ("yesterday", "I", "went", "home"),
        ("yesterday", ",", "I", "went", "home"),
    ),
    (("she", "slept"),),
]


def test_several_references() -> None:
    streams = scoring.reference_streams(RIGHT)
    assert streams == [
        ["I went home yesterday", "she slept"],
        ["yesterday I went home", "she slept"],
        ["yesterday , I went home", "she slept"],
    ]
    outputs = ["yesterday I went home", "she slept well"]
    scores = scoring.score_translations(outputs, RIGHT)
    assert scores.exact_match == 0.5  # the first equals its second reference
    assert scores.token_accuracy == pytest.approx((5 + 2) / (5 + 3))  # best reference each
    assert scores.signature.startswith("nrefs:3|")
    # repeating a sentence's references changes nothing: the same as sacrebleu's own way of
    # giving a sentence fewer references (None in the streams), and as one stream if equal
    variable = sacrebleu.corpus_bleu(outputs, [streams[0], streams[1], [streams[2][0], None]])
    assert scores.bleu == pytest.approx(variable.score, rel=1e-12)
    one = scoring.score_translations(["yesterday I went home"], [RIGHT[0][1]])
    assert one.exact_match == 1 and one.bleu == pytest.approx(100.0)
    against_all = scoring.sentence_bleu("yesterday I went home", RIGHT[0])
    against_first = scoring.sentence_bleu("yesterday I went home", RIGHT[0][0])
    assert against_all == pytest.approx(100.0) and against_first < 100
    assert scoring.forgiven_errors(outputs, RIGHT) == [
        (1, pytest.approx(scoring.sentence_bleu(outputs[1], RIGHT[1])))
    ]
    with pytest.raises(ValueError, match=r"references\[0\]\[1\] is empty"):
        scoring.score_translations(["a"], [[("a",), ()]])
    with pytest.raises(ValueError, match="needs at least one sentence"):
        scoring.reference_streams([])


@pytest.fixture(scope="module")
def translator():
    return mt.load_pretrained()


@pytest.fixture(scope="module")
def pairs(translator):
    return recipe_corpus(translator.metadata["recipe"]).held_out[:30]


def test_translate_pairs_greedy_and_beam(translator, pairs) -> None:
    greedy = scoring.translate_pairs(translator, pairs)
    assert [" ".join(words) for words in greedy] == [translator.translate(p.source) for p in pairs]
    beam = scoring.translate_pairs(translator, pairs[:3], beam_width=4, length_penalty=0.6)
    for pair, words in zip(pairs[:3], beam, strict=True):
        source = translator.src_vocab.encode(pair.source)
        expected = mt.beam_search(translator.model, source, beam_width=4, length_penalty=0.6)
        assert list(words) == translator.tgt_vocab.tokens(expected.tokens)


def test_scores_agree_with_the_package_metrics_on_wrong_outputs(translator, pairs) -> None:
    """With two encoder-decoder heads of the last layer removed the outputs have errors; the
    scores must still equal decoding.exact_match and decoding.token_accuracy."""
    data = mt.encode_pairs(pairs, translator.src_vocab, translator.tgt_vocab)
    with heads.ablated(translator.model, {"dec1.cross": [0, 1, 2, 3]}):
        outputs = scoring.translate_pairs(translator, pairs)
        exact = mt.exact_match(translator.model, data)
        accuracy = mt.token_accuracy(translator.model, data)
    scores = scoring.score_translations(outputs, [p.right_targets for p in pairs])
    assert scores.exact_match < 1.0  # there are errors to count
    assert scores.exact_match == pytest.approx(exact)
    assert scores.token_accuracy == pytest.approx(accuracy)


@pytest.mark.parametrize(
    ("outputs", "references", "error", "message"),
    [
        (["a b"], ["a b", "c"], ValueError, "got 1 outputs for 2 references"),
        ([], [], ValueError, "needs at least one sentence"),
        ("a b", ["a b"], TypeError, "outputs must be a list of sentences, got str"),
        (["a"], None, TypeError, "references must be a list of sentences, got NoneType"),
        ([3], ["a"], TypeError, "outputs[0] must be a sentence (str) or a sequence of words"),
        ([["a", 1]], ["a"], TypeError, "outputs[0] must be a sentence"),
        ([["a b"]], ["a"], ValueError, "outputs[0] has 'a b', which is not one word"),
        (["a"], [""], ValueError, "references[0] is empty"),
    ],
)
def test_score_translations_rejects_bad_input(outputs, references, error, message) -> None:
    with pytest.raises(error, match=re.escape(message)):
        scoring.score_translations(outputs, references)


def test_other_bad_input(translator, pairs) -> None:
    with pytest.raises(ValueError, match="reference is empty"):
        scoring.sentence_bleu("a", " ")
    with pytest.raises(TypeError, match="output must be a sentence"):
        scoring.sentence_bleu(None, "a")
    with pytest.raises(ValueError, match=r"length_penalty=0\.6 applies to beam search only"):
        scoring.translate_pairs(translator, pairs[:1], length_penalty=0.6)
    with pytest.raises(ValueError, match="beam_width=0 must be >= 1"):
        scoring.translate_pairs(translator, pairs[:1], beam_width=0)
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a Pair, got str"):
        scoring.translate_pairs(translator, ["어제 카페 갔었어"])
    with pytest.raises(ValueError, match="non-empty mapping"):
        scoring.scores_table({})
    with pytest.raises(TypeError, match=r"rows\['greedy'\] must be Scores, got float"):
        scoring.scores_table({"greedy": 0.5})


def test_comparison_text_follows_the_numbers() -> None:
    perfect = scoring.score_translations(REFERENCES, REFERENCES)
    same = scoring.comparison_text({"greedy": perfect, "beam": perfect}, 0)
    assert same.startswith("greedy and beam write the same output for all 3 sentences")
    assert "BLEU 100.0" in same and "at its ceiling" in same
    worse = scoring.score_translations(OUTPUTS, REFERENCES)
    text = scoring.comparison_text({"greedy": worse, "beam": perfect}, 2)
    assert text.startswith("greedy and beam write different outputs for 2 of the 3 sentences")
    assert "exact match 33.3% with greedy and 100.0% with beam, higher with beam" in text
    assert "ceiling" not in text and "do not agree" not in text
    # two sets that the scores rank differently: one misses an early word (every later word
    # moves), the other changes a late one
    reference = ["one two three four five six seven eight"]
    shifted = scoring.score_translations(["two three four five six seven eight"], reference)
    changed = scoring.score_translations(["one two three four five six seven nine"], reference)
    mixed = scoring.comparison_text({"shifted": shifted, "changed": changed}, 1)
    assert "word accuracy 0.0% with shifted and 88.9% with changed, higher with changed" in mixed
    assert "BLEU" in mixed and "exact match 0.0% with both" in mixed
    higher_bleu = "shifted" if shifted.bleu > changed.bleu else "changed"
    assert (higher_bleu == "shifted") == ("do not agree" in mixed)


def test_credit_text_and_forgiven_errors() -> None:
    perfect = scoring.score_translations(REFERENCES, REFERENCES)
    assert "every score is at its maximum" in scoring.credit_text("shipped", perfect)
    short = scoring.score_translations(["she went to the", "she went"], REFERENCES[:1] * 2)
    text = scoring.credit_text("cut", short)
    assert text.startswith("cut: only 0.0% of the outputs are exactly right")
    assert "brevity penalty is" in text and "every n-gram it writes is in its reference" in text
    mixed = scoring.credit_text("mixed", scoring.score_translations(OUTPUTS, REFERENCES))
    assert "brevity penalty" in mixed and "most of what it writes" in mixed
    # exact match above word accuracy: a short sentence right, a long one shifted by a word
    uneven = scoring.score_translations(["a b", "y c d e f g h i j"], ["a b", "c d e f g h i j"])
    assert uneven.token_accuracy < uneven.exact_match
    plain = scoring.credit_text("uneven", uneven)
    assert plain.startswith("uneven: 50.0% of the outputs are exactly right, and ")
    long = scoring.score_translations(["she went to the office last year now"], REFERENCES[:1])
    assert "brevity" not in scoring.credit_text("long", long)
    forgiven = scoring.forgiven_errors(OUTPUTS, REFERENCES, count=5)
    assert [k for k, _ in forgiven] == [2, 0]  # cut short (55) before wrong word (49); 1 right
    assert forgiven[1][1] == pytest.approx(scoring.sentence_bleu(OUTPUTS[0], REFERENCES[0]))
    assert scoring.forgiven_errors(REFERENCES, REFERENCES) == []
    lacks, adds = scoring.word_changes(
        "there were few people there the", "there were no students there"
    )
    assert lacks == ["no", "students"] and adds == ["few", "people", "the"]
    assert scoring.word_changes("a a b", "a b b") == (["b"], ["a"])
    cut = scoring.word_changes(
        "at night the gym", "at night the teacher watched a movie at the gym"
    )
    assert cut == (["teacher", "watched", "a", "movie", "at", "the"], [])  # the phrase, in order
    assert scoring.changes_text("a c", "a b") == "It lacks *b* and writes *c* instead."
    assert scoring.changes_text("a", "a b") == "It leaves out *b*."
    assert scoring.changes_text("a b c", "a b") == "It adds *c*."
    assert scoring.changes_text("b a", "a b") == "It has the reference's words, in another order."
    assert scoring.changes_text("a b", ["a", "b"]) == "It is the reference."


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: scoring.comparison_text({"a": s}, 0), ValueError, "exactly two named Scores"),
        (lambda s: scoring.comparison_text({"a": s, "b": 1.0}, 0), TypeError, "needs Scores"),
        (
            lambda s: scoring.comparison_text({"a": s, "b": s}, 4),
            ValueError,
            "differing=4 must be between 0 and 3",
        ),
        (
            lambda s: scoring.comparison_text({"a": s, "b": s}, 1.0),
            TypeError,
            "differing must be an int, got float",
        ),
        (lambda s: scoring.credit_text("a", 0.5), TypeError, "scores must be Scores, got float"),
        (lambda s: scoring.forgiven_errors(["a"], ["a", "b"]), ValueError, "got 1 outputs for 2"),
        (
            lambda s: scoring.forgiven_errors(["a"], ["a"], count=0),
            ValueError,
            "count=0 must be a positive int",
        ),
        (lambda s: scoring.word_changes(["a b"], "a"), ValueError, "'a b', which is not one word"),
    ],
)
def test_text_helpers_reject_bad_input(call, error, message) -> None:
    scores = scoring.score_translations(OUTPUTS, REFERENCES)
    with pytest.raises(error, match=re.escape(message)):
        call(scores)


def test_comparison_of_unequal_sets_is_refused() -> None:
    three = scoring.score_translations(OUTPUTS, REFERENCES)
    one = scoring.score_translations(OUTPUTS[:1], REFERENCES[:1])
    with pytest.raises(ValueError, match="of 3 and 1 sentences"):
        scoring.comparison_text({"a": three, "b": one}, 0)
