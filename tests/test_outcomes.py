"""Per-example outcomes: for every family, the metric rebuilt from an evaluation's outcome
columns equals the metric the evaluation reports (what `evaluate.score` computes), and the
parquet file holds them with stable example ids."""
from __future__ import annotations

import random

import pyarrow.parquet as pq
import pytest

from ray_xr.data.examples import Answer, Candidate, SpanQA, scored
from ray_xr.metrics import METRICS, from_outcomes, seqeval_f1, seqeval_outcomes
from ray_xr.tasks import get_task, outcomes
from ray_xr.tasks.families import FAMILIES
from ray_xr.tasks.load import load_split, noisy

SYNTHETIC = {"source": "synthetic", "seed": 0, "sizes": {"train": 20, "dev": 20, "test": 80}, "local": {}}


def guesses(task, examples, rng: random.Random) -> list:
    """Plausible predictions of the family's type: right about half the time, else wrong."""
    refs = FAMILIES[task.family].references(examples)
    if task.family == "classification":
        return [r if rng.random() < 0.5 else rng.choice(task.labels) for r in refs]
    if task.family == "tagging":
        return [[t if rng.random() < 0.7 else rng.choice(task.labels) for t in tags] for tags in refs]
    if task.family == "multiple_choice":
        return [r if rng.random() < 0.5 else rng.randrange(len(e.choices)) for r, e in zip(refs, examples)]
    if task.family == "qa":
        return [golds[0] if rng.random() < 0.4 else e.context[:rng.randrange(1, 30)]
                for golds, e in zip(refs, examples)]
    if task.family == "retrieval":
        ids = [e.id for e in examples]
        return [r if rng.random() < 0.5 else rng.choice(ids) for r in refs]
    if task.family == "ranking":
        pool = [e.id for e in examples if isinstance(e, Candidate)]
        return [rng.sample(pool, min(20, len(pool))) if rng.random() < 0.5 else list(r) + pool[:5] for r in refs]
    raise AssertionError(task.family)


def reported(task, examples, predictions, lang: str) -> float:
    """The headline as evaluate.score computes it."""
    metric = METRICS[task.metric]
    kwargs = {"lang": lang} if metric.by_language else {}
    return metric.compute(predictions, FAMILIES[task.family].references(examples), **kwargs)[metric.main]


@pytest.mark.parametrize("name", ["xnli", "panx", "udpos", "xcopa", "xquad", "tatoeba", "lareqa"])
def test_outcomes_rebuild_the_reported_metric(name, tmp_path):
    task = get_task(name)
    examples = load_split(name, "test", "ord", SYNTHETIC)
    predictions = guesses(task, examples, random.Random(name))
    value = reported(task, examples, predictions, "ord")
    assert 0 < value < 100  # a real mix of right and wrong
    columns = outcomes.outcome_columns(task, examples, predictions, "ord")
    assert from_outcomes(METRICS[task.metric], columns) == pytest.approx(value, abs=1e-9)
    assert len(columns["example_id"]) == len(scored(examples)) == len(set(columns["example_id"]))

    path = outcomes.write(tmp_path, task, examples, predictions, "ord", value=value)
    table = pq.read_table(path)
    assert table.column_names == list(columns)
    assert table.schema.metadata[b"metric"].decode() == task.metric
    assert float(table.schema.metadata[b"value"]) == value
    assert from_outcomes(METRICS[task.metric], table.to_pydict()) == pytest.approx(value, abs=1e-9)


def test_example_ids_are_the_same_under_noise():
    clean = load_split("xnli", "test", "cog", SYNTHETIC)
    perturbed = noisy(clean, "xnli", kind="char", level=0.4, lang="cog", seed=0)
    assert perturbed != clean
    assert outcomes.example_ids(perturbed) == outcomes.example_ids(clean)


def test_repeated_ids_are_numbered():
    examples = [SpanQA("q", "?", "ctx", (Answer("c", 0),))] * 3
    assert outcomes.example_ids(examples) == ["q", "q#2", "q#3"]


def test_mlqa_outcomes_use_the_answer_language():
    task = get_task("mlqa")
    # German articles are dropped by MLQA's normalisation: "der Hund" matches "Hund"
    examples = [SpanQA("1", "wer?", "der Hund bellt", (Answer("Hund", 4),)),
                SpanQA("2", "was?", "die Katze schläft", (Answer("Katze", 4),))]
    predictions = ["der Hund", "schläft"]
    columns = outcomes.outcome_columns(task, examples, predictions, "de")
    assert columns["exact"] == [1.0, 0.0] and columns["score"] == [1.0, 0.0]
    assert from_outcomes(METRICS[task.metric], columns) == reported(task, examples, predictions, "de") == 50.0


def test_seqeval_counts_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["O", "O"], ["B-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG"], ["O", "O"], ["I-ORG", "B-LOC"]]
    columns = seqeval_outcomes(pred, gold)
    # sentence 1: PER right, ORG spurious, LOC missed; 2: nothing either side;
    # 3: a lone I-ORG opens an ORG chunk (conlleval), so ORG is right and LOC spurious
    assert (columns["tp"], columns["fp"], columns["fn"]) == ([1, 0, 1], [1, 0, 1], [1, 0, 0])
    assert columns["score"] == pytest.approx([0.5, 1.0, 2 / 3])
    # corpus F1 = 2 * 2 / (2 * 2 + 2 + 1) = 4/7, as seqeval says
    assert from_outcomes(METRICS["seqeval_f1"], columns) == pytest.approx(400 / 7)
    assert seqeval_f1(pred, gold)["f1"] == pytest.approx(400 / 7)
