"""Tokenized features, cached on disk under the run folder and shared by every stage that
needs the same ones: the training set of a target task is tokenized once for all intermediate
tasks and seeds, a test set once for all the models evaluated on it, a ranking pool (LAReQA,
Mewsli-X) once for every language and noise level.

The key is the content itself: a digest of the tokenizer's definition, the family, labels,
max length and head options, and of the examples (after noise). So a cached file can never
serve different inputs, whatever produced the examples. Writes are atomic (temp + rename).
Features are stored as JSON (each one its dataclass's name and fields) and rebuilt from the
family's own `feature_types`, so reading the cache from shared storage runs no code.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import fields, replace
from pathlib import Path

from ray_xr.data.examples import scored
from ray_xr.stages import write_bytes


def tokenizer_digest(tokenizer) -> str:
    """What the tokenizer does (vocabulary, normalisation, templates), not where it was loaded from."""
    cached = getattr(tokenizer, "_ray_xr_digest", None)
    if cached is None:
        definition = json.loads(tokenizer.backend_tokenizer.to_str())
        # truncation and padding are call state the tokenizer keeps from its last use, not what it does
        definition.pop("truncation", None)
        definition.pop("padding", None)
        blob = json.dumps([definition, tokenizer.special_tokens_map], sort_keys=True)
        cached = hashlib.sha256(blob.encode()).hexdigest()[:20]
        tokenizer._ray_xr_digest = cached
    return cached


def key(family_name: str, examples, tokenizer, labels, max_length: int, options: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([family_name, tokenizer_digest(tokenizer), list(labels), max_length, options],
                        sort_keys=True, default=str).encode())
    for e in examples:
        h.update(repr(e).encode())
    return h.hexdigest()[:24]


def features(cache_dir: Path, task, family, examples, tokenizer, max_length: int, options: dict,
             train: bool = False) -> list:
    """family.features(...) for these examples, from the cache when an identical call ran before.
    train=True asks for the features training consumes, for a family whose training features
    differ from those it is scored with (the ranking family's query-candidate pairs)."""
    make = getattr(family, "train_features", None) if train else None
    head = scored(examples)
    if not make and head and len(head) < len(examples) and examples[:len(head)] == head:
        # a ranking pool after its queries: the same at every noise level and in every language,
        # so it is tokenized once and cached on its own
        pool = features(cache_dir, task, family, examples[len(head):], tokenizer, max_length, options)
        return features(cache_dir, task, family, head, tokenizer, max_length, options) + [
            replace(f, example=f.example + len(head)) for f in pool]
    name = task.family + ("/train" if make else "")
    path = cache_dir / f"{task.name}-{key(name, examples, tokenizer, task.labels, max_length, options)}.json"
    if path.exists():
        return decode(json.loads(path.read_bytes()), family.feature_types)
    feats = (make or family.features)(examples, tokenizer, task.labels, max_length, **options)
    write_bytes(path, json.dumps(encode(feats), separators=(",", ":")).encode())  # concurrent writers of a key agree
    return feats


def encode(feats: list) -> list:
    return [[type(f).__name__, [_plain(getattr(f, field.name)) for field in fields(f)]] for f in feats]


def decode(rows: list, types) -> list:
    by_name = {t.__name__: t for t in types}
    return [by_name[name](*(_typed(v) for v in values)) for name, values in rows]


def _plain(value):
    # JSON has no tuples; a tuple is kept as {"t": [...]} so that features read back compare equal
    if isinstance(value, tuple):
        return {"t": [_plain(v) for v in value]}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _typed(value):
    if isinstance(value, dict):
        return tuple(_typed(v) for v in value["t"])
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return value
