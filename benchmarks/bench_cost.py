"""Cost of one layer against sequence length, the paper's Table 1, measured more fully than
chapter 3 can at build time: longer sequences, more repeats, and one against two threads.

    .venv/bin/python benchmarks/bench_cost.py [--max-length 4096] [--repeats 15]

Part 1 (processor time, one thread, the chapter's measurement extended): the median of
interleaved calls for each layer of ``minitransformer.experiments.cost`` and each n, the
log-log slope over n >= 256, and where the scores step overtakes the projections.

Part 2 (wall time, one thread against two): the speed-up of each layer from a second thread
at the largest n. The GRU's steps wait for each other, so a second thread can only share the
small matrix products inside each step; the attention layer's work has no such chain. Wall
times need an otherwise idle machine: on a loaded one, the second thread waits for a core.
"""

from __future__ import annotations

import argparse
import os
import time

from minitransformer.experiments import cost


def lengths_up_to(max_length: int) -> tuple[int, ...]:
    lengths, n = [], 8
    while n <= max_length:
        lengths.append(n)
        n *= 2
    return tuple(lengths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-length", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--d-model", type=int, default=64)
    args = parser.parse_args()
    lengths = lengths_up_to(args.max_length)
    started = time.perf_counter()
    settings = dict(d_model=args.d_model, repeats=args.repeats, min_repeats=5, budget=2.0)

    one = cost.time_layers(lengths, **settings)
    print(f"Part 1: processor time, 1 thread, D = {args.d_model}, median of up to "
          f"{args.repeats} interleaved calls (microseconds)")  # fmt: skip
    print(f"{'layer':33s}" + "".join(f"{n:>9,}" for n in lengths) + "   slope n>=256")
    for name, seconds in one.seconds.items():
        row = "".join(f"{t * 1e6:9.0f}" for t in seconds)
        print(f"{name:33s}{row}   {one.slope(name, 256):5.2f}")
    n_cross = cost.crossing(lengths, one.seconds[cost.SCORES], one.seconds[cost.PROJECTIONS])
    print(
        f"scores step > projections from n = {n_cross} (multiply-adds: n = 2D = "
        f"{2 * args.d_model}); attention layer > GRU from n = "
        f"{cost.crossing(lengths, one.seconds[cost.ATTENTION], one.seconds[cost.RECURRENT])}"
    )

    largest = lengths[-1:]
    wall = {threads: cost.time_layers(largest, threads=threads, clock="wall", names=cost.LAYERS,
                                      **settings)
            for threads in (1, 2)}  # fmt: skip
    print(f"\nPart 2: wall time at n = {largest[0]:,}, 1 thread -> 2 threads")
    for name in cost.LAYERS:
        t1, t2 = wall[1].seconds[name][0], wall[2].seconds[name][0]
        print(f"{name:33s} {t1 * 1e3:9.2f} ms -> {t2 * 1e3:9.2f} ms   speed-up {t1 / t2:5.2f}")
    load = os.getloadavg()[0]
    print(f"\ntook {time.perf_counter() - started:.1f} s; 1-minute load average {load:.1f} "
          f"on {os.cpu_count()} cores")  # fmt: skip


if __name__ == "__main__":
    main()
