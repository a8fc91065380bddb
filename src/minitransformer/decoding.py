"""Inference: from <sos> to <eos>, one word at a time.

At inference there is no gold target to feed the decoder. It starts from ``<sos>``, predicts a
probability for every target word, appends a choice, and runs again on the longer prefix, until
it writes ``<eos>`` or reaches a length limit:

    y_t = argmax_v P(v | y_<t, x)                      (greedy)
    keep the k prefixes with the highest sum_t log P(y_t | y_<t, x)    (beam search, width k)

The encoder runs once per source. Without a cache the decoder re-reads the whole prefix at
every step: step t recomputes the keys and values of all t earlier positions, so its cost grows
with t. With the key/value cache (``Transformer.start_cache`` / ``decode_step``) each step feeds
only the word just chosen; its queries read the keys and values kept from earlier steps, and the
cross-attention keys and values of the memory are computed once. ``greedy_decode``,
``greedy_decode_batch`` and ``beam_search`` use the cache when the model has one
(``use_cache=True``, the default) and give the same words as the uncached loop
(``use_cache=False``); ``trace_greedy`` keeps the plain loop, which is the easiest to read.

Steps are numbered from 1, as in the notes: step 1 predicts the first target word ("I"),
step 2 the second ("went"). ``force={1: you_id}`` makes step 1 output "you" whatever the model
prefers, and decoding continues from there.

Every function works with any model that has ``encode(source_ids)`` and
``decode(target_ids, encoded)`` like ``minitransformer.Transformer`` (the GRU baselines too);
a model without ``start_cache`` and ``decode_step`` always runs the uncached loop.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from minitransformer.data import EncodedPairs
from minitransformer.tokens import EOS_ID, PAD_ID, SOS_ID, _check_ids, pad_sequences


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


def _cached(model: nn.Module, use_cache: object) -> bool:
    """Whether to decode with a key/value cache: asked for, and the model has one."""
    if not isinstance(use_cache, bool):
        raise TypeError(f"use_cache must be True or False, got {type(use_cache).__name__}")
    return use_cache and callable(getattr(model, "decode_step", None))


def _next_word_logits(
    model: nn.Module, prefix: Tensor, encoded: object, cache: object | None
) -> tuple[Tensor, object | None]:
    """The logits (B, V) of the word after ``prefix`` (B, t), and the cache for the next step.

    Without a cache the decoder re-reads the whole prefix (t positions); with one it reads
    only the prefix's last word and the keys and values kept from the steps before."""
    if cache is None:
        return model.decode(prefix, encoded).logits[:, -1], None
    decoded, cache = model.decode_step(prefix[:, -1:], cache)  # (B, 1, V)
    return decoded.logits[:, -1], cache


def _check_model(model: object) -> None:
    if not (callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))):
        raise TypeError(
            "model must have encode(source_ids) and decode(target_ids, encoded) methods "
            f"(a Transformer or GRUSeq2Seq), got {type(model).__name__}"
        )


def _check_int(name: str, value: object, *, low: int = 1, none: bool = False) -> None:
    if value is None and none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name}={value} must be >= {low}")


def _check_max_len(model: nn.Module, max_len: object) -> None:
    """None, or a positive int the model's positional table can hold: the decoder input of the
    last step is <sos> plus max_len - 1 words, so max_len <= config.max_len."""
    _check_int("max_len", max_len, none=True)
    table = getattr(getattr(model, "config", None), "max_len", None)
    if max_len is not None and isinstance(table, int) and max_len > table:
        raise ValueError(
            f"max_len={max_len} is more words than the model can generate: its positional "
            f"table holds config.max_len={table} positions (max_len <= {table})"
        )


def _check_special_ids(model: nn.Module, **ids: int) -> None:
    vocab_size = getattr(getattr(model, "config", None), "tgt_vocab_size", None)
    for name, value in ids.items():
        _check_int(name, value, low=0)
        if vocab_size is not None and value >= vocab_size:
            raise ValueError(
                f"{name}={value} is outside the target vocabulary (0..{vocab_size - 1})"
            )


def _strip_padding(row: list[int], pad_id: int) -> list[int]:
    while row and row[-1] == pad_id:
        row.pop()
    return row


def _as_source_list(
    sources: Sequence[Sequence[int]] | Tensor, *, name: str = "sources", pad_id: int = PAD_ID
) -> list[list[int]]:
    """Id lists from id lists or a padded (B, S) tensor (its trailing padding removed, so that a
    sentence's length does not depend on the longest sentence it was padded with)."""
    if isinstance(sources, Tensor):
        if sources.dtype.is_floating_point or sources.dtype == torch.bool:
            raise TypeError(f"{name} must hold integer token ids, got dtype {sources.dtype}")
        if sources.dim() == 1:
            sources = sources.unsqueeze(0)
        if sources.dim() != 2:
            raise ValueError(f"{name} must have shape (B, S), got {tuple(sources.shape)}")
        rows = [_strip_padding(row.tolist(), pad_id) for row in sources]
    else:
        if isinstance(sources, (str, bytes, bytearray)) or not isinstance(sources, Sequence):
            raise TypeError(
                f"{name} must be a list of id lists or a (B, S) tensor, got "
                f"{type(sources).__name__}"
            )
        rows = [_check_ids(f"{name}[{k}]", source) for k, source in enumerate(sources)]
    for k, row in enumerate(rows):
        if not row:
            raise ValueError(f"{name}[{k}] is empty: every source needs at least one token")
    return rows


def _one_source(source_ids: Sequence[int] | Tensor) -> Tensor:
    """source_ids: a list of ids or a 1-D (or (1, S)) tensor -> a (1, S) LongTensor."""
    if isinstance(source_ids, Tensor) and source_ids.dim() == 2 and source_ids.size(0) != 1:
        raise ValueError(
            f"source_ids must be one sentence, got a batch of shape {tuple(source_ids.shape)} "
            "(use greedy_decode_batch)"
        )
    if isinstance(source_ids, Tensor) and source_ids.dim() == 2:
        source_ids = source_ids[0]
    ids = _check_ids("source_ids", source_ids)
    if not ids:
        raise ValueError("source_ids is empty: the source needs at least one token")
    return torch.tensor([ids], dtype=torch.long)  # (1, S)


def _check_force(force: Mapping[int, int] | None, model: nn.Module | None = None) -> dict[int, int]:
    if force is not None and not isinstance(force, Mapping):
        raise TypeError(
            f"force must be a dict {{step: token_id}} or None, got {type(force).__name__}"
        )
    force = dict(force or {})
    vocab_size = getattr(getattr(model, "config", None), "tgt_vocab_size", None)
    for step, token in force.items():
        if isinstance(step, bool) or not isinstance(step, numbers.Integral) or step < 1:
            raise ValueError(f"force steps are numbered from 1, got {step!r}")
        if isinstance(token, bool) or not isinstance(token, numbers.Integral):
            raise TypeError(f"force[{step}] must be an int token id, got {type(token).__name__}")
        if token < 0 or (vocab_size is not None and token >= vocab_size):
            raise ValueError(f"force[{step}]={token} is not a target token id")
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
    use_cache: bool = True,
) -> list[list[int]]:
    """Greedy decoding of many sources at once.

    sources: id lists (no <sos>/<eos>) or a padded LongTensor (B, S).
    Returns one id list per source: the generated words, without <sos> and <eos>. Each row
    stops at its own <eos> (finished rows leave the batch); ``max_len`` bounds the number of
    generated words (default ``default_max_len`` of *that* sentence's length, so a sentence
    decodes the same whatever its batch-mates). ``use_cache=False`` re-reads the whole prefix
    at every step instead of using the model's key/value cache (same words, slower).
    """
    _check_model(model)
    cached = _cached(model, use_cache)
    _check_max_len(model, max_len)
    _check_int("batch_size", batch_size)
    _check_special_ids(model, sos_id=sos_id, eos_id=eos_id)
    _check_int("pad_id", pad_id, low=0)
    force = _check_force(force, model)
    source_lists = _as_source_list(sources, pad_id=pad_id)
    results: list[list[int]] = [[] for _ in source_lists]
    # Sort by length so that each batch holds sentences of similar length (less padding).
    order = sorted(range(len(source_lists)), key=lambda k: len(source_lists[k]))
    with inference_mode(model):
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            source = pad_sequences([source_lists[k] for k in chunk], pad_id=pad_id)  # (B, S)
            limits = [
                max_len if max_len is not None else default_max_len(model, len(source_lists[k]))
                for k in chunk
            ]
            for row, tokens in zip(
                chunk, _greedy(model, source, limits, force, sos_id, eos_id, cached), strict=True
            ):
                results[row] = tokens
    return results


def _greedy(
    model: nn.Module,
    source: Tensor,
    limits: list[int],
    force: dict[int, int],
    sos_id: int,
    eos_id: int,
    use_cache: bool = False,
) -> list[list[int]]:
    """Greedy decoding of a padded batch; row b writes at most ``limits[b]`` words."""
    B = source.size(0)
    encoded = model.encode(source)
    cache = model.start_cache(encoded) if use_cache else None  # cross K, V computed once
    prefix = torch.full((B, 1), sos_id, dtype=torch.long)  # (B, 1): <sos>
    active = torch.arange(B)  # rows still generating
    outputs: list[list[int]] = [[] for _ in range(B)]
    for step in range(1, max(limits) + 1):
        logits, cache = _next_word_logits(model, prefix, encoded, cache)  # (B_active, V)
        if step in force:
            chosen = torch.full((prefix.size(0),), force[step], dtype=torch.long)
        else:
            chosen = logits.argmax(dim=-1)  # (B_active,)
        still_going = []
        for position, (row, token) in enumerate(zip(active.tolist(), chosen.tolist(), strict=True)):
            if token == eos_id:
                continue
            outputs[row].append(token)
            if len(outputs[row]) < limits[row]:
                still_going.append(position)
        if not still_going:
            break
        keep = torch.tensor(still_going, dtype=torch.long)
        prefix = torch.cat([prefix, chosen.unsqueeze(1)], dim=1).index_select(0, keep)
        if len(still_going) < len(active):
            encoded = select_rows(encoded, keep)
            cache = cache.select_rows(keep) if cache is not None else None
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
    use_cache: bool = True,
) -> list[int]:
    """Greedy decoding of one source (ids, no <sos>/<eos>); returns the generated ids without
    <sos> and <eos>. ``force={step: token_id}`` overrides the choice at those steps;
    ``use_cache=False`` decodes without the key/value cache."""
    source = _one_source(source_ids)
    return greedy_decode_batch(
        model, [source[0].tolist()], max_len=max_len, force=force, sos_id=sos_id, eos_id=eos_id,
        use_cache=use_cache,
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
    _check_model(model)
    source = _one_source(source_ids)  # (1, S)
    _check_max_len(model, max_len)
    _check_special_ids(model, sos_id=sos_id, eos_id=eos_id)
    force = _check_force(force, model)
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


class Hypothesis(tuple):
    """One sentence of a beam search: a ``(tokens, score)`` pair (so ``for words, score in
    result.hypotheses`` works) that also carries

    * ``tokens``: the words, without <sos> and <eos>;
    * ``score``: log P / lp(|Y|) (equal to ``log_probability`` when the length penalty is 0);
    * ``log_probability``: sum_t log P(y_t | y_<t, x), with the <eos> step if ``finished``;
    * ``finished``: True if the sentence ended by writing <eos>; False if the search reached its
      length limit first (then ``tokens`` has exactly ``max_len`` words);
    * ``length``: |Y|, the number of scored steps (words, plus one for <eos> if finished).
    """

    def __new__(
        cls, tokens: list[int], score: float, *, finished: bool, log_probability: float
    ) -> Hypothesis:
        self = super().__new__(cls, (list(tokens), float(score)))
        self.finished = bool(finished)
        self.log_probability = float(log_probability)
        return self

    @property
    def tokens(self) -> list[int]:
        return self[0]

    @property
    def score(self) -> float:
        return self[1]

    @property
    def length(self) -> int:
        return len(self.tokens) + int(self.finished)

    def __repr__(self) -> str:
        state = "finished" if self.finished else "length limit"
        return f"Hypothesis({self.tokens}, score={self.score:.4f}, {state})"

    def __reduce__(self):  # pickling / copying keep the flags
        return (_make_hypothesis, (self.tokens, self.score, self.finished, self.log_probability))


def _make_hypothesis(tokens, score, finished, log_probability) -> Hypothesis:
    return Hypothesis(tokens, score, finished=finished, log_probability=log_probability)


@dataclass(frozen=True)
class BeamSearchResult:
    """The best hypothesis (ids without <sos>/<eos>) and every returned one, best first.

    Every hypothesis is a real sentence (``finished``, it wrote <eos>) or stopped at the length
    limit (``finished=False``); unfinished prefixes of a search that stopped early are never
    returned.
    """

    tokens: list[int]
    score: float
    hypotheses: list[Hypothesis]

    @property
    def finished(self) -> bool:
        """Whether the best hypothesis ended with <eos>."""
        return self.hypotheses[0].finished


def gnmt_length_penalty(length: int, alpha: float) -> float:
    """lp(Y) = ((5 + |Y|) / 6)^alpha (Wu et al. 2016); a hypothesis scores log P(Y) / lp(Y).

    alpha = 0 gives 1 (plain log-probability); larger alpha favours longer sentences."""
    if isinstance(length, bool) or not isinstance(length, numbers.Integral):
        raise TypeError(f"length must be an int (words in the hypothesis), got {length!r}")
    if length < 0:
        raise ValueError(f"length={length} must be >= 0")
    return ((5 + length) / 6) ** _check_length_penalty(alpha)


def _length_normalised(log_probability: float, length: int, length_penalty: float) -> float:
    """score = log P / ((5 + length) / 6)^alpha (Wu et al. 2016); alpha = 0 keeps log P."""
    if length_penalty == 0.0:
        return log_probability
    return log_probability / gnmt_length_penalty(length, length_penalty)


def _check_length_penalty(length_penalty: object) -> float:
    if isinstance(length_penalty, bool) or not isinstance(length_penalty, numbers.Real):
        raise TypeError(
            f"length_penalty must be a number (alpha >= 0), got {type(length_penalty).__name__}"
        )
    if not math.isfinite(length_penalty) or length_penalty < 0:
        raise ValueError(f"length_penalty={length_penalty!r} must be a finite number >= 0")
    return float(length_penalty)


def beam_search(
    model: nn.Module,
    source_ids: Sequence[int] | Tensor,
    *,
    beam_width: int = 4,
    max_len: int | None = None,
    length_penalty: float = 0.0,
    sos_id: int = SOS_ID,
    eos_id: int = EOS_ID,
    use_cache: bool = True,
) -> BeamSearchResult:
    """Beam search for one source: keep the ``beam_width`` best prefixes at every step.

    A sentence's score is the sum of the log-probabilities of its words and <eos>, divided by
    GNMT's length penalty lp(Y) = ((5 + |Y|) / 6)^length_penalty (Wu et al. 2016), |Y| counting
    <eos>. At every step the ``2 * beam_width`` best continuations are ranked: one that writes
    <eos> within the top ``beam_width`` is a finished sentence, and the ``beam_width`` best that
    do not stay live (so finished sentences never take a live prefix's place). The search stops
    when no live prefix can still beat the best finished sentence (exact without a length
    penalty, where a prefix's log P can only fall; with one, once ``beam_width`` sentences are
    finished and the best of them leads every live prefix); live prefixes are then dropped. If
    it reaches ``max_len`` words instead, the live prefixes are returned too, marked
    ``finished=False`` and scored without <eos>. Width 1 is greedy decoding.

    With the key/value cache (``use_cache=True``, the default, for a model that has one) each
    step feeds only every live prefix's last word; when the next beams are chosen, each takes
    the cache rows of the prefix it extends (``cache.select_rows(parents)``).
    """
    _check_model(model)
    cached = _cached(model, use_cache)
    _check_int("beam_width", beam_width)
    _check_max_len(model, max_len)
    length_penalty = _check_length_penalty(length_penalty)
    _check_special_ids(model, sos_id=sos_id, eos_id=eos_id)
    source = _one_source(source_ids)  # (1, S)
    limit = max_len if max_len is not None else default_max_len(model, source.size(1))
    live: list[tuple[list[int], float]] = [([sos_id], 0.0)]  # (prefix with <sos>, log P)
    finished: list[Hypothesis] = []
    reached_limit = True
    with inference_mode(model):
        encoded = model.encode(source)
        cache = model.start_cache(encoded) if cached else None  # one row: the <sos> prefix
        for _ in range(limit):
            prefixes = torch.tensor([prefix for prefix, _ in live])  # (K, step)
            rows = torch.zeros(len(live), dtype=torch.long)
            logits, cache = _next_word_logits(
                model, prefixes, select_rows(encoded, rows), cache
            )  # (K, V)
            log_probs = torch.log_softmax(logits.double(), dim=-1)  # (K, V)
            totals = torch.tensor([score for _, score in live], dtype=torch.float64)[:, None]
            totals = totals + log_probs  # (K, V): log P of every one-word continuation
            best = totals.flatten().topk(min(2 * beam_width, totals.numel()))
            next_live: list[tuple[list[int], float]] = []
            parents: list[int] = []  # the live prefix each of next_live extends
            for rank, (total, flat) in enumerate(
                zip(best.values.tolist(), best.indices.tolist(), strict=True)
            ):
                beam, token = divmod(flat, log_probs.size(1))
                prefix = live[beam][0] + [token]
                if token == eos_id:
                    if rank < beam_width:  # an <eos> outside the top k is not a contender
                        words = prefix[1:-1]
                        score = _length_normalised(total, len(words) + 1, length_penalty)
                        finished.append(
                            Hypothesis(words, score, finished=True, log_probability=total)
                        )
                elif len(next_live) < beam_width:
                    next_live.append((prefix, total))
                    parents.append(beam)
            live = next_live
            if not live:
                reached_limit = False
                break
            if cache is not None:  # each new beam continues from its parent's keys and values
                cache = cache.select_rows(torch.tensor(parents, dtype=torch.long))
            if not finished:
                continue
            best_finished = max(hypothesis.score for hypothesis in finished)
            best_live = max(
                _length_normalised(total, len(prefix) - 1, length_penalty) for prefix, total in live
            )
            if best_finished >= best_live and (
                length_penalty == 0.0 or len(finished) >= beam_width
            ):
                reached_limit = False
                break  # no live prefix can still win (exactly so without a length penalty)
    if reached_limit:  # cut off by max_len: candidates without <eos>, marked as such
        for prefix, total in live:
            words = prefix[1:]
            score = _length_normalised(total, len(words), length_penalty)
            finished.append(Hypothesis(words, score, finished=False, log_probability=total))
    finished.sort(key=lambda hypothesis: -hypothesis.score)
    hypotheses = finished[:beam_width]
    return BeamSearchResult(tokens=hypotheses[0].tokens, score=hypotheses[0].score,
                            hypotheses=hypotheses)  # fmt: skip


def _check_data(data: object) -> None:
    if not isinstance(data, EncodedPairs):
        raise TypeError(
            f"data must be EncodedPairs (Corpus.encoded() or encode_pairs()), got "
            f"{type(data).__name__}"
        )


def best_match(
    output: Sequence[object], references: Sequence[Sequence[object]], end: object = EOS_ID
) -> tuple[bool, int, int]:
    """``output`` against the one of ``references`` it matches best (the largest share of
    positions with the same word, ``end`` appended to both so that the end of the sentence
    counts as a word): (equal to it, positions matched, its length with ``end``). Word ids or
    words alike; exact match and word accuracy are sums of these."""
    if isinstance(references, (str, bytes)) or not isinstance(references, Sequence):
        raise TypeError(f"references must be a list of sentences, got {type(references).__name__}")
    if not references:
        raise ValueError("references must hold at least one right sentence")
    hypothesis = [*output, end]
    scored = []
    for right in references:
        reference = [*right, end]
        hits = sum(a == b for a, b in zip(hypothesis, reference, strict=False))
        scored.append((hypothesis == reference, hits / len(reference), hits, len(reference)))
    same, _, hits, length = max(scored)
    return same, hits, length


def output_scores(outputs: Sequence[Sequence[int]], data: EncodedPairs) -> tuple[float, float]:
    """(exact match, word accuracy) of ``outputs`` (one list of word ids per pair of ``data``,
    without <sos>/<eos>), as :func:`exact_match` and :func:`token_accuracy` define them."""
    _check_data(data)
    if len(outputs) != len(data) or len(data) == 0:
        raise ValueError(f"{len(outputs)} outputs for {len(data)} pairs (need one per pair, >= 1)")
    exact = correct = total = 0
    for k, output in enumerate(outputs):
        same, hits, length = best_match(output, data.right_targets(k))
        exact, correct, total = exact + same, correct + hits, total + length
    return exact / len(data), correct / total


def exact_match(
    model: nn.Module, data: EncodedPairs, *, batch_size: int = 512, max_len: int | None = None
) -> float:
    """Share of pairs whose greedy translation equals a right translation word for word (the
    reference, or any of ``data.references``)."""
    _check_data(data)
    if len(data) == 0:
        raise ValueError("exact_match needs at least one pair")
    outputs = greedy_decode_batch(model, data.source, batch_size=batch_size, max_len=max_len)
    return output_scores(outputs, data)[0]


def token_accuracy(
    model: nn.Module, data: EncodedPairs, *, batch_size: int = 512, max_len: int | None = None
) -> float:
    """Share of reference words reproduced at their position by greedy decoding (a missing or
    extra word counts as wrong; <eos> counts as a word). With several right translations
    (``data.references``) each output is scored against the one it matches best."""
    _check_data(data)
    if len(data) == 0:
        raise ValueError("token_accuracy needs at least one pair")
    outputs = greedy_decode_batch(model, data.source, batch_size=batch_size, max_len=max_len)
    return output_scores(outputs, data)[1]


def sequence_log_probability(
    model: nn.Module,
    source_ids: Sequence[int],
    target_ids: Sequence[int],
    *,
    finished: bool = True,
    eos_id: int = EOS_ID,
) -> float:
    """log P(target <eos> | source) under teacher forcing: sum_t log P(y_t | y_<t, x).

    ``finished=False`` leaves out the <eos> step: the log-probability of a hypothesis that beam
    search stopped at its length limit."""
    _check_model(model)
    source = _one_source(source_ids)  # (1, S)
    target = _check_ids("target_ids", target_ids)
    if not finished and not target:
        raise ValueError("an unfinished hypothesis needs at least one word")
    with inference_mode(model):
        decoder_input = torch.tensor([[SOS_ID, *target]])
        labels = torch.tensor([[*target, eos_id]])
        log_probs = torch.log_softmax(model(source, decoder_input).logits.double(), dim=-1)
        per_step = log_probs.gather(-1, labels[..., None])[0, :, 0]  # (T,)
        if not finished:
            per_step = per_step[:-1]
        return float(per_step.sum())


def hypothesis_score(
    model: nn.Module,
    source_ids: Sequence[int],
    hypothesis: Hypothesis,
    *,
    length_penalty: float = 0.0,
    eos_id: int = EOS_ID,
) -> float:
    """A beam hypothesis's score recomputed from scratch (one teacher-forced pass):
    log P(Y | x) / lp(|Y|), with the <eos> step only if the hypothesis is finished."""
    if not isinstance(hypothesis, Hypothesis):
        raise TypeError(f"hypothesis must be a Hypothesis, got {type(hypothesis).__name__}")
    length_penalty = _check_length_penalty(length_penalty)
    log_p = sequence_log_probability(
        model, source_ids, hypothesis.tokens, finished=hypothesis.finished, eos_id=eos_id
    )
    return _length_normalised(log_p, hypothesis.length, length_penalty)
