"""Edit profiles: what changed between a clean word and its noisy form, and the profile of a
corpus of (clean, noisy) word pairs (`ray-xr noise stats`, and what `noise fit` fits).

One edit is one operation of the optimal string alignment distance (Damerau-Levenshtein with
adjacent transpositions, each substring edited once), counted on user-perceived characters
(extended grapheme clusters, graphemes.split), so a vowel sign or a virama never counts as an
edit of its own. A changed word is typed by its edit script: `insertion`, `deletion`,
`substitution`, `transposition` when it is one operation, `multiple` when more.

Per edit the profile records where it falls in the word (`first` / `inner` / `last`
character; an insertion before the first character is `first`, after the last `last`), and per
substitution whether the new character is a key next to the old one on the language's layout
(keyboards.py, case ignored), a change of accent only (same base letter), or a change of case.
`case_only` counts the changed words that differ in case only (`Communes` -> `communes`): real
Wikipedia edits hold many, synthetic noise none.

Standard library only (graphemes.split reads `regex` lazily), like ray_xr.noise.
"""
from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from ray_xr.noise import graphemes, keyboards

EDIT_TYPES = ("insertion", "deletion", "substitution", "transposition", "multiple")
POSITIONS = ("first", "inner", "last")
SUBSTITUTIONS = ("keyboard", "accent", "case", "other")


@dataclass(frozen=True)
class Op:
    kind: str  # insertion, deletion, substitution, transposition
    at: int  # grapheme index in the clean word (an insertion: the index it is inserted before)
    old: str  # the clean grapheme(s): "" for an insertion, two for a transposition
    new: str  # the noisy grapheme(s): "" for a deletion


def edit_script(a: Sequence[str], b: Sequence[str]) -> list[Op]:
    """A shortest optimal-string-alignment edit script turning a into b (sequences of graphemes)."""
    n, m = len(a), len(b)
    d = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        d[i][0] = i
    for j in range(m + 1):
        d[0][j] = j
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1] and a[i - 1] != b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    ops: list[Op] = []
    i, j = n, m
    while i or j:  # walk back, preferring a match, then substitution, transposition, deletion, insertion
        if i and j and a[i - 1] == b[j - 1] and d[i][j] == d[i - 1][j - 1]:
            i, j = i - 1, j - 1
        elif i and j and d[i][j] == d[i - 1][j - 1] + 1:
            ops.append(Op("substitution", i - 1, a[i - 1], b[j - 1]))
            i, j = i - 1, j - 1
        elif (i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]
              and d[i][j] == d[i - 2][j - 2] + 1):
            ops.append(Op("transposition", i - 2, a[i - 2] + a[i - 1], b[j - 2] + b[j - 1]))
            i, j = i - 2, j - 2
        elif i and d[i][j] == d[i - 1][j] + 1:
            ops.append(Op("deletion", i - 1, a[i - 1], ""))
            i -= 1
        else:
            ops.append(Op("insertion", i, "", b[j - 1]))
            j -= 1
    return ops[::-1]


def position(op: Op, length: int) -> str:
    """first / inner / last character of a word of `length` graphemes."""
    last = op.at + (1 if op.kind == "transposition" else 0)
    if op.at == 0:
        return "first"
    if (op.kind == "insertion" and op.at >= length) or (op.kind != "insertion" and last >= length - 1):
        return "last"
    return "inner"


def _base(g: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", g) if not unicodedata.combining(c))


def substitution_class(old: str, new: str, lang: str) -> str:
    """keyboard (an adjacent key), accent (same base letter), case, or other."""
    if old.lower() == new.lower() or old.casefold() == new.casefold():
        return "case"
    if _base(old).lower() == _base(new).lower():
        return "accent"
    low = old.lower()
    script = keyboards.script_of(low[0]) if low else None
    for layout in keyboards.layouts_for(lang, script):
        near = keyboards.neighbours(layout)
        keys = near.get(low) or near.get(_base(low), "")
        if new.lower() in keys:
            return "keyboard"
    return "other"


@dataclass(frozen=True)
class WordEdit:
    type: str  # one of EDIT_TYPES
    ops: tuple[Op, ...]
    positions: tuple[str, ...]  # one per op
    case_only: bool


def classify(clean: str, noisy: str) -> WordEdit:
    """The edit that turned `clean` into `noisy` (two different words)."""
    a, b = graphemes.split(clean), graphemes.split(noisy)
    ops = tuple(edit_script(a, b))
    kind = ops[0].kind if len(ops) == 1 else "multiple"
    return WordEdit(kind, ops, tuple(position(op, len(a)) for op in ops),
                    clean != noisy and clean.casefold() == noisy.casefold())


def _shares(counts: Counter, names: Iterable[str]) -> dict[str, float]:
    total = sum(counts[n] for n in names)
    return {n: (counts[n] / total if total else 0.0) for n in names}


class Tally:
    """Counts over changed words, from which both the profile and a typo kind's tables come."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.words = self.changed = self.dropped = self.inserted = self.case_only = 0
        self.types, self.plain_types, self.where, self.subs, self.ops_per = (Counter() for _ in range(5))
        self.where_by, self.multiple_ops, self.insertions, self.inventory = {}, Counter(), Counter(), Counter()
        self.plain_subs = Counter()  # substitutions in words changed in more than case

    def add(self, clean: str | None, noisy: str | None) -> None:
        if clean is None:
            self.inserted += noisy is not None and any(c.isalpha() for c in noisy)
            return
        if not any(c.isalpha() for c in clean):
            return
        self.words += 1
        self.inventory.update(g for g in graphemes.split(clean) if g[0].isalpha())
        if noisy is None:
            self.dropped += 1
        elif noisy != clean:
            self._changed(clean, classify(clean, noisy))

    def _changed(self, clean: str, edit: WordEdit) -> None:
        self.changed += 1
        self.case_only += edit.case_only
        self.types[edit.type] += 1
        self.ops_per[len(edit.ops)] += 1
        self.where.update(edit.positions)
        if not edit.case_only:
            self.plain_types[edit.type] += 1
        a = graphemes.split(clean)
        for op, where in zip(edit.ops, edit.positions):
            kind = "case" if edit.case_only else op.kind
            self.where_by.setdefault(kind, Counter())[where] += 1
            if len(edit.ops) > 1:
                self.multiple_ops[op.kind] += 1
            if op.kind == "substitution":
                how = substitution_class(op.old, op.new, self.lang)
                self.subs[how] += 1
                self.plain_subs[how] += not edit.case_only
            elif op.kind == "insertion":
                self.insertions[_insertion_class(a, op, self.lang)] += 1

    def profile(self) -> dict:
        words, changed, sub_total = self.words, self.changed, sum(self.subs.values())
        return {
            "lang": self.lang,
            "words": words,
            "changed": changed,
            "changed_words": changed / words if words else 0.0,
            "dropped_words": self.dropped / words if words else 0.0,
            "inserted_words": self.inserted,
            "edit_types": _shares(self.types, EDIT_TYPES),
            "keyboard_neighbour": self.subs["keyboard"] / sub_total if sub_total else 0.0,
            "substitutions": _shares(self.subs, SUBSTITUTIONS),
            "position": _shares(self.where, POSITIONS),
            "case_only": self.case_only / changed if changed else 0.0,
            "edits_per_word": {str(k): v / changed for k, v in sorted(self.ops_per.items())},
        }

    def tables(self) -> dict:
        """What the calibrated `typo` kind draws from (noise/typo.py): the shares of the words
        that change more than in case, by edit type, position per edit, and how the new
        characters relate to the old ones."""
        return {
            "case_only": self.case_only / self.changed if self.changed else 0.0,
            "edit_types": _shares(self.plain_types, EDIT_TYPES),
            "edits_per_multiple": {str(k): v for k, v in sorted(self.ops_per.items()) if k > 1},
            "multiple_ops": _shares(self.multiple_ops, EDIT_TYPES[:4]),
            "position": {kind: _shares(c, POSITIONS) for kind, c in sorted(self.where_by.items())},
            "substitutions": _shares(self.plain_subs, SUBSTITUTIONS),
            "insertions": _shares(self.insertions, INSERTIONS),
            # the language's own characters (what substitutions and insertions draw from), by frequency
            "inventory": dict(self.inventory.most_common(400)),
        }


INSERTIONS = ("double", "keyboard", "other")


def _insertion_class(a: Sequence[str], op: Op, lang: str) -> str:
    """double (a copy of a neighbouring character), keyboard (a key next to one), or other."""
    around = [a[k] for k in (op.at - 1, op.at) if 0 <= k < len(a)]
    if op.new in around:
        return "double"
    if any(substitution_class(g, op.new, lang) == "keyboard" for g in around):
        return "keyboard"
    return "other"


def profile(pairs: Iterable[tuple[str | None, str | None]], lang: str) -> dict:
    """The edit profile of (clean, noisy) word pairs: equal pairs are unchanged words, (w, None)
    a dropped word, (None, w) an inserted one. Words without a letter are not counted (as the
    noise kinds, which never pick them)."""
    tally = Tally(lang)
    for clean, noisy in pairs:
        tally.add(clean, noisy)
    return tally.profile()


def describe(stats: Mapping) -> str:
    """The profile as a few lines for the terminal."""
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    lines = []
    if "pairs" in stats:
        lines.append(f"examples: {stats['aligned']} of {stats['pairs']} noisy examples aligned to the clean file")
    lines += [
        f"words: {stats['words']}, changed {stats['changed']} ({pct(stats['changed_words'])}),"
        f" dropped {pct(stats['dropped_words'])}",
        "edit types: " + ", ".join(f"{k} {pct(v)}" for k, v in stats["edit_types"].items()),
        "position: " + ", ".join(f"{k} {pct(v)}" for k, v in stats["position"].items()),
        "substitutions: " + ", ".join(f"{k} {pct(v)}" for k, v in stats["substitutions"].items())
        + f" (keyboard neighbour {pct(stats['keyboard_neighbour'])})",
        f"case only: {pct(stats['case_only'])} of changed words",
    ]
    return "\n".join(lines)
