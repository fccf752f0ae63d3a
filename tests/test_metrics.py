"""Metrics against values computed by hand (the working is in the comments)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ray_xr.metrics import METRICS, TASK_FAMILIES, xtreme_r_score

accuracy = METRICS["accuracy"].compute
seqeval_f1 = METRICS["seqeval_f1"].compute
squad = METRICS["squad"].compute
mlqa = METRICS["mlqa"].compute
map20 = METRICS["map@20"].compute


def test_registry_main_keys_are_computed():
    cases = {
        "accuracy": ((["a"], ["a"]), {}),
        "seqeval_f1": (([["B-PER"]], [["B-PER"]]), {}),
        "squad": ((["x"], [["x"]]), {}),
        "mlqa": ((["x"], [["x"]]), {"lang": "en"}),
        "map@20": (([["x"]], [{"x"}]), {}),
    }
    assert set(METRICS) == set(cases)
    for name, (args, kwargs) in cases.items():
        metric = METRICS[name]
        assert metric.name == name
        assert metric.compute(*args, **kwargs)[metric.main] == pytest.approx(100.0)


def test_accuracy():
    assert accuracy(["a", "b", "c", "d"], ["a", "b", "x", "d"]) == {"accuracy": 75.0}
    assert accuracy([0, 1], [1, 0]) == {"accuracy": 0.0}
    with pytest.raises(ValueError, match="3 predictions but 2 references"):
        accuracy(["a", "b", "c"], ["a", "b"])
    with pytest.raises(ValueError, match="no references"):
        accuracy([], [])


# ---------------------------------------------------------------- seqeval


def scores(predictions, references):
    result = seqeval_f1(predictions, references)
    return pytest.approx((result["precision"], result["recall"], result["f1"]))


def test_seqeval_bio_chunks():
    # I- without B- opens a chunk: gold PER(0,1) == predicted PER(0,1)
    assert scores([["I-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]]) == (100, 100, 100)
    # a type change inside a chunk splits it: predicted PER(0,0) LOC(1,1) LOC(3,3) against gold
    # PER(0,1) LOC(3,3): 1 of 3 predicted right, 1 of 2 gold found, F1 = 2*(1/3)(1/2)/(5/6) = 0.4
    assert scores([["B-PER", "I-LOC", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]) == (100 / 3, 50, 40)
    # chunks do not run across sentences: two PER chunks, both found
    assert scores([["B-PER"], ["I-PER"]], [["B-PER"], ["B-PER"]]) == (100, 100, 100)


def test_seqeval_accepts_tuples():
    # seqeval itself treats only lists as sentences; Tagging.tags are tuples
    assert scores((("B-PER", "I-PER"),), (("B-PER", "I-PER"),)) == (100, 100, 100)


def test_seqeval_pos_tags_as_xtreme_scores_them():
    # equal neighbours merge: gold NOUN(0,1) VERB(2,2); predicted NOUN(0,0) PRON(1,1) VERB(2,2)
    # -> 1 of 3 predicted, 1 of 2 gold: P 1/3, R 1/2, F1 0.4 (token accuracy would be 2/3)
    assert scores([["NOUN", "PRON", "VERB"]], [["NOUN", "NOUN", "VERB"]]) == (100 / 3, 50, 40)
    # S-initial tags (SCONJ) stay single-token chunks: 3 gold, 3 predicted, 2 shared
    assert scores([["SCONJ", "PRON", "NOUN"]], [["SCONJ", "SCONJ", "NOUN"]]) == (200 / 3, 200 / 3, 200 / 3)
    # seqeval 1.2.2 reads both CCONJ and SCONJ as type "CONJ", so this confusion is not penalised
    assert scores([["CCONJ"]], [["SCONJ"]]) == (100, 100, 100)


def test_seqeval_length_mismatch():
    with pytest.raises(ValueError, match="sequence 1: 1 predicted tags but 2 gold tags"):
        seqeval_f1([["O"], ["O"]], [["O"], ["O", "O"]])


# ---------------------------------------------------------------- SQuAD / MLQA


@pytest.mark.parametrize("prediction,gold,exact", [
    ("the Eiffel Tower", "Eiffel Tower", 100),   # article dropped
    ("An apple", "apple", 100),
    ("theater", "ater", 0),                       # only whole-word articles go
    ("Paris!", "paris", 100),                     # ASCII punctuation and case
    ("  New \t York ", "new york", 100),          # whitespace squeezed
    ("«Paris»", "paris", 0),                      # SQuAD keeps non-ASCII punctuation
    ("la casa", "casa", 0),                       # SQuAD knows only English articles
])
def test_squad_normalisation(prediction, gold, exact):
    assert squad([prediction], [[gold]])["exact_match"] == exact


def test_squad_f1_max_over_golds_and_mean_over_questions():
    # q1: best gold "the blue whale" -> "blue whale": EM 1, F1 1
    # q2: "big red dog" vs "red dog barked": 2 common, P = R = 2/3, F1 2/3; EM 0
    result = squad(["blue whale", "the big red dog"], [["whale", "the blue whale"], ["red dog barked"]])
    assert result == pytest.approx({"exact_match": 50.0, "f1": (100 + 200 / 3) / 2})
    with pytest.raises(ValueError, match="non-empty collection"):
        squad(["x"], ["x"])  # a bare string is not a list of gold answers


@pytest.mark.parametrize("lang,prediction,gold,exact,f1", [
    ("en", "«Paris»", "paris", 100, 100),          # unicode punctuation removed
    ("es", "La casa", "casa", 100, 100),
    ("es", "unas casas", "casas", 100, 100),
    ("de", "Der Hund", "hund", 100, 100),
    ("de", "Dieser Hund", "hund", 0, 200 / 3),      # 'dieser' is no article: P 1/2, R 1
    ("vi", "của tôi", "tôi", 100, 100),
    ("ar", "الكتاب", "كتاب", 100, 100),
    ("ar", "مالك", "م ك", 100, 100),               # official quirk: every ال goes, mid-word too
    ("zh", "北京市", "北京", 0, 80),                # per character: P 2/3, R 1
    ("zh", "2008年", "2008", 0, 200 / 3),           # mixed: "2008" "年" vs "2008"
    ("hi", "the किताब", "किताब", 0, 200 / 3),      # Hindi removes no articles
])
def test_mlqa_normalisation(lang, prediction, gold, exact, f1):
    assert mlqa([prediction], [[gold]], lang=lang) == pytest.approx({"exact_match": exact, "f1": f1})


def test_mlqa_needs_a_known_language():
    with pytest.raises(ValueError, match="no normalisation for language 'fr'"):
        mlqa(["x"], [["x"]], lang="fr")
    with pytest.raises(TypeError):
        mlqa(["x"], [["x"]])


# ---------------------------------------------------------------- mAP@20


def test_map_at_20_by_hand():
    # q1: relevant a, b, c at ranks 1, 3, 5 -> (1/1 + 2/3 + 3/5) / 3 = 0.75556
    # q2: one relevant at rank 3 -> 1/3 (Mewsli-X: single gold, i.e. reciprocal rank)
    expected = 100 * ((1 + 2 / 3 + 3 / 5) / 3 + 1 / 3) / 2
    result = map20([["a", "x", "b", "y", "c"], ["x", "y", "z"]], [{"a", "b", "c"}, {"z"}])
    assert result == pytest.approx({"map@20": expected})


def test_map_at_20_cutoff_duplicates_and_divisor():
    beyond = [f"n{i}" for i in range(20)] + ["hit"]
    assert map20([beyond], [{"hit"}])["map@20"] == 0.0            # rank 21 is not counted
    assert map20([["a", "a", "b"]], [{"a", "b"}])["map@20"] == pytest.approx(100 * (1 + 2 / 3) / 2)
    many = {f"r{i}" for i in range(25)}
    assert map20([sorted(many)], [many])["map@20"] == pytest.approx(100)  # divisor min(25, 20)
    assert map20([[]], [{"a"}])["map@20"] == 0.0
    with pytest.raises(ValueError, match="non-empty collection"):
        map20([["a"]], [set()])


# ---------------------------------------------------------------- XTREME-R score


ALL_TASKS = {
    "xnli": 80, "xcopa": 60,                       # classification 70
    "udpos": 90, "panx": 70,                       # structured prediction 80
    "xquad": 70, "mlqa": 60, "tydiqa": 50,         # QA 60
    "tatoeba": 90, "mewslix": 40, "lareqa": 20,    # retrieval 50
}


def test_xtreme_r_score_averages_families_not_tasks():
    assert sorted(t for tasks in TASK_FAMILIES.values() for t in tasks) == sorted(ALL_TASKS)
    # (70 + 80 + 60 + 50) / 4 = 65; a flat mean over the ten tasks would be 63
    assert xtreme_r_score(ALL_TASKS) == pytest.approx(65.0)


def test_xtreme_r_score_missing_unknown_and_partial():
    subset = {"xnli": 80, "udpos": 60, "panx": 40}
    with pytest.raises(ValueError, match="missing XTREME-R task"):
        xtreme_r_score(subset)
    assert xtreme_r_score(subset, partial=True) == pytest.approx((80 + 50) / 2)
    with pytest.raises(ValueError, match=r"unknown XTREME-R task\(s\) \['wikiann'\]"):
        xtreme_r_score({**ALL_TASKS, "wikiann": 1.0})


def test_metrics_module_imports_neither_torch_nor_ray():
    code = "import sys, ray_xr.metrics; print(sorted({'torch', 'ray'} & set(sys.modules)))"
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
