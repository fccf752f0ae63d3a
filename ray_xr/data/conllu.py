"""Universal Dependencies CoNLL-U, read the way XTREME builds UD-POS.

XTREME converts each treebank with `ud-conversion-tools/conllu_to_conll.py
--replace_subtokens_with_fused_forms` and then `utils_preprocess.py --task udpos`, so its gold
files hold one word per *surface token*: a multiword token ("du" = de + le, "dárselo") is the
fused form with the UPOS of one of its words, the span head:

* the word of the span nearest the root (fewest ancestors in the dependency tree), if it is
  the only one at that depth;
* else, among those nearest the root, the first with the best rank in the language's UPOS
  precedence list (below; a tag the list lacks ranks last).

The other words of the span are dropped. Then forms lose U+200C and inner spaces, and
sentences whose forms are all "_" but at most one (treebanks distributed without their text)
are left out. This module is our own equivalent, written from those scripts' behaviour.
"""
from __future__ import annotations

import re
from typing import NamedTuple

from ray_xr.data.examples import Example, Tagging
from ray_xr.data.formats import _blocks, _check_label, _line_id, _nonempty
from ray_xr.errors import DataError

_DEFAULT_PRECEDENCE = ("VERB NOUN PROPN PRON ADJ NUM ADV INTJ AUX ADP DET PART CCONJ SCONJ X PUNCT").split()
# conllu_to_conll.py's POSRANKPRECEDENCEDICT: languages with their own list
UPOS_PRECEDENCE = {
    "es": tuple("VERB AUX PRON ADP DET".split()),
    "fr": tuple("VERB AUX PRON NOUN ADJ ADV ADP DET PART SCONJ CONJ".split()),
    "it": tuple("VERB AUX ADV PRON ADP DET INTJ".split()),
}
_RANGE = re.compile(r"([1-9][0-9]*)-([1-9][0-9]*)")
_EMPTY_NODE = re.compile(r"[0-9]+\.[1-9][0-9]*")
_SENT_ID = re.compile(r"#\s*sent_id\s*=\s*(.*\S)")


class Word(NamedTuple):
    form: str
    upos: str
    head: int  # 0 = the root; -1 when HEAD is unannotated


def read_conllu(path, *, labels=None, language: str | None = None) -> list[Example]:
    """One Tagging per sentence: FORM and UPOS of each surface token (fused forms as XTREME).
    `language` picks the UPOS precedence list for the span heads of multiword tokens."""
    precedence = UPOS_PRECEDENCE.get((language or "").split("-")[0], _DEFAULT_PRECEDENCE)
    examples: list[Example] = []
    for block in _blocks(path):
        sent_id, words, ranges = None, [], []
        for number, line in block:
            if line.startswith("#"):
                match = _SENT_ID.fullmatch(line)
                sent_id = match.group(1) if match else sent_id
                continue
            parsed = _parse(path, number, line, len(words) + 1)
            if isinstance(parsed, Word):
                _check_label(path, number, parsed.upos, labels, "UPOS tag")
                words.append(parsed)
            elif parsed is not None:
                ranges.append(parsed)
        tokens = fuse(words, ranges, precedence)
        unwritten = sum(form == "_" for form, _ in tokens)
        if tokens and (unwritten == 0 or unwritten < len(tokens) - 1):  # else a treebank without its text
            forms = tuple("".join(form.replace("\u200c", "").split(" ")) for form, _ in tokens)
            examples.append(Tagging(sent_id or _line_id(path, block[0][0]), forms, tuple(t for _, t in tokens)))
    return _nonempty(path, examples, "sentences")


def _parse(path, number: int, line: str, expected_id: int) -> Word | tuple[int, int, str] | None:
    """A word line, a multiword range (first, last, fused form), or None for an empty node."""
    columns = line.split("\t")
    if len(columns) != 10:
        raise DataError.at(path, number, f"{len(columns)} tab-separated columns, expected 10 (CoNLL-U)")
    token_id, form, upos, head = columns[0], columns[1], columns[3], columns[6]
    if _EMPTY_NODE.fullmatch(token_id):
        return None
    span = _RANGE.fullmatch(token_id)
    if span:
        return int(span.group(1)), int(span.group(2)), form
    if token_id != str(expected_id):
        raise DataError.at(path, number, f"word ID {token_id!r}, expected {expected_id} (1, 2, ... per sentence)")
    if upos == "_":
        raise DataError.at(path, number, "UPOS is '_' (unannotated), expected a UPOS tag")
    return Word(form, upos, int(head) if head.isdigit() else -1)


def fuse(words: list[Word], ranges: list[tuple[int, int, str]],
         precedence: tuple[str, ...] = _DEFAULT_PRECEDENCE) -> list[tuple[str, str]]:
    """(form, UPOS) per surface token: each multiword range becomes its fused form on its span
    head's UPOS; the heads are chosen on the original tree, before any span is replaced."""
    depth = _depths(words)
    replaced: dict[int, str] = {}  # word index -> fused form
    dropped: set[int] = set()
    for first, last, form in ranges:
        span = [i for i in range(first - 1, last) if i < len(words)]
        if not span:
            continue
        top = min(depth[i] for i in span)
        highest = [i for i in span if depth[i] == top]
        rank = {tag: r for r, tag in enumerate(precedence)}
        head = min(highest, key=lambda i: rank.get(words[i].upos, len(precedence)))  # first best on ties
        replaced[head] = form
        dropped.update(i for i in span if i != head)
    return [(replaced.get(i, w.form), w.upos) for i, w in enumerate(words) if i not in dropped]


def _depths(words: list[Word]) -> list[int]:
    """Ancestors of each word up to the root (a broken or cyclic tree stops counting)."""
    out = []
    for i in range(len(words)):
        seen, node = 0, i + 1
        while node > 0 and seen <= len(words):
            node = words[node - 1].head if node <= len(words) else 0
            seen += 1
        out.append(seen)
    return out
