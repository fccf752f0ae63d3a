"""Every noise kind through the real command in one small sweep: typo and lexicon files, entity
protection, noise augmentation of the target training data, and the model-aware attack.

One Ray run (a single chain: no intermediate task), so that it stays well under two minutes.
"""
from __future__ import annotations

import csv
import json

import pytest

from ray_xr.noise import NOISE_KINDS
from tests.conftest import TINY, run_on, typo_profile, write_sweep

KINDS = ["char", "keyboard", "word", "realworld", "typo", "codeswitch", "attack"]
LANGUAGES = {"xnli": ["en", "cog"], "udpos": ["en", "cyr"]}
TYPOS = {
    "en": {"the": "teh", "a": "aa", "dog": "dgo", "house": "hosue", "sees": "sess", "old": "odl"},
    "cog": {"de": "dee", "a": "aa", "dog": "dgo", "hoese": "heose", "sees": "sess", "old": "odl"},
    "cyr": {"де": "дэ", "а": "аа", "дог": "дго", "хоесе": "хеосе", "сеес": "сесс", "олд": "одл"},
}
LEXICONS = {
    "en": {"the": "le", "a": "un", "dog": "chien", "house": "maison", "and": "et"},
    "cog": {"de": "the", "a": "a1", "dog": "dog2", "hoese": "house", "and": "und"},
    "cyr": {"де": "the", "а": "a", "дог": "dog", "хоесе": "house", "анд": "and"},
}


@pytest.fixture(scope="module")
def noise_run(tmp_path_factory, local_cluster):
    tmp = tmp_path_factory.mktemp("noise-pipeline")
    for lang in TYPOS:
        (tmp / f"typos.{lang}.tsv").write_text("".join(f"{w}\t{t}\n" for w, t in TYPOS[lang].items()), encoding="utf-8")
        (tmp / f"{lang}-xx.txt").write_text("".join(f"{w} {t}\n" for w, t in LEXICONS[lang].items()), encoding="utf-8")
    sweep = write_sweep(
        tmp / "noise.yaml", name="noise", intermediate=["none"], languages=LANGUAGES,
        data={**TINY["data"], "train_size": 256, "test_size": 16},
        target_training={**TINY["target_training"], "epochs": 3, "lr": 2e-3},
        noise={"kinds": KINDS, "levels": [0, 0.5], "protect_entities": True,
               "typo_files": {lang: f"typos.{lang}.tsv" for lang in TYPOS},  # relative to the sweep file
               "profiles": {lang: typo_profile(tmp / f"typos.{lang}.tsv", lang) for lang in TYPOS},
               "lexicon_files": {lang: str(tmp / f"{lang}-xx.txt") for lang in LEXICONS}},
        train_noise={"target": {"kind": "char", "level": 0.1}})
    result = run_on(local_cluster, sweep, tmp / "runs")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run_dir = tmp / "runs" / "noise"
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    return run_dir, records


def test_every_kind_has_its_records(noise_run):
    _, records = noise_run
    # a new kind belongs in this sweep; the published real-noise sets run in test_real_sample
    assert set(KINDS) == {k for k, spec in NOISE_KINDS.items() if not spec.published}
    assert len(records) == len(KINDS) * 2 * 4  # kinds x levels x (2 + 2 languages)
    assert {r["noise"] for r in records} == set(KINDS)
    for r in records:
        assert 0 <= r["value"] <= 100 and r["n"] == 16
    noisy = [r for r in records if r["level"] == 0.5]
    for r in noisy:
        if r["noise"] in ("char", "keyboard", "word"):
            assert r["realised_level"] > 0, r
    for kind in ("realworld", "codeswitch"):  # only words the files list are eligible
        assert all(0 < r["realised_level"] <= 0.5 for r in noisy if r["noise"] == kind)
    attacked = [r for r in noisy if r["noise"] == "attack"]
    assert all("attack_success_rate" in r and "attacked" in r for r in attacked)
    for r in attacked:
        assert (r["attack_success_rate"] is None) == (r["attacked"] == 0)
        assert r["attacked"] == 0 or r["realised_level"] > 0
    clean = {(r["target"], r["language"]): r["value"] for r in records if r["level"] == 0}
    for r in attacked:  # an attack never helps
        assert r["value"] <= clean[r["target"], r["language"]]


def test_stage_specs_carry_the_noise_options(noise_run):
    run_dir, _ = noise_run
    stages = [json.loads(p.read_text()) for p in (run_dir / "stages").glob("*/stage.json")]
    targets = [s for s in stages if s["phase"] == "target"]
    assert targets and all(s["spec"]["train_noise"]["kind"] == "char" for s in targets)
    assert all(0.05 < s["metrics"]["train_noise_realised_level"] < 0.15 for s in targets)
    evals = [s for s in stages if s["phase"] == "eval" and s["spec"]["level"]]
    assert all(s["spec"]["protect"] for s in evals)
    assert all(len(s["spec"]["resource_sha256"]) == 64 for s in evals if s["spec"]["noise"] in ("realworld", "typo", "codeswitch"))
    # the keyboard each evaluation typed on, or what stood in for a language without one
    notes = {(s["spec"]["noise"], s["spec"]["language"]): s["metrics"].get("noise_note") for s in evals}
    assert notes["keyboard", "en"] == notes["attack", "en"] == "keyboard layout: en"
    assert notes["keyboard", "cyr"].startswith("keyboard layout: none for cyr")
    assert all(note is None for (kind, _), note in notes.items() if kind not in ("keyboard", "attack"))


def test_report_shows_each_kind_as_its_own_columns(noise_run):
    run_dir, _ = noise_run
    md = (run_dir / "report" / "robustness.md").read_text()
    for kind in KINDS:
        assert f"xnli {kind} 0.5" in md and f"udpos {kind} 0.5" in md
    assert "| xnli clean |" in md or " xnli clean |" in md
    assert "## Attack success rate" in md
    rows = list(csv.DictReader((run_dir / "report" / "robustness.csv").open()))
    assert {r["noise"] for r in rows} == set(KINDS)
    assert all(r["attack_success_rate"] for r in rows if r["noise"] == "attack" and r["level"] != "0.0"
               and r["target"] == "xnli")
    per_language = list(csv.DictReader((run_dir / "report" / "per_language.csv").open()))
    assert "attack_success_rate" in per_language[0]
