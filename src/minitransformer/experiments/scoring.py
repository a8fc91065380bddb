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
- :func:`score_translations`: the three scores of outputs against references, as :class:`Scores`.
- :func:`sentence_bleu`: BLEU of one output against its reference.
- :func:`scores_table`: a Markdown table of several :class:`Scores`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sacrebleu.metrics import BLEU

from minitransformer.data import Pair
from minitransformer.decoding import beam_search, greedy_decode_batch

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


@dataclass(frozen=True)
class Scores:
    """The scores of ``sentences`` outputs against their references.

    BLEU = brevity_penalty * exp(mean of log precisions), times 100; ``precisions`` are the
    corpus-level modified n-gram precisions (percent) for n = 1, 2, 3, 4, and the brevity penalty
    is exp(1 - r / c) when the outputs' c words are fewer than the references' r, else 1.
    """

    sentences: int
    exact_match: float  # share of outputs equal to the reference, word for word
    token_accuracy: float  # share of reference words (and the end) reproduced at their position
    bleu: float  # corpus BLEU, 0 to 100
    precisions: tuple[float, ...]  # modified n-gram precisions (percent), n = 1..4
    brevity_penalty: float
    output_length: int  # c, after sacrebleu's tokenisation
    reference_length: int  # r
    signature: str  # sacrebleu's record of its settings: nrefs|case|eff|tok|smooth|version


def score_translations(outputs: Sequence[Sentence], references: Sequence[Sentence]) -> Scores:
    """Exact match, word accuracy and corpus BLEU of ``outputs`` against ``references``.

    outputs[k], references[k]: a sentence (str, words separated by spaces) or its words; one
    reference per output. BLEU uses sacrebleu's default settings (13a tokenisation, mixed case,
    exponential smoothing), the ones its signature reports.
    """
    hypotheses, gold = _sentences("outputs", outputs), _sentences("references", references)
    if len(hypotheses) != len(gold):
        raise ValueError(f"got {len(hypotheses)} outputs for {len(gold)} references")
    if not gold:
        raise ValueError("score_translations needs at least one sentence")
    empty = [k for k, words in enumerate(gold) if not words]
    if empty:
        raise ValueError(f"references[{empty[0]}] is empty: a reference needs a word")
    exact = sum(output == reference for output, reference in zip(hypotheses, gold, strict=True))
    correct = sum(  # position by position, None marking the end of each sentence
        sum(a == b for a, b in zip((*output, None), (*reference, None), strict=False))
        for output, reference in zip(hypotheses, gold, strict=True)
    )
    total = sum(len(reference) + 1 for reference in gold)
    bleu = BLEU()  # corpus-level: n-gram counts summed over all sentences, then one score
    result = bleu.corpus_score([" ".join(h) for h in hypotheses], [[" ".join(r) for r in gold]])
    return Scores(
        sentences=len(gold),
        exact_match=exact / len(gold),
        token_accuracy=correct / total,
        bleu=result.score,
        precisions=tuple(result.precisions),
        brevity_penalty=result.bp,
        output_length=result.sys_len,
        reference_length=result.ref_len,
        signature=str(bleu.get_signature()),
    )


def sentence_bleu(output: Sentence, reference: Sentence) -> float:
    """BLEU (0 to 100) of one output against one reference: sacrebleu's sentence BLEU, whose
    exponential smoothing and effective order keep a missing 4-gram from zeroing the score."""
    hypothesis, gold = _words("output", output), _words("reference", reference)
    if not gold:
        raise ValueError("reference is empty: a reference needs a word")
    bleu = BLEU(effective_order=True)
    return bleu.sentence_score(" ".join(hypothesis), [" ".join(gold)]).score


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
    header = ["", "sentences", "exact match", "word accuracy", "BLEU",
              "1/2/3/4-gram precision (%)", "brevity penalty"]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for name, s in rows.items():
        precisions = " / ".join(f"{p:.1f}" for p in s.precisions)
        cells = [name, str(s.sentences), f"{s.exact_match:.1%}", f"{s.token_accuracy:.1%}",
                 f"{s.bleu:.1f}", precisions, f"{s.brevity_penalty:.3f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = ["Scores", "score_translations", "scores_table", "sentence_bleu", "translate_pairs"]
