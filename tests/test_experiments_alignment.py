import numpy as np
import pytest
import torch

import minitransformer as mt
from minitransformer.data import Pair
from minitransformer.experiments import alignment as al

PAIR = Pair(  # 어제 공원 에서 고양이 를 지수 가 봤어 걔 귀엽더라
    ("어제", "공원", "에서", "고양이", "를", "지수", "가", "봤어", "걔", "귀엽더라"),
    ("Jisu", "saw", "a", "cat", "at", "the", "park", "yesterday", "and", "it", "was", "cute"),
    ((0, 7), (1, 5), (1, 6), (2, 4), (3, 2), (3, 3), (5, 0), (7, 1), (8, 9), (9, 10), (9, 11)),
    (0, 1, 3, 6, 7, 9, 11),
)


def test_pronoun_roles_finds_the_patient_and_the_agent():
    roles = al.pronoun_roles(PAIR)
    assert (roles.that_one, roles.agent, roles.patient, roles.pronoun) == (8, 5, 3, 9)
    assert al.pronoun_roles(Pair(("어제",), ("yesterday",), ((0, 0),), (0,))) is None


def test_backward_share_counts_alignments_that_run_backwards():
    # content sources in order: 5, 7, 3, 1, 0, 8, 9 -> backwards at 3, 1, 0: 3 of 6
    assert al.backward_share([PAIR]) == pytest.approx(3 / 6)
    with pytest.raises(ValueError):
        al.backward_share([Pair(("a",), ("b",))])


class _FakeTranslator:
    """Every map puts all its weight on one fixed source position."""

    def __init__(self, key: int) -> None:
        self.key = key

    def attention(self, source, target):
        S, T = len(source), len(target) + 1
        one_hot = lambda rows: torch.nn.functional.one_hot(  # noqa: E731
            torch.full((2, rows), self.key), S
        ).float()
        return mt.pretrained.TranslationAttention(
            list(source), [], [], encoder=[one_hot(S)] * 2, decoder_self=[], cross=[one_hot(T)] * 2
        )


@pytest.mark.parametrize("key, patient, agent", [(3, 1.0, 0.0), (4, 1.0, 0.0), (6, 0.0, 1.0)])
def test_antecedent_heads_scores_the_top_key(key, patient, agent):
    result = al.antecedent_heads(_FakeTranslator(key), [PAIR, PAIR])
    assert (result.n, result.n_agent) == (2, 2)
    for shares, value in (
        (result.encoder_patient, patient),
        (result.cross_patient, patient),
        (result.encoder_agent, agent),
        (result.cross_agent, agent),
    ):
        np.testing.assert_array_equal(shares, np.full((2, 2), value))


def test_alignment_hits_and_sentence_slider():
    hits = al.alignment_hits(_FakeTranslator(3), [PAIR])  # always on 고양이: hits "cat" only
    assert hits["n_all"] == 7 and hits["all"] == pytest.approx(1 / 7)
    assert hits["n_backward"] == 3 and hits["backward"] == pytest.approx(1 / 3)
    fig = al.sentence_slider(
        [np.eye(2), np.eye(3)],
        [["a", "b"], ["a", "b", "c"]],
        [["x", "y"], ["x", "y", "z"]],
        ["one", "two"],
    )
    steps = fig.layout.sliders[0].steps
    assert len(steps) == 2 and steps[1].args[0]["x"] == [["0:a", "1:b", "2:c"]]
    with pytest.raises(ValueError):
        al.sentence_slider([], [], [], [])


class _Writer:
    def __init__(self, text: str) -> None:
        self.text = text

    def translate_batch(self, sentences):
        return [self.text for _ in sentences]


@pytest.mark.parametrize(
    "text, right",
    [("Jisu saw a cat at the park yesterday and it was cute", 1.0),
     ("Jisu saw a cat at the park yesterday and she was cute", 0.0),
     ("Jisu saw a cat and", 0.0), ("no conjunction here", 0.0)],
)  # fmt: skip
def test_pronoun_accuracy_reads_the_word_after_the_last_and(text, right):
    assert al.pronoun_accuracy(_Writer(text), [PAIR, PAIR]) == right
    with pytest.raises(ValueError):
        al.pronoun_accuracy(_Writer(text), [Pair(("어제",), ("yesterday",))])
