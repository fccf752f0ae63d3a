"""Published noisy test sets (noise.published, the `realtypos` kind): which file holds the noisy
version of a target's test set in a language, and the level its name states. A sibling of
local.py: the files are read through the task's own local format (data/realnoise.py recognises
the published layouts). Cheap to import: no torch.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ray_xr.data import realnoise
from ray_xr.errors import DataError
from ray_xr.tasks.registry import get_task


def find(published: Mapping[str, Mapping[str, str]], task: str, lang: str) -> tuple[str, float] | None:
    """(file, stated level) of a task's published noisy set in a language, None if none is named."""
    where = published.get(task, {}).get(lang)
    if where is None:
        return None
    path, level = realnoise.find(where, task, lang)
    return str(path), level


def check(published: Mapping[str, Mapping[str, str]], targets: Sequence[str], kinds: Sequence[str]) -> None:
    """Each named set belongs to a target with a published noisy layout and is found, and the
    published `kinds` the sweep evaluates have a set; ValueError (a sweep field's message) otherwise."""
    if kinds and not published:
        raise ValueError(f"noise.kinds: {kinds[0]!r} reads published noisy test sets: name them in"
                         " noise.published: {task: {lang: FILE_OR_DIR}}")
    for task, langs in published.items():
        layout = get_task(task).local if task in targets else None
        if layout is None or layout.format not in realnoise.PUBLISHED_FORMATS:
            raise ValueError(f"noise.published.{task}: not a target with a published noisy test set (panx, xnli)")
        for lang in langs:
            try:
                find(published, task, lang)
            except DataError as err:
                raise ValueError(f"noise.published.{task}.{lang}: {err}") from None
