"""The registry of file formats: a format name (what a task's `local` layout and a sweep's
`data.local.<task>.files.<split>.format` say) -> the reader of that published format."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray_xr.data import conllu, formats, realnoise, retrieval
from ray_xr.data.examples import Example
from ray_xr.data.formats import PathLike

Reader = Callable[..., list[Example]]

READERS: dict[str, Reader] = {
    "conllu": conllu.read_conllu,
    "panx": realnoise.read_panx,  # or the published noisy JSONL, by its layout
    "xnli_tsv": realnoise.read_xnli_tsv,  # or the published noisy TSV
    "nli_jsonl": formats.read_nli_jsonl,
    "pawsx_tsv": formats.read_pawsx_tsv,
    "squad_json": formats.read_squad_json,
    "xcopa_jsonl": formats.read_xcopa_jsonl,
    "tatoeba": retrieval.read_tatoeba,
    "squad_sentences": retrieval.read_squad_sentences,
    "mewslix": retrieval.read_mewslix,
}


def read(fmt: str, *paths: PathLike, **options: Any) -> list[Example]:
    """READERS[fmt](*paths, **options), with a clear error for an unknown format name."""
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}, expected one of {sorted(READERS)}")
    return READERS[fmt](*paths, **options)
