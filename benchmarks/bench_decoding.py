"""Greedy decoding with and without the key/value cache (issue 17), measured in one run.

    .venv/bin/python benchmarks/bench_decoding.py [--repeats 3] [--batches 1,32] [--threads 1]

The book's model size (``TransformerConfig.small``: D 64, H 4, N 2, F 256, the shipped
translator's vocabularies) with random weights and ``max_len`` 256, so that every target length
fits; its ``<eos>`` logit is pushed down by 10^4, so every row writes exactly ``max_len`` words
(checked). For each batch size and target length (10, 25, 50, 100, 200 words) the cached and the
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


def model_without_eos(seed: int = 0) -> mt.Transformer:
    """A random model of the translator's size that never writes <eos>."""
    torch.manual_seed(seed)
    model = mt.Transformer(mt.TransformerConfig.small(93, 91, max_len=256)).eval()
    with torch.no_grad():
        model.output_projection.bias[EOS_ID] = -1e4
    return model


def measure(model: mt.Transformer, batch: int, length: int, repeats: int) -> dict:
    sources = torch.randint(4, 93, (batch, 10), generator=torch.Generator().manual_seed(batch))
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
    parser.add_argument("--batches", default="1,32", help="batch sizes, comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/decoding.json"))
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)
    model = model_without_eos()
    batches = [int(b) for b in arguments.batches.split(",")]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), greedy decoding, "
        f"median of {arguments.repeats} interleaved repeats; speed-up = uncached / cached"
    )
    rows = []
    for batch in batches:
        for length in LENGTHS:
            row = measure(model, batch, length, arguments.repeats)
            rows.append(row)
            print(
                f"B={batch:3d}  length {length:3d}   cached {row['cached_seconds'] * 1e3:9.1f} ms"
                f"   uncached {row['uncached_seconds'] * 1e3:9.1f} ms"
                f"   speed-up {row['speedup']:6.2f}",
                flush=True,
            )
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    at_bar = {row["batch"]: row["speedup"] for row in rows if row["length"] == BAR_LENGTH}
    passed = bool(at_bar) and all(speedup >= BAR for speedup in at_bar.values())
    for batch, speedup in at_bar.items():
        verdict = "meets" if speedup >= BAR else "BELOW"
        print(f"B={batch}: speed-up {speedup:.2f} at length {BAR_LENGTH} ({verdict} bar >= {BAR})")
    print(f"load average (1, 5, 15 min) at the end: {load}")
    results = {
        "rows": rows,
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
