"""Greedy decoding with and without the key/value cache (issue 17), measured in one run.

    .venv/bin/python benchmarks/bench_decoding.py [--repeats 3] [--plan small:1,small:4,...]
                                                  [--threads 1]

Two model sizes with random weights and ``max_len`` 256, so that every target length fits:
``small``, the book's (``TransformerConfig.small``: D 64, H 4, N 2, F 256, with vocabularies of
the shipped translator's size), and ``base``, the paper's base model (D 512, H 8, N 6, F 2048)
with the same vocabularies. Their ``<eos>`` logit is pushed down by 10^4, so every row writes
exactly ``max_len`` words (checked). ``--plan`` lists the (size, batch size) settings, by
default one sentence, a batch of 4 (what beam search of width 4 decodes) and 32 for the small
model, and one sentence for the base model. For each setting and target length (10, 25, 50,
100, 200 words) the cached and the
uncached ``greedy_decode_batch`` run interleaved (cached, uncached, cached, ...), so that machine
noise hits both alike; each figure is the median over the repeats, and the speed-up is
uncached / cached. Both must write the same words (checked in the same run). Bar: speed-up
>= 3 at length 100. Results go to ``benchmarks/results/decoding.json`` (ignored by git).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

import minitransformer as mt
from minitransformer.decoding import greedy_decode_batch
from minitransformer.tokens import EOS_ID

LENGTHS = (10, 25, 50, 100, 200)
BAR_LENGTH, BAR = 100, 3.0


SIZES = {
    "small": {},  # TransformerConfig.small: D 64, H 4, N 2, F 256
    "base": {"d_model": 512, "num_heads": 8, "num_layers": 6, "d_ff": 2048},  # the paper's base
}
DEFAULT_PLAN = "small:1,small:4,small:32,base:1"
VOCAB = (101, 106)  # the shipped translator's vocabulary sizes


def model_without_eos(seed: int = 0, size: str = "small") -> mt.Transformer:
    """A random model of ``size`` (see ``SIZES``) that never writes <eos>."""
    torch.manual_seed(seed)
    config = mt.TransformerConfig.small(*VOCAB, max_len=256, **SIZES[size])
    model = mt.Transformer(config).eval()
    with torch.no_grad():
        model.output_projection.bias[EOS_ID] = -1e4
    return model


def measure(model: mt.Transformer, batch: int, length: int, repeats: int) -> dict:
    sources = torch.randint(
        4, VOCAB[0], (batch, 10), generator=torch.Generator().manual_seed(batch)
    )
    sources = sources.tolist()
    words = {}
    samples: dict[bool, list[float]] = {True: [], False: []}
    for repeat in range(repeats + 1):  # the first round warms up and is not timed
        for use_cache in (True, False):
            start = time.perf_counter()
            words[use_cache] = greedy_decode_batch(
                model, sources, max_len=length, use_cache=use_cache
            )
            if repeat:
                samples[use_cache].append(time.perf_counter() - start)
    assert words[True] == words[False], "cached and uncached decoding wrote different words"
    assert all(len(row) == length for row in words[True]), "a row stopped before max_len"
    cached, uncached = (statistics.median(samples[flag]) for flag in (True, False))
    return {
        "batch": batch,
        "length": length,
        "cached_seconds": cached,
        "uncached_seconds": uncached,
        "speedup": uncached / cached,
        "cached_samples": samples[True],
        "uncached_samples": samples[False],
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--plan",
        default=DEFAULT_PLAN,
        help="size:batch settings, comma-separated (sizes: " + ", ".join(SIZES) + ")",
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/decoding.json"))
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)
    plan = []
    for item in arguments.plan.split(","):
        size, _, batch = item.partition(":")
        if size not in SIZES or not batch.isdigit():
            parser.error(f"--plan item {item!r}: expected size:batch with size in {list(SIZES)}")
        plan.append((size, int(batch)))
    models = {size: model_without_eos(size=size) for size in {size for size, _ in plan}}
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), greedy decoding, "
        f"median of {arguments.repeats} interleaved repeats; speed-up = uncached / cached"
    )
    rows = []
    for size, batch in plan:
        for length in LENGTHS:
            row = {"size": size, **measure(models[size], batch, length, arguments.repeats)}
            rows.append(row)
            print(
                f"{size:>5} B={batch:3d}  length {length:3d}"
                f"   cached {row['cached_seconds'] * 1e3:9.1f} ms"
                f"   uncached {row['uncached_seconds'] * 1e3:9.1f} ms"
                f"   speed-up {row['speedup']:6.2f}",
                flush=True,
            )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    at_bar = {
        (row["size"], row["batch"]): row["speedup"] for row in rows if row["length"] == BAR_LENGTH
    }
    passed = bool(at_bar) and all(speedup >= BAR for speedup in at_bar.values())
    for (size, batch), speedup in at_bar.items():
        verdict = "meets" if speedup >= BAR else "BELOW"
        print(
            f"{size} B={batch}: speed-up {speedup:.2f} at length {BAR_LENGTH} "
            f"({verdict} bar >= {BAR})"
        )
    print(f"load average (1, 5, 15 min) at the end: {load}")
    results = {
        "rows": rows,
        "sizes": SIZES,
        "repeats": arguments.repeats,
        "threads": arguments.threads,
        "load_average_at_end": load,
        "torch": torch.__version__,
        "bar": {"length": BAR_LENGTH, "speedup": BAR},
        "passed": passed,
    }
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return results


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
