"""Summarise results.json: one row per configuration (heads, steps), mean [min, max] over seeds."""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[3] / "_build" / "studies"  # results, models: not committed


def fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{sum(values) / len(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def get(record: dict, key: str) -> float:
    value = record
    for part in key.split("/"):
        value = value[part]
    return float(value)


COLUMNS = [
    ("held-out EM", "held_out_em"),
    ("held-out word acc", "held_out_token_acc"),
    ("longer EM", "longer_em"),
    ("longer word acc", "longer_token_acc"),
    ("held-out EM, enc-self ablated", "held_out_em_enc_self_ablated"),
    ("held-out word acc, enc-self ablated", "held_out_token_acc_enc_self_ablated"),
    ("longer EM, enc-self ablated", "longer_em_enc_self_ablated"),
    ("held-out EM, cross ablated", "held_out_em_cross_ablated"),
    ("held-out EM, dec-self ablated", "held_out_em_dec_self_ablated"),
    ("걔 pronoun acc (TF)", "pronoun_acc/accuracy"),
    ("걔 pronoun acc (TF), enc ablated", "pronoun_acc_enc_self_ablated/accuracy"),
    ("봤어 verb acc (TF)", "see_verb_acc/accuracy"),
    ("봤어 verb acc (TF), enc ablated", "see_verb_acc_enc_self_ablated/accuracy"),
    ("beam EM held-out", "beam_held_out/beam_exact_match"),
    ("beam≠greedy held-out (of 500)", "beam_held_out/differ"),
    ("  of which beam right", "beam_held_out/beam_right"),
    ("  of which greedy right", "beam_held_out/greedy_right"),
    ("beam EM longer", "beam_longer/beam_exact_match"),
    ("beam≠greedy longer (of 200)", "beam_longer/differ"),
    ("  of which beam right", "beam_longer/beam_right"),
    ("  of which greedy right", "beam_longer/greedy_right"),
    ("best 걔 head: to patient", "antecedent_attention/best/to_patient"),
    ("best 걔 head: to agent", "antecedent_attention/best/to_agent"),
    ("final train loss", "final_train_loss"),
    ("train seconds", "train_seconds"),
    ("total seconds", "total_seconds"),
]


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "results.json"
    records = json.loads(path.read_text())
    groups: dict[tuple[int, int], list[dict]] = {}
    for record in records:
        groups.setdefault((record["num_heads"], record["steps"]), []).append(record)
    keys = sorted(groups, key=lambda k: (k[1], -k[0]))
    header = [f"H={h}, {s} steps, seeds {[r['seed'] for r in groups[(h, s)]]}" for h, s in keys]
    print("| metric | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 1) + "|")
    print("| parameters | " + " | ".join(f"{groups[k][0]['parameters']:,}" for k in keys) + " |")
    for label, key in COLUMNS:
        cells = []
        for k in keys:
            try:
                cells.append(fmt([get(r, key) for r in groups[k]]))
            except (KeyError, TypeError):
                cells.append("-")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    labels = []
    for record in records:
        for label in record["per_construction"]:
            if label not in labels:
                labels.append(label)
    print("Per construction (held-out EM; enc-self ablated after the slash):")
    print()
    print("| construction | n (seed 0) | " + " | ".join(header) + " |")
    print("|---" * (len(header) + 2) + "|")
    for label in labels:
        cells = []
        for k in keys:
            rs = [r for r in groups[k] if label in r["per_construction"]]
            em = [r["per_construction"][label]["em"] for r in rs]
            ab = [r["per_construction"][label]["em_enc_ablated"] for r in rs]
            cells.append(f"{fmt(em)} / {fmt(ab)}" if rs else "-")
        n = next((r["per_construction"][label]["n"] for r in records if r["seed"] == 0), "-")
        print(f"| {label} | {n} | " + " | ".join(cells) + " |")
    print()
    print("Best 걔 head per run (layer, head, to patient, to agent, patient argmax share):")
    for record in records:
        b = record["antecedent_attention"]["best"]
        print(
            f"- {record['tag']} (seed {record['seed']}, H={record['num_heads']}, "
            f"{record['steps']} steps): enc{b['layer']} head {b['head']}: "
            f"{b['to_patient']:.3f} vs {b['to_agent']:.3f}, argmax {b['patient_argmax_share']:.2f}"
        )


if __name__ == "__main__":
    main()
