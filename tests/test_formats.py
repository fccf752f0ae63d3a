"""Readers against the real dataset samples, and their errors on malformed input.

Expected counts are computed from the files by simpler means than the readers use, or were
checked by hand with shell commands (noted beside each number).
"""
from __future__ import annotations

import csv
import json
import logging
import re
from collections import Counter
from pathlib import Path

import pytest

from ray_xr.data.examples import Classification, MultipleChoice, RetrievalPair, SpanQA, Tagging
from ray_xr.data.readers import READERS, read
from ray_xr.errors import DataError
from tests.conftest import real_data


@pytest.fixture
def real() -> Path:
    return real_data()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def raises_at(path: Path, line: int, fragment: str, call, *args, **kwargs) -> str:
    """Run call and check it raises a one-line DataError `PATH:LINE: ...` mentioning fragment."""
    with pytest.raises(DataError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: " if line else f"{path}: "), message
    assert "\n" not in message
    assert fragment in message, message
    return message


# ---------------------------------------------------------------- real samples


# (sentences, surface tokens) per file, by `grep -c '^# sent_id'` and `grep -cP '^\d+\t'` less
# (last - first) for each `first-last` multiword range (one fused token stands for its words)
UD_COUNTS = {
    "de/test": (200, 2826), "en/test": (200, 4213), "en/train": (1000, 13919),
    "es/test": (200, 5331), "fr/test": (200, 5131), "ru/test": (200, 3707), "zh/test": (200, 4774),
}


@pytest.mark.parametrize("split", sorted(UD_COUNTS))
def test_conllu_real(real, split):
    path = real / "udpos" / f"{split}.conllu"
    examples = read("conllu", path, language=split.split("/")[0])
    assert all(isinstance(e, Tagging) for e in examples)
    assert (len(examples), sum(len(e.words) for e in examples)) == UD_COUNTS[split]
    outside, ranges, words = Counter(), [], Counter()
    for block in path.read_text("utf-8").split("\n\n"):
        rows = [line.split("\t") for line in block.splitlines() if re.match(r"\d+[\t-]", line)]
        spans = [tuple(map(int, r[0].split("-"))) + (r[1],) for r in rows if "-" in r[0]]
        inside = {n for a, b, _ in spans for n in range(a, b + 1)}
        # forms lose inner spaces ("6 20 30" in fr-GSD), as XTREME's remove_empty_space
        outside.update((r[1].replace(" ", ""), r[3]) for r in rows if r[0].isdigit() and int(r[0]) not in inside)
        words.update(r[1].replace(" ", "") for r in rows if r[0].isdigit())
        ranges += spans
    # words outside multiword tokens are read as they are; each multiword token is its fused form
    assert outside - Counter((w, t) for e in examples for w, t in zip(e.words, e.tags)) == Counter()
    assert sum(len(e.words) for e in examples) == sum(outside.values()) + len(ranges)
    fused = Counter(w for e in examples for w in e.words) - words
    assert set(fused) <= {form for _, _, form in ranges}
    assert len({e.id for e in examples}) == len(examples)


@pytest.mark.parametrize("split,sentences", [
    ("de/test", 300), ("en/dev", 300), ("en/test", 300), ("en/train", 2000), ("fr/test", 300)])
def test_panx_real(real, split, sentences):
    path = real / "wikiann" / split
    examples = read("panx", path)
    lang = split.split("/")[0]
    blocks = [b for b in path.read_text("utf-8").split("\n\n") if b.strip()]
    assert len(examples) == len(blocks) == sentences  # `grep -c '^$'` also gives the number
    rows = [line.split("\t") for block in blocks for line in block.splitlines()]
    assert [w for e in examples for w in e.words] == [r[0].removeprefix(f"{lang}:") for r in rows]
    assert Counter(t for e in examples for t in e.tags) == Counter(r[1] for r in rows)


@pytest.mark.parametrize("lang", ["de", "sw"])
def test_xnli_real(real, lang):
    path = real / "xnli" / lang / "test.tsv"
    examples = read("xnli_tsv", path, language=lang)
    with path.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(examples) == len(rows) == 500
    assert [e.label for e in examples] == [r["gold_label"] for r in rows]
    assert [(e.text_a, e.text_b) for e in examples] == [(r["sentence1"], r["sentence2"]) for r in rows]


def test_xnli_language_filter_without_match_is_an_error(real):
    path = real / "xnli" / "de" / "test.tsv"
    raises_at(path, 0, "language 'sw'", read, "xnli_tsv", path, language="sw")


@pytest.mark.parametrize("name", ["mnli", "snli"])
def test_nli_jsonl_real(real, name):
    path = real / "nli" / f"{name}.jsonl"
    examples = read("nli_jsonl", path)
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    kept = [r for r in rows if r["gold_label"] != "-"]
    assert len(examples) == len(kept) == 1000  # `wc -l`; the samples hold no '-' rows
    assert Counter(e.label for e in examples) == Counter(r["gold_label"] for r in kept)
    assert all(isinstance(e, Classification) for e in examples)


def test_pawsx_real(real):
    path = real / "pawsx" / "de" / "test.tsv"
    examples = read("pawsx_tsv", path)
    rows = [line.split("\t") for line in path.read_text("utf-8").splitlines()[1:]]
    assert len(examples) == 300
    assert Counter(e.label for e in examples) == {"0": 176, "1": 124}  # `cut -f4 | sort | uniq -c`
    assert [e.id for e in examples] == [r[0] for r in rows]


@pytest.mark.parametrize("name,questions", [
    *[(f"xquad/xquad.{lang}.json", 135) for lang in ("de", "en", "es", "ru", "zh")],
    *[(f"tydiqa/{lang}_dev.json", 60) for lang in ("arabic", "english", "finnish", "russian")],
])
def test_squad_json_real(real, name, questions):
    path = real / name
    examples = read("squad_json", path)
    data = json.loads(path.read_text("utf-8"))["data"]
    qas = [qa for article in data for paragraph in article["paragraphs"] for qa in paragraph["qas"]]
    assert len(examples) == len(qas) == questions  # PROVENANCE.md states the question counts
    assert [e.id for e in examples] == [qa["id"] for qa in qas]
    for example in examples:
        assert isinstance(example, SpanQA) and example.answers
        for answer in example.answers:
            assert example.context[answer.start:answer.start + len(answer.text)] == answer.text


@pytest.mark.parametrize("pair", ["cmn-eng", "deu-eng", "fra-eng", "rus-eng", "spa-eng"])
def test_tatoeba_real(real, pair):
    source = pair.split("-")[0]
    query_path = real / "tatoeba" / f"tatoeba.{pair}.{source}"
    target_path = real / "tatoeba" / f"tatoeba.{pair}.eng"
    examples = read("tatoeba", query_path, target_path)
    assert len(examples) == 200  # `wc -l` on both files
    assert all(isinstance(e, RetrievalPair) for e in examples)
    assert [e.query for e in examples] == query_path.read_text("utf-8").splitlines()
    assert [e.target for e in examples] == target_path.read_text("utf-8").splitlines()


def test_tatoeba_refuses_swapped_sides(real):
    query_path = real / "tatoeba" / "tatoeba.deu-eng.eng"
    raises_at(query_path, 0, "English", read, "tatoeba", query_path, real / "tatoeba" / "tatoeba.deu-eng.deu")


XCOPA_SPLITS = [f"{lang}/{split}" for lang in ("id", "it", "tr", "vi", "zh") for split in ("test", "val")]


@pytest.mark.parametrize("name", XCOPA_SPLITS)
def test_xcopa_real(real, name):
    path = real / "xcopa" / f"{name}.jsonl"
    examples = read("xcopa_jsonl", path)
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(examples) == len(rows) == 100
    assert all(isinstance(e, MultipleChoice) for e in examples)
    assert [(e.id, e.label, e.question) for e in examples] == [(str(r["idx"]), r["label"], r["question"]) for r in rows]
    assert [e.choices for e in examples] == [(r["choice1"], r["choice2"]) for r in rows]


# ---------------------------------------------------------------- malformed and edge-case input


CONLLU_OK = "# sent_id = s1\n1-2\tdu\t_\t_\t_\t_\t_\t_\t_\t_\n1\tde\tde\tADP\t_\t_\t0\troot\t_\t_\n" \
            "2\tle\tle\tDET\t_\t_\t1\tdet\t_\t_\n2.1\tx\tx\tNOUN\t_\t_\t_\t_\t1:dep\t_\n"


def test_conllu_keeps_words_only(tmp_path):
    path = write(tmp_path, "ok.conllu", CONLLU_OK + "\n" + CONLLU_OK.replace("s1", "s2"))
    examples = read("conllu", path)
    # the fused form "du" on its span head's tag (de: the root), as XTREME's UD-POS files
    assert [(e.id, e.words, e.tags) for e in examples] == [("s1", ("du",), ("ADP",)), ("s2", ("du",), ("ADP",))]


def test_conllu_wrong_column_count(tmp_path):
    path = write(tmp_path, "bad.conllu", CONLLU_OK + "3\tcheval\tNOUN\n")
    raises_at(path, 6, "3 tab-separated columns, expected 10", read, "conllu", path)


def test_conllu_out_of_order_id(tmp_path):
    path = write(tmp_path, "bad.conllu", CONLLU_OK + "4\tx\tx\tNOUN\t_\t_\t1\tdep\t_\t_\n")
    raises_at(path, 6, "word ID '4', expected 3", read, "conllu", path)


def test_conllu_unknown_label(tmp_path):
    path = write(tmp_path, "ok.conllu", CONLLU_OK)
    raises_at(path, 4, "unknown UPOS tag 'DET'", read, "conllu", path, labels={"ADP", "NOUN"})


def test_panx_without_prefix_and_with_colon_tokens(tmp_path):
    path = write(tmp_path, "test", "re:\tO\nBerlin\tB-LOC\n\nhttp://x\tO\n")
    examples = read("panx", path)
    assert [e.words for e in examples] == [("re:", "Berlin"), ("http://x",)]


def test_panx_errors(tmp_path):
    mixed = write(tmp_path, "mixed", "en:Paris\tB-LOC\nLondon\tB-LOC\n")
    raises_at(mixed, 2, "lacks the 'en:' prefix", read, "panx", mixed)
    not_bio = write(tmp_path, "notbio", "en:Paris\tLOC\n")
    raises_at(not_bio, 1, "expected a BIO tag", read, "panx", not_bio)
    columns = write(tmp_path, "columns", "en:Paris\tB-LOC\n\nen:Rome B-LOC\n")
    raises_at(columns, 3, "1 tab-separated columns, expected 2", read, "panx", columns)
    unknown = write(tmp_path, "unknown", "en:Paris\tB-LOC\nen:Inc\tI-ORG\n")
    raises_at(unknown, 2, "unknown tag 'I-ORG'", read, "panx", unknown, labels={"O", "B-LOC", "I-LOC"})


XNLI_HEADER = "language\tgold_label\tsentence1_binary_parse\tsentence1\tsentence2\n"


def test_xnli_selects_columns_by_header(tmp_path):
    rows = 'de\tneutral\t( a )\tEr sagte "ja".\tB\nfr\tentailment\t( b )\tC\tD\n'
    path = write(tmp_path, "x.tsv", XNLI_HEADER + rows)
    assert read("xnli_tsv", path) == [
        Classification("x.tsv:2", 'Er sagte "ja".', "B", "neutral"),
        Classification("x.tsv:3", "C", "D", "entailment")]
    assert [e.text_a for e in read("xnli_tsv", path, language="fr")] == ["C"]


def test_xnli_errors(tmp_path):
    no_column = write(tmp_path, "a.tsv", "language\tgold_label\tsentence1\nde\tneutral\tA\n")
    raises_at(no_column, 1, "lacks column(s) ['sentence2']", read, "xnli_tsv", no_column)
    short_row = write(tmp_path, "b.tsv", XNLI_HEADER + "de\tneutral\t( a )\tA\tB\nde\tneutral\tA\tB\n")
    raises_at(short_row, 3, "4 tab-separated fields, expected 5", read, "xnli_tsv", short_row)
    bad_label = write(tmp_path, "c.tsv", XNLI_HEADER + "de\tcontradictory\t( a )\tA\tB\n")
    raises_at(bad_label, 2, "unknown label 'contradictory'", read, "xnli_tsv", bad_label)
    empty_text = write(tmp_path, "d.tsv", XNLI_HEADER + "de\tneutral\t( a )\t \tB\n")
    raises_at(empty_text, 2, "'sentence1' is empty", read, "xnli_tsv", empty_text)


def test_nli_jsonl_skips_no_consensus_rows_and_says_so(tmp_path, caplog):
    rows = [("neutral", "a"), ("-", "b"), ("entailment", "c"), ("-", "d")]
    path = write(tmp_path, "m.jsonl", "".join(
        json.dumps({"gold_label": g, "sentence1": s, "sentence2": "x"}) + "\n" for g, s in rows))
    with caplog.at_level(logging.WARNING, logger="ray_xr.data.formats"):
        examples = read("nli_jsonl", path)
    assert [(e.id, e.text_a) for e in examples] == [("m.jsonl:1", "a"), ("m.jsonl:3", "c")]
    assert "skipped 2 rows with gold_label '-'" in caplog.text


def test_nli_jsonl_errors(tmp_path):
    good = '{"gold_label": "neutral", "sentence1": "a", "sentence2": "b"}\n'
    broken = write(tmp_path, "a.jsonl", good + '{"gold_label": \n')
    raises_at(broken, 2, "invalid JSON", read, "nli_jsonl", broken)
    missing = write(tmp_path, "b.jsonl", '{"gold_label": "neutral", "sentence1": "a"}\n')
    raises_at(missing, 1, "missing field 'sentence2'", read, "nli_jsonl", missing)
    only_dash = write(tmp_path, "c.jsonl", '{"gold_label": "-", "sentence1": "a", "sentence2": "b"}\n')
    raises_at(only_dash, 0, "no examples", read, "nli_jsonl", only_dash)


def test_pawsx_unknown_label(tmp_path):
    path = write(tmp_path, "p.tsv", "id\tsentence1\tsentence2\tlabel\n1\tA\tB\t1\n2\tA\tC\t2\n")
    raises_at(path, 3, "unknown label '2', expected one of ['0', '1']", read, "pawsx_tsv", path)


def squad_document(answer_start: int) -> str:
    qa = {"id": "q-7", "question": "Where?", "answers": [{"text": "Paris", "answer_start": answer_start}]}
    return json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": [
        {"context": "It is in Paris.", "qas": [qa]}]}]}, indent=1)


def test_squad_answer_span_must_match_context(tmp_path):
    assert read("squad_json", write(tmp_path, "ok.json", squad_document(9)))[0].answers[0].start == 9
    path = write(tmp_path, "bad.json", squad_document(8))
    id_line = next(n for n, line in enumerate(squad_document(8).splitlines(), 1) if '"id": "q-7"' in line)
    assert id_line > 1
    message = raises_at(path, id_line, "answer 'Paris' at 8 does not match", read, "squad_json", path)
    assert "question q-7" in message and "found ' Pari'" in message


def test_squad_errors(tmp_path):
    syntax = write(tmp_path, "a.json", '{"data": [\n  {"paragraphs": [}\n]}')
    raises_at(syntax, 2, "invalid JSON", read, "squad_json", syntax)
    layout = write(tmp_path, "b.json", '{"data": [{"paragraphs": [{"qas": []}]}]}')
    raises_at(layout, 1, "data[0].paragraphs[0]: no str 'context'", read, "squad_json", layout)
    with pytest.raises(ValueError, match="no labels"):
        read("squad_json", layout, labels={"x"})


def test_tatoeba_errors(tmp_path):
    deu = write(tmp_path, "t.deu-eng.deu", "Hallo.\nDanke.\nTschüss.\n")
    eng = write(tmp_path, "t.deu-eng.eng", "Hello.\nThanks.\n")
    raises_at(deu, 3, "no counterpart line in", read, "tatoeba", deu, eng)
    gap = write(tmp_path, "g.deu-eng.eng", "Hello.\n\nBye.\n")
    raises_at(gap, 2, "empty sentence", read, "tatoeba", deu, gap)
    missing = tmp_path / "absent.deu"
    assert raises_at(missing, 0, "", read, "tatoeba", missing, eng) == f"{missing}: no such file"
    other = write(tmp_path, "t.fra-eng.eng", "Hello.\nThanks.\nBye.\n")  # as many lines as deu: names tell
    assert raises_at(other, 0, "", read, "tatoeba", deu, other) == (
        f"{other}: the English side of the pair fra-eng, expected that of deu-eng (the pair of {deu.name})")


def test_xcopa_errors(tmp_path):
    row = {"premise": "P", "choice1": "A", "choice2": "B", "question": "cause", "label": 1, "idx": 3}
    label = write(tmp_path, "a.jsonl", json.dumps(row) + "\n" + json.dumps({**row, "label": 2}) + "\n")
    raises_at(label, 2, "label 2 names no choice", read, "xcopa_jsonl", label)
    question = write(tmp_path, "b.jsonl", json.dumps({**row, "question": "why"}) + "\n")
    raises_at(question, 1, "unknown question 'why'", read, "xcopa_jsonl", question)
    boolean = write(tmp_path, "c.jsonl", json.dumps({**row, "label": True}) + "\n")
    raises_at(boolean, 1, "field 'label' is bool, expected int", read, "xcopa_jsonl", boolean)


def test_registry():
    assert issubclass(DataError, ValueError)
    assert set(READERS) == {
        "conllu", "panx", "xnli_tsv", "nli_jsonl", "pawsx_tsv", "squad_json", "tatoeba", "xcopa_jsonl",
        "squad_sentences", "mewslix"}
    with pytest.raises(ValueError, match="unknown format 'csv'"):
        read("csv", "x")
