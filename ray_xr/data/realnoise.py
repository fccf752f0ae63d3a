"""Readers for the published real-noise test sets of Stickland et al. (EACL 2023), released in
amazon-science/multilingual-robust-contrastive-pretraining under `paper_data/`:

* `panx/test_<lang>_typos_<ratio>.jsonl`: one JSON object a line, `{"tokens", "ner_tags",
  "langs"}`, tags as integers in WikiANN's order (PANX_TAG_ORDER);
* `xnli/test_<lang>_typos_<ratio>.tsv`: a header `premise, hypothesis, label`, each text
  wrapped in single quotes, integer labels in XNLI's order (NLI_LABEL_ORDER).

Both orders were confirmed by aligning the samples in ../shared/data/real/realnoise to the
clean WikiANN and XNLI files (tests/test_realnoise.py): every aligned pair has the same tags or
label. The `panx` and `xnli_tsv` formats recognise these layouts by their first line, so a
published noisy file is read like any other file of its task.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ray_xr.data import formats
from ray_xr.data.examples import Classification, Example, Tagging
from ray_xr.data.formats import Labels, PathLike
from ray_xr.errors import DataError

# HF google/xtreme PAN-X ClassLabel names, the order the published ner_tags index
PANX_TAG_ORDER = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
# HF facebook/xnli ClassLabel names
NLI_LABEL_ORDER = ("entailment", "neutral", "contradiction")
TSV_COLUMNS = ("premise", "hypothesis", "label")
# test_de_typos_0.05.tsv: the language and the share of noisy words the authors aimed at
_NAME = re.compile(r"test_(?P<lang>[a-z]{2,3}(?:-[A-Za-z]+)?)_typos_(?P<ratio>[0-9.]+)\.(?:jsonl|tsv)")


def stated(path: PathLike) -> tuple[str | None, float | None]:
    """(language, ratio) a published file name states, or (None, None)."""
    match = _NAME.fullmatch(Path(path).name)
    if not match:
        return None, None
    try:
        return match["lang"], float(match["ratio"])
    except ValueError:
        return match["lang"], None


def _first_line(path: PathLike) -> str:
    for _, line in formats._lines(path):
        if line.strip():
            return line
    return ""


def is_panx_jsonl(path: PathLike) -> bool:
    return _first_line(path).lstrip().startswith("{")


def is_xnli_typos_tsv(path: PathLike) -> bool:
    return tuple(_first_line(path).split("\t")) == TSV_COLUMNS


def _index(path: PathLike, number: int, value: object, order: tuple[str, ...], what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < len(order):
        raise DataError.at(path, number, f"{what} {value!r}, expected an integer in 0..{len(order) - 1}"
                                         f" ({', '.join(order)})")
    return order[value]


def read_panx_jsonl(path: PathLike, *, labels: Labels = None) -> list[Example]:
    """PAN-X JSONL rows `{"tokens": [...], "ner_tags": [int, ...], "langs": [...]}`."""
    examples: list[Example] = []
    for number, row in formats._jsonl_rows(path):
        tokens = formats._field(path, number, row, "tokens", list)
        tags = formats._field(path, number, row, "ner_tags", list)
        if len(tokens) != len(tags) or not tokens:
            raise DataError.at(path, number, f"{len(tokens)} tokens and {len(tags)} ner_tags, expected"
                                             " as many tags as tokens, at least one")
        if not all(isinstance(t, str) and t.strip() for t in tokens):
            raise DataError.at(path, number, "a token that is empty or not a string, expected words")
        names = tuple(_index(path, number, t, PANX_TAG_ORDER, "ner_tag") for t in tags)
        for name in names:
            formats._check_label(path, number, name, labels, "tag")
        examples.append(Tagging(formats._line_id(path, number), tuple(tokens), names))
    return formats._nonempty(path, examples, "sentences")


def _unquote(path: PathLike, number: int, text: str, column: str) -> str:
    if len(text) < 2 or text[0] != "'" or text[-1] != "'":
        raise DataError.at(path, number, f"{column} {text[:30]!r}, expected text wrapped in single quotes")
    if not text[1:-1].strip():
        raise DataError.at(path, number, f"{column} is empty, expected text")
    return text[1:-1]


def read_xnli_typos_tsv(path: PathLike, *, labels: Labels = formats.NLI_LABELS,
                        language: str | None = None) -> list[Example]:
    """The published noisy XNLI TSV. It has no language column; `language` is checked against
    the language its name states (test_<lang>_typos_<ratio>.tsv), when it states one."""
    named, _ = stated(path)
    if language is not None and named is not None and named != language:
        raise DataError.at(path, 0, f"a file of language {named!r} (its name), expected {language!r}")
    examples: list[Example] = []
    for number, row in formats._tsv_rows(path, TSV_COLUMNS):
        label = row["label"].strip()
        if not label.isdigit():
            raise DataError.at(path, number, f"label {label!r}, expected an integer in 0..2 ({', '.join(NLI_LABEL_ORDER)})")
        name = _index(path, number, int(label), NLI_LABEL_ORDER, "label")
        formats._check_label(path, number, name, labels)
        examples.append(Classification(formats._line_id(path, number),
                                       _unquote(path, number, row["premise"], "premise"),
                                       _unquote(path, number, row["hypothesis"], "hypothesis"), name))
    return formats._nonempty(path, examples)


def by_layout(test: Callable[[PathLike], bool], published: Callable[..., list[Example]],
              usual: Callable[..., list[Example]]) -> Callable[..., list[Example]]:
    """A reader that reads a file with `published` when `test` recognises its layout, else with `usual`."""

    def read(path: PathLike, **options) -> list[Example]:
        return (published if test(path) else usual)(path, **options)

    read.__doc__ = f"{usual.__doc__}\n\nOr, recognised by its first line: {published.__doc__}"
    return read


read_panx = by_layout(is_panx_jsonl, read_panx_jsonl, formats.read_panx)
read_xnli_tsv = by_layout(is_xnli_typos_tsv, read_xnli_typos_tsv, formats.read_xnli_tsv)


PUBLISHED_FORMATS = frozenset({"panx", "xnli_tsv"})  # the task formats with a published noisy layout


def find(where: PathLike, task: str, lang: str) -> tuple[Path, float]:
    """The published noisy file of a task and language, and the level its name states: `where`
    is the file itself, or a directory holding it (or holding `<task>/`, as paper_data/ does)."""
    root = Path(where)
    if root.is_file():
        found = [root]
    elif root.is_dir():
        found = sorted({*root.glob(f"test_{lang}_typos_*"), *(root / task).glob(f"test_{lang}_typos_*")})
    else:
        raise DataError(f"{root}: no such file or directory")
    if len(found) != 1:
        raise DataError(f"{root}: {len(found)} files test_{lang}_typos_<ratio>.* for {task}, expected one;"
                        " name the file itself")
    named, ratio = stated(found[0])
    if named != lang or ratio is None or not 0 < ratio <= 1:
        raise DataError(f"{found[0]}: expected a published name test_{lang}_typos_<ratio>.(jsonl|tsv),"
                        " which states the language and the level")
    return found[0], ratio
