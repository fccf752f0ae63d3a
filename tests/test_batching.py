"""Keeping GPUs busy: length-grouped batches (every example once an epoch, random but a function
of the seed only, much less padding than shuffled batches on the demo data) and SDPA attention."""
from __future__ import annotations

import random

import pytest

from ray_xr.plan import config
from ray_xr.data import synthetic
from ray_xr.run import batching
from ray_xr.run.models import train_tokenizer
from ray_xr.tasks import get_task
from ray_xr.tasks.families import FAMILIES, collate
from tests.conftest import REPO


def epoch(schedule, n: int, per_worker: int, world: int, seed: int, steps: int) -> list[list[list[int]]]:
    """Each worker's batches of one epoch."""
    return [schedule(n, per_worker, rank, world, seed, steps) for rank in range(world)]


@pytest.mark.parametrize("world", [1, 2])
def test_length_grouping_uses_every_example_exactly_once_an_epoch(world):
    lengths = [random.Random(i).randint(3, 60) for i in range(640)]
    schedule = batching.length_grouped(lengths)
    per_worker, steps = 16 // world, 640 // 16
    batches = epoch(schedule, 640, per_worker, world, seed=7, steps=steps)
    used = [i for worker in batches for batch in worker for i in batch]
    assert sorted(used) == list(range(640))
    assert all(len(worker) == steps and all(len(b) == per_worker for b in worker) for worker in batches)
    # a remainder beyond the last whole batch is left out, a different random few each epoch
    longer = batching.length_grouped(lengths + [5] * 10)
    short = [sorted(i for worker in epoch(longer, 650, per_worker, world, seed, steps) for b in worker for i in b)
             for seed in (7, 8)]
    assert all(len(s) == len(set(s)) == 640 for s in short) and short[0] != short[1]


def test_length_grouping_is_a_function_of_the_seed_only():
    lengths = [random.Random(i).randint(3, 60) for i in range(320)]
    first = batching.length_grouped(lengths)(320, 8, 0, 2, 11, 20)
    assert first == batching.length_grouped(list(lengths))(320, 8, 0, 2, 11, 20)
    assert first != batching.length_grouped(lengths)(320, 8, 0, 2, 12, 20)
    # the workers of a step get similar lengths: each takes every other example of one sorted batch
    other = batching.length_grouped(lengths)(320, 8, 1, 2, 11, 20)
    for mine, theirs in zip(first, other):
        assert abs(max(lengths[i] for i in mine) - max(lengths[i] for i in theirs)) <= 3


def padding_ratio(feats, schedule, per_worker: int, steps: int) -> float:
    real = padded = 0
    for batch in schedule(len(feats), per_worker, 0, 1, 0, steps):
        r, p = batching.padding(collate([feats[i] for i in batch], 1))
        real, padded = real + r, padded + p
    return 1 - real / padded


def test_length_grouping_cuts_padding_on_the_demo_data():
    """sweeps/local.yaml's XNLI-like training set (500 English pairs) and tokenizer, batches of 32."""
    sweep = config.load(REPO / "sweeps" / "local.yaml")
    emb = sweep.embedded
    corpus = [t.text for lang in synthetic.LANGUAGES for t in synthetic.corpus(lang, emb.corpus_per_language, 0)]
    tokenizer = train_tokenizer(corpus, emb.vocab_size)
    task = get_task("xnli")
    train = task.sources["synthetic"]("train", "en", _context(sweep))
    feats = FAMILIES[task.family].features(train, tokenizer, task.labels, sweep.target_training.max_length)
    steps = len(feats) // 32
    shuffled = padding_ratio(feats, batching.shuffled, 32, steps)
    grouped = padding_ratio(feats, batching.length_grouped([batching.feature_length(f) for f in feats]), 32, steps)
    print(f"padding: shuffled {shuffled:.3f}, length-grouped {grouped:.3f}")
    assert grouped < shuffled / 4


def _context(sweep):
    from ray_xr.tasks import LoadContext

    d = sweep.data
    return LoadContext(seed=d.seed, sizes={"train": d.train_size, "dev": d.dev_size, "test": d.test_size})


def test_xlmr_attends_through_sdpa(tmp_path):
    """transformers picks PyTorch's scaled-dot-product attention for XLM-R by itself (fused
    kernels on GPUs); this fails if a version stops doing so, for new and for loaded models."""
    from ray_xr.run.models import load_task_model, new_masked_lm

    tokenizer = train_tokenizer([t.text for t in synthetic.corpus("en", 200, 0)], 300)
    emb = config.Embedded(vocab_size=300, hidden_size=32, layers=1, heads=2, intermediate_size=64).model_dump()
    mlm = new_masked_lm(emb, tokenizer)
    assert mlm.mlm.config._attn_implementation == "sdpa"
    mlm.base_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    model = load_task_model(tmp_path, "AutoModelForSequenceClassification", 3)
    assert model.config._attn_implementation == "sdpa"


def test_compiled_training_model_keeps_its_weights_names_and_loss(tmp_path):
    """resources.compile compiles the model in place (run/train.py: prepared): same state_dict keys
    (checkpoints and saved models unchanged) and, on CPU, the loss of the uncompiled model."""
    import torch

    from ray_xr.run.models import load_task_model, new_masked_lm

    tokenizer = train_tokenizer([t.text for t in synthetic.corpus("en", 200, 0)], 300)
    emb = config.Embedded(vocab_size=300, hidden_size=32, layers=1, heads=2, intermediate_size=64).model_dump()
    new_masked_lm(emb, tokenizer).base_model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    eager, compiled = (load_task_model(tmp_path, "AutoModelForSequenceClassification", 3) for _ in range(2))
    compiled.load_state_dict(eager.state_dict())
    compiled.compile()
    assert list(compiled.state_dict()) == list(eager.state_dict())
    task = get_task("xnli")
    examples = synthetic.nli("xnli", "train", "en", 8, 0)
    batch = collate(FAMILIES[task.family].features(examples, tokenizer, task.labels, 32), tokenizer.pad_token_id)
    losses = [m(**batch).loss for m in (eager, compiled)]
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-4, atol=1e-5)
    losses[1].backward()
    assert all(p.grad is not None for p in compiled.parameters() if p.requires_grad)
