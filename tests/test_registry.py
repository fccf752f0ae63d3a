"""The task registry as a whole: every XTREME-R target and Phang et al. intermediate task is one
entry wired to a family, a metric and its data sources; sweeps/phang2020.yaml plans."""
from __future__ import annotations

import hashlib
import json

from ray_xr.data.readers import READERS
from ray_xr.metrics import METRICS, TASK_FAMILIES
from ray_xr.tasks import TASKS, hub
from ray_xr.tasks.families import FAMILIES
from ray_xr.tasks.registry import From
from tests.conftest import ray_xr

XTREME_R = ("xnli", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba", "lareqa", "mewslix")
INTERMEDIATE = ("mnli", "conll2003", "squad", "anli", "anliplus", "qqp", "sst2", "hellaswag", "cosmosqa",
                "commonsenseqa")


def test_every_task_is_wired():
    for name, spec in TASKS.items():
        assert spec.family in FAMILIES and spec.metric in METRICS, name
        assert spec.encoder_task is None or spec.encoder_task in TASKS, name
        if spec.local is not None:
            assert spec.local.format in READERS, name
            assert all(f.task in TASKS for f in spec.local.files.values() if isinstance(f, From)), name
    for name in XTREME_R + ("pawsx",) + INTERMEDIATE:
        assert "hub" in TASKS[name].sources, name
    # the score's families know the task names used here
    assert set(XTREME_R) == {t for tasks in TASK_FAMILIES.values() for t in tasks}


def test_xtreme_r_language_lists():
    sizes = {"xnli": 15, "xcopa": 11, "udpos": 37, "panx": 48, "xquad": 11, "mlqa": 7, "tydiqa": 9, "tatoeba": 41,
             "lareqa": 11, "mewslix": 11}
    assert {name: len(set(TASKS[name].languages)) for name in sizes} == sizes
    assert "en" not in TASKS["tatoeba"].languages  # English is the side searched


def test_plan_phang2020():
    result = ray_xr("plan", "sweeps/phang2020.yaml", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    seeds, inters = 3, 9  # none + the eight of Phang et al.'s nine intermediate tasks there are data for
    targets = XTREME_R + ("pawsx",)
    languages = sum(len(TASKS[t].languages) for t in targets)
    # clean + three noisy levels per language; Tatoeba's encoder is a SQuAD target model, and
    # XCOPA's training continues a SocialIQA model: one more target stage per chain
    assert summary["stages"] == {"pretrain": 1, "intermediate": 8 * seeds,
                                 "target": inters * seeds * (len(targets) + 1),
                                 "eval": inters * seeds * languages * 4}
    assert summary["cells"] == inters * seeds * len(targets) * 4


def fake_hub(monkeypatch, tables: dict):
    """datasets.load_dataset serving small in-memory tables in the hub datasets' schemas."""
    import datasets

    def load_dataset(path, config=None, split=None, revision=None):
        return tables[(path, config, split)]
    monkeypatch.setattr(datasets, "load_dataset", load_dataset)


def test_hub_rows_become_typed_examples(monkeypatch):
    from datasets import ClassLabel, Dataset, Features, Sequence, Value

    from ray_xr.tasks import LoadContext

    qa = Features({"id": Value("string"), "question": Value("string"), "context": Value("string"),
                   "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")})})
    tydiqa = Dataset.from_dict({"id": ["english-1", "arabic-1", "arabic-2"], "question": ["q1", "q2", "q3"],
                                "context": ["a b", "c d", "e f"],
                                "answers": [{"text": ["b"], "answer_start": [2]}, {"text": ["c"], "answer_start": [0]},
                                            {"text": ["f"], "answer_start": [2]}]}, features=qa)
    nli = Features({"premise": Value("string"), "hypothesis": Value("string"),
                    "label": ClassLabel(names=["entailment", "neutral", "contradiction"])})
    anli = {("facebook/anli", None, f"train_{r}"): Dataset.from_dict(
        {"premise": ["p"], "hypothesis": [r], "label": [2]}, features=nli) for r in ("r1", "r2", "r3")}
    fake_hub(monkeypatch, {
        ("google/xtreme", "tydiqa", "validation"): tydiqa,
        ("tau/commonsense_qa", None, "train"): Dataset.from_dict(
            {"id": ["x"], "question": ["where?"], "choices": [{"label": ["A", "B", "C"], "text": ["a", "b", "c"]}],
             "answerKey": ["C"]}),
        ("allenai/social_i_qa", None, "validation"): Dataset.from_dict(
            {"context": ["c"], "question": ["q"], "answerA": ["a"], "answerB": ["b"], "answerC": ["c"], "label": ["2"]}),
        ("nyu-mll/glue", "sst2", "train"): Dataset.from_dict(
            {"sentence": ["good", "bad"], "label": [1, 0]},
            features=Features({"sentence": Value("string"), "label": ClassLabel(names=["negative", "positive"])})),
        ("nyu-mll/glue", "mnli", "train"): Dataset.from_dict(
            {"premise": ["p"], "hypothesis": ["mnli"], "label": [0]}, features=nli),
        ("stanfordnlp/snli", None, "train"): Dataset.from_dict(  # -1: no consensus, dropped
            {"premise": ["p", "p"], "hypothesis": ["snli", "x"], "label": [1, -1]}, features=nli),
        **anli,
    })
    ctx = LoadContext(sizes={"train": 0, "dev": 0, "test": 1})
    [arabic] = TASKS["tydiqa"].sources["hub"]("test", "ar", ctx)  # other languages filtered out, then capped
    assert (arabic.id, arabic.answers[0].text, arabic.answers[0].start) == ("arabic-1", "c", 0)
    [choice] = TASKS["commonsenseqa"].sources["hub"]("train", "en", ctx)
    assert choice.choices == ("a", "b", "c") and choice.label == 2
    [social] = TASKS["siqa"].sources["hub"]("dev", "en", ctx)
    assert social.label == 1 and social.choices == ("a", "b", "c")
    assert [(e.text_a, e.text_b, e.label) for e in TASKS["sst2"].sources["hub"]("train", "en", ctx)] == [
        ("good", None, "positive"), ("bad", None, "negative")]
    rounds = TASKS["anli"].sources["hub"]("train", "en", ctx)
    assert [e.text_b for e in rounds] == ["r1", "r2", "r3"] and len({e.id for e in rounds}) == 3
    assert {e.label for e in rounds} == {"contradiction"}
    # Phang et al.'s ANLI+: ANLI's rounds with MNLI and SNLI added for training
    plus = TASKS["anliplus"].sources["hub"]("train", "en", ctx)
    assert [e.text_b for e in plus] == ["r1", "r2", "r3", "mnli", "snli"] and len({e.id for e in plus}) == 5


def test_xtreme_hub_configs_and_schemas(monkeypatch):
    from datasets import Dataset, Features, Sequence, Value

    from ray_xr.tasks import LoadContext

    qa = Features({"id": Value("string"), "question": Value("string"), "context": Value("string"),
                   "answers": Sequence({"text": Value("string"), "answer_start": Value("int32")})})
    squad_like = Dataset.from_dict({"id": ["q1"], "question": ["who?"], "context": ["Ann ran."],
                                    "answers": [{"text": ["Ann"], "answer_start": [0]}]}, features=qa)
    copa = {"premise": ["p"], "choice1": ["a"], "choice2": ["b"], "question": ["cause"], "label": [1], "idx": [7]}
    fake_hub(monkeypatch, {
        ("google/xtreme", "XQuAD.de", "validation"): squad_like,
        ("google/xtreme", "MLQA.hi.hi", "test"): squad_like,
        ("rajpurkar/squad", None, "train"): squad_like,
        ("google/xtreme", "tatoeba.cmn", "validation"): Dataset.from_dict(
            {"source_sentence": ["你好"], "target_sentence": ["hello"], "source_lang": ["cmn"], "target_lang": ["eng"]}),
        ("google/xtreme", "PAWS-X.en", "train"): Dataset.from_dict(
            {"sentence1": ["a"], "sentence2": ["b"], "label": ["1"]}),
        ("cambridgeltl/xcopa", "qu", "test"): Dataset.from_dict(copa),
        ("aps/super_glue", "copa", "train"): Dataset.from_dict({**copa, "label": [-1]}),  # unlabelled rows dropped
    })
    ctx = LoadContext(sizes={"train": 0, "dev": 0, "test": 0})
    [xquad] = TASKS["xquad"].sources["hub"]("test", "de", ctx)
    assert xquad.context[xquad.answers[0].start:].startswith(xquad.answers[0].text)
    assert TASKS["mlqa"].sources["hub"]("test", "hi", ctx) == [xquad]
    assert TASKS["xquad"].sources["hub"]("train", "en", ctx) == [xquad]  # trained on SQuAD
    [pair] = TASKS["tatoeba"].sources["hub"]("test", "zh", ctx)
    assert (pair.query, pair.target) == ("你好", "hello")
    [paws] = TASKS["pawsx"].sources["hub"]("train", "de", ctx)  # English training data for every language
    assert paws.label == "1"
    [choice] = TASKS["xcopa"].sources["hub"]("test", "qu", ctx)
    assert (choice.choices, choice.label, choice.question) == (("a", "b"), 1, "cause")
    assert TASKS["xcopa"].sources["hub"]("train", "en", ctx) == []


def test_lareqa_hub_source(monkeypatch, tmp_path):
    """Training data: SQuAD's hub rows regrouped into paragraphs of sentences; test data: the
    XQuAD-R files of its GitHub release (the download itself is replaced by local copies)."""
    import datasets
    from datasets import Dataset

    from ray_xr.tasks import LoadContext
    from ray_xr.tasks.xtreme_r import XQUAD_LANGS
    from tests.test_ranking import xquad_r

    context = "Ann ran. Bob sat."
    fake_hub(monkeypatch, {("rajpurkar/squad", None, "train"): Dataset.from_dict({
        "id": ["q1", "q2"], "question": ["who ran?", "who sat?"], "context": [context, context],
        "answers": [{"text": ["Ann"], "answer_start": [0]}, {"text": ["Bob"], "answer_start": [9]}]})})
    ctx = LoadContext(sizes={"train": 0, "test": 1})
    train = TASKS["lareqa"].sources["hub"]("train", "en", ctx)
    assert [(e.id, getattr(e, "keys", None)) for e in train] == [
        ("q1_squad-train", None), ("q2_squad-train", None), ("squad-train_1_0", ("q1",)), ("squad-train_1_1", ("q2",))]
    for code in XQUAD_LANGS:
        (tmp_path / f"{code}.json").write_text(json.dumps(xquad_r(code, ["A b.", "C d."], [("x1", "q?", "C d"),
                                                                                          ("x2", "q?", "A b")])))
    monkeypatch.setattr(datasets.DownloadManager, "download",
                        lambda self, urls: {code: str(tmp_path / url.rsplit("/", 1)[1]) for code, url in urls.items()})
    # the stand-ins are not the release's files: pinned to their own checksums
    monkeypatch.setitem(hub.DOWNLOADS, "xquad-r", {**hub.DOWNLOADS["xquad-r"], "sha256": {
        code: hashlib.sha256((tmp_path / f"{code}.json").read_bytes()).hexdigest() for code in XQUAD_LANGS}})
    hub._fetch.cache_clear()
    test = TASKS["lareqa"].sources["hub"]("test", "de", ctx)
    assert [e.id for e in test if hasattr(e, "relevant")] == ["x1_de"]  # capped to one question
    assert len(test) == 1 + 2 * len(XQUAD_LANGS)  # the pool: two sentences in each of eleven languages
