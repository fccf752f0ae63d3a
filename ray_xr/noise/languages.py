"""The languages the noise knows: every XTREME-R language (and those of the real-noise sets and
the embedded benchmark), each with the script it is written in, and whether a keyboard layout
of its own backs the `keyboard` kind (else the layout usual for its script, else none).

`check` maps a BCP-47 tag to the code the noise uses (`de-DE`, `pt_BR`, `zh-Hant` -> de, pt,
zh) and refuses a name it does not know (`german`, `xx`) instead of silently typing on QWERTY.

Standard library only, like ray_xr.noise.
"""
from __future__ import annotations

from functools import cache

from ray_xr.errors import NoiseError
from ray_xr.noise import keyboards
from ray_xr.noise.base import base_lang

SCRIPTS = {
    **dict.fromkeys("af az de en es et eu fi fr ht hu id it jv lt ms nl pl pt qu ro sw tl tr vi wo yo"
                    .split(), "Latin"),
    **dict.fromkeys("bg kk ru uk".split(), "Cyrillic"),
    **dict.fromkeys("ar fa ur".split(), "Arabic"),
    **dict.fromkeys("hi mr".split(), "Devanagari"),
    "bn": "Bengali", "el": "Greek", "gu": "Gujarati", "he": "Hebrew", "ja": "Japanese", "ka": "Georgian",
    "ko": "Hangul", "ml": "Malayalam", "my": "Myanmar", "pa": "Gurmukhi", "ta": "Tamil", "te": "Telugu",
    "th": "Thai", "zh": "Han",
    # the embedded benchmark (data/synthetic.py)
    "cog": "Latin", "ord": "Latin", "unr": "Latin", "cyr": "Cyrillic",
}


def check(lang: str, option: str = "--lang") -> str:
    """The noise's code for a BCP-47 tag, or NoiseError naming the option."""
    code = base_lang(lang)
    if code not in SCRIPTS:
        raise NoiseError(f"{option} {lang!r}: not a language the noise knows; expected a code such as de"
                         f" or de-DE, one of: {' '.join(sorted(SCRIPTS))}")
    return code


def layout_note(lang: str) -> str:
    """What the `keyboard` kind types on for a language, said once (in `-v` and stage records)."""
    code = base_lang(lang)
    script = SCRIPTS.get(code)
    if code in keyboards.LAYOUTS:
        return f"keyboard layout: {code}"
    usual = keyboards.SCRIPT_LAYOUTS.get(script or "")
    if usual:
        return f"keyboard layout: none for {code}; the {script} layout of {usual} stands in"
    return f"keyboard layout: none for {code} ({script}); keyboard noise falls back to substitutions within the script"


# --- character inventories ---------------------------------------------------------------------

# The letters of a language's own alphabet where its script's code-point block holds more than
# it uses (Persian has no ة or ك, Thai no longer writes ฃ or ฅ, Hindi no ऄ or ऌ). Substitutions
# and insertions draw from these, so the output is spelled in the language's orthography.
ALPHABETS = {
    "fa": "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی",
    "ur": "ابپتٹثجچحخدڈذرڑزژسشصضطظعغفقکگلمنوہھیے",
    "hi": "अआइईउऊऋएऐओऔकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसह",
    "mr": "अआइईउऊऋएऐओऔकखगघङचछजझञटठडढणतथदधनपफबभमयरलवशषसहळ",
    "bn": "অআইঈউঊঋএঐওঔকখগঘঙচছজঝঞটঠডঢণতথদধনপফবভমযরলশষসহ",
    "ta": "அஆஇஈஉஊஎஏஐஒஓஔகஙசஞடணதநனபமயரறலளழவ",
    "th": "กขคฆงจฉชซฌญฎฏฐฑฒณดตถทธนบปผฝพฟภมยรลวศษสหฬอฮ",
}
# Ideographs a language writes, from the national standard's first level (the stdlib codecs
# know them): GB 2312 for zh (3,755 hanzi), JIS X 0208 for ja (2,965 kanji), KS X 1001 for ko
# (2,350 syllables), instead of the whole CJK block (骼 and its rare neighbours).
_STANDARD_SETS = {"zh": ("gb2312", 0xB0, 0xD7), "ja": ("euc_jp", 0xB0, 0xCF), "ko": ("euc_kr", 0xB0, 0xC8)}


@cache
def _standard_set(lang: str) -> str:
    codec, first, last = _STANDARD_SETS[lang]
    out = []
    for hi in range(first, last + 1):
        for lo in range(0xA1, 0xFF):
            try:
                ch = bytes((hi, lo)).decode(codec)
            except UnicodeDecodeError:
                continue
            if ch.isalpha():
                out.append(ch)
    return "".join(out)


def has_alphabet(lang: str, ch: str) -> bool:
    """Whether the language has an inventory of its own for the script of `ch`."""
    code = base_lang(lang)
    script = keyboards.script_of(ch)
    return (code in ALPHABETS and script == SCRIPTS.get(code)) or (code in _STANDARD_SETS and script in ("Han", "Hangul"))


def letters(lang: str, ch: str) -> str:
    """What may replace or join the character `ch` in text of language `lang`: the language's
    own alphabet (or standard ideograph set) where it has one for ch's script, else the
    script's letters (keyboards.alphabet)."""
    code = base_lang(lang)
    script = keyboards.script_of(ch)
    if code in ALPHABETS and script == SCRIPTS.get(code):
        return ALPHABETS[code]
    if code in _STANDARD_SETS and script in ("Han", "Hangul"):
        return _standard_set(code)
    return keyboards.alphabet(ch)
