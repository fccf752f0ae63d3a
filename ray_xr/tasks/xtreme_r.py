"""The XTREME-R target tasks beyond XNLI, UD-POS and PAN-X (specs.py), and their English
training sources: XCOPA (<- COPA), XQuAD and MLQA (<- SQuAD v1.1), TyDiQA-GoldP, Tatoeba,
LAReQA (XQuAD-R <- SQuAD v1.1 as sentences) and Mewsli-X (<- its Wikipedia pairs); and PAWS-X,
an XTREME task that XTREME-R dropped (its evaluate.py scores it under XTREME only). Language
lists are the benchmark's (evaluate.py XTREME_R_TASK2LANGS).
"""
from __future__ import annotations

from functools import partial

from ray_xr.data import synthetic
from ray_xr.data.retrieval import paragraph_examples, read_squad_sentences, read_tatoeba, sentence_breaks
from ray_xr.errors import DataError
from ray_xr.data.examples import Answer, Classification, Example, MultipleChoice, RetrievalPair, SpanQA, cap
from ray_xr.tasks.registry import LoadContext, TaskSpec, register
from ray_xr.tasks.registry import From, Local
from ray_xr.tasks import hub
from ray_xr.tasks.hub import Download, Hub
from ray_xr.tasks.specs import HUB_SPLIT, _hub_rows

PAWSX_LANGS = ("en", "de", "es", "fr", "ja", "ko", "zh")
XCOPA_LANGS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
LAREQA_LANGS = ("en", "ar", "de", "el", "es", "hi", "ru", "th", "tr", "vi", "zh")  # XQuAD-R's eleven
XQUAD_LANGS = LAREQA_LANGS + ("ro",)  # XTREME-R adds Romanian (google/xquad; google/xtreme lacks it)
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
MEWSLIX_LANGS = ("ar", "de", "en", "es", "fa", "ja", "pl", "ro", "ta", "tr", "uk")
MEWSLIX_NOT_ON_HUB = ("task mewslix: Mewsli-X is not on the Hugging Face hub (its WikiNews text must be restored"
                      " locally): run google-research's dense_representations_for_entity_retrieval/mel/"
                      "get-mewsli-x.sh and point data.local.mewslix at its output/dataset folder")



def _synthetic(make, stream: str, split: str, lang: str, ctx: LoadContext):
    return make(stream, split, lang, ctx.sizes[split], ctx.seed)


def _synthetic_ranking(split: str, lang: str, ctx: LoadContext) -> list[Example]:
    """Training and dev data rank an English pool; test queries rank every language's."""
    pool = synthetic.LANGUAGES if split == "test" else (synthetic.SOURCE,)
    return synthetic.ranking("lareqa", split, lang, ctx.sizes[split], ctx.seed, pool)


def _offline(make, stream: str) -> dict:
    """The synthetic counterpart of a task: its own example stream of the synthetic benchmark."""
    return {"synthetic": partial(_synthetic, make, stream)}


# -- Hugging Face hub source (google/xtreme configs as its xtreme.py names them) -------------

def squad_rows(rows) -> list[SpanQA]:
    """SQuAD-layout hub rows (id, question, context, answers: {text: [...], answer_start: [...]})."""
    return [SpanQA(r["id"], r["question"], r["context"],
                   tuple(Answer(t, s) for t, s in zip(r["answers"]["text"], r["answers"]["answer_start"])))
            for r in rows]


def squad_refs(split: str, lang: str) -> tuple[Hub, ...]:
    # SQuAD v1.1 has no public test set: its dev set serves as both dev and test
    return (Hub("rajpurkar/squad", None, "train" if split == "train" else "validation"),)


def xquad_refs(split: str, lang: str) -> tuple[Hub, ...]:
    if split != "test":
        return squad_refs(split, lang)
    return (Hub("google/xquad", "xquad.ro", "validation") if lang == "ro" else
            Hub("google/xtreme", f"XQuAD.{lang}", "validation"),)


def mlqa_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return squad_refs(split, lang) if split == "train" else (Hub("google/xtreme", f"MLQA.{lang}.{lang}", HUB_SPLIT[split]),)


SQUAD_COLUMNS = ("id", "question", "context", "answers")


def _hub_squad_layout(refs, split: str, lang: str, ctx: LoadContext) -> list[SpanQA]:
    return squad_rows(_hub_rows(refs(split, lang)[0], split, ctx, SQUAD_COLUMNS))


def tydiqa_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return (Hub("google/xtreme", "tydiqa", "train" if split == "train" else "validation"),)


def _hub_tydiqa(split: str, lang: str, ctx: LoadContext) -> list[SpanQA]:
    """One config holds every language; ids start with the language name ("arabic-...")."""
    prefix = f"{TYDIQA_NAMES['en' if split == 'train' else lang]}-"
    ds = hub.rows(tydiqa_refs(split, lang)[0], ctx.pins).filter(lambda r: r["id"].startswith(prefix))
    cap = ctx.sizes.get(split)
    return squad_rows(ds.select(range(min(cap, len(ds)))) if cap else ds)


def tatoeba_refs(split: str, lang: str) -> tuple[Hub | Download, ...]:
    code = TATOEBA_CODES[lang]
    if code in hub.LASER_TATOEBA:  # XTREME-R's additions, from the LASER files XTREME reads
        return (Download(f"laser-tatoeba-{code}"),)
    return (Hub("google/xtreme", f"tatoeba.{code}", "validation"),)


def _hub_tatoeba(split: str, lang: str, ctx: LoadContext) -> list[RetrievalPair]:
    (ref,) = tatoeba_refs(split, lang)
    if isinstance(ref, Download):
        paths = hub.fetch(ref, ctx.pins)
        pairs = cap(read_tatoeba(paths["query"], paths["target"]), ctx.sizes.get(split, 0))
        return [RetrievalPair(f"{split}-{i}", p.query, p.target) for i, p in enumerate(pairs)]
    # google/xtreme's tatoeba rows keep each file line's newline (its xtreme.py reads `for row in f`)
    rows = _hub_rows(ref, split, ctx, ("source_sentence", "target_sentence"))
    return [RetrievalPair(f"{split}-{i}", r["source_sentence"].rstrip("\n"), r["target_sentence"].rstrip("\n"))
            for i, r in enumerate(rows)]


def pawsx_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return (Hub("google/xtreme", f"PAWS-X.{'en' if split == 'train' else lang}", HUB_SPLIT[split]),)


def _hub_pawsx(split: str, lang: str, ctx: LoadContext) -> list[Classification]:
    # English training data; label is the string "0" or "1" in these configs
    rows = _hub_rows(pawsx_refs(split, lang)[0], split, ctx, ("sentence1", "sentence2", "label"))
    return [Classification(f"{split}-{i}", r["sentence1"], r["sentence2"], str(r["label"])) for i, r in enumerate(rows)]


def _squad_as_sentences(split: str, ctx: LoadContext) -> list[Example]:
    """SQuAD v1.1 from the hub as a ranking task (LAReQA's training data): each question ranks
    the sentences of every paragraph (sentence breaks inferred, as XTREME-R does)."""

    # read whole (an empty context has no cap): the cap counts questions, and the pool keeps every paragraph
    rows = _hub_rows(squad_refs(split, "en")[0], split, LoadContext(pins=ctx.pins), SQUAD_COLUMNS)
    paragraphs: dict[str, list] = {}
    for r in rows:  # the hub has a row per question; its paragraphs are the distinct contexts
        paragraphs.setdefault(r["context"], []).append((r["id"], r["question"], r["answers"]["answer_start"][0]))
    examples = [e for n, (context, questions) in enumerate(paragraphs.items(), start=1)
                for e in paragraph_examples(f"squad-{split}", n, context, sentence_breaks(context), questions)]
    return cap(examples, ctx.sizes.get(split, 0))


def lareqa_refs(split: str, lang: str) -> tuple[Hub | Download, ...]:
    return squad_refs(split, lang) if split != "test" else (Download("xquad-r"),)


def _hub_lareqa(split: str, lang: str, ctx: LoadContext) -> list[Example]:
    """Questions in `lang` ranking the answer sentences of all eleven XQuAD-R languages. The
    downloaded files have hashed names: each is read as the language it was fetched for."""
    if split != "test":
        return _squad_as_sentences(split, ctx)
    paths = hub.fetch(lareqa_refs(split, lang)[0], ctx.pins)
    return cap([e for code in LAREQA_LANGS for e in read_squad_sentences(paths[code], language=lang, source=code)],
               ctx.sizes.get(split, 0))


def mewslix_refs(split: str, lang: str) -> tuple:
    return ()  # not on the hub: data.local.mewslix (see _hub_mewslix)


def _hub_mewslix(split: str, lang: str, ctx: LoadContext) -> list[Example]:
    raise DataError(MEWSLIX_NOT_ON_HUB)


def copa_rows(rows, split: str) -> list[MultipleChoice]:
    return [MultipleChoice(f"{split}-{r['idx']}", r["premise"], r["question"], (r["choice1"], r["choice2"]),
                           r["label"]) for r in rows if r["label"] >= 0]  # -1: an unlabelled test row


def copa_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return (Hub("aps/super_glue", "copa", "train" if split == "train" else "validation"),)  # test labels hidden


def xcopa_refs(split: str, lang: str) -> tuple[Hub, ...]:
    return copa_refs(split, lang) if split != "test" else (Hub("cambridgeltl/xcopa", lang, "test"),)


def _hub_copa_layout(refs, split: str, lang: str, ctx: LoadContext) -> list[MultipleChoice]:
    columns = ("idx", "premise", "question", "choice1", "choice2", "label")
    return copa_rows(_hub_rows(refs(split, lang)[0], split, ctx, columns), split)


register(TaskSpec(
    name="pawsx", family="classification", metric="accuracy", labels=("0", "1"), languages=PAWSX_LANGS,
    sources={"hub": _hub_pawsx}, hub=pawsx_refs,
    local=Local("pawsx_tsv", {"train": ("en/train.tsv",), "dev": ("{lang}/dev_2k.tsv", "{lang}/dev.tsv"),
                              "test": ("{lang}/test_2k.tsv", "{lang}/test.tsv")}),
    description="PAWS-X: paraphrase identification (XTREME; not an XTREME-R task), trained on English PAWS",
    chance=1 / 2,
))
register(TaskSpec(
    name="copa", family="multiple_choice", metric="accuracy", labels=(), languages=("en",),
    sources=_offline(synthetic.choice, "copa") | {"hub": partial(_hub_copa_layout, copa_refs)}, hub=copa_refs,
    # SuperGLUE's COPA; its test.jsonl is unlabelled, so the labelled val set doubles as test
    local=Local("xcopa_jsonl", {"train": ("train.jsonl",), "dev": ("val.jsonl",), "test": ("val.jsonl",)}),
    description="COPA: choice of plausible alternatives (English training source of XCOPA)",
))
register(TaskSpec(
    name="xcopa", family="multiple_choice", metric="accuracy", labels=(), languages=XCOPA_LANGS,
    sources=_offline(synthetic.choice, "xcopa") | {"hub": partial(_hub_copa_layout, xcopa_refs)}, hub=xcopa_refs,
    local=Local("xcopa_jsonl", {"train": From("copa", "train"), "dev": From("copa", "dev"),
                                "test": ("{lang}/test.jsonl", "data/{lang}/test.{lang}.jsonl")}),
    # XTREME-R's train_xcopa.sh: SocialIQA first, then COPA (no SocialIQA reader for local files)
    after={"hub": "siqa", "synthetic": "siqa"},
    description="XCOPA: causal commonsense reasoning, trained on English COPA", chance=1 / 2,
))
register(TaskSpec(
    name="squad", family="qa", metric="squad", labels=(), languages=("en",),
    sources=_offline(synthetic.qa, "squad") | {"hub": partial(_hub_squad_layout, squad_refs)}, hub=squad_refs,
    local=Local("squad_json", {"train": ("train-v1.1.json",), "dev": ("dev-v1.1.json",),
                               "test": ("dev-v1.1.json",)}),
    dev_excludes=(("xquad", "en"),),  # XQuAD translates 240 paragraphs of SQuAD v1.1 dev
    description="SQuAD v1.1 (English training source of XQuAD and MLQA; intermediate task)",
))
register(TaskSpec(
    name="xquad", family="qa", metric="squad", labels=(), languages=XQUAD_LANGS,
    sources=_offline(synthetic.qa, "xquad") | {"hub": partial(_hub_squad_layout, xquad_refs)}, hub=xquad_refs,
    local=Local("squad_json", {"train": From("squad", "train"), "dev": From("squad", "dev"),
                               "test": ("xquad.{lang}.json",)}),
    dev_excludes=(("xquad", "en"),),  # selects on SQuAD v1.1 dev without XQuAD's own paragraphs
    parallel_test=("hub", "local"),  # 1,190 SQuAD questions translated, their ids kept
    description="XQuAD: extractive QA, trained on SQuAD v1.1",
))
register(TaskSpec(
    name="mlqa", family="qa", metric="mlqa", labels=(), languages=MLQA_LANGS,
    sources={"hub": partial(_hub_squad_layout, mlqa_refs)}, hub=mlqa_refs,
    local=Local("squad_json", {
        "train": From("squad", "train"),
        "dev": ("dev/dev-context-{lang}-question-{lang}.json", "dev-context-{lang}-question-{lang}.json"),
        "test": ("test/test-context-{lang}-question-{lang}.json", "test-context-{lang}-question-{lang}.json")}),
    description="MLQA: extractive QA with language-specific answer normalisation, trained on SQuAD v1.1",
))
register(TaskSpec(
    name="tydiqa", family="qa", metric="squad", labels=(), languages=tuple(TYDIQA_NAMES),
    sources={"hub": _hub_tydiqa}, hub=tydiqa_refs,
    # the gold-passage task has no public test set; XTREME evaluates on its dev set
    local=Local("squad_json", {
        "train": ("tydiqa-goldp-v1.1-train/tydiqa.en.train.json", "{name}_train.json"),
        "dev": ("tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json", "{name}_dev.json"),
        "test": ("tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json", "{name}_dev.json")},
        names=TYDIQA_NAMES),
    model_selection="last",  # its English dev set is its English test set: keep the last epoch, as XTREME
    description="TyDiQA-GoldP: extractive QA on the gold passage, trained on its English training set",
))
register(TaskSpec(
    name="tatoeba", family="retrieval", metric="accuracy", labels=(), languages=tuple(TATOEBA_CODES),
    sources=_offline(synthetic.parallel, "tatoeba") | {"hub": _hub_tatoeba}, hub=tatoeba_refs,
    local=Local("tatoeba", {"test": (("tatoeba.{name}-eng.{name}", "tatoeba.{name}-eng.eng"),)},
                names=TATOEBA_CODES),
    # XTREME-R (scripts/run_tatoeba.sh) embeds with the model fine-tuned on SQuAD v1.1
    encoder_task="squad",
    description="Tatoeba: bitext retrieval (nearest English neighbour of each sentence), no training set",
))
register(TaskSpec(
    name="lareqa", family="ranking", metric="map@20", labels=(), languages=LAREQA_LANGS,
    sources={"synthetic": _synthetic_ranking, "hub": _hub_lareqa}, hub=lareqa_refs,
    # English training data: SQuAD v1.1 read as sentences; the test pool: every XQuAD-R file
    local=Local("squad_sentences", {
        "train": From("squad", "train", format="squad_sentences"),
        "dev": From("squad", "dev", format="squad_sentences"),
        "test": ("xquad-r/*.json", "*.json")}, by_language=True),
    options={"rank": 20},
    dev_excludes=(("lareqa", "en"),),  # SQuAD v1.1 dev holds XQuAD-R's English paragraphs
    description="LAReQA (XQuAD-R): answer-sentence retrieval from a pool in all eleven languages; "
                "dual encoder fine-tuned on SQuAD v1.1",
))
register(TaskSpec(
    name="mewslix", family="ranking", metric="map@20", labels=(), languages=MEWSLIX_LANGS,
    sources={"hub": _hub_mewslix}, hub=mewslix_refs,
    local=Local("mewslix", {
        "train": ("wikipedia_pairs-train.jsonl",), "dev": ("wikipedia_pairs-dev.jsonl",),
        "test": (("wikinews_mentions-test.jsonl", "candidate_set_entities.jsonl"),)}, by_language=True),
    options={"rank": 20},
    description="Mewsli-X: entity linking of WikiNews mentions against ~1M Wikidata entities; dual encoder "
                "fine-tuned on English Wikipedia mention-entity pairs",
))
