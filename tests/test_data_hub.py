"""The hub source: offline, every (task, split, language) of a shipped hub sweep resolves to a
source the table has, in a form datasets 5.2 loads (`ray-xr data check`); online, against a hub
on loopback (tests/hubserver.py, repositories laid out as the real ones in tests/hubrepos.py),
`datasets.load_dataset`, huggingface_hub and `DownloadManager` run unmodified in a fresh process
pointed at it by HF_ENDPOINT (tests/hubclient.py), with HF_HOME in a temporary folder."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from ray_xr import plan
from ray_xr.cli import data as datatools
from ray_xr.plan import config
from ray_xr.data.retrieval import read_tatoeba
from ray_xr.tasks import TASKS, hub, local
from ray_xr.tasks.hub import MIRROR
from ray_xr.tasks.load import hub_refs
from ray_xr.tasks.specs import UDPOS_V27
from tests import hubrepos
from tests.conftest import REAL_DATA, REPO, needs_real_data, ray_xr, real_data
from tests.hubserver import Hub
from tests.test_ranking import context, entity, mention

OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
ALL = {"train": 0, "dev": 0, "test": 0}  # whole splits


def rows_of(stdout: str, column: int = 4) -> dict[tuple[str, str, str], str]:
    """(task, split, language) -> a column of `data check`'s table (default: the source; 5: who
    pins it). The table ends at the first empty line; what pins the sources follows it."""
    out = {}
    for line in stdout.split("\n\n")[0].splitlines()[1:]:
        cells = (re.split(r"\s{2,}", line) + ["", ""])[:6]  # columns 2+ spaces apart
        out[tuple(cells[:3])] = cells[column]
    return out


def write_mewslix_languages(folder, languages):
    """A Mewsli-X folder with one WikiNews mention per language (the layout of get-mewsli-x.sh)."""
    folder.mkdir(parents=True)
    text = "Der Senat tagte in Berlin."
    news = [{"context": context(text, lang, [(0, len(text))]), "mentions": [mention(f"{lang}-1", text, "Berlin", "Q2")]}
            for lang in languages]
    pair = {"contextual_mention": {"context": context(text, "en", [(0, len(text))]),
                                   "mention": mention("p-1", text, "Berlin", "Q2")},
            "entity": entity("Q2", "Berlin is a city.")}
    files = {"wikinews_mentions-test.jsonl": news, "candidate_set_entities.jsonl": [entity("Q2", "Berlin is a city.")],
             "wikipedia_pairs-train.jsonl": [pair], "wikipedia_pairs-dev.jsonl": [pair]}
    for name, rows in files.items():
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


def phang2020(tmp_path) -> Path:
    """sweeps/phang2020.yaml with Mewsli-X (which the hub lacks) from a local folder."""
    sweep = yaml.safe_load((REPO / "sweeps" / "phang2020.yaml").read_text())
    sweep["data"]["local"]["mewslix"] = str(write_mewslix_languages(tmp_path / "mewslix", TASKS["mewslix"].languages))
    path = tmp_path / "phang2020.yaml"
    path.write_text(yaml.safe_dump(sweep))
    return path


# -- offline: what the shipped sweeps read -----------------------------------------------------

@pytest.mark.parametrize("name", ["nli_vs_ner", "phang2020"])
def test_shipped_hub_sweeps_read_no_script_repo_and_ud_as_xtreme_r(name, tmp_path):
    """`data check --json`: no reference reads a script-only main branch or google/xtreme's udpos
    configs; every UD-POS language reads the UD release XTREME-R's download script reads."""
    path = REPO / "sweeps" / f"{name}.yaml" if name == "nli_vs_ner" else phang2020(tmp_path)
    result = ray_xr("data", "check", str(path), "--json", env=OFFLINE)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["problems"] == []
    needed = {(t, s, lang) for t, s, lang, spec in datatools.needed_splits(plan.build(config.load(path)))
              if spec["source"] == "hub"}
    refs = doc["references"]
    assert {(r["task"], r["split"], r["language"]) for r in refs} == needed
    for ref in refs:
        assert set(ref) == {"task", "split", "language", "dataset" if "dataset" in ref else "download", "config",
                            "hub_split", "revision", "form", "verified"}
        assert not (ref["revision"] == "main" and "script-only" in ref["form"]), ref
        assert not (ref.get("dataset") == "google/xtreme" and ref["config"].startswith("udpos")), ref
        if ref["task"] == "udpos":
            assert ref["download"] == f"ud-treebanks-v{'2.7' if ref['language'] in UDPOS_V27 else '2.5'}", ref
    scripts = {r["dataset"] for r in refs if "script-only" in r.get("form", "")}
    assert scripts == ({"eriktks/conll2003"} if name == "nli_vs_ner" else
                       {"Rowan/hellaswag", "allenai/social_i_qa", "allenai/cosmos_qa"})
    assert {r["language"] for r in refs if r["task"] == "udpos"} >= {"wo", "lt", "el"}
    if name == "phang2020":
        assert any(r.get("dataset") == "google/xquad" and r["config"] == "xquad.ro" for r in refs)
        assert not any(r["task"] == "lareqa" and r["language"] == "ro" for r in refs)


def test_data_check_table_names_sources_and_what_is_unverified():
    result = ray_xr("data", "check", "sweeps/nli_vs_ner.yaml", env=OFFLINE)
    assert result.returncode == 0, result.stderr
    rows = rows_of(result.stdout)
    assert rows["udpos", "test", "lt"] == "download ud-treebanks-v2.7"
    assert rows["udpos", "test", "de"] == "download ud-treebanks-v2.5"
    assert rows["panx", "test", "qu"] == "unimelb-nlp/wikiann qu [test]"
    assert rows["conll2003", "train", "en"] == "eriktks/conll2003 [train]"
    # the UD archives' checksums come from a third party and were never compared with the files
    assert "unverified (2 hub sources):\n  download ud-treebanks-v2.5: unverified (" in result.stdout


def test_what_the_hub_table_lacks_is_one_line(tmp_path):
    assert hub.check(hub.Hub("google/xtreme", "udpos.Lithuanian", "test")).startswith(
        "google/xtreme udpos.Lithuanian [test]: google/xtreme has no config 'udpos.Lithuanian'")
    assert "no split 'validation'" in hub.check(hub.Hub("google/xtreme", "udpos.Kazakh", "validation"))
    assert hub.check(hub.Download("ud-treebanks-v2.5", part="tl dev")) == (
        "download ud-treebanks-v2.5: its files have no dev split for language 'tl'")
    sweep = {"name": "m", "model": "xlm-roberta-large", "data": {"source": "hub"}, "targets": ["mewslix"],
             "languages": {"mewslix": ["de"]}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = ray_xr("data", "check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("task mewslix has no hub source; name its directory in data.local.mewslix")


@pytest.mark.parametrize("name", ["cluster.yaml", "cluster/gcp.yaml"])
def test_clusters_fetch_once_into_a_cache_every_node_reads(name):
    """HF_HOME on the shared disk on every node; the GPU nodes read it offline, so no rank
    downloads (the head, online, runs `data fetch`)."""
    cluster = yaml.safe_load((REPO / name).read_text())
    setup = cluster["setup_commands"]
    mount = next(i for i, c in enumerate(setup) if "/mnt/shared" in c and "mkdir" in c)
    home = next(i for i, c in enumerate(setup) if "HF_HOME" in c)
    assert "export HF_HOME=/mnt/shared/hf" in setup[home] and mount < home
    assert any("export HF_HUB_OFFLINE=1" in c for c in cluster["worker_setup_commands"])
    assert not any("HF_HUB_OFFLINE" in c for c in setup + cluster.get("head_setup_commands", []))


@needs_real_data
def test_three_treebanks_are_joined_in_xtreme_order(tmp_path):
    """A UD release read locally: the files whose name starts with the language's ISO code, in
    file-name order (en_ewt, en_partut, en_pud), as XTREME joins them, not in folder order
    (EWT, PUD, ParTUT); Ancient Greek (grc_*) is not Greek (el_*)."""
    hubrepos.ud_release("2.5", hubrepos.UD25, tmp_path)
    data = {"source": "local", "sizes": {"test": 0}, "seed": None, "local": {"udpos": {"dir": str(tmp_path / "ud-treebanks-v2.5")}}}
    english = local.load("udpos", "test", "en", data["local"])
    sample = local.read("conllu", [(str(REAL_DATA / "udpos/en/test.conllu"),)], TASKS["udpos"].labels, "en")
    order = [s for _, _, _, part in sorted(hubrepos.ENGLISH, key=lambda t: t[1]) for s in sample[part]]
    assert [e.words for e in english] == [e.words for e in order]
    assert [e.words for e in english] != [e.words for _, _, _, part in hubrepos.ENGLISH for e in sample[part]]
    assert len(local.load("udpos", "test", "el", data["local"])) == 25  # el_gdt only


# -- online, against the loopback hub ------------------------------------------------------------

@dataclass
class Loopback:
    hub: Hub
    url: str
    mirror: str
    work: Path
    commits: dict  # script-only dataset -> {"main": commit, "conversion": commit}
    pins: dict  # download -> {file: sha256} of the served stand-ins
    model: str  # the tiny model's commit

    def run(self, job: dict, home: Path, **env: str) -> list:
        """A job of tests/hubclient.py in a fresh interpreter pointed at this hub."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        environ = {**base, "HF_ENDPOINT": self.url, "HF_HOME": str(home), MIRROR: self.mirror,
                   "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", **env}
        job = {"downloads": self.pins, **job}
        result = subprocess.run([sys.executable, "-m", "tests.hubclient"], input=json.dumps(job), text=True,
                                capture_output=True, cwd=REPO, env=environ, timeout=600)
        assert result.returncode == 0, result.stderr[-4000:]
        return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def loopback(tmp_path_factory):
    real_data()  # the served repositories are cut from the real samples (tests/hubrepos.py)
    work = tmp_path_factory.mktemp("loopback")
    served = Hub()
    commits = hubrepos.build(served)
    pins = hubrepos.mirror(served, work)
    model = hubrepos.model(served, work)
    server = served.serve()
    yield Loopback(served, server.url, server.mirror, work, commits, pins, model)
    server.close()


def load(task: str, split: str, lang: str, **data) -> dict:
    return {"load": [task, split, lang, {"source": "hub", "sizes": ALL, "seed": None, "local": {}, **data}]}


def words_tags(examples) -> list[tuple[list, list]]:
    return [(e["words"], e["tags"]) for e in examples]


def test_the_library_loads_every_kind_of_source(loopback, tmp_path):
    """PAN-X and Tatoeba (parquet, configs in the card), CoNLL-2003, SocialIQA and HellaSwag (script-
    only main: their parquet conversions), XNLI and MNLI, UD-POS from the UD release archives,
    LAReQA's XQuAD-R and Tatoeba's LASER files (DownloadManager, hashed file names)."""
    steps = [load("panx", "train", "en"), load("panx", "test", "de"), load("conll2003", "train", "en"),
             load("xnli", "test", "sw"), load("mnli", "train", "en"), load("siqa", "dev", "en"),
             load("hellaswag", "dev", "en"), load("udpos", "test", "en"), load("udpos", "test", "el"),
             load("udpos", "train", "en"), load("udpos", "test", "pl"), load("lareqa", "test", "de"),
             load("tatoeba", "test", "de"), load("tatoeba", "test", "az")]
    got = dict(zip(("panx", "panx-de", "conll", "xnli", "mnli", "siqa", "hellaswag", "ud-en", "ud-el", "ud-train",
                    "ud-pl", "lareqa", "tatoeba", "tatoeba-az"), loopback.run({"steps": steps}, tmp_path / "hf")))
    assert all("examples" in r for r in got.values()), {k: r["error"] for k, r in got.items() if "error" in r}
    got = {k: r["examples"] for k, r in got.items()}
    wikiann = REAL_DATA / "wikiann"
    assert words_tags(got["panx"]) == [(w, t) for w, t in hubrepos.panx_blocks(wikiann / "en/train")]
    assert words_tags(got["panx-de"]) == [(w, t) for w, t in hubrepos.panx_blocks(wikiann / "de/test")]
    tags = {t for e in got["conll"] for t in e["tags"]}
    assert "B-MISC" in tags and len(got["conll"]) == len(hubrepos.panx_blocks(wikiann / "en/train"))
    assert [(e["text_a"], e["text_b"], e["label"]) for e in got["xnli"]] == hubrepos.xnli_pairs("sw")
    assert [(e["text_a"], e["text_b"], e["label"]) for e in got["mnli"]] == hubrepos.mnli_pairs()
    it, tr = hubrepos.copa_rows("it"), hubrepos.copa_rows("tr")
    assert [(e["premise"], e["label"]) for e in got["siqa"]] == [(r["premise"], r["label"]) for r in it]
    assert [(e["premise"], e["choices"][:2], e["label"]) for e in got["hellaswag"]] == [
        (r["premise"], [r["choice1"], r["choice2"]], r["label"]) for r in tr]
    # UD-POS: the release's ISO-prefixed files in file-name order, fused forms (as the local reader)
    release = {"udpos": {"dir": str(loopback.work / "ud-treebanks-v2.5")}}
    for key, split, lang in (("ud-en", "test", "en"), ("ud-el", "test", "el"), ("ud-train", "train", "en")):
        read = local.load("udpos", split, lang, release)
        assert words_tags(got[key]) == [(list(e.words), list(e.tags)) for e in read]
    assert len(got["ud-en"]) == 120 and len(got["ud-el"]) == 25  # three English treebanks; no Ancient Greek
    assert len(got["ud-pl"]) == 60  # UD v2.7's archive
    # LAReQA: the German questions (the cached files' names are hashes), ranking all eleven pools
    xquad_de = json.loads((REAL_DATA / "xquad/xquad.de.json").read_text())
    questions = {qa["id"] for a in xquad_de["data"] for p in a["paragraphs"] for qa in p["qas"]}
    asked = [e for e in got["lareqa"] if e["type"] == "RankQuery"]
    assert len(asked) > 100 and {e["relevant"][0] for e in asked} <= questions
    assert {e["id"].split("_")[0] for e in got["lareqa"] if e["type"] == "Candidate"} == set(
        hub.DOWNLOADS["xquad-r"]["urls"])
    # Tatoeba: google/xtreme's rows lose their newline; LASER's files are read as they are
    deu = read_tatoeba(REAL_DATA / "tatoeba/tatoeba.deu-eng.deu", REAL_DATA / "tatoeba/tatoeba.deu-eng.eng")
    assert [(e["query"], e["target"]) for e in got["tatoeba"]] == [(p.query, p.target) for p in deu]
    assert [e["query"] for e in got["tatoeba-az"]] == [p.query for p in deu]


def questions(*paths: Path) -> list[str]:
    return [qa["id"] for path in paths for a in json.loads(path.read_text())["data"] for p in a["paragraphs"]
            for qa in p["qas"]]


def test_hub_rows_become_typed_examples(loopback, tmp_path):
    """The other loaders, on their datasets' schemas: TyDiQA's one config filtered by language,
    MLQA, XQuAD (Romanian from google/xquad), PAWS-X's string labels, XCOPA and COPA (unlabelled
    rows dropped), SST-2, ANLI's three rounds, ANLI+ (with MNLI and SNLI, whose -1 rows are
    dropped), CommonsenseQA, and SQuAD as LAReQA's sentences."""
    names = ["tydiqa", "csqa", "sst2", "anli", "anliplus", "xquad", "xquad-ro", "mlqa", "pawsx", "xcopa", "copa",
             "lareqa"]
    steps = [load("tydiqa", "test", "ar"), load("commonsenseqa", "train", "en"), load("sst2", "train", "en"),
             load("anli", "train", "en"), load("anliplus", "train", "en"), load("xquad", "test", "de"),
             load("xquad", "test", "ro"), load("mlqa", "test", "zh"), load("pawsx", "train", "de"),
             load("xcopa", "test", "it"), load("copa", "train", "en"), load("lareqa", "train", "en")]
    got = dict(zip(names, loopback.run({"steps": steps}, tmp_path / "hf")))
    assert all("examples" in r for r in got.values()), {k: r["error"] for k, r in got.items() if "error" in r}
    got = {k: r["examples"] for k, r in got.items()}
    assert [e["id"] for e in got["tydiqa"]] == questions(REAL_DATA / "tydiqa/arabic_dev.json")
    it, tr = hubrepos.copa_rows("it"), hubrepos.copa_rows("tr")
    assert [(e["choices"], e["label"]) for e in got["csqa"]] == [([r["choice1"], r["choice2"]], r["label"]) for r in it]
    nli = hubrepos.snli_pairs()
    assert [(e["text_a"], e["label"]) for e in got["sst2"]] == [
        (a, "negative" if label == "contradiction" else "positive") for a, _, label in nli[:30]]
    assert [(e["text_a"], e["text_b"], e["label"]) for e in got["anli"]] == nli[10:40]
    assert len({e["id"] for e in got["anli"]}) == 30
    assert [(e["text_a"], e["text_b"], e["label"]) for e in got["anliplus"]] == (
        nli[10:40] + hubrepos.mnli_pairs() + nli[1:10])
    assert [e["id"] for e in got["xquad"]] == questions(REAL_DATA / "xquad/xquad.de.json")
    assert [e["id"] for e in got["xquad-ro"]] == questions(REAL_DATA / "xquad/xquad.es.json")
    assert [e["id"] for e in got["mlqa"]] == questions(REAL_DATA / "xquad/xquad.zh.json")
    assert {e["label"] for e in got["pawsx"]} == {"0", "1"} and len(got["pawsx"]) == 300
    assert [(e["premise"], e["label"]) for e in got["xcopa"]] == [(r["premise"], r["label"]) for r in it]
    assert [e["premise"] for e in got["copa"]] == [r["premise"] for r in tr[3:]]
    english = questions(REAL_DATA / "xquad/xquad.en.json")
    asked = [e for e in got["lareqa"] if e["type"] == "RankQuery"]
    assert len(asked) > 0.9 * len(english) and {e["relevant"][0] for e in asked} <= set(english)
    assert all(e["id"].startswith("squad-train_") for e in got["lareqa"] if e["type"] == "Candidate")


def test_each_failure_of_the_hub_or_a_download_is_one_line(loopback, tmp_path):
    steps = [
        # a table that read a script-only main branch: datasets' RuntimeError
        load("conll2003", "train", "en"),
        load("panx", "test", "fr"),  # google/xtreme here lacks PAN-X.fr: an unknown config
        load("xnli", "test", "de"),  # facebook/xnli de here has validation only: an unknown split
        load("panx", "test", "en", pins={"google/xtreme PAN-X.en [test]": {"revision": "0" * 40}}),  # no such commit
        load("tatoeba", "test", "lt"),  # LASER's file is missing: 404
        load("tatoeba", "test", "ro"),  # served bytes are not the registry's: checksum
    ]
    job = {"steps": steps, "sources": {"eriktks/conll2003": {"revision": "main"}}}
    errors = [r.get("error") for r in loopback.run(job, tmp_path / "hf")]
    expected = [
        r"task conll2003, train split, language en: eriktks/conll2003 \[train\] \(at main\): main holds only a loading"
        r" script \(conll2003.py\), which datasets [\d.]+ does not run; read a parquet copy",
        r"task panx, test split, language fr: google/xtreme PAN-X.fr \[test\] \(at main\): BuilderConfig 'PAN-X.fr'"
        r" not found. Available: \['PAN-X.en', ",
        r"task xnli, test split, language de: facebook/xnli de \[test\] \(at main\): Unknown split \"test\". Should be"
        r" one of \['validation'\]",
        r"task panx, test split, language en: google/xtreme PAN-X.en \[test\] \(at 0{40}\): Revision '0{40}' doesn't"
        r" exist for dataset 'google/xtreme' on the Hub",
        r"task tatoeba, test split, language lt: download laser-tatoeba-lit: cannot download https://raw.githubuser"
        r"content.com/facebookresearch/LASER/\S+/tatoeba.lit-eng.lit, \S+ \(\w+Error\); on a machine without internet",
        r"task tatoeba, test split, language ro: download laser-tatoeba-ron: file query \(https://\S+\) has sha256"
        r" [0-9a-f]{64}, but ray_xr/tasks/hubtable.py pins ad5c4a9f\w+; it changed upstream",
    ]
    for error, pattern in zip(errors, expected):
        assert error is not None and "\n" not in error and re.match(pattern, error), (error, pattern)


def fetch_sweep(folder: Path) -> Path:
    """PAN-X after CoNLL-2003 on the loopback hub's tiny model."""
    path = folder / "fetch.yaml"
    path.write_text(yaml.safe_dump({"name": "fetch", "model": hubrepos.MODEL, "data": {"source": "hub"},
                                    "intermediate": ["none", "conll2003"], "targets": ["panx"],
                                    "languages": {"panx": ["en", "de"]}}))
    return path


def test_data_fetch_pins_every_commit_and_the_model_then_a_node_reads_the_cache_offline(loopback, tmp_path):
    """The preflight of a real run, against the loopback hub: every source and the model are
    downloaded, checked and pinned; a split 2% off its size in tasks/sizes.py is one line. Then a
    process offline on the same HF_HOME (a GPU node reading the shared cache) loads the pinned
    splits and the model at its locked commit; a lock pinning a commit the cache lacks is refused."""
    sweep, home = fetch_sweep(tmp_path), tmp_path / "hf"
    sweep.write_text(sweep.read_text() + "target_training: {max_length: 65}\n")  # one more than the model takes
    unlocked = ray_xr("data", "check", str(sweep), "--locked", env=OFFLINE)
    assert unlocked.returncode == 2 and "6 of 6 hub sources are not pinned" in unlocked.stderr
    wikiann, conll = REAL_DATA / "wikiann", len(hubrepos.panx_blocks(REAL_DATA / "wikiann/en/train"))
    n = {s: len(hubrepos.panx_blocks(wikiann / f)) for s, f in (("train", "en/train"), ("dev", "en/dev"),
                                                               ("test", "en/test"))}
    sizes = {"panx": {"train": n["train"], "dev": n["dev"], "test": n["test"], "approx": False,
                      "tests": {"de": len(hubrepos.panx_blocks(wikiann / "de/test"))}},
             "conll2003": {"train": round(conll / 0.98), "dev": len(hubrepos.panx_blocks(wikiann / "en/dev"))}}
    [result] = loopback.run({"sizes": sizes, "steps": [{"cli": ["data", "fetch", str(sweep)]}]}, home)
    assert result["rc"] == 2, result
    problems = [line for line in result["stdout"].splitlines() if line.startswith("problem: ")]
    assert problems == [f"problem: conll2003 train en: {conll:,} rows, but ray_xr/tasks/sizes.py expects"
                        f" {round(conll / 0.98):,} (-2.0%, more than 1% off)",
                        f"problem: target_training.max_length: 65 tokens, but the model {hubrepos.MODEL} takes at"
                        " most 64; set it to 64 or less"]  # its 66 position embeddings, XLM-R's offset of 2
    assert error_lines(result["stderr"]) == [f"ray-xr: error: {sweep}: 2 problem(s) in the data or the model (listed"
                                             " above, one a line); fix them before a run"]
    doc = json.loads((tmp_path / "fetch.lock.json").read_text())
    assert sorted(doc["sources"]) == sorted(["google/xtreme PAN-X.en [train]", "google/xtreme PAN-X.en [validation]",
                                             "google/xtreme PAN-X.en [test]", "google/xtreme PAN-X.de [test]",
                                             "eriktks/conll2003 [train]", "eriktks/conll2003 [validation]"])
    xtreme = loopback.hub.repos["datasets", "google/xtreme"].branches["main"]
    assert doc["sources"]["google/xtreme PAN-X.de [test]"] == {"revision": xtreme}
    conversion = loopback.commits["eriktks/conll2003"]["conversion"]
    assert doc["sources"]["eriktks/conll2003 [train]"] == {"revision": conversion}
    assert doc["model"] == {"name": hubrepos.MODEL, "revision": loopback.model}
    # every source and the model pinned: `--locked` accepts it; the run's plan loads the model's commit
    locked = ray_xr("data", "check", str(sweep), "--locked", env=OFFLINE)
    assert locked.returncode == 0 and "not pinned" not in locked.stdout, locked.stdout + locked.stderr
    pretrain = next(s for s in plan.build(config.load(sweep)).stages.values() if s.phase == "pretrain")
    assert pretrain.spec["revision"] == loopback.model
    pins = {k: v for k, v in doc["sources"].items() if "PAN-X.de" in k or "conll2003 [train]" in k}
    other = loopback.commits["eriktks/conll2003"]["main"]  # a commit of the repository the cache does not hold
    stale = {"google/xtreme PAN-X.de [test]": {"revision": other}}
    steps = [load("panx", "test", "de", pins=pins), load("conll2003", "train", "en", pins=pins),
             {"model": [hubrepos.MODEL, loopback.model]}, load("panx", "test", "de", pins=stale)]
    offline = loopback.run({"steps": steps}, home, **OFFLINE)
    assert len(offline[0]["examples"]) == n_de(wikiann) and len(offline[1]["examples"]) == conll
    assert offline[2]["vocabulary"] > 100 and offline[2]["folder"].endswith(loopback.model)
    assert offline[3]["error"] == (f"task panx, test split, language de: google/xtreme PAN-X.de [test]: read at"
                                   f" revision {xtreme}, but the lock file pins {other}")


def error_lines(stderr: str) -> list[str]:
    """The lines ray-xr wrote to stderr (datasets' progress bars write there too)."""
    return [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("ray-xr")]


def n_de(wikiann: Path) -> int:
    return len(hubrepos.panx_blocks(wikiann / "de/test"))


def test_data_fetch_offline_stops_at_the_first_source_in_one_line():
    result = ray_xr("data", "fetch", "sweeps/nli_vs_ner.yaml", env=OFFLINE)
    assert result.returncode == 2
    n = len({r for t, s, lang, _ in datatools.needed_splits(plan.build(config.load(REPO / "sweeps" / "nli_vs_ner.yaml")))
             for r in hub_refs(t, s, lang)})
    assert f"[1/{n}] nyu-mll/glue mnli [train]" in result.stdout.splitlines()
    assert "problem: nyu-mll/glue mnli [train] (at main): cannot load it (" in result.stdout
    assert len(error_lines(result.stderr)) == 1 and "1 problem(s)" in result.stderr
    assert not (REPO / "sweeps" / "nli_vs_ner.lock.json").exists()  # nothing read, nothing pinned

