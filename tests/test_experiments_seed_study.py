"""The seed study's results file (make seed-study) and the shipped translator agree."""

from __future__ import annotations

import json

import pytest

import minitransformer as mt
from minitransformer.decoding import beam_search, greedy_decode_batch, output_scores
from minitransformer.experiments import seed_study
from minitransformer.experiments.heads import ablated
from minitransformer.pretrained import RECIPE


@pytest.fixture(scope="module")
def runs():
    return seed_study.load()


def test_every_seed_and_head_count_is_in_the_file(runs):
    settings = sorted((entry["seed"], entry["num_heads"]) for entry in runs)
    expected = sorted((s, h) for s in seed_study.SEEDS for h in seed_study.HEAD_COUNTS)
    assert settings == expected
    assert len({entry["parameters"] for entry in runs}) == 1  # the same parameter budget
    for entry in runs:
        shares = ("held_out_exact_match", "longer_exact_match", "held_out_token_accuracy")
        for key in (*shares, "no_encoder_self_attention_exact_match"):
            assert 0.0 <= entry[key] <= 1.0
        beam = entry["beam"]
        assert beam["differ"] == len(beam["differ_indices"])
        assert 0 <= beam["greedy_right"] <= RECIPE["num_held_out"]


def test_seed_zero_with_four_heads_is_the_shipped_translator(runs, translator, corpus):
    """Same corpus, recipe and seed: the file's run 0 measures the shipped checkpoint."""
    (entry,) = [e for e in runs if (e["seed"], e["num_heads"]) == (0, 4)]
    assert entry["parameters"] == translator.model.num_parameters()
    model, held_out = translator.model, corpus.encoded("held_out")
    held = output_scores(greedy_decode_batch(model, held_out.source), held_out)
    assert held == pytest.approx(
        (entry["held_out_exact_match"], entry["held_out_token_accuracy"]), abs=1e-9
    )
    assert translator.metadata["held_out_exact_match"] == round(entry["held_out_exact_match"], 4)
    with ablated(model, seed_study.without_encoder_self_attention(model)):
        ablated_em = output_scores(greedy_decode_batch(model, held_out.source), held_out)[0]
    assert ablated_em == pytest.approx(entry["no_encoder_self_attention_exact_match"], abs=1e-9)
    # beam search against greedy on the first 40 held-out sentences, as the file says
    greedy = greedy_decode_batch(model, held_out.source[:40])
    for k, source in enumerate(held_out.source[:40]):
        beam = beam_search(model, source, beam_width=4, length_penalty=0.6).tokens
        assert (list(beam) != greedy[k]) == (k in entry["beam"]["differ_indices"])


def test_spread_and_load_errors(runs, tmp_path):
    spread = seed_study.spread(runs, "beam.differ", 4)
    values = [e["beam"]["differ"] for e in runs if e["num_heads"] == 4]
    assert spread == {"mean": sum(values) / len(values), "min": min(values), "max": max(values)}
    with pytest.raises(ValueError, match="num_heads=3"):
        seed_study.spread(runs, "held_out_exact_match", 3)
    stale = tmp_path / "old.json"
    stale.write_text(json.dumps({"recipe": {**RECIPE, "steps": 1}, "runs": []}), encoding="utf-8")
    with pytest.raises(ValueError, match="make seed-study"):
        seed_study.load(stale)
    model = mt.Transformer(mt.TransformerConfig.small(20, 20, num_heads=2))
    assert seed_study.without_encoder_self_attention(model) == {
        "enc0.self": [0, 1],
        "enc1.self": [0, 1],
    }


def test_evaluate_measures_a_model_on_both_splits(corpus):
    model = mt.Transformer(
        mt.TransformerConfig.small(len(corpus.src_vocab), len(corpus.tgt_vocab), num_layers=1)
    )
    held_out = mt.encode_pairs(corpus.held_out[:6], corpus.src_vocab, corpus.tgt_vocab)
    longer = mt.encode_pairs(corpus.longer[:3], corpus.src_vocab, corpus.tgt_vocab)
    result = seed_study.evaluate(model, held_out, longer)
    assert set(result) == {
        "held_out_exact_match", "held_out_token_accuracy", "longer_exact_match",
        "longer_token_accuracy", "no_encoder_self_attention_exact_match", "beam",
    }  # fmt: skip
    assert result["beam"]["differ"] <= 6 and not model.training


def test_seed_zero_head_findings_are_the_shipped_translators(runs, translator, corpus):
    (entry,) = [e for e in runs if (e["seed"], e["num_heads"]) == (0, 4)]
    found = seed_study.head_findings(translator.model, corpus)
    assert found["constructions"] == entry["constructions"]
    for place in ("cross", "encoder"):
        assert found["antecedent"][place] == pytest.approx(entry["antecedent"][place])
    for run in runs:
        counts = run["constructions"]
        assert counts["all heads"]["all"] == round(
            run["held_out_exact_match"] * len(corpus.held_out)
        )
        assert set(counts["sentences"]) == set(counts["no encoder self-attention"])
        assert 0.0 <= run["antecedent"]["encoder"]["patient"] <= 1.0
