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

import enum
import hashlib
import heapq
import json
import math
import numbers
import operator
import os
import struct
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ray_xr import keyboards

T = TypeVar("T")


class NoiseError(ValueError):
    """A noise request that cannot be served: unknown kind, bad level, missing resource."""


@dataclass(frozen=True)
class NoiseResources:
    """User files some kinds need, keyed by language code."""

    typo_files: Mapping[str, str] = field(default_factory=dict)  # `correct<TAB>misspelling` lines
    lexicon_files: Mapping[str, str] = field(default_factory=dict)  # MUSE `src tgt` lines

    def __post_init__(self) -> None:
        # Frozen all the way down: a shared resources object must not change under a sweep.
        object.__setattr__(self, "typo_files", MappingProxyType(dict(self.typo_files)))
        object.__setattr__(self, "lexicon_files", MappingProxyType(dict(self.lexicon_files)))


@dataclass(frozen=True)
class Perturbation:
    words: tuple[str, ...]  # output words
    source: tuple[int, ...]  # source[i]: index in the input of output word i
    n_perturbed: int  # input words chosen and edited (dropped, swapped or rewritten)
    n_words: int  # input words


class Draws:
    """Uniform draws from a SHAKE-128 stream of a key: the generator each word edit gets.

    Written out rather than a random.Random: Python only promises that random() repeats
    across versions (choice, randrange and shuffle have changed before), and seeding a
    Mersenne Twister costs more than a whole word edit.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._stream = b""
        self._used = 0

    def _next(self) -> int:
        if self._used + 8 > len(self._stream):
            # SHAKE output is prefix-stable, so a longer digest extends the same stream.
            self._stream = hashlib.shake_128(self._key).digest(2 * len(self._stream) + 64)
        self._used += 8
        return int.from_bytes(self._stream[self._used - 8:self._used], "big")

    def below(self, n: int) -> int:
        """Uniform in range(n), n > 0 (modulo bias under n / 2**64: negligible here)."""
        return self._next() % n

    def choice(self, seq: Sequence[T]) -> T:
        return seq[self.below(len(seq))]


class Move(enum.Enum):
    """Edits that change the word sequence rather than the word."""

    DROP = "drop"
    SWAP = "swap"  # with the right neighbour; a drop where there is none or it is protected


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

    @property
    def needs_model(self) -> bool:
        return self.model_aware is not None


# --- character edits ---------------------------------------------------------------------


def _has_letter(word: str, _context: Any = None) -> bool:
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


def _char_edit(word: str, rng: Draws, _context: Any = None) -> str:
    """One edit, uniform over the operations; insertion stands in for the rare one that cannot
    change this word ("aa" has nothing to transpose)."""
    op = rng.choice(_CHAR_OPS if len(word) > 1 else _ONE_CHAR_OPS)
    return op(word, rng) or _insert(word, rng)


def _keyboard_edit(word: str, rng: Draws, lang: str) -> str:
    """Replace one character by an adjacent key of the language's layout, else of the layout
    usual for the word's script; words neither covers get a substitution within the script."""
    script = keyboards.script_of(next(c for c in word if c.isalpha()))
    for layout in keyboards.layouts_for(lang, script):
        near = keyboards.neighbours(layout)
        slots = [(j, keys) for j, c in enumerate(word) if (keys := _adjacent(c, near))]
        if slots:
            at, keys = rng.choice(slots)
            return word[:at] + keys[rng.below(len(keys))] + word[at + 1:]
    return _substitute(word, rng) or _char_edit(word, rng)


def _adjacent(ch: str, near: Mapping[str, str]) -> str:
    """Keys next to `ch`; an accented letter off the layout is typed from its base key (ά on α)."""
    keys = near.get(ch)
    if keys is None:
        keys = near.get(unicodedata.normalize("NFD", ch)[0], "").replace(ch, "")
    return keys


def _word_move(word: str, rng: Draws, _context: Any) -> Move:
    return rng.choice((Move.DROP, Move.SWAP))


def _attack_candidate(word: str, rng: Draws, lang: str) -> str:
    """One candidate edit for the attack: a keyboard typo or a random character edit."""
    return _keyboard_edit(word, rng, lang) if rng.below(2) else _char_edit(word, rng)


# --- lookup kinds (realworld, codeswitch) --------------------------------------------------

Table = Mapping[str, tuple[str, ...]]


def _table_setup(files: str, what: str, sep: str | None) -> Callable[[str, NoiseResources], Table]:
    """A setup reading NoiseResources.<files>[lang]; `what` names the file in error messages."""

    def setup(lang: str, resources: NoiseResources) -> Table:
        path = _resource_path(getattr(resources, files), lang)
        if path is None:
            raise NoiseError(f"no {what} for language {lang!r}: set NoiseResources.{files}[{lang!r}]")
        try:
            stat = os.stat(path)
        except OSError as err:
            raise NoiseError(f"{what} for language {lang!r} not readable: {path}: {err.strerror}") from None
        return _read_table(os.fspath(path), stat.st_mtime_ns, stat.st_size, sep, what)

    return setup


def _resource_path(paths: Mapping[str, str], lang: str) -> str | None:
    return paths.get(lang) or paths.get(_base_lang(lang))


def resource_file(kind: str, lang: str, resources: NoiseResources | None) -> str | None:
    """The file a kind reads for a language (the language's own, else its base language's:
    pt-BR falls back to pt), or None when the kind reads no file or none is given."""
    spec = _kind(kind)
    if spec.resource is None or resources is None:
        return None
    return _resource_path(getattr(resources, spec.resource), lang)


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


def _has_options(word: str, table: Table) -> bool:
    return bool(_options(word, table))


def _lookup_edit(word: str, rng: Draws, table: Table) -> str:
    return rng.choice(_options(word, table))


# --- the registry ---------------------------------------------------------------------------

NOISE_KINDS: dict[str, NoiseKind] = {kind.name: kind for kind in (
    NoiseKind("char", "one random insertion, deletion, substitution (same script) or transposition",
              eligible=_has_letter, edit=_char_edit),
    NoiseKind("keyboard", "one character replaced by an adjacent key of the language's keyboard",
              eligible=_has_letter, edit=_keyboard_edit, setup=lambda lang, _: _base_lang(lang)),
    NoiseKind("word", "word dropped or swapped with its right neighbour",
              eligible=lambda word, _: True, edit=_word_move, moves_words=True),
    NoiseKind("realworld", "word replaced by a real misspelling from the language's typo file",
              eligible=_has_options, edit=_lookup_edit, resource="typo_files",
              setup=_table_setup("typo_files", "typo file ('correct<TAB>misspelling' lines)", "\t")),
    NoiseKind("codeswitch", "word replaced by its translation from a bilingual lexicon",
              eligible=_has_options, edit=_lookup_edit, resource="lexicon_files",
              setup=_table_setup("lexicon_files", "bilingual lexicon (MUSE 'src tgt' lines)", None)),
    NoiseKind("attack", "greedy character edits that most lower the gold label's probability (needs the model)",
              eligible=_has_letter, edit=_attack_candidate, setup=lambda lang, _: _base_lang(lang),
              model_aware="ray_xr.attack:evaluate"),
)}


# --- the engine -------------------------------------------------------------------------------


def perturb_words(words: Sequence[str], kind: str, level: float, *, lang: str, seed: int,
                  example_id: str, field: str = "", protect: Sequence[bool] | None = None,
                  resources: NoiseResources | None = None) -> Perturbation:
    """Perturb a fraction `level` of the eligible words (see the module docstring)."""
    spec = _kind(kind)
    if spec.needs_model:
        raise NoiseError(f"noise kind {kind!r} needs the model under evaluation: it runs inside"
                         " `ray-xr run` only (its candidate edits: noise.candidates)")
    _check_level(level)
    words = tuple(words)
    protect = _check_protect(protect, len(words))
    context = spec.setup(lang, resources or NoiseResources())
    key = _key(seed, kind, lang, example_id, field)
    eligible = [i for i, w in enumerate(words) if not protect[i] and spec.eligible(w, context)]
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
    spec = _kind(kind)
    _check_level(level)
    words = tuple(words)
    protect = _check_protect(protect, len(words))
    context = spec.setup(lang, resources or NoiseResources())
    key = _key(seed, kind, lang, example_id, field)
    eligible = [i for i, w in enumerate(words) if not protect[i] and spec.eligible(w, context)]
    found = {}
    for i in eligible:
        options = (spec.edit(words[i], Draws(key + b"#%d/%d" % (i, c)), context) for c in range(2 * per_word))
        unique = [o for o in dict.fromkeys(options) if isinstance(o, str) and o != words[i]][:per_word]
        if unique:
            found[i] = tuple(unique)
    return _budget(key, len(words), len(found), level), found


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


def _base_lang(lang: str) -> str:
    return lang.replace("_", "-").split("-")[0].lower()


def split_words(text: str, lang: str) -> tuple[list[str], list[bool] | None]:
    """Words, and for unspaced languages whether whitespace preceded each (None: all did)."""
    if _base_lang(lang) in _UNSPACED_LANGS:
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


def show(kind: str, level: float, lang: str, seed: int, text: str,
         resources: NoiseResources | None = None) -> str:
    """A human-readable before/after of one text, for `ray-xr noise show`."""
    out, result = _perturb_text(text, kind, level, lang, seed, "show", "", resources)
    return "\n".join((
        f"{kind} noise ({NOISE_KINDS[kind].summary})",
        f"level {level:g}, lang {lang}, seed {seed}: {result.n_perturbed} of {result.n_words} words perturbed",
        f"in:  {text}",
        f"out: {out}",
    ))
