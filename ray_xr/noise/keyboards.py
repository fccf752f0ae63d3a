"""Static tables behind character-level noise: keyboard layouts and writing scripts, and
the segmentation of text in scripts written without spaces.

Standard library only: `ray-xr noise show` imports this and must start fast.

A layout is four rows of unshifted keys (number row, then the three letter rows), optionally
followed by four rows of the shift layer. Rows are placed by the physical stagger of a
standard keyboard, so two keys are adjacent when they touch: neighbours in the same row,
and keys of the rows above and below whose centres are less than one key width apart.
A space marks a key that does not type a single character (e.g. the Arabic lam-alef key).
Only letters and combining marks count as neighbours: a typo should stay inside the word's
alphabet rather than turn a letter into a digit or a dead key.
"""
from __future__ import annotations

import bisect
import unicodedata
from functools import cache
from types import MappingProxyType
from typing import Mapping

# x position (in key widths) of the first key of each row: ` / Tab+1.5 / Caps+1.75 / Shift+2.25
_ROW_OFFSETS = (0.0, 1.5, 1.75, 2.25)

LAYOUTS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "en": ("`1234567890-=", "qwertyuiop[]", "asdfghjkl;'", "zxcvbnm,./"),
    "de": ("^1234567890ß´", "qwertzuiopü+", "asdfghjklöä#", "yxcvbnm,.-"),
    "fr": ("²&é\"'(-è_çà)=", "azertyuiop^$", "qsdfghjklmù*", "wxcvbn,;:!"),
    "es": ("º1234567890'¡", "qwertyuiop`+", "asdfghjklñ´ç", "zxcvbnm,.-"),
    "tr": ("\"1234567890*-", "qwertyuıopğü", "asdfghjklşi,", "zxcvbnmöç."),
    "ru": ("ё1234567890-=", "йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю."),
    "el": ("`1234567890-=", ";ςερτυθιοπ[]", "ασδφγηξκλ΄'", "ζχψωβνμ,./"),
    "ar": ("ذ1234567890-=", "ضصثقفغعهخحجد", "شسيبلاتنمكط", "ئءؤر ىةوزظ"),
    "hi": (
        "ॊ1234567890-ृ", "ौैाीूबहगदजड़", "ोे्िुपरकतचट", "ॆंमनवलस,.य",
        " ", "औऐआईऊभङघधझढञ", "ओएअइउफऱखथछठ", "ऎँणऩऴळशष।\u095f",
    ),
    "th": (
        "_ๅ/-ภถุึคตจขช", "ๆไำพะัีรนยบล", "ฟหกดเ้่าสวง", "ผปแอิืทมใฝ",
        "%+๑๒๓๔ู฿๕๖๗๘๙", "๐\"ฎฑธํ๊ณฯญฐ,", "ฤฆฏโฌ็๋ษศซ.", "()ฉฮฺ์?ฒฬฦ",
    ),
})

# Languages without their own table type on the layout usual for their script.
SCRIPT_LAYOUTS: Mapping[str, str] = MappingProxyType({
    "Latin": "en", "Cyrillic": "ru", "Greek": "el", "Arabic": "ar", "Devanagari": "hi", "Thai": "th",
})

# (first, last, script), sorted by first code point.
_SCRIPT_RANGES = (
    (0x0041, 0x005A, "Latin"), (0x0061, 0x007A, "Latin"), (0x00C0, 0x024F, "Latin"),
    (0x0370, 0x03FF, "Greek"), (0x0400, 0x052F, "Cyrillic"), (0x0530, 0x058F, "Armenian"),
    (0x0590, 0x05FF, "Hebrew"), (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"),
    (0x0900, 0x097F, "Devanagari"), (0x0980, 0x09FF, "Bengali"), (0x0A00, 0x0A7F, "Gurmukhi"),
    (0x0A80, 0x0AFF, "Gujarati"), (0x0B00, 0x0B7F, "Oriya"), (0x0B80, 0x0BFF, "Tamil"),
    (0x0C00, 0x0C7F, "Telugu"), (0x0C80, 0x0CFF, "Kannada"), (0x0D00, 0x0D7F, "Malayalam"),
    (0x0D80, 0x0DFF, "Sinhala"), (0x0E00, 0x0E7F, "Thai"), (0x0E80, 0x0EFF, "Lao"),
    (0x1000, 0x109F, "Myanmar"), (0x10A0, 0x10FF, "Georgian"), (0x1100, 0x11FF, "Hangul"),
    (0x1200, 0x137F, "Ethiopic"), (0x1780, 0x17FF, "Khmer"), (0x1E00, 0x1EFF, "Latin"),
    (0x1F00, 0x1FFF, "Greek"), (0x3000, 0x303F, "CJK punctuation"), (0x3040, 0x309F, "Hiragana"),
    (0x30A0, 0x30FF, "Katakana"), (0x3130, 0x318F, "Hangul"), (0x3400, 0x4DBF, "Han"),
    (0x4E00, 0x9FFF, "Han"), (0xAC00, 0xD7A3, "Hangul"), (0xF900, 0xFAFF, "Han"),
    (0xFB50, 0xFDFF, "Arabic"), (0xFE70, 0xFEFF, "Arabic"), (0xFF00, 0xFFEF, "Fullwidth"),
)
_RANGE_STARTS = tuple(first for first, _, _ in _SCRIPT_RANGES)

# Scripts written without spaces between words: each character is a word of its own.
UNSPACED_SCRIPTS = frozenset(
    {"Han", "Hiragana", "Katakana", "Thai", "Lao", "Khmer", "Myanmar", "CJK punctuation", "Fullwidth"}
)

# What a substitution or insertion draws from: the core letters of the script, lower case.
# Cased alphabets are spelled out (a range would drag in letters of other languages, and
# Greek final sigma would upper-case to the same letter as sigma); the others are code-point
# ranges filtered to letters (lower case where the script is cased, as Armenian and Georgian are).
_ALPHABETS: Mapping[str, str | tuple[int, int]] = MappingProxyType({
    "Latin": "abcdefghijklmnopqrstuvwxyz",
    "Greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "Cyrillic": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "Armenian": (0x0561, 0x0586), "Hebrew": (0x05D0, 0x05EA), "Arabic": (0x0621, 0x064A),
    "Devanagari": (0x0904, 0x0939), "Bengali": (0x0985, 0x09B9), "Gurmukhi": (0x0A05, 0x0A39),
    "Gujarati": (0x0A85, 0x0AB9), "Oriya": (0x0B05, 0x0B39), "Tamil": (0x0B85, 0x0BB9),
    "Telugu": (0x0C05, 0x0C39), "Kannada": (0x0C85, 0x0CB9), "Malayalam": (0x0D05, 0x0D39),
    "Sinhala": (0x0D85, 0x0DC6), "Thai": (0x0E01, 0x0E2E), "Lao": (0x0E81, 0x0EAE),
    "Myanmar": (0x1000, 0x102A), "Georgian": (0x10D0, 0x10FA), "Hangul": (0xAC00, 0xD7A3),
    "Ethiopic": (0x1200, 0x135A), "Khmer": (0x1780, 0x17B3), "Hiragana": (0x3041, 0x3096),
    "Katakana": (0x30A1, 0x30FA), "Han": (0x4E00, 0x9FFF),
})


def script_of(ch: str) -> str | None:
    """The script of one character, or None outside the table."""
    cp = ord(ch)
    i = bisect.bisect_right(_RANGE_STARTS, cp) - 1
    if i >= 0 and cp <= _SCRIPT_RANGES[i][1]:
        return _SCRIPT_RANGES[i][2]
    return None


def alphabet(ch: str) -> str:
    """Letters that may replace or join `ch` without leaving its script.

    Scripts outside the table fall back to the letters of the character's own 128-code-point
    block, which in practice is the same script.
    """
    script = script_of(ch)
    if script in _ALPHABETS:
        return _script_alphabet(script)
    return _block_alphabet(ord(ch) >> 7)


@cache
def _script_alphabet(script: str) -> str:
    spec = _ALPHABETS[script]
    if isinstance(spec, str):
        return spec
    return "".join(c for c in map(chr, range(spec[0], spec[1] + 1)) if unicodedata.category(c) in ("Lo", "Ll"))


@cache
def _block_alphabet(block: int) -> str:
    return "".join(c for c in map(chr, range(block << 7, (block + 1) << 7)) if c.isalpha())


def layouts_for(lang: str, script: str | None) -> tuple[str, ...]:
    """Layouts to try, in order: the language's own, then the usual one for the word's script.

    The second covers both languages without a table (Italian types on QWERTY) and words in
    another script than the language's (a Latin name in Russian text is typed on the Latin layer).
    """
    found = tuple(name for name in (lang, SCRIPT_LAYOUTS.get(script or "")) if name in LAYOUTS)
    return tuple(dict.fromkeys(found))


@cache
def neighbours(layout: str) -> Mapping[str, str]:
    """Each key's adjacent letters (as one string), including upper-case forms for cased scripts."""
    rows = LAYOUTS[layout]
    near: dict[str, str] = {}
    for layer in range(0, len(rows), 4):
        for key, adjacent in _layer_neighbours(rows[layer:layer + 4]).items():
            near[key] = near.get(key, "") + "".join(c for c in adjacent if c not in near.get(key, ""))
    for key, adjacent in list(near.items()):
        upper = key.upper()
        if upper != key and len(upper) == 1:
            shifted = (c.upper() for c in adjacent)
            near[upper] = "".join(dict.fromkeys(c for c in shifted if len(c) == 1 and c != upper))
    return MappingProxyType(near)


def _layer_neighbours(rows: tuple[str, ...]) -> dict[str, str]:
    keys = [(r, _ROW_OFFSETS[r] + j, ch) for r, row in enumerate(rows) for j, ch in enumerate(row)]
    near: dict[str, str] = {}
    for r, x, ch in keys:
        if not _typable(ch):
            continue
        adjacent = (
            other for r2, x2, other in keys
            if other != ch and _typable(other) and (
                (r2 == r and abs(x2 - x) == 1) or (abs(r2 - r) == 1 and abs(x2 - x) < 1))
        )
        near[ch] = "".join(dict.fromkeys(adjacent))
    return near


def _typable(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LM"


def split_unspaced(text: str) -> tuple[list[str], list[bool]]:
    """Words of text in a language written without spaces, and whether whitespace preceded each.

    Each character of an unspaced script (Han, kana, Thai...) is a word, with its combining
    marks (Thai vowels and tones belong to their consonant); runs of other scripts (a Latin
    name, digits) stay whole words.
    """
    words: list[str] = []
    spaced: list[bool] = []
    gap = run = False  # run: the last word is a run of spaced-script characters still growing
    for ch in text:
        if ch.isspace():
            gap, run = True, False
        elif words and not gap and unicodedata.category(ch)[0] == "M":
            words[-1] += ch
        elif run and script_of(ch) not in UNSPACED_SCRIPTS:
            words[-1] += ch
        else:
            run = script_of(ch) not in UNSPACED_SCRIPTS
            words.append(ch)
            spaced.append(gap)
            gap = False
    return words, spaced
