"""The XTREME-R target tasks beyond XNLI, UD-POS and PAN-X (specs.py), and their English
training sources: PAWS-X, XCOPA (<- COPA), XQuAD and MLQA (<- SQuAD v1.1), TyDiQA-GoldP,
Tatoeba, LAReQA (XQuAD-R) and Mewsli-X. Language lists are the benchmark's.
"""
from __future__ import annotations

from functools import partial

from ray_xr import synthetic
from ray_xr.tasks import LoadContext, TaskSpec, register
from ray_xr.tasks.local import From, Local

PAWSX_LANGS = ("en", "de", "es", "fr", "ja", "ko", "zh")
XCOPA_LANGS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
XQUAD_LANGS = ("en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_LANGS = ("en", "ar", "de", "es", "hi", "vi", "zh")
TYDIQA_NAMES = {"en": "english", "ar": "arabic", "bn": "bengali", "fi": "finnish", "id": "indonesian",
                "ko": "korean", "ru": "russian", "sw": "swahili", "te": "telugu"}
# Tatoeba files and the google/xtreme configs name languages by ISO 639-3 code
TATOEBA_CODES = {
    "af": "afr", "ar": "ara", "bg": "bul", "bn": "ben", "de": "deu", "el": "ell", "es": "spa", "et": "est",
    "eu": "eus", "fa": "pes", "fi": "fin", "fr": "fra", "he": "heb", "hi": "hin", "hu": "hun", "id": "ind",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "ko": "kor", "ml": "mal", "mr": "mar",
    "nl": "nld", "pt": "por", "ru": "rus", "sw": "swh", "ta": "tam", "te": "tel", "th": "tha", "tl": "tgl",
    "tr": "tur", "ur": "urd", "vi": "vie", "zh": "cmn",
    # added by XTREME-R (scripts/run_tatoeba.sh)
    "az": "aze", "lt": "lit", "pl": "pol", "ro": "ron", "uk": "ukr",
}



def _synthetic(make, stream: str, split: str, lang: str, ctx: LoadContext):
    return make(stream, split, lang, ctx.sizes[split], ctx.seed)


def _offline(make, stream: str) -> dict:
    """The synthetic counterpart of a task: its own example stream of the synthetic benchmark."""
    return {"synthetic": partial(_synthetic, make, stream)}


register(TaskSpec(
    name="pawsx", family="classification", metric="accuracy", labels=("0", "1"), languages=PAWSX_LANGS,
    sources={},
    local=Local("pawsx_tsv", {"train": ("en/train.tsv",), "dev": ("{lang}/dev_2k.tsv", "{lang}/dev.tsv"),
                              "test": ("{lang}/test_2k.tsv", "{lang}/test.tsv")}),
    description="PAWS-X: paraphrase identification (XTREME), trained on English PAWS",
))
register(TaskSpec(
    name="copa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources=_offline(synthetic.choice, "copa"),
    # SuperGLUE's COPA; its test.jsonl is unlabelled, so the labelled val set doubles as test
    local=Local("xcopa_jsonl", {"train": ("train.jsonl",), "dev": ("val.jsonl",), "test": ("val.jsonl",)}),
    description="COPA: choice of plausible alternatives (English training source of XCOPA)",
))
register(TaskSpec(
    name="xcopa", family="multiple_choice", metric="accuracy", labels=(), languages=XCOPA_LANGS,
    sources=_offline(synthetic.choice, "xcopa"),
    local=Local("xcopa_jsonl", {"train": From("copa", "train"), "dev": From("copa", "dev"),
                                "test": ("{lang}/test.jsonl", "data/{lang}/test.{lang}.jsonl")}),
    description="XCOPA: causal commonsense reasoning, trained on English COPA",
))
register(TaskSpec(
    name="squad", family="qa", metric="squad", labels=(), languages=("en",),
    sources=_offline(synthetic.qa, "squad"),
    local=Local("squad_json", {"train": ("train-v1.1.json",), "dev": ("dev-v1.1.json",),
                               "test": ("dev-v1.1.json",)}),
    description="SQuAD v1.1 (English training source of XQuAD and MLQA; intermediate task)",
))
register(TaskSpec(
    name="xquad", family="qa", metric="squad", labels=(), languages=XQUAD_LANGS,
    sources=_offline(synthetic.qa, "xquad"),
    local=Local("squad_json", {"train": From("squad", "train"), "dev": From("squad", "dev"),
                               "test": ("xquad.{lang}.json",)}),
    description="XQuAD: extractive QA, trained on SQuAD v1.1",
))
register(TaskSpec(
    name="mlqa", family="qa", metric="mlqa", labels=(), languages=MLQA_LANGS,
    sources={},
    local=Local("squad_json", {
        "train": From("squad", "train"),
        "dev": ("dev/dev-context-{lang}-question-{lang}.json", "dev-context-{lang}-question-{lang}.json"),
        "test": ("test/test-context-{lang}-question-{lang}.json", "test-context-{lang}-question-{lang}.json")}),
    description="MLQA: extractive QA with language-specific answer normalisation, trained on SQuAD v1.1",
))
register(TaskSpec(
    name="tydiqa", family="qa", metric="squad", labels=(), languages=tuple(TYDIQA_NAMES),
    sources={},
    # the gold-passage task has no public test set; XTREME evaluates on its dev set
    local=Local("squad_json", {
        "train": ("tydiqa-goldp-v1.1-train/tydiqa.en.train.json", "{name}_train.json"),
        "dev": ("tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json", "{name}_dev.json"),
        "test": ("tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json", "{name}_dev.json")},
        names=TYDIQA_NAMES),
    description="TyDiQA-GoldP: extractive QA on the gold passage, trained on its English training set",
))
register(TaskSpec(
    name="tatoeba", family="retrieval", metric="accuracy", labels=(), languages=tuple(TATOEBA_CODES),
    sources=_offline(synthetic.parallel, "tatoeba"),
    local=Local("tatoeba", {"test": (("tatoeba.{name}-eng.{name}", "tatoeba.{name}-eng.eng"),)},
                names=TATOEBA_CODES),
    # XTREME-R (scripts/run_tatoeba.sh) embeds with the model fine-tuned on SQuAD v1.1
    encoder_task="squad",
    description="Tatoeba: bitext retrieval (nearest English neighbour of each sentence), no training set",
))
