"""The task specs. One `register(TaskSpec(...))` per task; loaders are small functions.

Sources: ``synthetic`` (the offline benchmark of ray_xr.data.synthetic), ``hub`` (the real
Hugging Face datasets, for clusters with internet access) and ``local`` (the published files
under a directory; the `local=` layout says which file holds which split and language).
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

from ray_xr.data import synthetic
from ray_xr.errors import DataError
from ray_xr.data.examples import Classification, Example, Tagging
from ray_xr.tasks.registry import LoadContext, TaskSpec, register
from ray_xr.tasks.registry import From, Local

NLI_LABELS = ("entailment", "neutral", "contradiction")
PANX_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
CONLL_TAGS = PANX_TAGS + ("B-MISC", "I-MISC")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")

# XTREME-R language lists (google-research/xtreme scripts: train_xnli.sh, train_panx.sh,
# train_udpos.sh). XTREME-R added languages that the google/xtreme hub configs lack (XTREME
# had 40 PAN-X and 33 UD-POS languages): PAN-X takes those from WikiANN itself, UD-POS from
# local UD files.
XNLI_LANGS = "en ar bg de el es fr hi ru sw th tr ur vi zh".split()
PANX_LANGS = ("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko "
              "th sw yo my zh kk tr et fi hu qu pl uk az lt pa gu ro").split()
PANX_NOT_IN_XTREME = frozenset("qu pl uk az lt pa gu ro".split())
UDPOS_NAMES = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "kk": "Kazakh", "ko": "Korean",
    "mr": "Marathi", "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "ta": "Tamil",
    "te": "Telugu", "th": "Thai", "tl": "Tagalog", "tr": "Turkish", "ur": "Urdu",
    "vi": "Vietnamese", "yo": "Yoruba", "zh": "Chinese",
    "lt": "Lithuanian", "pl": "Polish", "uk": "Ukrainian", "ro": "Romanian",  # XTREME-R additions
}
UDPOS_NOT_IN_XTREME = frozenset(("lt", "pl", "uk", "ro"))
HUB_SPLIT = {"train": "train", "dev": "validation", "test": "test"}

# -- local source: where each published file layout keeps a split ----------------------------

XNLI_LOCAL = Local("xnli_tsv", {
    "train": From("mnli", "train"),  # XNLI is trained on English MultiNLI
    "dev": ("{lang}/dev.tsv", "xnli.dev.tsv"),  # per-language files, or the XNLI-1.0 release
    "test": ("{lang}/test.tsv", "xnli.test.tsv"),
}, by_language=True)
MNLI_LOCAL = Local("nli_jsonl", {
    "train": ("multinli_1.0_train.jsonl", "train.jsonl"),
    "dev": ("multinli_1.0_dev_matched.jsonl", "dev_matched.jsonl"),
    "test": ("multinli_1.0_dev_mismatched.jsonl", "dev_mismatched.jsonl"),
})
# WikiANN as published per language ({lang}/train), or XTREME's processed panx files
PANX_LOCAL = Local("panx", {s: ("{lang}/{split}", "{split}-{lang}.tsv") for s in ("train", "dev", "test")})
# one CoNLL-U file per language, or UD release folders: every treebank of the language, as XTREME
# (by_language: the reader takes the language, whose UPOS precedence picks a multiword token's tag)
UDPOS_LOCAL = Local("conllu", {s: ("{lang}/{split}.conllu", "UD_{name}*/*-ud-{split}.conllu")
                               for s in ("train", "dev", "test")}, names=UDPOS_NAMES, by_language=True)


# -- synthetic source ------------------------------------------------------------------------

def _synthetic_nli(stream: str, split: str, lang: str, ctx: LoadContext) -> Sequence[Example]:
    return synthetic.nli(stream, split, lang, ctx.sizes[split], ctx.seed)


def _synthetic_tags(stream: str, scheme: str, split: str, lang: str, ctx: LoadContext) -> Sequence[Example]:
    return synthetic.tagging(stream, split, lang, ctx.sizes[split], ctx.seed, scheme)


# -- Hugging Face hub source -----------------------------------------------------------------

def _hub_rows(path: str, config: str | None, split: str, ctx: LoadContext, hub_split: str):
    from datasets import load_dataset  # heavy import, only where the hub is used

    ds = load_dataset(path, config, split=hub_split)
    cap = ctx.sizes.get(split)
    return ds.select(range(min(cap, len(ds)))) if cap else ds


def _label_names(ds, column: str) -> list[str]:
    feature = ds.features[column]
    return list(getattr(feature, "feature", feature).names)


def _hub_pairs(path, config, a, b, ds_split, split, ctx) -> list[Classification]:
    ds = _hub_rows(path, config, split, ctx, ds_split)
    names = _label_names(ds, "label")
    # label -1 marks pairs without annotator consensus; the official setups drop them
    return [Classification(f"{split}-{i}", r[a], r[b], names[r["label"]])
            for i, r in enumerate(ds) if r["label"] >= 0]


def _hub_tags(path, config, tag_column, ds_split, split, ctx) -> list[Tagging]:
    ds = _hub_rows(path, config, split, ctx, ds_split)
    names = _label_names(ds, tag_column)
    return [Tagging(f"{split}-{i}", tuple(r["tokens"]), tuple(names[t] for t in r[tag_column]))
            for i, r in enumerate(ds)]


def _hub_xnli(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    # XTREME trains XNLI on MNLI and selects on the English XNLI dev set.
    if split == "train":
        return _hub_pairs("nyu-mll/glue", "mnli", "premise", "hypothesis", "train", split, ctx)
    return _hub_pairs("facebook/xnli", lang, "premise", "hypothesis", HUB_SPLIT[split], split, ctx)


def _hub_mnli(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    ds_split = {"train": "train", "dev": "validation_matched", "test": "validation_mismatched"}[split]
    return _hub_pairs("nyu-mll/glue", "mnli", "premise", "hypothesis", ds_split, split, ctx)


def _hub_panx(split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    if lang in PANX_NOT_IN_XTREME:  # the same (Rahimi et al. 2019) splits, from WikiANN's own repository
        return _hub_tags("unimelb-nlp/wikiann", lang, "ner_tags", HUB_SPLIT[split], split, ctx)
    return _hub_tags("google/xtreme", f"PAN-X.{lang}", "ner_tags", HUB_SPLIT[split], split, ctx)


def _hub_udpos(split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    if lang in UDPOS_NOT_IN_XTREME:
        raise DataError(f"task udpos: google/xtreme has no {UDPOS_NAMES[lang]} config (an XTREME-R addition);"
                        " read it from UD files with data.source local")
    return _hub_tags("google/xtreme", f"udpos.{UDPOS_NAMES[lang]}", "pos_tags", HUB_SPLIT[split], split, ctx)


def _hub_conll(split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    return _hub_tags("eriktks/conll2003", None, "ner_tags", HUB_SPLIT[split], split, ctx)


# -- the registry entries --------------------------------------------------------------------

register(TaskSpec(
    name="xnli", family="classification", metric="accuracy", labels=NLI_LABELS,
    languages=tuple(XNLI_LANGS),
    sources={"synthetic": partial(_synthetic_nli, "xnli"), "hub": _hub_xnli},
    local=XNLI_LOCAL,
    description="XNLI: natural language inference, trained on English MNLI",
))
register(TaskSpec(
    name="panx", family="tagging", metric="seqeval_f1", labels=PANX_TAGS,
    languages=tuple(PANX_LANGS),
    sources={"synthetic": partial(_synthetic_tags, "panx", "panx"), "hub": _hub_panx},
    local=PANX_LOCAL,
    description="WikiANN (PAN-X): named entities PER/ORG/LOC, BIO tags",
))
register(TaskSpec(
    name="udpos", family="tagging", metric="seqeval_f1", labels=UPOS,
    languages=tuple(UDPOS_NAMES),
    sources={"synthetic": partial(_synthetic_tags, "udpos", "upos"), "hub": _hub_udpos},
    local=UDPOS_LOCAL,
    description="Universal Dependencies part-of-speech tags (UPOS)",
))
register(TaskSpec(
    name="mnli", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"hub": _hub_mnli},
    local=MNLI_LOCAL,
    description="MultiNLI (intermediate task of Phang et al. 2020)",
))
register(TaskSpec(
    name="conll2003", family="tagging", metric="seqeval_f1", labels=CONLL_TAGS, languages=("en",),
    sources={"hub": _hub_conll},
    description="CoNLL-2003 English NER (intermediate task of Phang et al. 2020)",
))
# The synthetic stand-ins for the intermediate tasks: same families, own example streams.
register(TaskSpec(
    name="nli", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"synthetic": partial(_synthetic_nli, "nli")},
    description="Synthetic English NLI (the offline stand-in for MNLI)",
))
register(TaskSpec(
    name="ner", family="tagging", metric="seqeval_f1", labels=CONLL_TAGS, languages=("en",),
    sources={"synthetic": partial(_synthetic_tags, "ner", "ner")},
    description="Synthetic English NER with MISC (the offline stand-in for CoNLL-2003)",
))
