"""The rich grammar (make_corpus(grammar="rich")), and the default corpus pinned byte for byte."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import unicodedata
from collections import Counter

import pytest

from minitransformer.data import (
    ADJECTIVES,
    ANIMALS,
    MAX_RICH_SOURCE_WORDS,
    NOTES_SOURCE,
    NOTES_TARGET,
    OBJECTS,
    PEOPLE,
    RICH_SUBJECTS,
    TIME_PLACES,
    TIMES,
    EncodedPairs,
    Pair,
    RichChoice,
    RichClause,
    build_rich_pair,
    has_final_consonant,
    make_corpus,
    notes_example,
    particle,
)
from minitransformer.tokens import UNK_ID

# sha256 of the default corpus's train + held-out texts, computed on main before the rich
# grammar existed; the shipped translator was trained on this corpus.
NOTES_CORPUS_SHA256 = "3a183ccee15b2f91616a1ad1b362e90f5c077fc1d58b076434f6b503b45df0ae"
PARTICLE_WORDS = {"는", "은", "가", "이", "를", "을"}
ANIMATE = {**PEOPLE, **ANIMALS}


def corpus_digest(pairs: list[Pair]) -> str:
    text = "\n".join(f"{pair.source_text}\t{pair.target_text}" for pair in pairs)
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.fixture(scope="module")
def rich():
    return make_corpus(grammar="rich")


def clauses(pair: Pair) -> list[list[str]]:
    """The Korean clauses of ``pair`` (split at 그리고), the last with its 거기/걔 clause."""
    out: list[list[str]] = [[]]
    for word in pair.source:
        if word == "그리고":
            out.append([])
        else:
            out[-1].append(word)
    return out


def marked(clause: list[str], particles: tuple[str, str]) -> str | None:
    """The noun before the first of ``particles`` in ``clause``."""
    for position, word in enumerate(clause):
        if word in particles:
            return clause[position - 1]
    return None


# --- the notes grammar is unchanged -----------------------------------------------------------


def test_default_corpus_is_pinned_and_is_the_notes_grammar():
    default = make_corpus()
    assert corpus_digest(default.train + default.held_out) == NOTES_CORPUS_SHA256
    assert make_corpus(grammar="notes") == default
    assert default.longer == [] and len(default.encoded("longer")) == 0
    assert make_corpus(300, 50, seed=2, grammar="notes", num_longer=0) == make_corpus(300, 50, 2)


def test_notes_sentence_is_the_same_pair_in_both_grammars(rich):
    pair = notes_example("rich")
    assert dataclasses.replace(pair, references=()) == notes_example() == notes_example("notes")
    assert pair.references[0] == pair.target  # every time phrase at the end: the notes' order
    assert pair.source_text == NOTES_SOURCE and pair.target_text == NOTES_TARGET
    assert rich.train[0] == pair
    assert make_corpus(50, 10, seed=9, grammar="rich").train[0] == pair


# --- particles ------------------------------------------------------------------------------


def test_final_consonant_from_the_syllable():
    assert has_final_consonant("형") and has_final_consonant("선생님") and has_final_consonant("책")
    assert not has_final_consonant("엄마") and not has_final_consonant("고양이")
    assert not has_final_consonant("새")
    # the arithmetic agrees with Unicode's decomposition: a final consonant is a third jamo
    for code in range(0xAC00, 0xD7A4):
        syllable = chr(code)
        assert has_final_consonant(syllable) == (len(unicodedata.normalize("NFD", syllable)) == 3)
    with pytest.raises(ValueError, match="word"):
        has_final_consonant("cat")
    with pytest.raises(ValueError, match="word"):
        has_final_consonant("")
    with pytest.raises(TypeError, match="word"):
        has_final_consonant(5)
    with pytest.raises(ValueError, match="role"):
        particle("형", "genitive")


def test_particles_follow_the_final_sound():
    assert [particle("민수", role) for role in ("topic", "subject", "object")] == ["는", "가", "를"]
    assert [particle("형", role) for role in ("topic", "subject", "object")] == ["은", "이", "을"]
    for noun, topic, _ in RICH_SUBJECTS[1:]:
        assert topic == particle(noun, "topic"), noun
    assert RICH_SUBJECTS[0] == (None, None, "I")


def test_every_particle_in_the_corpus_fits_its_noun(rich):
    roles = {"는": "topic", "은": "topic", "가": "subject", "이": "subject"}
    roles |= {"를": "object", "을": "object"}
    seen = Counter()
    for pair in rich.train + rich.held_out + rich.longer:
        for position, word in enumerate(pair.source):
            if word in roles:
                noun = pair.source[position - 1]
                assert word == particle(noun, roles[word]), pair.source_text
                seen[word] += 1
    assert all(seen[word] > 50 for word in roles), seen


# --- scrambling, reference, polysemy --------------------------------------------------------


def test_scrambling_gives_both_orders_with_the_same_english(rich):
    clause = RichClause("person", time=0, place=2, verb=0, agent="민수", patient="지수")
    first = build_rich_pair(RichChoice((clause,)))
    second = build_rich_pair(
        RichChoice(
            (RichClause("person", 0, 2, 0, agent="민수", patient="지수", object_first=True),)
        )
    )
    assert first.source_text == "어제 공원 에서 민수 가 지수 를 만났어"
    assert second.source_text == "어제 공원 에서 지수 를 민수 가 만났어"
    assert first.target_text == second.target_text == "Minsu met Jisu at the park yesterday"
    for pair in (first, second):
        assert [pair.source[i] for i in pair.aligned_source(0)] == ["민수"]
        assert [pair.source[i] for i in pair.aligned_source(2)] == ["지수"]
    # in the corpus: agent first and patient first both occur, with the same English order
    orders = Counter()
    for pair in rich.train:
        for clause_words in clauses(pair):
            agent, patient = marked(clause_words, ("가", "이")), marked(clause_words, ("를", "을"))
            if agent and patient:
                patient_first = clause_words.index(patient) < clause_words.index(agent)
                orders[patient_first] += 1
                english_agent = PEOPLE[agent][0]
                assert english_agent in pair.target_text
    assert orders[True] > 500 and orders[False] > 500
    assert 0.4 < orders[True] / (orders[True] + orders[False]) < 0.6


def test_pronoun_follows_the_patient():
    def tail(agent: str | None, patient: str) -> str:
        verb = 3  # 봤어: its patient may be an animal
        clause = RichClause("person", 1, 0, verb, agent=agent, patient=patient, object_first=True)
        pair = build_rich_pair(RichChoice((clause,), tail="pronoun", adjective=1))
        assert pair.source[-2:] == ("걔", "피곤하더라")
        pronoun = pair.target[-3]
        assert pair.aligned_source(len(pair.target) - 3) == [len(pair.source) - 2]  # 걔
        return pronoun

    assert tail("민수", "지수") == "she"  # the agent is a he, the patient a she
    assert tail("지수", "아빠") == "he"
    assert tail(None, "동생") == "she"
    assert tail("엄마", "고양이") == "it"
    assert tail("형", "강아지") == "it"
    with pytest.raises(ValueError, match="pronoun"):
        RichChoice((RichClause("person", 1, 0, 3, patient="영화"),), tail="pronoun")


def test_pronoun_in_the_corpus_is_the_patients(rich):
    counts = Counter()
    for pair in rich.train + rich.held_out + rich.longer:
        if "걔" not in pair.source:
            continue
        last = clauses(pair)[-1]
        patient = marked(last, ("를", "을"))
        pronoun = pair.target[-3]
        assert pronoun == ANIMATE[patient][1], pair.source_text
        assert pair.target[-4:-3] == ("and",) and pair.target[-2] == "was"
        assert pair.target[-1] in {english for _, english in ADJECTIVES}
        counts[pronoun] += 1
    assert counts["he"] > 100 and counts["she"] > 100 and counts["it"] > 30


def test_saw_or_watched_depends_on_the_object(rich):
    watched = build_rich_pair(
        RichChoice((RichClause("person", 0, 9, 3, agent="지수", patient="영화"),))
    )
    saw = build_rich_pair(RichChoice((RichClause("person", 0, 9, 3, agent="지수", patient="형"),)))
    assert watched.target_text == "Jisu watched a movie at the cinema yesterday"
    assert saw.target_text == "Jisu saw my brother at the cinema yesterday"
    senses = Counter()
    for pair in rich.train + rich.held_out:
        for position, word in enumerate(pair.source):
            if word != "봤어":
                continue
            (english,) = [
                pair.target[j] for i, j in pair.alignment if i == position and pair.target[j] != "I"
            ]
            clause_start = max(
                [k + 1 for k, w in enumerate(pair.source[:position]) if w == "그리고"], default=0
            )
            objects = pair.source[clause_start:position]
            expected = "watched" if "영화" in objects else "saw"
            assert english == expected, pair.source_text
            senses[
                english, objects.index("영화") < len(objects) - 2 if "영화" in objects else None
            ] += 1
    assert senses["saw", None] > 100
    # 영화 right before the verb, and (scrambled) before the agent
    assert senses["watched", False] > 50 and senses["watched", True] > 20


# --- the corpus -----------------------------------------------------------------------------


def test_alignments_are_valid_and_content_words_are_aligned(rich):
    for pair in rich.train[:1500] + rich.held_out + rich.longer:
        assert pair.alignment == tuple(sorted(pair.alignment))
        aligned_targets = {j for _, j in pair.alignment}
        aligned_sources = {i for i, _ in pair.alignment}
        for j in pair.content:
            assert pair.aligned_source(j), (pair.target_text, pair.target[j])
        for j, word in enumerate(pair.target):
            # only the "and" opening a 거기/걔 clause and the comma after a fronted time
            # phrase translate no Korean word
            assert j in aligned_targets or word in ("and", ","), (pair.target_text, word)
        for i, word in enumerate(pair.source):
            assert (i in aligned_sources) == (word not in PARTICLE_WORDS), (pair.source_text, word)
            if word == "에서":
                assert [pair.target[j] for k, j in pair.alignment if k == i] == ["at"]
            if word == "그리고":
                assert [pair.target[j] for k, j in pair.alignment if k == i] == ["and"]
        assert len(pair.aligned_source(0)) == 1


def test_sizes_lengths_and_clause_counts(rich):
    assert len(rich.train) == 4000 and len(rich.held_out) >= 450 and len(rich.longer) == 200
    lengths = [len(pair.source) for pair in rich.train + rich.held_out]
    assert max(lengths) <= MAX_RICH_SOURCE_WORDS == 20
    counts = Counter(len(clauses(pair)) for pair in rich.train)
    assert set(counts) == {1, 2} and 1.2 < counts[1] / counts[2] < 1.8  # 3:2
    assert all(len(clauses(pair)) == 3 for pair in rich.longer)
    assert min(len(pair.source) for pair in rich.longer) > 12
    assert max(len(pair.source) for pair in rich.longer) > MAX_RICH_SOURCE_WORDS
    # only the last clause carries 거기 / 걔
    for pair in rich.train + rich.longer:
        for clause_words in clauses(pair)[:-1]:
            assert "거기" not in clause_words and "걔" not in clause_words
    # about half the clauses are person clauses (weights 1:1:1:3); a fifth of those drop "I"
    person = dropped = total = 0
    for pair in rich.train:
        for clause_words in clauses(pair):
            total += 1
            if marked(clause_words, ("를", "을")) in ANIMATE or (
                "봤어" in clause_words
                and "영화" in clause_words
                and not {"는", "은"} & set(clause_words)
            ):
                person += 1
                dropped += marked(clause_words, ("가", "이")) is None
    assert 0.45 < person / total < 0.55 and 0.15 < dropped / person < 0.25


def test_splits_are_disjoint_and_held_out_and_longer_use_training_words(rich):
    train, held, longer = (
        {pair.source for pair in split} for split in (rich.train, rich.held_out, rich.longer)
    )
    assert len(train) == len(rich.train) and len(held) == len(rich.held_out)
    assert len(longer) == len(rich.longer)
    assert not train & held and not train & longer and not held & longer
    for pair in rich.held_out + rich.longer:
        assert UNK_ID not in rich.src_vocab.encode(pair.source)
        assert UNK_ID not in rich.tgt_vocab.encode(pair.target)
    assert len(rich.encoded("longer")) == 200
    assert rich.src_vocab != make_corpus().src_vocab
    for word in ("그리고", "걔", "에서", "를", "을", "가", "이", "는", "은", "고양이"):
        assert word in rich.src_vocab
    for word in ("watched", "saw", "it", "he", "she", "cute", "puppy"):
        assert word in rich.tgt_vocab
    assert set(OBJECTS) <= set(rich.src_vocab.itos)


def test_rich_corpus_is_deterministic_by_seed():
    first = make_corpus(300, 50, seed=3, grammar="rich", num_longer=20)
    assert first == make_corpus(300, 50, seed=3, grammar="rich", num_longer=20)
    assert make_corpus(300, 50, seed=4, grammar="rich", num_longer=20).train != first.train
    # the longer split is drawn after the others: its size leaves them alone
    other = make_corpus(300, 50, seed=3, grammar="rich", num_longer=5)
    assert other.train == first.train and other.held_out == first.held_out
    assert other.longer == first.longer[:5]
    assert make_corpus(300, 50, seed=3, grammar="rich", num_longer=0).longer == []


def test_bad_grammar_and_num_longer():
    with pytest.raises(ValueError, match=r"grammar.*'notes', 'rich'"):
        make_corpus(grammar="fancy")
    with pytest.raises(TypeError, match="grammar"):
        make_corpus(grammar=None)
    with pytest.raises(TypeError, match="grammar"):
        notes_example(grammar=1)
    with pytest.raises(ValueError, match="num_longer"):
        make_corpus(10, 2, grammar="rich", num_longer=-1)
    with pytest.raises(TypeError, match="num_longer"):
        make_corpus(10, 2, grammar="rich", num_longer=2.5)
    with pytest.raises(TypeError, match="num_longer"):
        make_corpus(10, 2, grammar="rich", num_longer=True)
    with pytest.raises(ValueError, match="num_longer"):
        make_corpus(10, 2, num_longer=5)  # the notes grammar has no longer split
    with pytest.raises(ValueError, match="split"):
        make_corpus(10, 2).encoded("long")
    with pytest.raises(ValueError, match="kind"):
        RichClause("flying", 0, 0, 0)
    with pytest.raises(ValueError, match="patient"):
        RichClause("person", 0, 0, 0, agent="민수", patient="고양이")  # cats are only seen
    with pytest.raises(TypeError, match="choice"):
        build_rich_pair("민수")


def test_the_docstring_examples():
    by_subject = RichChoice((RichClause("object", 0, 3, 3, subject=7, object="책"),))
    pair = build_rich_pair(by_subject)
    assert pair.source_text == "민수 는 어제 도서관 에서 책 을 읽었어"
    assert pair.target_text == "Minsu read a book at the library yesterday"
    assert [pair.target[j] for j in pair.content] == [
        "Minsu",
        "read",
        "book",
        "library",
        "yesterday",
    ]
    cat = RichClause("person", 0, 2, 3, agent="지수", patient="고양이", object_first=True)
    pair = build_rich_pair(RichChoice((cat,), tail="pronoun", adjective=4))
    assert pair.source_text == "어제 공원 에서 고양이 를 지수 가 봤어 걔 귀엽더라"
    assert pair.target_text == "Jisu saw a cat at the park yesterday and it was cute"
    assert pair.target[pair.content[-2]] == "it"  # the pronoun counts as content


# --- the time phrase's three places: several right translations --------------------------


def test_every_translation_places_each_time_phrase_in_one_of_three_places(rich):
    time_words = {word for _, english in TIMES for word in english.split()}
    for pair in rich.train[:800] + rich.held_out[:200] + rich.longer[:50]:
        k = len(clauses(pair))
        assert len(pair.references) == len(set(pair.references)) == 3**k
        assert pair.target in pair.references and pair.right_targets == pair.references
        # the same words, only the time phrases (and commas) move
        bare = {tuple(w for w in r if w not in time_words and w != ",") for r in pair.references}
        assert len(bare) == 1
        assert [r.count(",") for r in pair.references] == [
            sum(place == "front-comma" for place in places)
            for places in itertools.product(TIME_PLACES, repeat=k)
        ]
        # the first reference has every time phrase at the end (as the notes grammar), the
        # first with "front" for the first clause has it in front
        time_starts = {english.split()[0] for _, english in TIMES}
        assert pair.references[0][0] not in time_starts
        assert pair.references[3 ** (k - 1)][0] in time_starts


def test_time_places_follow_their_weights_and_move_the_alignment(rich):
    places = Counter()
    for pair in rich.train:
        joins = [j for i, j in pair.alignment if pair.source[i] == "그리고"]
        for j in range(len(pair.target)):
            if j == 0 or j - 1 in joins:  # the first word of a clause
                time_first = any(
                    pair.source[i] in {korean for korean, _ in TIMES}
                    for i in pair.aligned_source(j)
                )
                places["front" if time_first else "other"] += 1
        places["comma"] += pair.target.count(",")
    front = places["front"] / (places["front"] + places["other"])
    assert 0.55 < front < 0.65  # front + front-comma = 0.3 + 0.3
    assert 0.45 < places["comma"] / places["front"] < 0.55
    moved = build_rich_pair(
        RichChoice((RichClause("movement", 0, 0, 0, time_place="front-comma"),), tail="crowd")
    )
    assert moved.target_text == "yesterday , I went to the cafe and there were many people there"
    assert moved.alignment[0] == (0, 0)  # 어제 -> yesterday, now the first English word
    assert moved.target[moved.aligned_source(0)[0]] == "yesterday"
    with pytest.raises(ValueError, match="time_place"):
        RichClause("movement", 0, 0, 0, time_place="middle")


def test_references_are_checked_and_encoded():
    with pytest.raises(ValueError, match="references must include target"):
        Pair(("a",), ("b",), references=(("c",),))
    with pytest.raises(TypeError, match="references"):
        Pair(("a",), ("b",), references=["b"])
    corpus = make_corpus(200, 30, seed=1, grammar="rich", num_longer=0)
    data = corpus.encoded("held_out")
    assert data.references is not None and len(data.references) == len(data)
    for k, pair in enumerate(corpus.held_out):
        assert data.right_targets(k) == [corpus.tgt_vocab.encode(r) for r in pair.references]
    notes = make_corpus(200, 30, seed=1).encoded("held_out")
    assert notes.references is None and notes.right_targets(0) == [notes.target[0][1:-1]]
    with pytest.raises(ValueError, match="lists of references"):
        EncodedPairs([[4]], [[1, 4, 2]], references=[[[4]], [[4]]])
    with pytest.raises(TypeError, match="references"):
        EncodedPairs([[4]], [[1, 4, 2]], references=[[]])
