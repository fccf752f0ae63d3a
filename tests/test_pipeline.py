"""End to end through the real command: Ray Tune trials (each running its stages in its own
process: resources.workers = 0; Ray Train worker groups in test_resume.py and test_ddp.py), the
aggregator actor, results.jsonl, the report, a rerun that trains nothing, and a changed sweep rerun
under the same name (resume after interruptions: test_resume.py). The runs join one cluster of
the session (conftest.local_cluster); those of test_resume.py and test_ddp.py start their own.

The sweep is tiny so that the whole module runs in a few minutes on 2 cores.
"""
from __future__ import annotations

import csv
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ray_xr import stages
from tests.conftest import REPO, TINY, ray_xr, run_on, write_sweep

EXPECTED_RECORDS = 2 * (2 + 2) * 2  # intermediates x (languages of xnli + udpos) x levels


def stage_records(run_dir: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (run_dir / "stages").glob("*/stage.json")}


def finished_training(run_dir: Path) -> dict[str, float]:
    return {k: s["finished"] for k, s in stage_records(run_dir).items() if s["phase"] != "eval"}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, local_cluster):
    tmp = tmp_path_factory.mktemp("pipeline")
    sweep = write_sweep(tmp / "tiny.yaml")
    result = run_on(local_cluster, sweep, tmp / "runs")
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


def test_every_stage_records_the_drivers_git_sha(finished_run):
    """The driver's commit in every stage.json, in those the workers wrote too: a worker never
    asks git (a cluster node's install has no checkout); the driver sends its answer."""
    _, run_dir, _ = finished_run
    head = stages.git_sha(stages.PACKAGE)
    if head is None:
        pytest.skip(f"{stages.PACKAGE} is no git checkout's tracked code here: null is what a stage records")
    assert {s["provenance"]["git_sha"] for s in stage_records(run_dir).values()} == {head}


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_sha_is_the_checkouts_commit_or_null(tmp_path):
    """A package that is a checkout's tracked code has its commit; the same code outside any
    checkout, or installed into a folder the checkout ignores (a .venv), has none."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    for package in (tmp_path / "ray_xr", tmp_path / ".venv" / "site-packages" / "ray_xr"):
        package.mkdir(parents=True)
        (package / "__init__.py").write_text("")
    (tmp_path / ".gitignore").write_text(".venv/\n")
    assert stages.git_sha(tmp_path / "ray_xr") is None  # no checkout yet
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "code")
    assert stages.git_sha(tmp_path / "ray_xr") == git("rev-parse", "HEAD")
    assert stages.git_sha(tmp_path / ".venv" / "site-packages" / "ray_xr") is None


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


def test_the_run_folder_holds_what_the_readme_contract_lists(finished_run):
    """Every path of the run-directory contract (docs/architecture.md) is in a finished run (the lock and the
    lease only while a run holds them, a checkpoint only while its stage is unfinished,
    smoke.json only in a `--smoke` run's folder: tests/test_smoke.py)."""
    _, run_dir, _ = finished_run
    block = (REPO / "docs/architecture.md").read_text(encoding="utf-8").split("## The run directory (contract)")[1]
    listed = [line.split()[0] for line in block.split("```")[1].splitlines()
              if line.startswith("  ") and not line.startswith("   ")]
    assert {"report/xtreme_r.md", "cache/features/", "report/robustness.md"} <= set(listed)
    missing = [path for path in listed
               if path not in (".lock", "lease.json", "stages/<key>/checkpoint/", "smoke.json")
               and not any(run_dir.glob(path.replace("<key>", "*").rstrip("/")))]
    assert not missing, missing
    assert not (run_dir / "lease.json").exists() and not (run_dir / ".probe").exists()  # gone with the run


def test_outcomes_rebuild_every_recorded_value(finished_run):
    """Each evaluation's outcomes.parquet, recomputed to its metric, gives the value in
    results.jsonl (accuracy for xnli, seqeval F1 from per-sentence tp/fp/fn for udpos)."""
    import pyarrow.parquet as pq

    from ray_xr.metrics import METRICS, from_outcomes

    _, run_dir, _ = finished_run
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    for r in records:
        columns = pq.read_table(run_dir / "stages" / r["stage"] / "outcomes.parquet").to_pydict()
        assert len(columns["example_id"]) == r["n"]
        assert from_outcomes(METRICS[r["metric"]], columns) == pytest.approx(r["value"], abs=1e-9), r
    udpos = next(r["stage"] for r in records if r["target"] == "udpos")
    assert {"tp", "fp", "fn"} <= set(pq.read_table(run_dir / "stages" / udpos / "outcomes.parquet").column_names)


def test_statistics_report_and_status(finished_run):
    _, run_dir, _ = finished_run
    out = run_dir / "report"
    summary = json.loads((out / "summary.json").read_text())
    assert {(c["a"], c["b"]) for c in summary["comparisons"]} == {("nli", "none")}
    assert summary["headline"] and summary["progress"]["eta_s"] == 0.0
    rows = list(csv.DictReader((out / "robustness.csv").open()))
    assert all(float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"]) for r in rows)
    for name in ("comparisons.csv", "robustness.tex", "report.html", "plots/score_xnli.png", "plots/gain_udpos.png"):
        assert (out / name).exists(), name
    status = ray_xr("status", str(run_dir), "--json")
    assert status.returncode == 0, status.stderr
    phases = json.loads(status.stdout)["phases"]
    evals = sum(s["phase"] == "eval" for s in stage_records(run_dir).values())
    assert all(p["done"] == p["total"] for p in phases.values()) and phases["eval"]["total"] == evals


def test_second_run_trains_nothing(finished_run):
    sweep, run_dir, _ = finished_run
    before = finished_training(run_dir)
    results_before = (run_dir / "results.jsonl").read_text()
    again = ray_xr("run", str(sweep), "--storage", str(run_dir.parent))
    assert again.returncode == 0, again.stderr[-3000:]
    assert finished_training(run_dir) == before
    assert "trial(s)" not in again.stdout  # no trial was launched
    assert "trains each intermediate task with one seed" in again.stdout  # and says what one seed cannot
    assert (run_dir / "results.jsonl").read_text() == results_before


def test_an_address_where_nothing_answers_is_one_line(sweep_file, tmp_path):
    """Ray itself retries an unreachable host:port for many minutes (the subprocess timeout
    fails the test if the run waits on it)."""
    result = ray_xr("run", str(sweep_file), "--address", "127.0.0.1:1", "--storage", str(tmp_path / "runs"),
                    "--storage-shared", timeout=120)
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr.strip() == ("ray-xr: error: --address 127.0.0.1:1: nothing answers there; start the cluster"
                                     " (`ray up`, or `ray start --head` on its head node) or check the address")


def test_a_changed_sweep_re_evaluates_what_changed_and_reuses_the_rest(finished_run, local_cluster, tmp_path):
    """Results are a view of the plan: after target_training.lr changes, every record comes from
    a new target model and the report shows the new numbers, while the stages whose keys did not
    change (pretraining, intermediate) are not run again. This run groups by stage (how the
    stages are grouped enters no key): a trial per target stage, not per chain."""
    import shutil

    _, run_dir, _ = finished_run
    storage = tmp_path / "runs"
    shutil.copytree(run_dir, storage / "tiny")

    def cells(path: Path) -> dict[tuple, dict]:
        fields = ("intermediate", "target", "seed", "noise", "level", "language")
        return {tuple(r[k] for k in fields): r for r in map(json.loads, path.read_text().splitlines())}

    def table(folder: Path) -> list[dict]:
        return list(csv.DictReader((folder / "report" / "robustness.csv").open()))

    before, report_before = cells(run_dir / "results.jsonl"), table(run_dir)
    kept = {k: s["finished"] for k, s in stage_records(run_dir).items() if s["phase"] in ("pretrain", "intermediate")}
    changed = write_sweep(tmp_path / "tiny.yaml", target_training={**TINY["target_training"], "lr": 2e-3},
                          resources={**TINY["resources"], "group_by": "stage"})
    result = run_on(local_cluster, changed, storage)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    after = cells(storage / "tiny" / "results.jsonl")
    assert after.keys() == before.keys()
    assert all(after[c]["stage"] != before[c]["stage"] for c in after)  # no number of the old models is left
    assert any(after[c]["value"] != before[c]["value"] for c in after)
    assert table(storage / "tiny") != report_before
    records = stage_records(storage / "tiny")
    assert {k: records[k]["finished"] for k in kept} == kept
    assert json.loads((storage / "tiny" / "timing.json").read_text())["trials"] == 4  # 2 chains x 2 targets


def test_each_trial_reports_its_epochs_to_tune(finished_run):
    """A trial that runs its stages in its own process (resources.workers = 0) reports every
    training epoch to Tune, as a worker group does: the dashboard shows them per trial."""
    _, run_dir, _ = finished_run
    trials = list((run_dir / "ray" / "tiny").glob("trial_*/result.json"))
    epochs = [json.loads(line) for t in trials for line in t.read_text().splitlines()]
    assert len(trials) == 3  # pretrain, none-s1, nli-s1
    assert len(epochs) == 1 + 1 + 4 * 2  # pretraining, intermediate nli, 4 targets of 2 epochs
    assert all(e["tokens_per_s"] > 0 for e in epochs)


def test_a_stage_that_raises_fails_its_trial_in_one_line_and_status_says_failed(local_cluster, tmp_path):
    """A model whose positions are fewer than the target phase's max_length (a model folder, as a
    hub snapshot is): its target stage refuses at once; the run exits 1 with one line per failed
    trial and no traceback (Tune's stay in its logs; -v shows them), and `status` counts the
    stage that had begun as failed, not interrupted."""
    from ray_xr.run.models import new_masked_lm, train_tokenizer

    model = tmp_path / "short-model"
    tokenizer = train_tokenizer([f"sentence number {i} of a few words" for i in range(200)], 100)
    new_masked_lm({"hidden_size": 16, "layers": 1, "heads": 2, "intermediate_size": 32, "max_positions": 16},
                  tokenizer).mlm.save_pretrained(model)
    tokenizer.save_pretrained(model)
    sweep = write_sweep(tmp_path / "short.yaml", model=str(model), intermediate=["none"], targets=["xnli"],
                        languages={"xnli": ["en", "cog"]}, resources={**TINY["resources"], "max_failures": 0})
    result = run_on(local_cluster, sweep, tmp_path)
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    failed = result.stdout.split("ray-xr: failed trials:\n")[1].splitlines()[0]
    assert failed.startswith("  none-s1: ") and failed.endswith(
        f"SweepError: target_training.max_length: {TINY['target_training']['max_length']} tokens, but the model"
        f" {model} takes at most 16; set it to 16 or less"), failed
    assert "target xnli <- none seed 1 (failed: starts again)" in result.stdout
    status = json.loads(ray_xr("status", str(tmp_path / "tiny"), "--json").stdout)
    assert status["run"]["state"] == "failed" and status["phases"]["target"]["failed"] == 1, status
