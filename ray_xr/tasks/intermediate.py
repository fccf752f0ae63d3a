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
from ray_xr.tasks.hub import Hub
from ray_xr.tasks.specs import NLI_LABELS, _hub_pairs, _hub_rows, _label_names


def anli_refs(split: str, lang: str) -> tuple[Hub, ...]:
    """The three rounds together (Phang et al. train on ANLI as a whole)."""
    return tuple(Hub("facebook/anli", None, f"{split}_r{round_}") for round_ in (1, 2, 3))


def anliplus_refs(split: str, lang: str) -> tuple[Hub, ...]:
    """Phang et al.'s ANLI+: ANLI (rounds 1-3) with MNLI and SNLI added to its training set;
    dev and test are ANLI's."""
    extra = (Hub("nyu-mll/glue", "mnli", "train"), Hub("stanfordnlp/snli", None, "train")) if split == "train" else ()
    return anli_refs(split, lang) + extra


def _hub_nli(refs, split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    out: list[Classification] = []
    for ref in refs(split, lang):
        out += _hub_pairs(ref, "premise", "hypothesis", split, ctx)
    return [Classification(f"{split}-{i}", e.text_a, e.text_b, e.label) for i, e in enumerate(out)]


def _validation(dataset: str, config: str | None = None):
    """Train and dev splits; the hidden-label test set is replaced by the validation set."""
    def refs(split: str, lang: str) -> tuple[Hub, ...]:
        return (Hub(dataset, config, "train" if split == "train" else "validation"),)
    return refs


def _glue(refs, a: str, b: str | None, labels: tuple[str, ...]):
    def load(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
        # GLUE's test labels are hidden: its validation set serves as dev and test
        ref = refs(split, lang)[0]
        if b is not None:
            return _hub_pairs(ref, a, b, split, ctx, labels)
        ds = _hub_rows(ref, split, ctx, (a, "label"))
        names = _label_names(ds, "label", ref, labels)
        return [Classification(f"{split}-{i}", r[a], None, names[r["label"]]) for i, r in enumerate(ds) if r["label"] >= 0]
    return load


QQP, SST2 = _validation("nyu-mll/glue", "qqp"), _validation("nyu-mll/glue", "sst2")
HELLASWAG, COSMOSQA = _validation("Rowan/hellaswag"), _validation("allenai/cosmos_qa")
COMMONSENSEQA, SIQA = _validation("tau/commonsense_qa"), _validation("allenai/social_i_qa")


def _hub_hellaswag(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    rows = _hub_rows(HELLASWAG(split, lang)[0], split, ctx, ("ctx", "endings", "label"))
    return [MultipleChoice(f"{split}-{i}", r["ctx"], "", tuple(r["endings"]), int(r["label"]))
            for i, r in enumerate(rows)]


def _hub_cosmosqa(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    rows = _hub_rows(COSMOSQA(split, lang)[0], split, ctx, ("id", "context", "question", "label")
                     + tuple(f"answer{k}" for k in range(4)))
    return [MultipleChoice(f"{split}-{r['id']}", r["context"], r["question"],
                           tuple(r[f"answer{k}"] for k in range(4)), r["label"]) for r in rows]


def _hub_commonsenseqa(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    rows = _hub_rows(COMMONSENSEQA(split, lang)[0], split, ctx, ("id", "question", "choices", "answerKey"))
    return [MultipleChoice(f"{split}-{r['id']}", r["question"], "", tuple(r["choices"]["text"]),
                           r["choices"]["label"].index(r["answerKey"])) for r in rows]


def _synthetic_choice(stream: str, split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    return synthetic.choice(stream, split, lang, ctx.sizes[split], ctx.seed)


def _hub_siqa(split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    # no labelled test split; labels are the strings "1".."3"
    columns = ("context", "question", "answerA", "answerB", "answerC", "label")
    rows = _hub_rows(SIQA(split, lang)[0], split, ctx, columns)
    return [MultipleChoice(f"{split}-{i}", r["context"], r["question"],
                           (r["answerA"], r["answerB"], r["answerC"]), int(r["label"]) - 1)
            for i, r in enumerate(rows)]


register(TaskSpec(
    name="anli", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"hub": partial(_hub_nli, anli_refs)}, hub=anli_refs, description="Adversarial NLI, rounds 1-3 (intermediate task)",
))
register(TaskSpec(
    name="anliplus", family="classification", metric="accuracy", labels=NLI_LABELS, languages=("en",),
    sources={"hub": partial(_hub_nli, anliplus_refs)}, hub=anliplus_refs,
    description="ANLI+ of Phang et al. 2020: ANLI rounds 1-3 plus MNLI and SNLI for training (intermediate task)",
))
register(TaskSpec(
    name="qqp", family="classification", metric="accuracy", labels=("not_duplicate", "duplicate"),
    languages=("en",), sources={"hub": _glue(QQP, "question1", "question2", ("not_duplicate", "duplicate"))}, hub=QQP,
    description="Quora Question Pairs, GLUE (intermediate task)",
))
register(TaskSpec(
    name="sst2", family="classification", metric="accuracy", labels=("negative", "positive"),
    languages=("en",), sources={"hub": _glue(SST2, "sentence", None, ("negative", "positive"))}, hub=SST2,
    description="Stanford Sentiment Treebank, binary, GLUE (intermediate task)",
))
register(TaskSpec(
    name="hellaswag", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_hellaswag}, hub=HELLASWAG, description="HellaSwag: the plausible continuation (intermediate task)",
))
register(TaskSpec(
    name="cosmosqa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_cosmosqa}, hub=COSMOSQA, description="CosmosQA: commonsense reading comprehension (intermediate task)",
))
register(TaskSpec(
    name="commonsenseqa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_commonsenseqa}, hub=COMMONSENSEQA, description="CommonsenseQA, five choices (intermediate task)",
))
register(TaskSpec(
    name="siqa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources={"hub": _hub_siqa, "synthetic": partial(_synthetic_choice, "siqa")}, hub=SIQA,
    description="SocialIQA (XTREME-R trains XCOPA models on it before COPA)",
))
