"""Typed examples: what every data source yields and every task family consumes.

The stage boundary is Example -> features (tasks/families.py) -> batch (run/train.py). An example is
plain text and labels, so loaders, noise and metrics never see a tokenizer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class Text:
    """Unlabelled text, for masked-LM pretraining."""

    id: str
    text: str

    # the fields of running text (examples.texts) and those noise rewrites (data.realised_rate)
    TEXTS: ClassVar[tuple[str, ...]] = ("text",)
    NOISED: ClassVar[tuple[str, ...]] = ("text",)


@dataclass(frozen=True)
class Classification:
    """A sentence or sentence pair with one label (NLI, paraphrase, sentiment)."""

    id: str
    text_a: str
    text_b: str | None
    label: str

    TEXTS: ClassVar[tuple[str, ...]] = ("text_a", "text_b")
    NOISED: ClassVar[tuple[str, ...]] = ("text_a", "text_b")


@dataclass(frozen=True)
class Tagging:
    """Words with one tag each (POS tags, BIO entity tags)."""

    id: str
    words: tuple[str, ...]
    tags: tuple[str, ...]

    TEXTS: ClassVar[tuple[str, ...]] = ("words",)
    NOISED: ClassVar[tuple[str, ...]] = ("words",)

    def __post_init__(self) -> None:
        if len(self.words) != len(self.tags):
            raise ValueError(f"example {self.id}: {len(self.words)} words but {len(self.tags)} tags")


@dataclass(frozen=True)
class Answer:
    text: str
    start: int  # character offset of the answer in the context


@dataclass(frozen=True)
class SpanQA:
    """Extractive QA (SQuAD layout): answers are character spans of the context."""

    id: str
    question: str
    context: str
    answers: tuple[Answer, ...]

    TEXTS: ClassVar[tuple[str, ...]] = ("question", "context")
    NOISED: ClassVar[tuple[str, ...]] = ("question", "context")


@dataclass(frozen=True)
class MultipleChoice:
    """A premise (and optional question) with candidate choices; label is the right index."""

    id: str
    premise: str
    question: str
    choices: tuple[str, ...]
    label: int

    TEXTS: ClassVar[tuple[str, ...]] = ("premise", "question", "choices")
    NOISED: ClassVar[tuple[str, ...]] = ("premise", "choices")


@dataclass(frozen=True)
class RetrievalPair:
    """A query and the target it should retrieve (Tatoeba bitext, LAReQA, Mewsli-X)."""

    id: str
    query: str
    target: str

    TEXTS: ClassVar[tuple[str, ...]] = ("query", "target")
    NOISED: ClassVar[tuple[str, ...]] = ("query",)  # the target side is what is searched


@dataclass(frozen=True)
class RankQuery:
    """A query to rank a pool of candidates for (LAReQA, Mewsli-X). The pool is every Candidate
    in the same example list; the relevant ones are those sharing a key with `relevant`."""

    id: str
    query: str
    relevant: tuple[str, ...]  # relevance keys (LAReQA: the question's cross-lingual id; Mewsli-X: the entity)

    TEXTS: ClassVar[tuple[str, ...]] = ("query",)
    NOISED: ClassVar[tuple[str, ...]] = ("query",)


@dataclass(frozen=True)
class Candidate:
    """One entry of a ranking pool. Noise never touches it: the query is the user's input."""

    id: str
    text: str  # LAReQA: the answer sentence; Mewsli-X: the entity description
    context: str = ""  # LAReQA: the sentence's paragraph, encoded with it as a text pair
    keys: tuple[str, ...] = ()  # the queries it answers (their `relevant` keys)

    TEXTS: ClassVar[tuple[str, ...]] = ("text", "context")
    NOISED: ClassVar[tuple[str, ...]] = ()


Example = Text | Classification | Tagging | SpanQA | MultipleChoice | RetrievalPair | RankQuery | Candidate


def scored(examples: list[Example]) -> list[Example]:
    """The examples a metric scores: all but the entries of a ranking pool."""
    return [e for e in examples if not isinstance(e, Candidate)]


def cap(examples: list[Example], n: int) -> list[Example]:
    """The first n examples (all when n is 0). A ranking pool stays whole, after the queries:
    only queries are cut, and the pool can be tokenized on its own (features.py)."""
    pool = [e for e in examples if isinstance(e, Candidate)]
    if not n and not pool:
        return examples
    return scored(examples)[:n or None] + pool


def texts(e: Example) -> list[str]:
    """The running text of an example (its TEXTS fields), without its labels (for masked-LM
    pretraining): a tagged sentence's words are one text, a tuple of choices several."""
    out: list[str] = []
    for name in e.TEXTS:
        value = getattr(e, name)
        if isinstance(value, str):
            out.append(value)
        elif name == "words":
            out.append(" ".join(value))
        elif value is not None:
            out += value
    return [t for t in out if t]
