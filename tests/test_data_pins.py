"""Pinned data: the registry's sha256 of the downloads it can pin in advance, and a sweep's lock
file (SWEEP.lock.json) for the rest: files served over HTTP on loopback are accepted when they
match their pin and refused in one line when they do not; a lock is written, read back,
validated in one line, enters the stage keys and is shown by `ray-xr data check`."""
from __future__ import annotations

import functools
import hashlib
import http.server
import json
import re
import shutil
import threading

import pytest
import yaml

from ray_xr import plan
from ray_xr.plan import config
from ray_xr.errors import DataError
from ray_xr.tasks import hub, load, lock
from tests.conftest import ray_xr, real_data
from tests.test_data_hub import rows_of

OFFLINE = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
# downloads whose bytes could not be read where the registry was written: their pins are a third
# party's record of them (hubtable.py says whose), unverified until a `data fetch` reads them
UNVERIFIED = {"ud-treebanks-v2.5", "ud-treebanks-v2.7"}
DEU = "google/xtreme tatoeba.deu [validation]"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_download_is_pinned_by_the_registry_and_says_if_unverified():
    for name, spec in hub.DOWNLOADS.items():
        assert all(re.fullmatch(r"[0-9a-f]{64}", d) for d in spec["sha256"].values()), name
        assert set(spec["sha256"]) == set(spec["urls"]), name
        assert spec["verified"] == (name not in UNVERIFIED) and spec["evidence"], name
        for url in spec["urls"].values():  # GitHub files at a commit, never at a moving branch
            assert "raw.githubusercontent.com" not in url or re.search(r"/[0-9a-f]{40}/", url), url


@pytest.fixture
def server(tmp_path, monkeypatch):
    """Files served over HTTP on loopback, standing in for GitHub, with datasets' download cache
    in the test's own folder."""
    import datasets

    root = tmp_path / "www"
    root.mkdir()
    for name in ("DOWNLOADED_DATASETS_PATH", "EXTRACTED_DATASETS_PATH"):
        monkeypatch.setattr(datasets.config, name, str(tmp_path / "cache" / name.lower()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    hub._fetch.cache_clear()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    hub._fetch.cache_clear()


@pytest.fixture
def served_tatoeba(server, monkeypatch):
    """laser-tatoeba-aze served from loopback (German Tatoeba lines standing in), pinned to
    `pins` by the registry: returns (set the pins, the files' real sha256)."""
    root, url = server
    for side in ("query", "target"):
        shutil.copy(real_data() / "tatoeba" / f"tatoeba.deu-eng.{'deu' if side == 'query' else 'eng'}", root / side)
    real = {side: sha256(root / side) for side in ("query", "target")}

    def pin(pins: dict) -> None:
        monkeypatch.setitem(hub.DOWNLOADS, "laser-tatoeba-aze", {
            **hub.DOWNLOADS["laser-tatoeba-aze"], "urls": {"query": f"{url}/query", "target": f"{url}/target"},
            "sha256": pins})
        hub._fetch.cache_clear()
    return pin, real


SPEC = {"task": "tatoeba", "language": "az", "data": {"source": "hub", "sizes": {"test": 3}, "seed": None, "local": {}}}


def test_a_download_matching_its_pin_is_read_and_recorded_as_pinned(served_tatoeba):
    pin, real = served_tatoeba
    pin(real)
    assert len(load.load_split("tatoeba", "test", "az", SPEC["data"])) == 3
    assert load.data_sources(SPEC, "en") == {"data_sources": {"download laser-tatoeba-aze": {
        "read": real, "pinned": "registry"}}}


def test_a_download_that_differs_from_its_pin_is_refused_in_one_line(served_tatoeba):
    pin, real = served_tatoeba
    pin({**real, "target": "0" * 64})
    with pytest.raises(DataError) as err:
        load.load_split("tatoeba", "test", "az", {**SPEC["data"], "sizes": {"test": 4}})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("task tatoeba, test split, language az: download laser-tatoeba-aze: file target"
                              " (http://127.0.0.1:")
    assert f"has sha256 {real['target']}, but ray_xr/tasks/hubtable.py pins {'0' * 64}" in message


def test_a_lock_pin_is_checked_too(served_tatoeba):
    pin, real = served_tatoeba
    pin({})  # the registry pins nothing: the lock does
    data = {"source": "hub", "sizes": {"test": 5}, "seed": None, "local": {}, "pins": {"download laser-tatoeba-aze": {"query": "f" * 64}}}
    with pytest.raises(DataError, match=r"file query .* has sha256 [0-9a-f]{64}, but the lock file pins f{64}"):
        load.load_split("tatoeba", "test", "az", data)
    data["pins"] = {"download laser-tatoeba-aze": real}
    assert len(load.load_split("tatoeba", "test", "az", data)) == 5
    assert hub.pinned_by(hub.Download("laser-tatoeba-aze"), data["pins"]) == "lock"


def write_hub_sweep(folder):
    """Tatoeba in az (a registry-pinned LASER download) and de (google/xtreme, not pinned)."""
    path = folder / "pins.yaml"
    path.write_text(yaml.safe_dump({"name": "pins", "model": "xlm-roberta-large", "data": {"source": "hub"},
                                    "targets": ["tatoeba"], "languages": {"tatoeba": ["az", "de"]}}))
    return path


def eval_keys(path) -> dict[str, str]:
    p = plan.build(config.load(path))
    return {s.spec["language"]: k for k, s in p.stages.items() if s.phase == "eval" and not s.spec["level"]}


def test_lock_round_trip_enters_the_stage_keys(served_tatoeba, tmp_path, monkeypatch):
    pin, real = served_tatoeba
    pin(real)
    sweep = write_hub_sweep(tmp_path)
    before = eval_keys(sweep)
    refs = [hub.Download("laser-tatoeba-aze"), hub.Hub("google/xtreme", "tatoeba.deu", "validation"),
            hub.Hub("rajpurkar/squad", None, "train")]
    hub.fetch(refs[0])  # read for real; the hub splits as `data fetch` would have recorded them
    monkeypatch.setitem(hub.READ, str(refs[1]), {"revision": COMMIT})
    monkeypatch.setitem(hub.READ, str(refs[2]), {"revision": None})  # the cache named no commit: unpinned
    written = lock.write(lock.path_for(sweep), lock.entries(refs))
    assert written == tmp_path / "pins.lock.json"
    doc = json.loads(written.read_text())
    assert doc["sources"] == {"download laser-tatoeba-aze": real, DEU: {"revision": COMMIT}}
    loaded = config.load(sweep).lock
    assert (loaded.file, loaded.sources) == (str(written), doc["sources"])
    after = eval_keys(sweep)
    assert after["az"] != before["az"] and after["de"] != before["de"]  # pinned data is keyed data
    stages = plan.build(config.load(sweep)).stages.values()
    evals = [s for s in stages if s.phase == "eval" and s.spec["language"] == "de"]
    assert {json.dumps(s.spec["data"]["pins"]) for s in evals} == {json.dumps({DEU: {"revision": COMMIT}})}
    written.unlink()
    assert eval_keys(sweep) == before  # no lock, no pins: the keys of a run made before locking


@pytest.mark.parametrize("text, message", [
    ("{", "not valid JSON (Expecting property name enclosed in double quotes, line 1)"),
    ('{"written": "t", "sources": {}}',
     "expected an object with written, datasets, sources (and optionally model); it has sources, written"),
    ('{"written": "t", "datasets": "5", "sources": {}, "model": {"name": "m", "revision": "main"}}',
     'model: expected {"name": <hub model>, "revision": <40-hex commit>}, got {"name": "m", "revision": "main"}'),
    ('{"written": "t", "datasets": "5", "sources": {"%s": {"revision": "abc"}}}' % DEU,
     f'sources.{DEU}: expected {{"revision": <40-hex commit>}}, got {{"revision": "abc"}}'),
    ('{"written": "t", "datasets": "5", "sources": {"google/xtreme tatoeba.xyz [validation]": {"revision": "%s"}}}'
     % COMMIT, "sources.google/xtreme tatoeba.xyz [validation]: google/xtreme has no config 'tatoeba.xyz'"),
    ('{"written": "t", "datasets": "5", "sources": {"download nope": {}}}',
     "sources.download nope: not a known download"),
    ('{"written": "t", "datasets": "5", "sources": {"download xquad-r": {"de": "%s"}}}' % ("0" * 64),
     f"sources.download xquad-r: de: sha256 {'0' * 64}, but ray_xr/tasks/hubtable.py pins 16fb0f4b"),
    ('{"written": "t", "datasets": "5", "sources": {"download ud-treebanks-v2.5": {"zip": "%s"}}}' % ("0" * 64),
     "sources.download ud-treebanks-v2.5: zip: the download has no such file (it has tgz)"),
])
def test_a_broken_lock_is_one_line_naming_file_and_field(tmp_path, text, message):
    path = tmp_path / "s.lock.json"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        lock.read(path)
    assert "\n" not in str(err.value) and str(err.value).startswith(f"{path}: {message}")


def test_data_check_names_the_pins_and_refuses_a_broken_lock(tmp_path):
    sweep = write_hub_sweep(tmp_path)
    lock.path_for(sweep).write_text(json.dumps({"written": "2026-12-02T00:00:00+00:00", "datasets": "5.2.0",
                                                "sources": {DEU: {"revision": COMMIT}}}))
    result = ray_xr("data", "check", str(sweep), env=OFFLINE)
    assert result.returncode == 0, result.stderr
    pinned = rows_of(result.stdout, column=5)
    assert pinned["tatoeba", "test", "az"] == "registry" and pinned["tatoeba", "test", "de"] == "lock"
    assert pinned["squad", "train", "en"] == "no"
    assert f"lock: {lock.path_for(sweep)} (written 2026-12-02T00:00:00+00:00, datasets 5.2.0)" in result.stdout
    assert "not pinned (3 of 5 hub sources):\n  rajpurkar/squad [train]\n" in result.stdout
    strict = ray_xr("data", "check", str(sweep), "--locked", env=OFFLINE)
    assert strict.returncode == 2 and strict.stderr.count("\n") == 1
    assert "3 of 5 hub sources are not pinned (first: rajpurkar/squad [train])" in strict.stderr
    lock.path_for(sweep).write_text('{"written": "t", "datasets": "5", "sources": {"%s": {"revision": "HEAD"}}}' % DEU)
    broken = ray_xr("data", "check", str(sweep), env=OFFLINE)
    assert broken.returncode == 2 and broken.stderr.count("\n") == 1
    assert broken.stderr.startswith(f"ray-xr: error: {lock.path_for(sweep)}: sources.{DEU}: expected")


def test_a_sweep_file_cannot_set_the_lock(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "targets": ["xnli"], "lock": {}}))
    with pytest.raises(Exception, match=r"lock: not a sweep key; `ray-xr data fetch` writes the pins to .*s.lock.json"):
        config.load(path)


def test_run_locked_refuses_unpinned_data_before_anything_starts(tmp_path):
    result = ray_xr("run", str(write_hub_sweep(tmp_path)), "--locked", "--storage", str(tmp_path / "runs"), env=OFFLINE)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "4 of 5 hub sources are not pinned (first: rajpurkar/squad [train])" in result.stderr
    assert not (tmp_path / "runs").exists()
