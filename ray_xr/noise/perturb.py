"""Noise applied to typed examples: which fields are perturbed, which words are protected, and
how labels stay correct. The task families call these; standard library only, like ray_xr.noise.

Every function takes the noise condition as keywords: kind, level, lang, seed, and optionally
resources (NoiseResources) and protect (bool). `namespace` (the task name, or "train/<task>")
and the example id together name the example's random streams, so the same example gets the
same noise in any process. Level 0 returns the example itself.

Labels:

* Classification: both texts are perturbed (fields "a" and "b"); the label is kept.
* Tagging: one tag per word; a dropped word drops its tag, a swap moves the tags with the words.
* Span QA: the question and the context are perturbed; every answer is re-mapped so that
  ``context[start:start + len(text)] == text`` holds on the perturbed context. Answer
  boundaries are word boundaries for the noise (a word is split where an answer starts or ends
  inside it, and the pieces are re-joined without a space), so an answer is always whole
  words. Words of an answer may be rewritten like any other (then the gold answer text is the
  rewritten text, as a reader of the noisy context would find it), but kinds that drop or move
  words never touch answer words, so an answer is never lost or scrambled.
* Retrieval: only the query is perturbed; the target (the document collection) stays clean.

Protection (`protect=True`, the sweep's `noise.protect_entities`): words that carry the
meaning a label depends on and that noise in the wild rarely corrupts are kept intact:

* Tagging: words tagged as an entity (B-/I-/E-/S- prefixes), PROPN or NUM, and any word with a digit.
* Classification, QA and retrieval (no tags to go by): any word with a digit, and capitalised
  words that do not start a sentence (likely names). In languages that capitalise every noun
  (German) this protects the nouns as well; scripts without case protect only numbers.
"""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Sequence

from ray_xr.data.examples import Answer, Classification, RetrievalPair, SpanQA, Tagging
from ray_xr.noise.engine import NOISE_KINDS, perturb_text, perturb_words, split_words

ENTITY_PREFIXES = ("B-", "I-", "E-", "S-")
PROTECTED_TAGS = frozenset({"PROPN", "NUM"})
_SENTENCE_END = (".", "!", "?", "…", "。", "！", "？", "؟", "।")
_RUN = re.compile(r"\S+")


def has_digit(word: str) -> bool:
    return any(c.isdigit() for c in word)


def protect_names_and_numbers(words: Sequence[str]) -> list[bool]:
    """Words with a digit, and capitalised words not at the start of a sentence."""
    flags = []
    for i, word in enumerate(words):
        starts = i == 0 or words[i - 1].endswith(_SENTENCE_END)
        letter = next((c for c in word if c.isalpha()), "")
        flags.append(has_digit(word) or (not starts and letter.isupper()))
    return flags


def protect_tagged(words: Sequence[str], tags: Sequence[str]) -> list[bool]:
    """Entity words (by their BIO/BIOES tag), proper nouns, numbers and words with a digit."""
    return [tag.startswith(ENTITY_PREFIXES) or tag in PROTECTED_TAGS or has_digit(word)
            for word, tag in zip(words, tags)]


def text_protector(protect: bool):
    return protect_names_and_numbers if protect else None


def perturb_classification(e: Classification, namespace: str, *, protect: bool = False, **noise) -> Classification:
    if not noise["level"]:
        return e
    eid = f"{namespace}/{e.id}"
    guard = text_protector(protect)
    a = perturb_text(e.text_a, field="a", example_id=eid, protect=guard, **noise)
    b = perturb_text(e.text_b, field="b", example_id=eid, protect=guard, **noise) if e.text_b is not None else None
    return replace(e, text_a=a, text_b=b)


def perturb_tagging(e: Tagging, namespace: str, *, protect: bool = False, **noise) -> Tagging:
    if not noise["level"]:
        return e
    guard = protect_tagged(e.words, e.tags) if protect else None
    p = perturb_words(e.words, example_id=f"{namespace}/{e.id}", protect=guard, **noise)
    return replace(e, words=p.words, tags=tuple(e.tags[i] for i in p.source))


def perturb_retrieval(e: RetrievalPair, namespace: str, *, protect: bool = False, **noise) -> RetrievalPair:
    if not noise["level"]:
        return e
    query = perturb_text(e.query, field="query", example_id=f"{namespace}/{e.id}",
                         protect=text_protector(protect), **noise)
    return replace(e, query=query)


def perturb_span_qa(e: SpanQA, namespace: str, *, protect: bool = False, **noise) -> SpanQA:
    if not noise["level"]:
        return e
    eid = f"{namespace}/{e.id}"
    question = perturb_text(e.question, field="question", example_id=eid, protect=text_protector(protect), **noise)
    answers = [_strip(a) for a in e.answers]
    cuts = {edge for start, end in answers for edge in (start, end)}
    spans = _spans(e.context, noise["lang"], cuts)
    words = [e.context[a:b] for a, b in spans]
    inside = [any(s <= a and b <= t for s, t in answers if s < t) for a, b in spans]
    guard = protect_names_and_numbers(words) if protect else [False] * len(words)
    if NOISE_KINDS[noise["kind"]].moves_words:
        guard = [g or i for g, i in zip(guard, inside)]
    result = perturb_words(words, example_id=eid, field="context", protect=guard, **noise)
    context, where = _respace(e.context, spans, result.words, result.source)
    new = []
    for start, end in answers:
        mine = [where[i] for i, (a, b) in enumerate(spans) if start <= a and b <= end and i in where]
        if mine:
            first, last = min(s for s, _ in mine), max(t for _, t in mine)
        else:  # an empty answer: the place it pointed at
            after = [where[i][0] for i, (a, _) in enumerate(spans) if a >= start and i in where]
            first = last = min(after, default=len(context))
        new.append(Answer(context[first:last], first))
    return replace(e, question=question, context=context, answers=tuple(new))


def _strip(answer: Answer) -> tuple[int, int]:
    """The answer's character span without surrounding whitespace."""
    text = answer.text
    start = answer.start + len(text) - len(text.lstrip())
    return start, max(start, answer.start + len(text.rstrip()))


def _spans(text: str, lang: str, cuts: set[int]) -> list[tuple[int, int]]:
    """(start, end) of the words of split_words, further cut at the given offsets."""
    spans = []
    for run in _RUN.finditer(text):
        pos = run.start()
        pieces, _ = split_words(run.group(), lang)
        for piece in pieces:
            end = pos + len(piece)
            edges = [pos] + sorted(c for c in cuts if pos < c < end) + [end]
            spans += zip(edges, edges[1:])
            pos = end
    return spans


def _respace(text: str, spans: list[tuple[int, int]], words: Sequence[str],
             source: Sequence[int]) -> tuple[str, dict[int, tuple[int, int]]]:
    """The perturbed text, keeping the original text between words that stay neighbours, and
    each surviving input word's new (start, end)."""
    if not spans:
        return text, {}

    def before(i: int) -> str:
        return text[spans[i - 1][1]:spans[i][0]] if i > 0 else ""

    def after(i: int) -> str:
        return text[spans[i][1]:spans[i + 1][0]] if i + 1 < len(spans) else ""

    out = [text[:spans[0][0]]]
    pos = len(out[0])
    where = {}
    for j, (word, i) in enumerate(zip(words, source)):
        if j:
            prev = source[j - 1]
            sep = before(i) if prev == i - 1 else (before(i) or after(prev))
            out.append(sep)
            pos += len(sep)
        out.append(word)
        where[i] = (pos, pos + len(word))
        pos += len(word)
    out.append(text[spans[-1][1]:])
    return "".join(out), where


__all__ = [
    "perturb_classification", "perturb_tagging", "perturb_span_qa", "perturb_retrieval",
    "protect_names_and_numbers", "protect_tagged",
]
