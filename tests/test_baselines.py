"""GRU encoder-decoders: same interface as the Transformer, trainable with the same loop."""

from __future__ import annotations

import pytest
import torch

from minitransformer.baselines import GRUConfig, GRUSeq2Seq
from minitransformer.data import encode_pairs, toy_task, toy_vocab
from minitransformer.decoding import beam_search, greedy_decode, token_accuracy, trace_greedy
from minitransformer.training import train


@pytest.mark.parametrize("attention", [False, True])
def test_shapes_and_padding(attention):
    torch.manual_seed(0)
    model = GRUSeq2Seq(9, 11, 16, attention=attention).eval()
    source = torch.tensor([[4, 5, 6], [7, 8, 0]])
    target = torch.tensor([[1, 4, 5, 6], [1, 7, 0, 0]])
    output = model(source, target, return_attention=True)
    assert output.logits.shape == (2, 4, 11)
    if attention:
        (cross,) = output.attention.cross
        assert cross.shape == (2, 1, 4, 3)
        torch.testing.assert_close(cross.sum(-1), torch.ones(2, 1, 4))
        assert cross[1, 0, :, 2].abs().max() == 0  # no weight on the padded source word
    else:
        assert output.attention.cross == []
    assert model(source, target).attention is None
    # Extra padding on the source changes nothing for the real rows.
    wider = model(torch.tensor([[4, 5, 6, 0], [7, 8, 0, 0]]), target).logits
    torch.testing.assert_close(wider, output.logits)
    encoded = model.encode(source)
    assert encoded.memory.shape == (2, 3, 16) and encoded.final_state.shape == (2, 16)
    # The final state is the state after the last *real* word.
    torch.testing.assert_close(encoded.final_state[1], encoded.memory[1, 1])
    assert model.num_parameters() > 0
    assert model.config.d_model == 16 and model.config.to_dict()["attention"] is attention


def test_bad_arguments():
    with pytest.raises(ValueError, match="hidden_size"):
        GRUConfig(5, 5, hidden_size=0)
    model = GRUSeq2Seq(5, 5, 8)
    with pytest.raises(TypeError, match="GRUEncoderOutput"):
        model.decode(torch.tensor([[1]]), object())


def test_trained_with_the_same_functions_and_attention_helps():
    vocab = toy_vocab(8)
    data = encode_pairs(toy_task(400, (6, 8), num_symbols=8, seed=0), vocab, vocab)
    test = encode_pairs(toy_task(40, (8,), num_symbols=8, seed=9), vocab, vocab)
    scores = {}
    for attention in (False, True):
        torch.manual_seed(0)
        model = GRUSeq2Seq(len(vocab), len(vocab), 32, attention=attention)
        history = train(model, data, steps=120, batch_size=32, warmup=30, progress=False)
        assert history.loss[-1] < history.loss[0]
        scores[attention] = token_accuracy(model, test)
        source = test.source[0]
        assert beam_search(model, source, beam_width=1).tokens == greedy_decode(model, source)
        records = trace_greedy(model, source, max_len=3)
        assert len(records) <= 3
        assert len(records[0].cross_attention) == (1 if attention else 0)
    assert scores[True] > scores[False]
