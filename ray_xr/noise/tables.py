"""The lookup kinds (realworld, codeswitch): their word tables, read from user files.

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from types import MappingProxyType
from typing import Callable, Mapping

from ray_xr.errors import NoiseError
from ray_xr.noise.base import Draws, NoiseResources, base_lang
Table = Mapping[str, tuple[str, ...]]


def table_setup(files: str, what: str, sep: str | None) -> Callable[[str, NoiseResources], Table]:
    """A setup reading NoiseResources.<files>[lang]; `what` names the file in error messages."""

    def setup(lang: str, resources: NoiseResources) -> Table:
        path = resource_path(getattr(resources, files), lang)
        if path is None:
            raise NoiseError(f"no {what} for language {lang!r}: set NoiseResources.{files}[{lang!r}]")
        try:
            stat = os.stat(path)
        except OSError as err:
            raise NoiseError(f"{what} for language {lang!r} not readable: {path}: {err.strerror}") from None
        return _read_table(os.fspath(path), stat.st_mtime_ns, stat.st_size, sep, what)

    return setup


def resource_path(paths: Mapping[str, str], lang: str) -> str | None:
    return paths.get(lang) or paths.get(base_lang(lang))


def file_digest(path: str) -> str:
    """SHA-256 of a resource file's bytes: what a stage key records instead of its path."""
    stat = os.stat(path)
    return _digest(os.fspath(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _digest(path: str, _mtime: int, _size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@lru_cache(maxsize=64)
def _read_table(path: str, _mtime: int, _size: int, sep: str | None, what: str) -> Table:
    """word -> its replacements, in file order. Identity pairs and multi-word entries are
    skipped: neither can be a one-word edit. (mtime, size) in the key re-reads edited files."""
    table: dict[str, dict[str, None]] = {}
    try:
        with open(path, encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                parts = [p.strip() for p in line.split(sep)]
                if len(parts) != 2 or not all(parts):
                    raise NoiseError(f"{path}:{number}: expected a {what} line, got {line.strip()!r}")
                word, new = parts
                if word != new and not any(c.isspace() for c in word + new):
                    table.setdefault(word, {})[new] = None  # a dict keeps file order without repeats
    except UnicodeDecodeError:
        raise NoiseError(f"{what} {path} is not UTF-8 text") from None
    return MappingProxyType({word: tuple(options) for word, options in table.items()})


def _options(word: str, table: Table) -> tuple[str, ...]:
    found = table.get(word)
    if found is not None:
        return found
    lower = word.lower()
    if lower == word or lower not in table:
        return ()
    if len(word) > 1 and word.isupper():
        recased = (o.upper() for o in table[lower])
    else:
        recased = (o[:1].upper() + o[1:] for o in table[lower])
    return tuple(o for o in dict.fromkeys(recased) if o != word)


def has_options(word: str, table: Table) -> bool:
    return bool(_options(word, table))


def lookup_edit(word: str, rng: Draws, table: Table) -> str:
    return rng.choice(_options(word, table))

