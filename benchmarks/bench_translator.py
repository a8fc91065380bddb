"""Benchmarks of the translator (issue 3, section 8).

    .venv/bin/python benchmarks/bench_translator.py [--repeats 3] [--threads 1] [--parts ...]

1. time to 95%: wall time from nothing (corpus generation, model construction) to 95% exact
   match on the held-out split of the shipped recipe's corpus (the rich grammar; any right
   translation counts), evaluating with batched greedy decoding every 50 steps (evaluation
   time included). Bar: <= 90 s on one thread, median of 3.
2. throughput: target tokens per second while training (forward, backward, Adam step) of the
   package's Transformer and of a ``torch.nn.Transformer`` of the same size with the same
   embeddings, positions and output layer, on the same batches, in alternating blocks so that
   both see the same machine load. Bar: ours / torch >= 0.87.
3. alignment: share of content words whose strongest last-layer cross-attention (mean over
   heads), in the row of the decoder position that predicts the word, falls on the aligned
   source word; measured on the shipped checkpoint over the whole held-out split. Bar: >= 0.90.
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
from torch import Tensor, nn

from minitransformer import Transformer, TransformerConfig
from minitransformer.decoding import exact_match
from minitransformer.masks import padding_mask
from minitransformer.model import TransformerOutput
from minitransformer.positional import PositionalEncoding
from minitransformer.pretrained import (
    load_pretrained,
    recipe_corpus,
    recipe_training_options,
)
from minitransformer.training import train

TARGET_EXACT_MATCH = 0.95
TIME_BAR_SECONDS = 90


class TorchTransformer(nn.Module):
    """``torch.nn.Transformer`` with the package's embeddings, positions and output layer,
    batch first, called like ``minitransformer.Transformer`` (returns ``.logits``)."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        D = config.d_model
        self.source_embedding = nn.Embedding(config.src_vocab_size, D)
        self.target_embedding = nn.Embedding(config.tgt_vocab_size, D)
        self.source_positions = PositionalEncoding(D, config.max_len, config.dropout)
        self.target_positions = PositionalEncoding(D, config.max_len, config.dropout)
        self.transformer = nn.Transformer(
            d_model=D,
            nhead=config.num_heads,
            num_encoder_layers=config.num_layers,
            num_decoder_layers=config.num_layers,
            dim_feedforward=config.d_ff,
            dropout=config.dropout,
            batch_first=True,
            norm_first=config.norm_first,
        )
        self.output_projection = nn.Linear(D, config.tgt_vocab_size)

    def forward(self, source_ids: Tensor, target_ids: Tensor) -> TransformerOutput:
        T = target_ids.size(1)
        # torch's convention: True = "may NOT attend" (the opposite of the package's masks)
        source_padding = ~padding_mask(source_ids, self.config.pad_id)  # (B, S)
        target_padding = ~padding_mask(target_ids, self.config.pad_id)  # (B, T)
        look_ahead = torch.ones(T, T, dtype=torch.bool).triu(1)  # (T, T)
        hidden = self.transformer(
            self.source_positions(self.source_embedding(source_ids)),
            self.target_positions(self.target_embedding(target_ids)),
            tgt_mask=look_ahead,
            src_key_padding_mask=source_padding,
            tgt_key_padding_mask=target_padding,
            memory_key_padding_mask=source_padding,
        )  # (B, T, D)
        return TransformerOutput(self.output_projection(hidden))


def time_to_target(seed: int = 0, evaluate_every: int = 50, max_steps: int = 3000) -> dict:
    """Train the book's model from scratch until held-out exact match >= 95%."""
    started, cpu_started = time.perf_counter(), time.process_time()
    corpus = recipe_corpus()
    held_out = corpus.encoded("held_out")
    torch.manual_seed(seed)
    model = Transformer(TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab)))
    trace: list[tuple[int, float, float]] = []

    def evaluate(step: int, model: nn.Module, history) -> bool:
        if step == 0:
            return False
        score = exact_match(model, held_out)
        trace.append((step, round(time.perf_counter() - started, 2), score))
        return score >= TARGET_EXACT_MATCH

    options = {**recipe_training_options(), "steps": max_steps, "seed": seed}
    history = train(
        model,
        corpus.encoded("train"),
        **options,
        callback=evaluate,
        callback_every=evaluate_every,
        progress=False,
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    reached = bool(trace) and trace[-1][2] >= TARGET_EXACT_MATCH
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),  # all threads; ~ wall time on an idle machine
        "steps": len(history),
        "reached": reached,
        "exact_match": trace[-1][2] if trace else None,
        "evaluations": trace,
    }


def throughput(blocks: int = 6, steps_per_block: int = 50, seed: int = 0) -> dict:
    """Training target tokens/s of both implementations on identical batches."""
    corpus = recipe_corpus()
    data = corpus.encoded("train")
    config = TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab))
    torch.manual_seed(seed)
    models = {
        "minitransformer": Transformer(config),
        "torch.nn.Transformer": TorchTransformer(config),
    }
    parameters = {name: sum(p.numel() for p in m.parameters()) for name, m in models.items()}
    seconds = dict.fromkeys(models, 0.0)
    tokens = dict.fromkeys(models, 0)
    for model in models.values():  # warm-up, not timed
        train(model, data, steps=5, seed=seed, progress=False)
    for block in range(blocks):
        order = list(models) if block % 2 == 0 else list(models)[::-1]
        for name in order:
            history = train(models[name], data, steps=steps_per_block, seed=block, progress=False)
            seconds[name] += history.seconds
            tokens[name] += sum(history.target_tokens)
    rates = {name: tokens[name] / seconds[name] for name in models}
    return {
        "tokens_per_second": {name: round(rate) for name, rate in rates.items()},
        "ratio": round(rates["minitransformer"] / rates["torch.nn.Transformer"], 3),
        "parameters": parameters,
        "steps_each": blocks * steps_per_block,
    }


def alignment() -> dict:
    """Alignment scores of the shipped checkpoint on the whole held-out split."""
    translator = load_pretrained()
    corpus = recipe_corpus()
    pairs = corpus.held_out
    N, H = translator.config.num_layers, translator.config.num_heads
    return {
        "content_words": round(translator.alignment_score(pairs), 4),
        "all_aligned_words": round(translator.alignment_score(pairs, content_only=False), 4),
        "per_head_last_layer": [
            round(translator.alignment_score(pairs, layer=N - 1, head=h), 4) for h in range(H)
        ],
        "first_layer_mean_heads": round(translator.alignment_score(pairs, layer=0), 4),
        "held_out_exact_match": round(translator.exact_match(pairs), 4),
        "held_out_pairs": len(pairs),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs of the time-to-95%% test")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch.set_num_threads (1: robust on shared cores)"
    )
    parser.add_argument("--parts", default="time,throughput,alignment", help="which to run")
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/translator.json"))
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)

    parts = set(arguments.parts.split(","))
    runs = (
        [time_to_target(seed=seed) for seed in range(arguments.repeats)] if "time" in parts else []
    )
    speed = throughput() if "throughput" in parts else None
    aligned = alignment() if "alignment" in parts else None
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    results = {
        "time_to_95": {
            "median_seconds": statistics.median(run["seconds"] for run in runs) if runs else None,
            "median_cpu_seconds": (
                statistics.median(run["cpu_seconds"] for run in runs) if runs else None
            ),
            "runs": runs,
        },
        "throughput": speed,
        "alignment": aligned,
        "threads": arguments.threads,
        "load_average_1min_at_end": load,
        "torch": torch.__version__,
    }
    if runs:
        times = ", ".join(
            f"{run['seconds']:.1f} s wall / {run['cpu_seconds']:.1f} s CPU ({run['steps']} steps)"
            for run in runs
        )
        median = results["time_to_95"]["median_seconds"]
        print(f"time to {TARGET_EXACT_MATCH:.0%} held-out exact match: median "
              f"{median:.1f} s   [{times}]   bar <= {TIME_BAR_SECONDS} s")  # fmt: skip
    if speed:
        rates = speed["tokens_per_second"]
        ours, theirs = rates["minitransformer"], rates["torch.nn.Transformer"]
        print(f"training throughput: ours {ours} tok/s, torch {theirs} tok/s, "
              f"ratio {speed['ratio']:.3f}   bar >= 0.87")  # fmt: skip
    if aligned:
        print(f"alignment (content words, last layer, mean of heads): "
              f"{aligned['content_words']:.3f}   all aligned words "
              f"{aligned['all_aligned_words']:.3f}   bar >= 0.90")  # fmt: skip
    print(f"threads {arguments.threads}, 1-min load average at the end {load}")
    arguments.json.parent.mkdir(parents=True, exist_ok=True)
    arguments.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    ok = (
        all(run["reached"] for run in runs)
        and (not runs or results["time_to_95"]["median_seconds"] <= TIME_BAR_SECONDS)
        and (speed is None or speed["ratio"] >= 0.87)
        and (aligned is None or aligned["content_words"] >= 0.90)
    )
    results["passed"] = ok
    return results


if __name__ == "__main__":
    sys.exit(0 if main()["passed"] else 1)
