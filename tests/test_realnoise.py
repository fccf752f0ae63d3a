"""The published real-noise sets (Stickland et al. 2023): readers on the samples in ../shared,
their alignment to the clean files (which confirms the label orders), `noise stats`, `noise fit`
and the calibrated `typo` kind against the real profile."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from ray_xr import cli, plan
from ray_xr.cli import noise as noisetools
from ray_xr.plan import config
from ray_xr.data import readers, realnoise
from ray_xr.errors import DataError, NoiseError
from ray_xr.noise import NoiseResources, align, graphemes, languages, perturb_words
from ray_xr.noise.profile import EDIT_TYPES, classify
from tests.conftest import REAL_DATA, needs_real_data, write_sweep

NOISY = REAL_DATA / "realnoise"
PANX = (str(REAL_DATA / "wikiann/fr/test"), str(NOISY / "panx/test_fr_typos_0.1.jsonl"))
XNLI = (str(REAL_DATA / "xnli/de/test.tsv"), str(NOISY / "xnli/test_de_typos_0.05.tsv"))
pytestmark = needs_real_data


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def stats_args(task, lang, clean, noisy=None, **kind):
    return SimpleNamespace(task=task, lang=lang, clean=clean, noisy=noisy, kind=kind.get("kind"),
                           level=kind.get("level"), seed=kind.get("seed", 0), typo_file=None,
                           lexicon_file=None, profile=kind.get("profile"))


# --- readers ------------------------------------------------------------------------------------


def test_data_show_reads_the_published_formats(capsys):
    code, out, _ = run_cli(capsys, "data", "show", "panx", PANX[1], "--json")
    assert code == 0 and json.loads(out) == {"examples": 500, "labels": {
        "B-LOC": 314, "B-ORG": 225, "B-PER": 175, "I-LOC": 403, "I-ORG": 645, "I-PER": 296, "O": 1593}}
    code, out, _ = run_cli(capsys, "data", "show", "xnli", XNLI[1], "--json")
    assert code == 0 and json.loads(out) == {"examples": 300, "labels": {
        "contradiction": 100, "entailment": 96, "neutral": 104}}
    first = readers.read("xnli_tsv", XNLI[1])[0]
    assert first.text_a.startswith("Es giebt so viel") and not first.text_a.endswith("'")


def test_label_orders_are_confirmed_by_the_clean_files():
    """An aligned pair needs the same tags (or label), so a wrong order aligns (almost) nothing."""
    for fmt, (clean, noisy), least in (("panx", PANX, 200), ("xnli_tsv", XNLI, 60)):
        found = align.align(readers.read(fmt, clean, labels=None), readers.read(fmt, noisy, labels=None))
        assert len(found.pairs) >= least and found.missing == 0
    shifted = realnoise.PANX_TAG_ORDER[1:] + realnoise.PANX_TAG_ORDER[:1]
    wrong = [e.__class__(e.id, e.words, tuple(shifted[realnoise.PANX_TAG_ORDER.index(t)] for t in e.tags))
             for e in readers.read("panx", PANX[1])]
    with pytest.raises(NoiseError):
        align.align(readers.read("panx", PANX[0]), wrong)


def test_malformed_published_rows_name_file_and_line(tmp_path):
    bad = tmp_path / "test_fr_typos_0.1.jsonl"
    bad.write_text('{"tokens": ["a"], "ner_tags": [0], "langs": ["fr"]}\n{"tokens": ["b"], "ner_tags": [9]}\n')
    with pytest.raises(DataError, match=r"test_fr_typos_0.1.jsonl:2: ner_tag 9"):
        readers.read("panx", bad)
    tsv = tmp_path / "test_de_typos_0.05.tsv"
    tsv.write_text("premise\thypothesis\tlabel\n'Ein Satz.'\tunquoted\t0\n")
    with pytest.raises(DataError, match=r":2: hypothesis 'unquoted', expected text wrapped"):
        readers.read("xnli_tsv", tsv)
    with pytest.raises(DataError, match="language 'de'"):
        readers.read("xnli_tsv", XNLI[1], language="fr")


# --- noise stats ----------------------------------------------------------------------------------


def test_noise_stats_json_contract(capsys):
    code, out, _ = run_cli(capsys, "noise", "stats", "--task", "panx", "--lang", "fr", "--clean", PANX[0],
                           "--noisy", PANX[1], "--json")
    found = json.loads(out)
    assert code == 0 and found["pairs"] == 500 and found["aligned"] >= 200
    assert set(found["edit_types"]) == set(EDIT_TYPES) and abs(sum(found["edit_types"].values()) - 1) < 1e-9
    assert set(found["position"]) == {"first", "inner", "last"}
    for key in ("changed_words", "keyboard_neighbour", "case_only"):
        assert 0 <= found[key] <= 1
    assert found["case_only"] > 0.2  # Wikipedia edits: many case changes (Communes -> communes)


def test_noise_stats_of_a_kind_and_a_set_that_does_not_align(capsys):
    code, out, _ = run_cli(capsys, "noise", "stats", "--task", "panx", "--lang", "fr", "--clean", PANX[0],
                           "--kind", "keyboard", "--level", "0.3", "--json")
    found = json.loads(out)
    assert code == 0 and found["edit_types"]["substitution"] == 1 and found["keyboard_neighbour"] == 1
    code, _, err = run_cli(capsys, "noise", "stats", "--task", "panx", "--lang", "de", "--clean",
                           str(REAL_DATA / "wikiann/de/test"), "--noisy", PANX[1])
    assert code == 2 and "no example aligns" in err and err.count("\n") == 1


@pytest.mark.parametrize("clean, noisy, kind, n", [
    ("le", "el", "transposition", 1), ("Le", "El", "multiple", 2), ("de", "des", "insertion", 1), ("J", "j", "substitution", 1),
    ("sicher", "sich", "multiple", 2), ("nicht", "nciht", "transposition", 1),
    ("भूरी", "भरी", "substitution", 1),  # भू -> भ is one cluster replaced, not a vowel sign deleted
])
def test_edits_are_damerau_levenshtein_operations_on_graphemes(clean, noisy, kind, n):
    edit = classify(clean, noisy)
    assert (edit.type, len(edit.ops)) == (kind, n)


# --- noise fit and the typo kind ----------------------------------------------------------------


@pytest.fixture(scope="module")
def fr_profile(tmp_path_factory):
    path = tmp_path_factory.mktemp("profiles") / "fr.json"
    args = SimpleNamespace(lang="fr", task="panx", clean=PANX[0], noisy=PANX[1], pairs=[])
    noisetools.write_profile(noisetools.fit(args), str(path))
    return str(path)


def total_variation(p: dict[str, float], q: dict[str, float]) -> float:
    """Half the L1 distance between two distributions over the same names."""
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def test_calibrated_typo_matches_the_real_edit_types(fr_profile):
    real = noisetools.stats(stats_args("panx", "fr", *PANX))
    distances = {}
    for kind in ("typo", "char", "keyboard"):
        made = noisetools.stats(stats_args("panx", "fr", PANX[0], kind=kind, level=0.2, profile=fr_profile))
        distances[kind] = total_variation(made["edit_types"], real["edit_types"])
    assert distances["typo"] <= 0.10 < distances["keyboard"] < distances["char"]


def test_typo_kind_is_deterministic_nested_and_stays_in_the_inventory(fr_profile):
    resources = NoiseResources(profiles={"fr": fr_profile})
    words = readers.read("panx", PANX[0])[5].words * 3
    runs = {level: perturb_words(words, "typo", level, lang="fr", seed=3, example_id="x", resources=resources)
            for level in (0.2, 0.2, 0.6)}
    low, high = runs[0.2], runs[0.6]
    changed = lambda p: {i for i, (a, b) in enumerate(zip(words, p.words)) if a != b}  # noqa: E731
    assert changed(low) <= changed(high) and all(low.words[i] == high.words[i] for i in changed(low))
    inventory = set(json.load(open(fr_profile, encoding="utf-8"))["tables"]["inventory"])
    for a, b in zip(words, high.words):
        new = set(graphemes.split(b)) - set(graphemes.split(a))
        assert all(g in inventory or g.swapcase() in inventory or not g.isalpha() for g in new), (a, b)


def test_a_sweep_names_profiles_and_their_content_is_in_the_stage_keys(tmp_path, fr_profile):
    profile = json.load(open(fr_profile, encoding="utf-8"))
    (tmp_path / "p.json").write_text(json.dumps(profile))
    noise = {"kinds": ["typo"], "levels": [0, 0.2], "profiles": {lang: "p.json" for lang in ("en", "cog", "cyr")}}
    sweep_file = write_sweep(tmp_path / "s.yaml", noise=noise)
    def keys(noisy):
        stages = plan.build(config.load(sweep_file)).stages.items()
        return {k for k, s in stages if s.phase == "eval" and (s.spec["noise"] != "clean") == noisy}

    before, clean = keys(True), keys(False)
    profile["tables"]["case_only"] = 0.5
    (tmp_path / "p.json").write_text(json.dumps(profile))
    assert before and not before & keys(True) and clean == keys(False)
    with pytest.raises(config.SweepError, match="noise.profiles: no file for language 'cog'"):
        config.load(write_sweep(tmp_path / "t.yaml", noise={**noise, "profiles": {"en": "p.json"}}))


def test_noise_fit_from_a_pairs_file_and_noise_show_profile(tmp_path, capsys):
    pairs = tmp_path / "de.tsv"
    pairs.write_text("nicht\tnciht\ngibt\tgiebt\ndarüber\tdrüber\nHilfe\thilfe\n", encoding="utf-8")
    out = tmp_path / "de.json"
    code, _, _ = run_cli(capsys, "noise", "fit", str(pairs), "--lang", "de-DE", "-o", str(out))
    assert code == 0 and json.loads(out.read_text())["lang"] == "de"
    code, text, err = run_cli(capsys, "noise", "show", "--kind", "typo", "--level", "1", "--lang", "de",
                              "--profile", str(out), "--protect", "-v", "nicht gibt darüber Hilfe")
    assert code == 0 and text.strip() != "nicht gibt darüber Hilfe" and f"out: {text.strip()}" in err


def test_lang_is_checked_with_bcp47_forms_mapped(capsys):
    assert languages.check("de-DE") == "de" and languages.check("pt_BR") == "pt" and languages.check("zh-Hant") == "zh"
    for bad in ("german", "xx"):
        code, _, err = run_cli(capsys, "noise", "show", "--kind", "keyboard", "--level", "0.5", "--lang", bad, "x")
        assert code == 2 and "not a language the noise knows" in err
    code, _, err = run_cli(capsys, "noise", "show", "--kind", "keyboard", "--level", "0.5", "--lang", "ka", "-v",
                           "ტექსტი")
    assert code == 0 and "keyboard layout: none for ka" in err


# --- the published sets as a noise condition ------------------------------------------------------


def real_sweep(tmp_path, **noise):
    local = {"mnli": {"dir": str(REAL_DATA / "nli"), "files": {"train": "mnli.jsonl", "dev": "snli.jsonl"}},
             "xnli": {"dir": str(REAL_DATA / "xnli"), "files": {"dev": {"path": "../nli/snli.jsonl", "format": "nli_jsonl"}}},
             "panx": str(REAL_DATA / "wikiann")}
    noise = {"kinds": ["char", "realtypos"], "levels": [0, 0.2],
             "published": {"panx": {"fr": str(NOISY)}, "xnli": {"de": str(NOISY / "xnli/test_de_typos_0.05.tsv")}},
             **noise}
    return write_sweep(tmp_path / "s.yaml", data={"source": "local", "train_size": 64, "dev_size": 16,
                                                  "test_size": 0, "local": local},
                       intermediate=["none"], targets=["xnli", "panx"],
                       languages={"xnli": ["de"], "panx": ["en", "fr"]}, noise=noise)


def test_a_published_set_is_evaluated_beside_its_aligned_clean_subset(tmp_path):
    p = plan.build(config.load(real_sweep(tmp_path)))
    evals = [s for s in p.stages.values() if s.phase == "eval"]
    published = {(s.spec["task"], s.spec["language"], s.spec["level"]) for s in evals if "published" in s.spec}
    assert published == {("panx", "fr", 0.0), ("panx", "fr", 0.1), ("xnli", "de", 0.0), ("xnli", "de", 0.05)}
    assert all(s.cells[0]["noise"] == "realtypos" for s in evals if "published" in s.spec)
    without = plan.build(config.load(real_sweep(tmp_path, kinds=["char"], published={})))
    assert {k for k, s in p.stages.items() if "published" not in s.spec} == set(without.stages)
    from ray_xr.tasks import load
    stage = next(s for s in evals if s.spec.get("published") and s.spec["task"] == "panx" and s.spec["level"])
    clean = load.load_split("panx", "test", "fr", stage.spec["data"])
    originals, noisy = load.published_condition(clean, "panx", stage.spec, p.sweep)
    assert len(originals) == len(noisy) >= 200 and all(a.tags == b.tags for a, b in zip(originals, noisy))
    assert 0.1 < load.realised_rate(originals, noisy, "fr", "realtypos") < 0.3


@pytest.fixture
def mirror(tmp_path):
    """A copy of paper_data/ (the samples in ../shared) served over HTTP on loopback."""
    import functools
    import http.server
    import shutil
    import threading

    root = tmp_path / "www"
    shutil.copytree(NOISY, root / "paper_data")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/paper_data"
    server.shutdown()


def test_the_release_is_planned_offline_with_its_pinned_checksum(tmp_path):
    from ray_xr.tasks import published
    p = plan.build(config.load(real_sweep(tmp_path, published={"panx": {"fr": "release"}, "xnli": {"de": "release"}})))
    specs = {(s.spec["task"], s.spec["level"]): s.spec["published"] for s in p.stages.values() if "published" in s.spec}
    assert set(specs) == {("panx", 0.0), ("panx", 0.1), ("xnli", 0.0), ("xnli", 0.05)}  # levels from the names
    assert specs["panx", 0.1] == {"file": "test_fr_typos_0.1.jsonl", "sha256": published.RELEASE_FILES["panx", "fr"][1]}
    assert published.find({"xnli": {"de": "release"}}, "xnli", "de")[0] == (
        published.RELEASE_URL + "/xnli/test_de_typos_0.05.tsv")
    with pytest.raises(config.SweepError, match=r"noise.published.panx.en: the published release has no panx set in 'en'"):
        config.load(real_sweep(tmp_path, published={"panx": {"en": "release"}}))


def test_a_mirror_is_downloaded_and_checked_against_the_release(tmp_path, mirror, monkeypatch):
    from ray_xr.tasks import published
    sets = {"panx": {"fr": mirror}}
    with pytest.raises(DataError, match=r"test_fr_typos_0.1.jsonl: SHA-256 .*expected c9748eda7e29"):
        published.fetch(sets, "panx", "fr")  # the sample is not the whole release file
    sample = NOISY / "panx/test_fr_typos_0.1.jsonl"
    import hashlib
    monkeypatch.setitem(published.RELEASE_FILES, ("panx", "fr"),
                        ("test_fr_typos_0.1.jsonl", hashlib.sha256(sample.read_bytes()).hexdigest()))
    path = published.fetch(sets, "panx", "fr")
    assert open(path, "rb").read() == sample.read_bytes()
    with pytest.raises(DataError, match=r"cannot download"):
        published.fetch({"xnli": {"hi": mirror}}, "xnli", "hi")  # the mirror lacks it


@pytest.mark.parametrize("noise, fragment", [
    ({"published": {}}, "noise.kinds: 'realtypos' reads published noisy test sets"),
    ({"published": {"panx": {"de": str(NOISY)}}}, "noise.published.panx.de: "),
    ({"published": {"udpos": {"de": str(NOISY)}}}, "noise.published.udpos: not a target"),
])
def test_published_mistakes_name_the_field(tmp_path, noise, fragment):
    with pytest.raises(config.SweepError) as err:
        config.load(real_sweep(tmp_path, **noise))
    assert fragment in str(err.value) and "\n" not in str(err.value)
