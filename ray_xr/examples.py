"""Typed examples: what every data source yields and every task family consumes.

The stage boundary is Example -> features (families.py) -> batch (train.py). An example is
plain text and labels, so loaders, noise and metrics never see a tokenizer.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    """Unlabelled text, for masked-LM pretraining."""

    id: str
    text: str


@dataclass(frozen=True)
class Classification:
    """A sentence or sentence pair with one label (NLI, paraphrase, sentiment)."""

    id: str
    text_a: str
    text_b: str | None
    label: str


@dataclass(frozen=True)
class Tagging:
    """Words with one tag each (POS tags, BIO entity tags)."""

    id: str
    words: tuple[str, ...]
    tags: tuple[str, ...]

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


@dataclass(frozen=True)
class MultipleChoice:
    """A premise (and optional question) with candidate choices; label is the right index."""

    id: str
    premise: str
    question: str
    choices: tuple[str, ...]
    label: int


@dataclass(frozen=True)
class RetrievalPair:
    """A query and the target it should retrieve (Tatoeba bitext, LAReQA, Mewsli-X)."""

    id: str
    query: str
    target: str


Example = Text | Classification | Tagging | SpanQA | MultipleChoice | RetrievalPair


def texts(e: Example) -> list[str]:
    """The running text of an example, without its labels (for masked-LM pretraining)."""
    if isinstance(e, Tagging):
        return [" ".join(e.words)]
    fields = {Text: ("text",), Classification: ("text_a", "text_b"), SpanQA: ("question", "context"),
              MultipleChoice: ("premise", "question"), RetrievalPair: ("query", "target")}[type(e)]
    out = [getattr(e, name) for name in fields] + list(getattr(e, "choices", ()))
    return [t for t in out if t]
