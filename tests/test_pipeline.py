"""End to end through the real command: Ray Tune trials, Ray Train TorchTrainers, the aggregator
actor, results.jsonl, the report, a rerun that trains nothing, and resume after an interruption.

The sweep is tiny so that the whole module runs in a few minutes on 2 cores.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, write_sweep, ray_xr

EXPECTED_RECORDS = 2 * (2 + 2) * 2  # intermediates x (languages of xnli + udpos) x levels


def stage_records(run_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (run_dir / "stages").glob("*/stage.json")}


def finished_training(run_dir: Path) -> dict[str, float]:
    return {k: s["finished"] for k, s in stage_records(run_dir).items() if s["phase"] != "eval"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipeline")
    sweep = write_sweep(tmp / "tiny.yaml")
    result = ray_xr("run", str(sweep), "--storage", str(tmp / "runs"))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return sweep, tmp / "runs" / "tiny", result


def test_results_jsonl_has_one_record_per_cell_and_language(finished_run):
    _, run_dir, _ = finished_run
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    assert len(records) == EXPECTED_RECORDS
    keys = {(r["intermediate"], r["target"], r["seed"], r["noise"], r["level"], r["language"]) for r in records}
    assert len(keys) == EXPECTED_RECORDS
    for r in records:
        assert {"intermediate", "target", "seed", "noise", "level", "language", "metric", "value", "n"} <= set(r)
        assert 0 <= r["value"] <= 100 and r["n"] == 24
        assert r["metric"] == {"xnli": "accuracy", "udpos": "seqeval_f1"}[r["target"]]
    assert {r["language"] for r in records if r["target"] == "xnli"} == {"en", "cog"}
    assert {r["level"] for r in records} == {0, 0.5}
    noisy = [r for r in records if r["level"] == 0.5]
    assert all(0.3 < r["realised_level"] <= 0.6 for r in noisy)


def test_every_stage_has_a_folder_with_provenance(finished_run):
    _, run_dir, _ = finished_run
    stages = stage_records(run_dir)
    phases = [s["phase"] for s in stages.values()]
    assert phases.count("pretrain") == 1 and phases.count("intermediate") == 1 and phases.count("target") == 4
    for key, s in stages.items():
        assert s["status"] == "done" and s["key"] == key
        assert s["provenance"]["versions"]["torch"] and s["sweep"]["name"] == "tiny"
    for key, s in stages.items():
        if s["phase"] in ("pretrain", "intermediate", "target"):
            assert (run_dir / "stages" / key / "model" / "config.json").exists()
        if s["phase"] == "target":
            assert s["metrics"]["best_dev_score"] >= 0 and s["metrics"]["tokens_per_s"] > 0


def test_report_tables(finished_run):
    _, run_dir, result = finished_run
    md = (run_dir / "report" / "robustness.md").read_text()
    assert "| none |" in md and "| nli |" in md
    assert md.index("| none |") < md.index("| nli |")
    assert "xnli char 0.5" in md
    rows = list(csv.DictReader((run_dir / "report" / "robustness.csv").open()))
    assert {r["intermediate"] for r in rows} == {"none", "nli"}
    assert all(r["languages"] == "1" for r in rows)  # English is not averaged in
    per_language = list(csv.DictReader((run_dir / "report" / "per_language.csv").open()))
    assert len(per_language) == EXPECTED_RECORDS
    assert "report written to" in result.stdout
    rendered = ray_xr("report", str(run_dir))
    assert rendered.returncode == 0 and "| none |" in rendered.stdout


def test_second_run_trains_nothing(finished_run):
    sweep, run_dir, _ = finished_run
    before = finished_training(run_dir)
    results_before = (run_dir / "results.jsonl").read_text()
    again = ray_xr("run", str(sweep), "--storage", str(run_dir.parent))
    assert again.returncode == 0, again.stderr[-3000:]
    assert finished_training(run_dir) == before
    assert "wave" not in again.stdout  # no trial was launched
    assert (run_dir / "results.jsonl").read_text() == results_before


def test_resume_after_interruption(tmp_path):
    sweep = write_sweep(tmp_path / "tiny.yaml", intermediate=["nli"], targets=["xnli"], languages={"xnli": ["en", "cog"]})
    run_dir = tmp_path / "runs" / "tiny"
    exe = Path(sys.executable).with_name("ray-xr")
    proc = subprocess.Popen([str(exe), "run", str(sweep), "--storage", str(tmp_path / "runs")], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while not any(s["phase"] == "intermediate" and s["status"] == "done" for s in stage_records(run_dir).values()):
        assert proc.poll() is None and time.time() < deadline, "the run ended before it could be interrupted"
        time.sleep(0.5)
    # The hardest interruption: no clean-up at all. The local cluster's processes share the run's
    # process group, so this ends them too, and never touches another Ray instance on the machine.
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = finished_training(run_dir)
    assert {s["phase"] for k, s in stage_records(run_dir).items() if k in done_before} >= {"pretrain", "intermediate"}
    resumed = ray_xr("run", str(sweep), "--storage", str(tmp_path / "runs"))
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    after = finished_training(run_dir)
    for key, finished in done_before.items():
        if finished is not None:
            assert after[key] == finished, f"stage {key} was trained again"
    records = (run_dir / "results.jsonl").read_text().splitlines()
    assert len(records) == 2 * 2  # languages x levels, each once


def test_an_address_where_nothing_answers_is_one_line(sweep_file, tmp_path):
    """Ray itself retries an unreachable host:port for many minutes (the subprocess timeout
    fails the test if the run waits on it)."""
    result = ray_xr("run", str(sweep_file), "--address", "127.0.0.1:1", "--storage", str(tmp_path / "runs"),
                    timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == ("ray-xr: error: --address 127.0.0.1:1: nothing answers there; start the cluster"
                                     " (`ray up`, or `ray start --head` on its head node) or check the address")
