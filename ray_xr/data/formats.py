"""Readers for the published file formats of the XTREME-R datasets (the retrieval tasks' are in
retrieval.py; readers.py is the registry of both).

A reader takes the path(s) of one split and returns its examples. Readers check what they read: malformed input raises DataError with a one-line
`PATH:LINE: what is wrong, what was expected` message (line 0 means the file as a whole), so a
broken download fails loudly instead of training or evaluating on part of a dataset.

`labels` is the set of allowed labels/tags. It defaults to the format's published set where
the format fixes one (NLI, PAWS-X); labels=None turns the check off.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from ray_xr.errors import DataError
from ray_xr.data.examples import (
    Answer,
    Classification,
    Example,
    MultipleChoice,
    SpanQA,
    Tagging,
)

log = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]
Labels = Collection[Any] | None

NLI_LABELS = frozenset({"entailment", "neutral", "contradiction"})
PAWSX_LABELS = frozenset({"0", "1"})
COPA_QUESTIONS = frozenset({"cause", "effect"})


# ---------------------------------------------------------------- shared helpers


def _lines(path: PathLike) -> Iterator[tuple[int, str]]:
    """Numbered lines without line endings.

    Binary reading splits on "\\n" only, so a stray "\\r" or U+2028 inside a sentence cannot
    shift the line numbering that aligned files (Tatoeba) and error messages depend on.
    """
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise DataError.at(path, 0, "no such file") from None
    except OSError as err:
        raise DataError.at(path, 0, f"cannot open file ({err.strerror}), expected a readable file") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise DataError.at(path, number, "bytes that are not UTF-8, expected UTF-8 text") from None
            if number == 1:
                line = line.removeprefix("\ufeff")
            yield number, line.rstrip("\r\n")


def _blocks(path: PathLike) -> Iterator[list[tuple[int, str]]]:
    """Groups of numbered non-blank lines separated by blank lines (one sentence each)."""
    block: list[tuple[int, str]] = []
    for number, line in _lines(path):
        if line.strip():
            block.append((number, line))
        elif block:
            yield block
            block = []
    if block:
        yield block


def _check_label(path: PathLike, line: int, value: Any, labels: Labels, what: str = "label") -> None:
    if labels is not None and value not in labels:
        raise DataError.at(path, line, f"unknown {what} {value!r}, expected one of {sorted(labels)}")


def _nonempty(path: PathLike, examples: list[Example], what: str = "examples") -> list[Example]:
    if not examples:
        raise DataError.at(path, 0, f"no {what} found, expected at least one")
    return examples


def missing_language(where: object, language: str, found: set[str], what: str = "examples") -> DataError:
    """The one error of every reader (and `data show --lang`) that finds none of a language's rows."""
    listed = ", ".join(sorted(found)) or "none"
    return DataError(f"{where}: no {what} of language {language!r}, expected one of the languages present: {listed}")


def _no_labels(fmt: str, labels: Labels) -> None:
    if labels is not None:
        raise ValueError(f"format {fmt!r} has no labels to validate; pass labels=None")


def _field(path: PathLike, line: int, row: dict, key: str, kind: type = str) -> Any:
    """row[key], checked to be of `kind` (a non-blank string when kind is str)."""
    if key not in row:
        raise DataError.at(path, line, f"missing field {key!r}, expected it in every row")
    value = row[key]
    # bool is an int subclass, but true/false is never a valid label or index here
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError.at(path, line, f"field {key!r} is {type(value).__name__}, expected {kind.__name__}")
    if kind is str and not value.strip():
        raise DataError.at(path, line, f"field {key!r} is empty, expected text")
    return value


def _tsv_rows(path: PathLike, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of a headed TSV as dicts, columns selected by header name.

    Fields are split on tabs with no quote handling: the XNLI/PAWS-X files are unquoted and
    their sentences contain bare '"' characters.
    """
    lines = _lines(path)
    first = next(lines, None)
    if first is None:
        raise DataError.at(path, 0, f"empty file, expected a header row with columns {list(required)}")
    number, header = first
    names = header.split("\t")
    missing = [name for name in required if name not in names]
    if missing:
        raise DataError.at(path, number, f"header lacks column(s) {missing}, expected at least {list(required)}")
    for number, line in lines:
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(names):
            raise DataError.at(path, number, f"{len(fields)} tab-separated fields, expected {len(names)} as in the header")
        yield number, dict(zip(names, fields))


def _jsonl_rows(path: PathLike) -> Iterator[tuple[int, dict]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError.at(path, number, f"invalid JSON ({err.msg}), expected one JSON object per line") from None
        if not isinstance(row, dict):
            raise DataError.at(path, number, f"a JSON {type(row).__name__}, expected a JSON object")
        yield number, row


def _line_id(path: PathLike, line: int) -> str:
    """Id for formats without their own: unique within the file and points back at the source."""
    return f"{Path(path).name}:{line}"


# ---------------------------------------------------------------- tagging


# CoNLL-U (UD-POS) is read by conllu.py: multiword tokens take their fused forms, as XTREME.


# A file-wide language prefix such as "en:" or "zh-min-nan:", followed by a token. 'http:'
# and a bare "re:" token do not match, so unprefixed files keep such tokens intact.
_PANX_PREFIX = re.compile(r"(?:[a-z]{2,3}(?:-[a-z]+)*|simple):(?=[^\t])")
_BIO_TAG = re.compile(r"O|[BI]-\S+")


def _panx_prefix(block: list[tuple[int, str]]) -> str:
    match = _PANX_PREFIX.match(block[0][1])
    return match.group(0) if match else ""


def _panx_token(path: PathLike, number: int, line: str, prefix: str, labels: Labels) -> tuple[str, str]:
    columns = line.split("\t")
    if len(columns) != 2:
        raise DataError.at(path, number, f"{len(columns)} tab-separated columns, expected 2 (lang:token<TAB>tag)")
    token, tag = columns
    if not token.startswith(prefix):
        raise DataError.at(path, number, f"token {token!r} lacks the {prefix!r} prefix, expected it as on line 1")
    token = token[len(prefix):]
    if not token.strip():
        raise DataError.at(path, number, "empty token, expected a word before the tab")
    if not _BIO_TAG.fullmatch(tag):
        raise DataError.at(path, number, f"tag {tag!r}, expected a BIO tag (O, B-TYPE, I-TYPE)")
    _check_label(path, number, tag, labels, "tag")
    return token, tag


def read_panx(path: PathLike, *, labels: Labels = None) -> list[Example]:
    """PAN-X/WikiANN: `lang:token<TAB>tag` lines, blank line between sentences.

    Whether tokens carry the language prefix is decided once per file from its first line, so
    a token like "de:Berlin" in an unprefixed file is not mangled.
    """
    examples: list[Example] = []
    prefix = None
    for block in _blocks(path):
        prefix = _panx_prefix(block) if prefix is None else prefix
        pairs = [_panx_token(path, number, line, prefix, labels) for number, line in block]
        words, tags = zip(*pairs)
        examples.append(Tagging(_line_id(path, block[0][0]), words, tags))
    return _nonempty(path, examples, "sentences")


# ---------------------------------------------------------------- classification


def _sentence_pair(path: PathLike, number: int, row: dict, example_id: str, label: str,
                   labels: Labels) -> Classification:
    _check_label(path, number, label, labels)
    return Classification(example_id, _field(path, number, row, "sentence1"),
                          _field(path, number, row, "sentence2"), label)


def read_xnli_tsv(path: PathLike, *, labels: Labels = NLI_LABELS, language: str | None = None) -> list[Example]:
    """XNLI 1.0 TSV; `language` keeps only rows of that language code."""
    examples: list[Example] = []
    present: set[str] = set()
    for number, row in _tsv_rows(path, ("language", "gold_label", "sentence1", "sentence2")):
        present.add(row["language"])
        if language is not None and row["language"] != language:
            continue
        examples.append(_sentence_pair(path, number, row, _line_id(path, number), row["gold_label"], labels))
    if language is not None and present and not examples:
        raise missing_language(path, language, present)
    return _nonempty(path, examples)


def read_nli_jsonl(path: PathLike, *, labels: Labels = NLI_LABELS) -> list[Example]:
    """MultiNLI/SNLI JSONL. Rows whose gold_label is '-' (no annotator consensus) are left out,
    as the official setups do, and their count is logged as a warning."""
    examples: list[Example] = []
    skipped = 0
    for number, row in _jsonl_rows(path):
        label = _field(path, number, row, "gold_label")
        if label == "-":
            skipped += 1
            continue
        examples.append(_sentence_pair(path, number, row, _line_id(path, number), label, labels))
    if skipped:
        log.warning("%s: skipped %d rows with gold_label '-' (no annotator consensus)", path, skipped)
    return _nonempty(path, examples)


def read_pawsx_tsv(path: PathLike, *, labels: Labels = PAWSX_LABELS) -> list[Example]:
    """PAWS-X TSV (id, sentence1, sentence2, label); label '1' means paraphrase."""
    examples: list[Example] = []
    for number, row in _tsv_rows(path, ("id", "sentence1", "sentence2", "label")):
        example_id = _field(path, number, row, "id")
        examples.append(_sentence_pair(path, number, row, example_id, row["label"], labels))
    return _nonempty(path, examples)


# ---------------------------------------------------------------- QA


def _json_line(text: str, value: str) -> int:
    """Line of the first occurrence of `value` as a JSON string; 1 when it cannot be found.

    json.load keeps no positions, so the question id (unique per file) is the anchor for
    pointing an error at the right part of a large SQuAD file.
    """
    for needle in (json.dumps(value, ensure_ascii=False), json.dumps(value)):
        position = text.find(needle)
        if position >= 0:
            return text.count("\n", 0, position) + 1
    return 1


def _json_member(path: PathLike, line: int, where: str, obj: Any, key: str, kind: type) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise DataError.at(path, line, f"{where}: no {kind.__name__} {key!r}, expected SQuAD v1.1 layout "
                                    "data -> paragraphs -> context, qas -> id, question, answers")
    return value


def _squad_answer(path: PathLike, line: int, where: str, context: str, answer: Any) -> Answer:
    text = _json_member(path, line, where, answer, "text", str)
    start = _json_member(path, line, where, answer, "answer_start", int)
    if start < 0 or not text or context[start:start + len(text)] != text:
        found = context[max(start, 0):max(start, 0) + len(text)]
        raise DataError.at(path, line, f"{where}: answer {text!r} at {start} does not match the context "
                                    f"(found {found!r}), expected context[start:start+len(text)] == text")
    return Answer(text, start)


def _squad_question(path: PathLike, text: str, where: str, context: str, qa: Any) -> SpanQA:
    qid = _json_member(path, 1, where, qa, "id", str)
    line, named = _json_line(text, qid), f"question {qid}"
    question = _json_member(path, line, named, qa, "question", str)
    answers = _json_member(path, line, named, qa, "answers", list)
    if not answers:
        raise DataError.at(path, line, f"{named}: no answers, expected at least one (SQuAD v1.1 style)")
    return SpanQA(qid, question, context, tuple(_squad_answer(path, line, named, context, a) for a in answers))


def squad_paragraphs(path: PathLike) -> Iterator[tuple[str, dict, list[SpanQA]]]:
    """Each paragraph of a SQuAD-layout JSON file: where it is, its JSON object and its
    questions, every answer span checked against the context."""
    text = "\n".join(line for _, line in _lines(path))
    try:
        document = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError.at(path, err.lineno, f"invalid JSON ({err.msg}), expected a SQuAD v1.1 document") from None
    for a, article in enumerate(_json_member(path, 1, "top level", document, "data", list)):
        for p, paragraph in enumerate(_json_member(path, 1, f"data[{a}]", article, "paragraphs", list)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _json_member(path, 1, where, paragraph, "context", str)
            yield where, paragraph, [_squad_question(path, text, f"{where}.qas[{q}]", context, qa)
                                     for q, qa in enumerate(_json_member(path, 1, where, paragraph, "qas", list))]


def read_squad_json(path: PathLike, *, labels: Labels = None) -> list[Example]:
    """SQuAD v1.1 JSON, as used by XQuAD, MLQA, TyDiQA-GoldP and XQuAD-R; every answer span
    is checked against its context."""
    _no_labels("squad_json", labels)
    examples: list[Example] = [q for _, _, questions in squad_paragraphs(path) for q in questions]
    return _nonempty(path, examples, "questions")


# ---------------------------------------------------------------- multiple choice


def read_xcopa_jsonl(path: PathLike, *, labels: Labels = None) -> list[Example]:
    """XCOPA/COPA JSONL: premise, two choices, question 'cause'/'effect', label = right choice."""
    examples: list[Example] = []
    for number, row in _jsonl_rows(path):
        question = _field(path, number, row, "question")
        _check_label(path, number, question, COPA_QUESTIONS, "question")
        choices = (_field(path, number, row, "choice1"), _field(path, number, row, "choice2"))
        label = _field(path, number, row, "label", int)
        if not 0 <= label < len(choices):
            raise DataError.at(path, number, f"label {label} names no choice, expected 0 (choice1) or 1 (choice2)")
        _check_label(path, number, label, labels)
        examples.append(MultipleChoice(
            str(_field(path, number, row, "idx", int)),
            _field(path, number, row, "premise"),
            question,
            choices,
            label,
        ))
    return _nonempty(path, examples)


# ---------------------------------------------------------------- registry
