"""What the trained translator's attention reads where English needs a word from elsewhere.

Two measurements on the rich grammar (``data.build_rich_pair``), both teacher-forced on the
reference English (``Pair.target``), with the row convention of ``Translator.attention``:
row t of a decoder map belongs to the position that *predicts* output word t.

- **Reordering** (Korean SOV, English SVO): ``backward_share`` counts how often the next
  content word of the English sentence translates a Korean word that stands *earlier* than
  the previous content word's, i.e. how often the alignment runs backwards;
  ``alignment_hits`` asks, for every content word, whether the cross-attention's largest
  weight is on its aligned Korean word, separately for words whose alignment runs backwards.
- **A pronoun that refers back** (걔 -> he/she/it, chosen by the patient of the clause before
  it): ``antecedent_heads`` measures, for every head, how often its largest weight from 걔
  (encoder self-attention) or from the position that predicts the pronoun (cross-attention)
  lands on the patient (the noun or its particle 를/을) and how often on the agent (가/이);
  ``pronoun_accuracy`` checks the pronoun the translator writes (e.g. with heads removed).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from minitransformer.data import AND, THAT_ONE, Pair
from minitransformer.viz.interactive import slider_heatmap, unique_labels

AGENT_PARTICLES = ("가", "이")
PATIENT_PARTICLES = ("를", "을")


@dataclass(frozen=True)
class PronounRoles:
    """Positions in one pair with 걔: the Korean 걔, the agent and patient nouns of the clause
    before it (agent None when dropped), and the English pronoun it becomes."""

    that_one: int
    agent: int | None
    patient: int
    pronoun: int  # target index


def pronoun_roles(pair: Pair) -> PronounRoles | None:
    """The roles of ``pair``'s 걔 sentence, or None when it has no 걔."""
    if THAT_ONE not in pair.source:
        return None
    that = pair.source.index(THAT_ONE)
    start = max((i + 1 for i, w in enumerate(pair.source[:that]) if w == AND), default=0)
    agent = patient = None
    for i in range(start, that):  # the last clause: its particles say who did what
        if pair.source[i] in AGENT_PARTICLES:
            agent = i - 1
        elif pair.source[i] in PATIENT_PARTICLES:
            patient = i - 1
    if patient is None:
        raise ValueError(f"no patient before 걔 in {pair.source_text!r}")
    (pronoun,) = [j for i, j in pair.alignment if i == that]
    return PronounRoles(that, agent, patient, pronoun)


@dataclass(frozen=True)
class AntecedentHeads:
    """Per head, arrays (N, H): share of the ``n`` sentences whose top key is the patient
    (noun or particle); share of the ``n_agent`` sentences that have an agent whose top key is
    the agent (noun or particle); mean weight on the patient. ``encoder``: the row of 걔 in
    encoder self-attention; ``cross``: the cross-attention row that predicts the pronoun."""

    encoder_patient: np.ndarray
    encoder_agent: np.ndarray
    encoder_weight: np.ndarray
    cross_patient: np.ndarray
    cross_agent: np.ndarray
    cross_weight: np.ndarray
    n: int
    n_agent: int


def antecedent_heads(translator, pairs: Sequence[Pair]) -> AntecedentHeads:
    """Measure every head on every pair of ``pairs`` that has 걔 (see ``AntecedentHeads``)."""
    found = [(pair, roles) for pair in pairs if (roles := pronoun_roles(pair)) is not None]
    if not found:
        raise ValueError("no pair with 걔 to measure")
    sums = {key: 0.0 for key in ("ep", "ea", "ew", "cp", "ca", "cw")}
    for pair, r in found:
        maps = translator.attention(pair.source, pair.target)
        patient = [r.patient, r.patient + 1]
        agent = [] if r.agent is None else [r.agent, r.agent + 1]
        for prefix, layers, row in (("e", maps.encoder, r.that_one), ("c", maps.cross, r.pronoun)):
            weights = np.stack([layer[:, row].numpy() for layer in layers])  # (N, H, S)
            top = weights.argmax(-1)  # (N, H)
            sums[prefix + "p"] = sums[prefix + "p"] + np.isin(top, patient)
            sums[prefix + "a"] = sums[prefix + "a"] + np.isin(top, agent)
            sums[prefix + "w"] = sums[prefix + "w"] + weights[..., patient].sum(-1)
    n, n_agent = len(found), sum(r.agent is not None for _, r in found)
    share = {key: np.asarray(value, dtype=float) / (n_agent if key[1] == "a" else n)
             for key, value in sums.items()} if n_agent else None  # fmt: skip
    if share is None:
        raise ValueError("no pair with 걔 has an agent: the agent share is undefined")
    return AntecedentHeads(*(share[k] for k in ("ep", "ea", "ew", "cp", "ca", "cw")), n, n_agent)


def pronoun_accuracy(translator, pairs: Sequence[Pair]) -> float:
    """Share of the pairs with 걔 whose greedy translation has the right pronoun: the word after
    its last "and" (the 걔 clause is always the last) is the reference's pronoun."""
    found = [(pair, roles) for pair in pairs if (roles := pronoun_roles(pair)) is not None]
    if not found:
        raise ValueError("no pair with 걔 to translate")
    outputs = translator.translate_batch([pair.source for pair, _ in found])
    right = 0
    for (pair, roles), output in zip(found, outputs, strict=True):
        words = output.split()
        ands = [k for k, word in enumerate(words) if word == "and"]
        right += bool(ands) and words[ands[-1] + 1 :][:1] == [pair.target[roles.pronoun]]
    return right / len(found)


def _content_sources(pair: Pair) -> list[tuple[int, int]]:
    """(target index, first aligned source index) of every aligned content word, in order."""
    return [(j, min(a)) for j in pair.content if (a := pair.aligned_source(j))]


def backward_share(pairs: Sequence[Pair]) -> float:
    """Share of content words (after the first of their sentence) whose aligned Korean word
    stands earlier than the previous content word's: how often the alignment runs backwards."""
    back = judged = 0
    for pair in pairs:
        sources = [i for _, i in _content_sources(pair)]
        back += sum(b < a for a, b in itertools.pairwise(sources))
        judged += max(len(sources) - 1, 0)
    if judged == 0:
        raise ValueError("no content words to judge")
    return back / judged


def alignment_hits(translator, pairs: Sequence[Pair], *, layer: int = -1) -> dict[str, float]:
    """Share of content words whose cross-attention row (layer ``layer``, mean over heads)
    has its largest weight on an aligned Korean word: for all of them ("all") and for those
    whose alignment runs backwards ("backward"); with the counts ("n_all", "n_backward")."""
    hits = {True: [], False: []}
    for pair in pairs:
        weights = translator.attention(pair.source, pair.target).cross[layer].mean(0)  # (T, S)
        previous = None
        for j, i in _content_sources(pair):
            hit = int(weights[j].argmax()) in pair.aligned_source(j)
            hits[previous is not None and i < previous].append(hit)
            previous = i
    every = hits[True] + hits[False]
    return {"all": float(np.mean(every)), "backward": float(np.mean(hits[True])),
            "n_all": len(every), "n_backward": len(hits[True])}  # fmt: skip


def sentence_slider(
    maps: Sequence[np.ndarray],
    x_tokens: Sequence[Sequence[str]],
    y_tokens: Sequence[Sequence[str]],
    labels: Sequence[str],
    **options,
) -> go.Figure:
    """``viz.slider_heatmap`` over sentences of different lengths: each slider step restyles
    the map and both token axes. maps[k]: (len(y_tokens[k]), len(x_tokens[k]))."""
    if not (len(maps) == len(x_tokens) == len(y_tokens) == len(labels)) or not maps:
        raise ValueError("maps, x_tokens, y_tokens and labels must be equally long, not empty")
    fig = slider_heatmap([maps[0]], [labels[0]], x_tokens[0], y_tokens[0], **options)
    longest = max(len(y) for y in y_tokens)
    fig.update_layout(height=int(min(max(260 + 28 * longest, 360), 760)) + 70)
    steps = [
        dict(method="restyle", label=str(label),
             args=[{"z": [np.round(m, 4).tolist()], "x": [unique_labels(x)],
                    "y": [unique_labels(y)]}, [0]])
        for m, x, y, label in zip(maps, x_tokens, y_tokens, labels, strict=True)
    ]  # fmt: skip
    fig.update_layout(sliders=[dict(active=0, pad=dict(t=50), steps=steps,
                                    currentvalue=dict(prefix="sentence: "))])  # fmt: skip
    return fig
