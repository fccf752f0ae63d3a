"""What ray-xr hands to XTREME's own scripts, checked on the real samples in ../shared/data/real:
every family's export in the layout google-research/xtreme's evaluate.py reads (our equivalents
of its readers), QA answers post-processed as its run_squad.py, UD-POS multiword tokens as its
conllu_to_conll.py, Tatoeba searched as its evaluate_retrieval.py, the realised noise rate in
characters for unspaced scripts, and capped test sets refused by `export`."""
from __future__ import annotations

import json
import random
import re
from collections import Counter

import pytest

from ray_xr.data import readers, synthetic
from ray_xr.data.examples import Classification
from ray_xr.errors import DataError, ExportError
from ray_xr.report import export
from ray_xr.run.models import train_tokenizer
from ray_xr.tasks import answers
from ray_xr.tasks.families import FAMILIES
from ray_xr.tasks.load import noisy, realised_rate
from tests.conftest import REAL_DATA, needs_real_data, ray_xr

pytestmark = needs_real_data

# (task, family, format, files, language) of one real sample per exported task
SAMPLES = [
    ("xnli", "classification", "xnli_tsv", ("xnli/de/test.tsv",), "de"),
    ("pawsx", "classification", "pawsx_tsv", ("pawsx/de/test.tsv",), None),
    ("panx", "tagging", "panx", ("wikiann/fr/test",), None),
    ("udpos", "tagging", "conllu", ("udpos/fr/test.conllu",), "fr"),
    ("xcopa", "multiple_choice", "xcopa_jsonl", ("xcopa/it/test.jsonl",), None),
    ("xquad", "qa", "squad_json", ("xquad/xquad.de.json",), None),
    ("tydiqa", "qa", "squad_json", ("tydiqa/arabic_dev.json",), None),
    ("tatoeba", "retrieval", "tatoeba", ("tatoeba/tatoeba.deu-eng.deu", "tatoeba/tatoeba.deu-eng.eng"), None),
]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [t.text for lang in synthetic.LANGUAGES for t in synthetic.corpus(lang, 150, 0)]
    return train_tokenizer(texts, 400)


def _read(fmt, files, lang):
    options = {"language": lang} if lang else {}
    return readers.read(fmt, *(REAL_DATA / f for f in files), **options)


@pytest.mark.parametrize("task, family, fmt, files, lang", SAMPLES, ids=[s[0] for s in SAMPLES])
def test_every_export_is_read_by_the_official_reader(tmp_path, task, family, fmt, files, lang):
    examples = _read(fmt, files, lang)
    fam = FAMILIES[family]
    gold = fam.references(examples)
    predictions = [g[0] if family == "qa" else g for g in gold]
    ext, text = fam.export(examples, predictions)
    path = tmp_path / task / f"test-xx.{ext}"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    export.check(task, path, len(examples))  # the suffix get_suffix expects, the reader's length check
    items = export.read_official(task, path)
    if task == "xcopa":  # XTREME-R's layout: {"label": i} per line of test-<lang>.jsonl
        assert ext == "jsonl" and items == [e.label for e in examples]
    elif family == "tagging":
        assert [len(s) for s in items] == [len(e.words) for e in examples]
    elif family == "qa":
        assert dict(items) == {e.id: e.answers[0].text for e in examples}


def test_an_export_in_the_wrong_layout_is_refused(tmp_path):
    path = tmp_path / "xcopa" / "test-it.tsv"
    path.parent.mkdir()
    path.write_text("0\n1\n")
    with pytest.raises(ExportError, match="evaluate.py reads xcopa from test-<lang>.jsonl"):
        export.check("xcopa", path, 2)
    path = path.with_suffix(".jsonl")
    path.write_text("0\n1\n")  # bare integers: read_xcopa fails on them
    with pytest.raises(ExportError, match="not in the layout evaluate.py reads"):
        export.check("xcopa", path, 2)


def test_tatoeba_file_matches_xtremes_sorted_gold():
    """With every English sentence finding its own translation, the file is XTREME's gold: the
    original indices of the English sentences in sorted order (utils_preprocess.py)."""
    files = ("tatoeba/tatoeba.deu-eng.deu", "tatoeba/tatoeba.deu-eng.eng")
    examples = _read("tatoeba", files, None)
    _, text = FAMILIES["retrieval"].export(examples, [e.id for e in examples])
    english = (REAL_DATA / files[1]).read_text(encoding="utf-8").splitlines()
    gold = [i for _, i in sorted(zip((s.strip() for s in english), range(len(english))), key=lambda p: p[0])]
    assert text.split() == [str(i) for i in gold] and gold != sorted(gold)


# ---------------------------------------------------------------- QA post-processing


@pytest.mark.parametrize("predicted, orig, expected", [
    ("1995", "(1995).", "1995"),  # narrowed to the predicted text inside the whitespace token
    ("Steve Smith", "Steve Smith's", "Steve Smith"),
    ("ense. Alipokuwa", "likense. Alipokuwa", "likense. Alipokuwa"),  # not found: the whole tokens
    ("北京", "在北京大学", "北京"),  # CJK ideographs are tokens of their own (a sentencepiece
    ("北京。", "在北京。大学", "北京。"),  # prediction is spaced as they are, or an unspaced
    ("中就拿下 5", "场首发中就拿下 5", "中就拿下 5"),  # paragraph would be the answer)
    ("", "word", "word"),
])
def test_final_text_as_get_final_text(predicted, orig, expected):
    assert answers.final_text(predicted, orig) == expected


def test_answer_text_widens_a_span_cut_inside_a_word():
    context = "Mwaka huo ulikuwa mgumu sana. Alipokuwa mtoto, aliishi Mombasa."
    first = context.index("na. Alipokuwa")  # a span starting inside "sana."
    text = answers.answer_text(context, answers.doc_tokens(context), first, first + len("na. Alipokuwa"))
    assert text == "sana. Alipokuwa"


@pytest.mark.parametrize("path", ["xquad/xquad.de.json", "xquad/xquad.zh.json", "tydiqa/russian_dev.json"])
def test_qa_answers_are_whole_tokens_or_found_by_get_final_text(tokenizer, path):
    """Random span scores on real files, through a tokenizer that cuts words into many pieces:
    each answer lies within the whole whitespace tokens of its span, and it is cut inside one only
    where the predicted text appears in the basic tokenization of those tokens (the reference's
    one way to keep a part of a token)."""
    family = FAMILIES["qa"]
    examples = readers.read("squad_json", REAL_DATA / path)
    features = family.features(examples, tokenizer, (), 128, qa_stride=1 / 3)  # XTREME's 128 of 384
    rng = random.Random(0)
    scores = [([rng.gauss(0, 1) for _ in f.input_ids], [rng.gauss(0, 1) for _ in f.input_ids]) for f in features]
    predicted = family.decode(examples, features, scores, (), max_answer_tokens=30)
    assert sum(map(bool, predicted)) > 0.9 * len(examples)  # empty: no valid span among the 20 best
    for e, p in zip(examples, predicted):
        if not p:
            continue
        tokens = [e.context[a:b] for a, b in answers.doc_tokens(e.context)]
        assert p in " ".join(tokens)
        if not any(p == " ".join(tokens[i:j]) for i in range(len(tokens)) for j in range(i + 1, min(i + 40, len(tokens)) + 1)):
            assert any(p in " ".join(answers.basic_tokenize(t)) or p in t for t in tokens) or " " in p


# ---------------------------------------------------------------- UD multiword tokens


@pytest.mark.parametrize("lang, fused, tag", [
    ("fr", "du", "ADP"), ("fr", "au", "ADP"),  # de + le: both on the noun; fr ranks ADP before DET
    ("de", "im", "ADP"), ("de", "zum", "ADP"),  # in + dem: the default list ranks ADP before DET
    ("es", "del", "ADP"), ("es", "utilizarse", "VERB"),  # the verb heads its clitic
])
def test_multiword_tokens_are_fused_forms_with_the_span_heads_tag(lang, fused, tag):
    examples = readers.read("conllu", REAL_DATA / f"udpos/{lang}/test.conllu", language=lang)
    tags = Counter(t for e in examples for w, t in zip(e.words, e.tags) if w == fused)
    assert tags.most_common(1)[0][0] == tag
    raw = (REAL_DATA / f"udpos/{lang}/test.conllu").read_text(encoding="utf-8")
    multiword = len(re.findall(rf"^\d+-\d+\t{fused}\t", raw, flags=re.M))
    plain = len(re.findall(rf"^\d+\t{fused}\t", raw, flags=re.M))  # the same form as a word of its own
    assert multiword and sum(tags.values()) == multiword + plain  # each multiword token is one token


# ---------------------------------------------------------------- realised rate in characters


def _zh_sentences() -> list[str]:
    texts = (REAL_DATA / "tatoeba/tatoeba.cmn-eng.cmn").read_text(encoding="utf-8").splitlines()
    for split in ("test", "val"):
        for line in (REAL_DATA / f"xcopa/zh/{split}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts += [row["premise"], row["choice1"], row["choice2"]]
    texts += ["".join(e.words) for e in readers.read("conllu", REAL_DATA / "udpos/zh/test.conllu")]
    return texts[:1000]


def _script_sentences(lang: str, n: int = 1000) -> list[str]:
    """No Thai or Japanese sample is in ../shared: sentences drawn from the scripts themselves
    (Thai consonants with combining vowels and tones; kana with the Han characters of the
    Chinese sample), with punctuation, spaces between phrases and a Latin name now and then."""
    rng = random.Random(lang)
    han = [c for s in _zh_sentences() for c in s if "\u4e00" <= c <= "\u9fff"]
    def unit() -> str:
        if lang == "th":
            return chr(rng.randint(0x0E01, 0x0E2E)) + rng.choice(["", "", "\u0e34", "\u0e48", "\u0e31\u0e49"])
        return rng.choice([chr(rng.randint(0x3041, 0x3093)), chr(rng.randint(0x30A1, 0x30F3)), rng.choice(han)])
    out = []
    for _ in range(n):
        phrases = ["".join(unit() for _ in range(rng.randint(2, 9))) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.2:
            phrases.insert(1, "Tokyo")
        out.append((" " if lang == "th" else "、").join(phrases) + ("。" if lang == "ja" else ""))
    return out


@pytest.mark.parametrize("lang", ["zh", "ja", "th"])
@pytest.mark.parametrize("kind", ["char", "keyboard"])
@pytest.mark.parametrize("level", [0.1, 0.2, 0.4])
def test_realised_rate_in_unspaced_scripts_is_the_level(lang, kind, level):
    texts = _zh_sentences() if lang == "zh" else _script_sentences(lang)
    assert len(texts) == 1000
    clean = [Classification(str(i), t, None, "entailment") for i, t in enumerate(texts)]
    rate = realised_rate(clean, noisy(clean, "xnli", kind, level, lang, 0), lang, kind)
    assert abs(rate - level) <= 0.03, rate


# ---------------------------------------------------------------- capped test sets


def _fake_run(tmp_path, n: int, cap: int):
    """A run folder with one finished clean evaluation of xnli/de (n items, data.test_size cap)."""
    stage = tmp_path / "run" / "stages" / "k1"
    (stage / "predictions").mkdir(parents=True)
    (stage / "predictions" / "test-de.tsv").write_text("entailment\n" * n)
    (stage / "stage.json").write_text(json.dumps({
        "phase": "eval", "status": "done", "metrics": {"result": {"n": n}},
        "spec": {"task": "xnli", "language": "de", "level": 0, "data": {"sizes": {"test": cap}}},
        "cells": [{"intermediate": "none", "seed": 1}]}))
    return tmp_path / "run"


def test_export_refuses_capped_test_sets_unless_allowed(tmp_path):
    run = _fake_run(tmp_path, 200, 200)
    result = ray_xr("export", str(run), str(tmp_path / "out"))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "capped by data.test_size (xnli/de)" in result.stderr and "--allow-capped" in result.stderr
    allowed = ray_xr("export", str(run), str(tmp_path / "out"), "--allow-capped")
    assert allowed.returncode == 0 and "capped test sets" in allowed.stdout and "xnli/de" in allowed.stdout
    # a test set smaller than its cap was read whole: nothing to refuse
    files, capped = export.collect(_fake_run(tmp_path / "small", 150, 200), tmp_path / "o2", "none", None)
    assert capped == [] and [f.name for f in files] == ["test-de.tsv"]


# ---------------------------------------------------------------- model selection without test items


def _squad_dev_with_xquad(tmp_path):
    """A SQuAD-layout dev file holding the XQuAD English sample's articles (as SQuAD v1.1 dev
    does) and TyDiQA's English articles (standing in for the rest of SQuAD dev)."""
    xquad = json.loads((REAL_DATA / "xquad/xquad.en.json").read_text(encoding="utf-8"))
    other = json.loads((REAL_DATA / "tydiqa/english_dev.json").read_text(encoding="utf-8"))
    (tmp_path / "dev.json").write_text(json.dumps({"version": "1.1", "data": xquad["data"] + other["data"]}))
    return len(readers.read("squad_json", REAL_DATA / "tydiqa/english_dev.json"))


def _local(**entries):
    return {"source": "local", "sizes": {"train": 0, "dev": 0}, "seed": None,
            "local": {task: {"dir": str(d), "files": files} for task, (d, files) in entries.items()}}


def test_squad_and_lareqa_dev_sets_leave_out_the_xquad_paragraphs(tmp_path):
    from ray_xr.tasks.load import load_split

    n_other = _squad_dev_with_xquad(tmp_path)
    dev = {"dev": {"path": "dev.json"}}
    squad = load_split("squad", "dev", "en", _local(squad=(tmp_path, dev), xquad=(REAL_DATA / "xquad", {})))
    xquad_ids = {e.id for e in readers.read("squad_json", REAL_DATA / "xquad/xquad.en.json")}
    assert len(squad) == n_other and not xquad_ids & {e.id for e in squad}
    # LAReQA selects on SQuAD dev as sentences, without XQuAD-R's English paragraphs (its own test pool)
    lareqa = load_split("lareqa", "dev", "en", _local(lareqa=(REAL_DATA / "xquad", {}), squad=(tmp_path, dev)))
    queries = [e for e in lareqa if hasattr(e, "relevant")]
    assert 0 < len(queries) <= n_other and not xquad_ids & {k for q in queries for k in q.relevant}
    assert not {e.context for e in lareqa if hasattr(e, "keys")} & {
        e.context for e in readers.read("squad_json", REAL_DATA / "xquad/xquad.en.json")}
    with pytest.raises(DataError, match="set data.local.xquad so that they can be left out"):
        load_split("squad", "dev", "en", _local(squad=(tmp_path, dev)))


def test_model_selection_last_reads_no_dev_split_and_tydiqa_always_keeps_the_last_epoch():
    from ray_xr import plan
    from ray_xr.plan import config
    from tests.conftest import TINY

    def targets(**training):
        sweep = config.parse({**TINY, "data": {**TINY["data"], "source": "hub"}, "intermediate": ["none"],
                              "targets": ["tydiqa", "xquad"],
                              "languages": {}, "target_training": {**TINY["target_training"], **training}}, "s.yaml")
        return {s.spec["task"]: s.spec for s in plan.build(sweep).stages.values() if s.phase == "target"}

    chosen = targets()
    assert chosen["xquad"]["training"]["model_selection"] == "dev" and "dev" in chosen["xquad"]["data"]["sizes"]
    assert chosen["tydiqa"]["training"]["model_selection"] == "last" and "dev" not in chosen["tydiqa"]["data"]["sizes"]
    assert targets(model_selection="last")["xquad"]["data"]["sizes"].keys() == {"train"}
    with pytest.raises(Exception, match="model_selection"):
        targets(model_selection="best")
