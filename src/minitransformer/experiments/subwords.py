"""Chapter 9's subword experiment: byte-pair encoding learned on the book's corpus.

The core algorithm is ``minitransformer.subwords``; this module only feeds it the corpus, picks
an unseen word to split, and draws how the vocabulary and the length of the text trade off as
the merges go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from minitransformer.data import Pair
from minitransformer.subwords import BPE, Merge


def word_counts(pairs: Iterable[Pair]) -> Counter:
    """How often each word occurs in ``pairs``, Korean and English together (one shared
    vocabulary, as the paper's English-German one)."""
    return Counter(word for pair in pairs for word in (*pair.source, *pair.target))


def language(unit: str) -> str:
    """``"Korean"`` for a unit with a Hangul syllable in it, else ``"English"``."""
    return "Korean" if any("\uac00" <= ch <= "\ud7a3" for ch in unit) else "English"


def merge_rows(merges: Sequence[Merge], first: int = 10) -> list[dict]:
    """The first ``first`` merges as table rows: step, the pair, its count, the new unit."""
    return [
        {"step": k, "left": m.pair[0], "right": m.pair[1], "count": f"{m.count:,}",
         "new unit": m.unit, "language": language(m.unit)}
        for k, m in enumerate(merges[:first], start=1)
    ]  # fmt: skip


def first_unseen(candidates: Iterable[str], counts: Mapping[str, int], bpe: BPE) -> str:
    """The first candidate that is not a training word but whose characters all are known."""
    known = set(bpe.symbols)
    for word in candidates:
        if word not in counts and set(word) <= known:
            return word
    raise ValueError("no candidate is both unseen in training and made of known characters")


def units_per_word(bpe: BPE, counts: Mapping[str, int]) -> tuple[list[int], list[float]]:
    """After k = 0, 1, ... merges: the vocabulary size and the mean number of units per word
    (over every word occurrence in ``counts``). Computed from the merges' counts: merge k
    shortens the text by exactly its count (``minitransformer.subwords``)."""
    occurrences = sum(counts.values())
    length = sum((len(word) + 1) * n for word, n in counts.items())  # characters + marker
    sizes, means = [len(bpe.symbols)], [length / occurrences]
    for merge in bpe.merges:
        length -= merge.count
        sizes.append(sizes[-1] + 1)
        means.append(length / occurrences)
    return sizes, means


def vocabulary_figure(sizes: Sequence[int], means: Sequence[float], words: int) -> go.Figure:
    """Vocabulary size and mean units per word against the number of merges, with the word
    vocabulary (``words`` entries, one unit per word) as a dashed reference."""
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.14,
                        subplot_titles=("vocabulary size", "units per word"))  # fmt: skip
    merges = list(range(len(sizes)))
    for col, values, unit in ((1, sizes, "units in the vocabulary"), (2, means, "units per word")):
        fig.add_trace(go.Scatter(x=merges, y=list(values), name=unit,
                                 hovertemplate=f"%{{x}} merges: %{{y:.4g}} {unit}<extra></extra>"),
                      row=1, col=col)  # fmt: skip
    # labels where the curves are not: below the rising one, left of where the falling one ends
    references = ((1, words, "word vocabulary", "bottom right"),
                  (2, 1.0, "one unit per word", "top left"))  # fmt: skip
    for col, value, label, position in references:
        fig.add_hline(y=value, line_dash="dash", line_color="grey", row=1, col=col,
                      annotation_text=label, annotation_position=position)  # fmt: skip
    fig.update_xaxes(title_text="merges")
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(height=360, showlegend=False, margin=dict(t=40))
    return fig
