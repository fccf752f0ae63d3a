"""Batch padding: the one place where a family's features (lists of token ids, of labels) become
rectangular tensors. Every feature type's `batch` goes through `pad`; torch only."""
from __future__ import annotations

from typing import Sequence

import torch


def pad(rows: Sequence[Sequence[int]], value: int, width: int | None = None) -> torch.Tensor:
    """The rows as one (len(rows), width) long tensor, each filled up with `value` to `width`
    (default: the longest row)."""
    out = torch.full((len(rows), width or max(len(r) for r in rows)), value, dtype=torch.long)
    for i, row in enumerate(rows):
        out[i, :len(row)] = torch.tensor(row)
    return out


def padded_inputs(rows: Sequence[Sequence[int]], pad_id: int, prefix: str = "") -> dict[str, torch.Tensor]:
    """`input_ids` padded with pad_id and the `attention_mask` of the positions that hold no
    pad_id, named with `prefix` (a ranking pair's `target_` side)."""
    ids = pad(rows, pad_id)
    return {f"{prefix}input_ids": ids, f"{prefix}attention_mask": (ids != pad_id).long()}
