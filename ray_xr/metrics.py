"""The official XTREME-R metrics, on a 0-100 scale.

METRICS maps a metric name to Metric(name, compute, main): compute(predictions, references)
returns a dict of scores and `main` names the headline key. Each metric reproduces the
script XTREME/XTREME-R used, quirks included, so numbers compare with published ones:

- accuracy: XNLI, XCOPA, PAWS-X, Tatoeba (xtreme/evaluate.py).
- seqeval_f1: UD-POS and PAN-X; seqeval's span F1 with its default (conlleval) rules.
- squad: XQuAD and TyDiQA-GoldP; the SQuAD v1.1 evaluate-v1.1.py script.
- mlqa: MLQA; facebookresearch/MLQA mlqa_evaluation_v1.py, which needs the answer language.
- map@20: Mewsli-X and LAReQA; mean average precision at 20 (xtreme utils_lareqa.py).

This module must stay free of torch and ray: reports and tests import it on any machine.
"""
from __future__ import annotations

import re
import string
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
import functools
from statistics import fmean
from typing import Any


@dataclass(frozen=True)
class Ratio:
    """How a metric's headline is recomputed from per-example outcome columns (see outcomes):
    100 x sum(numerator) / sum(denominator), each a weighted sum of columns; denominator None
    counts the examples (a mean). A ratio of sums is what lets the report resample examples
    for corpus-level scores such as seqeval's F1 (ray_xr.report.stats)."""

    numerator: Mapping[str, float]
    denominator: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[..., dict[str, float]]
    main: str
    by_language: bool = False  # compute takes lang= (the language of the answers)
    # outcomes(predictions, references[, lang=]) -> {column: one value per example}; always a
    # "score" column, plus what `ratio` needs to rebuild `main`
    outcomes: Callable[..., dict[str, list]] | None = None
    ratio: Ratio = Ratio({"score": 1.0})


def _check_parallel(predictions: Sequence, references: Sequence) -> None:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions but {len(references)} references")
    if not references:
        raise ValueError("no references to score")


def accuracy(predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, float]:
    _check_parallel(predictions, references)
    correct = sum(p == r for p, r in zip(predictions, references))
    return {"accuracy": 100.0 * correct / len(references)}


def accuracy_outcomes(predictions: Sequence[Any], references: Sequence[Any]) -> dict[str, list]:
    """score: 1.0 for a right prediction, else 0.0."""
    _check_parallel(predictions, references)
    return {"score": [float(p == r) for p, r in zip(predictions, references)]}


# ---------------------------------------------------------------- tagging


def seqeval_f1(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Micro span F1 over tag sequences, exactly as xtreme/evaluate.py scores PAN-X and UD-POS:
    seqeval's f1_score (default, non-strict mode) on both tasks alike.

    For BIO tags this is conlleval: an I- without a preceding B- opens a chunk, a type change
    inside a chunk closes it and opens another. XTREME feeds UD-POS tags (NOUN, VERB, ...)
    to the same function, which reads the first letter as the chunk tag and the rest as the
    type. With the pinned seqeval 1.2.2 that means:
      - a run of equal tags is ONE chunk: gold NOUN NOUN vs predicted NOUN VERB shares no
        chunk, so POS "F1" is not token accuracy;
      - tags starting with S (SCONJ, SYM) are single-token chunks; INTJ acts as I- (merges);
      - the type is the tag minus its first letter, so CCONJ and SCONJ are both type "CONJ"
        and confusing them at the same position still counts as a correct chunk.
    seqeval 0.0.x (current when XTREME was released) took the whole tag as the type, so the
    CCONJ/SCONJ case alone differs from those older runs. seqeval's per-tag "seems not to be
    NE tag" warnings are expected for POS tags and silenced.
    """
    # imported here: seqeval pulls in scikit-learn (~1 s), which other metrics' users skip
    from seqeval.metrics import f1_score, precision_score, recall_score

    _check_parallel(predictions, references)
    for i, (predicted, gold) in enumerate(zip(predictions, references)):
        if len(predicted) != len(gold):
            raise ValueError(f"sequence {i}: {len(predicted)} predicted tags but {len(gold)} gold tags")
    # seqeval recognises sentences only as lists (tuples would be read as single tags)
    y_true = [list(gold) for gold in references]
    y_pred = [list(predicted) for predicted in predictions]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*seems not to be NE tag")
        return {
            "f1": 100.0 * f1_score(y_true, y_pred),
            "precision": 100.0 * precision_score(y_true, y_pred),
            "recall": 100.0 * recall_score(y_true, y_pred),
        }


def seqeval_outcomes(predictions: Sequence[Sequence[str]], references: Sequence[Sequence[str]]) -> dict[str, list]:
    """Per sentence: tp, fp, fn (chunks right, predicted but wrong, missed) as seqeval counts
    them, and score, the sentence's F1 (1.0 with no chunk on either side). Summed over the
    corpus, 2 tp / (2 tp + fp + fn) is seqeval_f1's F1: seqeval joins the sentences with an
    "O" between them, so no chunk crosses a sentence and per-sentence chunk sets add up."""
    from seqeval.metrics.sequence_labeling import get_entities

    _check_parallel(predictions, references)
    out: dict[str, list] = {"score": [], "tp": [], "fp": [], "fn": []}
    for i, (predicted, gold) in enumerate(zip(predictions, references)):
        if len(predicted) != len(gold):
            raise ValueError(f"sequence {i}: {len(predicted)} predicted tags but {len(gold)} gold tags")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*seems not to be NE tag")
            found, wanted = set(get_entities(list(predicted))), set(get_entities(list(gold)))
        tp = len(found & wanted)
        fp, fn = len(found) - tp, len(wanted) - tp
        out["score"].append(2 * tp / (2 * tp + fp + fn) if found or wanted else 1.0)
        for key, value in (("tp", tp), ("fp", fp), ("fn", fn)):
            out[key].append(value)
    return out


# ---------------------------------------------------------------- extractive QA


def _token_f1(predicted: list[str], gold: list[str]) -> float:
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def _em_f1(predictions: Sequence[str], references: Sequence[Collection[str]],
           normalize: Callable[[str], str]) -> dict[str, float]:
    """EM and token F1, each the max over an example's gold answers, averaged over examples.

    Like the official scripts, an empty normalised prediction matches an empty normalised
    gold for EM but scores F1 0.
    """
    per = _em_f1_outcomes(predictions, references, normalize)
    return {"exact_match": 100.0 * sum(per["exact"]) / len(references),
            "f1": 100.0 * sum(per["score"]) / len(references)}


def _em_f1_outcomes(predictions: Sequence[str], references: Sequence[Collection[str]],
                    normalize: Callable[[str], str]) -> dict[str, list]:
    """Per question: exact (0/1) and score, the token F1 (0-1), each the max over the golds."""
    _check_parallel(predictions, references)
    out: dict[str, list] = {"score": [], "exact": []}
    for i, (prediction, golds) in enumerate(zip(predictions, references)):
        if isinstance(golds, str) or not golds:
            raise ValueError(f"example {i}: references must be a non-empty collection of answer strings")
        predicted = normalize(prediction)
        gold_texts = [normalize(gold) for gold in golds]
        out["exact"].append(max(float(predicted == gold) for gold in gold_texts))
        out["score"].append(max(_token_f1(predicted.split(), gold.split()) for gold in gold_texts))
    return out


def _squad_normalize(text: str) -> str:
    """evaluate-v1.1.py: lowercase, drop ASCII punctuation, then the articles, then squeeze spaces."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad(predictions: Sequence[str], references: Sequence[Collection[str]]) -> dict[str, float]:
    """predictions[i]: answer text; references[i]: the gold answer texts of that question."""
    return _em_f1(predictions, references, _squad_normalize)


def squad_outcomes(predictions: Sequence[str], references: Sequence[Collection[str]]) -> dict[str, list]:
    return _em_f1_outcomes(predictions, references, _squad_normalize)


# Taken from mlqa_evaluation_v1.py. Its Vietnamese list holds common function words rather
# than articles, and its Arabic pattern '\sال^|ال' has a first branch that can never match,
# so every "ال" is removed, also inside words; both are kept as published.
_MLQA_ARTICLES: dict[str, str | None] = {
    "en": r"\b(a|an|the)\b",
    "es": r"\b(un|una|unos|unas|el|la|los|las)\b",
    "de": r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b",
    "vi": r"\b(của|là|cái|chiếc|những)\b",
    "ar": "ال",
    "hi": None,
    "zh": None,
}
# mixed_segmentation: each CJK ideograph in this (official) range is a token, and runs of
# anything else split on whitespace. Punctuation would be a token too, but normalisation has
# removed it before segmentation runs.
_ZH_TOKEN = re.compile(r"[\u4e00-\u9fa5]|[^\s\u4e00-\u9fa5]+")


def _is_mlqa_punct(ch: str) -> bool:
    """Membership in the official PUNCT set: every Unicode P* character plus string.punctuation."""
    return ch in string.punctuation or unicodedata.category(ch).startswith("P")


def _mlqa_normalize(text: str, lang: str) -> str:
    text = "".join(ch for ch in text.lower() if not _is_mlqa_punct(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = re.sub(articles, " ", text)
    tokens = _ZH_TOKEN.findall(text) if lang == "zh" else text.split()
    return " ".join(tokens)


def mlqa(predictions: Sequence[str], references: Sequence[Collection[str]], *, lang: str) -> dict[str, float]:
    """As squad, with MLQA's normalisation for the answer language `lang`."""
    return _em_f1(predictions, references, _mlqa_normalizer(lang))


def mlqa_outcomes(predictions: Sequence[str], references: Sequence[Collection[str]], *, lang: str) -> dict[str, list]:
    return _em_f1_outcomes(predictions, references, _mlqa_normalizer(lang))


def _mlqa_normalizer(lang: str) -> Callable[[str], str]:
    if lang not in _MLQA_ARTICLES:
        raise ValueError(f"MLQA has no normalisation for language {lang!r}, expected one of {sorted(_MLQA_ARTICLES)}")
    return functools.partial(_mlqa_normalize, lang=lang)


# ---------------------------------------------------------------- retrieval


def _average_precision_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """AP@k as utils_lareqa.average_precision_at_k: a repeated candidate scores only once, and
    the sum is divided by min(#relevant, k) so a perfect top-k scores 1 even with more relevant."""
    hits, total, seen = 0, 0.0, set()
    for rank, candidate in enumerate(ranked[:k], start=1):
        if candidate in relevant and candidate not in seen:
            hits += 1
            total += hits / rank
        seen.add(candidate)
    return total / min(len(relevant), k)


def map_at_k(predictions: Sequence[Sequence[str]], references: Sequence[Collection[str]],
             *, k: int = 20) -> dict[str, float]:
    """predictions[i]: candidate ids ranked best first; references[i]: the relevant ids."""
    return {f"map@{k}": 100.0 * fmean(map_outcomes(predictions, references, k=k)["score"])}


def map_outcomes(predictions: Sequence[Sequence[str]], references: Sequence[Collection[str]],
                 *, k: int = 20) -> dict[str, list]:
    """score: each query's average precision at k (0-1)."""
    _check_parallel(predictions, references)
    for i, relevant in enumerate(references):
        if isinstance(relevant, str) or not relevant:
            raise ValueError(f"query {i}: references must be a non-empty collection of relevant ids")
    return {"score": [_average_precision_at_k(p, set(r), k) for p, r in zip(predictions, references)]}


_F1_OF_COUNTS = Ratio({"tp": 2.0}, {"tp": 2.0, "fp": 1.0, "fn": 1.0})  # 2PR/(P+R) = 2tp/(2tp+fp+fn)

METRICS: dict[str, Metric] = {
    "accuracy": Metric("accuracy", accuracy, "accuracy", outcomes=accuracy_outcomes),
    "seqeval_f1": Metric("seqeval_f1", seqeval_f1, "f1", outcomes=seqeval_outcomes, ratio=_F1_OF_COUNTS),
    "squad": Metric("squad", squad, "f1", outcomes=squad_outcomes),
    "mlqa": Metric("mlqa", mlqa, "f1", by_language=True, outcomes=mlqa_outcomes),
    "map@20": Metric("map@20", functools.partial(map_at_k, k=20), "map@20",
                     outcomes=functools.partial(map_outcomes, k=20)),
}


def from_outcomes(metric: Metric, columns: Mapping[str, Sequence[float]]) -> float:
    """The metric's headline (0-100) rebuilt from its outcome columns."""
    def total(weights: Mapping[str, float] | None) -> float:
        if weights is None:
            return float(len(columns["score"]))
        return sum(w * sum(columns[name]) for name, w in weights.items())

    den = total(metric.ratio.denominator)
    return 100.0 * total(metric.ratio.numerator) / den if den else 0.0


# ---------------------------------------------------------------- XTREME-R score


# XTREME-R's task families. Each task's score is its headline metric averaged over its test
# languages: accuracy (XNLI, XCOPA, Tatoeba), F1 (UD-POS, WikiANN = panx, XQuAD, MLQA,
# TyDiQA-GoldP), mAP@20 (Mewsli-X, LAReQA).
TASK_FAMILIES: dict[str, tuple[str, ...]] = {
    "classification": ("xnli", "xcopa"),
    "structured_prediction": ("udpos", "panx"),
    "qa": ("xquad", "mlqa", "tydiqa"),
    "retrieval": ("tatoeba", "mewslix", "lareqa"),
}
_FAMILY_OF = {task: family for family, tasks in TASK_FAMILIES.items() for task in tasks}


def xtreme_r_score(task_scores: Mapping[str, float], *, partial: bool = False) -> float:
    """Mean over families of the mean over each family's tasks, so a family counts the same
    whatever its number of tasks.

    All ten tasks are required unless partial=True, which averages the tasks and families
    given; such a score does not compare with published XTREME-R scores.
    """
    unknown = sorted(set(task_scores) - set(_FAMILY_OF))
    if unknown:
        raise ValueError(f"unknown XTREME-R task(s) {unknown}, expected names from {sorted(_FAMILY_OF)}")
    missing = sorted(set(_FAMILY_OF) - set(task_scores))
    if missing and not partial:
        raise ValueError(f"missing XTREME-R task(s) {missing}; pass partial=True to average only those given")
    if not task_scores:
        raise ValueError("no task scores given")
    by_family: dict[str, list[float]] = {}
    for task, score in task_scores.items():
        by_family.setdefault(_FAMILY_OF[task], []).append(score)
    return fmean(fmean(scores) for scores in by_family.values())
