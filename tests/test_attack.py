"""The model-aware `attack` kind: greedy search with a scripted scorer, then a real tiny model."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, XLMRobertaConfig

from ray_xr.run import attack
from ray_xr.data import synthetic
from ray_xr.data.examples import Classification, Tagging
from ray_xr.run.models import train_tokenizer
from ray_xr.tasks import get_task

ORIGINAL = "the quick brown fox jumps over the lazy dog".split()


class Scripted:
    """Gold probability 1 - 0.2 per edited word, 0.25 more if `fox` is edited; correct above 0.5."""

    def __init__(self):
        self.calls = []

    def __call__(self, examples):
        self.calls.append(len(examples))
        scores = []
        for e in examples:
            words = e.text_a.split()
            changed = [a != b for a, b in zip(ORIGINAL, words)]
            scores.append(1 - 0.2 * sum(changed) - 0.25 * changed[3])
        preds = ["entailment" if s > 0.5 else "neutral" for s in scores]
        return scores, preds, [p == e.label for p, e in zip(preds, examples)]


def run_one(level, protect=False, text=" ".join(ORIGINAL), label="entailment", seed=0):
    scorer = Scripted()
    e = Classification("e1", text, None, label)
    out = attack.attack_one(e, scorer, level=level, lang="en", seed=seed, example_id="x/e1", protect=protect,
                            resources=None)
    return out, scorer


def test_greedy_picks_the_most_damaging_edit_and_stops_at_the_flip():
    out, scorer = run_one(1.0)
    # fox first (0.55 left), then any word: 0.15 -> flipped after two edits, well within the budget of 9
    assert out == {"pred": "neutral", "correct": True, "flipped": True, "edits": 2, "words": 9}
    assert scorer.calls[0] == 1 and scorer.calls[1] > 9  # all candidates of all words in one batch


def test_budget_limits_the_edits_and_is_deterministic():
    out, _ = run_one(0.12)  # 0.12 x 9 words: one edit (or two, by the stochastic rounding)
    assert out["edits"] <= 2 and out == run_one(0.12)[0]
    zero, scorer = run_one(0.0)
    assert zero["edits"] == 0 and not zero["flipped"] and scorer.calls == [1]


def test_wrong_examples_are_not_attacked():
    out, scorer = run_one(1.0, label="neutral")
    assert not out["correct"] and out["edits"] == 0 and scorer.calls == [1]


def test_protected_words_are_never_edited():
    text = "the quick brown Fox jumps 1999 the lazy dog"

    def watch(examples):
        for e in examples:
            assert e.text_a.split()[3] == "Fox" and e.text_a.split()[5] == "1999"
        scores = [1 - 0.1 * sum(a != b for a, b in zip(text.split(), e.text_a.split())) for e in examples]
        return scores, ["entailment"] * len(examples), [True] * len(examples)

    e = Classification("e", text, None, "entailment")
    out = attack.attack_one(e, watch, level=1, lang="en", seed=0, example_id="x", protect=True, resources=None)
    assert out["edits"] == 7 and not out["flipped"]  # every unprotected word, never flipped


# --- a real (untrained) tiny model: the scorer and the evaluation loop ------------------------------


@pytest.fixture(scope="module")
def tokenizer():
    texts = [t.text for lang in synthetic.LANGUAGES for t in synthetic.corpus(lang, 60, 0)]
    return train_tokenizer(texts, 300)


def tiny(cls, tokenizer, labels):
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id,
                              type_vocab_size=1, num_labels=len(labels))
    return cls.from_config(config).eval()


WORKER = SimpleNamespace(rank=0, world=1, device=torch.device("cpu"), precision="fp32")


@pytest.mark.parametrize("task_name, cls, make", [
    ("xnli", AutoModelForSequenceClassification, lambda: synthetic.nli("xnli", "test", "cog", 6, 0)),
    ("udpos", AutoModelForTokenClassification, lambda: synthetic.tagging("udpos", "test", "cyr", 4, 0, "upos")),
])
def test_evaluate_with_a_real_model(tokenizer, task_name, cls, make):
    task = get_task(task_name)
    model = tiny(cls, tokenizer, task.labels)
    examples = list(make())
    kw = dict(kind="attack", lang="cog", seed=0, namespace=task_name, resources=None, protect=False,
              max_length=48, batch_size=64)
    result = attack.evaluate(WORKER, model, task, examples, tokenizer, level=0.3, **kw)
    clean = attack.evaluate(WORKER, model, task, examples, tokenizer, level=0.0, **kw)
    assert result["n"] == len(examples) and 0 <= result["value"] <= clean["value"]
    assert clean["realised_level"] == 0 and 0 <= result["realised_level"] <= 0.4
    rate = result["extra"]["attack_success_rate"]
    assert result["extra"]["attacked"] == clean["extra"]["attacked"]
    assert rate is None or 0 <= rate <= 100
    assert result == attack.evaluate(WORKER, model, task, examples, tokenizer, level=0.3, **kw)


def test_unsupported_example_types_fail_clearly():
    from ray_xr.data.examples import RetrievalPair

    with pytest.raises(ValueError, match="classification and tagging"):
        attack._fields(RetrievalPair("r", "q", "t"), "en", False)


def test_tagging_fields_keep_words():
    e = Tagging("t", ("Anna", "sees", "3", "dogs"), ("PROPN", "VERB", "NUM", "NOUN"))
    [(name, words, spaced, guard)] = attack._fields(e, "en", True)
    assert words == list(e.words) and guard == [True, False, True, False]
    assert attack._with_words(e, [(name, words, spaced, guard)], [["Anna", "sees", "3", "dgos"]]).words[-1] == "dgos"
