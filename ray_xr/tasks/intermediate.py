"""The English intermediate tasks of Phang et al. (2020) beyond MNLI (specs.py) and SQuAD
(xtreme_r.py): ANLI+ (and ANLI alone), QQP, SST-2, HellaSwag, CosmosQA, CommonsenseQA (their
ninth, CCG, is CCGbank: LDC-licensed, not on the hub, so not registered), and SocialIQA
(which XTREME-R trains XCOPA models on before COPA). Hugging Face hub sources; each row becomes
one of the typed examples, so the families need nothing task-specific.
"""
from __future__ import annotations

from functools import partial

from ray_xr.data import synthetic
from ray_xr.data.examples import Classification, MultipleChoice
from ray_xr.tasks.registry import LoadContext, TaskSpec, register
from ray_xr.tasks.specs import NLI_LABELS, _hub_pairs, _hub_rows, _label_names


def _hub_anli(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    """The three rounds together (Phang et al. train on ANLI as a whole)."""
    ds_split = {"train": "train", "dev": "dev", "test": "test"}[split]
    out: list[Classification] = []
    for round_ in ("r1", "r2", "r3"):
        out += _hub_pairs("facebook/anli", None, "premise", "hypothesis", f"{ds_split}_{round_}", split, ctx)
    return [Classification(f"{split}-{i}", e.text_a, e.text_b, e.label) for i, e in enumerate(out)]


def _hub_anliplus(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    """Phang et al.'s ANLI+: ANLI (rounds 1-3) with MNLI and SNLI added to its training set;
    dev and test are ANLI's."""
    if split != "train":
        return _hub_anli(split, lang, ctx)
    out = _hub_anli(split, lang, ctx) + _hub_pairs("nyu-mll/glue", "mnli", "premise", "hypothesis", "train", split, ctx)
    out += _hub_pairs("stanfordnlp/snli", None, "premise", "hypothesis", "train", split, ctx)
    return [Classification(f"{split}-{i}", e.text_a, e.text_b, e.label) for i, e in enumerate(out)]


def _glue(config: str, a: str, b: str | None):
    def load(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
        # GLUE's test labels are hidden: its validation set serves as dev and test
        ds_split = "train" if split == "train" else "validation"
        if b is not None:
            return _hub_pairs("nyu-mll/glue", config, a, b, ds_split, split, ctx)
        ds = _hub_rows("nyu-mll/glue", config, split, ctx, ds_split)
        names = _label_names(ds, "label")
        return [Classification(f"{split}-{i}", r[a], None, names[r["label"]]) for i, r in enumerate(ds) if r["label"] >= 0]
    return load


def _hub_hellaswag(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    ds_split = "train" if split == "train" else "validation"  # test labels are hidden
    rows = _hub_rows("Rowan/hellaswag", None, split, ctx, ds_split)
    return [MultipleChoice(f"{split}-{i}", r["ctx"], "", tuple(r["endings"]), int(r["label"]))
            for i, r in enumerate(rows)]


def _hub_cosmosqa(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    ds_split = "train" if split == "train" else "validation"  # test labels are hidden
    rows = _hub_rows("allenai/cosmos_qa", None, split, ctx, ds_split)
    return [MultipleChoice(f"{split}-{r['id']}", r["context"], r["question"],
                           tuple(r[f"answer{k}"] for k in range(4)), r["label"]) for r in rows]


def _hub_commonsenseqa(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    ds_split = "train" if split == "train" else "validation"  # test labels are hidden
    rows = _hub_rows("tau/commonsense_qa", None, split, ctx, ds_split)
    return [MultipleChoice(f"{split}-{r['id']}", r["question"], "", tuple(r["choices"]["text"]),
                           r["choices"]["label"].index(r["answerKey"])) for r in rows]


def _synthetic_choice(stream: str, split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    return synthetic.choice(stream, split, lang, ctx.sizes[split], ctx.seed)


def _hub_siqa(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    ds_split = "train" if split == "train" else "validation"  # no labelled test split
    rows = _hub_rows("allenai/social_i_qa", None, split, ctx, ds_split)
    return [MultipleChoice(f"{split}-{i}", r["context"], r["question"],
                           (r["answerA"], r["answerB"], r["answerC"]), int(r["label"]) - 1)  # labels "1".."3"
            for i, r in enumerate(rows)]


register(TaskSpec(
    name="anli", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"hub": _hub_anli}, description="Adversarial NLI, rounds 1-3 (intermediate task)",
))
register(TaskSpec(
    name="anliplus", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"hub": _hub_anliplus},
    description="ANLI+ of Phang et al. 2020: ANLI rounds 1-3 plus MNLI and SNLI for training (intermediate task)",
))
register(TaskSpec(
    name="qqp", family="classification", metric="accuracy", labels=("not_duplicate", "duplicate"),
    languages=("en",), sources={"hub": _glue("qqp", "question1", "question2")},
    description="Quora Question Pairs, GLUE (intermediate task)",
))
register(TaskSpec(
    name="sst2", family="classification", metric="accuracy", labels=("negative", "positive"),
    languages=("en",), sources={"hub": _glue("sst2", "sentence", None)},
    description="Stanford Sentiment Treebank, binary, GLUE (intermediate task)",
))
register(TaskSpec(
    name="hellaswag", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_hellaswag}, description="HellaSwag: the plausible continuation (intermediate task)",
))
register(TaskSpec(
    name="cosmosqa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_cosmosqa}, description="CosmosQA: commonsense reading comprehension (intermediate task)",
))
register(TaskSpec(
    name="commonsenseqa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_commonsenseqa}, description="CommonsenseQA, five choices (intermediate task)",
))
register(TaskSpec(
    name="siqa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_siqa, "synthetic": partial(_synthetic_choice, "siqa")}, description="SocialIQA (XTREME-R trains XCOPA models on it before COPA)",
))
