"""User-perceived characters: extended grapheme clusters (Unicode UAX #29, with the Indic
conjunct rule), from the `regex` package's \\X.

A cluster is what a reader sees as one character and a keyboard user types as one unit of
editing: क + ् + ष (क्ष), a consonant with its vowel sign (भू), a letter with its combining
accents, a joiner with what it joins. Edits on clusters never leave a vowel sign at the start
of a word or a joiner dangling, which edits on code points do.

`regex` is pure Python and C, pinned in pyproject.toml; it is imported on first use (about
30 ms), so `ray-xr noise show` pays for it only when an edit needs it.
"""
from __future__ import annotations

import unicodedata
from functools import lru_cache

_CLUSTER = None


def _pattern():
    global _CLUSTER
    if _CLUSTER is None:
        import regex  # lazy: see the module docstring

        _CLUSTER = regex.compile(r"\X")
    return _CLUSTER


@lru_cache(maxsize=1 << 16)
def split(text: str) -> tuple[str, ...]:
    """The grapheme clusters of `text`, in order (''.join gives it back), each starting with
    a character that can stand alone."""
    if text.isascii():  # every ASCII character but CR LF is a cluster of its own
        return tuple(text) if "\r\n" not in text else tuple(_pattern().findall(text))
    clusters: list[str] = []
    for cluster in _pattern().findall(text):
        # UAX #29 leaves a few spacing vowel signs (Myanmar ာ U+102C, ါ U+102B) outside their
        # consonant's cluster; an edit must not strand them, so a cluster that starts with a
        # mark joins the one before it.
        if clusters and unicodedata.category(cluster[0])[0] == "M":
            clusters[-1] += cluster
        else:
            clusters.append(cluster)
    return tuple(clusters)
