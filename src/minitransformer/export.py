"""The shipped translator as files a web browser can run: float32 weights and a JSON manifest.

``export_browser_model(translator, directory)`` writes two files:

    translator.bin    every tensor of the model, float32 little-endian, one after another
    translator.json   the manifest: format, the model config, for each tensor its name, shape
                      and offset (in float32 numbers) into the binary file, both vocabularies,
                      and the normalisation of the input text

The book's build calls it on ``load_pretrained()`` (``book/_ext/browser_translator.py``), so
the model the reader's browser runs is the checkpoint itself and cannot drift from it. The
JavaScript forward pass that reads these files (``book/_static/translator/translator.js``)
mirrors ``model.py``, ``layers.py``, ``attention.py`` and ``positional.py`` line by line and is
tested against this package in ``tests/browser/test_translator_widget.py``.

Tensor names are those of ``model.state_dict()``, plus the two positional tables
(``source_positions.table``, ``target_positions.table``): the sinusoidal table is a
non-persistent buffer, so it is written out exactly as the package computes it rather than
recomputed in JavaScript. A tensor that shares its storage with an earlier one (tied
embeddings, a tied output projection) is written once; its manifest entry names the tensor it
is the same as.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from minitransformer.data import PARTICLE_WORDS

BROWSER_FORMAT = 1
BROWSER_WEIGHTS = "translator.bin"
BROWSER_MANIFEST = "translator.json"
# What the JavaScript does to the reader's text before looking words up (the contract of
# ``normalize_text``, see minitransformer.tokens): NFC, Unicode punctuation -> space, split on
# whitespace, unknown words -> <unk>.
NORMALIZATION = "NFC; Unicode general category P* -> space; split on whitespace"


def browser_tensors(model: Any) -> dict[str, Tensor]:
    """Every tensor the forward pass needs, by name: the state dict plus the positional
    tables (``<side>_positions.table``), detached, on the CPU, in float32."""
    tensors = dict(model.state_dict())
    for side in ("source", "target"):
        tensors[f"{side}_positions.table"] = getattr(model, f"{side}_positions").table
    return {name: tensor.detach().cpu().float().contiguous() for name, tensor in tensors.items()}


def _storage_key(tensor: Tensor) -> tuple[int, tuple[int, ...]]:
    return tensor.untyped_storage().data_ptr(), tuple(tensor.shape)


def browser_model_files(translator: Any) -> tuple[bytes, dict[str, Any]]:
    """The binary weights and the manifest (a JSON-ready dict) of ``translator``."""
    for name in ("model", "src_vocab", "tgt_vocab"):
        if not hasattr(translator, name):
            raise TypeError(
                f"translator must be a minitransformer Translator (with .model, .src_vocab and "
                f".tgt_vocab), got {type(translator).__name__} without .{name}"
            )
    model = translator.model
    raw = browser_tensors(model)
    # Tied parameters share storage; look the storage up on the model's own tensors.
    originals = dict(model.state_dict())
    for side in ("source", "target"):
        originals[f"{side}_positions.table"] = getattr(model, f"{side}_positions").table
    chunks: list[bytes] = []
    entries: list[dict[str, Any]] = []
    first_by_storage: dict[tuple[int, tuple[int, ...]], str] = {}
    offset = 0
    for name, tensor in raw.items():
        key = _storage_key(originals[name])
        if key in first_by_storage:
            entries.append({"name": name, "shape": list(tensor.shape),
                            "same_as": first_by_storage[key]})  # fmt: skip
            continue
        first_by_storage[key] = name
        data = tensor.numpy().astype("<f4", copy=False).tobytes()
        entries.append({"name": name, "shape": list(tensor.shape), "offset": offset,
                        "length": tensor.numel()})  # fmt: skip
        chunks.append(data)
        offset += tensor.numel()
    weights = b"".join(chunks)
    manifest = {
        "format": BROWSER_FORMAT,
        "dtype": "float32",
        "byte_order": "little",
        "weights_file": BROWSER_WEIGHTS,
        "weights_bytes": len(weights),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "num_parameters": model.num_parameters(),
        "config": model.config.to_dict(),
        "tensors": entries,
        "src_vocab": list(translator.src_vocab.itos),
        "tgt_vocab": list(translator.tgt_vocab.itos),
        "normalization": NORMALIZATION,
        # data.split_particles: a word the vocabulary lacks loses one of these endings when
        # both the rest and the ending are words of the vocabulary (민수가 -> 민수 가)
        "particles": list(PARTICLE_WORDS),
    }
    return weights, manifest


def _write_if_changed(path: Path, data: bytes) -> bool:
    if path.is_file() and path.read_bytes() == data:
        return False
    path.write_bytes(data)
    return True


def export_browser_model(translator: Any, directory: str | Path) -> tuple[Path, Path]:
    """Write ``translator.bin`` and ``translator.json`` into ``directory`` (created if need be);
    returns both paths. Unchanged files are left untouched (their dates too)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights, manifest = browser_model_files(translator)
    weights_path, manifest_path = directory / BROWSER_WEIGHTS, directory / BROWSER_MANIFEST
    _write_if_changed(weights_path, weights)
    text = json.dumps(manifest, ensure_ascii=False, separators=(",", ":")) + "\n"
    _write_if_changed(manifest_path, text.encode("utf-8"))
    return weights_path, manifest_path


def load_browser_model(directory: str | Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the two files back: {name: float32 array of its shape} and the manifest. A file
    that does not match its manifest raises ``ValueError`` naming it."""
    directory = Path(directory)
    manifest_path = directory / BROWSER_MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    if manifest.get("format") != BROWSER_FORMAT:
        raise ValueError(
            f"{manifest_path}: format {manifest.get('format')!r}, expected {BROWSER_FORMAT}"
        )
    weights_path = directory / manifest["weights_file"]
    data = weights_path.read_bytes()
    if len(data) != manifest["weights_bytes"]:
        raise ValueError(
            f"{weights_path} holds {len(data)} bytes, the manifest says {manifest['weights_bytes']}"
        )
    if hashlib.sha256(data).hexdigest() != manifest["weights_sha256"]:
        raise ValueError(f"{weights_path} does not match the checksum in {manifest_path}")
    flat = np.frombuffer(data, dtype="<f4")
    arrays: dict[str, np.ndarray] = {}
    for entry in manifest["tensors"]:
        if "same_as" in entry:
            arrays[entry["name"]] = arrays[entry["same_as"]]
            continue
        start, length = entry["offset"], entry["length"]
        arrays[entry["name"]] = flat[start : start + length].reshape(entry["shape"])
    return arrays, manifest


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m minitransformer.export DIRECTORY``: export the shipped translator."""
    from minitransformer.pretrained import load_pretrained

    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print("usage: python -m minitransformer.export DIRECTORY", file=sys.stderr)
        return 2
    for path in export_browser_model(load_pretrained(), arguments[0]):
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
