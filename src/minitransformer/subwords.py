"""Subwords: byte-pair encoding (BPE), learned from word counts as in Sennrich et al. (2016).

A word vocabulary has one entry per word and no way to read a word it has never seen (it
becomes ``<unk>``). Byte-pair encoding starts from the characters instead and learns, one merge
at a time, which neighbouring units to glue into a longer one: at every step the pair that
stands side by side most often in the training words becomes a new unit. After k merges the
vocabulary holds every character of the training words, the end-of-word marker and k merged
units. A new word is split into the units it can be built from, so it needs ``<unk>`` only for
a character that training never saw.

Conventions:

* **End-of-word marker.** Every word is read as its characters followed by ``END_OF_WORD``
  (``"</w>"``), a unit of its own, so ``"cafe"`` starts as ``c a f e </w>``. Units that hold the
  marker can only end a word (``e</w>``), units without it sit inside one (``caf``): the same
  letters at the end of a word and inside one are different units, and ``decode`` knows where
  each word ends. A word may not contain the marker's text.
* **Counts.** A pair's count is how many times its merge would actually glue the pair, summed
  over the training words weighted by their counts. For two different units that is how often
  they stand side by side; a doubled unit in a run (``l l l``) counts once per merge that can
  be made (once for three, twice for four). So every merge shortens the training text by
  exactly its count.
* **Ties.** Among pairs with the highest count, the pair that sorts first (by its left unit,
  then its right unit, in Python's string order) is merged. Learning depends only on the words
  and their counts, never on the order they are given in.
* **Order.** Merges are applied in the order they were learned, each one left to right over the
  word, exactly as during learning (so a training word is split the way learning left it).
"""

from __future__ import annotations

import numbers
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise

from minitransformer.tokens import UNK

END_OF_WORD = "</w>"


@dataclass(frozen=True)
class Merge:
    """One learned merge: the pair glued together and its count when it was learned."""

    pair: tuple[str, str]
    count: int

    def __post_init__(self) -> None:
        if (
            not isinstance(self.pair, tuple)
            or len(self.pair) != 2
            or not all(isinstance(unit, str) and unit for unit in self.pair)
        ):
            raise TypeError(f"pair must be a tuple of two non-empty str, got {self.pair!r}")
        if not isinstance(self.count, numbers.Integral) or isinstance(self.count, bool):
            raise TypeError(f"count must be an int, got {type(self.count).__name__}")
        if self.count < 1:
            raise ValueError(f"count={self.count} must be >= 1")

    @property
    def unit(self) -> str:
        """The new unit, the pair's two units written together."""
        return self.pair[0] + self.pair[1]


def _merge_pair(units: Sequence[str], pair: tuple[str, str]) -> list[str]:
    """``units`` with every occurrence of ``pair`` glued into one unit, left to right."""
    left, right = pair
    merged, i = [], 0
    while i < len(units):
        if i + 1 < len(units) and units[i] == left and units[i + 1] == right:
            merged.append(left + right)
            i += 2
        else:
            merged.append(units[i])
            i += 1
    return merged


def _pair_counts(segmented: Mapping[tuple[str, ...], int]) -> Counter:
    """How many times each neighbouring pair would be merged, over all words (with counts)."""
    counts: Counter = Counter()
    for units, count in segmented.items():
        run = 1  # length of the current run of one repeated unit
        for left, right in pairwise(units):
            run = run + 1 if left == right else 1
            if left != right or run % 2 == 0:  # l l l: one merge; l l l l: two
                counts[left, right] += count
    return counts


def _check_word(word: object, name: str) -> str:
    if not isinstance(word, str):
        raise TypeError(f"{name} must be a str, got {type(word).__name__}")
    if not word or word.split() != [word]:
        raise ValueError(f"{name} must be one word (non-empty, no whitespace), got {word!r}")
    if END_OF_WORD in word:
        raise ValueError(f"{name} must not contain the end-of-word marker {END_OF_WORD!r}")
    return word


def _word_counts(words: object) -> dict[str, int]:
    """``words`` as {word: count}: a mapping of words to positive counts, or a list of words."""
    if isinstance(words, Mapping):
        items = list(words.items())
    elif isinstance(words, (list, tuple)):
        items = list(Counter(words).items())
    else:
        raise TypeError(
            f"words must be a dict {{word: count}} or a list of words, got {type(words).__name__}"
        )
    if not items:
        raise ValueError("words must hold at least one word, got none")
    counts = {}
    for word, count in items:
        _check_word(word, "each word in words")
        if not isinstance(count, numbers.Integral) or isinstance(count, bool) or count < 1:
            raise ValueError(f"the count of {word!r} must be a positive int, got {count!r}")
        counts[word] = int(count)
    return counts


@dataclass(frozen=True)
class BPE:
    """A learned byte-pair encoding: the starting symbols and the merges, in learned order.

    Build one with :meth:`BPE.learn`; split a word with :meth:`encode`, join units back into
    words with :meth:`decode`.
    """

    symbols: tuple[str, ...]  # the training words' characters (sorted), then END_OF_WORD
    merges: tuple[Merge, ...]  # in the order they were learned

    def __post_init__(self) -> None:
        if not isinstance(self.symbols, tuple) or not all(
            isinstance(symbol, str) and symbol for symbol in self.symbols
        ):
            raise TypeError("symbols must be a tuple of non-empty str (use BPE.learn)")
        if not self.symbols or self.symbols[-1] != END_OF_WORD:
            raise ValueError(f"symbols must end with the end-of-word marker {END_OF_WORD!r}")
        if not isinstance(self.merges, tuple) or not all(
            isinstance(merge, Merge) for merge in self.merges
        ):
            raise TypeError("merges must be a tuple of Merge (use BPE.learn)")

    @classmethod
    def learn(cls, words: Mapping[str, int] | Sequence[str], num_merges: int) -> BPE:
        """Learn up to ``num_merges`` merges from ``words``: a dict {word: count}, or a list of
        words (each occurrence counts once).

        Each step counts every pair of neighbouring units over all words (with their counts),
        glues the most frequent pair (ties: the pair that sorts first) everywhere it occurs,
        and records it. Learning stops early once every word is a single unit, so the result
        can hold fewer than ``num_merges`` merges.
        """
        counts = _word_counts(words)
        if not isinstance(num_merges, numbers.Integral) or isinstance(num_merges, bool):
            raise TypeError(f"num_merges must be an int, got {type(num_merges).__name__}")
        if num_merges < 0:
            raise ValueError(f"num_merges must be >= 0, got {num_merges}")
        symbols = (*sorted({ch for word in counts for ch in word}), END_OF_WORD)
        segmented = {(*word, END_OF_WORD): count for word, count in counts.items()}
        merges = []
        while len(merges) < num_merges:
            pairs = _pair_counts(segmented)
            if not pairs:  # every word is one unit: nothing left to merge
                break
            pair, count = min(pairs.items(), key=lambda item: (-item[1], item[0]))
            merges.append(Merge(pair, count))
            segmented = {tuple(_merge_pair(units, pair)): n for units, n in segmented.items()}
        return cls(symbols, tuple(merges))

    @property
    def vocabulary(self) -> list[str]:
        """Every unit: the starting symbols, then one new unit per merge, in learned order."""
        return list(dict.fromkeys([*self.symbols, *(merge.unit for merge in self.merges)]))

    def __len__(self) -> int:
        """The vocabulary size: characters + the end-of-word marker + merges."""
        return len(self.vocabulary)

    def encode(self, word: str) -> list[str]:
        """Split one word into units: its characters and ``END_OF_WORD``, then every merge in
        learned order. A character not seen in training becomes ``<unk>`` (``tokens.UNK``).

        >>> bpe = BPE.learn({"played": 4, "worked": 3, "play": 2, "work": 2}, 8)
        >>> bpe.encode("worked")
        ['work', 'ed</w>']
        >>> bpe.encode("walked")  # unseen, split into units it has
        ['w', 'a', 'l', 'k', 'ed</w>']
        """
        _check_word(word, "word")
        known = set(self.symbols)
        units = [ch if ch in known else UNK for ch in word] + [END_OF_WORD]
        for merge in self.merges:
            units = _merge_pair(units, merge.pair)
        return units

    def decode(self, units: Sequence[str]) -> str:
        """Join units back into text: the units of each word written together, the words
        separated by single spaces (``decode(encode(w)) == w`` for any word whose characters
        were seen in training). ``units`` must end where a word ends (a unit ending in
        ``END_OF_WORD``) and hold only units of this vocabulary, or ``<unk>``.
        """
        if isinstance(units, str) or not isinstance(units, (list, tuple)):
            raise TypeError(f"units must be a list of str, got {type(units).__name__}")
        known = set(self.vocabulary) | {UNK}
        for unit in units:
            if not isinstance(unit, str):
                raise TypeError(f"units must hold str, got an item of type {type(unit).__name__}")
            if unit not in known:
                raise ValueError(f"units holds {unit!r}, which is not in this BPE's vocabulary")
        if units and not units[-1].endswith(END_OF_WORD):
            raise ValueError(
                f"units must end with a unit ending in {END_OF_WORD!r} (the end of a word), "
                f"got {units[-1]!r} last"
            )
        return " ".join("".join(units).split(END_OF_WORD)[:-1])


def segmented_length(bpe: BPE, words: Mapping[str, int] | Sequence[str]) -> int:
    """The number of units ``words`` (a dict {word: count} or a list) take once encoded."""
    return sum(len(bpe.encode(word)) * count for word, count in _word_counts(words).items())
