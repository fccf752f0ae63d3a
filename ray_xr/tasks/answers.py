"""The answer text of a predicted span, as XTREME's QA post-processing makes it.

XTREME's `third_party/run_squad.py` predicts with the SQuAD post-processing of Hugging Face
transformers 2.x (`compute_predictions_logits`, after the original BERT `run_squad.py`):

1. the context is split into whitespace tokens (SQuAD's `_is_whitespace`: space, tab, CR, LF,
   U+202F); a sub-token belongs to the whitespace token it was cut from;
2. a span may start only at a sub-token whose window gives it the most context (the "max
   context" rule for overlapping windows);
3. the answer is the span's whole whitespace tokens, joined by single spaces (`orig_text`),
   narrowed by `get_final_text` to the predicted sub-token text where that text can be found
   in the BERT basic tokenization of `orig_text` and mapped back character by character
   (so "(1995)." becomes "1995", but a span starting inside a word gives the whole word).

This module is our own equivalent of steps 1 and 3 (written from that published behaviour,
standard library only); heads.py applies step 2 while decoding. Two differences: the reference
detokenizes the predicted sub-tokens, we take the context's characters under them, which is
the same text except where a tokenizer normalises characters (sentencepiece's NFKC); and the
predicted text's CJK ideographs are spaced apart before it is looked up (see final_text).
"""
from __future__ import annotations

import unicodedata

_SQUAD_WHITESPACE = frozenset(" \t\r\n\u202f")
# CJK Unified Ideographs blocks the BERT basic tokenizer puts spaces around
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def doc_tokens(context: str) -> list[tuple[int, int]]:
    """(start, end) of the context's whitespace tokens, as SquadExample splits it."""
    spans, start = [], None
    for i, ch in enumerate(context):
        if ch in _SQUAD_WHITESPACE:
            if start is not None:
                spans.append((start, i))
            start = None
        elif start is None:
            start = i
    return spans + ([(start, len(context))] if start is not None else [])


def whole_tokens(context: str, tokens: list[tuple[int, int]], first: int, last: int) -> str:
    """The whitespace tokens holding characters first..last-1, joined by single spaces."""
    inside = [context[a:b] for a, b in tokens if b > first and a < last]
    return " ".join(inside)


def answer_text(context: str, tokens: list[tuple[int, int]], first: int, last: int,
                lower: bool = False) -> str:
    """The final answer for a span of sub-tokens covering context[first:last] (steps 1 and 3)."""
    predicted = " ".join(context[first:last].split())
    return final_text(predicted, whole_tokens(context, tokens, first, last), lower)


def final_text(predicted: str, orig: str, lower: bool = False) -> str:
    """`get_final_text`: the part of `orig` that `predicted` is, found in the basic tokenization
    of `orig` and mapped back through the two texts without spaces; `orig` itself when the
    prediction is not found there or the mapping is ambiguous (the texts differ in length)."""
    tokenized = " ".join(basic_tokenize(orig, lower))
    if lower:
        predicted = predicted.lower()
    # CJK ideographs (and punctuation) are spaced apart in `tokenized`; a WordPiece prediction
    # (mBERT) is too, but a sentencepiece one (XLM-R: "北京。") is not and would never be found,
    # leaving a whole unspaced paragraph as the answer. A prediction with CJK ideographs goes
    # through the same tokenization (text without them keeps the reference's behaviour).
    if _space_cjk(predicted) != predicted:
        predicted = " ".join(basic_tokenize(predicted, lower))
    start = tokenized.find(predicted)
    if start < 0 or not predicted:
        return orig
    end = start + len(predicted) - 1
    orig_ns, orig_map = _strip_spaces(orig)
    tok_ns, tok_map = _strip_spaces(tokenized)
    if len(orig_ns) != len(tok_ns):
        return orig
    to_ns = {s: ns for ns, s in enumerate(tok_map)}
    if start not in to_ns or end not in to_ns:
        return orig
    return orig[orig_map[to_ns[start]]:orig_map[to_ns[end]] + 1]


def _strip_spaces(text: str) -> tuple[str, list[int]]:
    """The text without spaces, and for each remaining character its index in `text`."""
    kept = [i for i, ch in enumerate(text) if ch != " "]
    return "".join(text[i] for i in kept), kept


def basic_tokenize(text: str, lower: bool = False) -> list[str]:
    """BERT's BasicTokenizer: control characters dropped, whitespace normalised, spaces around
    CJK ideographs, whitespace split, then every punctuation character a token of its own
    (lower case and accents stripped when `lower`)."""
    cleaned = "".join(" " if _is_whitespace(ch) else ch for ch in text
                      if not (ord(ch) in (0, 0xFFFD) or _is_control(ch)))
    out: list[str] = []
    for token in _space_cjk(cleaned).split():
        if lower:
            token = "".join(c for c in unicodedata.normalize("NFD", token.lower())
                            if unicodedata.category(c) != "Mn")
        out += _split_punctuation(token)
    return out


def _space_cjk(text: str) -> str:
    return "".join(f" {ch} " if any(a <= ord(ch) <= b for a, b in _CJK) else ch for ch in text)


def _split_punctuation(token: str) -> list[str]:
    pieces: list[str] = []
    fresh = True
    for ch in token:
        if _is_punctuation(ch):
            pieces.append(ch)
            fresh = True
        else:
            if fresh:
                pieces.append("")
            pieces[-1] += ch
            fresh = False
    return pieces


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf")


def _is_punctuation(ch: str) -> bool:
    """ASCII non-alphanumerics count as punctuation ("$", "^"), as in BERT, besides Unicode P*."""
    cp = ord(ch)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 \
        or unicodedata.category(ch).startswith("P")
