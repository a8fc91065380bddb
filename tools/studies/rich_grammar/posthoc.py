"""Post-hoc look at the saved models (models/TAG.pt) on the ``longer`` split: no training.

How many clauses does the greedy output have (English verbs counted), how long is it against
the longest training target, and is each output a prefix-plus-tail of the reference?

Usage: python posthoc.py a0:0:4 b0:0:1 ...   (tag:seed:heads)
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import torch

from minitransformer.config import TransformerConfig
from minitransformer.data import (
    ACTIVITY_VERBS,
    MOVEMENT_VERBS,
    OBJECT_VERBS,
    PERSON_VERBS,
    WATCHED,
    make_corpus,
)
from minitransformer.decoding import greedy_decode_batch
from minitransformer.model import Transformer

HERE = Path(__file__).resolve().parents[3] / "_build" / "studies"  # results, models: not committed
VERBS = (
    {english for table in (MOVEMENT_VERBS, ACTIVITY_VERBS, PERSON_VERBS) for _, english in table}
    | {english for _, english, _ in OBJECT_VERBS}
    | {WATCHED}
)


def load(spec: str) -> tuple[str, object, Transformer]:
    """``tag:seed:heads`` -> the tag, the rich corpus of that seed and the saved model."""
    tag, seed, heads = spec.split(":")
    corpus = make_corpus(4000, 500, seed=int(seed), grammar="rich")
    config = TransformerConfig.small(
        len(corpus.src_vocab), len(corpus.tgt_vocab), num_heads=int(heads)
    )
    model = Transformer(config)
    model.load_state_dict(torch.load(HERE / "models" / f"{tag}.pt"))
    return tag, corpus, model.eval()


def clause_count(words: list[str]) -> int:
    return sum(word in VERBS for word in words)


def main() -> None:
    torch.set_num_threads(1)
    for spec in sys.argv[1:]:
        tag, corpus, model = load(spec)
        data = corpus.encoded("longer")
        outputs = greedy_decode_batch(model, data.source)
        train_max = max(len(p.target) for p in corpus.train)
        counts = Counter()
        lengths = []
        prefix_ok = 0
        for pair, out in zip(corpus.longer, outputs, strict=True):
            words = corpus.tgt_vocab.tokens(out)
            counts[clause_count(words)] += 1
            lengths.append(len(words))
            # does the output begin with the reference's first clause right?
            first_and = pair.target.index("and") if "and" in pair.target else len(pair.target)
            prefix_ok += tuple(words[:first_and]) == pair.target[:first_and]
        ref_lengths = [len(p.target) for p in corpus.longer]
        print(
            f"{tag}: output clauses {dict(sorted(counts.items()))} (reference: 3 each); output "
            f"length mean {sum(lengths) / len(lengths):.1f} max {max(lengths)}, reference mean "
            f"{sum(ref_lengths) / len(ref_lengths):.1f} max {max(ref_lengths)}; longest training "
            f"target {train_max}; first clause right in {prefix_ok}/{len(outputs)}"
        )


def pronoun_cross_attention(specs: list[str]) -> None:
    """Teacher-forced, held-out 걔 sentences: at the decoder position that predicts the
    pronoun, the cross-attention weight on the patient noun, on 걔 and on the agent noun, per
    (decoder layer, head): does the decoder look up the antecedent itself?"""
    from study import clauses, roles

    from minitransformer.decoding import inference_mode
    from minitransformer.tokens import PAD_ID, pad_sequences

    for spec in specs:
        tag, corpus, model = load(spec)
        items = []
        for pair in corpus.held_out:
            if "걔" not in pair.source:
                continue
            that = pair.source.index("걔")
            r = roles(pair.source, clauses(pair.source)[-1])
            j = next(j for i, j in pair.alignment if i == that)
            items.append((pair, that, r["patient"], r["agent"], j))
        source = pad_sequences(
            [corpus.src_vocab.encode(p.source) for p, *_ in items], pad_id=PAD_ID
        )
        target = pad_sequences(
            [corpus.tgt_vocab.encode(p.target, add_sos=True) for p, *_ in items], pad_id=PAD_ID
        )
        with inference_mode(model):
            cross = model(source, target, return_attention=True).attention.cross
        parts = []
        for n, maps in enumerate(cross):  # (B, H, T, S)
            for h in range(maps.size(1)):
                pat = [float(maps[b, h, j, p]) for b, (_, _, p, _, j) in enumerate(items)]
                tht = [float(maps[b, h, j, t]) for b, (_, t, _, _, j) in enumerate(items)]
                agt = [
                    float(maps[b, h, j, a])
                    for b, (_, _, _, a, j) in enumerate(items)
                    if a is not None
                ]
                parts.append(
                    f"dec{n} h{h}: patient {sum(pat) / len(pat):.2f} 걔 "
                    f"{sum(tht) / len(tht):.2f} agent {sum(agt) / len(agt):.2f}"
                )
        print(f"{tag} cross-attention at the pronoun ({len(items)} sentences): " + "; ".join(parts))


if __name__ == "__main__":
    main()
    pronoun_cross_attention(sys.argv[1:])
