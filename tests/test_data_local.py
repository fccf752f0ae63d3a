"""The local data source on the real samples in ../shared/data/real: config, the task layouts,
`ray-xr data show` and `ray-xr data check`. Expected counts are recomputed from the raw files."""
from __future__ import annotations

import csv
import json
from collections import Counter

import pytest
import yaml

from ray_xr.cli import data as datatools
from ray_xr.plan import config, graph
from ray_xr.tasks.load import load_split
from ray_xr.errors import DataError
from tests.conftest import REAL_DATA, REPO, TINY, needs_real_data, ray_xr, shipped_sweep

pytestmark = needs_real_data


def raw_conllu_tags(path) -> tuple[int, Counter]:
    sentences, tags = 0, Counter()
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        rows = [line.split("\t") for line in block.splitlines() if line and not line.startswith("#")]
        words = [r for r in rows if r[0].isdigit()]  # multiword ranges and empty nodes are not words
        sentences += bool(words)
        tags.update(r[3] for r in words)
    return sentences, tags


def raw_panx_tags(path) -> tuple[int, Counter]:
    blocks = [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]
    return len(blocks), Counter(line.split("\t")[1] for b in blocks for line in b.splitlines())


def raw_tsv_labels(path, column) -> Counter:
    with path.open(encoding="utf-8", newline="") as f:
        return Counter(row[column] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def show_json(task, *files, lang=None):
    return json.loads(datatools.show(task, [str(f) for f in files], lang, as_json=True))


def test_show_tagging_counts_tokens_tags():
    # ru and zh have no multiword tokens, so every word line is one token (test_conllu.py fuses)
    for task, path, raw in (("udpos", REAL_DATA / "udpos/ru/test.conllu", raw_conllu_tags),
                            ("udpos", REAL_DATA / "udpos/zh/test.conllu", raw_conllu_tags),
                            ("panx", REAL_DATA / "wikiann/fr/test", raw_panx_tags)):
        n, tags = raw(path)
        assert show_json(task, path) == {"examples": n, "labels": dict(tags)}


def test_show_classification_and_choice_labels():
    assert show_json("xnli", REAL_DATA / "xnli/sw/test.tsv", lang="sw") == {
        "examples": 500, "labels": dict(raw_tsv_labels(REAL_DATA / "xnli/sw/test.tsv", "gold_label"))}
    assert show_json("pawsx", REAL_DATA / "pawsx/de/test.tsv") == {
        "examples": 300, "labels": dict(raw_tsv_labels(REAL_DATA / "pawsx/de/test.tsv", "label"))}
    rows = [json.loads(line) for line in (REAL_DATA / "xcopa/tr/val.jsonl").read_text().splitlines()]
    assert show_json("xcopa", REAL_DATA / "xcopa/tr/val.jsonl") == {
        "examples": len(rows), "labels": {str(k): v for k, v in Counter(r["label"] for r in rows).items()}}
    mnli = [json.loads(line)["gold_label"] for line in (REAL_DATA / "nli/mnli.jsonl").read_text().splitlines()]
    assert show_json("mnli", REAL_DATA / "nli/mnli.jsonl")["examples"] == sum(label != "-" for label in mnli)


def test_show_qa_and_retrieval_have_no_labels():
    doc = json.loads((REAL_DATA / "xquad/xquad.zh.json").read_text())
    questions = sum(len(p["qas"]) for a in doc["data"] for p in a["paragraphs"])
    assert show_json("xquad", REAL_DATA / "xquad/xquad.zh.json") == {"examples": questions, "labels": {}}
    assert show_json("tydiqa", REAL_DATA / "tydiqa/finnish_dev.json") == {"examples": 60, "labels": {}}
    side = REAL_DATA / "tatoeba/tatoeba.rus-eng"
    n = len((REAL_DATA / "tatoeba/tatoeba.rus-eng.rus").read_text().splitlines())
    assert show_json("tatoeba", f"{side}.rus", f"{side}.eng") == {"examples": n, "labels": {}}


def test_cli_show_prints_examples_and_json():
    text = ray_xr("data", "show", "panx", str(REAL_DATA / "wikiann/de/test"))
    assert text.returncode == 0 and text.stdout.startswith("panx: 300 examples (panx)")
    assert "labels: O " in text.stdout and "Tagging(" not in text.stdout
    header, first = text.stdout.split("\n\n", 1)[1].splitlines()[:2]
    assert header.split() == ["id", "words/tags"] and "/O" in first  # a table, not Python reprs
    bad = ray_xr("data", "show", "tatoeba", str(REAL_DATA / "tatoeba/tatoeba.deu-eng.deu"))
    assert bad.returncode == 2 and "groups of 2" in bad.stderr and "Traceback" not in bad.stderr


def test_malformed_file_names_file_and_line(tmp_path):
    lines = (REAL_DATA / "udpos/en/test.conllu").read_text().splitlines()
    first_word = next(i for i, line in enumerate(lines) if line[:1].isdigit())
    lines[first_word] = lines[first_word].rsplit("\t", 1)[0]  # 9 columns
    bad = tmp_path / "test.conllu"
    bad.write_text("\n".join(lines) + "\n")
    result = ray_xr("data", "show", "udpos", str(bad), "--json")
    assert result.returncode == 2 and result.stdout == ""
    assert f"{bad}:{first_word + 1}: 9 tab-separated columns, expected 10" in result.stderr
    assert result.stderr.count("\n") == 1
    unknown = tmp_path / "train"
    unknown.write_text("en:Paris\tB-CITY\n")
    with pytest.raises(Exception, match=r"train:1: unknown tag 'B-CITY'"):
        datatools.show("panx", [str(unknown)], None, True)


def local_sweep(**local):
    return config.parse({**TINY, "data": {"source": "local", "local": local}, "intermediate": ["none"],
                         "targets": ["udpos"], "languages": {"udpos": ["en", "ru"]}}, "s.yaml")


def test_local_layout_reads_the_published_layout():
    sweep = local_sweep(udpos={"dir": str(REAL_DATA / "udpos"), "files": {"dev": "en/test.conllu"}})
    data = graph._data_spec(sweep, ("train", "dev", "test"), "udpos")
    assert data["local"]["udpos"]["dir"] == str((REAL_DATA / "udpos").resolve())
    capped = {**data, "sizes": {"train": 0, "dev": 0, "test": 7}}
    assert len(load_split("udpos", "train", "en", capped)) == raw_conllu_tags(REAL_DATA / "udpos/en/train.conllu")[0]
    assert len(load_split("udpos", "test", "ru", capped)) == 7
    with pytest.raises(DataError, match=r"task udpos: no test file for language 'fi' under .*fi/test.conllu"):
        load_split("udpos", "test", "fi", capped)


@pytest.mark.parametrize("local, fragment", [
    ({"udpos": {"dir": str(REAL_DATA), "files": {"valid": "x"}}}, "data.local.udpos.files: unknown split 'valid'"),
    ({"udpos": {"dir": str(REAL_DATA), "files": {"dev": {"path": "x", "format": "csv"}}}},
     "format: unknown format 'csv'"),
    ({"panx": str(REAL_DATA / "wikiann")}, "data.local: no directory for task 'udpos'"),
])
def test_local_config_mistakes(local, fragment):
    with pytest.raises(config.SweepError, match=fragment):
        local_sweep(**local)


def test_missing_directory_plans_but_does_not_check_or_run(tmp_path):
    """A directory may live on cluster storage the planning machine lacks: `plan` works, while
    `data check` and `run` stop at once with one line naming the field."""
    sweep = {**TINY, "data": {"source": "hub", "local": {"mewslix": "/nonexistent/mewslix"}},
             "intermediate": ["none"], "targets": ["mewslix"], "languages": {"mewslix": ["de"]}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sweep))
    assert ray_xr("plan", str(path)).returncode == 0
    for command in (("data", "check"), ("run", "--storage", str(tmp_path / "runs"))):
        result = ray_xr(*command, str(path))
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip().endswith("data.local.mewslix.dir: no such directory /nonexistent/mewslix")
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()


def test_local_entry_overrides_the_hub_source_per_task():
    sweep = config.parse({**TINY, "data": {"source": "hub", "local": {"lareqa": str(REAL_DATA / "xquad"),
                                                                      "squad": str(REAL_DATA / "xquad")}},
                          "intermediate": ["none"], "targets": ["lareqa", "xnli"], "languages": {}}, "s.yaml")
    assert graph._data_spec(sweep, ("test",), "xnli")["source"] == "hub"
    spec = graph._data_spec(sweep, ("test",), "lareqa")
    assert spec["source"] == "local" and set(spec["local"]) == {"lareqa", "squad"}


def test_borrowed_training_source_needs_its_directory():
    with pytest.raises(config.SweepError, match="no directory for task 'mnli' .task 'xnli' reads its English"):
        config.parse({**TINY, "data": {"source": "local", "local": {"xnli": str(REAL_DATA / "xnli")}},
                      "intermediate": ["none"], "targets": ["xnli"], "languages": {"xnli": ["de"]}}, "s.yaml")


def test_data_check_real_sample_sweep_and_a_missing_language(tmp_path):
    good = ray_xr("data", "check", "sweeps/real_sample.yaml")
    assert good.returncode == 0, good.stderr
    rows = {tuple(line.split()[:3]): line.split()[3] for line in good.stdout.splitlines()[1:]}
    assert rows[("udpos", "test", "zh")] == "200" and rows[("xnli", "train", "en")] == "1000"
    # its target models keep their last epoch (model_selection: last): no target reads a dev split
    assert ("panx", "dev", "en") not in rows and rows[("mnli", "dev", "en")] == "300"
    sweep = shipped_sweep("real_sample")
    sweep["languages"]["panx"] = ["en", "es"]  # the sample has no Spanish WikiANN
    path = tmp_path / "missing.yaml"
    path.write_text(yaml.safe_dump(sweep))
    bad = ray_xr("data", "check", str(path))
    assert bad.returncode == 2
    assert ["panx", "test", "es", "ERROR"] in [line.split() for line in bad.stdout.splitlines()]
    assert "1 split(s) missing or malformed; first: panx test es: task panx: no test file for language 'es'" in bad.stderr


def test_data_show_unknown_task_is_one_line():
    result = ray_xr("data", "show", "nope", "x.conllu")
    assert result.returncode == 2 and "unknown task 'nope'" in result.stderr
    assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1


def test_every_path_of_a_sweep_is_relative_to_the_sweep_file(tmp_path):
    """data.local directories and noise files alike: the same sweep checks from any working
    directory (here a folder with none of the data beside it)."""
    for name in ("real_sample", "real_noise"):
        result = ray_xr("data", "check", str(REPO / "sweeps" / f"{name}.yaml"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr
    sweep = config.load(REPO / "sweeps/real_noise.yaml")
    assert sweep.data.local["panx"].dir == str((REAL_DATA / "wikiann").resolve())
    assert sweep.noise.profiles["fr"] == str(REPO / "sweeps/noise/profile.real.fr.json")


@pytest.mark.parametrize("lang_files, message", [
    (("xnli", "xnli/sw/test.tsv"), "{0}: no examples of language 'fr', expected one of the languages present: sw"),
    (("lareqa", "xquad/xquad.de.json", "xquad/xquad.zh.json"),
     "task lareqa (2 file(s)): no questions of language 'fr', expected one of the languages present: de, zh"),
])
def test_data_show_of_a_language_the_files_lack_lists_theirs(lang_files, message):
    task, *files = lang_files
    result = ray_xr("data", "show", task, *(str(REAL_DATA / f) for f in files), "--lang", "fr")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"ray-xr: error: {message.format(REAL_DATA / files[0])}\n"
