"""The task specs. One `register(TaskSpec(...))` per task; loaders are small functions.

Sources: ``synthetic`` (the offline benchmark of ray_xr.data.synthetic), ``hub`` (the real
Hugging Face datasets, for clusters with internet access) and ``local`` (the published files
under a directory; the `local=` layout says which file holds which split and language).
"""
from __future__ import annotations

from functools import partial
from typing import Sequence

from pathlib import Path

from ray_xr.data import synthetic
from ray_xr.data.examples import Classification, Example, Tagging
from ray_xr.tasks import hub, local as tasks_local
from ray_xr.tasks.hub import Download, Hub
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
# the UD v2.5 release that XTREME's download script reads.
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


# -- Hugging Face hub source: what each (split, language) reads (tasks.hub), then its rows ----

def _hub_rows(ref: Hub, split: str, ctx: LoadContext):
    ds = hub.rows(ref, ctx.pins)
    cap = ctx.sizes.get(split)
    return ds.select(range(min(cap, len(ds)))) if cap else ds


def _label_names(ds, column: str) -> list[str]:
    feature = ds.features[column]
    return list(getattr(feature, "feature", feature).names)


def _hub_pairs(ref: Hub, a: str, b: str, split: str, ctx: LoadContext) -> list[Classification]:
    ds = _hub_rows(ref, split, ctx)
    names = _label_names(ds, "label")
    # label -1 marks pairs without annotator consensus; the official setups drop them
    return [Classification(f"{split}-{i}", r[a], r[b], names[r["label"]])
            for i, r in enumerate(ds) if r["label"] >= 0]


def _hub_tags(ref: Hub, tag_column: str, split: str, ctx: LoadContext) -> list[Tagging]:
    ds = _hub_rows(ref, split, ctx)
    names = _label_names(ds, tag_column)
    return [Tagging(f"{split}-{i}", tuple(r["tokens"]), tuple(names[t] for t in r[tag_column]))
            for i, r in enumerate(ds)]


def xnli_refs(split: str, lang: str) -> tuple[Hub, ...]:
    # XTREME trains XNLI on MNLI and selects on the English XNLI dev set.
    return (Hub("nyu-mll/glue", "mnli", "train") if split == "train" else Hub("facebook/xnli", lang, HUB_SPLIT[split]),)


def mnli_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return (Hub("nyu-mll/glue", "mnli", {"train": "train", "dev": "validation_matched",
                                         "test": "validation_mismatched"}[split]),)


def panx_refs(split: str, lang: str) -> tuple[Hub, ...]:
    if lang in PANX_NOT_IN_XTREME:  # the same (Rahimi et al. 2019) splits, from WikiANN's own repository
        return (Hub("unimelb-nlp/wikiann", lang, HUB_SPLIT[split]),)
    return (Hub("google/xtreme", f"PAN-X.{lang}", HUB_SPLIT[split]),)


def udpos_refs(split: str, lang: str) -> tuple[Hub | Download, ...]:
    if lang in UDPOS_NOT_IN_XTREME:  # XTREME-R's additions: the UD release XTREME itself reads
        return (Download("ud-treebanks-v2.5"),)
    return (Hub("google/xtreme", f"udpos.{UDPOS_NAMES[lang]}", HUB_SPLIT[split]),)


def conll_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return (Hub("eriktks/conll2003", None, HUB_SPLIT[split]),)


def _hub_pair_task(refs, split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    return _hub_pairs(refs(split, lang)[0], "premise", "hypothesis", split, ctx)


def _hub_tag_task(refs, column: str, split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    return _hub_tags(refs(split, lang)[0], column, split, ctx)


def _hub_udpos(split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    (ref,) = udpos_refs(split, lang)
    if isinstance(ref, Hub):
        return _hub_tags(ref, "pos_tags", split, ctx)
    # the release's treebank folders, read as the local layout reads them (fused forms, as XTREME)
    root = next(iter(hub.fetch(ref, ctx.pins).values()))
    local = {"udpos": {"dir": str(Path(root) / "ud-treebanks-v2.5"), "files": {}}}
    return tasks_local.load("udpos", split, lang, local, ctx.sizes.get(split, 0))


# -- the registry entries --------------------------------------------------------------------

register(TaskSpec(
    name="xnli", family="classification", metric="accuracy", labels=NLI_LABELS,
    languages=tuple(XNLI_LANGS),
    sources={"synthetic": partial(_synthetic_nli, "xnli"), "hub": partial(_hub_pair_task, xnli_refs)}, hub=xnli_refs,
    local=XNLI_LOCAL, parallel_test=("hub",),  # the local release's ids are line numbers, not item ids
    description="XNLI: natural language inference, trained on English MNLI",
))
register(TaskSpec(
    name="panx", family="tagging", metric="seqeval_f1", labels=PANX_TAGS,
    languages=tuple(PANX_LANGS),
    sources={"synthetic": partial(_synthetic_tags, "panx", "panx"), "hub": partial(_hub_tag_task, panx_refs, "ner_tags")},
    hub=panx_refs,
    local=PANX_LOCAL,
    description="WikiANN (PAN-X): named entities PER/ORG/LOC, BIO tags",
))
register(TaskSpec(
    name="udpos", family="tagging", metric="seqeval_f1", labels=UPOS,
    languages=tuple(UDPOS_NAMES),
    sources={"synthetic": partial(_synthetic_tags, "udpos", "upos"), "hub": _hub_udpos}, hub=udpos_refs,
    local=UDPOS_LOCAL,
    description="Universal Dependencies part-of-speech tags (UPOS)",
))
register(TaskSpec(
    name="mnli", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"hub": partial(_hub_pair_task, mnli_refs)}, hub=mnli_refs,
    local=MNLI_LOCAL,
    description="MultiNLI (intermediate task of Phang et al. 2020)",
))
register(TaskSpec(
    name="conll2003", family="tagging", metric="seqeval_f1", labels=CONLL_TAGS, languages=("en",),
    sources={"hub": partial(_hub_tag_task, conll_refs, "ner_tags")}, hub=conll_refs,
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
