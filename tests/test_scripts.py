"""Noise is possible text in every script the XTREME-R languages use: outputs never start a word
with a combining mark, never leave a joiner dangling, and bring in no character outside the
language's inventory (its alphabet, standard ideograph set or keyboard layout)."""
from __future__ import annotations

import json
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from ray_xr.noise import NoiseResources, graphemes, keyboards, languages, perturb_words
from ray_xr.noise.profile import Tally
from ray_xr.noise import typo

# Real words of each language, one or more per script (joiners and conjuncts included).
WORDS = {
    "de": ["Straße", "Brücke"], "vi": ["Tiếng", "Việt"], "tr": ["Türkçe", "ışık"], "yo": ["Yorùbá"],
    "ru": ["русский", "язык"], "bg": ["български"], "uk": ["українська"], "kk": ["қазақ"],
    "el": ["ελληνικά", "γλώσσα"], "ar": ["العربية", "لغة"], "fa": ["فارسی", "کتاب\u200cها"], "ur": ["اردو", "زبان"],
    "he": ["עברית", "שפה"], "hi": ["भारत", "राज्य", "हिन्दी", "क्षेत्र", "राज्\u200dय"], "mr": ["महाराष्ट्र", "मराठी"],
    "bn": ["বাংলা", "দ্রুত", "দিয়ে"], "pa": ["ਪੰਜਾਬੀ", "ਭਾਸ਼ਾ"], "gu": ["ગુજરાતી", "ભાષા"],
    "ta": ["தமிழ்", "விரைவான"], "te": ["తెలుగు", "భాష"], "ml": ["മലയാളം", "ഭാഷ"], "th": ["ภาษาไทย", "สวัสดี"],
    "my": ["မြန်မာ", "ဘာသာ"], "ka": ["ქართული", "ენა"], "ko": ["한국어", "언어"], "zh": ["中文", "语言"],
    "ja": ["日本語", "ひらがな", "カタカナ"],
}
JOINERS = "\u200c\u200d"
cases = st.sampled_from([(lang, word) for lang, words in WORDS.items() for word in words])


def allowed(lang: str, word: str, kind: str) -> set[str]:
    """The characters an edit of `word` may bring in."""
    out = set(word)
    for ch in word:
        if ch.isalpha():
            letters = languages.letters(lang, ch)
            out |= set(letters) | {c.upper() for c in letters if len(c.upper()) == 1}
            if kind == "keyboard":
                for layout in keyboards.layouts_for(lang, keyboards.script_of(ch)):
                    out |= set("".join(keyboards.neighbours(layout).values()))
    return out


def check_valid(lang: str, word: str, new: str, inventory: set[str]) -> None:
    assert new, (lang, word)
    assert unicodedata.category(new[0])[0] != "M", (lang, word, new)  # no orphan vowel sign or accent
    assert new[0] not in JOINERS and new[-1] not in JOINERS, (lang, word, new)
    assert not any(a in JOINERS and b in JOINERS for a, b in zip(new, new[1:])), (lang, word, new)
    assert set(new) <= inventory, (lang, word, new, set(new) - inventory)


@settings(max_examples=300, deadline=None)
@given(case=cases, kind=st.sampled_from(["char", "keyboard"]), seed=st.integers(0, 10**6))
def test_char_and_keyboard_noise_write_valid_text_in_every_script(case, kind, seed):
    lang, word = case
    out = perturb_words([word] * 4, kind, 1.0, lang=lang, seed=seed, example_id="x").words
    for new in out:
        check_valid(lang, word, new, allowed(lang, word, kind))


def _profile(tmp_path_factory, lang: str) -> str:
    """A typo profile fitted on (word, word with its last cluster doubled or dropped) pairs."""
    tally = Tally(lang)
    for word in WORDS[lang]:
        g = graphemes.split(word)
        tally.add(word, word + g[-1])
        tally.add(word, "".join(g[:-1]) or word)
        tally.add(word, "".join(g[1:2] + g[:1] + g[2:]))
    path = tmp_path_factory.mktemp("profiles") / f"{lang}.json"
    path.write_text(json.dumps(typo.fit(tally, {})), encoding="utf-8")
    return str(path)


@settings(max_examples=150, deadline=None)
@given(case=cases, seed=st.integers(0, 10**6))
def test_typo_noise_writes_valid_text_in_every_script(tmp_path_factory, case, seed):
    lang, word = case
    resources = NoiseResources(profiles={lang: _cached_profile(tmp_path_factory, lang)})
    inventory = set(word) | set("".join(WORDS[lang]))
    inventory |= {c.swapcase() for c in inventory if len(c.swapcase()) == 1}
    for layout in keyboards.layouts_for(lang, keyboards.script_of(word[0])):
        inventory |= set("".join(keyboards.neighbours(layout).values()))
    for new in perturb_words([word] * 3, "typo", 1.0, lang=lang, seed=seed, example_id="x",
                             resources=resources).words:
        check_valid(lang, word, new, inventory)


_PROFILES: dict[str, str] = {}


def _cached_profile(tmp_path_factory, lang: str) -> str:
    if lang not in _PROFILES:
        _PROFILES[lang] = _profile(tmp_path_factory, lang)
    return _PROFILES[lang]


def test_every_task_language_is_known_to_the_noise():
    """A sweep's languages are checked against its tasks' lists (config.py), so this keeps them
    checked against the languages the noise knows as well."""
    from ray_xr.tasks import TASKS

    unknown = {(t.name, lang) for t in TASKS.values() for source in t.source_names
               for lang in t.languages_for(source) if not _known(lang)}
    assert not unknown


def _known(lang: str) -> bool:
    try:
        return bool(languages.check(lang))
    except Exception:
        return False
