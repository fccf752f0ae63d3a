"""Word-level input noise for robustness sweeps: a registry of kinds and one engine.

Semantics shared by every kind:

* `level` is the fraction of eligible words perturbed. Each word position gets a uniform key
  from a generator seeded by (seed, kind, lang, example_id, field); the k words with the
  smallest keys are perturbed. k is level * n_eligible rounded stochastically (floor after
  adding a uniform draw from the same generator), so each sentence is exact up to rounding
  and a corpus is unbiased even when sentences are short: plain round() would perturb no
  word at level 0.1 in any sentence under five words. Keys and the rounding draw do not
  depend on the level, so levels nest: the words perturbed at 0.1 are perturbed at 0.2.
* The edit of word i comes from its own generator, seeded by the same tuple plus i, so a
  word perturbed at 0.1 gets the same edit at 0.2.
* All randomness is read from SHAKE-128 streams of a canonical JSON key, never from the
  salted hash(), so outputs are identical across processes and machines.
* Protected words are never edited, dropped or moved, and are not eligible.
* Eligibility: char and keyboard noise need a letter to act on, so tokens without one
  (punctuation, digits, symbols) are not eligible and do not count towards the level. Word
  noise takes any token. Realworld and codeswitch take only words their file has an entry
  for (matched as written, else in lower case with the casing carried over), so for them
  n_perturbed / n_words falls below the level by the share of words the file lacks.
* Word noise drops a chosen word or swaps it with its right neighbour. Swaps are of disjoint
  adjacent pairs: a chosen word already moved by its left neighbour's swap keeps that move,
  and a swap with no right neighbour, or a protected one, becomes a drop.
* Keyboard noise uses the language's layout (en, de, fr, es, tr, ru, el, ar, hi, th), else
  the layout usual for the word's script (Latin: QWERTY, Cyrillic: ЙЦУКЕН, ...), else a
  random substitution within the script (e.g. Georgian, Han).
* Model-aware kinds (`attack`) are registry entries too, flagged by `model_aware` (where their
  evaluation lives); the text engine refuses them, and offers `candidates` instead: the
  deterministic edits such a kind may choose from, and `budget`: how many words it may edit
  (the same rounding as above, so attack budgets nest across levels as well).

Standard library only: `ray-xr noise show` imports this and must start in about a second.
"""
from __future__ import annotations

import hashlib
import heapq
import json
import math
import numbers
import operator
import struct
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ray_xr.noise import keyboards, languages
from ray_xr.noise.base import Draws, Move, NoiseResources, base_lang
from ray_xr.errors import NoiseError
from ray_xr.noise.edits import attack_candidate, char_edit, has_letter, keyboard_edit, word_move
from ray_xr.noise.tables import has_options, lookup_edit, resource_path, table_setup


@dataclass(frozen=True)
class Perturbation:
    words: tuple[str, ...]  # output words
    source: tuple[int, ...]  # source[i]: index in the input of output word i
    n_perturbed: int  # input words chosen and edited (dropped, swapped or rewritten)
    n_words: int  # input words


@dataclass(frozen=True)
class NoiseKind:
    """One kind of noise. `setup` turns (lang, resources) into the context the others receive;
    `edit` must return a word different from its input, or a Move."""

    name: str
    summary: str
    eligible: Callable[[str, Any], bool]
    edit: Callable[[str, Draws, Any], str | Move]
    setup: Callable[[str, NoiseResources], Any] = lambda lang, resources: lang
    resource: str | None = None  # the NoiseResources field it reads ("typo_files"), if any
    moves_words: bool = False  # edits may drop or reorder words (not only rewrite them)
    # "module:function" that evaluates a model under this kind; its edits are candidates only
    model_aware: str | None = None
    families: tuple[str, ...] | None = None  # the task families it applies to; None: all
    # read from a published noisy test set (noise.published), not generated: ray_xr.tasks.load
    published: bool = False

    @property
    def needs_model(self) -> bool:
        return self.model_aware is not None


def resource_file(kind: str, lang: str, resources: NoiseResources | None) -> str | None:
    """The file a kind reads for a language (the language's own, else its base language's:
    pt-BR falls back to pt), or None when the kind reads no file or none is given."""
    spec = _kind(kind)
    if spec.resource is None or resources is None:
        return None
    return resource_path(getattr(resources, spec.resource), lang)


def _typo_setup(lang: str, resources: NoiseResources):
    from ray_xr.noise import typo  # lazy: the profile machinery, which `noise show --kind char` does without

    return typo.setup(lang, resources)


def _typo_edit(word: str, rng: Draws, profile) -> str:
    from ray_xr.noise import typo  # lazy, as _typo_setup (imported once, then a dict lookup)

    return typo.typo_edit(word, rng, profile)


# --- the registry ---------------------------------------------------------------------------

NOISE_KINDS: dict[str, NoiseKind] = {kind.name: kind for kind in (
    NoiseKind("char", "one random insertion, deletion, substitution (own alphabet) or transposition of a character",
              eligible=has_letter, edit=char_edit),
    NoiseKind("keyboard", "one character replaced by an adjacent key of the language's keyboard",
              eligible=has_letter, edit=keyboard_edit, setup=lambda lang, _: base_lang(lang)),
    NoiseKind("word", "word dropped or swapped with its right neighbour",
              eligible=lambda word, _: True, edit=word_move, moves_words=True),
    NoiseKind("realworld", "word replaced by a real misspelling from the language's typo file",
              eligible=has_options, edit=lookup_edit, resource="typo_files",
              setup=table_setup("typo_files", "typo file ('correct<TAB>misspelling' lines)", "\t")),
    NoiseKind("typo", "a misspelling drawn from the language's typo profile, fitted to real pairs (`noise fit`)",
              eligible=has_letter, edit=_typo_edit, resource="profiles", setup=_typo_setup),
    NoiseKind("realtypos", "the published real-typo test set (Stickland et al. 2023), aligned to its clean original",
              eligible=lambda word, _: False, edit=lambda word, rng, _: word, published=True),
    NoiseKind("codeswitch", "word replaced by its translation from a bilingual lexicon",
              eligible=has_options, edit=lookup_edit, resource="lexicon_files",
              setup=table_setup("lexicon_files", "bilingual lexicon (MUSE 'src tgt' lines)", None)),
    NoiseKind("attack", "greedy character edits that most lower the gold label's probability (needs the model)",
              eligible=has_letter, edit=attack_candidate, setup=lambda lang, _: base_lang(lang),
              model_aware="ray_xr.run.attack:evaluate", families=("classification", "tagging")),
)}


# --- the engine -------------------------------------------------------------------------------


def perturb_words(words: Sequence[str], kind: str, level: float, *, lang: str, seed: int,
                  example_id: str, field: str = "", protect: Sequence[bool] | None = None,
                  resources: NoiseResources | None = None) -> Perturbation:
    """Perturb a fraction `level` of the eligible words (see the module docstring)."""
    if _kind(kind).needs_model:
        raise NoiseError(f"noise kind {kind!r} needs the model under evaluation: it runs inside"
                         " `ray-xr run` only (its candidate edits: noise.candidates)")
    if _kind(kind).published:
        raise NoiseError(f"noise kind {kind!r} is a published noisy test set, read rather than generated:"
                         " name it in a sweep's noise.published, or compare it with `ray-xr noise stats --noisy`")
    spec, words, protect, context, key, eligible = _prepare(words, kind, level, lang, seed, example_id, field,
                                                            protect, resources)
    chosen = _choose(key, len(words), eligible, level)
    # The JSON key ends with "]", so appending "#i" keeps every word's key distinct.
    edits = {i: spec.edit(words[i], Draws(key + b"#%d" % i), context) for i in chosen}
    out, source = _assemble(words, edits, protect)
    return Perturbation(out, source, len(chosen), len(words))


def candidates(words: Sequence[str], kind: str, level: float, *, lang: str, seed: int, example_id: str,
               field: str = "", protect: Sequence[bool] | None = None, per_word: int = 3,
               resources: NoiseResources | None = None) -> tuple[int, dict[int, tuple[str, ...]]]:
    """For a model-aware kind: the budget (how many words it may edit at this level, the same
    stochastic rounding as the text engine) and up to `per_word` distinct candidate edits of
    each eligible word, all deterministic in (seed, kind, lang, example_id, field, word)."""
    spec, words, protect, context, key, eligible = _prepare(words, kind, level, lang, seed, example_id, field,
                                                            protect, resources)
    found = {}
    for i in eligible:
        options = (spec.edit(words[i], Draws(key + b"#%d/%d" % (i, c)), context) for c in range(2 * per_word))
        unique = [o for o in dict.fromkeys(options) if isinstance(o, str) and o != words[i]][:per_word]
        if unique:
            found[i] = tuple(unique)
    return _budget(key, len(words), len(found), level), found


def _prepare(words, kind, level, lang, seed, example_id, field, protect, resources):
    """What both the text engine and the attack's candidates start from: the checked inputs,
    the kind's context (e.g. its typo table), the example's key and its eligible positions."""
    spec = _kind(kind)
    _check_level(level)
    words = tuple(words)
    protect = _check_protect(protect, len(words))
    context = spec.setup(lang, resources or NoiseResources())
    key = _key(seed, kind, lang, example_id, field)
    eligible = [i for i, w in enumerate(words) if not protect[i] and spec.eligible(w, context)]
    return spec, words, protect, context, key, eligible


def _key(seed: int, kind: str, lang: str, example_id: str, field: str) -> bytes:
    return json.dumps([_check_seed(seed), kind, lang, example_id, field]).encode()


def _budget(key: bytes, n: int, n_eligible: int, level: float) -> int:
    carry = int.from_bytes(hashlib.shake_128(key).digest(8), "big")  # _choose's carry: SHAKE is prefix-stable
    return min(math.floor(level * n_eligible + (carry >> 11) * 2.0**-53), n_eligible)


def _choose(key: bytes, n: int, eligible: list[int], level: float) -> list[int]:
    """The round-off carry, then one 64-bit key per position (protected or not, so that
    protecting a word does not reshuffle the others), all from one digest."""
    carry, *keys = struct.unpack(f">{n + 1}Q", hashlib.shake_128(key).digest(8 * (n + 1)))
    k = min(math.floor(level * len(eligible) + (carry >> 11) * 2.0**-53), len(eligible))
    return sorted(heapq.nsmallest(k, eligible, key=keys.__getitem__))


def _assemble(words: tuple[str, ...], edits: dict[int, str | Move],
              protect: Sequence[bool]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Apply edits left to right. A swap pairs word i with i+1; if i+1 was chosen too, being
    moved is its perturbation and its own move is skipped, so every chosen word changes."""
    out = list(words)
    order = list(range(len(words)))
    dropped: set[int] = set()
    moved: set[int] = set()
    for i, edit in edits.items():
        if isinstance(edit, str):
            out[i] = edit
        elif i in moved:
            continue
        elif edit is Move.SWAP and i + 1 < len(words) and not protect[i + 1]:
            order[i], order[i + 1] = i + 1, i
            moved.update((i, i + 1))
        else:
            dropped.add(i)
    source = tuple(j for j in order if j not in dropped)
    return tuple(out[j] for j in source), source


def _kind(kind: str) -> NoiseKind:
    if kind not in NOISE_KINDS:
        raise NoiseError(f"unknown noise kind {kind!r}; expected one of: {', '.join(sorted(NOISE_KINDS))}")
    return NOISE_KINDS[kind]


def _check_level(level: float) -> None:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 <= level <= 1:
        raise NoiseError(f"noise level must be a number in [0, 1], got {level!r}")


def _check_seed(seed: int) -> int:
    try:
        return operator.index(seed)
    except TypeError:
        raise NoiseError(f"noise seed must be an integer, got {seed!r}") from None


def _check_protect(protect: Sequence[bool] | None, n: int) -> Sequence[bool]:
    if protect is None:
        return (False,) * n
    if len(protect) != n:
        raise NoiseError(f"protect has {len(protect)} flags for {n} words; expected one per word")
    return protect


# --- text ---------------------------------------------------------------------------------------

# Languages written without spaces, whose characters are words of their own.
_UNSPACED_LANGS = frozenset({"zh", "ja", "th", "lo", "km", "my"})


def split_words(text: str, lang: str) -> tuple[list[str], list[bool] | None]:
    """Words, and for unspaced languages whether whitespace preceded each (None: all did)."""
    if base_lang(lang) in _UNSPACED_LANGS:
        return keyboards.split_unspaced(text)
    return text.split(), None


def join_words(words: Sequence[str], source: Sequence[int], spaced: Sequence[bool] | None) -> str:
    """The inverse of split_words: single spaces, or the original spacing of unspaced text."""
    if spaced is None:
        return " ".join(words)
    return "".join(" " * (j > 0 and spaced[i]) + w for j, (w, i) in enumerate(zip(words, source)))


Protector = Callable[[Sequence[str]], Sequence[bool]]


def _perturb_text(text: str, kind: str, level: float, lang: str, seed: int, example_id: str,
                  field: str, resources: NoiseResources | None,
                  protect: Protector | None = None) -> tuple[str, Perturbation]:
    words, spaced = split_words(text, lang)
    result = perturb_words(words, kind, level, lang=lang, seed=seed, example_id=example_id,
                           field=field, resources=resources, protect=protect(words) if protect else None)
    return join_words(result.words, result.source, spaced), result


def perturb_text(text: str, kind: str, level: float, *, lang: str, seed: int, example_id: str,
                 field: str = "", resources: NoiseResources | None = None,
                 protect: Protector | None = None) -> str:
    """Perturb whitespace-separated words and join them with single spaces. In languages
    written without spaces each character (with its combining marks) is a word, runs of
    other scripts (Latin names, digits) stay whole, and the original spacing is kept.
    `protect` maps the words to one flag each: True keeps the word as it is."""
    return _perturb_text(text, kind, level, lang, seed, example_id, field, resources, protect)[0]


def shown(kind: str, level: float, lang: str, seed: int, text: str, resources: NoiseResources | None = None,
          protect: Protector | None = None) -> tuple[str, str]:
    """The perturbed text and a human-readable before/after of it, for `ray-xr noise show`: one
    perturbation, so `-v` describes exactly the text printed (with --protect too)."""
    out, result = _perturb_text(text, kind, level, lang, seed, "show", "", resources, protect)
    lines = [
        f"{kind} noise ({NOISE_KINDS[kind].summary})",
        f"level {level:g}, lang {lang}, seed {seed}: {result.n_perturbed} of {result.n_words} words perturbed",
    ]
    note = noise_note(kind, lang)
    return out, "\n".join(lines + ([note] if note else []) + [f"in:  {text}", f"out: {out}"])


def noise_note(kind: str, lang: str) -> str | None:
    """What a kind stands in with for a language (the keyboard it types on, or its fallback):
    said in `noise show -v` and in the evaluation's stage record."""
    return languages.layout_note(lang) if kind in ("keyboard", "attack") else None
