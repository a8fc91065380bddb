"""Tokens: whitespace words <-> integer ids, with four special tokens.

Every vocabulary starts with the same four entries, so the ids below hold in both languages:

    <pad> = 0   fills short sentences up to the batch length; never attended to, never scored
    <sos> = 1   "start of sentence": the decoder's first input
    <eos> = 2   "end of sentence": the decoder's last output; decoding stops when it appears
    <unk> = 3   any word the vocabulary has never seen

A sentence is split on whitespace only: the corpus (``minitransformer.data``) is written with
one token per word, so no subword tokenizer is needed. Text typed by a person goes through
:func:`normalize_text` first (the translator does this): Unicode NFC, so that Hangul typed as
decomposed jamo (NFD) matches the vocabulary, and every punctuation character (Unicode general
category ``P*``) becomes a space, so "갔었어," reads as "갔었어".
"""

from __future__ import annotations

import json
import numbers
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

PAD, SOS, EOS, UNK = "<pad>", "<sos>", "<eos>", "<unk>"
SPECIAL_TOKENS = (PAD, SOS, EOS, UNK)
PAD_ID, SOS_ID, EOS_ID, UNK_ID = 0, 1, 2, 3


def normalize_text(text: str) -> list[str]:
    """The words of typed text: Unicode NFC, every punctuation character (general category
    ``P*``: ``, . ! ? " ' ( ) -`` and their full-width forms) replaced by a space, then split on
    whitespace.

    >>> normalize_text("어제 카페 갔었어, 거기 사람 많더라!")
    ['어제', '카페', '갔었어', '거기', '사람', '많더라']
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    text = unicodedata.normalize("NFC", text)
    spaced = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    return spaced.split()


def split_words(text: str | Sequence[str], *, name: str = "text") -> list[str]:
    """Whitespace tokenisation; a list or tuple of words is passed through unchanged.

    Anything else (bytes, None, a number, a list holding a non-string or a word with spaces in
    it) raises ``TypeError`` / ``ValueError`` naming ``name``.
    """
    if isinstance(text, str):
        return text.split()
    if isinstance(text, (bytes, bytearray)) or not isinstance(text, (list, tuple)):
        raise TypeError(f"{name} must be a str or a list of words (str), got {type(text).__name__}")
    words = list(text)
    for word in words:
        if not isinstance(word, str):
            raise TypeError(
                f"{name} must hold words (str), got an item of type {type(word).__name__}"
            )
        if not word or word.split() != [word]:
            raise ValueError(
                f"{name} must hold single words, got {word!r} (a list of sentences? "
                "translate them one at a time or with translate_batch)"
            )
    return words


def _is_int(value: object) -> bool:
    if isinstance(value, torch.Tensor):
        return value.dim() == 0 and not value.dtype.is_floating_point and value.dtype != torch.bool
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_ids(name: str, ids: object) -> list[int]:
    """A list of int token ids from a list/tuple of ints or a 0/1-D integer tensor."""
    if isinstance(ids, torch.Tensor):
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got dtype {ids.dtype}")
        if ids.dim() > 1:
            raise ValueError(f"{name} must be a 1-D sequence of ids, got shape {tuple(ids.shape)}")
        return [int(i) for i in ids.reshape(-1).tolist()]
    if isinstance(ids, (str, bytes, bytearray)) or not isinstance(ids, Iterable):
        raise TypeError(f"{name} must be a sequence of int token ids, got {type(ids).__name__}")
    ids = list(ids)
    if set(map(type, ids)) <= {int}:  # the usual case, checked at C speed (a corpus has millions)
        return ids
    for index in ids:
        if not _is_int(index):
            raise TypeError(
                f"{name} must hold int token ids, got an item of type {type(index).__name__}"
            )
    return [int(i) for i in ids]


@dataclass(frozen=True)
class EncodedText:
    """The ids of one sentence and the words the vocabulary did not know (now ``<unk>``)."""

    ids: list[int]
    unknown: list[str]


class Vocab:
    """A fixed word <-> id table whose first four ids are ``<pad> <sos> <eos> <unk>``.

    >>> vocab = Vocab(["카페", "어제"])
    >>> vocab.encode("어제 카페")
    [5, 4]
    >>> vocab.decode([5, 4, 2, 0])
    '어제 카페'
    """

    def __init__(self, words: Iterable[str]) -> None:
        if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
            raise TypeError(f"words must be an iterable of str, got {type(words).__name__}")
        self.itos: list[str] = list(SPECIAL_TOKENS)
        for word in words:
            if not isinstance(word, str) or not word or word != word.strip() or " " in word:
                raise ValueError(f"vocabulary entries must be single words, got {word!r}")
            if word not in self.itos:
                self.itos.append(word)
        self.stoi: dict[str, int] = {word: index for index, word in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Iterable[str | Sequence[str]]) -> Vocab:
        """The vocabulary of every word in ``sentences``, in sorted order (deterministic)."""
        if isinstance(sentences, (str, bytes)) or not isinstance(sentences, Iterable):
            raise TypeError(
                f"sentences must be an iterable of sentences, got {type(sentences).__name__}"
            )
        words = {word for sentence in sentences for word in split_words(sentence)}
        return cls(sorted(words - set(SPECIAL_TOKENS)))

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.itos == other.itos

    def __hash__(self) -> int:
        return hash(tuple(self.itos))

    def __repr__(self) -> str:
        return f"Vocab({len(self)} tokens: {' '.join(self.itos[:8])} ...)"

    def id(self, word: str) -> int:
        """The id of one word; ``<unk>`` (3) if the word is unknown."""
        if not isinstance(word, str):
            raise TypeError(f"word must be a str, got {type(word).__name__}")
        return self.stoi.get(word, UNK_ID)

    def word(self, index: int) -> str:
        """The word of one id; raises ``IndexError`` for an id outside the table."""
        index = _check_ids("index", [index])[0]
        if not 0 <= index < len(self.itos):
            raise IndexError(f"token id {index} is outside the vocabulary (0..{len(self) - 1})")
        return self.itos[index]

    def encode_checked(
        self, text: str | Sequence[str], *, add_sos: bool = False, add_eos: bool = False
    ) -> EncodedText:
        """Ids of ``text`` plus the list of words that became ``<unk>`` (in order, repeated)."""
        words = split_words(text)
        ids = [self.stoi.get(word, UNK_ID) for word in words]
        unknown = [word for word in words if word not in self.stoi]
        return EncodedText(
            ids=[SOS_ID] * add_sos + ids + [EOS_ID] * add_eos,
            unknown=unknown,
        )

    def encode(
        self, text: str | Sequence[str], *, add_sos: bool = False, add_eos: bool = False
    ) -> list[int]:
        """Ids of ``text``; unknown words become ``<unk>`` (see ``encode_checked``)."""
        return self.encode_checked(text, add_sos=add_sos, add_eos=add_eos).ids

    def tokens(self, ids: Iterable[int] | torch.Tensor, *, strip: bool = True) -> list[str]:
        """Words of ``ids``. With ``strip``: drop ``<sos>``/``<pad>`` and stop at ``<eos>``."""
        words = []
        for index in _check_ids("ids", ids):
            if strip and index == EOS_ID:
                break
            if strip and index in (PAD_ID, SOS_ID):
                continue
            words.append(self.word(index))
        return words

    def decode(self, ids: Iterable[int] | torch.Tensor, *, strip: bool = True) -> str:
        """The sentence of ``ids`` joined by spaces (see ``tokens`` for ``strip``)."""
        return " ".join(self.tokens(ids, strip=strip))

    def to_dict(self) -> dict[str, list[str]]:
        return {"itos": list(self.itos)}

    @classmethod
    def from_dict(cls, values: dict) -> Vocab:
        itos = values.get("itos") if isinstance(values, dict) else None
        if not isinstance(itos, list) or tuple(itos[:4]) != SPECIAL_TOKENS:
            raise ValueError(
                f"not a vocabulary: expected {{'itos': [{', '.join(SPECIAL_TOKENS)}, ...]}}"
            )
        vocab = cls(itos[4:])
        if vocab.itos != itos:
            raise ValueError("vocabulary has repeated words")
        return vocab

    def save(self, path: str | Path) -> None:
        """Write the table as JSON (UTF-8, Hangul kept readable)."""
        Path(path).write_text(
            json.dumps(self.to_dict(), ensure_ascii=False, indent=0) + "\n", encoding="utf-8"
        )

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a table written by ``save``; a bad file raises ``ValueError`` naming it."""
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as error:
            raise ValueError(f"{path}: {error}") from error


def pad_sequences(
    sequences: Sequence[Sequence[int]], *, pad_id: int = PAD_ID, length: int | None = None
) -> torch.Tensor:
    """Stack id lists of different lengths into one LongTensor (B, L), right-padded.

    ``L`` is the longest sequence unless ``length`` asks for more.
    """
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
        raise TypeError(f"sequences must be a list of id sequences, got {type(sequences).__name__}")
    sequences = [
        _check_ids(f"sequences[{row}]", sequence) for row, sequence in enumerate(sequences)
    ]
    if length is not None and (
        isinstance(length, bool) or not isinstance(length, int) or length < 0
    ):
        raise ValueError(f"length={length!r} must be a non-negative int or None")
    longest = max((len(sequence) for sequence in sequences), default=0)
    length = longest if length is None else max(length, longest)
    batch = torch.full((len(sequences), length), pad_id, dtype=torch.long)  # (B, L)
    for row, sequence in enumerate(sequences):
        batch[row, : len(sequence)] = torch.as_tensor(list(sequence), dtype=torch.long)
    return batch
