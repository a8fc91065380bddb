"""Does beam search differ from greedy once a Korean sentence has several right translations?

On the rich grammar every Korean sentence has one English translation, and the trained model
is so sure of it that beam search (width 4, length penalty 0.6) and greedy decoding agree on
every held-out sentence. Here each clause's English time phrase may stand in three places,
drawn independently per clause for every training sentence:

    front       "yesterday , I went to the cafe"      (weight 0.4)
    end         "I went to the cafe yesterday"        (weight 0.3)
    end-comma   "I went to the cafe , yesterday"      (weight 0.3)

Two of the three start with the subject, so the first word greedy prefers ("I", 0.6 in all)
leads to a sentence of probability 0.3 at best, while the front variant has 0.4: a case where
the locally best word is not the start of the most probable sentence. Exact match counts an
output as right when it is any of the variants.

Usage: python target_ambiguity.py [--steps 1200] [--seed 0] [--scope all|single]
(--scope single: only one-clause sentences without a second clause get the variants.)
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import time

import torch

import minitransformer as mt
from minitransformer.data import TIMES, Pair, encode_pairs, make_corpus
from minitransformer.decoding import beam_search, greedy_decode_batch
from minitransformer.pretrained import RECIPE, recipe_training_options
from minitransformer.tokens import Vocab
from minitransformer.training import train

TIME_WORDS = {korean: english.split() for korean, english in TIMES}
WEIGHTS = (0.4, 0.3, 0.3)  # front, end, end-comma


def clause_spans(pair: Pair) -> list[tuple[int, int, int, int]]:
    """Per clause of the English: (start, stop, time start, time stop), target positions."""
    ands = sorted(j for i, j in pair.alignment if pair.source[i] == "그리고")
    bounds = [0, *[j + 1 for j in ands], len(pair.target)]
    time_sources = {i for i, word in enumerate(pair.source) if word in TIME_WORDS}
    time_targets = sorted(j for i, j in pair.alignment if i in time_sources)
    spans = []
    for start, stop in itertools.pairwise(bounds):
        inside = [j for j in time_targets if start <= j < stop]
        spans.append((start, stop, inside[0], inside[-1] + 1))
    return spans


def variants(pair: Pair, scope: str) -> list[tuple[str, ...]]:
    """Every right English sentence of ``pair``: one choice of place per clause (the original
    sentence is the all-"end" choice)."""
    source = set(pair.source)
    if scope == "single" and source & {"그리고", "거기", "걔"}:
        return [pair.target]
    target, spans = list(pair.target), clause_spans(pair)
    choices = []
    for k, (start, stop, t0, t1) in enumerate(spans):
        end = stop - 1 if k < len(spans) - 1 else stop  # the "and" closing a clause stays last
        time_words, before, after, rest = (
            target[t0:t1],
            target[start:t0],
            target[t1:end],
            target[end:stop],
        )
        choices.append(
            [
                [*time_words, ",", *before, *after, *rest],
                before + time_words + after + rest,
                [*before, ",", *time_words, *after, *rest],
            ]
        )
    return [tuple(itertools.chain(*combo)) for combo in itertools.product(*choices)]


def draw(pair: Pair, scope: str, rng: random.Random) -> tuple[str, ...]:
    """One right English sentence of ``pair``, each clause's place drawn with WEIGHTS."""
    options = variants(pair, scope)
    if len(options) == 1:
        return options[0]
    clauses = len(clause_spans(pair))
    weights = [
        math.prod(WEIGHTS[i] for i in combo)
        for combo in itertools.product(range(3), repeat=clauses)
    ]
    return rng.choices(options, weights)[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scope", choices=("all", "single"), default="all")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = make_corpus(4000, 500, seed=args.seed, grammar="rich")
    rng = random.Random(args.seed)
    train_pairs = [Pair(p.source, draw(p, args.scope, rng)) for p in corpus.train]
    src_vocab = Vocab.build(p.source for p in train_pairs)
    tgt_vocab = Vocab.build(p.target for p in train_pairs)
    torch.manual_seed(args.seed)
    model = mt.Transformer(mt.TransformerConfig.small(len(src_vocab), len(tgt_vocab)))
    start = time.perf_counter()
    options = recipe_training_options({**RECIPE, "steps": args.steps, "seed": args.seed})
    train(model, encode_pairs(train_pairs, src_vocab, tgt_vocab), **options, progress=False)
    seconds = time.perf_counter() - start
    model.eval()
    held_out = corpus.held_out
    right = [set(variants(p, args.scope)) for p in held_out]
    sources = [src_vocab.encode(p.source) for p in held_out]
    greedy = [tuple(tgt_vocab.decode(ids).split()) for ids in greedy_decode_batch(model, sources)]
    beam = [
        tuple(
            tgt_vocab.decode(
                beam_search(model, ids, beam_width=4, length_penalty=0.6).tokens
            ).split()
        )
        for ids in sources
    ]
    differ = [k for k in range(len(held_out)) if greedy[k] != beam[k]]
    fronted = [p.target[0] for p in held_out]  # the "end" sentence starts with the subject
    result = {
        "steps": args.steps,
        "seed": args.seed,
        "scope": args.scope,
        "train_seconds": round(seconds),
        "held_out": len(held_out),
        "with_variants": sum(len(r) > 1 for r in right),
        "greedy_exact_match": sum(g in r for g, r in zip(greedy, right, strict=True))
        / len(held_out),
        "beam_exact_match": sum(b in r for b, r in zip(beam, right, strict=True)) / len(held_out),
        "beam_differs": len(differ),
        "greedy_fronted": sum(g[:1] != (f,) for g, f in zip(greedy, fronted, strict=True)),
        "beam_fronted": sum(b[:1] != (f,) for b, f in zip(beam, fronted, strict=True)),
    }
    print(json.dumps(result))
    for k in differ[:4]:
        print(
            f"{held_out[k].source_text} | greedy: {' '.join(greedy[k])} | beam: {' '.join(beam[k])}"
        )


if __name__ == "__main__":
    main()
