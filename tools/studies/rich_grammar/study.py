"""Is each mechanism the book teaches needed on the rich grammar?

Trains the book's translator recipe (``pretrained.RECIPE`` via ``recipe_training_options``)
on ``make_corpus(4000, 500, seed=s, grammar="rich")`` and measures, for one model:

1. exact match (and word accuracy) on held_out and longer, greedy;
2. held-out exact match with every encoder self-attention head ablated, and with every
   decoder cross-attention head ablated (``experiments.heads.ablated``);
3. greedy against beam search (width 4, length_penalty=0.6): how often they differ and which
   one is right when they do;
4. held-out exact match per construction, normal and encoder-ablated;
5. for held-out sentences with 걔: per encoder self-attention head, the mean weight from 걔
   to the patient noun and to the agent noun.

Also (cheap extras): teacher-forced accuracy of the one word each construction decides (the
pronoun of 걔, the verb of 봤어), normal and encoder-ablated.

Usage: python study.py --tag a --seed 0 --heads 4 --steps 1200
Appends one record to _build/studies/results.json and a section to results.md beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from minitransformer.config import TransformerConfig
from minitransformer.data import ANIMALS, PEOPLE, EncodedPairs, Pair, encode_pairs, make_corpus
from minitransformer.decoding import greedy_decode_batch, inference_mode
from minitransformer.experiments.heads import ablated, decode_limit, greedy_scores
from minitransformer.model import Transformer
from minitransformer.pretrained import RECIPE, Translator, recipe_training_options
from minitransformer.tokens import PAD_ID, pad_sequences
from minitransformer.training import train

HERE = Path(__file__).resolve().parents[3] / "_build" / "studies"  # results, models: not committed
PERSON_VERBS = {"만났어", "도와줬어", "불렀어", "봤어"}
SUBJECT_PARTICLES = {"가", "이"}
OBJECT_PARTICLES = {"를", "을"}
BEAM_WIDTH, ALPHA = 4, 0.6


# -- reading constructions off the source words ------------------------------------------------
def clauses(source: tuple[str, ...]) -> list[list[int]]:
    """Positions of each clause (split at 그리고; a 걔/거기 tail stays with the last clause)."""
    spans, current = [], []
    for i, word in enumerate(source):
        if word == "그리고":
            spans.append(current)
            current = []
        else:
            current.append(i)
    spans.append(current)
    return spans


def roles(source: tuple[str, ...], span: list[int]) -> dict[str, int | None]:
    """In a clause: position of the agent noun (before 가/이) and of the patient noun (before
    를/을), None when absent."""
    agent = patient = None
    for i in span:
        if source[i] in SUBJECT_PARTICLES:
            agent = i - 1
        elif source[i] in OBJECT_PARTICLES:
            patient = i - 1
    return {"agent": agent, "patient": patient}


def constructions(pair: Pair) -> set[str]:
    """The labels of ``pair`` (a sentence may carry several)."""
    source = pair.source
    spans = clauses(source)
    labels = {"1-clause" if len(spans) == 1 else f"{len(spans)}-clause"}
    for span in spans:
        words = [source[i] for i in span]
        if not PERSON_VERBS & set(words):
            continue
        r = roles(source, span)
        if r["agent"] is None:
            labels.add("person: agent dropped")
        elif r["patient"] < r["agent"]:
            labels.add("person: object-first")
        else:
            labels.add("person: agent-first")
    for span in spans:  # 봤어 also occurs in object clauses (subject 는 ... 영화 를 봤어)
        words = [source[i] for i in span]
        if "봤어" in words:
            labels.add("봤어+영화" if "영화" in words else "봤어+person/animal")
    if "걔" in source:
        labels.add("걔")
    if len(spans) == 1:
        for label in ("person: object-first", "person: agent-first"):
            if label in labels:
                labels.add(f"1-clause, {label}")
    return labels


CONSTRUCTION_ORDER = [
    "1-clause",
    "2-clause",
    "person: agent-first",
    "person: object-first",
    "person: agent dropped",
    "1-clause, person: agent-first",
    "1-clause, person: object-first",
    "걔",
    "봤어+영화",
    "봤어+person/animal",
]


# -- measurements ------------------------------------------------------------------------------
def greedy_outputs(
    model: Transformer, data: EncodedPairs, limit: bool = False
) -> tuple[list[list[int]], list[bool]]:
    """Batched greedy outputs and whether each equals its reference. ``limit``: stop at one
    word more than the longest reference (``decode_limit``, for damaged models); else the
    default limit, as ``Translator.exact_match`` and ``Translator.translate`` use."""
    max_len = decode_limit(data) if limit else None
    outputs = greedy_decode_batch(model, data.source, max_len=max_len)
    return outputs, [o == t[1:-1] for o, t in zip(outputs, data.target, strict=True)]


def all_heads(model: Transformer, kind: str) -> dict[str, list[int]]:
    H = model.config.num_heads
    N = model.config.num_layers
    if kind == "encoder self":
        return {f"enc{n}.self": list(range(H)) for n in range(N)}
    if kind == "cross":
        return {f"dec{n}.cross": list(range(H)) for n in range(N)}
    if kind == "decoder self":
        return {f"dec{n}.self": list(range(H)) for n in range(N)}
    raise ValueError(kind)


def decided_word_accuracy(model: Transformer, pairs: list[Pair], corpus, which: str) -> dict:
    """Teacher-forced: is the argmax at the decided target position the reference word?
    which="걔": the pronoun aligned to 걔. which="봤어": the English verb aligned to 봤어."""
    rows, positions = [], []
    for k, pair in enumerate(pairs):
        for i, word in enumerate(pair.source):
            if word == which:
                for j in sorted(j for s, j in pair.alignment if s == i):
                    if which == "봤어" and pair.target[j] not in ("saw", "watched"):
                        continue  # a dropped "I" also aligns to the verb
                    rows.append(k)
                    positions.append(j)
    if not rows:
        return {"n": 0}
    data = encode_pairs(pairs, corpus.src_vocab, corpus.tgt_vocab)
    source = pad_sequences(data.source, pad_id=PAD_ID)
    target = pad_sequences([t[:-1] for t in data.target], pad_id=PAD_ID)
    with inference_mode(model):
        logits = model(source, target).logits  # (B, T, V); position j predicts target[j]
    predicted = logits.argmax(-1)
    hits = 0
    by_word: dict[str, list[int]] = {}
    for k, j in zip(rows, positions, strict=True):
        gold = data.target[k][j + 1]  # target ids start with <sos>
        ok = int(predicted[k, j]) == gold
        hits += ok
        by_word.setdefault(pairs[k].target[j], [0, 0])
        by_word[pairs[k].target[j]][0] += ok
        by_word[pairs[k].target[j]][1] += 1
    return {"n": len(rows), "accuracy": hits / len(rows), "by_word": by_word}


def antecedent_attention(model: Transformer, pairs: list[Pair], corpus) -> dict:
    """Mean encoder self-attention weight from 걔 to the patient noun / agent noun of the
    clause before it, per (layer, head); agent only where the agent is not dropped."""
    items = []
    for pair in pairs:
        if "걔" not in pair.source:
            continue
        src = pair.source
        last = clauses(src)[-1]
        r = roles(src, last)
        that = src.index("걔")
        js = [j for i, j in pair.alignment if i == that]
        pronoun = pair.target[js[0]]
        expected = {**PEOPLE, **ANIMALS}[src[r["patient"]]][1]
        assert pronoun == expected, (pair.source_text, pronoun, expected)
        items.append((pair, that, r["patient"], r["agent"]))
    if not items:
        return {}
    ids = [corpus.src_vocab.encode(p.source) for p, *_ in items]
    source = pad_sequences(ids, pad_id=PAD_ID)
    with inference_mode(model):
        maps = model.encode(source, return_attention=True).attention  # N x (B, H, S, S)
    N, H = len(maps), maps[0].size(1)
    table = []
    for n in range(N):
        for h in range(H):
            to_patient, to_agent, to_patient_particle, self_w = [], [], [], []
            for b, (_, that, patient, agent) in enumerate(items):
                row = maps[n][b, h, that]
                to_patient.append(float(row[patient]))
                to_patient_particle.append(float(row[patient + 1]))
                self_w.append(float(row[that]))
                if agent is not None:
                    to_agent.append(float(row[agent]))
            table.append(
                {
                    "layer": n,
                    "head": h,
                    "to_patient": sum(to_patient) / len(to_patient),
                    "to_agent": sum(to_agent) / max(len(to_agent), 1),
                    "to_patient_particle": sum(to_patient_particle) / len(to_patient_particle),
                    "to_self": sum(self_w) / len(self_w),
                    "patient_argmax_share": None,
                }
            )
            # share of sentences where the patient noun is the head's top key
            top = [
                int(maps[n][b, h, that].argmax()) == patient
                for b, (_, that, patient, _) in enumerate(items)
            ]
            table[-1]["patient_argmax_share"] = sum(top) / len(top)
    with_agent = sum(agent is not None for *_, agent in items)
    best = max(table, key=lambda e: e["to_patient"] - e["to_agent"])
    return {"n": len(items), "n_with_agent": with_agent, "best": best, "heads": table}


def beam_vs_greedy(translator: Translator, pairs: list[Pair], greedy: list[list[int]]) -> dict:
    tgt = translator.tgt_vocab
    differ = beam_right = greedy_right = neither = 0
    beam_correct = 0
    examples = []
    for pair, g in zip(pairs, greedy, strict=True):
        result = translator.beam(list(pair.source), beam_width=BEAM_WIDTH, length_penalty=ALPHA)
        b = result.tokens
        ref = tgt.encode(pair.target)
        beam_correct += b == ref
        if b == g:
            continue
        differ += 1
        if b == ref:
            beam_right += 1
        elif g == ref:
            greedy_right += 1
        else:
            neither += 1
        if len(examples) < 5:
            examples.append(
                {
                    "source": pair.source_text,
                    "reference": pair.target_text,
                    "greedy": tgt.decode(g),
                    "beam": tgt.decode(b),
                }
            )
    return {
        "n": len(pairs),
        "differ": differ,
        "beam_right": beam_right,
        "greedy_right": greedy_right,
        "neither_right": neither,
        "beam_exact_match": beam_correct / len(pairs),
        "examples": examples,
    }


def per_construction(pairs: list[Pair], correct: list[bool], correct_abl: list[bool]) -> dict:
    out = {}
    labels = [constructions(p) for p in pairs]
    for label in CONSTRUCTION_ORDER:
        idx = [k for k, ls in enumerate(labels) if label in ls]
        if not idx:
            continue
        out[label] = {
            "n": len(idx),
            "em": sum(correct[k] for k in idx) / len(idx),
            "em_enc_ablated": sum(correct_abl[k] for k in idx) / len(idx),
        }
    return out


def failures(translator, pairs, outputs, correct, limit=8):
    rows = []
    for pair, out, ok in zip(pairs, outputs, correct, strict=True):
        if not ok and len(rows) < limit:
            rows.append(
                {
                    "source": pair.source_text,
                    "reference": pair.target_text,
                    "greedy": translator.tgt_vocab.decode(out),
                    "labels": sorted(constructions(pair)),
                }
            )
    return rows


# -- one run -----------------------------------------------------------------------------------
def run(tag: str, seed: int, heads: int, steps: int, skip_beam: bool = False) -> dict:
    started = time.perf_counter()
    recipe = {**RECIPE, "seed": seed, "steps": steps}
    corpus = make_corpus(recipe["num_train"], recipe["num_held_out"], seed=seed, grammar="rich")
    torch.manual_seed(seed)
    config = TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab), num_heads=heads)
    model = Transformer(config)
    params = model.num_parameters()
    params_h4 = Transformer(
        TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab), num_heads=4)
    ).num_parameters()
    torch.manual_seed(seed)  # re-seed: building the comparison model consumed random numbers
    model = Transformer(config)
    print(f"[{tag}] seed={seed} H={heads} D={config.d_model} steps={steps} params={params:,} "
          f"(H=4 would have {params_h4:,}); train={len(corpus.train)} held_out="
          f"{len(corpus.held_out)} longer={len(corpus.longer)}", flush=True)  # fmt: skip
    t0 = time.perf_counter()
    history = train(model, corpus.encoded("train"), **recipe_training_options(recipe),
                    progress=False)  # fmt: skip
    train_seconds = time.perf_counter() - t0
    tail = history.loss[-20:]
    print(f"[{tag}] trained in {train_seconds:.0f}s, final loss {sum(tail) / len(tail):.4f}",
          flush=True)  # fmt: skip
    os.makedirs(HERE / "models", exist_ok=True)
    torch.save(model.state_dict(), HERE / "models" / f"{tag}.pt")
    translator = Translator(model, corpus.src_vocab, corpus.tgt_vocab)

    t1 = time.perf_counter()
    held, longer = corpus.held_out, corpus.longer
    held_data, longer_data = corpus.encoded("held_out"), corpus.encoded("longer")
    record: dict = {
        "tag": tag,
        "seed": seed,
        "num_heads": heads,
        "d_model": config.d_model,
        "steps": steps,
        "parameters": params,
        "parameters_if_4_heads": params_h4,
        "final_train_loss": sum(tail) / len(tail),
        "train_seconds": train_seconds,
    }
    record["held_out_em"] = translator.exact_match(held)
    record["longer_em"] = translator.exact_match(longer)
    em_check, record["held_out_token_acc"] = greedy_scores(model, held_data)
    _, record["longer_token_acc"] = greedy_scores(model, longer_data)
    held_out_greedy, held_correct = greedy_outputs(model, held_data)
    longer_greedy, longer_correct = greedy_outputs(model, longer_data)
    if abs(em_check - record["held_out_em"]) > 1e-9:
        print(f"WARNING: EM {record['held_out_em']} vs greedy_scores {em_check}", flush=True)

    with ablated(model, all_heads(model, "encoder self")):
        _, held_correct_enc = greedy_outputs(model, held_data, limit=True)
        record["held_out_em_enc_self_ablated"] = sum(held_correct_enc) / len(held)
        _, record["held_out_token_acc_enc_self_ablated"] = greedy_scores(model, held_data)
        _, longer_correct_enc = greedy_outputs(model, longer_data, limit=True)
        record["longer_em_enc_self_ablated"] = sum(longer_correct_enc) / len(longer)
        record["pronoun_acc_enc_self_ablated"] = decided_word_accuracy(model, held, corpus, "걔")
        record["see_verb_acc_enc_self_ablated"] = decided_word_accuracy(model, held, corpus, "봤어")
    with ablated(model, all_heads(model, "cross")):
        _, held_correct_cross = greedy_outputs(model, held_data, limit=True)
        record["held_out_em_cross_ablated"] = sum(held_correct_cross) / len(held)
    with ablated(model, all_heads(model, "decoder self")):
        _, held_correct_dself = greedy_outputs(model, held_data, limit=True)
        record["held_out_em_dec_self_ablated"] = sum(held_correct_dself) / len(held)
    record["pronoun_acc"] = decided_word_accuracy(model, held, corpus, "걔")
    record["see_verb_acc"] = decided_word_accuracy(model, held, corpus, "봤어")
    record["per_construction"] = per_construction(held, held_correct, held_correct_enc)
    record["antecedent_attention"] = antecedent_attention(model, held, corpus)
    record["held_out_failures"] = failures(translator, held, held_out_greedy, held_correct)
    record["longer_failures"] = failures(translator, longer, longer_greedy, longer_correct, 4)
    eval_seconds = time.perf_counter() - t1
    t2 = time.perf_counter()
    if not skip_beam:
        record["beam_held_out"] = beam_vs_greedy(translator, held, held_out_greedy)
        record["beam_longer"] = beam_vs_greedy(translator, longer, longer_greedy)
    record["beam_seconds"] = time.perf_counter() - t2
    record["eval_seconds"] = eval_seconds
    record["total_seconds"] = time.perf_counter() - started
    return record


def summary(record: dict) -> str:
    r = record
    lines = [
        (
            f"## run {r['tag']}: seed {r['seed']}, H={r['num_heads']}, steps {r['steps']}, "
            f"{r['parameters']:,} parameters"
        ),
        "",
        (
            f"- train {r['train_seconds']:.0f}s, eval {r['eval_seconds']:.0f}s, beam "
            f"{r['beam_seconds']:.0f}s, total {r['total_seconds']:.0f}s; final train loss "
            f"{r['final_train_loss']:.4f}"
        ),
        (
            f"- held-out EM {r['held_out_em']:.3f} (word acc {r['held_out_token_acc']:.3f}); "
            f"longer EM "
            f"{r['longer_em']:.3f} (word acc {r['longer_token_acc']:.3f})"
        ),
        (
            f"- held-out EM, encoder self-attention ablated: "
            f"{r['held_out_em_enc_self_ablated']:.3f} "
            f"(word acc {r['held_out_token_acc_enc_self_ablated']:.3f}); longer "
            f"{r['longer_em_enc_self_ablated']:.3f}"
        ),
        (
            f"- held-out EM, cross-attention ablated: {r['held_out_em_cross_ablated']:.3f}; "
            f"decoder "
            f"self-attention ablated: {r['held_out_em_dec_self_ablated']:.3f}"
        ),
        (
            f"- 걔 pronoun (teacher-forced): {r['pronoun_acc'].get('accuracy', float('nan')):.3f} "
            f"of "
            f"{r['pronoun_acc']['n']}; enc-ablated "
            f"{r['pronoun_acc_enc_self_ablated'].get('accuracy', float('nan')):.3f} "
            f"{r['pronoun_acc_enc_self_ablated'].get('by_word')}"
        ),
        (
            f"- 봤어 verb (teacher-forced): {r['see_verb_acc'].get('accuracy', float('nan')):.3f} "
            f"of {r['see_verb_acc']['n']}; enc-ablated "
            f"{r['see_verb_acc_enc_self_ablated'].get('accuracy', float('nan')):.3f} "
            f"{r['see_verb_acc_enc_self_ablated'].get('by_word')}"
        ),
        "",
        "| construction (held-out) | n | EM | EM enc-self ablated |",
        "|---|---|---|---|",
    ]
    for label, c in r["per_construction"].items():
        lines.append(f"| {label} | {c['n']} | {c['em']:.3f} | {c['em_enc_ablated']:.3f} |")
    a = r["antecedent_attention"]
    if a:
        b = a["best"]
        lines += [
            "",
            (
                f"걔 -> antecedent ({a['n']} sentences, {a['n_with_agent']} with an agent): best "
                f"head "
                f"enc{b['layer']} head {b['head']}: to patient {b['to_patient']:.3f}, to agent "
                f"{b['to_agent']:.3f}, to patient's particle {b['to_patient_particle']:.3f}, "
                f"patient "
                f"is argmax in {b['patient_argmax_share']:.2f}"
            ),
            "",
            (
                "| layer | head | to patient | to agent | to patient particle | to self | "
                "patient argmax |"
            ),
            "|---|---|---|---|---|---|---|",
        ]
        for e in a["heads"]:
            lines.append(
                f"| {e['layer']} | {e['head']} | {e['to_patient']:.3f} | {e['to_agent']:.3f} | "
                f"{e['to_patient_particle']:.3f} | {e['to_self']:.3f} | "
                f"{e['patient_argmax_share']:.2f} |"
            )
    for split in ("beam_held_out", "beam_longer"):
        if split not in r:
            continue
        s = r[split]
        lines += [
            "",
            (
                f"{split}: beam (width {BEAM_WIDTH}, length_penalty {ALPHA}) differs from greedy "
                f"on "
                f"{s['differ']} of {s['n']}; beam right {s['beam_right']}, greedy right "
                f"{s['greedy_right']}, neither {s['neither_right']}; beam EM "
                f"{s['beam_exact_match']:.3f}"
            ),
        ]
        for e in s["examples"]:
            lines += [
                f"  - src: {e['source']}",
                f"    ref: {e['reference']}",
                f"    greedy: {e['greedy']}",
                f"    beam:   {e['beam']}",
            ]
    for key in ("held_out_failures", "longer_failures"):
        lines += ["", f"{key} (first few):"]
        for e in r[key]:
            lines += [
                f"  - src: {e['source']}  [{'; '.join(e['labels'])}]",
                f"    ref: {e['reference']}",
                f"    out: {e['greedy']}",
            ]
    return "\n".join(lines) + "\n\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--steps", type=int, default=RECIPE["steps"])
    parser.add_argument("--skip-beam", action="store_true")
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--md", default=str(HERE / "results.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = run(args.tag, args.seed, args.heads, args.steps, args.skip_beam)
    out = Path(args.out)
    records = json.loads(out.read_text()) if out.exists() else []
    records.append(record)
    out.write_text(json.dumps(records, indent=1, ensure_ascii=False))
    text = summary(record)
    with open(args.md, "a") as handle:
        handle.write(text)
    print(text, flush=True)


if __name__ == "__main__":
    main()
