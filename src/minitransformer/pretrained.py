"""The translator that ships with the book: a small Transformer trained on ``recipe_corpus()``.

``load_pretrained()`` reads two files from ``minitransformer/checkpoints/``:

    translator.safetensors   the weights (safetensors: plain tensors, no pickled code)
    translator.json          the model config, both vocabularies, the training recipe, the
                             held-out score measured when the checkpoint was written, and
                             sha256 hashes of the config, the vocabularies and the weights

``load_pretrained`` checks both files before it builds the model (dtypes, finiteness, shapes,
config ranges, the vocabularies against the embeddings and the recorded hashes) and raises
``CheckpointError`` naming the file and the field. Both files are reproducible: a retrain
writes them again byte for byte (same torch version, one thread).

``Translator.translate`` returns the English text; ``Translator.translate_result`` returns a
``TranslationResult`` that also holds the normalised words, the tokens the model read and the
unknown words.

``make pretrained`` (``python tools/retrain_translator.py``) trains the same model
again from scratch with ``RECIPE`` and rewrites both files.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import numbers
import os
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from minitransformer.config import TransformerConfig
from minitransformer.data import Corpus, Pair, encode_pairs, make_corpus, split_particles
from minitransformer.decoding import (
    BeamSearchResult,
    TraceStep,
    _check_int,
    _check_length_penalty,
    beam_search,
    exact_match,
    greedy_decode,
    greedy_decode_batch,
    inference_mode,
    trace_greedy,
)
from minitransformer.model import Transformer
from minitransformer.tokens import (
    EOS_ID,
    SOS_ID,
    UNK,
    Vocab,
    normalize_text,
    pad_sequences,
    split_words,
)
from minitransformer.training import train

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
WEIGHTS_FILE = "translator.safetensors"
METADATA_FILE = "translator.json"
FORMAT_VERSION = 1

# Everything that determines the shipped model. The corpus and the initial weights both
# come from ``seed``.
RECIPE: dict[str, Any] = {
    "grammar": "rich",  # make_corpus(grammar=...): the rich grammar of data.build_rich_pair
    "num_train": 4000,
    "num_held_out": 500,
    "seed": 0,
    "steps": 1200,
    "batch_size": 64,
    "warmup": 200,
    "lr_factor": 1.0,
    "label_smoothing": 0.1,
    "clip_norm": 1.0,
    "threads": 1,  # torch intra-op threads: the result is bit-for-bit reproducible for a given
    # torch version and thread count, and one thread stays fast when other jobs share the CPU
}


class CheckpointError(RuntimeError):
    """The checkpoint is missing, unreadable, or does not fit the model it describes."""


class UnknownWordsWarning(UserWarning):
    """Every word of a sentence given to ``Translator.translate`` is unknown to the model: the
    translation is a guess from ``<unk>`` tokens alone."""


# The largest values ``load_pretrained`` accepts in a checkpoint's config: far above the book's
# model, small enough that a corrupted number cannot make it allocate gigabytes.
SANE_CONFIG_LIMITS = {
    "src_vocab_size": 1_000_000,
    "tgt_vocab_size": 1_000_000,
    "d_model": 8192,
    "num_heads": 256,
    "num_layers": 64,
    "d_ff": 65536,
    "max_len": 65536,
}


def _sha256(value: Any) -> str:
    """sha256 of a JSON value written canonically (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TranslationResult:
    """One translation and what the model actually read.

    text: the English sentence. source_words: the Korean words after :func:`normalize_text`
    (NFC, punctuation removed). source_tokens: the tokens the model read (``<unk>`` for an
    unknown word). unknown: the words that became ``<unk>`` (in order, repeated). output_tokens:
    the English words written (without ``<sos>``/``<eos>``). output_ids: their ids. beam: the
    full beam search result when ``beam_width > 1``, else None.
    """

    text: str
    source_words: list[str]
    source_tokens: list[str]
    unknown: list[str]
    output_tokens: list[str]
    output_ids: list[int] = field(default_factory=list)
    beam: BeamSearchResult | None = None

    @property
    def has_unknown(self) -> bool:
        return bool(self.unknown)

    @property
    def all_unknown(self) -> bool:
        """True when the model knew none of the words (the translation is a pure guess)."""
        return len(self.unknown) == len(self.source_words)


@dataclass(frozen=True)
class TranslationAttention:
    """Every attention map of one teacher-forced forward pass, batch dimension removed.

    source_tokens: the S Korean words. decoder_tokens: the T decoder inputs (<sos> y_1 ...
    y_m). output_tokens: the T words those positions predict (y_1 ... y_m <eos>); row t of a
    decoder map belongs to the position that *predicts* output_tokens[t].
    encoder: N x (H, S, S); decoder_self: N x (H, T, T); cross: N x (H, T, S).
    """

    source_tokens: list[str]
    decoder_tokens: list[str]
    output_tokens: list[str]
    encoder: list[Tensor]
    decoder_self: list[Tensor]
    cross: list[Tensor]


class Translator:
    """A trained Transformer with its vocabularies: Korean text in, English text out."""

    def __init__(
        self,
        model: Transformer,
        src_vocab: Vocab,
        tgt_vocab: Vocab,
        *,
        metadata: Mapping[str, Any] | None = None,
    ) -> None:
        config = getattr(model, "config", None)
        if not isinstance(model, torch.nn.Module) or not isinstance(config, TransformerConfig):
            raise TypeError(
                f"model must be a minitransformer Transformer, got {type(model).__name__}"
            )
        for name, vocab, size in (
            ("src_vocab", src_vocab, config.src_vocab_size),
            ("tgt_vocab", tgt_vocab, config.tgt_vocab_size),
        ):
            if not isinstance(vocab, Vocab):
                raise TypeError(f"{name} must be a Vocab, got {type(vocab).__name__}")
            if len(vocab) != size:
                raise ValueError(
                    f"{name} has {len(vocab)} words but the model's config expects {size}"
                )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict or None, got {type(metadata).__name__}")
        self.model = model.eval()
        self.src_vocab = src_vocab
        self.tgt_vocab = tgt_vocab
        self.metadata = dict(metadata or {})

    @property
    def config(self) -> TransformerConfig:
        return self.model.config

    def __repr__(self) -> str:
        c = self.config
        return (
            f"Translator(D={c.d_model}, H={c.num_heads}, N={c.num_layers}, F={c.d_ff}, "
            f"{self.model.num_parameters():,} parameters, V_src={len(self.src_vocab)}, "
            f"V_tgt={len(self.tgt_vocab)})"
        )

    # -- words <-> ids ----------------------------------------------------------------------
    def _words(self, korean: str | Sequence[str], name: str = "korean") -> list[str]:
        """Korean text or a list of words -> words after ``normalize_text`` (NFC, punctuation
        removed), with particles written onto a known noun split off (``split_particles``:
        민수가 -> 민수 가, 카페에서 -> 카페 에서)."""
        if isinstance(korean, str):
            words = normalize_text(korean)
        else:
            words = [piece for word in split_words(korean, name=name)
                     for piece in normalize_text(word)]  # fmt: skip
        return split_particles(words, self.src_vocab.stoi)

    def unknown_words(self, korean: str | Sequence[str]) -> list[str]:
        """The words of ``korean`` the model has never seen (they are read as ``<unk>``)."""
        return self.src_vocab.encode_checked(self._words(korean)).unknown

    def _read(
        self, korean: str | Sequence[str], name: str = "korean"
    ) -> tuple[list[str], list[int]]:
        words = self._words(korean, name)
        if not words:
            raise ValueError(f"{name}: cannot translate an empty sentence (no words in {korean!r})")
        if len(words) > self.config.max_len:
            raise ValueError(
                f"{name} has {len(words)} words, more than the model's "
                f"max_len={self.config.max_len}"
            )
        return words, self.src_vocab.encode(words)

    def _source_ids(self, korean: str | Sequence[str]) -> list[int]:
        return self._read(korean)[1]

    def _force_ids(self, force: Mapping[int, str] | None) -> dict[int, int]:
        """{step: English word} -> {step: id}; a word outside the vocabulary is an error."""
        if force is not None and not isinstance(force, Mapping):
            raise TypeError(
                f"force must be a dict {{step: English word}}, got {type(force).__name__}"
            )
        force_ids = {}
        for step, word in (force or {}).items():
            if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
                raise ValueError(f"force steps are numbered from 1, got {step!r}")
            if not isinstance(word, str):
                raise TypeError(
                    f"force[{step}] must be an English word (str), got {type(word).__name__}"
                )
            if word not in self.tgt_vocab:
                raise ValueError(f"cannot force {word!r}: it is not in the English vocabulary")
            force_ids[step] = self.tgt_vocab.id(word)
        return force_ids

    # -- translation ------------------------------------------------------------------------
    def translate_result(
        self,
        korean: str | Sequence[str],
        *,
        beam_width: int = 1,
        force: Mapping[int, str] | None = None,
        length_penalty: float = 0.0,
    ) -> TranslationResult:
        """Translate ``korean`` and report what the model read (see ``TranslationResult``).

        Greedy when ``beam_width == 1``, else beam search with GNMT's ``length_penalty``.
        force: {step: English word}, steps numbered from 1 (greedy only), e.g. {1: "you"}.
        """
        _check_int("beam_width", beam_width)
        length_penalty = _check_length_penalty(length_penalty)
        words, source = self._read(korean)
        beam = None
        if beam_width > 1:
            if force:
                raise ValueError("force works with greedy decoding only (beam_width=1)")
            beam = beam_search(
                self.model, source, beam_width=beam_width, length_penalty=length_penalty
            )
            output = beam.tokens
        else:
            output = greedy_decode(self.model, source, force=self._force_ids(force))
        tokens = self.tgt_vocab.tokens(output)
        return TranslationResult(
            text=" ".join(tokens),
            source_words=words,
            source_tokens=[word if word in self.src_vocab else UNK for word in words],
            unknown=[word for word in words if word not in self.src_vocab],
            output_tokens=tokens,
            output_ids=list(output),
            beam=beam,
        )

    @staticmethod
    def _warn_if_all_unknown(result: TranslationResult) -> None:
        if result.all_unknown:
            warnings.warn(
                f"none of the words {result.unknown} is in the Korean vocabulary: the "
                f"translation {result.text!r} is a guess from <unk> alone",
                UnknownWordsWarning,
                stacklevel=3,
            )

    def translate(
        self,
        korean: str | Sequence[str],
        *,
        beam_width: int = 1,
        force: Mapping[int, str] | None = None,
        length_penalty: float = 0.0,
    ) -> str:
        """English for ``korean`` (greedy, or beam search when ``beam_width > 1``).

        force: {step: English word}, steps numbered from 1 (greedy only), e.g. {1: "you"}.
        The text is normalised (``normalize_text``); unknown Korean words are read as <unk>
        (``unknown_words`` or ``translate_result`` list them; if every word is unknown an
        ``UnknownWordsWarning`` is issued).
        """
        result = self.translate_result(
            korean, beam_width=beam_width, force=force, length_penalty=length_penalty
        )
        self._warn_if_all_unknown(result)
        return result.text

    def translate_batch(self, sentences: Sequence[str | Sequence[str]]) -> list[str]:
        """Greedy translations of many sentences in one batched pass."""
        if isinstance(sentences, (str, bytes, bytearray)) or not isinstance(sentences, Sequence):
            raise TypeError(
                f"sentences must be a list of sentences, got {type(sentences).__name__}"
            )
        read = [self._read(sentence, f"sentences[{k}]") for k, sentence in enumerate(sentences)]
        for k, (words, _) in enumerate(read):
            if all(word not in self.src_vocab for word in words):
                warnings.warn(
                    f"sentences[{k}]: none of the words {words} is in the Korean vocabulary",
                    UnknownWordsWarning,
                    stacklevel=2,
                )
        outputs = greedy_decode_batch(self.model, [ids for _, ids in read])
        return [self.tgt_vocab.decode(ids) for ids in outputs]

    def beam(
        self, korean: str | Sequence[str], *, beam_width: int = 4, length_penalty: float = 0.0
    ) -> BeamSearchResult:
        """The full beam search result (ids; decode with ``tgt_vocab``)."""
        return beam_search(
            self.model, self._source_ids(korean), beam_width=beam_width,
            length_penalty=length_penalty,
        )  # fmt: skip

    def trace(
        self, korean: str | Sequence[str], *, force: Mapping[int, str] | None = None
    ) -> list[TraceStep]:
        """Greedy decoding step by step (see ``minitransformer.decoding.TraceStep``)."""
        return trace_greedy(self.model, self._source_ids(korean), force=self._force_ids(force))

    def top_words(self, probabilities: Tensor, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable English words of a (V,) probability vector."""
        V = len(self.tgt_vocab)
        if not isinstance(probabilities, Tensor) or probabilities.shape != (V,):
            shape = tuple(probabilities.shape) if isinstance(probabilities, Tensor) else None
            raise ValueError(
                f"probabilities must be a ({V},) tensor over the English vocabulary, got "
                f"{type(probabilities).__name__} of shape {shape}"
            )
        _check_int("k", k)
        if k > V:
            raise ValueError(f"k={k} is larger than the vocabulary ({V} words)")
        values, indices = probabilities.topk(k)
        return [
            (self.tgt_vocab.word(i), float(v))
            for v, i in zip(values.tolist(), indices.tolist(), strict=True)
        ]

    # -- looking inside ---------------------------------------------------------------------
    def attention(
        self, korean: str | Sequence[str], english: str | Sequence[str] | None = None
    ) -> TranslationAttention:
        """Attention maps of the forward pass on (korean, english) with teacher forcing;
        ``english`` defaults to the model's own translation."""
        source = self._source_ids(korean)
        if english is None:
            english = self.translate_result(korean).output_tokens
        target = self.tgt_vocab.encode(split_words(english, name="english"))
        if len(target) + 1 > self.config.max_len:
            raise ValueError(f"english is longer than the model's max_len={self.config.max_len}")
        decoder_input = torch.tensor([[SOS_ID, *target]])  # (1, T)
        with inference_mode(self.model):
            output = self.model(torch.tensor([source]), decoder_input, return_attention=True)
        maps = output.attention
        return TranslationAttention(
            source_tokens=self.src_vocab.tokens(source, strip=False),
            decoder_tokens=self.tgt_vocab.tokens(decoder_input[0], strip=False),
            output_tokens=self.tgt_vocab.tokens([*target, EOS_ID], strip=False),
            encoder=[layer[0] for layer in maps.encoder],
            decoder_self=[layer[0] for layer in maps.decoder_self],
            cross=[layer[0] for layer in maps.cross],
        )

    @staticmethod
    def _check_pairs(pairs: object) -> None:
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Sequence):
            raise TypeError(f"pairs must be a list of Pair, got {type(pairs).__name__}")
        for k, pair in enumerate(pairs):
            if not isinstance(pair, Pair):
                raise TypeError(f"pairs[{k}] must be a Pair, got {type(pair).__name__}")

    def exact_match(self, pairs: Sequence[Pair]) -> float:
        """Share of ``pairs`` translated word for word right (batched greedy)."""
        self._check_pairs(pairs)
        return exact_match(self.model, encode_pairs(pairs, self.src_vocab, self.tgt_vocab))

    def alignment_score(
        self,
        pairs: Sequence[Pair],
        *,
        layer: int = -1,
        head: int | None = None,
        content_only: bool = True,
        batch_size: int = 256,
    ) -> float:
        """How often attention finds the aligned source word.

        For each target word y_j (content words only, unless ``content_only=False``; words
        with no aligned source word are skipped) take the cross-attention row of the decoder
        position that *predicts* y_j (its input is y_{j-1}), in layer ``layer``, averaged over
        heads (or one ``head``); count a hit when its largest weight is on a source word that
        y_j is aligned to. Returns hits / words judged.
        """
        self._check_pairs(pairs)
        N, H = self.config.num_layers, self.config.num_heads
        if isinstance(layer, bool) or not isinstance(layer, numbers.Integral):
            raise TypeError(f"layer must be an int, got {type(layer).__name__}")
        if not -N <= layer < N:
            raise ValueError(f"layer={layer} is out of range for {N} layers (-{N}..{N - 1})")
        if head is not None:
            if isinstance(head, bool) or not isinstance(head, numbers.Integral):
                raise TypeError(f"head must be an int or None, got {type(head).__name__}")
            if not 0 <= head < H:
                raise ValueError(f"head={head} is out of range for {H} heads (0..{H - 1})")
        if not isinstance(content_only, bool):
            raise TypeError(f"content_only must be a bool, got {type(content_only).__name__}")
        _check_int("batch_size", batch_size)
        hits = judged = 0
        for start in range(0, len(pairs), batch_size):
            chunk = list(pairs[start : start + batch_size])
            source = pad_sequences([self._source_ids(pair.source) for pair in chunk])  # (B, S)
            decoder_input = pad_sequences(
                [self.tgt_vocab.encode(pair.target, add_sos=True) for pair in chunk]
            )  # (B, T)
            with inference_mode(self.model):
                output = self.model(source, decoder_input, return_attention=True)
            maps = output.attention.cross[layer]  # (B, H, T, S)
            weights = maps.mean(1) if head is None else maps[:, head]  # (B, T, S)
            for row, pair in enumerate(chunk):
                positions = pair.content if content_only else range(len(pair.target))
                for j in positions:
                    aligned = pair.aligned_source(j)
                    if not aligned:
                        continue
                    judged += 1
                    hits += int(weights[row, j].argmax()) in aligned
        if judged == 0:
            raise ValueError("no aligned target words to judge")
        return hits / judged


# -- saving and loading ---------------------------------------------------------------------


def save_translator(
    translator: Translator, directory: str | Path = CHECKPOINT_DIR
) -> tuple[Path, Path]:
    """Write the weights and the metadata JSON; returns both paths.

    The metadata records sha256 hashes of the config, both vocabularies and the weights file
    (``"sha256"``), which ``load_pretrained`` checks."""
    if not isinstance(translator, Translator):
        raise TypeError(f"translator must be a Translator, got {type(translator).__name__}")
    directory = _as_directory(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, metadata_path = directory / WEIGHTS_FILE, directory / METADATA_FILE
    tensors = {
        name: tensor.detach().contiguous().clone()
        for name, tensor in translator.model.state_dict().items()
    }
    save_file(tensors, str(weights_path), metadata={"format": str(FORMAT_VERSION)})
    config = translator.config.to_dict()
    metadata = {
        **{k: v for k, v in translator.metadata.items() if k != "sha256"},
        "format": FORMAT_VERSION,
        "config": config,
        "src_vocab": translator.src_vocab.itos,
        "tgt_vocab": translator.tgt_vocab.itos,
        "sha256": {
            "config": _sha256(config),
            "src_vocab": _sha256(translator.src_vocab.itos),
            "tgt_vocab": _sha256(translator.tgt_vocab.itos),
            "weights": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
        },
    }
    metadata_path.write_text(
        json.dumps(metadata, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return weights_path, metadata_path


def _as_directory(directory: object) -> Path:
    if isinstance(directory, (bytes, bytearray)) or not isinstance(directory, (str, os.PathLike)):
        raise TypeError(
            f"directory must be a path (str or pathlib.Path) or None, got "
            f"{type(directory).__name__}"
        )
    return Path(directory)


def _read_metadata(path: Path) -> dict[str, Any]:
    """The metadata JSON, with every field ``load_pretrained`` needs checked for type and range."""

    def fail(field: str, problem: str) -> CheckpointError:
        return CheckpointError(f"{path}: field {field!r}: {problem}")

    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid UTF-8 JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path} must hold a JSON object, got {type(metadata).__name__}")
    for name in ("format", "config", "src_vocab", "tgt_vocab", "sha256"):
        if name not in metadata:
            raise fail(name, "missing (a checkpoint written by save_translator has it)")
    if metadata["format"] != FORMAT_VERSION:
        raise fail("format", f"{metadata['format']!r}, expected {FORMAT_VERSION}")
    values = metadata["config"]
    if not isinstance(values, dict):
        raise fail("config", f"must be an object, got {type(values).__name__}")
    for name, limit in SANE_CONFIG_LIMITS.items():
        value = values.get(name)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and value > limit:
            raise fail(f"config.{name}", f"{value} is outside the sane range 1..{limit}")
    try:
        metadata["config"] = TransformerConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise fail("config", str(error)) from error
    for name in ("src_vocab", "tgt_vocab"):
        itos = metadata[name]
        if not isinstance(itos, list) or not all(isinstance(word, str) for word in itos):
            raise fail(name, "must be a list of words (str)")
        try:
            metadata[name] = Vocab.from_dict({"itos": itos})
        except ValueError as error:
            raise fail(name, str(error)) from error
    hashes = metadata["sha256"]
    if not isinstance(hashes, dict) or not all(
        isinstance(hashes.get(k), str) for k in ("config", "src_vocab", "tgt_vocab", "weights")
    ):
        raise fail("sha256", "must map config, src_vocab, tgt_vocab and weights to hex digests")
    metadata["_config_values"] = values
    return metadata


def _check_tensors(
    path: Path, state: dict[str, Tensor], config: TransformerConfig, src: Vocab, tgt: Vocab
) -> None:
    """Names, shapes, dtypes and finiteness of the weights against the model ``config``
    describes (built on the meta device: no memory is allocated)."""
    with torch.device("meta"):
        expected = Transformer(config).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path} does not hold the tensors of the model in its metadata: missing {missing}, "
            f"unexpected {unexpected}"
        )
    for name, reference in expected.items():
        tensor = state[name]
        if tensor.dtype != torch.float32:
            raise CheckpointError(
                f"{path}: tensor {name!r} has dtype {tensor.dtype}, expected torch.float32"
            )
        if tensor.shape != reference.shape:
            raise CheckpointError(
                f"{path}: tensor {name!r} has shape {tuple(tensor.shape)}, the config "
                f"expects {tuple(reference.shape)}"
            )
        if not torch.isfinite(tensor).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or infinite values")
    for name, vocab, weight in (
        ("src_vocab", src, "source_embedding.weight"),
        ("tgt_vocab", tgt, "target_embedding.weight"),
    ):
        if state[weight].size(0) != len(vocab):
            raise CheckpointError(
                f"{path}: tensor {weight!r} has {state[weight].size(0)} rows but {name} has "
                f"{len(vocab)} words"
            )


def load_pretrained(directory: str | Path | None = None) -> Translator:
    """The shipped translator (or one saved by ``save_translator`` in ``directory``), in eval
    mode.

    Everything is checked before the model is built: the metadata's fields (format, config
    values within ``SANE_CONFIG_LIMITS``, vocabularies), the sha256 hashes it records for the
    config, the vocabularies and the weights, and every tensor's name, shape, dtype (float32)
    and finiteness. A missing, corrupted or mismatched file raises ``CheckpointError`` naming
    the file and the field or tensor."""
    directory = CHECKPOINT_DIR if directory is None else _as_directory(directory)
    weights_path, metadata_path = directory / WEIGHTS_FILE, directory / METADATA_FILE
    for path in (metadata_path, weights_path):
        if not path.is_file():
            raise CheckpointError(
                f"checkpoint file not found: {path} (run `make pretrained` to create it)"
            )
    metadata = _read_metadata(metadata_path)
    config, src_vocab, tgt_vocab = metadata["config"], metadata["src_vocab"], metadata["tgt_vocab"]
    if (len(src_vocab), len(tgt_vocab)) != (config.src_vocab_size, config.tgt_vocab_size):
        raise CheckpointError(
            f"{metadata_path}: field 'src_vocab'/'tgt_vocab': vocabularies of {len(src_vocab)} "
            f"and {len(tgt_vocab)} words do not match the config ({config.src_vocab_size}, "
            f"{config.tgt_vocab_size})"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{weights_path} is not a readable safetensors file: {error}"
        ) from error
    _check_tensors(weights_path, state, config, src_vocab, tgt_vocab)
    hashes = metadata["sha256"]
    checks = (
        ("config", metadata.pop("_config_values"), "a config value was changed after training"),
        ("src_vocab", src_vocab.itos, "not the vocabulary the model was trained on"),
        ("tgt_vocab", tgt_vocab.itos, "not the vocabulary the model was trained on"),
    )
    for name, value, meaning in checks:
        if _sha256(value) != hashes[name]:
            raise CheckpointError(
                f"{metadata_path}: field {name!r} does not match the recorded hash "
                f"sha256.{name} ({meaning})"
            )
    if hashlib.sha256(weights_path.read_bytes()).hexdigest() != hashes["weights"]:
        raise CheckpointError(
            f"{metadata_path}: field 'sha256.weights' does not match {weights_path} (the weights "
            "were changed after the checkpoint was written)"
        )
    model = Transformer(config)
    model.load_state_dict(state, strict=True)
    extra = {
        k: v
        for k, v in metadata.items()
        if k not in ("config", "src_vocab", "tgt_vocab", "sha256", "_config_values")
    }
    return Translator(model, src_vocab, tgt_vocab, metadata=extra)


def recipe_training_options(recipe: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`train` that ``recipe`` (default ``RECIPE``) fixes:
    steps, batch size, warm-up, learning-rate factor, label smoothing, clipping and seed."""
    recipe = {**RECIPE, **(recipe or {})}
    names = ("steps", "batch_size", "warmup", "lr_factor", "label_smoothing", "clip_norm", "seed")
    return {name: recipe[name] for name in names}


def recipe_corpus(recipe: Mapping[str, Any] | None = None) -> Corpus:
    """The corpus ``recipe`` trains on (default ``RECIPE``; a translator's own recipe is
    ``translator.metadata["recipe"]``). A recipe without ``grammar`` means the notes grammar."""
    recipe = RECIPE if recipe is None else recipe
    if not isinstance(recipe, Mapping):
        raise TypeError(f"recipe must be a mapping, got {type(recipe).__name__}")
    missing = [k for k in ("num_train", "num_held_out", "seed") if k not in recipe]
    if missing:
        raise ValueError(f"recipe lacks {', '.join(map(repr, missing))}")
    return make_corpus(
        recipe["num_train"],
        recipe["num_held_out"],
        seed=recipe["seed"],
        grammar=recipe.get("grammar", "notes"),
    )


def train_translator(
    recipe: Mapping[str, Any] | None = None, *, progress: bool = True, callback=None
) -> Translator:
    """Train the book's translator from scratch with ``recipe`` (default ``RECIPE``)."""
    recipe = {**RECIPE, **(recipe or {})}
    corpus = recipe_corpus(recipe)
    torch.manual_seed(recipe["seed"])
    config = TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab))
    model = Transformer(config)
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe["threads"])
    try:
        history = train(
            model,
            corpus.encoded("train"),
            **recipe_training_options(recipe),
            progress=progress,
            callback=callback,
        )
    finally:
        torch.set_num_threads(threads)
    translator = Translator(model, corpus.src_vocab, corpus.tgt_vocab)
    translator.metadata = {
        "recipe": recipe,
        "training": {
            "final_loss": round(history.loss[-1], 4) if history.loss else None,
            "torch": torch.__version__,
        },
        "held_out_exact_match": round(translator.exact_match(corpus.held_out), 4),
    }
    if corpus.longer:
        translator.metadata["longer_exact_match"] = round(translator.exact_match(corpus.longer), 4)
    return translator


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python tools/retrain_translator.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--retrain", action="store_true", help="train from scratch and save")
    parser.add_argument("--output", type=Path, default=CHECKPOINT_DIR, help="where to save")
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    arguments = parser.parse_args(argv)
    if arguments.retrain:
        translator = train_translator({"steps": arguments.steps})
        paths = save_translator(translator, arguments.output)
        print(json.dumps(translator.metadata, indent=1))
        for path in paths:
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
        return 0
    translator = load_pretrained(arguments.output)
    corpus = recipe_corpus(translator.metadata["recipe"])
    print(translator)
    print(f"held-out exact match: {translator.exact_match(corpus.held_out):.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
