"""The `attack` noise kind: model-aware greedy character edits (black-box, per example).

For each example the budget is the number of words a text kind would perturb at this level
(level x eligible words, the same stochastic rounding, so budgets nest across levels). Every
eligible word has a few candidate edits (keyboard typos and random character edits, from
ray_xr.noise.candidates: deterministic in the noise seed, language and example id). Then,
greedily: score every single-word candidate edit of the current text with the stage's own
model in batches, keep the one that most lowers the gold label's probability (for tagging,
the mean probability of the gold tags), and repeat until the budget is spent or the
prediction flips: the label is no longer right (for tagging: fewer tags are right than
before the attack). Each word is edited at most once; protected words (entities and numbers
with noise.protect_entities) never. Examples with nothing right to break (a wrong label; no
right tag) are not attacked: their prediction stands.

Reported: `value` is the task metric under attack (accuracy for classification, F1 for
tagging), `attack_success_rate` the percentage of attacked examples whose prediction flipped
(for classification: of the originally correct examples), `attacked` how many were attacked,
and `realised_level` the fraction of words edited. Classification and tagging families are
supported; other families fail with a clear error.
"""
from __future__ import annotations

from dataclasses import replace

import torch
import torch.distributed as dist

from ray_xr.data.examples import Classification, Tagging
from ray_xr.metrics import METRICS
from ray_xr.run.models import autocast
from ray_xr.noise import candidates, join_words, split_words
from ray_xr.noise.perturb import protect_names_and_numbers, protect_tagged
from ray_xr.tasks.families import FAMILIES, collate

PER_WORD = 3  # candidate edits per word


def _fields(e, lang: str, protect: bool) -> list[tuple[str, list[str], list[bool] | None, list[bool] | None]]:
    """(field name, words, spacing, protect flags) of each attackable text of an example."""
    if isinstance(e, Classification):
        out = []
        for name, text in (("a", e.text_a), ("b", e.text_b)):
            if text is not None:
                words, spaced = split_words(text, lang)
                out.append((name, words, spaced, protect_names_and_numbers(words) if protect else None))
        return out
    if isinstance(e, Tagging):
        return [("", list(e.words), None, protect_tagged(e.words, e.tags) if protect else None)]
    raise ValueError(f"the attack noise kind supports classification and tagging tasks, not {type(e).__name__}")


def _with_words(e, fields: list, words: list[list[str]]):
    if isinstance(e, Classification):
        texts = {name: join_words(w, range(len(w)), spaced) for (name, _, spaced, _), w in zip(fields, words)}
        return replace(e, text_a=texts["a"], text_b=texts.get("b"))
    return replace(e, words=tuple(words[0]))


class Scorer:
    """Gold-label probability, prediction and number of right labels (0/1 for classification,
    right tags for tagging) of examples under the model."""

    def __init__(self, w, model, task, tokenizer, max_length: int, batch_size: int):
        self.w, self.model, self.task, self.tokenizer = w, model, task, tokenizer
        self.family = FAMILIES[task.family]
        self.max_length, self.batch_size = max_length, batch_size

    @torch.inference_mode()
    def __call__(self, examples: list) -> tuple[list[float], list, list[int]]:
        feats = self.family.features(examples, self.tokenizer, self.task.labels, self.max_length)
        gold = [[] for _ in examples]
        predicted = []
        for start in range(0, len(feats), self.batch_size):
            chunk = feats[start:start + self.batch_size]
            batch = {k: v.to(self.w.device) for k, v in collate(chunk, self.tokenizer.pad_token_id).items()}
            labels = batch.pop("labels")
            with autocast(self.w.device, self.w.precision):
                probs = self.model(**batch).logits.float().softmax(-1)
            predicted += probs.argmax(-1).cpu().tolist()
            if labels.ndim == 1:  # one label per sequence
                p = probs.gather(-1, labels[:, None])[:, 0]
                for f, value in zip(chunk, p.cpu().tolist()):
                    gold[f.example].append(value)
            else:  # one per token; -100 positions are ignored
                mask = labels != -100
                p = probs.gather(-1, labels.clamp(min=0)[..., None])[..., 0] * mask
                means = (p.sum(-1) / mask.sum(-1).clamp(min=1)).cpu().tolist()
                for f, value in zip(chunk, means):
                    gold[f.example].append(value)
        preds = self.family.decode(examples, feats, predicted, self.task.labels)
        refs = self.family.references(examples)
        scores = [sum(g) / len(g) if g else 0.0 for g in gold]
        return scores, preds, [_n_right(p, r) for p, r in zip(preds, refs)]


def _n_right(pred, ref) -> int:
    if isinstance(ref, (list, tuple)):
        return sum(p == r for p, r in zip(pred, ref))
    return int(pred == ref)


def attack_one(e, score: Scorer, *, level: float, lang: str, seed: int, example_id: str,
               protect: bool, resources) -> dict:
    """Greedy attack of one example; returns its final prediction and what happened."""
    fields = _fields(e, lang, protect)
    words = [list(f[1]) for f in fields]
    n_words = sum(len(w) for w in words)
    _, (pred,), (right,) = score([e])
    if not right:
        return {"pred": pred, "correct": False, "flipped": False, "edits": 0, "words": n_words}
    budget, options = 0, []
    for k, (name, ws, _, guard) in enumerate(fields):
        n, found = candidates(ws, "attack", level, lang=lang, seed=seed, example_id=example_id, field=name,
                              protect=guard, per_word=PER_WORD, resources=resources)
        budget += n
        options += [(k, i, c) for i, cands in found.items() for c in cands]
    edits, flipped = 0, False
    while edits < budget and options:
        trials = []
        for k, i, c in options:
            trial = [list(w) for w in words]
            trial[k][i] = c
            trials.append(_with_words(e, fields, trial))
        scores, preds, rights = score(trials)
        best = min(range(len(trials)), key=scores.__getitem__)  # first of ties: deterministic
        k, i, c = options[best]
        words[k][i] = c
        edits += 1
        options = [o for o in options if o[:2] != (k, i)]
        pred = preds[best]
        if rights[best] < right:
            flipped = True
            break
    return {"pred": pred, "correct": True, "flipped": flipped, "edits": edits, "words": n_words}


def evaluate(w, model, task, examples: list, tokenizer, *, kind: str, level: float, lang: str, seed: int,
             namespace: str, resources, protect: bool, max_length: int, batch_size: int) -> dict:
    """Metric under attack over all examples (sharded over the workers, then gathered)."""
    model.eval()
    score = Scorer(w, model, task, tokenizer, max_length, batch_size)
    mine = {i: attack_one(examples[i], score, level=level, lang=lang, seed=seed,
                          example_id=f"{namespace}/{examples[i].id}", protect=protect, resources=resources)
            for i in range(w.rank, len(examples), w.world)}
    if w.world > 1:
        shards = [None] * w.world
        dist.all_gather_object(shards, mine)
        mine = {i: r for shard in shards for i, r in shard.items()}
    results = [mine[i] for i in range(len(examples))]
    family = FAMILIES[task.family]
    metric = METRICS[task.metric]
    value = metric.compute([r["pred"] for r in results], family.references(examples))[metric.main]
    attacked = sum(r["correct"] for r in results)
    flipped = sum(r["flipped"] for r in results)
    words = sum(r["words"] for r in results)
    return {"value": value, "n": len(examples), "preds": [r["pred"] for r in results],
            "realised_level": sum(r["edits"] for r in results) / words if words else 0.0,
            "extra": {"attack_success_rate": round(100 * flipped / attacked, 4) if attacked else None,
                      "attacked": attacked}}
