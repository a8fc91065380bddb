"""The notes' typhoon example as a toy: a month of sea temperatures -> typhoon yes/no per day.

The notes (§4) say that a Transformer handles any sequence-to-sequence task, for example a
month of sea temperatures off the Philippines -> whether a typhoon forms on each of the next 7
days. Real data cannot ship with the book, so this module makes synthetic data with a known
rule, and wraps the package's ``Transformer`` so that its encoder reads numbers instead of
words.

The synthetic sea. Each example is 30 + 7 daily sea-surface temperatures (degrees C): a level
drawn per month, a slow AR(1) drift, day-to-day noise and an occasional warm spell. Only the
first 30 days are shown to the model.

The rule. A typhoon forms on future day k (k = 1..7, i.e. day 30 + k) when the sea was warm
a week or more earlier: the mean temperature of days 30 + k - 10 .. 30 + k - 8 (three days,
all of them inside the observed month) is above ``THRESHOLD``. Each label is then flipped with
probability ``label_noise``, so no model can beat about 1 - label_noise.

Numbers through the word pipeline. The package's batch sampler and decoders move integer ids,
so a temperature travels as an integer number of hundredths of a degree (28.31 C -> 2831;
never 0, which is <pad>). ``TyphoonTransformer`` turns those ids back into degrees, scales
them, and embeds each day with a linear layer in place of the word embedding; everything after
that (positions, N encoder layers, the decoder over the words "no"/"yes") is the package's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from minitransformer.config import TransformerConfig
from minitransformer.data import EncodedPairs
from minitransformer.decoding import greedy_decode_batch
from minitransformer.masks import expand_padding_mask
from minitransformer.model import EncoderOutput, Transformer
from minitransformer.tokens import EOS_ID, SOS_ID, Vocab

DAYS_IN = 30  # S: a month of daily sea temperatures
DAYS_OUT = 7  # T: one yes/no per day of the next week
THRESHOLD = 28.6  # degrees C: a warm enough 3-day window forms a typhoon
LAG = (8, 10)  # the window is 8..10 days before the day it forecasts
CENTI = 100  # a temperature travels as hundredths of a degree
MEAN, SCALE = 28.0, 0.8  # standardisation of the encoder input: (t - MEAN) / SCALE

LABEL_VOCAB = Vocab(["no", "yes"])
NO_ID, YES_ID = LABEL_VOCAB.id("no"), LABEL_VOCAB.id("yes")


@dataclass(frozen=True)
class TyphoonData:
    """temperatures: (N, 30) degrees C; labels: (N, 7) bool, True = typhoon that day;
    clean_labels: the labels before noise (what the rule says)."""

    temperatures: np.ndarray
    labels: np.ndarray
    clean_labels: np.ndarray

    def __len__(self) -> int:
        return len(self.temperatures)

    @property
    def positive_rate(self) -> float:
        return float(self.labels.mean())

    def encoded(self) -> EncodedPairs:
        """Source: temperatures as ids (hundredths of a degree); target: <sos> no/yes x7 <eos>."""
        source = np.rint(self.temperatures * CENTI).astype(np.int64).tolist()
        words = np.where(self.labels, YES_ID, NO_ID).tolist()
        return EncodedPairs(source=source, target=[[SOS_ID, *row, EOS_ID] for row in words])


def window_means(series: np.ndarray) -> np.ndarray:
    """(N, 37) full series -> (N, 7): the mean of the 3-day window the rule reads for each
    future day k, days 30 + k - 10 .. 30 + k - 8 (1-based), all inside the observed month."""
    first, last = LAG[1], LAG[0]
    columns = []
    for k in range(1, DAYS_OUT + 1):
        start = DAYS_IN + k - first - 1  # 0-based index of day 30 + k - 10
        columns.append(series[:, start : start + first - last + 1].mean(axis=1))
    return np.stack(columns, axis=1)


def make_typhoon_data(
    num_examples: int, *, label_noise: float = 0.05, seed: int = 0
) -> TyphoonData:
    """``num_examples`` synthetic months with their 7 next-day typhoon labels."""
    if num_examples < 1:
        raise ValueError(f"num_examples={num_examples} must be positive")
    if not 0.0 <= label_noise < 0.5:
        raise ValueError(f"label_noise={label_noise} must be in [0, 0.5)")
    rng = np.random.default_rng(seed)
    length = DAYS_IN + DAYS_OUT
    level = rng.normal(27.6, 0.3, size=(num_examples, 1))
    drift = np.zeros((num_examples, length))
    for day in range(1, length):  # AR(1): slow, persistent anomalies
        drift[:, day] = 0.8 * drift[:, day - 1] + rng.normal(0.0, 0.12, num_examples)
    days = np.arange(length)
    warm_spells = np.zeros((num_examples, length))
    for _ in range(4):  # up to four warm spells of a few days, at random dates
        centre = rng.uniform(0, length, size=(num_examples, 1))
        height = rng.binomial(1, 0.7, (num_examples, 1)) * rng.uniform(0.6, 2.0, (num_examples, 1))
        warm_spells += height * np.exp(-0.5 * ((days - centre) / 2.0) ** 2)
    noise = rng.normal(0.0, 0.15, size=(num_examples, length))
    series = np.round(level + drift + warm_spells + noise, 2)
    clean = window_means(series) > THRESHOLD
    flips = rng.random(clean.shape) < label_noise
    return TyphoonData(series[:, :DAYS_IN], clean ^ flips, clean)


class TyphoonTransformer(Transformer):
    """The package's ``Transformer`` with a numeric encoder input.

    Only ``encode`` changes, so ``model(source_ids, target_ids)``, ``decode``, ``train``,
    ``greedy_decode_batch`` and ``return_attention=True`` work unchanged: source_ids (B, S) are
    temperatures in hundredths of a degree, target_ids (B, T) are <sos>/no/yes ids. (The
    inherited source word embedding is unused.)
    """

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__(config)
        self.value_embedding = nn.Linear(1, config.d_model)  # one temperature -> D

    def encode(self, source_ids: Tensor, *, return_attention: bool = False) -> EncoderOutput:
        B, S = source_ids.shape
        degrees = source_ids.float() / CENTI  # (B, S)
        values = ((degrees - MEAN) / SCALE).unsqueeze(-1)  # (B, S, 1)
        x = self.source_positions(self.value_embedding(values))  # (B, S, D)
        source_mask = torch.ones(B, S, dtype=torch.bool)  # every day is real
        memory, maps = self.encoder(
            x, expand_padding_mask(source_mask), return_attention=return_attention
        )
        return EncoderOutput(memory, source_mask, maps)


def typhoon_config(**overrides) -> TransformerConfig:
    """A small model: D 32, H 2, N 1, F 64 over the 2-word label vocabulary."""
    values = dict(
        src_vocab_size=len(LABEL_VOCAB),  # unused: the encoder reads numbers
        tgt_vocab_size=len(LABEL_VOCAB),
        d_model=32,
        num_heads=2,
        num_layers=1,
        d_ff=64,
        dropout=0.0,
        max_len=DAYS_IN,
    )
    return TransformerConfig(**{**values, **overrides})


def predict(model: nn.Module, data: TyphoonData) -> np.ndarray:
    """(N, 7) bool: greedy decoding of 7 words; anything but "yes" counts as no."""
    outputs = greedy_decode_batch(model, data.encoded().source, max_len=DAYS_OUT)
    padded = [(row + [NO_ID] * DAYS_OUT)[:DAYS_OUT] for row in outputs]
    return np.array(padded) == YES_ID


def probabilities(model: nn.Module, data: TyphoonData) -> np.ndarray:
    """(N, 7) P(yes) at each day with the gold previous days fed in (teacher forcing)."""
    encoded = data.encoded()
    source = torch.tensor(encoded.source)
    decoder_input = torch.tensor(encoded.target)[:, :-2]  # <sos> + the first 6 days
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(source, decoder_input).logits  # (N, 7, V)
    model.train(was_training)
    return torch.softmax(logits, dim=-1)[..., YES_ID].numpy()


@dataclass(frozen=True)
class Scores:
    """Day-level scores of yes/no predictions against labels."""

    accuracy: float  # share of the N x 7 days right
    precision: float  # of the predicted typhoon days, the share that had one (nan if none)
    recall: float  # of the typhoon days, the share predicted
    f1: float  # harmonic mean of precision and recall (0 if either is 0)


def score(predicted: np.ndarray, labels: np.ndarray) -> Scores:
    """Accuracy, precision, recall and F1 of the "yes" class over every day."""
    predicted, labels = np.asarray(predicted, bool), np.asarray(labels, bool)
    if predicted.shape != labels.shape:
        raise ValueError(f"shapes differ: {predicted.shape} vs {labels.shape}")
    hits = float((predicted & labels).sum())
    precision = hits / predicted.sum() if predicted.any() else float("nan")
    recall = hits / labels.sum() if labels.any() else float("nan")
    both = hits > 0
    f1 = 2 * precision * recall / (precision + recall) if both else 0.0
    return Scores(float((predicted == labels).mean()), precision, recall, f1)


def always_no(data: TyphoonData) -> np.ndarray:
    """The laziest forecast: never a typhoon."""
    return np.zeros_like(data.labels)


def fit_recent_warmth_rule(data: TyphoonData, window: int = 7) -> float:
    """A sensible rule without the model: "typhoon every day next week if the mean of the last
    ``window`` days is above t", with t chosen to maximise day accuracy on ``data``."""
    recent = data.temperatures[:, -window:].mean(axis=1)
    candidates = np.unique(np.round(recent, 2))
    accuracies = [((recent > t)[:, None] == data.labels).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracies))])


def recent_warmth_rule(data: TyphoonData, threshold: float, window: int = 7) -> np.ndarray:
    recent = data.temperatures[:, -window:].mean(axis=1)
    return np.repeat((recent > threshold)[:, None], DAYS_OUT, axis=1)


def true_rule(data: TyphoonData) -> np.ndarray:
    """The rule that made the labels, applied to the observed month: the ceiling any model can
    reach (it misses only the flipped labels)."""
    full = np.concatenate([data.temperatures, np.zeros((len(data), DAYS_OUT))], axis=1)
    return window_means(full) > THRESHOLD


@dataclass
class TyphoonRun:
    """A trained model, its training history, and P(yes) on probe months during training."""

    model: TyphoonTransformer
    history: object  # minitransformer.training.TrainingHistory
    snapshot_steps: list[int]
    snapshots: list[np.ndarray]  # one (n_probe, 7) array of P(yes) per snapshot step


def train_typhoon(
    train_data: TyphoonData,
    probe: TyphoonData | None,
    *,
    steps: int = 400,
    batch_size: int = 64,
    lr_factor: float = 0.3,
    warmup: int = 50,
    snapshot_every: int = 50,
    seed: int = 0,
    **config_overrides,
) -> TyphoonRun:
    """Build ``TyphoonTransformer(typhoon_config(**config_overrides))`` with ``seed`` and train
    it with the package's ``train`` (no label smoothing: two words only), recording P(yes) on
    ``probe`` before training and every ``snapshot_every`` steps (nothing if ``probe`` is
    None)."""
    from minitransformer.training import train

    torch.manual_seed(seed)
    model = TyphoonTransformer(typhoon_config(**config_overrides))
    steps_seen: list[int] = []
    snapshots: list[np.ndarray] = []

    def record(step, model, history):
        steps_seen.append(step)
        snapshots.append(probabilities(model, probe))

    history = train(
        model, train_data.encoded(), steps=steps, batch_size=batch_size, warmup=warmup,
        lr_factor=lr_factor, d_model=model.config.d_model, label_smoothing=0.0, seed=seed,
        callback=None if probe is None else record, callback_every=snapshot_every,
        progress=False,
    )  # fmt: skip
    return TyphoonRun(model, history, steps_seen, snapshots)


def rule_window(k: int) -> tuple[int, int]:
    """The input days (1-based, inclusive) the rule reads for forecast day k = 1..7."""
    if not 1 <= k <= DAYS_OUT:
        raise ValueError(f"k={k} must be in 1..{DAYS_OUT}")
    return DAYS_IN + k - LAG[1], DAYS_IN + k - LAG[0]


@dataclass(frozen=True)
class AttentionPeaks:
    """Where the last decoder layer's encoder-decoder attention looks, per forecast day.

    weights: (7, 30) the attention averaged over heads and months (row k - 1 = day 30 + k);
    peaks: (7,) the 1-based input day of each row's largest weight; inside: (7,) bool, whether
    that day lies in the rule's window for that forecast day.
    """

    weights: np.ndarray
    peaks: np.ndarray
    inside: np.ndarray

    @property
    def peak_weights(self) -> np.ndarray:
        return self.weights.max(axis=1)


def attention_peaks(model: TyphoonTransformer, data: TyphoonData) -> AttentionPeaks:
    """Teacher-forced pass over ``data``; the last layer's cross-attention, averaged over
    heads and months, and its peak for each forecast day."""
    encoded = data.encoded()
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(torch.tensor(encoded.source), torch.tensor(encoded.target)[:, :-2],
                    return_attention=True)  # fmt: skip
    model.train(was_training)
    weights = out.attention.cross[-1].mean(dim=(0, 1)).double().numpy()  # (7, 30)
    peaks = weights.argmax(axis=1) + 1  # 1-based input day
    windows = [rule_window(k) for k in range(1, DAYS_OUT + 1)]
    inside = np.array([lo <= p <= hi for p, (lo, hi) in zip(peaks, windows, strict=True)])
    return AttentionPeaks(weights, peaks, inside)


@dataclass(frozen=True)
class SeedRun:
    """One seed of the typhoon model: its test scores and where its attention peaks."""

    seed: int
    scores: Scores
    peaks: AttentionPeaks
    seconds: float


def run_seeds(
    train_data: TyphoonData,
    test_data: TyphoonData,
    seeds: tuple[int, ...] = (0, 1, 2),
    *,
    first: TyphoonRun | None = None,
    **train_options,
) -> list[SeedRun]:
    """Train the typhoon model once per seed (``train_typhoon`` without a probe) and score it
    on ``test_data``. ``first``: an already trained run for ``seeds[0]``, reused."""
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got {seeds!r}")
    runs = []
    for i, seed in enumerate(seeds):
        trained = first if (i == 0 and first is not None) else train_typhoon(
            train_data, None, seed=seed, **train_options)  # fmt: skip
        scores = score(predict(trained.model, test_data), test_data.labels)
        peaks = attention_peaks(trained.model, test_data)
        runs.append(SeedRun(seed, scores, peaks, trained.history.seconds))
    return runs


def seeds_table(runs: list[SeedRun]) -> list[dict[str, object]]:
    """One row per seed: accuracy, F1, precision, recall, and the days whose attention peak
    lies in the rule's window."""
    return [
        {"seed": r.seed, "accuracy": f"{r.scores.accuracy:.3f}", "F1": f"{r.scores.f1:.3f}",
         "precision": format_score(r.scores.precision), "recall": format_score(r.scores.recall),
         "peak in window (of 7 days)": int(r.peaks.inside.sum()),
         "peak weights": f"{r.peaks.peak_weights.min():.3f}-{r.peaks.peak_weights.max():.3f}"}
        for r in runs
    ]  # fmt: skip


def format_score(value: float, digits: int = 3) -> str:
    """A score as text; "undefined" where it is NaN (precision of a forecast that never says
    yes: 0 / 0)."""
    return "undefined" if np.isnan(value) else f"{value:.{digits}f}"


def month_figure(data: TyphoonData, index: int, predicted: np.ndarray | None = None):
    """One month of sea temperatures, the rule's threshold, and the next week's labels
    (and, if given, a model's predictions) as marks after day 30."""
    from minitransformer.viz._style import finish, new_figure

    fig = new_figure(7.5, 3.0)
    ax = fig.subplots()
    days = np.arange(1, DAYS_IN + 1)
    ax.plot(days, data.temperatures[index], marker=".", color="#0072B2", label="sea temperature")
    ax.axhline(THRESHOLD, color="#D55E00", linestyle="--", linewidth=1,
               label=f"threshold {THRESHOLD} °C")  # fmt: skip
    future = np.arange(DAYS_IN + 1, DAYS_IN + DAYS_OUT + 1)
    low = data.temperatures.min()
    ax.scatter(future, np.where(data.labels[index], THRESHOLD, np.nan), marker="v", s=70,
               color="#D55E00", label="typhoon (label)")  # fmt: skip
    ax.scatter(future, np.where(~data.labels[index], low, np.nan), marker="o", s=25,
               facecolors="none", edgecolors="grey", label="no typhoon (label)")  # fmt: skip
    if predicted is not None:
        ax.scatter(future, np.where(predicted, THRESHOLD + 0.3, np.nan), marker="x", s=50,
                   color="#009E73", label="model says typhoon")  # fmt: skip
    ax.axvspan(DAYS_IN + 0.5, DAYS_IN + DAYS_OUT + 0.5, color="#EEEEEE", zorder=0)
    ax.set(xlabel="day", ylabel="°C", title=f"Month {index}: 30 days observed, 7 to forecast")
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return finish(fig)
