"""Tests for ray_xr.noise: the spec in its module docstring, checked as properties."""
from __future__ import annotations

import os
import random
import string
import subprocess
import sys
import unicodedata
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ray_xr.data import synthetic
from ray_xr.errors import NoiseError
from tests.conftest import typo_profile
from ray_xr.noise import keyboards
from ray_xr.noise import (
    NOISE_KINDS, NoiseKind, NoiseResources, candidates, perturb_text, perturb_words, shown,
)

REPO = Path(__file__).resolve().parents[1]
CYRILLIC_UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ"
CYRILLIC = CYRILLIC_UPPER.lower() + CYRILLIC_UPPER
EDITING_KINDS = ("char", "keyboard")  # kinds that rewrite words in place
# generated kinds (the model-aware attack and the published real-noise sets are not)
TEXT_KINDS = sorted(k for k, spec in NOISE_KINDS.items() if not spec.needs_model and not spec.published)
SMALL = settings(max_examples=60, deadline=None)

latin_words = st.lists(st.text(string.ascii_letters, min_size=1, max_size=10), max_size=25)
tokens = st.lists(st.one_of(st.text(string.ascii_letters, min_size=1, max_size=10),
                            st.sampled_from([",", ".", "42", "—", "(", "1999"])), max_size=25)
levels = st.floats(0, 1)
seeds = st.integers(0, 2**32)


@pytest.fixture(scope="session")
def resources(tmp_path_factory: pytest.TempPathFactory) -> NoiseResources:
    folder = tmp_path_factory.mktemp("noise")
    typos = folder / "typos.tsv"
    typos.write_text("the\tteh\nreceive\trecieve\nreceive\treceeve\n\nhouse\thuose\nsame\tsame\n", encoding="utf-8")
    lexicon = folder / "en-fr.txt"
    lexicon.write_text("house maison\ndog chien\nthe le\nthe la\ncat cat\n", encoding="utf-8")
    # the typo kind's profile, fitted to the typo file, for every language the tests run in
    profiles = {lang: typo_profile(typos, lang) for lang in ("en", "zh", "ja", "th", "de", "ru", "ar", "hi")}
    return NoiseResources(typo_files={"en": str(typos)}, lexicon_files={"en": str(lexicon)}, profiles=profiles)


def run(words, kind, level, seed=0, resources=None, lang="en", **kw):
    return perturb_words(words, kind, level, lang=lang, seed=seed, example_id="ex", resources=resources, **kw)


def one_edit_apart(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or adjacent transposition turns a into b."""
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and (a[diff[0]], a[diff[1]]) == (b[diff[1]], b[diff[0]]))
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return len(longer) == len(shorter) + 1 and any(longer[:i] + longer[i + 1:] == shorter for i in range(len(longer)))


def sentences(n: int, rng: random.Random) -> list[list[str]]:
    vocab = ["".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(1, 9))) for _ in range(500)]
    return [[rng.choice(vocab) for _ in range(rng.randint(1, 30))] for _ in range(n)]


# --- level, determinism, nesting -------------------------------------------------------------


@SMALL
@given(words=tokens, kind=st.sampled_from(TEXT_KINDS), seed=seeds)
def test_level_zero_is_the_identity(resources, words, kind, seed):
    result = run(words, kind, 0, seed, resources)
    assert result.words == tuple(words)
    assert result.source == tuple(range(len(words)))
    assert (result.n_perturbed, result.n_words) == (0, len(words))


@SMALL
@given(words=latin_words, kind=st.sampled_from(TEXT_KINDS), level=levels, seed=seeds)
def test_same_arguments_same_output(resources, words, kind, level, seed):
    assert run(words, kind, level, seed, resources) == run(list(words), kind, level, seed, resources)


@pytest.mark.parametrize("kind", ["char", "keyboard", "word"])
def test_different_seeds_usually_differ(kind):
    words = "the quick brown fox jumps over the lazy dog while seven tired cats watch it".split()
    outputs = {run(words, kind, 0.5, seed).words for seed in range(50)}
    assert len(outputs) >= 45


@pytest.mark.parametrize("key", ["example_id", "field"])
def test_example_and_field_change_the_draw(key):
    words = "the quick brown fox jumps over the lazy dog while seven tired cats watch it".split()
    base = dict(lang="en", seed=0, example_id="a", field="")
    outputs = {perturb_words(words, "char", 0.5, **{**base, key: f"v{i}"}).words for i in range(30)}
    assert len(outputs) >= 27


def test_same_output_in_fresh_processes_with_different_hash_seeds():
    code = ("from ray_xr.noise import perturb_text as p\n"
            "print(p('Über die Brücke gehen wir heute', 'char', 0.6, lang='de', seed=7, example_id='x'))")
    expected = perturb_text("Über die Brücke gehen wir heute", "char", 0.6, lang="de", seed=7, example_id="x")
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(REPO)}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected


def test_outputs_are_pinned_across_machines():
    # Frozen outputs: a change here changes every noisy dataset, so it must be deliberate.
    text = "The quick brown fox jumps over the lazy dog"
    got = {kind: perturb_text(text, kind, 0.5, lang="en", seed=3, example_id="pin")
           for kind in ("char", "keyboard", "word")}
    assert got == {
        "char": "he qjick brown fx juqps okver the lazy dog",
        "keyboard": "Tye quock brpwn fox jumps over yhe lazy dog",
        "word": "quick The brown the over lazy",
    }


@SMALL
@given(words=latin_words, kind=st.sampled_from(EDITING_KINDS), low=levels, high=levels, seed=seeds)
def test_levels_nest_and_edits_are_stable(words, kind, low, high, seed):
    low, high = sorted((low, high))
    a, b = run(words, kind, low, seed), run(words, kind, high, seed)
    assert a.n_perturbed <= b.n_perturbed
    for i, word in enumerate(words):
        if a.words[i] != word:
            assert b.words[i] == a.words[i]


MARK = NoiseKind("mark", "marks chosen words", eligible=lambda w, _: True, edit=lambda w, rng, _: w + "\u2020")


@SMALL
@given(words=tokens, low=levels, high=levels, seed=seeds)
def test_selection_nests(words, low, high, seed):
    # A marker kind exposes which words the engine, shared by all kinds, chose.
    low, high = sorted((low, high))
    with mock.patch.dict(NOISE_KINDS, mark=MARK):
        chosen = [{i for i, w in enumerate(run(words, "mark", level, seed).words) if w.endswith("\u2020")}
                  for level in (low, high)]
    assert chosen[0] <= chosen[1]


@SMALL
@given(words=latin_words, low=levels, high=levels, seed=seeds)
def test_word_noise_counts_nest(words, low, high, seed):
    low, high = sorted((low, high))
    assert run(words, "word", low, seed).n_perturbed <= run(words, "word", high, seed).n_perturbed


# --- realised rate -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["char", "keyboard", "word"])
@pytest.mark.parametrize("level", [0.05, 0.2, 0.5])
def test_realised_rate_matches_level(kind, level):
    corpus = sentences(1000, random.Random(level))
    results = [perturb_words(words, kind, level, lang="en", seed=1, example_id=str(i))
               for i, words in enumerate(corpus)]
    n_words = sum(len(words) for words in corpus)
    assert abs(sum(r.n_perturbed for r in results) / n_words - level) <= 0.02
    for words, result in zip(corpus, results):
        assert abs(result.n_perturbed - level * len(words)) < 1
        if kind != "word":  # n_perturbed must be the truth: exactly that many words changed
            assert sum(a != b for a, b in zip(words, result.words)) == result.n_perturbed
        elif result.n_perturbed:
            assert result.source != tuple(range(len(words)))


# --- alignment ----------------------------------------------------------------------------------


@SMALL
@given(words=tokens, kind=st.sampled_from(EDITING_KINDS), level=levels, seed=seeds)
def test_char_edits_keep_alignment_and_change_one_character(words, kind, level, seed):
    result = run(words, kind, level, seed)
    assert result.source == tuple(range(len(words)))
    for new, i in zip(result.words, result.source):
        assert new == words[i] or one_edit_apart(words[i], new)
        if kind == "keyboard" and new != words[i]:
            assert len(new) == len(words[i])


@SMALL
@given(words=tokens, level=levels, seed=seeds, protect=st.lists(st.booleans(), min_size=25, max_size=25))
def test_word_noise_source_points_at_each_word(words, level, seed, protect):
    protect = protect[:len(words)]
    result = run(words, "word", level, seed, protect=protect)
    source = result.source
    assert len(set(source)) == len(source) == len(result.words)
    assert all(result.words[j] == words[i] for j, i in enumerate(source))
    assert len(words) - len(source) <= result.n_perturbed
    # Moves are swaps of adjacent input words, never overlapping.
    inversions = [j for j in range(len(source) - 1) if source[j] > source[j + 1]]
    assert all(source[j] == source[j + 1] + 1 for j in inversions)
    assert all(b - a > 1 for a, b in zip(inversions, inversions[1:]))
    assert all(i in source for i, p in enumerate(protect) if p)
    assert not any(protect[source[j]] or protect[source[j + 1]] for j in inversions)


def test_word_noise_never_moves_protected_words():
    for seed in range(20):
        result = run(list("abcdefghij"), "word", 1, seed, protect=[False, True] * 5)
        kept = [i for i in result.source if i % 2]
        assert kept == [1, 3, 5, 7, 9] and list(result.source) == sorted(result.source)


def test_swap_and_drop_both_happen_and_last_word_can_only_drop():
    words = [f"w{i}" for i in range(40)]
    result = run(words, "word", 1, seed=5)
    assert len(result.words) < 40  # drops
    assert any(a > b for a, b in zip(result.source, result.source[1:]))  # swaps
    for seed in range(20):
        assert run(["a", "b"], "word", 1, seed).source in {(1, 0), ()}, "b swapped with a, or both dropped"


# --- protection and eligibility ----------------------------------------------------------------


@SMALL
@given(words=tokens, kind=st.sampled_from(TEXT_KINDS), seed=seeds,
       protect=st.lists(st.booleans(), min_size=25, max_size=25))
def test_protected_words_are_never_perturbed(resources, words, kind, seed, protect):
    protect = protect[:len(words)]
    result = run(words, kind, 1, seed, resources, protect=protect)
    for j, i in enumerate(result.source):
        if protect[i]:
            assert result.words[j] == words[i]
    assert set(i for i, p in enumerate(protect) if p) <= set(result.source)
    assert result.n_perturbed <= protect.count(False)
    source = result.source
    for j, i in enumerate(source):  # not moved either: ordered against both output neighbours
        if protect[i]:
            assert all(source[k] < i for k in range(j)) and all(source[k] > i for k in range(j + 1, len(source)))


@pytest.mark.parametrize("kind", EDITING_KINDS)
def test_tokens_without_letters_are_not_eligible(kind):
    words = ["Hello", ",", "world", "42", "!", "x"]
    result = run(words, kind, 1, seed=0)
    assert result.n_perturbed == 3
    assert [result.words[i] for i in (1, 3, 4)] == [",", "42", "!"]
    assert all(result.words[i] != words[i] for i in (0, 2, 5))


def test_level_one_with_word_noise_perturbs_every_word():
    assert run(list("abcdefgh"), "word", 1, seed=3).n_perturbed == 8


# --- scripts and keyboards ---------------------------------------------------------------------


@SMALL
@given(word=st.one_of(st.text(string.ascii_uppercase, min_size=2, max_size=12),
                     st.text(CYRILLIC_UPPER, min_size=2, max_size=12)),
       kind=st.sampled_from(EDITING_KINDS), seed=seeds)
def test_upper_case_words_stay_upper_case(word, kind, seed):
    new = run([word], kind, 1, seed, lang="ru").words[0]
    assert new.isupper()


@SMALL
@given(word=st.text(CYRILLIC, min_size=1, max_size=12), kind=st.sampled_from(EDITING_KINDS),
       lang=st.sampled_from(["ru", "en", "bg", "de"]), seed=seeds)
def test_cyrillic_stays_cyrillic(word, kind, lang, seed):
    new = run([word], kind, 1, seed, lang=lang).words[0]
    assert new != word
    assert all(unicodedata.name(c).startswith("CYRILLIC") for c in new)


SCRIPT_SAMPLES = {
    "GREEK": ("el", ["Καλημέρα", "κόσμε", "ΣΟΦΙΑ", "σήμερα", "ψ"]),
    "ARABIC": ("ar", ["مرحبا", "بالعالم", "كتاب", "و"]),
    "DEVANAGARI": ("hi", ["नमस्ते", "दुनिया", "किताब", "क"]),
    "THAI": ("th", ["สวัสดี", "ประเทศ", "ไทย", "ก"]),
    "CJK UNIFIED": ("zh", ["我", "爱", "北京"]),
    "ARMENIAN": ("hy", ["բարեւ", "աշխարհ"]),
    "GEORGIAN": ("ka", ["გამარჯობა"]),
}


@pytest.mark.parametrize("script", sorted(SCRIPT_SAMPLES))
@pytest.mark.parametrize("kind", EDITING_KINDS)
def test_edits_stay_in_the_words_script(script, kind):
    lang, words = SCRIPT_SAMPLES[script]
    for seed in range(25):
        result = run(words, kind, 1, seed, lang=lang)
        for old, new in zip(words, result.words):
            assert new != old
            letters = [c for c in new if unicodedata.category(c)[0] == "L"]
            assert all(unicodedata.name(c).startswith(script) for c in letters), (old, new)


def keyboard_outcomes(word: str, lang: str, seeds: int = 150) -> set[str]:
    return {run([word], "keyboard", 1, seed, lang=lang).words[0] for seed in range(seeds)}


@pytest.mark.parametrize("lang, key, adjacent", [
    ("en", "g", "fhtyvb"), ("en", "G", "FHTYVB"), ("it", "g", "fhtyvb"), ("de", "z", "tugh"),
    ("fr", "a", "zqé"), ("es", "ñ", "lp"), ("ru", "к", "уева"), ("tr", "ı", "uojk"), ("el", "ά", "ςσζ"),
    ("th", "ก", "หดพป"),  # not the vowel keys ำ and แ: a consonant's place takes a consonant ("ar", "ر", "بلؤ"), ("hi", "क", "गदरतस"), ("ru", "g", "fhtyvb"), ("en", "ж", "дэзхю"),
])
def test_keyboard_substitutes_an_adjacent_key(lang, key, adjacent):
    assert keyboard_outcomes(key, lang) == set(adjacent)


def test_keyboard_without_a_layout_substitutes_within_the_script():
    outcomes = keyboard_outcomes("ა", "ka", seeds=40)
    assert len(outcomes) > 5
    assert all(len(w) == 1 and unicodedata.name(w).startswith("GEORGIAN") for w in outcomes)


# --- lookup kinds -------------------------------------------------------------------------------


def test_realworld_uses_the_typo_file(resources):
    words = ["The", "house", "will", "receive", "THE", "same", "guests"]
    result = run(words, "realworld", 1, seed=0, resources=resources)
    assert result.words[:5] == ("Teh", "huose", "will", result.words[3], "TEH")
    assert result.words[3] in {"recieve", "receeve"}
    assert result.words[5:] == ("same", "guests")  # identity entries and unknown words are not eligible
    assert (result.n_perturbed, result.n_words) == (4, 7)
    assert {run(["receive"], "realworld", 1, s, resources).words[0] for s in range(30)} == {"recieve", "receeve"}


def test_realised_rate_of_lookup_kinds_counts_only_listed_words(resources):
    words = "the house and the dog met a cat".split()
    result = run(words, "codeswitch", 0.5, seed=2, resources=resources)
    assert result.n_perturbed == 2 and result.n_words == 8  # half of the 4 listed words
    full = run(words, "codeswitch", 1, seed=2, resources=resources)
    assert full.words[1] == "maison" and full.words[4] == "chien" and full.words[7] == "cat"
    assert {full.words[0], full.words[3]} <= {"le", "la"}


@pytest.mark.parametrize("kind, expected", [("realworld", "typo"), ("codeswitch", "lexicon")])
def test_missing_resource_names_language_and_file(resources, kind, expected):
    with pytest.raises(NoiseError, match=rf"{expected}.*'de'"):
        run(["Haus"], kind, 0.5, resources=resources, lang="de")
    with pytest.raises(NoiseError, match=expected):
        run(["house"], kind, 0.5)


def test_unreadable_or_malformed_resource_files(tmp_path):
    with pytest.raises(NoiseError, match="not readable.*nowhere.tsv"):
        run(["a"], "realworld", 0.5, resources=NoiseResources(typo_files={"en": str(tmp_path / "nowhere.tsv")}))
    bad = tmp_path / "bad.tsv"
    bad.write_text("fine\tfien\nno tab here\n", encoding="utf-8")
    with pytest.raises(NoiseError, match=r"bad\.tsv:2: expected"):
        run(["a"], "realworld", 0.5, resources=NoiseResources(typo_files={"en": str(bad)}))


def test_resources_are_frozen_copies():
    files = {"en": "a.tsv"}
    res = NoiseResources(typo_files=files)
    files["en"] = "b.tsv"
    assert res.typo_files["en"] == "a.tsv"
    with pytest.raises(TypeError):
        res.typo_files["de"] = "c.tsv"


# --- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("level", [-0.01, 1.01, float("nan"), "0.5", None, True])
def test_level_outside_unit_interval_is_an_error(level):
    with pytest.raises(NoiseError, match="level") as err:
        run(["word"], "char", level)
    assert "\n" not in str(err.value)
    assert isinstance(err.value, ValueError)


def test_unknown_kind_is_an_error_listing_the_kinds():
    with pytest.raises(NoiseError, match="unknown noise kind 'typpo'; expected one of: attack, char, codeswitch"):
        perturb_text("a b", "typpo", 0.1, lang="en", seed=0, example_id="x")


def test_bad_protect_and_seed_are_errors():
    with pytest.raises(NoiseError, match="protect has 1 flags for 2 words"):
        run(["a", "b"], "char", 0.5, protect=[True])
    with pytest.raises(NoiseError, match="seed"):
        run(["a"], "char", 0.5, seed=1.5)


# --- text, show, registry, imports ------------------------------------------------------------


def test_text_is_split_on_whitespace_and_joined_with_single_spaces():
    assert perturb_text("  a \tb\n c ", "char", 0, lang="en", seed=0, example_id="x") == "a b c"
    noisy = perturb_text("alpha beta gamma delta", "word", 1, lang="en", seed=0, example_id="x")
    assert "  " not in noisy and noisy == noisy.strip()


@pytest.mark.parametrize("lang, text, n_words", [
    ("zh", "我爱北京 iPhone。", 6), ("ja", "東京タワー", 5), ("th", "ที่นี่ ดี", 3), ("en", "ที่นี่ ดี", 2),
])
def test_unspaced_languages_count_characters_as_words(lang, text, n_words):
    assert f"of {n_words} words" in shown("char", 0, lang, 0, text)[1]
    assert perturb_text(text, "char", 0, lang=lang, seed=0, example_id="x") == text


def test_unspaced_text_gets_no_new_spaces():
    text = "我爱北京天安门。"
    for seed in range(10):
        out = perturb_text(text, "char", 0.5, lang="zh", seed=seed, example_id="x")
        assert " " not in out and out != text


def test_show_reports_before_after_and_counts():
    out = shown("word", 1.0, "en", 4, "one two three four")[1]
    assert "word noise" in out and "in:  one two three four" in out
    assert "4 of 4 words perturbed" in out and "out: " in out


def test_a_new_kind_is_one_registry_entry(monkeypatch):
    monkeypatch.setitem(NOISE_KINDS, "shout", NoiseKind(
        "shout", "upper-cases words", eligible=lambda w, _: w.islower(), edit=lambda w, rng, _: w.upper()))
    result = run(["hi", "there", "OK"], "shout", 1)
    assert result.words == ("HI", "THERE", "OK") and result.n_perturbed == 2


def test_import_pulls_in_no_heavy_packages():
    heavy = "{'torch', 'numpy', 'ray', 'transformers', 'datasets'}"
    code = f"import sys, ray_xr.noise; print(' '.join(sorted({heavy} & set(sys.modules))))"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_script_alphabet_is_a_real_alphabet_of_that_script():
    for script in keyboards._ALPHABETS:
        letters = keyboards._script_alphabet(script)
        assert len(letters) >= 10, script
        assert all(c.isalpha() and keyboards.script_of(c) == script for c in letters), script
        assert keyboards.alphabet(letters[0]) == letters


def test_keyboard_tables_are_consistent():
    for name, rows in keyboards.LAYOUTS.items():
        assert len(rows) in (4, 8), name
        for key, near in keyboards.neighbours(name).items():
            assert key not in near and len(set(near)) == len(near), (name, key)


# --- model-aware kinds (attack): candidates and budget ------------------------------------------


def test_the_text_engine_refuses_model_aware_kinds():
    assert NOISE_KINDS["attack"].needs_model and not NOISE_KINDS["char"].needs_model
    with pytest.raises(NoiseError, match="needs the model"):
        run(["a", "b"], "attack", 0.5)


@SMALL
@given(words=tokens, low=levels, high=levels, seed=seeds, protect=st.lists(st.booleans(), min_size=25, max_size=25))
def test_attack_candidates_are_deterministic_one_edit_and_budgets_nest(words, low, high, seed, protect):
    low, high = sorted((low, high))
    protect = protect[:len(words)]
    kw = dict(lang="en", seed=seed, example_id="e", protect=protect)
    b_low, found = candidates(words, "attack", low, **kw)
    b_high, again = candidates(words, "attack", high, **kw)
    assert found == again and b_low <= b_high <= len(found)
    for i, options in found.items():
        assert not protect[i] and 1 <= len(options) <= 3 and len(set(options)) == len(options)
        assert all(one_edit_apart(words[i], o) for o in options)
    assert all(i in found for i, w in enumerate(words) if not protect[i] and any(c.isalpha() for c in w)
               and len(w) > 1)


def test_attack_budget_matches_the_level_on_average():
    corpus = sentences(1000, random.Random(5))
    budgets = [candidates(words, "attack", 0.2, lang="en", seed=0, example_id=str(i))[0] for i, words in enumerate(corpus)]
    assert abs(sum(budgets) / sum(len(w) for w in corpus) - 0.2) <= 0.02


# --- the command line -----------------------------------------------------------------------------


def cli(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("ray-xr")
    return subprocess.run([str(exe), "noise", "show", *args], capture_output=True, text=True)


def test_cli_noise_show_prints_only_the_perturbed_text(resources):
    out = cli("--kind", "char", "--level", "0.5", "--lang", "de", "--seed", "7", "Über die Brücke gehen wir heute")
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout == perturb_text("Über die Brücke gehen wir heute", "char", 0.5, lang="de", seed=7,
                                      example_id="show") + "\n"
    typo = cli("--kind", "realworld", "--level", "1", "--lang", "en", "--typo-file", resources.typo_files["en"],
               "The house")
    assert typo.stdout == "Teh huose\n"
    protected = cli("--kind", "char", "--level", "1", "--lang", "en", "--protect", "we met Anna in 1999")
    kept = protected.stdout.split()
    assert kept[2] == "Anna" and kept[4] == "1999" and kept[:2] != ["we", "met"]
    verbose = cli("-v", "--kind", "word", "--level", "1", "--lang", "en", "one two three four")
    assert "4 of 4 words perturbed" in verbose.stderr and verbose.stdout.count("\n") == 1


@pytest.mark.parametrize("args, fragment", [
    (["--kind", "attack", "--level", "0.5", "--lang", "en", "a b"], "needs the model"),
    (["--kind", "realworld", "--level", "0.5", "--lang", "en", "a b"], "pass --typo-file PATH"),
    (["--kind", "codeswitch", "--level", "0.5", "--lang", "en", "a b"], "pass --lexicon-file PATH"),
    (["--kind", "typo", "--level", "0.5", "--lang", "en", "a b"], "pass --profile PATH"),
    (["--kind", "typpo", "--level", "0.5", "--lang", "en", "a b"], "unknown noise kind"),
])
def test_cli_noise_show_mistakes_are_one_line(args, fragment):
    out = cli(*args)
    assert out.returncode == 2 and fragment in out.stderr and out.stderr.count("\n") == 1 and out.stdout == ""


def test_cli_noise_show_imports_nothing_heavy():
    heavy = "{'torch', 'numpy', 'ray', 'transformers', 'pydantic', 'yaml'}"
    code = ("import sys, io, contextlib\nfrom ray_xr import cli\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n"
            "    cli.main(['noise', 'show', '--kind', 'keyboard', '--level', '0.3', '--lang', 'ru', 'привет мир'])\n"
            f"print(' '.join(sorted({heavy} & set(sys.modules))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("task, make", [
    ("xcopa", lambda: synthetic.choice("c", "test", "en", 200, 0)),
    ("xnli", lambda: synthetic.nli("n", "test", "en", 200, 0)),
    ("panx", lambda: synthetic.tagging("p", "test", "en", 200, 0, "panx")),
    ("xquad", lambda: synthetic.qa("q", "test", "en", 100, 0)),
    ("lareqa", lambda: synthetic.ranking("r", "test", "en", 100, 0, ("en",))),
])
def test_realised_rate_is_measured_on_the_fields_noise_rewrites(task, make):
    """Every family's recorded rate is near the level: multiple choice counts its premise and
    choices, a ranking task its queries and not the untouched pool."""
    from ray_xr.tasks.load import noisy, realised_rate

    clean = make()
    rate = realised_rate(clean, noisy(clean, task, "char", 0.4, "en", 0), "en", "char")
    assert abs(rate - 0.4) <= 0.03, rate  # counted over the words with a letter, as the level is
