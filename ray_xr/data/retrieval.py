"""Readers for the retrieval tasks of XTREME-R: Tatoeba (aligned bitext), LAReQA (XQuAD-R, and
SQuAD v1.1 as its English training data) and Mewsli-X. The ranking tasks' readers return
RankQuery and Candidate examples: the queries of the file and the pool they rank (see
examples.py); relevance goes by shared keys, so the pool of one language's questions may come
from every language's file.

Errors follow formats.py: one `PATH:LINE: problem, expectation` line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from ray_xr.data.examples import Candidate, Example, RankQuery, RetrievalPair
from ray_xr.errors import DataError
from ray_xr.data.formats import (Labels, PathLike, _json_member, _jsonl_rows, _line_id, _lines, _no_labels,
                            _nonempty, missing_language, squad_paragraphs)


def read_tatoeba(query_path: PathLike, target_path: PathLike, *, labels: Labels = None) -> list[Example]:
    """Tatoeba bitext as two aligned files (LASER layout): the non-English side is the query,
    the English side (e.g. tatoeba.deu-eng.eng) the target."""
    _no_labels("tatoeba", labels)
    if Path(query_path).suffix == ".eng" and Path(target_path).suffix != ".eng":
        raise DataError.at(query_path, 0, "query side is the English file, expected (non-English file, English file)")
    _same_pair(Path(query_path), Path(target_path))
    queries, targets = list(_lines(query_path)), list(_lines(target_path))
    if len(queries) != len(targets):
        longer, shorter = (query_path, target_path) if len(queries) > len(targets) else (target_path, query_path)
        fewer = min(len(queries), len(targets))
        raise DataError.at(longer, fewer + 1, f"no counterpart line in {shorter}, which has {fewer} lines; "
                                           "expected aligned files of equal length")
    examples: list[Example] = []
    for (number, query), (_, target) in zip(queries, targets):
        for side, sentence in ((query_path, query), (target_path, target)):
            if not sentence.strip():
                raise DataError.at(side, number, "empty sentence, expected one sentence per line on both sides")
        examples.append(RetrievalPair(_line_id(query_path, number), query, target))
    return _nonempty(query_path, examples, "sentence pairs")


def _same_pair(query: Path, target: Path) -> None:
    """LASER names each side after its pair (tatoeba.deu-eng.deu, tatoeba.deu-eng.eng). Files of
    two pairs can have the same number of lines, so only their names tell that they do not align."""
    pairs = [p.stem.rsplit(".", 1)[-1] for p in (query, target)]
    if pairs[0] != pairs[1] and all(pair.endswith("-eng") for pair in pairs):
        raise DataError.at(target, 0, f"the English side of the pair {pairs[1]}, expected that of {pairs[0]}"
                                      f" (the pair of {query.name})")


# ---------------------------------------------------------------- XQuAD-R / SQuAD as sentences

# A sentence ends at . ! ? (or their CJK/Devanagari/Arabic forms) plus closing quotes or
# brackets, before white space or the end. XQuAD-R ships its own breaks; only SQuAD (LAReQA's
# training data) needs them inferred, as XTREME-R's sb_sed does with similar rules.
_SENTENCE_END = re.compile(r"[.!?。！？।؟]+[\"'”’)\]]*(?=\s|$)|[。！？]+")


def sentence_breaks(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a paragraph, white space between them left out."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for a, b in spans:
        while a < b and text[a].isspace():
            a += 1
        if a < b:
            out.append((a, b))
    return out


def _breaks(path: PathLike, line: int, where: str, paragraph: dict, context: str) -> list[tuple[int, int]]:
    given = paragraph.get("sentence_breaks")
    if given is None:
        return sentence_breaks(context)
    if not isinstance(given, list) or not all(
            isinstance(b, list) and len(b) == 2 and all(isinstance(x, int) for x in b) and 0 <= b[0] < b[1] <= len(context)
            for b in given):
        raise DataError.at(path, line, f"{where}: sentence_breaks must be [start, end] character spans of the "
                                    "context, as XQuAD-R ships them")
    return [tuple(b) for b in given]


def paragraph_examples(namespace: str, paragraph_no: int, context: str, breaks, questions) -> Iterator[Example]:
    """A paragraph's candidates (one per sentence, ids `{namespace}_{paragraph}_{position}` as
    LAReQA numbers them) and its questions; a question's key is its id, shared by its
    translations, and the sentence holding its first answer carries that key. A question whose
    answer starts outside every sentence is left out, as LAReQA does."""
    answered: dict[int, list[str]] = {}
    for qid, question, answer_start in questions:
        hit = next((i for i, (a, b) in enumerate(breaks) if a <= answer_start < b), None)
        if hit is not None:
            answered.setdefault(hit, []).append(qid)
            yield RankQuery(f"{qid}_{namespace}", question, (qid,))
    for i, (a, b) in enumerate(breaks):
        yield Candidate(f"{namespace}_{paragraph_no}_{i}", context[a:b], context, tuple(answered.get(i, ())))


def read_squad_sentences(path: PathLike, *, labels: Labels = None, language: str | None = None,
                         source: str | None = None) -> list[Example]:
    """SQuAD-layout JSON as a ranking task (LAReQA): each question ranks the sentences of every
    paragraph. XQuAD-R files (`{lang}.json`) carry `sentence_breaks`; plain SQuAD gets them
    inferred. `source` names the file's language (default: the end of its stem, as in de.json or
    xquad.de.json; a download's cached file has a hashed name, so its reader passes it); with
    `language`, only the questions of the file of that language are kept (the pool always is)."""
    _no_labels("squad_sentences", labels)
    namespace = source or Path(path).stem
    examples: list[Example] = []
    # paragraphs are numbered through the file, as LAReQA's context ids
    for paragraph_no, (where, paragraph, qas) in enumerate(squad_paragraphs(path), start=1):
        context = paragraph["context"]
        questions = [(e.id, e.question, e.answers[0].start) for e in qas]  # the first answer, as XTREME-R
        examples += paragraph_examples(namespace, paragraph_no, context, _breaks(path, 1, where, paragraph, context),
                                       questions)
    if language is not None and namespace.rsplit(".", 1)[-1] != language:  # de.json, xquad.de.json
        examples = [e for e in examples if isinstance(e, Candidate)]
    return _nonempty(path, examples, "questions or sentences")


# ---------------------------------------------------------------- Mewsli-X

_MARKED = re.compile(r"\{(.*?)\}")  # pre-existing marker symbols, escaped as Mewsli-X does


def _clean(text: str) -> str:
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def _json_span(path: PathLike, line: int, obj: Any, key: str) -> tuple[int, int]:
    span = _json_member(path, line, key, obj, key, dict)
    start, end = span.get("start"), span.get("end")
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
        raise DataError.at(path, line, f"{key}: expected {{start, end}} with 0 <= start < end, got {span}")
    return start, end


def mention_query(path: PathLike, line: int, context: dict, mention: dict) -> RankQuery:
    """A mention in its sentence, marked and prefixed as Mewsli-X's baseline preprocessing
    (`mention: left { mention } right`), ranked against entity descriptions."""
    text = _json_member(path, line, "context", context, "text", str)
    start, end = _json_span(path, line, mention, "mention_span")
    surface = text[start:end]
    sentences = [(s["start"], s["end"]) for s in _json_member(path, line, "context", context, "sentence_spans", list)]
    focus = next(((a, b) for a, b in sentences if a <= start < b and end <= b), None)
    if focus is None:
        raise DataError.at(path, line, f"mention {surface!r} at {start}-{end} is in no single sentence of its "
                                    "context, expected it inside one sentence_spans entry")
    left, right = _MARKED.sub(r"(\1)", text[focus[0]:start]), _MARKED.sub(r"(\1)", text[end:focus[1]])
    entity = _json_member(path, line, "mention", mention, "entity_id", str)
    example_id = _json_member(path, line, "mention", mention, "example_id", str)
    return RankQuery(example_id, _clean(f"{surface}: {left} {{ {surface} }} {right}"), (entity,))


def entity_candidate(path: PathLike, line: int, entity: dict) -> Candidate:
    """An entity as its description's sentences, joined (Mewsli-X's baseline preprocessing)."""
    entity_id = _json_member(path, line, "entity", entity, "entity_id", str)
    description = _json_member(path, line, "entity", entity, "description", str)
    spans = [(s["start"], s["end"]) for s in _json_member(path, line, "entity", entity, "sentence_spans", list)]
    return Candidate(entity_id, _clean(" ".join(description[a:b] for a, b in spans)), "", (entity_id,))


def _mewslix_line(path: PathLike, line: int, row: dict, language: str | None, present: set[str]) -> list[Example]:
    if "contextual_mention" in row:  # a Wikipedia mention-entity pair (the training data)
        cm = row["contextual_mention"]
        return [mention_query(path, line, cm["context"], cm["mention"]),
                entity_candidate(path, line, _json_member(path, line, "pair", row, "entity", dict))]
    if "entity_id" in row:  # candidate_set_entities.jsonl
        return [entity_candidate(path, line, row)]
    if "context" in row:  # WikiNews mentions: a context with one mention or several
        context = _json_member(path, line, "mentions", row, "context", dict)
        present.add(str(context.get("language")))
        if language is not None and context.get("language") != language:
            return []
        mentions = row["mentions"] if "mentions" in row else [row.get("mention")]
        return [mention_query(path, line, context, m) for m in mentions]
    raise DataError.at(path, line, "expected a Mewsli-X record: a mention-entity pair, an entity, or a context "
                                "with its mentions")


def read_mewslix(*paths: PathLike, labels: Labels = None, language: str | None = None) -> list[Example]:
    """Mewsli-X JSONL (its schema.py layouts): wikipedia_pairs-*.jsonl (mention-entity pairs),
    wikinews_mentions-*.jsonl (mentions in context; `language` keeps one language) and
    candidate_set_entities.jsonl (the entity pool). Entities are kept once each."""
    _no_labels("mewslix", labels)
    examples: list[Example] = []
    seen: set[str] = set()
    present: set[str] = set()  # the languages of the mention contexts read
    for path in paths:
        for line, row in _jsonl_rows(path):
            try:
                found = _mewslix_line(path, line, row, language, present)
            except (KeyError, TypeError) as err:
                raise DataError.at(path, line, f"missing or malformed field {err}, expected Mewsli-X's schema") from None
            for e in found:
                if isinstance(e, Candidate):
                    if e.id in seen:
                        continue
                    seen.add(e.id)
                examples.append(e)
    if language is not None and present and not any(isinstance(e, RankQuery) for e in examples):
        raise missing_language(paths[0], language, present, "mentions")
    return _nonempty(paths[0], examples, "mentions or entities")

