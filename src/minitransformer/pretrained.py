"""The translator that ships with the book: a small Transformer trained on ``make_corpus()``.

``load_pretrained()`` reads two files from ``minitransformer/checkpoints/``:

    translator.safetensors   the weights (safetensors: plain tensors, no pickled code)
    translator.json          the model config, both vocabularies, the training recipe and the
                             held-out score measured when the checkpoint was written

``make pretrained`` (``python tools/retrain_translator.py``) trains the same model
again from scratch with ``RECIPE`` and rewrites both files.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from minitransformer.config import TransformerConfig
from minitransformer.data import Pair, encode_pairs, make_corpus
from minitransformer.decoding import (
    BeamSearchResult,
    TraceStep,
    beam_search,
    exact_match,
    greedy_decode,
    greedy_decode_batch,
    inference_mode,
    trace_greedy,
)
from minitransformer.model import Transformer
from minitransformer.tokens import EOS_ID, SOS_ID, Vocab, pad_sequences
from minitransformer.training import train

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
WEIGHTS_FILE = "translator.safetensors"
METADATA_FILE = "translator.json"
FORMAT_VERSION = 1

# Everything that determines the shipped model. The corpus and the initial weights both
# come from ``seed``.
RECIPE: dict[str, Any] = {
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
    def unknown_words(self, korean: str | Sequence[str]) -> list[str]:
        """The words of ``korean`` the model has never seen (they are read as ``<unk>``)."""
        return self.src_vocab.encode_checked(korean).unknown

    def _source_ids(self, korean: str | Sequence[str]) -> list[int]:
        ids = self.src_vocab.encode(korean)
        if not ids:
            raise ValueError("cannot translate an empty sentence")
        return ids

    def _force_ids(self, force: Mapping[int, str] | None) -> dict[int, int]:
        """{step: English word} -> {step: id}; a word outside the vocabulary is an error."""
        force_ids = {}
        for step, word in (force or {}).items():
            if word not in self.tgt_vocab:
                raise ValueError(f"cannot force {word!r}: it is not in the English vocabulary")
            force_ids[step] = self.tgt_vocab.id(word)
        return force_ids

    # -- translation ------------------------------------------------------------------------
    def translate(
        self,
        korean: str | Sequence[str],
        *,
        beam_width: int = 1,
        force: Mapping[int, str] | None = None,
    ) -> str:
        """English for ``korean`` (greedy, or beam search when ``beam_width > 1``).

        force: {step: English word}, steps numbered from 1 (greedy only), e.g. {1: "you"}.
        Unknown Korean words are read as <unk>; ``unknown_words`` lists them.
        """
        source = self._source_ids(korean)
        if beam_width > 1:
            if force:
                raise ValueError("force works with greedy decoding only (beam_width=1)")
            return self.tgt_vocab.decode(
                beam_search(self.model, source, beam_width=beam_width).tokens
            )
        return self.tgt_vocab.decode(
            greedy_decode(self.model, source, force=self._force_ids(force))
        )

    def translate_batch(self, sentences: Sequence[str | Sequence[str]]) -> list[str]:
        """Greedy translations of many sentences in one batched pass."""
        sources = [self._source_ids(sentence) for sentence in sentences]
        return [self.tgt_vocab.decode(ids) for ids in greedy_decode_batch(self.model, sources)]

    def beam(self, korean: str | Sequence[str], *, beam_width: int = 4) -> BeamSearchResult:
        """The full beam search result (ids; decode with ``tgt_vocab``)."""
        return beam_search(self.model, self._source_ids(korean), beam_width=beam_width)

    def trace(
        self, korean: str | Sequence[str], *, force: Mapping[int, str] | None = None
    ) -> list[TraceStep]:
        """Greedy decoding step by step (see ``minitransformer.decoding.TraceStep``)."""
        return trace_greedy(self.model, self._source_ids(korean), force=self._force_ids(force))

    def top_words(self, probabilities: Tensor, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most probable English words of a (V,) probability vector."""
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
            english = self.translate(korean)
        target = self.tgt_vocab.encode(english)
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

    def exact_match(self, pairs: Sequence[Pair]) -> float:
        """Share of ``pairs`` translated word for word right (batched greedy)."""
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
    """Write the weights and the metadata JSON; returns both paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, metadata_path = directory / WEIGHTS_FILE, directory / METADATA_FILE
    tensors = {
        name: tensor.detach().contiguous().clone()
        for name, tensor in translator.model.state_dict().items()
    }
    save_file(tensors, str(weights_path), metadata={"format": str(FORMAT_VERSION)})
    metadata = {
        **translator.metadata,
        "format": FORMAT_VERSION,
        "config": translator.config.to_dict(),
        "src_vocab": translator.src_vocab.itos,
        "tgt_vocab": translator.tgt_vocab.itos,
    }
    metadata_path.write_text(
        json.dumps(metadata, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return weights_path, metadata_path


def load_pretrained(directory: str | Path | None = None) -> Translator:
    """The shipped translator (or one saved by ``save_translator`` in ``directory``), in eval
    mode. A missing, corrupted or mismatched file raises ``CheckpointError`` naming it."""
    directory = CHECKPOINT_DIR if directory is None else Path(directory)
    weights_path, metadata_path = directory / WEIGHTS_FILE, directory / METADATA_FILE
    for path in (metadata_path, weights_path):
        if not path.is_file():
            raise CheckpointError(
                f"checkpoint file not found: {path} (run `make pretrained` to create it)"
            )
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
        if metadata.get("format") != FORMAT_VERSION:
            raise ValueError(f"format {metadata.get('format')!r}, expected {FORMAT_VERSION}")
        config = TransformerConfig.from_dict(metadata["config"])
        src_vocab = Vocab.from_dict({"itos": metadata["src_vocab"]})
        tgt_vocab = Vocab.from_dict({"itos": metadata["tgt_vocab"]})
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"{metadata_path} is not a valid translator config: {error}"
        ) from error
    if (len(src_vocab), len(tgt_vocab)) != (config.src_vocab_size, config.tgt_vocab_size):
        raise CheckpointError(
            f"{metadata_path}: vocabularies of {len(src_vocab)} and {len(tgt_vocab)} words do "
            f"not match the config ({config.src_vocab_size}, {config.tgt_vocab_size})"
        )
    try:
        state = load_file(str(weights_path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(
            f"{weights_path} is not a readable safetensors file: {error}"
        ) from error
    model = Transformer(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointError(
            f"{weights_path} does not match the model described in {metadata_path}: {error}"
        ) from error
    extra = {k: v for k, v in metadata.items() if k not in ("config", "src_vocab", "tgt_vocab")}
    return Translator(model, src_vocab, tgt_vocab, metadata=extra)


def recipe_training_options(recipe: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`train` that ``recipe`` (default ``RECIPE``) fixes:
    steps, batch size, warm-up, learning-rate factor, label smoothing, clipping and seed."""
    recipe = {**RECIPE, **(recipe or {})}
    names = ("steps", "batch_size", "warmup", "lr_factor", "label_smoothing", "clip_norm", "seed")
    return {name: recipe[name] for name in names}


def train_translator(
    recipe: Mapping[str, Any] | None = None, *, progress: bool = True, callback=None
) -> Translator:
    """Train the book's translator from scratch with ``recipe`` (default ``RECIPE``)."""
    recipe = {**RECIPE, **(recipe or {})}
    corpus = make_corpus(recipe["num_train"], recipe["num_held_out"], seed=recipe["seed"])
    torch.manual_seed(recipe["seed"])
    config = TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab))
    model = Transformer(config)
    threads = torch.get_num_threads()
    torch.set_num_threads(recipe["threads"])
    started = time.perf_counter()
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
    seconds = time.perf_counter() - started
    translator = Translator(model, corpus.src_vocab, corpus.tgt_vocab)
    translator.metadata = {
        "recipe": recipe,
        "training": {
            "seconds": round(seconds, 1),
            "final_loss": round(history.loss[-1], 4) if history.loss else None,
            "torch": torch.__version__,
        },
        "held_out_exact_match": round(translator.exact_match(corpus.held_out), 4),
    }
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
    corpus = make_corpus(translator.metadata["recipe"]["num_train"],
                         translator.metadata["recipe"]["num_held_out"],
                         seed=translator.metadata["recipe"]["seed"])  # fmt: skip
    print(translator)
    print(f"held-out exact match: {translator.exact_match(corpus.held_out):.4f}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
