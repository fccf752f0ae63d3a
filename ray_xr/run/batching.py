"""Which features make up each batch of a training epoch, as a function of (seed, epoch) only,
so that every worker, a resumed stage and a rerun draw the same batches.

`shuffled` is one random pass, split over the workers. `length_grouped` keeps that randomness
but puts examples of similar length together, so a padded batch wastes little: the shuffled
pass is cut into windows of BUCKET global batches, each window is sorted by length and cut into
global batches, and the batches are shuffled again; each worker takes every world-th example of
a global batch, so the workers of a step get similar lengths too. Both drop the same number of
examples an epoch (those beyond the last whole global batch, a different random few each
epoch) and use the others exactly once. A schedule returns one list of feature indices per
micro-batch of this worker: `steps` optimizer steps of `accumulation` micro-batches each.
"""
from __future__ import annotations

import torch

BUCKET = 50  # global batches sorted together: wide enough to find equal lengths, narrow enough to stay random


def shuffled(n: int, per_worker: int, rank: int, world: int, seed: int, steps: int) -> list[list[int]]:
    """The feature indices of this worker's batches: one shuffled pass, split over the workers."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    mine = order[rank::world][: steps * per_worker].tolist()
    return [mine[s * per_worker:(s + 1) * per_worker] for s in range(steps)]


def length_grouped(lengths: list[int]):
    """A schedule (train_loop's `schedule`) of batches of similar length; `lengths` per feature."""

    def batches(n: int, per_worker: int, rank: int, world: int, seed: int, steps: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(seed)
        size = per_worker * world
        order = torch.randperm(n, generator=gen)[: steps * size].tolist()
        window = BUCKET * size
        grouped: list[list[int]] = []
        for start in range(0, len(order), window):
            # longest first; ties keep the shuffled order (sorted is stable)
            chunk = sorted(order[start:start + window], key=lambda i: -lengths[i])
            grouped += [chunk[b:b + size] for b in range(0, len(chunk), size)]
        return [grouped[b][rank::world] for b in torch.randperm(len(grouped), generator=gen).tolist()]
    return batches


def feature_length(feature) -> int:
    """Tokens a feature adds to a padded batch's width: its sequence (the longest of its choices;
    a query and its candidate together)."""
    inner = getattr(feature, "feature", feature)  # a multi-task feature wraps its task's
    ids = inner.input_ids
    width = max(map(len, ids)) if ids and isinstance(ids[0], list) else len(ids)
    return width + len(getattr(inner, "target_ids", ()))


def padding(batch: dict) -> tuple[int, int]:
    """(real tokens, padded positions) of a collated batch, over all its attention masks."""
    masks = [v for k, v in batch.items() if k.endswith("attention_mask")]
    return sum(int(m.sum()) for m in masks), sum(m.numel() for m in masks)
