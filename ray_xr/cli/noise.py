"""`ray-xr noise stats|fit`: the edit profile of (clean, noisy) pairs, and a typo profile fitted
to them. Files are read through the task's own readers (cli/data.py), so a published noisy set is
read like any file of its task; the noise package does the aligning and counting. No torch, no Ray.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator, Sequence

from ray_xr.cli.data import read_files
from ray_xr.errors import NoiseError
from ray_xr.noise import NoiseResources, align, languages, typo
from ray_xr.noise.perturb import perturb_classification, perturb_tagging
from ray_xr.noise.profile import Tally
from ray_xr.tasks import get_task


def read(task: str, path: str, lang: str) -> list:
    by_language = get_task(task).local is not None and get_task(task).local.by_language
    return read_files(task, [path], lang if by_language else None)


def aligned(task: str, lang: str, clean: str, noisy: str) -> align.Alignment:
    """The noisy file's examples paired with the clean file's (align.align: refused if they do not)."""
    return align.align(read(task, clean, lang), read(task, noisy, lang), what=noisy)


def applied(task: str, lang: str, clean: str, kind: str, level: float, seed: int,
            resources: NoiseResources) -> list[tuple]:
    """(clean, noisy) examples: a noise kind applied to every example of the clean file."""
    noise = {"kind": kind, "level": level, "lang": lang, "seed": seed, "resources": resources}
    out = []
    for e in read(task, clean, lang):
        if hasattr(e, "tags"):
            out.append((e, perturb_tagging(e, task, **noise)))
        elif hasattr(e, "label"):
            out.append((e, perturb_classification(e, task, **noise)))
        else:
            raise NoiseError(f"noise stats: task {task} is not a tagging or classification task")
    return out


def tally(lang: str, pairs: Sequence[tuple]) -> Tally:
    t = Tally(lang)
    for clean, noisy in pairs:
        for a, b in align.example_word_pairs(clean, noisy):
            t.add(a, b)
    return t


def pair_file(path: str) -> Iterator[tuple[str, str]]:
    """`correct<TAB>misspelling` lines (the realworld kind's typo files)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise NoiseError(f"{path}: cannot read a `correct<TAB>misspelling` file ({err})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise NoiseError(f"{path}:{number}: expected `correct<TAB>misspelling`, got {line.strip()[:40]!r}")
        yield parts[0].strip(), parts[1].strip()


def stats(args) -> dict:
    """What `noise stats` prints: {"pairs", "aligned", ...the edit profile}."""
    lang = languages.check(args.lang)
    if args.noisy is not None:
        if args.kind is not None:
            raise NoiseError("noise stats: give --noisy FILE or --kind K --level X, not both")
        found = aligned(args.task, lang, args.clean, args.noisy)
        pairs, total = found.pairs, found.noisy
    elif args.kind is not None and args.level is not None:
        resources = NoiseResources(**{field: {lang: path} for field, path in (
            ("typo_files", args.typo_file), ("lexicon_files", args.lexicon_file), ("profiles", args.profile)) if path})
        pairs = applied(args.task, lang, args.clean, args.kind, args.level, args.seed, resources)
        total = len(pairs)
    else:
        raise NoiseError("noise stats: give --noisy FILE (a published noisy set) or --kind K --level X")
    return {"pairs": total, "aligned": len(pairs), **tally(lang, pairs).profile()}


def fit(args) -> dict:
    """The profile `noise fit` writes: from a (clean, noisy) pair of files, or from
    `correct<TAB>misspelling` files."""
    lang = languages.check(args.lang)
    if args.pairs and (args.clean or args.noisy):
        raise NoiseError("noise fit: give PAIRS files or --task/--clean/--noisy, not both")
    if args.pairs:
        t = Tally(lang)
        for path in args.pairs:
            for a, b in pair_file(path):
                t.add(a, b)
        source = {"pairs_files": [Path(p).name for p in args.pairs]}
    elif args.task and args.clean and args.noisy:
        found = aligned(args.task, lang, args.clean, args.noisy)
        t = tally(lang, found.pairs)
        source = {"task": args.task, "clean": Path(args.clean).name, "noisy": Path(args.noisy).name,
                  "aligned": len(found.pairs), "noisy_examples": found.noisy}
    else:
        raise NoiseError("noise fit: give PAIRS files, or --task T --clean FILE --noisy FILE")
    if not t.changed:
        raise NoiseError("noise fit: no changed word in the pairs; nothing to fit")
    return typo.fit(t, source)


def write_profile(doc: dict, out: str) -> str:
    try:
        Path(out).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    except OSError as err:
        raise NoiseError(f"-o {out}: cannot write ({err.strerror})") from None
    return out
