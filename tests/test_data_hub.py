"""The hub source offline: every (task, split, language) of a hub sweep resolves to a known hub
config or a pinned download (`ray-xr data check`), and the downloads that fill XTREME-R's
additions (UD v2.5 for UD-POS, LASER's Tatoeba files) are read through the task's own readers."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import re
import shutil
import tarfile
import threading

import pytest
import yaml

from ray_xr import config, datatools, plan
from ray_xr.data.examples import scored
from ray_xr.errors import DataError
from ray_xr.tasks import TASKS, hub, load, local
from tests.conftest import REAL_DATA, REPO, ray_xr
from tests.test_ranking import context, entity, mention


def rows_of(stdout: str, column: int = 4) -> dict[tuple[str, str, str], str]:
    """(task, split, language) -> a column of `data check`'s table (default: the source; 5: who
    pins it). The table ends at the first empty line; what pins the sources follows it."""
    out = {}
    for line in stdout.split("\n\n")[0].splitlines()[1:]:
        cells = (re.split(r"\s{2,}", line) + ["", ""])[:6]  # columns 2+ spaces apart
        out[tuple(cells[:3])] = cells[column]
    return out


def test_data_check_resolves_nli_vs_ner_offline():
    result = ray_xr("data", "check", "sweeps/nli_vs_ner.yaml", env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    rows = rows_of(result.stdout)
    needed = datatools.needed_splits(plan.build(config.load(REPO / "sweeps" / "nli_vs_ner.yaml")))
    assert set(rows) == {(t, s, lang) for t, s, lang, _ in needed}
    assert rows["udpos", "test", "lt"] == "download ud-treebanks-v2.5"  # an XTREME-R addition
    assert rows["udpos", "test", "de"] == "google/xtreme udpos.German [test]"
    assert rows["panx", "test", "qu"] == "unimelb-nlp/wikiann qu [test]"


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


def test_data_check_resolves_phang2020_offline(tmp_path):
    """Every target of XTREME-R and every intermediate task of Phang et al.; Mewsli-X, which the
    hub lacks, from its local folder (here one mention per language)."""
    sweep = yaml.safe_load((REPO / "sweeps" / "phang2020.yaml").read_text())
    sweep["data"]["local"]["mewslix"] = str(write_mewslix_languages(tmp_path / "mewslix", TASKS["mewslix"].languages))
    path = tmp_path / "phang2020.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = ray_xr("data", "check", str(path), env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr
    rows = rows_of(result.stdout)
    needed = datatools.needed_splits(plan.build(config.load(path)))
    assert set(rows) == {(t, s, lang) for t, s, lang, _ in needed}
    for lang, code in (("az", "aze"), ("lt", "lit"), ("pl", "pol"), ("ro", "ron"), ("uk", "ukr")):
        assert rows["tatoeba", "test", lang] == f"download laser-tatoeba-{code}"
    assert rows["squad", "dev", "en"] == "rajpurkar/squad [validation]; google/xtreme XQuAD.en [validation]"
    assert rows["anliplus", "train", "en"].count("facebook/anli") == 3
    assert rows["mewslix", "test", "uk"] == ""  # loaded: a local folder


def test_what_the_hub_table_lacks_is_one_line(tmp_path):
    assert hub.check(hub.Hub("google/xtreme", "udpos.Lithuanian", "test")).startswith(
        "google/xtreme udpos.Lithuanian [test]: google/xtreme has no config 'udpos.Lithuanian'")
    assert "no split 'train'" in hub.check(hub.Hub("google/xtreme", "tatoeba.deu", "train"))
    sweep = {"name": "m", "model": "xlm-roberta-large", "data": {"source": "hub"}, "targets": ["mewslix"],
             "languages": {"mewslix": ["de"]}}
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = ray_xr("data", "check", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("task mewslix has no hub source; name its directory in data.local.mewslix")


@pytest.fixture
def server(tmp_path):
    """Files served over HTTP on loopback, standing in for LINDAT and GitHub."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    hub._fetch.cache_clear()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    hub._fetch.cache_clear()


def test_udpos_additions_read_the_ud_release(server, monkeypatch, tmp_path):
    """UD-POS Polish from a UD release archive (its treebank folders, as the local layout reads them)."""
    root, url = server
    sample = REAL_DATA / "udpos" / "ru" / "test.conllu"
    release = tmp_path / "ud-treebanks-v2.5" / "UD_Polish-PDB"
    release.mkdir(parents=True)
    shutil.copy(sample, release / "pl_pdb-ud-test.conllu")
    with tarfile.open(root / "ud-treebanks-v2.5.tgz", "w:gz") as tgz:
        tgz.add(tmp_path / "ud-treebanks-v2.5", arcname="ud-treebanks-v2.5")
    monkeypatch.setitem(hub.DOWNLOADS, "ud-treebanks-v2.5",
                        {"urls": {"tgz": f"{url}/ud-treebanks-v2.5.tgz"}, "extract": True, "sha256": {}})
    examples = load.load_split("udpos", "test", "pl", {"source": "hub", "sizes": {"test": 0}})
    assert examples == local.read("conllu", [(str(sample),)], TASKS["udpos"].labels, "pl")  # as a local UD file
    expected = hashlib.sha256((root / "ud-treebanks-v2.5.tgz").read_bytes()).hexdigest()
    assert hub.READ["download ud-treebanks-v2.5"] == {"tgz": expected}


def test_tatoeba_additions_read_laser_files(server, monkeypatch):
    root, url = server
    for side in ("deu", "eng"):
        shutil.copy(REAL_DATA / "tatoeba" / f"tatoeba.deu-eng.{side}", root / f"tatoeba.aze-eng.{side.replace('deu', 'aze')}")
    monkeypatch.setitem(hub.DOWNLOADS, "laser-tatoeba-aze", {"urls": {"query": f"{url}/tatoeba.aze-eng.aze",
                                                                      "target": f"{url}/tatoeba.aze-eng.eng"},
                                                             "extract": False, "sha256": {}})
    pairs = scored(load.load_split("tatoeba", "test", "az", {"source": "hub", "sizes": {"test": 5}}))
    german = (REAL_DATA / "tatoeba" / "tatoeba.deu-eng.deu").read_text().splitlines()
    assert [p.id for p in pairs] == [f"test-{i}" for i in range(5)]
    assert [p.query for p in pairs] == german[:5]
    # the stage record names what was read: the files' sha256
    spec = {"task": "tatoeba", "language": "az", "data": {"source": "hub", "sizes": {"test": 5}}}
    digest = {k: hashlib.sha256((root / f"tatoeba.aze-eng.{k.replace('query', 'aze').replace('target', 'eng')}")
                                .read_bytes()).hexdigest() for k in ("query", "target")}
    assert load.data_sources(spec, "en") == {"data_sources": {"download laser-tatoeba-aze": {"read": digest,
                                                                                         "pinned": None}}}


def test_a_download_that_fails_is_one_line(server, monkeypatch):
    _, url = server
    monkeypatch.setitem(hub.DOWNLOADS, "laser-tatoeba-lit", {"urls": {"query": f"{url}/missing.lit",
                                                                      "target": f"{url}/missing.eng"},
                                                             "extract": False, "sha256": {}})
    with pytest.raises(DataError, match=r"download laser-tatoeba-lit: cannot download .*missing.lit"):
        load.load_split("tatoeba", "test", "lt", {"source": "hub", "sizes": {"test": 0}})


def test_data_fetch_shows_progress_and_fails_offline_in_one_line():
    result = ray_xr("data", "fetch", "sweeps/nli_vs_ner.yaml", env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2
    n = len({r for t, s, lang, _ in datatools.needed_splits(plan.build(config.load(REPO / "sweeps" / "nli_vs_ner.yaml")))
             for r in load.hub_refs(t, s, lang)})
    assert result.stdout.splitlines()[-1] == f"[1/{n}] nyu-mll/glue mnli [train]"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ray-xr: error: nyu-mll/glue mnli [train]: cannot load it (Couldn't reach")
