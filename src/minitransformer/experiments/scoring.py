"""Chapter 10: scoring a translator's outputs against references.

Three scores of one set of outputs, from the strictest to the most forgiving:

- **exact match**: the share of outputs equal to their reference, word for word;
- **word accuracy**: the share of reference words reproduced at their position, the end of the
  sentence counted as one more word (as :func:`minitransformer.decoding.token_accuracy`);
- **BLEU** (Papineni et al. 2002), computed by ``sacrebleu`` (Post 2018): corpus-level modified
  n-gram precisions for n = 1..4, their geometric mean, times a brevity penalty.

The functions:

- :func:`translate_pairs`: the output words of a translator for pairs, by batched greedy
  decoding or by beam search (with a length penalty).
- :func:`score_translations`: the three scores of outputs against references, as :class:`Scores`;
  a sentence may have several right translations (``Pair.right_targets``), and an output is
  scored against all of them.
- :func:`reference_streams`: several references per sentence as sacrebleu's reference streams,
  every sentence's list padded to the same length by repeating it.
- :func:`sentence_bleu`: BLEU of one output against its reference(s).
- :func:`scores_table`: a Markdown table of several :class:`Scores`.
- :func:`comparison_text`, :func:`credit_text`: sentences that say what two or one set of scores
  show, worded from the numbers (whichever way they come out).
- :func:`forgiven_errors`: the wrong outputs that BLEU scores highest; :func:`word_changes`:
  the words an output lacks and adds against its reference, :func:`changes_text` says so.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU

from minitransformer.data import Pair
from minitransformer.decoding import beam_search, best_match, greedy_decode_batch

Sentence = str | Sequence[str]  # "I went to the cafe" or ("I", "went", "to", "the", "cafe")


def _words(name: str, sentence: object) -> tuple[str, ...]:
    """A sentence as a tuple of words: a string is split at whitespace."""
    if isinstance(sentence, str):
        return tuple(sentence.split())
    if isinstance(sentence, Sequence) and all(isinstance(word, str) for word in sentence):
        for word in sentence:
            if len(word.split()) != 1 or word != word.strip():
                raise ValueError(f"{name} has {word!r}, which is not one word")
        return tuple(sentence)
    raise TypeError(
        f"{name} must be a sentence (str) or a sequence of words (str), got "
        f"{type(sentence).__name__}"
    )


def _sentences(name: str, sentences: object) -> list[tuple[str, ...]]:
    if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Sequence):
        raise TypeError(f"{name} must be a list of sentences, got {type(sentences).__name__}")
    return [_words(f"{name}[{k}]", sentence) for k, sentence in enumerate(sentences)]


def _right(name: str, entry: object) -> tuple[tuple[str, ...], ...]:
    """One sentence's right translations: a sentence (str, or a sequence of words) is one; a
    sequence of sentences each given as words (``Pair.right_targets``) is several."""
    if (
        not isinstance(entry, str)
        and isinstance(entry, Sequence)
        and entry
        and all(not isinstance(item, str) and isinstance(item, Sequence) for item in entry)
    ):
        right = tuple(_words(f"{name}[{j}]", item) for j, item in enumerate(entry))
    else:
        right = (_words(name, entry),)
    empty = [j for j, words in enumerate(right) if not words]
    if empty:
        where = name if len(right) == 1 else f"{name}[{empty[0]}]"
        raise ValueError(f"{where} is empty: a reference needs a word")
    return right


def _references(name: str, references: object) -> list[tuple[tuple[str, ...], ...]]:
    if isinstance(references, (str, bytes)) or not isinstance(references, Sequence):
        raise TypeError(f"{name} must be a list of sentences, got {type(references).__name__}")
    return [_right(f"{name}[{k}]", entry) for k, entry in enumerate(references)]


def reference_streams(references: Sequence[Sequence[Sentence]]) -> list[list[str]]:
    """sacrebleu's reference streams for sentences with several right translations each.

    references[k]: the right translations of sentence k (any number >= 1). sacrebleu takes
    ``m`` streams of equal length, stream j holding every sentence's j-th reference, so each
    sentence's list is padded to the largest count m by repeating it from its start
    ([a, b, c] -> [a, b, c, a, b, c, a, b, c] for m = 9). A repeated reference changes no
    score: BLEU clips each n-gram at its largest count in any one reference and measures the
    brevity penalty against the reference length closest to the output's, and repeating adds
    no new count and no new length.
    """
    right = [[" ".join(words) for words in _right(f"references[{k}]", entry)]
             for k, entry in enumerate(references)]  # fmt: skip
    if not right:
        raise ValueError("reference_streams needs at least one sentence")
    m = max(len(sentences) for sentences in right)
    return [[sentences[j % len(sentences)] for sentences in right] for j in range(m)]


@dataclass(frozen=True)
class Scores:
    """The scores of ``sentences`` outputs against their references.

    BLEU = brevity_penalty * exp(mean of log precisions), times 100; ``precisions`` are the
    corpus-level modified n-gram precisions (percent) for n = 1, 2, 3, 4, as counted (sacrebleu
    smooths a precision whose count is zero before it takes the logarithm), and the brevity
    penalty is exp(1 - r / c) when the outputs' c words are fewer than the references' r, else 1.
    """

    sentences: int
    exact_match: float  # share of outputs equal to the reference, word for word
    token_accuracy: float  # share of reference words (and the end) reproduced at their position
    bleu: float  # corpus BLEU, 0 to 100
    precisions: tuple[float, ...]  # modified n-gram precisions (percent), n = 1..4, unsmoothed
    brevity_penalty: float
    output_length: int  # c, after sacrebleu's tokenisation
    reference_length: int  # r
    signature: str  # sacrebleu's record of its settings: nrefs|case|eff|tok|smooth|version


def score_translations(outputs: Sequence[Sentence], references: Sequence[object]) -> Scores:
    """Exact match, word accuracy and corpus BLEU of ``outputs`` against ``references``.

    outputs[k]: a sentence (str, words separated by spaces) or its words. references[k]: its
    right translation (a sentence), or several (a sequence of sentences given as words, such as
    ``Pair.right_targets``). An output is exactly right if it equals any of them; its words in
    place are counted against the one it matches best (as ``decoding.output_scores``); BLEU
    takes every reference, padded into equal streams by :func:`reference_streams`. BLEU uses
    sacrebleu's default settings (13a tokenisation, mixed case, exponential smoothing), the
    ones its signature reports.
    """
    hypotheses, gold = _sentences("outputs", outputs), _references("references", references)
    if len(hypotheses) != len(gold):
        raise ValueError(f"got {len(hypotheses)} outputs for {len(gold)} references")
    if not gold:
        raise ValueError("score_translations needs at least one sentence")
    exact = correct = total = 0
    for output, right in zip(hypotheses, gold, strict=True):
        # position by position against the best-matching reference, None ending each sentence
        same, hits, length = best_match(output, right, end=None)
        exact, correct, total = exact + same, correct + hits, total + length
    bleu = BLEU()  # corpus-level: n-gram counts summed over all sentences, then one score
    result = bleu.corpus_score([" ".join(h) for h in hypotheses], reference_streams(gold))
    return Scores(
        sentences=len(gold),
        exact_match=exact / len(gold),
        token_accuracy=correct / total,
        bleu=result.score,
        precisions=tuple(  # as counted: sacrebleu's own are smoothed where a count is zero
            100 * matched / total if total else 0.0
            for matched, total in zip(result.counts, result.totals, strict=True)
        ),
        brevity_penalty=result.bp,
        output_length=result.sys_len,
        reference_length=result.ref_len,
        signature=str(bleu.get_signature()),
    )


def sentence_bleu(output: Sentence, reference: object) -> float:
    """BLEU (0 to 100) of one output against its reference, or several (a sequence of
    sentences given as words): sacrebleu's sentence BLEU, whose exponential smoothing and
    effective order keep a missing 4-gram from zeroing the score."""
    hypothesis, gold = _words("output", output), _right("reference", reference)
    bleu = BLEU(effective_order=True)
    return bleu.sentence_score(" ".join(hypothesis), [" ".join(r) for r in gold]).score


def translate_pairs(
    translator, pairs: Sequence[Pair], *, beam_width: int | None = None,
    length_penalty: float = 0.0,
) -> list[tuple[str, ...]]:  # fmt: skip
    """The translator's output words for every pair: batched greedy decoding when
    ``beam_width`` is None, else beam search one sentence at a time with that width and GNMT's
    length penalty ``length_penalty`` (alpha; 0 ranks by plain log-probability)."""
    translator._check_pairs(pairs)
    if beam_width is None and length_penalty != 0.0:
        raise ValueError(
            f"length_penalty={length_penalty!r} applies to beam search only: give a beam_width"
        )
    sources = [translator.src_vocab.encode(pair.source) for pair in pairs]
    if beam_width is None:
        outputs = greedy_decode_batch(translator.model, sources)
    else:
        outputs = [beam_search(translator.model, source, beam_width=beam_width,
                               length_penalty=length_penalty).tokens
                   for source in sources]  # fmt: skip
    return [tuple(translator.tgt_vocab.tokens(output)) for output in outputs]


def scores_table(rows: Mapping[str, Scores]) -> str:
    """A Markdown table, one row per named :class:`Scores` (e.g. one per decoding method)."""
    if not isinstance(rows, Mapping) or not rows:
        raise ValueError("scores_table needs a non-empty mapping of name -> Scores")
    for name, scores in rows.items():
        if not isinstance(scores, Scores):
            raise TypeError(f"rows[{name!r}] must be Scores, got {type(scores).__name__}")
    header = ["decoding", "sentences", "exact match", "word accuracy", "BLEU",
              "1/2/3/4-gram precision (%)", "brevity penalty"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, s in rows.items():
        precisions = " / ".join(f"{p:.1f}" for p in s.precisions)
        cells = [name, str(s.sentences), f"{s.exact_match:.1%}", f"{s.token_accuracy:.1%}",
                 f"{s.bleu:.1f}", precisions, f"{s.brevity_penalty:.3f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def comparison_text(scores: Mapping[str, Scores], differing: int) -> str:
    """Markdown: what two named :class:`Scores` of the same sentences show. ``differing``: on
    how many sentences the two sets of outputs differ. Each score is compared as displayed
    (exact match and word accuracy to 0.1 %, BLEU to 0.1)."""
    if not isinstance(scores, Mapping) or len(scores) != 2:
        raise ValueError("comparison_text compares exactly two named Scores")
    (name_a, a), (name_b, b) = scores.items()
    if not isinstance(a, Scores) or not isinstance(b, Scores):
        raise TypeError("comparison_text needs Scores values")
    if a.sentences != b.sentences:
        raise ValueError(f"the Scores are of {a.sentences} and {b.sentences} sentences")
    if isinstance(differing, bool) or not isinstance(differing, int):
        raise TypeError(f"differing must be an int, got {type(differing).__name__}")
    if not 0 <= differing <= a.sentences:
        raise ValueError(f"differing={differing} must be between 0 and {a.sentences}")
    n = a.sentences
    if differing == 0:
        text = (
            f"{name_a} and {name_b} write the same output for all {n:,} sentences, so every "
            f"score is the same: exact match {a.exact_match:.1%}, word accuracy "
            f"{a.token_accuracy:.1%}, BLEU {a.bleu:.1f}."
        )
    else:
        parts, winners = [], set()
        for label, x, y, unit in (("exact match", 100 * a.exact_match, 100 * b.exact_match, "%"),
                                  ("word accuracy", 100 * a.token_accuracy,
                                   100 * b.token_accuracy, "%"),
                                  ("BLEU", a.bleu, b.bleu, "")):  # fmt: skip
            x, y = round(x, 1), round(y, 1)  # as displayed
            if x == y:
                parts.append(f"{label} {x:.1f}{unit} with both")
            else:
                winners.add(name_b if y > x else name_a)
                parts.append(f"{label} {x:.1f}{unit} with {name_a} and {y:.1f}{unit} with "
                             f"{name_b}, higher with {name_b if y > x else name_a}")  # fmt: skip
        text = (
            f"{name_a} and {name_b} write different outputs for {differing:,} of the {n:,} "
            f"sentences: " + "; ".join(parts) + "."
        )
        if len(winners) > 1:
            text += " The three scores do not agree on which decoding is better."
    if a.exact_match == 1.0 and b.exact_match == 1.0:
        text += (
            " Every output is its reference word for word, so every n-gram precision is 100% "
            "and the brevity penalty 1: on these sentences BLEU is at its ceiling and cannot "
            "rank the two."
        )
    return text


def credit_text(name: str, scores: Scores) -> str:
    """Markdown: how much credit each score gives one set of outputs ("only ... yet" where both
    word accuracy and BLEU give more than exact match), and, where the brevity penalty is below
    0.99, that the outputs are shorter than the references."""
    if not isinstance(scores, Scores):
        raise TypeError(f"scores must be Scores, got {type(scores).__name__}")
    if scores.exact_match == 1.0:
        return f"{name}: every output is right, and every score is at its maximum."
    more = scores.token_accuracy > scores.exact_match and scores.bleu > 100 * scores.exact_match
    text = (
        f"{name}: {'only ' if more else ''}{scores.exact_match:.1%} of the outputs are exactly "
        f"right, {'yet' if more else 'and'} {scores.token_accuracy:.1%} of the reference words "
        f"are in place and BLEU is {scores.bleu:.1f} out of 100"
    )
    if scores.brevity_penalty < 0.99:
        text += (
            f". Its outputs have {scores.output_length:,} words against the references' "
            f"{scores.reference_length:,}, so the brevity penalty is "
            f"{scores.brevity_penalty:.2f}, with 1-gram precision {scores.precisions[0]:.1f}% "
            f"and 4-gram precision {scores.precisions[3]:.1f}%: "
        )
        if min(scores.precisions) == 100.0:
            text += "every n-gram it writes is in its reference, but it writes too little"
        else:
            share = "most" if scores.precisions[0] >= 90 else "part"
            text += f"{share} of what it writes is in the references, and it writes too little"
    return text + "."


def forgiven_errors(
    outputs: Sequence[Sentence], references: Sequence[object], count: int = 1
) -> list[tuple[int, float]]:
    """The ``count`` wrong outputs (equal to none of their references) that sentence BLEU
    scores highest, as (index, sentence BLEU), best first; fewer if fewer outputs are wrong.
    references[k]: one sentence or several, as in :func:`score_translations`."""
    hypotheses, gold = _sentences("outputs", outputs), _references("references", references)
    if len(hypotheses) != len(gold):
        raise ValueError(f"got {len(hypotheses)} outputs for {len(gold)} references")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ValueError(f"count={count!r} must be a positive int")
    wrong = [k for k, (h, right) in enumerate(zip(hypotheses, gold, strict=True)) if h not in right]
    scored = [(k, sentence_bleu(hypotheses[k], gold[k])) for k in wrong]
    return sorted(scored, key=lambda item: -item[1])[:count]


def word_changes(output: Sentence, reference: Sentence) -> tuple[list[str], list[str]]:
    """(reference words the output lacks, output words the reference lacks), counted with
    multiplicity, each in the order of its sentence. The two sentences are aligned by their
    longest common runs of words (``difflib``), so a missing phrase comes out as that phrase;
    a word that only moved counts as both lacking and added unless the counts balance."""
    hypothesis, gold = _words("output", output), _words("reference", reference)
    lacks: list[str] = []
    adds: list[str] = []
    matcher = difflib.SequenceMatcher(a=gold, b=hypothesis, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            lacks += gold[i1:i2]
            adds += hypothesis[j1:j2]
    moved = Counter(lacks) & Counter(adds)  # a word both lacking and added only moved
    return (_surplus(lacks, Counter(lacks) - moved), _surplus(adds, Counter(adds) - moved))


def changes_text(output: Sentence, reference: Sentence) -> str:
    """Markdown: what ``output`` changes against ``reference``, from :func:`word_changes`."""
    lacks, adds = word_changes(output, reference)
    lacks_text, adds_text = (f"*{' '.join(words)}*" for words in (lacks, adds))
    if lacks and adds:
        return f"It lacks {lacks_text} and writes {adds_text} instead."
    if lacks:
        return f"It leaves out {lacks_text}."
    if adds:
        return f"It adds {adds_text}."
    if _words("output", output) == _words("reference", reference):
        return "It is the reference."
    return "It has the reference's words, in another order."


def _surplus(words: Sequence[str], surplus: Counter) -> list[str]:
    """The words of ``surplus`` in the order they occur in ``words`` (each as often as counted)."""
    kept = []
    for word in words:
        if surplus[word] > 0:
            kept.append(word)
            surplus[word] -= 1
    return kept


__all__ = [
    "Scores",
    "changes_text",
    "comparison_text",
    "credit_text",
    "forgiven_errors",
    "reference_streams",
    "score_translations",
    "scores_table",
    "sentence_bleu",
    "translate_pairs",
    "word_changes",
]
