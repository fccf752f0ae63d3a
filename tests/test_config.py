"""Sweep validation: every user mistake is one line naming the field, exit code 2."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ray_xr.plan import config
from tests.conftest import TINY, ray_xr, write_sweep


def parse(**overrides):
    return config.parse({**TINY, **overrides}, "s.yaml")


def test_tiny_sweep_is_valid_and_frozen():
    sweep = parse()
    assert sweep.targets == ("xnli", "udpos")
    assert sweep.noise.levels == (0.0, 0.5)
    with pytest.raises(Exception):
        sweep.name = "other"


@pytest.mark.parametrize("overrides, fragment", [
    ({"epochs": 3}, "s.yaml: epochs: unknown key"),
    ({"noise": {"kinds": ["char"], "levels": [0, 1.5]}}, "noise.levels: noise level 1.5 is outside [0, 1]"),
    ({"targets": ["xnli", "nope"]}, "targets: unknown task 'nope'"),
    ({"intermediate": []}, "intermediate: the grid is empty"),
    ({"seeds": []}, "seeds: the grid is empty"),
    ({"noise": {"kinds": ["gremlins"]}}, "noise.kinds: unknown kind 'gremlins'"),
    ({"languages": {"xnli": ["klingon"]}}, "languages.xnli: ['klingon'] not among"),
    ({"target_training": {"epochs": "three"}}, "target_training.epochs: Input should be a valid integer"),
    ({"targets": ["mnli"]}, "targets: task 'mnli' has no 'synthetic' data source"),
    ({"target_training": {"max_length": 512}}, "target_training.max_length exceeds embedded.max_positions"),
    ({"resources": {"workers": -1}}, "resources.workers: Input should be greater than or equal to 0"),
    # two ranks of one NCCL group on one GPU: "Duplicate GPU detected" (ray-project/ray#48012)
    ({"resources": {"workers": 2, "use_gpu": True, "gpus_per_worker": 0.5}},
     "resources: gpus_per_worker 0.5 with workers 2 may put two ranks of one NCCL group on one GPU"),
    ({"intermediate": ["nli", {"name": "nli_half", "task": "nli", "trainsize": 0.5}]},
     "intermediate.1.trainsize: unknown key (did you mean 'train_size'?)"),
    ({"intermediate": ["nli", {"name": "x", "task": "nli", "intermediate_training": {"epoch": 1}}]},
     "intermediate.1.intermediate_training.epoch: unknown key (did you mean 'epochs'?)"),
    ({"intermediate": ["nli", {"name": "ner", "task": "nli"}]}, "intermediate.1.name: 'ner' is a task's name"),
    ({"intermediate": ["nli", {"name": "x", "task": "nli"}, {"name": "x", "task": "ner"}]},
     "intermediate: x listed more than once"),
    ({"intermediate": [{"name": "x", "task": "nope"}]}, "intermediate: unknown task 'nope'"),
])
def test_mistakes_name_the_field(overrides, fragment):
    with pytest.raises(config.SweepError) as err:
        parse(**overrides)
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_a_fraction_of_a_gpu_is_for_single_worker_stages():
    assert parse(resources={"workers": 1, "use_gpu": True, "gpus_per_worker": 0.5}).resources.gpus_per_worker == 0.5


def test_missing_name_is_reported():
    data = dict(TINY)
    del data["name"]
    with pytest.raises(config.SweepError, match="name: required key is missing"):
        config.parse(data, "s.yaml")


def test_cli_bad_sweep_exits_2_with_one_line(tmp_path):
    bad = write_sweep(tmp_path / "bad.yaml", noise={"kinds": ["char"], "levels": [0, 2]})
    for command in ("plan", "run"):
        result = ray_xr(command, str(bad))
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "noise.levels" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_cli_unreadable_yaml_and_missing_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    result = ray_xr("plan", str(broken))
    assert result.returncode == 2 and "not valid YAML" in result.stderr
    result = ray_xr("plan", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2 and "no such sweep file" in result.stderr
    result = ray_xr("plan", str(tmp_path))
    assert result.returncode == 2 and "cannot read the sweep file" in result.stderr and "Traceback" not in result.stderr


# --- noise resources and train_noise ------------------------------------------------------------

LANGS = ("en", "cog", "cyr")


@pytest.fixture
def typo_file(tmp_path):
    path = tmp_path / "typos.tsv"
    path.write_text("the\tteh\n", encoding="utf-8")
    return path


def test_noise_files_are_resolved_against_the_sweep_file(tmp_path, typo_file):
    noise = {"kinds": ["realworld"], "levels": [0, 0.2], "typo_files": {lang: "typos.tsv" for lang in LANGS}}
    sweep = config.load(write_sweep(tmp_path / "s.yaml", noise=noise))
    assert sweep.noise.typo_files["cog"] == str(typo_file)


@pytest.mark.parametrize("noise, fragment", [
    ({"kinds": ["realworld"], "typo_files": {"en": "missing.tsv"}}, "noise.typo_files.en: no such file: "),
    ({"kinds": ["realworld"], "typo_files": {"en": "typos.tsv"}},
     "noise.typo_files: no file for language 'cog', which noise kind 'realworld' runs in"),
    ({"kinds": ["codeswitch"]}, "noise.lexicon_files: no file for language 'cog'"),
    ({"kinds": ["realworld"], "typo_files": {lang: "bad.tsv" for lang in LANGS}}, "noise.typo_files.cog: "),
])
def test_noise_file_mistakes_name_the_field(tmp_path, typo_file, noise, fragment):
    (tmp_path / "bad.tsv").write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(config.SweepError) as err:
        config.load(write_sweep(tmp_path / "s.yaml", noise={"levels": [0, 0.2], **noise}))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_attack_on_a_family_it_cannot_attack_fails_before_anything_runs():
    with pytest.raises(config.SweepError, match=r"noise.kinds: 'attack' applies to classification and tagging tasks, "
                                                r"not to xquad \(qa\), lareqa \(ranking\)"):
        parse(targets=["xnli", "xquad", "lareqa"], languages={}, noise={"kinds": ["attack"], "levels": [0, 0.2]})
    parse(targets=["xnli", "panx"], languages={}, noise={"kinds": ["attack"], "levels": [0, 0.2]})


def test_resource_kinds_at_level_zero_only_need_no_files():
    parse(noise={"kinds": ["realworld", "codeswitch"], "levels": [0]})


@pytest.mark.parametrize("train_noise, fragment", [
    ({"target": {"kind": "attack", "level": 0.1}}, "train_noise.target.kind: 'attack' needs a trained model"),
    ({"target": {"kind": "typpo", "level": 0.1}}, "train_noise.target.kind: unknown kind 'typpo'"),
    ({"target": {"kind": "char", "level": 0}}, "train_noise.target.level"),
    ({"pretrain": {"kind": "char", "level": 0.1}}, "train_noise.pretrain"),
    ({"target": {"kind": "realworld", "level": 0.1}}, "noise.typo_files: no file for language 'en'"),
])
def test_train_noise_mistakes(train_noise, fragment):
    with pytest.raises(config.SweepError, match=fragment.replace("(", r"\(")):
        parse(train_noise=train_noise)


def test_cli_missing_typo_file_fails_before_anything_runs(tmp_path):
    bad = write_sweep(tmp_path / "s.yaml", noise={"kinds": ["realworld"], "levels": [0, 0.2],
                                                   "typo_files": {"en": "nowhere.tsv"}})
    result = ray_xr("run", str(bad), "--storage", str(tmp_path / "runs"))
    assert result.returncode == 2 and "noise.typo_files.en: no such file" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_relative_paths_are_relative_to_the_sweep_file(tmp_path, monkeypatch):
    """One rule for every path in a sweep, whatever the working directory."""
    folder = tmp_path / "sweeps"
    (tmp_path / "models" / "xlmr").mkdir(parents=True)
    (folder / "typos").mkdir(parents=True)
    (folder / "typos" / "cog.tsv").write_text("dog\tdgo\n")
    path = folder / "s.yaml"
    path.write_text(yaml.safe_dump({**TINY, "model": "../models/xlmr", "data": {
        "source": "synthetic", "local": {"mewslix": "../data/mewslix", "squad": {"dir": "~/squad"}}},
        "noise": {"kinds": ["char"], "levels": [0, 0.5], "typo_files": {"cog": "typos/cog.tsv"}}}))
    monkeypatch.chdir(tmp_path / "models")
    sweep = config.load(path)
    assert sweep.model == str(tmp_path / "models" / "xlmr")
    assert sweep.data.local["mewslix"].dir == str(tmp_path / "data" / "mewslix")
    assert sweep.data.local["squad"].dir == str(Path("~/squad").expanduser())
    assert sweep.noise.typo_files["cog"] == str(folder / "typos" / "cog.tsv")
    hub = config.parse({**TINY, "model": "FacebookAI/xlm-roberta-large"}, "s.yaml", folder)
    assert hub.model == "FacebookAI/xlm-roberta-large"  # no such folder: a hub name
