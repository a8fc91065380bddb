"""Speed of the package's attention and model against PyTorch's own, measured in one run.

    .venv/bin/python benchmarks/bench_model.py [--repeats 30]

For each size, the two implementations run interleaved (ours, torch, ours, torch, ...) so
that machine noise hits both alike; each figure is the median over the repeats, and the
ratio is ours / torch (below 1 = we are faster).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import minitransformer as mt


def median_times(
    candidates: dict[str, Callable[[], None]], repeats: int, warmup: int = 3
) -> dict[str, float]:
    for _ in range(warmup):
        for run in candidates.values():
            run()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def attention_case(D: int, H: int, B: int, T: int) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    ours = mt.MultiHeadAttention(D, H)
    theirs = nn.MultiheadAttention(D, H, batch_first=True)
    x = torch.randn(B, T, D, requires_grad=True)

    def run_ours() -> None:
        out, _ = ours(x, x, x)
        out.sum().backward()

    def run_theirs() -> None:
        out, _ = theirs(x, x, x, need_weights=False)
        out.sum().backward()

    return {"ours": run_ours, "torch": run_theirs}


class TorchTransformerModel(nn.Module):
    """nn.Transformer with the same embeddings, positions and output projection as ours."""

    def __init__(self, config: mt.TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.source_embedding = nn.Embedding(config.src_vocab_size, config.d_model)
        self.target_embedding = nn.Embedding(config.tgt_vocab_size, config.d_model)
        self.positions = mt.PositionalEncoding(config.d_model, config.max_len, config.dropout)
        self.core = nn.Transformer(
            config.d_model,
            config.num_heads,
            config.num_layers,
            config.num_layers,
            config.d_ff,
            config.dropout,
            batch_first=True,
            norm_first=config.norm_first,
        )
        self.output_projection = nn.Linear(config.d_model, config.tgt_vocab_size)

    def forward(self, source_ids: torch.Tensor, target_ids: torch.Tensor) -> torch.Tensor:
        T = target_ids.size(1)
        out = self.core(
            self.positions(self.source_embedding(source_ids)),
            self.positions(self.target_embedding(target_ids)),
            tgt_mask=~mt.causal_mask(T),  # torch: True = may not attend
            src_key_padding_mask=source_ids == self.config.pad_id,
            tgt_key_padding_mask=target_ids == self.config.pad_id,
            memory_key_padding_mask=source_ids == self.config.pad_id,
            tgt_is_causal=True,
        )
        return self.output_projection(out)


def training_case(
    config: mt.TransformerConfig, B: int, S: int, T: int
) -> dict[str, Callable[[], None]]:
    torch.manual_seed(0)
    source = torch.randint(4, config.src_vocab_size, (B, S))
    target = torch.randint(4, config.tgt_vocab_size, (B, T + 1))
    source[: B // 2, -S // 4 :] = config.pad_id  # some padding, as in real batches
    decoder_input, gold = target[:, :-1], target[:, 1:]
    loss_fn = nn.CrossEntropyLoss(ignore_index=config.pad_id)

    def step_fn(model: nn.Module, logits_of: Callable[[], torch.Tensor]) -> Callable[[], None]:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            logits = logits_of()
            loss = loss_fn(logits.reshape(-1, logits.size(-1)), gold.reshape(-1))
            loss.backward()
            optimizer.step()

        return step

    ours = mt.Transformer(config).train()
    theirs = TorchTransformerModel(config).train()
    return {
        "ours": step_fn(ours, lambda: ours(source, decoder_input).logits),
        "torch": step_fn(theirs, lambda: theirs(source, decoder_input)),
    }


def report(title: str, times: dict[str, float]) -> float:
    ratio = times["ours"] / times["torch"]
    print(
        f"{title:<58} ours {times['ours'] * 1e3:8.2f} ms  torch {times['torch'] * 1e3:8.2f} ms"
        f"  ratio {ratio:5.2f}"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"median of {args.repeats} interleaved repeats; ratio = ours / torch"
    )
    small = mt.TransformerConfig.small(120, 120)
    wide = mt.TransformerConfig(
        src_vocab_size=1000,
        tgt_vocab_size=1000,
        d_model=256,
        num_heads=8,
        num_layers=2,
        d_ff=1024,
        max_len=128,
    )
    ratios = [
        report(
            "MHA fwd+bwd, small preset (D=64 H=4, B=64 T=12)",
            median_times(attention_case(64, 4, 64, 12), args.repeats),
        ),
        report(
            "MHA fwd+bwd, D=256 H=8, B=32 T=64",
            median_times(attention_case(256, 8, 32, 64), args.repeats),
        ),
        report(
            "train step, small preset (N=2, B=64 S=10 T=12)",
            median_times(training_case(small, 64, 10, 12), args.repeats),
        ),
        report(
            "train step, D=256 H=8 N=2 F=1024, B=32 S=T=64",
            median_times(training_case(wide, 32, 64, 64), max(5, args.repeats // 3)),
        ),
    ]
    worst = max(ratios)
    print(f"worst ratio {worst:.2f} (bar: <= 1.15)" + ("" if worst <= 1.15 else "  ABOVE BAR"))
    assert math.isfinite(worst)


if __name__ == "__main__":
    main()
