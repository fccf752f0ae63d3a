"""Pair a noisy test set with its clean original: which clean example each noisy one is, and
which clean word each noisy word is.

The published real-noise sets (data/realnoise.py) are subsets of the clean test sets in their
order (PAN-X de: 7,922 of 10,000 sentences). A noisy example aligns to the first clean example
after the previous match with the same tags (tagging: hence the same length) or label
(classification) whose text is nearly the same: for tagging, at least half the tokens equal and
every other token within a few edits of its clean form; for classification, each text at least
60% the same words. A set is refused (NoiseError) when nothing aligns, or when more than a tenth
of the noisy examples that fall inside the clean file's span find no original (a clean file
that ends early, as a sample does, only leaves the noisy examples after its end unaligned).

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

import bisect
import difflib
import unicodedata
from dataclasses import dataclass
from typing import Iterator, Sequence

from ray_xr.data.examples import Classification, Tagging
from ray_xr.errors import NoiseError
from ray_xr.noise.profile import edit_script

LOOKAHEAD = 2000  # same-key clean candidates tried per noisy example
GIVE_UP = 200  # noisy examples in a row that align to nothing before the set is refused
MAX_INSIDE_MISSES = 0.1


@dataclass(frozen=True)
class Alignment:
    pairs: tuple[tuple[object, object], ...]  # (clean, noisy) examples
    noisy: int  # noisy examples read
    missing: int  # noisy examples inside the clean file's span without an original
    beyond: int  # noisy examples after the last aligned one

    def summary(self) -> str:
        return (f"{len(self.pairs)} of {self.noisy} noisy examples aligned to their clean originals"
                f" ({self.missing} without one, {self.beyond} after the clean file's last match)")


def _key(e) -> tuple:
    if isinstance(e, Tagging):
        return ("tags", e.tags)
    if isinstance(e, Classification):
        return ("label", e.label, e.text_b is None)
    raise NoiseError(f"noise alignment handles tagging and classification examples, not {type(e).__name__}")


def _near(a: str, b: str) -> bool:
    return a == b or a.casefold() == b.casefold() or len(edit_script(a, b)) <= max(2, len(a) // 3)


def similar(clean, noisy) -> bool:
    """Whether `noisy` reads as `clean` with some words changed (same key assumed)."""
    if isinstance(clean, Tagging):
        equal = sum(a == b for a, b in zip(clean.words, noisy.words))
        return 2 * equal >= len(clean.words) and all(_near(a, b) for a, b in zip(clean.words, noisy.words))
    fields = [(clean.text_a, noisy.text_a)] + ([(clean.text_b, noisy.text_b)] if clean.text_b is not None else [])
    return all(difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio() >= 0.6
               for a, b in fields)


def align(clean: Sequence, noisy: Sequence, what: str = "noisy set") -> Alignment:
    """Each noisy example with its clean original (see the module docstring)."""
    index: dict[tuple, list[int]] = {}
    for i, e in enumerate(clean):
        index.setdefault(_key(e), []).append(i)
    pairs, misses, run, last, last_noisy = [], 0, 0, -1, -1
    for n, e in enumerate(noisy):
        positions = index.get(_key(e), [])
        start = bisect.bisect_right(positions, last)
        match = next((i for i in positions[start:start + LOOKAHEAD] if similar(clean[i], e)), None)
        if match is None:
            run += 1
            if not pairs and run >= GIVE_UP:
                break
            continue
        pairs.append((clean[match], e))
        misses += run  # misses between two matches are inside the span; a trailing run is not
        last, last_noisy, run = match, n, 0
    result = Alignment(tuple(pairs), len(noisy), misses, len(noisy) - 1 - last_noisy)
    if not pairs:
        raise NoiseError(f"{what}: no example aligns to the clean file (same tags or label, nearly the same"
                         " words); is it the noisy version of this clean file and language?")
    inside = len(pairs) + result.missing
    if result.missing > MAX_INSIDE_MISSES * inside:
        raise NoiseError(f"{what}: {result.missing} of {inside} noisy examples within the clean file's span"
                         " have no clean original; is it the noisy version of this clean file?")
    return result


# --- words -------------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """Whitespace words with leading and trailing punctuation split off (so `könnte,` is the
    word `könnte` and a comma, and an edit at its end is at its last character)."""
    out = []
    for word in text.split():
        i, j = 0, len(word)
        while i < j and unicodedata.category(word[i])[0] == "P":
            i += 1
        while j > i and unicodedata.category(word[j - 1])[0] == "P":
            j -= 1
        out += list(word[:i]) + ([word[i:j]] if i < j else []) + list(word[j:])
    return out


def word_pairs(clean: Sequence[str], noisy: Sequence[str]) -> Iterator[tuple[str | None, str | None]]:
    """(clean word, noisy word) for every word: equal words, edited words, (w, None) for a
    dropped word, (None, w) for an inserted one. A run of clean words replaced by a run of
    another length (a split or merge: `es immer` -> `esi mmer`) is one pair, spaces included."""
    if len(clean) == len(noisy):
        yield from zip(clean, noisy)
        return
    matcher = difflib.SequenceMatcher(None, list(clean), list(noisy), autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal" or (op == "replace" and i2 - i1 == j2 - j1):
            yield from zip(clean[i1:i2], noisy[j1:j2])
        elif op == "replace":
            yield " ".join(clean[i1:i2]), " ".join(noisy[j1:j2])
        elif op == "delete":
            yield from ((w, None) for w in clean[i1:i2])
        else:
            yield from ((None, w) for w in noisy[j1:j2])


def example_word_pairs(clean, noisy) -> Iterator[tuple[str | None, str | None]]:
    if isinstance(clean, Tagging):
        yield from word_pairs(clean.words, noisy.words)
        return
    yield from word_pairs(tokens(clean.text_a), tokens(noisy.text_a))
    if clean.text_b is not None:
        yield from word_pairs(tokens(clean.text_b), tokens(noisy.text_b))
