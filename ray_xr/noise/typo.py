"""The calibrated `typo` kind: edits drawn from a per-language profile fitted to real (clean,
misspelled) word pairs by `ray-xr noise fit` (Tally.tables in profile.py).

A chosen word (the engine picks them: level = fraction of words, nested, deterministic) gets,
with the profile's `case_only` share, a change of case at a position drawn from the case
changes' positions; else an edit type drawn from the profile's types (insertion, deletion,
substitution, transposition, or `multiple`: as many edits as the profile's multi-edit words
have), each at a position (first, inner, last character) drawn for its type. A substituted
character is a keyboard neighbour, an accent variant, a case change or another character in the
profile's shares; an inserted one doubles a neighbour, is a key next to one, or another. The
other characters come from the profile's inventory: the graphemes of the clean text it was
fitted on, by frequency, so every edit stays inside the language's own alphabet. Edits act on
grapheme clusters, and an edit is kept only when the edit script of the result is of the type
drawn (so `noise stats` of this kind reproduces the profile's edit types).

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

import json
import os
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

from ray_xr.errors import NoiseError
from ray_xr.noise import graphemes, keyboards
from ray_xr.noise.base import Draws, NoiseResources
from ray_xr.noise.profile import classify, substitution_class
from ray_xr.noise.tables import resource_path

FORMAT = "ray-xr typo profile"
VERSION = 1
TRIES = 8


@dataclass(frozen=True)
class Profile:
    lang: str
    tables: Mapping
    inventory: tuple[str, ...]
    weights: tuple[int, ...]


def fit(tally, source: Mapping) -> dict:
    """The JSON document `ray-xr noise fit` writes: the real profile (for the record and for
    `noise stats` comparisons) and the tables the kind draws from."""
    return {"format": FORMAT, "version": VERSION, "lang": tally.lang, "source": dict(source),
            "profile": tally.profile(), "tables": tally.tables()}


def setup(lang: str, resources: NoiseResources) -> Profile:
    path = resource_path(resources.profiles, lang)
    if path is None:
        raise NoiseError(f"no typo profile for language {lang!r}: set noise.profiles.{lang} (or --profile),"
                         " a file written by `ray-xr noise fit`")
    try:
        stat = os.stat(path)
    except OSError as err:
        raise NoiseError(f"typo profile for language {lang!r} not readable: {path}: {err.strerror}") from None
    return _read(os.fspath(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _read(path: str, _mtime: int, _size: int) -> Profile:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise NoiseError(f"{path}: not a typo profile ({err}); expected the JSON `ray-xr noise fit` writes") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        raise NoiseError(f"{path}: not a {FORMAT} version {VERSION}; write one with `ray-xr noise fit`")
    tables = doc["tables"]
    if not sum(tables["edit_types"].values()) and not tables["case_only"]:
        raise NoiseError(f"{path}: the profile holds no edits (fitted on pairs that never differ)")
    inventory = {g: n for g, n in tables["inventory"].items() if g and g[0].isalpha()}
    return Profile(doc["lang"], tables, tuple(inventory), tuple(inventory.values()))


# --- drawing -------------------------------------------------------------------------------------


def _uniform(rng: Draws) -> float:
    return rng.below(1 << 53) * 2.0**-53


def _pick(rng: Draws, shares: Mapping[str, float]) -> str | None:
    total = sum(shares.values())
    if total <= 0:
        return None
    x, acc = _uniform(rng) * total, 0.0
    for name, share in shares.items():
        acc += share
        if x < acc:
            return name
    return next(name for name, share in reversed(list(shares.items())) if share > 0)


def _from_inventory(rng: Draws, p: Profile, avoid: str = "") -> str | None:
    for _ in range(TRIES):
        g = rng.choice(p.inventory) if not p.weights else _weighted(rng, p)
        if g.casefold() != avoid.casefold():
            return g
    return None


def _weighted(rng: Draws, p: Profile) -> str:
    x = rng.below(sum(p.weights))
    for g, w in zip(p.inventory, p.weights):
        x -= w
        if x < 0:
            return g
    return p.inventory[-1]


def _index(rng: Draws, where: str, n: int, insertion: bool) -> int | None:
    """A grapheme index of a word of n graphemes in the position class (an insertion: 0..n)."""
    top = n if insertion else n - 1
    if where == "first":
        return 0
    if where == "last":
        return top if top > 0 else None
    return 1 + rng.below(top - 1) if top >= 2 else None


def _recase(g: str, like: str) -> str:
    return g.upper() if like[:1].isupper() and len(g.upper()) == len(g) else g


def _flip(g: str) -> str | None:
    flipped = g.lower() if g != g.lower() else g.upper()
    return flipped if flipped != g and len(flipped) == len(g) else None


def _accent(rng: Draws, g: str, p: Profile) -> str | None:
    base = lambda s: "".join(c for c in unicodedata.normalize("NFD", s) if not unicodedata.combining(c))  # noqa: E731
    same = [h for h in p.inventory if base(h).lower() == base(g).lower() and h.lower() != g.lower()]
    if same:
        return _recase(rng.choice(same), g)
    stripped = base(g)
    return stripped if stripped and stripped != g else None


def _keyboard(rng: Draws, g: str, p: Profile) -> str | None:
    script = keyboards.script_of(g[0])
    for layout in keyboards.layouts_for(p.lang, script):
        keys = keyboards.neighbours(layout).get(g, "")
        if keys:
            return keys[rng.below(len(keys))]
    return None


def _substitute(rng: Draws, g: str, p: Profile) -> str | None:
    how = _pick(rng, p.tables["substitutions"]) or "other"
    new = {"case": lambda: _flip(g), "accent": lambda: _accent(rng, g, p),
           "keyboard": lambda: _keyboard(rng, g, p)}.get(how, lambda: None)()
    for _ in range(TRIES if new is None else 0):
        # another character, and not a neighbour or accent variant by chance (a random Latin
        # letter is a key next to the old one one time in five), so the classes keep their shares
        drawn = _from_inventory(rng, p, avoid=g)
        if drawn and substitution_class(g, drawn, p.lang) == "other":
            return _recase(drawn, g)
    return new


def _insertion(rng: Draws, a: Sequence[str], at: int, p: Profile) -> str | None:
    around = [a[k] for k in (at - 1, at) if 0 <= k < len(a)]
    how = _pick(rng, p.tables["insertions"]) or "other"
    if how == "double":
        return rng.choice(around).lower() if at == 0 else rng.choice(around)
    if how == "keyboard":
        found = _keyboard(rng, rng.choice(around).lower(), p)
        if found:
            return found
    return _from_inventory(rng, p)


def _op(rng: Draws, a: list[str], kind: str, p: Profile) -> list[str] | None:
    """One edit of `kind` on the graphemes a, at a position drawn for the kind, or None."""
    where = _pick(rng, p.tables["position"].get(kind, {})) or "inner"
    at = _index(rng, where, len(a), kind == "insertion")
    if at is None:
        return None
    if kind == "insertion":
        g = _insertion(rng, a, at, p)
        return a[:at] + [g] + a[at:] if g else None
    if kind == "deletion":
        return a[:at] + a[at + 1:] if len(a) > 1 else None
    if kind == "transposition":
        at = min(at, len(a) - 2)
        if at < 0 or a[at] == a[at + 1]:
            return None
        return a[:at] + [a[at + 1], a[at]] + a[at + 2:]
    g = _substitute(rng, a[at], p)
    return a[:at] + [g] + a[at + 1:] if g and g != a[at] else None


def _case(rng: Draws, a: list[str], p: Profile) -> list[str] | None:
    where = _pick(rng, p.tables["position"].get("case", {"first": 1.0})) or "first"
    at = _index(rng, where, len(a), False)
    cased = [k for k, g in enumerate(a) if _flip(g)]
    if not cased:
        return None
    at = at if at is not None and at in cased else cased[0]
    return a[:at] + [_flip(a[at])] + a[at + 1:]


def _realise(word: str, kind: str, rng: Draws, p: Profile) -> str | None:
    """One try at an edit of the drawn kind ("case", an edit type or "multiple"), or None."""
    a = list(graphemes.split(word))
    if kind == "case":
        out = _case(rng, a, p)
        return "".join(out) if out else None
    if kind != "multiple":
        out = _op(rng, a, kind, p)
        return "".join(out) if out and classify(word, "".join(out)).type == kind else None
    n = int(_pick(rng, {k: float(v) for k, v in p.tables["edits_per_multiple"].items()}) or 2)
    out = a
    for _ in range(n):
        out = _op(rng, out, _pick(rng, p.tables["multiple_ops"]) or "substitution", p) or out
    text = "".join(out)
    return text if text != word and len(classify(word, text).ops) > 1 else None


def typo_edit(word: str, rng: Draws, p: Profile) -> str:
    """A misspelling of `word` drawn from the profile (see the module docstring); after TRIES
    draws that do not give an edit of the drawn type, a substitution from the inventory.
    Punctuation around the word stays as it is (the profile was fitted on words without it)."""
    i, j = 0, len(word)
    while i < j and not word[i].isalnum():
        i += 1
    while j > i and not word[j - 1].isalnum() and unicodedata.category(word[j - 1])[0] != "M":
        j -= 1
    if 0 < i or j < len(word):
        return word[:i] + typo_edit(word[i:j], rng, p) + word[j:] if i < j else word
    # The kind is drawn once and only its realisation retried: redrawing the kind after a
    # failed try would under-produce the kinds that fail most (multiple edits on short words).
    kind = "case" if _uniform(rng) < p.tables["case_only"] else _pick(rng, p.tables["edit_types"])
    for _ in range(TRIES if kind else 0):
        out = _realise(word, kind, rng, p)
        if out is not None and out != word:
            return out
    a = list(graphemes.split(word))
    at = rng.below(len(a))
    g = _from_inventory(rng, p, avoid=a[at]) or ("x" if a[at] != "x" else "y")
    return "".join(a[:at] + [_recase(g, a[at])] + a[at + 1:])
