# Run from the repository root: .venv/bin/python bench/bench_noise.py [--sentences 3000] [--repeats 3]
"""Noise throughput (sentences per second, one core) for each kind at level 0.2.

Where nlpaug is installed its closest augmenters run on the same sentences, configured to
match: the same fraction of words, one character per word, letters only. Each figure is the
best of --repeats runs, since the machine may be shared.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ray_xr.noise import NOISE_KINDS, NoiseResources, perturb_text  # noqa: E402

LEVEL = 0.2
VOCAB = (
    "the of and to in is was for that with as on by he it from at his an are were which be this "
    "had not first one their its new after but who they have has her she two been other when "
    "there all during into school time may years more most only over city some world would where "
    "later up such used many can state about national out known university united then made"
).split()


def sentences(n: int, rng: random.Random) -> list[str]:
    return [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(5, 30))) for _ in range(n)]


def misspellings(word: str, rng: random.Random) -> list[str]:
    """Two or three distinct one-edit misspellings, standing in for a real typo corpus."""
    found: dict[str, None] = {}
    while len(found) < rng.randint(2, 3):
        at = rng.randrange(len(word))
        typo = word[:at] + rng.choice("aeiourstnl") + word[at + 1:]
        if typo != word:
            found[typo] = None
    return list(found)


def write_resources(folder: str, rng: random.Random) -> tuple[NoiseResources, str]:
    """The same typo table in ray_xr's TSV format and nlpaug's space-separated one."""
    typos = {word: misspellings(word, rng) for word in VOCAB}
    ours, theirs = os.path.join(folder, "typos.tsv"), os.path.join(folder, "spelling.txt")
    Path(ours).write_text("".join(f"{w}\t{m}\n" for w, ms in typos.items() for m in ms), encoding="utf-8")
    Path(theirs).write_text("".join(f"{w} {' '.join(ms)}\n" for w, ms in typos.items()), encoding="utf-8")
    lexicon = os.path.join(folder, "en-de.txt")
    Path(lexicon).write_text("".join(f"{w} {w}_de\n" for w in VOCAB), encoding="utf-8")
    return NoiseResources(typo_files={"en": ours}, lexicon_files={"en": lexicon}), theirs


def rate(run: Callable[[int, str], object], texts: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for i, text in enumerate(texts):
            run(i, text)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def nlpaug_augmenters(spelling_path: str) -> dict[str, list[tuple[str, Callable[[int, str], object]]]]:
    try:
        import nlpaug.augmenter.char as nac
        import nlpaug.augmenter.word as naw
    except ImportError:
        return {}
    big = 10_000  # nlpaug caps words per sentence at 10 by default; ray_xr has no cap
    char = dict(aug_word_p=LEVEL, aug_word_max=big, aug_char_min=1, aug_char_max=1, min_char=1)
    made = {
        "char": [("RandomCharAug(substitute)", nac.RandomCharAug(
            action="substitute", include_numeric=False, spec_char="", **char))],
        "keyboard": [("KeyboardAug", nac.KeyboardAug(
            include_special_char=False, include_numeric=False, **char))],
        "word": [(f"RandomWordAug({action})", naw.RandomWordAug(action=action, aug_p=LEVEL, aug_max=big))
                 for action in ("swap", "delete")],
        "realworld": [("SpellingAug", naw.SpellingAug(
            dict_path=spelling_path, aug_p=LEVEL, aug_max=big, include_reverse=False))],
    }
    return {kind: [(name, lambda i, text, aug=aug: aug.augment(text)) for name, aug in augs]
            for kind, augs in made.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, for both libraries
    rng = random.Random(0)
    texts = sentences(args.sentences, rng)
    with tempfile.TemporaryDirectory() as folder:
        resources, spelling_path = write_resources(folder, rng)
        theirs = nlpaug_augmenters(spelling_path)
        print(f"{len(texts)} sentences of 5-30 words, level {LEVEL}, best of {args.repeats}; sentences/s")
        print(f"{'kind':<11} {'ray_xr':>9}  {'nlpaug augmenter':<26} {'nlpaug':>8} {'ray_xr/nlpaug':>14}")
        for kind in (k for k, spec in NOISE_KINDS.items() if not spec.needs_model):  # attack needs a model
            ours = rate(lambda i, text: perturb_text(text, kind, LEVEL, lang="en", seed=0, example_id=str(i),
                                                     resources=resources), texts, args.repeats)
            for name, run in theirs.get(kind) or [("-", None)]:
                other = rate(run, texts, args.repeats) if run else None
                print(f"{kind:<11} {ours:>9.0f}  {name:<26} {other or float('nan'):>8.0f} "
                      f"{ours / other if other else float('nan'):>14.1f}")
        if not theirs:
            print("nlpaug not installed: `.venv/bin/pip install nlpaug` to compare")


if __name__ == "__main__":
    main()
