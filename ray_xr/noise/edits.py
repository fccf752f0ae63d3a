"""Word edits of the noise kinds that rewrite or move words: char, keyboard, word, attack.

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Mapping

from ray_xr.noise import keyboards
from ray_xr.noise.base import Draws, Move


def has_letter(word: str, _context: Any = None) -> bool:
    return word.isalpha() or any(c.isalpha() for c in word)


def _recase(letter: str, like: str) -> str:
    if like.isupper() and len(letter.upper()) == 1:
        return letter.upper()
    return letter


def _insert(word: str, rng: Draws) -> str:
    at = rng.below(len(word) + 1)
    near = [c for c in word[max(at - 1, 0):at + 1] if c.isalpha()] or [c for c in word if c.isalpha()]
    letters = keyboards.alphabet(near[0])
    return word[:at] + _recase(letters[rng.below(len(letters))], word) + word[at:]


def _substitute(word: str, rng: Draws) -> str | None:
    slots = [j for j, c in enumerate(word) if c.isalpha()]
    if not slots:
        return None
    at = rng.choice(slots)
    old = word[at]
    letters = keyboards.alphabet(old).replace(old.lower(), "")
    if not letters:
        return None
    return word[:at] + _recase(letters[rng.below(len(letters))], old) + word[at + 1:]


def _delete(word: str, rng: Draws) -> str | None:
    if len(word) < 2:
        return None
    at = rng.below(len(word))
    return word[:at] + word[at + 1:]


def _transpose(word: str, rng: Draws) -> str | None:
    slots = [j for j in range(len(word) - 1) if word[j] != word[j + 1]]
    if not slots:
        return None
    at = rng.choice(slots)
    return word[:at] + word[at + 1] + word[at] + word[at + 2:]


_CHAR_OPS = (_insert, _substitute, _delete, _transpose)
_ONE_CHAR_OPS = (_insert, _substitute)  # a single character cannot be deleted or transposed


def char_edit(word: str, rng: Draws, _context: Any = None) -> str:
    """One edit, uniform over the operations; insertion stands in for the rare one that cannot
    change this word ("aa" has nothing to transpose)."""
    op = rng.choice(_CHAR_OPS if len(word) > 1 else _ONE_CHAR_OPS)
    return op(word, rng) or _insert(word, rng)


def keyboard_edit(word: str, rng: Draws, lang: str) -> str:
    """Replace one character by an adjacent key of the language's layout, else of the layout
    usual for the word's script; words neither covers get a substitution within the script."""
    script = keyboards.script_of(next(c for c in word if c.isalpha()))
    for layout in keyboards.layouts_for(lang, script):
        near = keyboards.neighbours(layout)
        slots = [(j, keys) for j, c in enumerate(word) if (keys := _adjacent(c, near))]
        if slots:
            at, keys = rng.choice(slots)
            return word[:at] + keys[rng.below(len(keys))] + word[at + 1:]
    return _substitute(word, rng) or char_edit(word, rng)


def _adjacent(ch: str, near: Mapping[str, str]) -> str:
    """Keys next to `ch`; an accented letter off the layout is typed from its base key (ά on α)."""
    keys = near.get(ch)
    if keys is None:
        keys = near.get(unicodedata.normalize("NFD", ch)[0], "").replace(ch, "")
    return keys


def word_move(word: str, rng: Draws, _context: Any) -> Move:
    return rng.choice((Move.DROP, Move.SWAP))


def attack_candidate(word: str, rng: Draws, lang: str) -> str:
    """One candidate edit for the attack: a keyboard typo or a random character edit."""
    return keyboard_edit(word, rng, lang) if rng.below(2) else char_edit(word, rng)
