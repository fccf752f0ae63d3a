"""A seeded synthetic multilingual benchmark: the offline stand-in for XTREME-R.

Sentences are generated once as abstract structures (lemma, POS, entity type) and realised
in every language. The languages differ the way real ones do:

- ``en``  the English-like source language,
- ``cog`` cognates with regular spelling changes (th->d, c->k, w->v ...), same word order,
- ``ord`` other cognates with Romance-like endings, verb-final order, adjectives after nouns,
- ``cyr`` the ``cog`` lexicon written in Cyrillic,
- ``unr`` an unrelated lexicon (words share nothing with English).

Named entities and numbers are identical in every language: they are the natural anchors that
let a multilingual masked LM align the languages, as in real corpora.
"""
from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from ray_xr.data.examples import (Answer, Candidate, Classification, MultipleChoice, RankQuery, RetrievalPair, SpanQA,
                             Tagging, Text)

SOURCE = "en"
LANGUAGES = ("en", "cog", "ord", "cyr", "unr")

NOUNS = ("dog cat house car book tree river city child teacher doctor farmer letter window "
         "garden table road ship horse bird apple bread music story friend king queen school "
         "market bridge forest mountain village kitchen train shop song paper chair flower "
         "student worker soldier lawyer painter singer baker sister brother mother father").split()
VERBS = ("sees likes finds buys sells builds paints writes reads visits helps carries opens "
         "closes watches follows calls cleans moves takes brings wants keeps loves hates").split()
ADJS = ("old young big small red green happy sad quick slow rich poor tall short dark bright "
        "quiet loud warm cold new clean").split()
ADPS = ("in near behind under over beside").split()
FUNCTION = {"the": "DET", "a": "DET", "not": "PART", "does": "AUX", "and": "CCONJ", ".": "PUNCT"}
SYLLABLES = ("ka ro mi ta lu ven dor sa bel ni tor ga li mo ran fel zu pa ke sol mar vin "
             "te ha bo").split()

# Regular spelling changes, applied in order: what makes cognates recognisable as such.
COGNATE_RULES = {
    "cog": (("th", "d"), ("sh", "sch"), ("c", "k"), ("w", "v"), ("ee", "ie"), ("ou", "oe"),
            ("y$", "ie"), ("x", "ks")),
    "ord": (("th", "t"), ("sh", "x"), ("k", "c"), ("w", "gu"), ("ee", "i"), ("y$", "ia"),
            ("([bcdfgklmnprstvz])$", r"\1o")),
}
CYRILLIC = dict(zip("abcdefghijklmnopqrstuvwyz", "абцдефгхийклмнопкрстуввыз"))
ENTITY_TYPES = ("PER", "ORG", "LOC", "MISC")


@dataclass(frozen=True)
class Token:
    lemma: str
    pos: str
    ent: str = "O"  # BIO entity tag


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _name(rng: random.Random, n_syll: int) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(n_syll)).capitalize()


@lru_cache(maxsize=None)
def entities(seed: int) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Entity names per type (multi-word for PER/ORG), shared by every language."""
    rng = _rng(seed, "entities")
    return {
        "PER": tuple((_name(rng, 2), _name(rng, 3)) for _ in range(60)),
        "ORG": tuple((_name(rng, 3), rng.choice(("Group", "Bank", "Union"))) for _ in range(30)),
        "LOC": tuple((_name(rng, 2),) for _ in range(40)),
        "MISC": tuple((_name(rng, 3) + "ian",) for _ in range(20)),
    }


def _unrelated_word(lemma: str, seed: int) -> str:
    rng = _rng(seed, "unr", lemma)
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3)))


@lru_cache(maxsize=None)
def _word(lemma: str, lang: str, seed: int) -> str:
    if lang == "en" or lemma == "." or lemma[:1].isupper() or lemma.isdigit():
        return lemma
    if lang == "unr":
        return _unrelated_word(lemma, seed)
    rules = COGNATE_RULES["ord" if lang == "ord" else "cog"]
    word = lemma
    for pattern, repl in rules:
        word = re.sub(pattern, repl, word)
    if lang == "cyr":
        word = "".join(CYRILLIC.get(ch, ch) for ch in word)
    return word


def _noun_phrase(rng: random.Random, seed: int, allow_entity: bool) -> list[Token]:
    if allow_entity and rng.random() < 0.45:
        kind = rng.choice(("PER", "PER", "ORG", "MISC"))
        words = rng.choice(entities(seed)[kind])
        return [Token(w, "PROPN", ("B-" if i == 0 else "I-") + kind) for i, w in enumerate(words)]
    phrase = [Token(rng.choice(("the", "a")), "DET")]
    if rng.random() < 0.5:
        phrase.append(Token(rng.choice(ADJS), "ADJ"))
    return phrase + [Token(rng.choice(NOUNS), "NOUN")]


def _place(rng: random.Random, seed: int) -> list[Token]:
    adp = Token(rng.choice(ADPS), "ADP")
    if rng.random() < 0.5:
        return [adp, Token(rng.choice(entities(seed)["LOC"])[0], "PROPN", "B-LOC")]
    return [adp, Token("the", "DET"), Token(rng.choice(NOUNS), "NOUN")]


@dataclass(frozen=True)
class Clause:
    """An abstract sentence; NLI hypotheses are edits of it."""

    subj: tuple[Token, ...]
    verb: Token
    obj: tuple[Token, ...]
    negated: bool = False
    place: tuple[Token, ...] = ()
    year: tuple[Token, ...] = ()

    def tokens(self, lang: str) -> list[Token]:
        verb = [Token("does", "AUX"), Token("not", "PART"), self.verb] if self.negated else [self.verb]
        subj, obj = _adj_order(self.subj, lang), _adj_order(self.obj, lang)
        core = subj + obj + verb if lang == "ord" else subj + verb + obj
        return core + list(self.place) + list(self.year) + [Token(".", "PUNCT")]


def _adj_order(phrase: tuple[Token, ...], lang: str) -> list[Token]:
    # Adjectives follow the noun in the verb-final language, as in Romance languages.
    if lang == "ord" and len(phrase) == 3 and phrase[1].pos == "ADJ":
        return [phrase[0], phrase[2], phrase[1]]
    return list(phrase)


def clause(rng: random.Random, seed: int) -> Clause:
    place = tuple(_place(rng, seed)) if rng.random() < 0.6 else ()
    year = (Token("in", "ADP"), Token(str(rng.randint(1900, 2030)), "NUM")) if rng.random() < 0.3 else ()
    return Clause(tuple(_noun_phrase(rng, seed, True)), Token(rng.choice(VERBS), "VERB"),
                  tuple(_noun_phrase(rng, seed, True)), rng.random() < 0.15, place, year)


def realise(tokens: list[Token], lang: str, seed: int) -> list[str]:
    return [_word(t.lemma, lang, seed) for t in tokens]


def _text(c: Clause, lang: str, seed: int) -> str:
    return " ".join(realise(c.tokens(lang), lang, seed))


# -- NLI: hypotheses are edits of the premise whose label follows from the edit --------------

def _drop_modifiers(c: Clause, rng: random.Random) -> Clause:
    """Entailed: the premise with optional parts left out."""
    keep_place, keep_year = rng.random() < 0.3, rng.random() < 0.3
    subj = tuple(t for t in c.subj if t.pos != "ADJ") if rng.random() < 0.6 else c.subj
    return Clause(subj, c.verb, c.obj, c.negated, c.place if keep_place else (), c.year if keep_year else ())


def _contradict(c: Clause, rng: random.Random, seed: int) -> Clause:
    move = rng.randrange(3)
    if move == 0:
        return Clause(c.subj, c.verb, c.obj, not c.negated, c.place, c.year)
    if move == 1:
        other = tuple(t for t in _noun_phrase(rng, seed, True))
        return Clause(c.subj, c.verb, other if other != c.obj else c.subj, c.negated, c.place, c.year)
    verb = Token(rng.choice([v for v in VERBS if v != c.verb.lemma]), "VERB")
    return Clause(c.subj, verb, c.obj, c.negated, c.place, c.year)


def _add_information(c: Clause, rng: random.Random, seed: int) -> Clause:
    """Neutral: the premise plus something it does not say."""
    if not c.place:
        return Clause(c.subj, c.verb, c.obj, c.negated, tuple(_place(rng, seed)), c.year)
    if not c.year:
        return Clause(c.subj, c.verb, c.obj, c.negated, c.place,
                      (Token("in", "ADP"), Token(str(rng.randint(1900, 2030)), "NUM")))
    obj = c.obj
    if len(obj) == 2 and obj[1].pos == "NOUN":
        obj = (obj[0], Token(rng.choice(ADJS), "ADJ"), obj[1])
    return Clause(c.subj, c.verb, obj, c.negated, c.place, ())


NLI_LABELS = ("entailment", "neutral", "contradiction")


def nli(stream: str, split: str, lang: str, n: int, seed: int) -> list[Classification]:
    """Premise/hypothesis pairs; ``stream`` keeps tasks that share a generator apart."""
    out = []
    for i in range(n):
        rng = _rng(seed, stream, split, i)
        premise = clause(rng, seed)
        label = NLI_LABELS[i % 3]
        hyp = {"entailment": lambda: _drop_modifiers(premise, rng),
               "neutral": lambda: _add_information(premise, rng, seed),
               "contradiction": lambda: _contradict(premise, rng, seed)}[label]()
        out.append(Classification(f"{split}-{i}", _text(premise, lang, seed), _text(hyp, lang, seed), label))
    return out


def tagging(stream: str, split: str, lang: str, n: int, seed: int, scheme: str) -> list[Tagging]:
    """POS tags (scheme 'upos') or BIO entity tags (scheme 'ner' with MISC, 'panx' without)."""
    out = []
    for i in range(n):
        rng = _rng(seed, stream, split, i)
        tokens = clause(rng, seed).tokens(lang)
        if scheme == "upos":
            tags = [t.pos for t in tokens]
        else:
            tags = [t.ent if not (scheme == "panx" and t.ent.endswith("MISC")) else "O" for t in tokens]
        out.append(Tagging(f"{split}-{i}", tuple(realise(tokens, lang, seed)), tuple(tags)))
    return out


# -- QA, multiple choice and retrieval: the other heads' counterparts -------------------------

def _question(c: Clause, ask: str) -> tuple[Clause, tuple[Token, ...]]:
    """The clause with the asked part replaced by a question word, and the asked part."""
    if ask == "subj":
        return Clause((Token("who", "PRON"),), c.verb, c.obj, c.negated, c.place, c.year), c.subj
    if ask == "obj":
        return Clause(c.subj, c.verb, (Token("what", "PRON"),), c.negated, c.place, c.year), c.obj
    return Clause(c.subj, c.verb, c.obj, c.negated, (Token("where", "ADV"),), c.year), c.place[1:]


def _qa_draw(stream: str, split: str, i: int, seed: int, sentences: int) -> tuple[list[Clause], int, str]:
    """The clauses of QA item i, the one asked about, and what is asked (subject, object, place)."""
    rng = _rng(seed, stream, split, i)
    clauses = [clause(rng, seed) for _ in range(sentences)]
    pick = rng.randrange(sentences)
    return clauses, pick, rng.choice(("subj", "obj", "where") if clauses[pick].place else ("subj", "obj"))


def qa(stream: str, split: str, lang: str, n: int, seed: int, sentences: int = 3) -> list[SpanQA]:
    """A few sentences as context and a who/what/where question about one of them; the answer
    is the asked phrase as it appears in the context."""
    out = []
    for i in range(n):
        clauses, pick, ask = _qa_draw(stream, split, i, seed, sentences)
        asked, phrase = _question(clauses[pick], ask)
        before = " ".join(_text(c, lang, seed) for c in clauses[:pick])
        words = realise(clauses[pick].tokens(lang), lang, seed)
        answer = realise(_adj_order(phrase, lang), lang, seed)
        # the subject opens the clause; object and place come after it, so search from there
        starts = [j for j in range(len(words)) if words[j:j + len(answer)] == answer]
        at = starts[0] if ask == "subj" else next(j for j in starts if j >= len(clauses[pick].subj))
        offset = len(before) + bool(before) + len(" ".join(words[:at])) + bool(at)
        context = " ".join(t for t in (before, " ".join(words), " ".join(
            _text(c, lang, seed) for c in clauses[pick + 1:])) if t)
        question = " ".join(realise(asked.tokens(lang)[:-1], lang, seed)) + " ?"
        out.append(SpanQA(f"{split}-{i}", question, context, (Answer(" ".join(answer), offset),)))
    return out


def ranking(stream: str, split: str, lang: str, n: int, seed: int, pool: tuple[str, ...],
            sentences: int = 3) -> list[RankQuery | Candidate]:
    """LAReQA-like: the QA items' questions in `lang` rank every sentence of every item's
    context in each `pool` language; the asked sentence answers, in every language."""
    queries, candidates = [], []
    for i in range(n):
        clauses, pick, ask = _qa_draw(stream, split, i, seed, sentences)
        asked, _ = _question(clauses[pick], ask)
        question = " ".join(realise(asked.tokens(lang)[:-1], lang, seed)) + " ?"
        queries.append(RankQuery(f"{split}-{i}_{lang}", question, (f"{split}-{i}",)))
        for other in pool:
            texts = [_text(c, other, seed) for c in clauses]
            candidates += [Candidate(f"{other}_{i}_{j}", t, " ".join(texts), (f"{split}-{i}",) if j == pick else ())
                           for j, t in enumerate(texts)]
    return queries + candidates


def choice(stream: str, split: str, lang: str, n: int, seed: int) -> list[MultipleChoice]:
    """COPA-like: which of two continuations follows from the premise (the other contradicts it)."""
    out = []
    for i in range(n):
        rng = _rng(seed, stream, split, i)
        premise = clause(rng, seed)
        right, wrong = _drop_modifiers(premise, rng), _contradict(premise, rng, seed)
        label = rng.randrange(2)
        choices = (right, wrong) if label == 0 else (wrong, right)
        out.append(MultipleChoice(f"{split}-{i}", _text(premise, lang, seed), "",
                                  tuple(_text(c, lang, seed) for c in choices), label))
    return out


def parallel(stream: str, split: str, lang: str, n: int, seed: int) -> list[RetrievalPair]:
    """Tatoeba-like bitext: a sentence in `lang` and its English translation."""
    out = []
    for i in range(n):
        c = clause(_rng(seed, stream, split, i), seed)
        out.append(RetrievalPair(f"{split}-{i}", _text(c, lang, seed), _text(c, SOURCE, seed)))
    return out


def corpus(lang: str, n: int, seed: int) -> list[Text]:
    """Monolingual unlabelled text (not parallel: nothing aligns the languages but the anchors)."""
    return [Text(f"{lang}-{i}", _text(clause(_rng(seed, "corpus", lang, i), seed), lang, seed))
            for i in range(n)]
