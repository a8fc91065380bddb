"""Inference: from <sos> to <eos>, one word at a time.

At inference there is no gold target to feed the decoder. It starts from ``<sos>``, predicts a
probability for every target word, appends a choice, and runs again on the longer prefix, until
it writes ``<eos>`` or reaches a length limit:

    y_t = argmax_v P(v | y_<t, x)                      (greedy)
    keep the k prefixes with the highest sum_t log P(y_t | y_<t, x)    (beam search, width k)

The encoder runs once per source; the decoder re-reads the whole prefix at every step (there is
no key/value cache: simpler to read, and fast enough for sentences of twenty words).

Steps are numbered from 1, as in the notes: step 1 predicts the first target word ("I"),
step 2 the second ("went"). ``force={1: you_id}`` makes step 1 output "you" whatever the model
prefers, and decoding continues from there.

Every function works with any model that has ``encode(source_ids)`` and
``decode(target_ids, encoded)`` like ``minitransformer.Transformer`` (the GRU baselines too).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minitransformer.data import EncodedPairs
from minitransformer.tokens import EOS_ID, PAD_ID, SOS_ID, pad_sequences


@contextlib.contextmanager
def inference_mode(model: nn.Module) -> Iterator[None]:
    """Eval mode (no dropout) and no gradients; the model's previous mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def default_max_len(model: nn.Module, source_length: int) -> int:
    """How many words to generate at most: 2 S + 10, within the model's positional table."""
    limit = 2 * source_length + 10
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "max_len"):
        limit = min(limit, config.max_len - 1)  # the decoder input also holds <sos>
    return max(limit, 1)


def select_rows(encoded: object, rows: Tensor) -> object:
    """The encoder output of the batch rows ``rows`` (a copy of the dataclass with every
    batch-first tensor indexed; per-layer attention lists are dropped)."""
    changes = {}
    for item in dataclasses.fields(encoded):
        value = getattr(encoded, item.name)
        if isinstance(value, Tensor):
            changes[item.name] = value.index_select(0, rows)
        elif isinstance(value, list):
            changes[item.name] = None
    return dataclasses.replace(encoded, **changes)


def _as_source_list(sources: Sequence[Sequence[int]] | Tensor) -> list[list[int]]:
    if isinstance(sources, Tensor):
        if sources.dim() == 1:
            sources = sources.unsqueeze(0)
        return [row.tolist() for row in sources]
    return [list(source) for source in sources]


def _check_force(force: Mapping[int, int] | None) -> dict[int, int]:
    force = dict(force or {})
    for step in force:
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise ValueError(f"force steps are numbered from 1, got {step!r}")
    return force


def greedy_decode_batch(
    model: nn.Module,
    sources: Sequence[Sequence[int]] | Tensor,
    *,
    max_len: int | None = None,
    force: Mapping[int, int] | None = None,
    batch_size: int = 512,
    sos_id: int = SOS_ID,
    eos_id: int = EOS_ID,
    pad_id: int = PAD_ID,
) -> list[list[int]]:
    """Greedy decoding of many sources at once.

    sources: id lists (no <sos>/<eos>) or a padded LongTensor (B, S).
    Returns one id list per source: the generated words, without <sos> and <eos>. Each row
    stops at its own <eos> (finished rows leave the batch); ``max_len`` bounds the number of
    generated words (default ``default_max_len``).
    """
    force = _check_force(force)
    source_lists = _as_source_list(sources)
    results: list[list[int]] = [[] for _ in source_lists]
    # Sort by length so that each batch holds sentences of similar length (less padding).
    order = sorted(range(len(source_lists)), key=lambda k: len(source_lists[k]))
    with inference_mode(model):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            source = pad_sequences([source_lists[k] for k in chunk], pad_id=pad_id)  # (B, S)
            limit = max_len if max_len is not None else default_max_len(model, source.size(1))
            for row, tokens in zip(
                chunk, _greedy(model, source, limit, force, sos_id, eos_id), strict=True
            ):
                results[row] = tokens
    return results


def _greedy(
    model: nn.Module,
    source: Tensor,
    max_len: int,
    force: dict[int, int],
    sos_id: int,
    eos_id: int,
) -> list[list[int]]:
    B = source.size(0)
    encoded = model.encode(source)
    prefix = torch.full((B, 1), sos_id, dtype=torch.long)  # (B, 1): <sos>
    active = torch.arange(B)  # rows still generating
    outputs: list[list[int]] = [[] for _ in range(B)]
    for step in range(1, max_len + 1):
        logits = model.decode(prefix, encoded).logits[:, -1]  # (B_active, V)
        if step in force:
            chosen = torch.full((prefix.size(0),), force[step], dtype=torch.long)
        else:
            chosen = logits.argmax(dim=-1)  # (B_active,)
        still_going = []
        for position, (row, token) in enumerate(zip(active.tolist(), chosen.tolist(), strict=True)):
            if token == eos_id:
                continue
            outputs[row].append(token)
            still_going.append(position)
        if not still_going:
            break
        keep = torch.tensor(still_going, dtype=torch.long)
        prefix = torch.cat([prefix, chosen.unsqueeze(1)], dim=1).index_select(0, keep)
        if len(still_going) < len(active):
            encoded = select_rows(encoded, keep)
            active = active.index_select(0, keep)
    return outputs


def greedy_decode(
    model: nn.Module,
    source_ids: Sequence[int] | Tensor,
    *,
    max_len: int | None = None,
    force: Mapping[int, int] | None = None,
    sos_id: int = SOS_ID,
    eos_id: int = EOS_ID,
) -> list[int]:
    """Greedy decoding of one source (ids, no <sos>/<eos>); returns the generated ids without
    <sos> and <eos>. ``force={step: token_id}`` overrides the choice at those steps."""
    return greedy_decode_batch(
        model, [_as_source_list(torch.as_tensor(source_ids))[0]], max_len=max_len,
        force=force, sos_id=sos_id, eos_id=eos_id,
    )[0]  # fmt: skip


@dataclass(frozen=True)
class TraceStep:
    """One step of greedy decoding, for the inference chapter.

    step: 1 for the first generated word. prefix: the decoder input at this step
    (<sos> y_1 ... y_{step-1}). probabilities: (V,) softmax of the last position's logits.
    token: the word appended (the argmax, or the forced word). cross_attention: one (H, S)
    tensor per decoder layer, the encoder-decoder attention of the position that predicts
    ``token`` (empty for a model without attention).
    """

    step: int
    prefix: list[int]
    probabilities: Tensor
    token: int
    forced: bool
    cross_attention: list[Tensor]

    @property
    def probability(self) -> float:
        """P(token | prefix, source)."""
        return float(self.probabilities[self.token])


def trace_greedy(
    model: nn.Module,
    source_ids: Sequence[int] | Tensor,
    *,
    max_len: int | None = None,
    force: Mapping[int, int] | None = None,
    sos_id: int = SOS_ID,
    eos_id: int = EOS_ID,
) -> list[TraceStep]:
    """Greedy decoding of one source that records every step (see ``TraceStep``).

    The last record is the step that wrote <eos> (if it came before ``max_len``).
    """
    force = _check_force(force)
    source = torch.as_tensor(list(_as_source_list(torch.as_tensor(source_ids))[0]))[None]
    limit = max_len if max_len is not None else default_max_len(model, source.size(1))
    records = []
    with inference_mode(model):
        encoded = model.encode(source)
        prefix = [sos_id]
        for step in range(1, limit + 1):
            decoded = model.decode(torch.tensor([prefix]), encoded, return_attention=True)
            probabilities = torch.softmax(decoded.logits[0, -1].float(), dim=-1)  # (V,)
            forced = step in force
            token = force[step] if forced else int(probabilities.argmax())
            cross = [layer[0, :, -1, :] for layer in decoded.cross_attention or []]  # (H, S)
            records.append(TraceStep(step, list(prefix), probabilities, token, forced, cross))
            if token == eos_id:
                break
            prefix.append(token)
    return records


@dataclass(frozen=True)
class BeamSearchResult:
    """The best hypothesis (ids without <sos>/<eos>) and every finished one, best first."""

    tokens: list[int]
    score: float
    hypotheses: list[tuple[list[int], float]]


def _length_normalised(log_probability: float, length: int, length_penalty: float) -> float:
    """score = log P / ((5 + length) / 6)^alpha (Wu et al. 2016); alpha = 0 keeps log P."""
    if length_penalty == 0.0:
        return log_probability
    return log_probability / ((5 + length) / 6) ** length_penalty


def beam_search(
    model: nn.Module,
    source_ids: Sequence[int] | Tensor,
    *,
    beam_width: int = 4,
    max_len: int | None = None,
    length_penalty: float = 0.0,
    sos_id: int = SOS_ID,
    eos_id: int = EOS_ID,
) -> BeamSearchResult:
    """Beam search for one source: keep the ``beam_width`` best prefixes at every step.

    A prefix's score is the sum of the log-probabilities of its words (with <eos>), divided by
    the length penalty ((5 + length) / 6)^length_penalty. At every step the ``2 * beam_width``
    best continuations are ranked: one that writes <eos> within the top ``beam_width`` is a
    finished sentence, and the ``beam_width`` best that do not stay live (so finished sentences
    never take a live prefix's place). The search stops when no live prefix can still beat the
    best finished sentence (exact without a length penalty, where a prefix's log P can only
    fall; with one, once ``beam_width`` sentences are finished and the best of them leads every
    live prefix), or after ``max_len`` words. Width 1 is greedy decoding.
    """
    if beam_width < 1:
        raise ValueError(f"beam_width={beam_width} must be >= 1")
    source = torch.as_tensor(list(_as_source_list(torch.as_tensor(source_ids))[0]))[None]
    limit = max_len if max_len is not None else default_max_len(model, source.size(1))
    live: list[tuple[list[int], float]] = [([sos_id], 0.0)]  # (prefix with <sos>, log P)
    finished: list[tuple[list[int], float, float]] = []  # (words, log P, score)
    with inference_mode(model):
        encoded = model.encode(source)
        for _ in range(limit):
            prefixes = torch.tensor([prefix for prefix, _ in live])  # (K, step)
            rows = torch.zeros(len(live), dtype=torch.long)
            logits = model.decode(prefixes, select_rows(encoded, rows)).logits[:, -1]  # (K, V)
            log_probs = torch.log_softmax(logits.float(), dim=-1)  # (K, V)
            totals = torch.tensor([score for _, score in live])[:, None] + log_probs
            best = totals.flatten().topk(min(2 * beam_width, totals.numel()))
            next_live: list[tuple[list[int], float]] = []
            for rank, (total, flat) in enumerate(
                zip(best.values.tolist(), best.indices.tolist(), strict=True)
            ):
                beam, token = divmod(flat, log_probs.size(1))
                prefix = live[beam][0] + [token]
                if token == eos_id:
                    if rank < beam_width:  # an <eos> outside the top k is not a contender
                        words = prefix[1:-1]
                        score = _length_normalised(total, len(words) + 1, length_penalty)
                        finished.append((words, total, score))
                elif len(next_live) < beam_width:
                    next_live.append((prefix, total))
            live = next_live
            if not live:
                break
            if not finished:
                continue
            best_finished = max(score for *_, score in finished)
            best_live = max(
                _length_normalised(total, len(prefix) - 1, length_penalty) for prefix, total in live
            )
            if best_finished >= best_live and (
                length_penalty == 0.0 or len(finished) >= beam_width
            ):
                break  # no live prefix can still win (exactly so without a length penalty)
        for prefix, total in live:  # cut off by max_len: candidates without <eos>
            words = prefix[1:]
            finished.append((words, total, _length_normalised(total, len(words), length_penalty)))
    finished.sort(key=lambda item: -item[2])
    hypotheses = [(words, score) for words, _, score in finished[:beam_width]]
    return BeamSearchResult(tokens=hypotheses[0][0], score=hypotheses[0][1], hypotheses=hypotheses)


def exact_match(
    model: nn.Module, data: EncodedPairs, *, batch_size: int = 512, max_len: int | None = None
) -> float:
    """Share of pairs whose greedy translation equals the reference word for word."""
    if len(data) == 0:
        raise ValueError("exact_match needs at least one pair")
    outputs = greedy_decode_batch(model, data.source, batch_size=batch_size, max_len=max_len)
    correct = sum(
        output == target[1:-1] for output, target in zip(outputs, data.target, strict=True)
    )
    return correct / len(data)


def token_accuracy(
    model: nn.Module, data: EncodedPairs, *, batch_size: int = 512, max_len: int | None = None
) -> float:
    """Share of reference words reproduced at their position by greedy decoding (a missing or
    extra word counts as wrong; <eos> counts as a word)."""
    if len(data) == 0:
        raise ValueError("token_accuracy needs at least one pair")
    outputs = greedy_decode_batch(model, data.source, batch_size=batch_size, max_len=max_len)
    correct = total = 0
    for output, target in zip(outputs, data.target, strict=True):
        reference = target[1:]  # words + <eos>
        hypothesis = [*output, EOS_ID]
        correct += sum(a == b for a, b in zip(hypothesis, reference, strict=False))
        total += len(reference)
    return correct / total


def sequence_log_probability(
    model: nn.Module, source_ids: Sequence[int], target_ids: Sequence[int]
) -> float:
    """log P(target <eos> | source) under teacher forcing: sum_t log P(y_t | y_<t, x)."""
    with inference_mode(model):
        source = torch.tensor([list(source_ids)])
        decoder_input = torch.tensor([[SOS_ID, *target_ids]])
        labels = torch.tensor([[*target_ids, EOS_ID]])
        log_probs = torch.log_softmax(model(source, decoder_input).logits.float(), dim=-1)
        return float(log_probs.gather(-1, labels[..., None]).sum())
