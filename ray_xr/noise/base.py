"""Small types the noise modules share: resources, draws and moves.

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Sequence, TypeVar

T = TypeVar("T")


NOISE_FILES = ("typo_files", "lexicon_files", "profiles")  # the NoiseResources fields, a sweep's noise.<field>


@dataclass(frozen=True)
class NoiseResources:
    """User files some kinds need, keyed by language code."""

    typo_files: Mapping[str, str] = field(default_factory=dict)  # `correct<TAB>misspelling` lines
    lexicon_files: Mapping[str, str] = field(default_factory=dict)  # MUSE `src tgt` lines
    profiles: Mapping[str, str] = field(default_factory=dict)  # typo profiles (`ray-xr noise fit`)

    def __post_init__(self) -> None:
        # Frozen all the way down: a shared resources object must not change under a sweep.
        object.__setattr__(self, "typo_files", MappingProxyType(dict(self.typo_files)))
        object.__setattr__(self, "lexicon_files", MappingProxyType(dict(self.lexicon_files)))
        object.__setattr__(self, "profiles", MappingProxyType(dict(self.profiles)))


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


def base_lang(lang: str) -> str:
    return lang.replace("_", "-").split("-")[0].lower()
