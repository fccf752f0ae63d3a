"""User mistakes end in one line that names the field or file and suggests the fix, exit 2,
never a traceback; the command line tells what it knows (version, tasks, noise kinds)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, TINY, ray_xr


def plan_of(tmp_path: Path, **overrides) -> subprocess.CompletedProcess:
    path = tmp_path / "s.yaml"
    sweep = {k: v for k, v in {**TINY, **overrides}.items() if v is not None}
    path.write_text(yaml.safe_dump(sweep))
    return ray_xr("plan", str(path))


@pytest.mark.parametrize("overrides, message", [
    ({"seed": [1], "seeds": None}, "seed: unknown key (did you mean 'seeds'?)"),
    ({"intermediate": ["mnlli"]}, "intermediate: unknown task 'mnlli' (did you mean 'mnli'?); known: "),
    ({"targets": ["xnil"]}, "targets: unknown task 'xnil' (did you mean 'xnli'?); known: "),
    ({"target_training": {"warmpu": 0.1}}, "target_training.warmpu: unknown key (did you mean 'warmup'?)"),
    ({"noise": {"kinds": ["chr"]}}, "noise.kinds: unknown kind 'chr' (did you mean 'char'?)"),
    ({"seeds": [1, 1]}, "seeds: 1 listed more than once"),
    ({"name": ".."}, "name: '..' is not a folder name"),
    ({"targets": None}, "targets: required key is missing"),
])
def test_a_sweep_mistake_is_one_line_with_the_fix(tmp_path, overrides, message):
    result = plan_of(tmp_path, **overrides)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"ray-xr: error: {tmp_path / 's.yaml'}: {message}"), result.stderr
    assert "(top level)" not in result.stderr


def test_a_binary_sweep_file_is_one_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\x00\xff\xfe binary")
    result = ray_xr("plan", str(path))
    assert result.returncode == 2
    assert result.stderr == f"ray-xr: error: {path}: not UTF-8 text; expected a YAML sweep file\n"


def test_an_unknown_task_in_data_show_suggests_the_name(tmp_path):
    result = ray_xr("data", "show", "xnil", str(tmp_path / "x.tsv"))
    assert result.returncode == 2
    assert result.stderr.startswith("ray-xr: error: unknown task 'xnil' (did you mean 'xnli'?)")


def test_version_tasks_and_noise_kinds_are_listed():
    version = ray_xr("--version")
    assert version.returncode == 0 and version.stdout.startswith("ray-xr ")
    tasks = ray_xr("tasks")
    assert tasks.returncode == 0
    rows = {line.split()[0]: line.split() for line in tasks.stdout.splitlines()}
    assert rows["xnli"][1:3] == ["classification", "accuracy"] and "de" in rows["xnli"]
    kinds = ray_xr("noise", "kinds")
    assert kinds.returncode == 0
    assert {line.split()[0] for line in kinds.stdout.splitlines()} == {
        "char", "keyboard", "word", "realworld", "typo", "realtypos", "codeswitch", "attack"}


def test_output_into_a_closed_pipe_ends_quietly():
    """`ray-xr plan ... | head -1`, where the reader is gone before ray-xr writes (here `true`, which
    exits at once while ray-xr starts): no BrokenPipeError traceback."""
    exe = Path(sys.executable).with_name("ray-xr")
    result = subprocess.run(f"'{exe}' plan sweeps/local.yaml | true", cwd=REPO, shell=True, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_a_missing_data_file_is_named_as_missing(tmp_path):
    missing = tmp_path / "test.tsv"
    result = ray_xr("data", "show", "xnli", str(missing))
    assert result.returncode == 2
    assert result.stderr == f"ray-xr: error: {missing}: no such file\n"


def test_a_tatoeba_pair_of_two_language_pairs_is_refused(tmp_path):
    """Both sides have three lines, so only the LASER names tell that they do not align."""
    deu, fra = tmp_path / "tatoeba.deu-eng.deu", tmp_path / "tatoeba.fra-eng.eng"
    deu.write_text("Hallo.\nDanke.\nTschüss.\n")
    fra.write_text("Hello.\nThanks.\nBye.\n")
    result = ray_xr("data", "show", "tatoeba", str(deu), str(fra))
    assert result.returncode == 2
    assert result.stderr == (f"ray-xr: error: {fra}: the English side of the pair fra-eng, expected that of"
                             f" deu-eng (the pair of {deu.name})\n")


def test_an_unreachable_hub_fails_at_once_in_one_line(tmp_path):
    """Unreachable, `datasets` retries each file for minutes; the probe answers in seconds. Port 9
    of this machine refuses connections, as a hub behind a firewall or without network does."""
    for command in (("data", "fetch"), ("run", "--storage", str(tmp_path / "runs"))):
        result = ray_xr(*command, "sweeps/nli_vs_ner.yaml", env={"HF_ENDPOINT": "http://127.0.0.1:9"}, timeout=60)
        assert result.returncode == 2, result.stderr
        assert result.stderr.count("\n") == 1 and "Retrying" not in result.stderr
        assert result.stderr.startswith("ray-xr: error: sweeps/nli_vs_ner.yaml: the Hugging Face hub"
                                        " (http://127.0.0.1:9) cannot be reached")
        assert "HF_ENDPOINT" in result.stderr and "HF_HUB_OFFLINE=1" in result.stderr
    assert "the model xlm-roberta-large" in result.stderr  # `run` loads the model from it too
    assert not (tmp_path / "runs").exists()
    # offline on purpose: no probe, the cache answers (here: it lacks the files, one line says so)
    offline = ray_xr("data", "fetch", "sweeps/nli_vs_ner.yaml", timeout=120,
                     env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert offline.returncode == 2 and offline.stderr.count("\n") == 1, offline.stderr
    assert "cannot be reached" not in offline.stderr and "Traceback" not in offline.stderr
    # `data check` resolves hub splits against the registry's table: no network at all
    check = ray_xr("data", "check", "sweeps/nli_vs_ner.yaml", timeout=120, env={"HF_ENDPOINT": "http://127.0.0.1:9"})
    assert check.returncode == 0, check.stderr


def fake_run(folder: Path, cells: list[tuple[str, int]], source: str = "hub", cap: int = 0) -> Path:
    """A run folder with one finished clean xnli/de evaluation (5 items) per (intermediate, seed)."""
    for i, (intermediate, seed) in enumerate(cells):
        stage = folder / "stages" / f"k{i}"
        (stage / "predictions").mkdir(parents=True)
        (stage / "predictions" / "test-de.tsv").write_text("entailment\n" * 5)
        (stage / "stage.json").write_text(json.dumps({
            "phase": "eval", "status": "done", "metrics": {"result": {"n": 5}},
            "spec": {"task": "xnli", "language": "de", "level": 0, "data": {"source": source, "sizes": {"test": cap}}},
            "cells": [{"intermediate": intermediate, "seed": seed}]}))
    return folder


@pytest.mark.parametrize("cells, args, message", [
    ([], ("--intermediate", "none"), "{run}: no such run folder (expected the folder `ray-xr run` writes,"
                                     " <storage>/<sweep name>, with stages/ in it)"),
    ([("none", 1), ("nli", 1), ("nli", 2)], ("--intermediate", "ner"),
     "{run}: no finished clean predictions after intermediate task 'ner'; the run has: nli (seed 1, 2); none (seed 1)"),
    ([("none", 1)], ("--intermediate", "none", "--seed", "3"),
     "{run}: no finished clean predictions after intermediate task 'none' with seed 3; the run has: none (seed 1)"),
    ([("nli", 1), ("nli", 2)], ("--intermediate", "nli"),
     "{run}: several seeds evaluated xnli/de after 'nli'; pick one with --seed (the run has seeds 1, 2)"),
])
def test_export_mistakes_say_what_the_run_has(tmp_path, cells, args, message):
    run = fake_run(tmp_path / "run", cells) if cells else tmp_path / "missing"
    result = ray_xr("export", str(run), str(tmp_path / "out"), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == f"ray-xr: error: {message.format(run=run)}\n"


def test_export_into_a_file_is_one_line(tmp_path):
    run = fake_run(tmp_path / "run", [("none", 1)])
    out = tmp_path / "out.txt"
    out.write_text("not a folder")
    result = ray_xr("export", str(run), str(out))
    assert result.returncode == 2
    assert result.stderr == f"ray-xr: error: {out}: a file, expected a folder for the prediction files (new or existing)\n"
    under = ray_xr("export", str(run), str(out / "sub"))
    assert under.returncode == 2 and under.stderr.startswith(f"ray-xr: error: {out / 'sub' / 'xnli'}")
    assert under.stderr.count("\n") == 1 and "Traceback" not in under.stderr


def test_export_of_the_synthetic_benchmark_is_not_capped(tmp_path):
    """Its test sets are generated at data.test_size: there is no fuller gold file to fail against."""
    run = fake_run(tmp_path / "run", [("none", 1)], source="synthetic", cap=5)
    result = ray_xr("export", str(run), str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "xnli" / "test-de.tsv").read_text() == "entailment\n" * 5
