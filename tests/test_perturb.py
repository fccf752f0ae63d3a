"""Noise on typed examples (ray_xr.noise.perturb): labels stay right for every task family."""
from __future__ import annotations

import string

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ray_xr.data.examples import Answer, Classification, RetrievalPair, SpanQA, Tagging
from tests.conftest import typo_profile
from ray_xr.noise import NOISE_KINDS, NoiseResources
from ray_xr.noise.perturb import (
    perturb_classification, perturb_retrieval, perturb_span_qa, perturb_tagging, protect_names_and_numbers,
    protect_tagged,
)

SMALL = settings(max_examples=80, deadline=None)
# generated kinds (the model-aware attack and the published real-noise sets are not)
TEXT_KINDS = sorted(k for k, spec in NOISE_KINDS.items() if not spec.needs_model and not spec.published)
kinds = st.sampled_from(TEXT_KINDS)
levels = st.floats(0, 1)
seeds = st.integers(0, 2**32)
word = st.text(string.ascii_letters + "éß", min_size=1, max_size=8)
token = st.one_of(word, st.sampled_from([",", ".", "(1999)", "Paris,", "42", "«", "»"]))
gaps = st.sampled_from([" ", "  ", "\n", " \t"])


@pytest.fixture(scope="module")
def resources(tmp_path_factory) -> NoiseResources:
    folder = tmp_path_factory.mktemp("res")
    typos = folder / "typos.tsv"
    typos.write_text("".join(f"{w}\t{w[::-1]}x\n" for w in ["the", "of", "Paris", "house", "a", "in"]), encoding="utf-8")
    lexicon = folder / "lex.txt"
    lexicon.write_text("the le\nhouse maison\nof de\nin dans\n", encoding="utf-8")
    # the typo kind's profile, fitted to the typo file, for every language the tests run in
    profiles = {lang: typo_profile(typos, lang) for lang in ("en", "zh", "ja", "th", "de", "ru", "ar", "hi")}
    return NoiseResources(typo_files={"en": str(typos)}, lexicon_files={"en": str(lexicon)}, profiles=profiles)


def noise(kind, level, seed, resources, **kw):
    return {"kind": kind, "level": level, "lang": "en", "seed": seed, "resources": resources, **kw}


@st.composite
def qa_examples(draw):
    """A context built from tokens and gaps, with answers that are spans of it (some starting or
    ending inside a word, some overlapping each other)."""
    tokens = draw(st.lists(token, min_size=1, max_size=30))
    context = ""
    for t in tokens:
        context += (draw(gaps) if context else draw(st.sampled_from(["", " "]))) + t
    answers = []
    for _ in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, len(context) - 1))
        end = draw(st.integers(start + 1, min(len(context), start + 40)))
        answers.append(Answer(context[start:end], start))
    return SpanQA("q1", draw(st.sampled_from(["Where is the house?", "Who wrote it in 1999?"])), context,
                  tuple(answers))


@SMALL
@given(example=qa_examples(), kind=kinds, level=levels, seed=seeds, protect=st.booleans())
def test_qa_answers_point_at_their_text_in_the_perturbed_context(resources, example, kind, level, seed, protect):
    out = perturb_span_qa(example, "squad", **noise(kind, level, seed, resources, protect=protect))
    assert len(out.answers) == len(example.answers)
    for old, new in zip(example.answers, out.answers):
        assert out.context[new.start:new.start + len(new.text)] == new.text
        if old.text.strip() and not NOISE_KINDS[kind].moves_words:
            # rewriting kinds edit words in place: an answer keeps its number of words
            assert len(new.text.split()) == len(old.text.strip().split())
        if level and NOISE_KINDS[kind].moves_words:  # (level 0 is the identity: tested below)
            assert new.text == old.text.strip()  # never dropped, moved or broken up


@SMALL
@given(example=qa_examples(), kind=kinds, seed=seeds)
def test_qa_level_zero_is_the_identity(resources, example, kind, seed):
    assert perturb_span_qa(example, "squad", **noise(kind, 0, seed, resources)) == example


def test_qa_answer_inside_a_word_and_rewritten_answers():
    context = "He lives in Paris, near the old bridge over the river."
    example = SpanQA("x", "Where?", context, (Answer("Paris", 12), Answer("the old bridge", context.index("the old"))))
    for seed in range(30):
        out = perturb_span_qa(example, "squad", **noise("char", 1, seed, None))
        paris, bridge = out.answers
        assert out.context[paris.start:paris.start + len(paris.text)] == paris.text
        assert out.context[paris.start + len(paris.text)] == ","  # still glued to its comma
        assert len(bridge.text.split()) == 3 and bridge.text != "the old bridge"
        assert out.question != "Where?" or seed  # the question is perturbed too (mostly)
    words = perturb_span_qa(example, "squad", **noise("word", 1, 3, None))
    assert [a.text for a in words.answers] == ["Paris", "the old bridge"]


def test_qa_is_deterministic_and_keeps_whitespace_between_kept_neighbours():
    example = SpanQA("x", "q", "one  two\nthree four", (Answer("three", 9),))
    a = perturb_span_qa(example, "squad", **noise("char", 0.5, 1, None))
    assert a == perturb_span_qa(example, "squad", **noise("char", 0.5, 1, None))
    assert "  " in a.context and "\n" in a.context


@pytest.mark.parametrize("lang, context, answer", [("zh", "我爱北京天安门。", "北京"), ("th", "ที่นี่ดีมาก", "ดี")])
def test_qa_unspaced_languages(lang, context, answer):
    example = SpanQA("x", "q", context, (Answer(answer, context.index(answer)),))
    for seed in range(10):
        out = perturb_span_qa(example, "mlqa", kind="char", level=0.6, lang=lang, seed=seed)
        [a] = out.answers
        assert out.context[a.start:a.start + len(a.text)] == a.text and " " not in out.context


@SMALL
@given(query=st.lists(word, min_size=1, max_size=12).map(" ".join), kind=kinds, level=levels, seed=seeds)
def test_retrieval_perturbs_the_query_only(resources, query, kind, level, seed):
    pair = RetrievalPair("r", query, "the target sentence stays clean")
    out = perturb_retrieval(pair, "tatoeba", **noise(kind, level, seed, resources))
    assert out.target == pair.target and out.id == pair.id
    if level == 0:
        assert out == pair


@SMALL
@given(words=st.lists(token, min_size=1, max_size=25), kind=kinds, level=levels, seed=seeds, protect=st.booleans(),
       tags=st.lists(st.sampled_from(["O", "B-PER", "I-PER", "NOUN", "NUM"]), min_size=25, max_size=25))
def test_tagging_keeps_one_tag_per_word(resources, words, kind, level, seed, protect, tags):
    example = Tagging("t", tuple(words), tuple(tags[:len(words)]))
    out = perturb_tagging(example, "panx", **noise(kind, level, seed, resources, protect=protect))
    assert len(out.words) == len(out.tags)
    if protect:  # entities, proper nouns, numbers: still there, unchanged and in order
        kept = [(w, t) for w, t, p in zip(example.words, example.tags, protect_tagged(example.words, example.tags)) if p]
        assert [(w, t) for w, t in zip(out.words, out.tags) if (w, t) in kept] == kept
    if kind == "word":  # words are dropped or swapped, never rewritten: each keeps its own tag
        pairs = list(zip(example.words, example.tags))
        assert all(pair in pairs for pair in zip(out.words, out.tags))
    else:
        assert out.tags == example.tags


def test_classification_protection_rule():
    words = "The river Thames flows past 3 towns . Then London".split()
    assert protect_names_and_numbers(words) == [False, False, True, False, False, True, False, False, False, True]
    example = Classification("c", " ".join(words), "Thames has 12 bridges", "entailment")
    for seed in range(20):
        out = perturb_classification(example, "xnli", **noise("char", 1, seed, None, protect=True))
        assert {"Thames", "3", "London"} <= set(out.text_a.split()) and "12" in out.text_b.split()
        assert out.label == "entailment"


@SMALL
@given(text=st.lists(word, min_size=1, max_size=10).map(" ".join), seed=seeds)
def test_train_and_test_namespaces_draw_differently(text, seed):
    assume(len(text.split()) >= 6)
    example = Classification("c", text, None, "neutral")
    a = perturb_classification(example, "xnli", **noise("char", 0.5, seed, None))
    b = perturb_classification(example, "train/xnli", **noise("char", 0.5, seed, None))
    c = perturb_classification(example, "xnli", **noise("char", 0.5, seed, None))
    assert a == c and (a != b or a.text_a == text)
