"""Word edits of the noise kinds that rewrite or move words: char, keyboard, word, attack.

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

import unicodedata
from typing import Any, Mapping

from ray_xr.noise import graphemes, keyboards, languages
from ray_xr.noise.base import Draws, Move


def has_letter(word: str, _context: Any = None) -> bool:
    return word.isalpha() or any(c.isalpha() for c in word)


def _recase(letter: str, like: str) -> str:
    if like.isupper() and len(letter.upper()) == 1:
        return letter.upper()
    return letter


# The character edits act on grapheme clusters (graphemes.py), not code points, so a vowel sign
# or a virama moves, leaves or arrives with its consonant and a joiner never dangles. An ASCII
# word is one cluster per character, so for it these are the code-point edits they replace.


def _letter(cluster: str) -> bool:
    return cluster[:1].isalpha()


def _insert(word: str, rng: Draws, lang: str = "") -> str:
    g = graphemes.split(word)
    at = rng.below(len(g) + 1)
    near = [c for c in g[max(at - 1, 0):at + 1] if _letter(c)] or [c for c in g if _letter(c)]
    letters = languages.letters(lang, near[0][0])
    return "".join(g[:at]) + _recase(letters[rng.below(len(letters))], word) + "".join(g[at:])


def _substitute(word: str, rng: Draws, lang: str = "") -> str | None:
    g = graphemes.split(word)
    slots = [j for j, c in enumerate(g) if _letter(c)]
    if not slots:
        return None
    at = rng.choice(slots)
    old = g[at]
    letters = languages.letters(lang, old[0]).replace(old.lower(), "")
    if not letters:
        return None
    return "".join(g[:at]) + _recase(letters[rng.below(len(letters))], old) + "".join(g[at + 1:])


def _delete(word: str, rng: Draws, _lang: str = "") -> str | None:
    g = graphemes.split(word)
    if len(g) < 2:
        return None
    at = rng.below(len(g))
    return "".join(g[:at] + g[at + 1:])


def _transpose(word: str, rng: Draws, _lang: str = "") -> str | None:
    g = graphemes.split(word)
    slots = [j for j in range(len(g) - 1) if g[j] != g[j + 1]]
    if not slots:
        return None
    at = rng.choice(slots)
    return "".join(g[:at] + (g[at + 1], g[at]) + g[at + 2:])


_CHAR_OPS = (_insert, _substitute, _delete, _transpose)
_ONE_CHAR_OPS = (_insert, _substitute)  # a single character cannot be deleted or transposed


def char_edit(word: str, rng: Draws, lang: Any = "") -> str:
    """One edit, uniform over the operations; insertion stands in for the rare one that cannot
    change this word ("aa" has nothing to transpose). New letters come from the language's
    inventory (languages.letters)."""
    lang = lang if isinstance(lang, str) else ""
    op = rng.choice(_CHAR_OPS if len(graphemes.split(word)) > 1 else _ONE_CHAR_OPS)
    return op(word, rng, lang) or _insert(word, rng, lang)


def keyboard_edit(word: str, rng: Draws, lang: str) -> str:
    """Replace one character by an adjacent key of the language's layout, else of the layout
    usual for the word's script; words neither covers get a substitution within the script."""
    script = keyboards.script_of(next(c for c in word if c.isalpha()))
    for layout in keyboards.layouts_for(lang, script):
        near = keyboards.neighbours(layout)
        slots = [(j, keys) for j, c in enumerate(word)
                 if _editable(word, j) and (keys := _same_class(c, _adjacent(c, near), lang))]
        if slots:
            at, keys = rng.choice(slots)
            return word[:at] + keys[rng.below(len(keys))] + word[at + 1:]
    return _substitute(word, rng, lang) or char_edit(word, rng, lang)


_JOINERS = frozenset("\u200c\u200d")


def _editable(word: str, j: int) -> bool:
    """Whether word[j] can be retyped without leaving a joiner or virama dangling: not a
    virama (it makes the conjunct), not a joiner, not next to one."""
    around = word[max(j - 1, 0):j + 2]
    return unicodedata.combining(word[j]) != 9 and not _JOINERS & set(around)


def _same_class(ch: str, keys: str, lang: str) -> str:
    """The keys that can take ch's place without breaking its cluster: a mark (vowel sign) for a
    mark, and for a letter a letter of the language's own alphabet (languages.letters: the
    Arabic layout that Persian types on has keys for ة and ي, Persian does not write them; a
    Thai leading vowel cannot carry the marks a consonant had)."""
    if unicodedata.category(ch)[0] == "M":
        return "".join(k for k in keys if unicodedata.category(k)[0] == "M")
    own = languages.letters(lang, ch) if languages.has_alphabet(lang, ch) else None
    return "".join(k for k in keys if unicodedata.category(k)[0] != "M" and (own is None or k.lower() in own))


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
    return keyboard_edit(word, rng, lang) if rng.below(2) else char_edit(word, rng, lang)
