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
from ray_xr.errors import DataError
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
# train_udpos.sh; evaluate.py XTREME_R_TASK2LANGS). XTREME-R added languages that the
# google/xtreme hub configs lack: PAN-X takes those from WikiANN itself; UD-POS reads no hub
# config at all (google/xtreme's take every treebank whose folder names the language, ancient
# Greek, Classical Chinese and Old French included, and drop multiword tokens) but the UD releases
# XTREME's download script reads: v2.5, and v2.7 for XTREME-R's additions.
XNLI_LANGS = "en ar bg de el es fr hi ru sw th tr ur vi zh".split()
PANX_LANGS = ("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko "
              "th sw yo my zh kk tr et fi hu qu pl uk az lt pa gu ro").split()
PANX_NOT_IN_XTREME = frozenset("qu pl uk az lt pa gu ro".split())
UDPOS_LANGS = ("af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo "
               "zh lt pl uk wo ro").split()
UDPOS_V27 = frozenset("lt pl uk wo ro".split())  # download_data.sh: `download_treebank xtreme-r`
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
# one CoNLL-U file per language, or a UD release: every treebank file whose name starts with the
# language's ISO code and an underscore, joined in file-name order, as XTREME's download_data.sh
# and utils_preprocess.py select and join them (by_language: the reader takes the language,
# whose UPOS precedence picks a multiword token's tag)
UDPOS_LOCAL = Local("conllu", {s: ("{lang}/{split}.conllu", "*/{lang}_*-ud-{split}.conllu")
                               for s in ("train", "dev", "test")}, by_language=True)


# -- synthetic source ------------------------------------------------------------------------

def _synthetic_nli(stream: str, split: str, lang: str, ctx: LoadContext) -> Sequence[Example]:
    return synthetic.nli(stream, split, lang, ctx.sizes[split], ctx.seed)


def _synthetic_tags(stream: str, scheme: str, split: str, lang: str, ctx: LoadContext) -> Sequence[Example]:
    return synthetic.tagging(stream, split, lang, ctx.sizes[split], ctx.seed, scheme)


# -- Hugging Face hub source: what each (split, language) reads (tasks.hub), then its rows ----

def _hub_rows(ref: Hub, split: str, ctx: LoadContext, columns: Sequence[str] = ()):
    """A hub split's rows (capped at the split's size), checked to have the columns its loader
    reads: a repository that changed its schema is one line, not a KeyError."""
    ds = hub.rows(ref, ctx.pins)
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise DataError(f"{ref}: no column {', '.join(missing)} (it has {', '.join(ds.column_names)})")
    cap = ctx.sizes.get(split)
    return ds.select(range(min(cap, len(ds)))) if cap else ds


def _label_names(ds, column: str, ref: Hub, labels: Sequence[str]) -> list[str]:
    """The names of a class-label column, which must be the task's labels (in any order: rows
    are mapped by name)."""
    feature = ds.features[column]
    names = list(getattr(getattr(feature, "feature", feature), "names", None) or ())
    if sorted(names) != sorted(labels):
        raise DataError(f"{ref}: column {column} names {names or 'no classes'}; the task expects {list(labels)}")
    return names


def _hub_pairs(ref: Hub, a: str, b: str, split: str, ctx: LoadContext,
               labels: Sequence[str] = NLI_LABELS) -> list[Classification]:
    ds = _hub_rows(ref, split, ctx, (a, b, "label"))
    names = _label_names(ds, "label", ref, labels)
    # label -1 marks pairs without annotator consensus; the official setups drop them
    return [Classification(f"{split}-{i}", r[a], r[b], names[r["label"]])
            for i, r in enumerate(ds) if r["label"] >= 0]


def _hub_tags(ref: Hub, tag_column: str, labels: Sequence[str], split: str, ctx: LoadContext) -> list[Tagging]:
    ds = _hub_rows(ref, split, ctx, ("tokens", tag_column))
    names = _label_names(ds, tag_column, ref, labels)
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


def udpos_refs(split: str, lang: str) -> tuple[Download, ...]:
    return (Download(f"ud-treebanks-v{'2.7' if lang in UDPOS_V27 else '2.5'}", part=f"{lang} {split}"),)


def conll_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return (Hub("eriktks/conll2003", None, HUB_SPLIT[split]),)


def _hub_pair_task(refs, split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    return _hub_pairs(refs(split, lang)[0], "premise", "hypothesis", split, ctx)


def _hub_tag_task(refs, column: str, labels: Sequence[str], split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    return _hub_tags(refs(split, lang)[0], column, labels, split, ctx)


def _hub_udpos(split: str, lang: str, ctx: LoadContext) -> list[Tagging]:
    """The UD release's treebank files, read as the local layout reads a release (ISO-prefixed
    files in file-name order, fused forms), so that hub and local give XTREME's sentences."""
    (ref,) = udpos_refs(split, lang)
    root = Path(next(iter(hub.fetch(ref, ctx.pins).values()))) / ref.name
    local = {"udpos": {"dir": str(root), "files": {}}}
    try:
        return tasks_local.load("udpos", split, lang, local, ctx.sizes.get(split, 0))
    except DataError as err:
        raise DataError(f"{ref}: {err}") from None


# -- the registry entries --------------------------------------------------------------------

register(TaskSpec(
    name="xnli", family="classification", metric="accuracy", labels=NLI_LABELS,
    languages=tuple(XNLI_LANGS),
    sources={"synthetic": partial(_synthetic_nli, "xnli"), "hub": partial(_hub_pair_task, xnli_refs)}, hub=xnli_refs,
    local=XNLI_LOCAL, parallel_test=("hub",),  # the local release's ids are line numbers, not item ids
    description="XNLI: natural language inference, trained on English MNLI", chance=1 / 3,
))
register(TaskSpec(
    name="panx", family="tagging", metric="seqeval_f1", labels=PANX_TAGS,
    languages=tuple(PANX_LANGS),
    sources={"synthetic": partial(_synthetic_tags, "panx", "panx"),
             "hub": partial(_hub_tag_task, panx_refs, "ner_tags", PANX_TAGS)},
    hub=panx_refs,
    local=PANX_LOCAL,
    description="WikiANN (PAN-X): named entities PER/ORG/LOC, BIO tags",
))
register(TaskSpec(
    name="udpos", family="tagging", metric="seqeval_f1", labels=UPOS,
    languages=tuple(UDPOS_LANGS),
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
    sources={"hub": partial(_hub_tag_task, conll_refs, "ner_tags", CONLL_TAGS)}, hub=conll_refs,
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
