"""The shipped recipe trained again with other seeds and head counts (chapters 6 and 10).

One run trains ``TransformerConfig.small`` on the shipped translator's corpus
(``pretrained.recipe_corpus()``) with the shipped recipe, changing only the seed of the initial
weights and of the batch order, and the number of heads (the same parameters for every head
count). Each run measures, on the held-out and the longer split:

- exact match and word accuracy of greedy decoding;
- held-out exact match with every encoder self-attention head removed (``heads.ablated``);
- beam search (width 4, length penalty 0.6) against greedy decoding: on how many held-out
  sentences the two differ, and how many each gets right;
- held-out exact match per construction (``heads.constructions``), with all heads and without
  the encoder's self-attention;
- for the held-out sentences with 걔, the head that best finds the patient, in the
  encoder-decoder attention (the row that predicts the pronoun) and in the encoder
  self-attention (the row of 걔): ``alignment.antecedent_heads``.

A run takes about two minutes on one thread, more than a chapter may spend, so ``make
seed-study`` (``python -m minitransformer.experiments.seed_study``) runs them all and writes
``results/seed_study.json``, which chapters read with :func:`load`. The run with seed 0 and 4
heads is the shipped translator itself (same corpus, same recipe, same seed), which the tests
check against the shipped checkpoint.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from minitransformer.config import TransformerConfig
from minitransformer.data import Corpus, EncodedPairs
from minitransformer.decoding import beam_search, greedy_decode_batch, output_scores
from minitransformer.experiments.alignment import antecedent_heads
from minitransformer.experiments.heads import ablated, attention_modules, construction_study
from minitransformer.model import Transformer
from minitransformer.pretrained import RECIPE, Translator, recipe_corpus, recipe_training_options
from minitransformer.training import train

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "seed_study.json"
SEEDS = (0, 1, 2)
HEAD_COUNTS = (1, 4)
BEAM_WIDTH, LENGTH_PENALTY = 4, 0.6


def without_encoder_self_attention(model: Transformer) -> dict[str, list[int]]:
    """The ``heads.ablated`` argument that removes every encoder self-attention head."""
    return {
        name: list(range(module.num_heads))
        for name, module in attention_modules(model).items()
        if name.startswith("enc")
    }


def beam_against_greedy(model: Transformer, data: EncodedPairs) -> dict[str, Any]:
    """Greedy and beam search (width 4, length penalty 0.6) on every pair of ``data``: how
    many outputs differ, how many of each are right, and the indices where they differ."""
    greedy = greedy_decode_batch(model, data.source)
    beam = [
        list(
            beam_search(model, source, beam_width=BEAM_WIDTH, length_penalty=LENGTH_PENALTY).tokens
        )
        for source in data.source
    ]
    differ = [k for k in range(len(data)) if greedy[k] != beam[k]]
    return {
        "differ": len(differ),
        "greedy_right": sum(greedy[k] in data.right_targets(k) for k in range(len(data))),
        "beam_right": sum(beam[k] in data.right_targets(k) for k in range(len(data))),
        "differ_indices": differ,
    }


def evaluate(model: Transformer, held_out: EncodedPairs, longer: EncodedPairs) -> dict[str, Any]:
    """Every measurement of one trained model (see the module docstring)."""
    model.eval()
    held_em, held_tokens = output_scores(greedy_decode_batch(model, held_out.source), held_out)
    longer_em, longer_tokens = output_scores(greedy_decode_batch(model, longer.source), longer)
    with ablated(model, without_encoder_self_attention(model)):
        no_encoder_self, _ = output_scores(greedy_decode_batch(model, held_out.source), held_out)
    return {
        "held_out_exact_match": held_em,
        "held_out_token_accuracy": held_tokens,
        "longer_exact_match": longer_em,
        "longer_token_accuracy": longer_tokens,
        "no_encoder_self_attention_exact_match": no_encoder_self,
        "beam": beam_against_greedy(model, held_out),
    }


def best_head(patient, agent) -> dict[str, Any]:
    """The (layer, head) of the arrays (N, H) with the largest patient share minus agent share."""
    margin = patient - agent
    layer, head = divmod(int(margin.argmax()), margin.shape[1])
    return {
        "layer": layer,
        "head": head,
        "patient": float(patient[layer, head]),
        "agent": float(agent[layer, head]),
    }


def head_findings(model: Transformer, corpus: Corpus) -> dict[str, Any]:
    """Exact match per construction (all heads, no encoder self-attention) and the heads that
    find 걔's antecedent, on the held-out split."""
    model.eval()
    study = construction_study(
        model,
        corpus.held_out,
        corpus.src_vocab,
        corpus.tgt_vocab,
        {"all heads": {}, "no encoder self-attention": without_encoder_self_attention(model)},
    )
    found = antecedent_heads(Translator(model, corpus.src_vocab, corpus.tgt_vocab), corpus.held_out)
    return {
        "constructions": {"sentences": study.sentences, **study.right},
        "antecedent": {
            "sentences": found.n,
            "with_agent": found.n_agent,
            "cross": best_head(found.cross_patient, found.cross_agent),
            "encoder": best_head(found.encoder_patient, found.encoder_agent),
        },
    }


def run(seed: int, num_heads: int) -> dict[str, Any]:
    """Train the shipped recipe with ``seed`` and ``num_heads`` on one thread and measure it."""
    corpus = recipe_corpus(RECIPE)
    torch.manual_seed(seed)
    config = TransformerConfig.small(
        len(corpus.src_vocab), len(corpus.tgt_vocab), num_heads=num_heads
    )
    model = Transformer(config)
    threads = torch.get_num_threads()
    torch.set_num_threads(RECIPE["threads"])
    try:
        started = time.perf_counter()
        train(
            model,
            corpus.encoded("train"),
            **{**recipe_training_options(RECIPE), "seed": seed},
            progress=False,
        )
        seconds = time.perf_counter() - started
        result = evaluate(model, corpus.encoded("held_out"), corpus.encoded("longer"))
        result.update(head_findings(model, corpus))
    finally:
        torch.set_num_threads(threads)
    return {
        "seed": seed,
        "num_heads": num_heads,
        "parameters": model.num_parameters(),
        "train_seconds": round(seconds, 1),
        **result,
    }


def load(path: str | Path = RESULTS_FILE) -> list[dict[str, Any]]:
    """The runs written by ``make seed-study``, one dict per (seed, head count)."""
    with open(path, encoding="utf-8") as handle:
        document = json.load(handle)
    if document.get("recipe") != RECIPE:
        raise ValueError(
            f"{path} was computed with another recipe than pretrained.RECIPE: run "
            "`make seed-study` again"
        )
    return document["runs"]


def spread(runs: Sequence[dict[str, Any]], key: str, num_heads: int) -> dict[str, float]:
    """Mean, minimum and maximum of ``key`` (a dotted path, e.g. ``beam.differ``) over the
    seeds of ``num_heads``."""
    values = []
    for entry in runs:
        if entry["num_heads"] != num_heads:
            continue
        value: Any = entry
        for part in key.split("."):
            value = value[part]
        values.append(float(value))
    if not values:
        raise ValueError(f"no runs with num_heads={num_heads}")
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - runs for minutes
    parser = argparse.ArgumentParser(prog="python -m minitransformer.experiments.seed_study")
    parser.add_argument("--output", type=Path, default=RESULTS_FILE)
    parser.add_argument("--seed", type=int, action="append", help="only these seeds")
    parser.add_argument("--heads", type=int, action="append", help="only these head counts")
    parser.add_argument(
        "--merge", type=Path, action="append", default=[], help="also take these files' runs"
    )
    parser.add_argument("--merge-only", action="store_true", help="train nothing, only merge")
    arguments = parser.parse_args(argv)
    runs = []
    for path in arguments.merge:
        runs += json.loads(path.read_text(encoding="utf-8"))["runs"]
    settings = [(s, h) for s in arguments.seed or SEEDS for h in arguments.heads or HEAD_COUNTS]
    for seed, num_heads in [] if arguments.merge_only else settings:
        runs.append(run(seed, num_heads))
        print(json.dumps({k: v for k, v in runs[-1].items() if k != "beam"}), flush=True)
    runs.sort(key=lambda entry: (entry["num_heads"], entry["seed"]))
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    document = {"recipe": RECIPE, "torch": torch.__version__, "runs": runs}
    arguments.output.write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(f"wrote {arguments.output}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
