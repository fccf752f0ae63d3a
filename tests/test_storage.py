"""A run folder in object storage (a real S3-compatible server on loopback: moto's), read and
written by RunDir as the driver, the workers and the report do, from two "machines" (two local
caches), and the one-line errors of a storage URI that cannot work. The sweep itself runs in a
bucket in tests/test_multinode.py (two nodes, each with its own cache, one of them killed)."""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from ray_xr.errors import RunLockedError
from ray_xr.plan import Stage
from ray_xr.run import lease as lease_module
from ray_xr.run.lease import Lease, check
from ray_xr.stages import RunDir
from ray_xr.storage import join, redact
from tests.conftest import free_port, other_versions, ray_xr, write_sweep


@pytest.fixture
def machines(s3, tmp_path, monkeypatch):
    """Two RunDirs of one bucket folder, as two nodes see it (each with its own local cache)."""
    for k, v in s3["env"].items():
        monkeypatch.setenv(k, v)
    where = join(s3["uri"], tmp_path.name)

    def machine(name: str) -> RunDir:
        monkeypatch.setenv("RAY_XR_CACHE", str(tmp_path / name))
        return RunDir(where)

    return machine("a"), machine("b")


def stage(key: str, parent: str | None = None) -> Stage:
    return Stage(key=key, phase="target", label=f"target {key}", parent=parent, spec={"task": "xnli"}, cells=())


def test_a_finished_stage_goes_up_with_its_files_and_another_node_reads_them(machines):
    a, b = machines
    assert a.root != b.root and a.where == b.where
    a.write_stage(stage("k1"), "running", {}, git_sha=None)
    assert b.read_stage("k1")["status"] == "running" and not b.is_done("k1")
    a.model_dir("k1").mkdir(parents=True)
    (a.model_dir("k1") / "model.safetensors").write_bytes(b"weights" * 1000)
    (a.stage_dir("k1") / "outcomes.parquet").write_bytes(b"outcomes")
    a.checkpoint_dir("k1").mkdir()
    (a.checkpoint_dir("k1") / "latest.json").write_text('{"folder": "x"}')
    a.write_stage(stage("k1"), "done", {}, {"result": 1}, git_sha=None)
    assert b.is_done("k1") and b.done() == {"k1"}
    assert not b.model_dir("k1").exists()  # nothing heavy is copied until a stage reads it
    assert (b.fetch_model("k1") / "model.safetensors").read_bytes() == b"weights" * 1000
    assert not b.bucket.exists("stages/k1/checkpoint/latest.json")  # a checkpoint never goes up with a result
    assert b.fetch_model("k1") == b.model_dir("k1")  # kept: read once per node
    (a.model_dir("k1") / "model.safetensors").write_bytes(b"retrained")  # --rerun: the stage runs again
    a.write_stage(stage("k1"), "done", {}, {"result": 2}, git_sha=None)
    assert (b.fetch_model("k1") / "model.safetensors").read_bytes() == b"retrained"  # never the old copy
    b.pull()  # what a report reads
    assert (b.stage_dir("k1") / "outcomes.parquet").read_bytes() == b"outcomes"
    assert not b.checkpoint_dir("k1").exists()


def test_a_checkpoint_resumes_on_another_node_and_only_the_newest_is_kept(machines):
    a, b = machines
    for name, data in (("e0-s10", b"first"), ("e1-s0", b"second")):
        (a.checkpoint_dir("k2") / name).mkdir(parents=True)
        (a.checkpoint_dir("k2") / name / "model.safetensors").write_bytes(data)
        (a.checkpoint_dir("k2") / "latest.json").write_text(f'{{"folder": "{name}"}}')
        a.push_checkpoint("k2")
    assert sorted(a.bucket.files("stages/k2/checkpoint")) == ["stages/k2/checkpoint/e1-s0/model.safetensors",
                                                              "stages/k2/checkpoint/latest.json"]
    (b.checkpoint_dir("k2") / "stale").mkdir(parents=True)  # left by an earlier attempt on this node
    b.pull_checkpoint("k2")
    assert (b.checkpoint_dir("k2") / "latest.json").read_text() == '{"folder": "e1-s0"}'
    assert (b.checkpoint_dir("k2") / "e1-s0" / "model.safetensors").read_bytes() == b"second"
    a.clear_checkpoint("k2")
    assert not a.bucket.files("stages/k2")
    b.pull_checkpoint("k2")  # the bucket has none: neither has the node
    assert not b.checkpoint_dir("k2").exists()


def test_records_failure_marks_and_text_files_live_in_the_bucket(machines):
    a, b = machines
    a.write_json("sweep.json", {"name": "x"})
    assert b.read_text("sweep.json").startswith("{")
    a.mark_failed("k3")
    assert b.has_failed("k3")
    b.clear_failed()
    assert not a.has_failed("k3")
    assert b.read_text("no-such-file") is None and b.records() == {}


def test_an_object_replaced_while_it_is_read_is_read_whole(machines):
    """A stage record replaced (running, then the longer done record) while nodes read it."""
    a, _ = machines
    bodies = [b"r" * 3000, b"d" * 5000]
    stop = time.monotonic() + 3

    def replace():
        i = 0
        while time.monotonic() < stop:
            a.bucket.write("stages/k/stage.json", bodies[i % 2])
            i += 1

    writer = threading.Thread(target=replace)
    writer.start()
    reads = []
    while time.monotonic() < stop:
        reads.append(a.bucket.read("stages/k/stage.json"))
    writer.join()
    assert len(reads) > 20 and set(reads) <= {None, *bodies}


def test_an_aggregator_restarted_mid_run_keeps_what_it_acknowledged(machines):
    """On the head node, results.jsonl goes up to the bucket only with each report: a restarted
    actor rebuilds from the head's copy, while a new run starts from the bucket's."""
    from ray_xr.run.aggregator import Aggregator

    a, _ = machines
    cells = {f"e{i}": [{"intermediate": "none", "target": "xnli", "seed": 1, "noise": "char", "level": 0.0,
                        "language": "en"}] for i in range(2)}
    record = {"metric": "accuracy", "value": 50.0, "n": 4}
    started = time.time()
    first = Aggregator(a.where, "tiny", "en", cells, started)
    first.write_report()  # the bucket has no record yet, and the next report is 10 s away
    first.record([{**cells["e0"][0], "stage": "e0", **record}])
    assert not a.bucket.read("results.jsonl")
    restarted = Aggregator(a.where, "tiny", "en", cells, started)
    assert len(restarted.records) == 1
    assert Aggregator(a.where, "tiny", "en", cells, time.time() + 1).records == {}  # the next run: the bucket's


def test_a_storage_uri_that_cannot_work_is_one_line(s3, sweep_file, tmp_path):
    port = free_port()  # nothing listens there
    cases = {
        "foo://bucket/runs": "Unrecognized filesystem type",
        s3["uri"].replace("s3://ray-xr/", "s3://no-such-bucket/"): "no bucket named 'no-such-bucket'",
        f"s3://ray-xr/runs?endpoint_override=http://127.0.0.1:{port}&region=us-east-1": "Could not connect",
    }
    for uri, expected in cases.items():
        result = ray_xr("run", str(sweep_file), "--storage", uri, cwd=tmp_path, env=s3["env"], timeout=120)
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.startswith(f"ray-xr: error: --storage {uri}: ") and expected in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not any(Path(tmp_path).glob("*:"))  # never a local folder named "s3:" or "foo:"


def test_reading_a_run_from_a_storage_uri_that_cannot_work_is_one_line(s3):
    missing = s3["uri"].replace("s3://ray-xr/", "s3://no-such-bucket/")
    for args in (("report", "foo://bucket/runs/tiny"), ("status", "s3://"), ("export", missing, "out")):
        result = ray_xr(*args, env=s3["env"], timeout=120)
        assert result.returncode == 2 and result.stderr.startswith(f"ray-xr: error: {args[1]}: "), result.stderr[-2000:]
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_bucket_lease_keeps_a_second_driver_out_until_the_first_releases_it(machines):
    a, b = machines
    first = Lease(a)
    first.acquire()
    try:
        assert json.loads(b.read_text("lease.json"))["run_id"] == first.run_id
        with pytest.raises(RunLockedError, match=r"another `ray-xr run` is using this run folder \(run "
                                                 + first.run_id[:8]):
            Lease(b).acquire()
        check(b, first.run_id)  # the aggregator's check: its run holds the folder
    finally:
        first.release()
    assert b.read_text("lease.json") is None  # released at once, not when it expires
    second = Lease(b)
    second.acquire()
    second.release()


def test_two_drivers_taking_a_bucket_lease_at_once_leave_one_holder(machines):
    """No conditional write through pyarrow.fs: a write, read back after SETTLE_S."""
    leases, errors = [Lease(m) for m in machines], []

    def take(lease):
        try:
            lease.acquire()
        except RunLockedError as err:
            errors.append(str(err))

    threads = [threading.Thread(target=take, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    holders = [lease for lease in leases if lease._thread]  # the heartbeat of the one that holds it
    assert len(holders) == 1 and len(errors) == 1, errors
    assert json.loads(machines[0].read_text("lease.json"))["run_id"] == holders[0].run_id
    holders[0].release()


def test_a_dead_drivers_lease_expires_and_its_heartbeat_then_finds_it_lost(machines, monkeypatch):
    a, b = machines
    monkeypatch.setattr(lease_module, "EXPIRES_S", 1.0)
    monkeypatch.setattr(lease_module, "HEARTBEAT_S", 0.2)
    dead = Lease(a)
    dead.acquire()
    dead._stop.set()  # it stops beating, as a killed driver does
    dead._thread.join()
    time.sleep(1.5)  # > EXPIRES_S since its last beat
    taker = Lease(b)
    taker.acquire()
    try:
        with pytest.raises(RunLockedError, match="no longer holds the run folder"):
            check(a, dead.run_id)
        assert not dead.beat()
        assert dead.lost and "another `ray-xr run` took over this run folder" in dead.lost
        assert json.loads(b.read_text("lease.json"))["run_id"] == taker.run_id  # the loser wrote nothing
    finally:
        taker.release()
        dead.release()


def test_status_reads_the_keys_the_run_recorded_from_a_machine_with_other_versions(s3, tmp_path, monkeypatch):
    """The nodes ran the sweep with their library versions; a laptop with other versions, and
    without the cluster's noise file, reads the run's true progress: it never builds the plan."""
    from ray_xr import plan
    from ray_xr.plan import config

    for k, v in s3["env"].items():
        monkeypatch.setenv(k, v)
    typos = tmp_path / "typos.tsv"
    typos.write_text("the\tteh\nand\tadn\n")
    sweep = write_sweep(tmp_path / "tiny.yaml", train_noise={"target": {"kind": "realworld", "level": 0.2}},
                        noise={"kinds": ["char"], "levels": [0, 0.5], "typo_files": {"en": str(typos)}})
    p = plan.build(config.load(sweep))
    run = RunDir(join(s3["uri"], tmp_path.name))
    run.write_json("plan.json", plan.recorded(p))
    run.write_json("sweep.json", config.to_dict(p.sweep))
    trained = [s for s in p.stages.values() if s.phase != "eval"]
    for stage in trained:
        run.write_stage(stage, "done", {}, started=1.0, git_sha=None)
    run.write_stage(next(s for s in p.stages.values() if s.phase == "eval"), "running", {}, started=2.0, git_sha=None)
    laptop = {**s3["env"], **other_versions(tmp_path), "RAY_XR_CACHE": str(tmp_path / "laptop")}
    rebuilt = ray_xr("plan", str(sweep), env=laptop)  # the plan built there has other keys
    assert rebuilt.returncode == 0 and trained[0].phase == "pretrain" and trained[0].key not in rebuilt.stdout
    typos.unlink()  # on the cluster's disk only
    result = ray_xr("status", run.where, "--json", env=laptop)
    assert result.returncode == 0, result.stderr[-2000:]
    phases = json.loads(result.stdout)["phases"]
    assert {ph: c["done"] for ph, c in phases.items()} == {ph: p.count(ph) if ph != "eval" else 0 for ph in phases}
    assert phases["eval"] == {"done": 0, "running": 1, "interrupted": 0, "failed": 0, "todo": p.count("eval") - 1,
                              "total": p.count("eval")}


def test_redacted_storage_uris():
    assert redact("s3://KEY:SECRET@bucket/runs?endpoint_override=http://h:9000&secret_key=s&access_key=a"
                  "&session_token=t&region=r") == ("s3://***@bucket/runs?endpoint_override=http://h:9000"
                                                    "&secret_key=***&access_key=***&session_token=***&region=r")
    assert redact("gs://bucket/runs?access_token=t") == "gs://bucket/runs?access_token=***"
    assert redact("s3://") == "s3://" and redact("runs") == "runs"


def test_a_folder_on_this_machines_disk_for_a_cluster_is_one_line(sweep_file, tmp_path):
    """An autoscaling cluster's GPU nodes come later: the probes could not vouch for them."""
    storage = tmp_path / "runs"
    result = ray_xr("run", str(sweep_file), "--address", "127.0.0.1:1", "--storage", str(storage), timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    assert result.stderr.startswith(f"ray-xr: error: --storage {storage}: on a cluster (--address) results must go"
                                    f" where every node sees them, and {storage} is on this machine's own disk (")
    assert "--storage-shared" in result.stderr and not storage.exists()


def test_a_stage_waits_for_a_running_parent_but_not_for_one_that_never_shows_up(tmp_path, monkeypatch):
    """A trial started early waits in wait_for_parent; a node that sees no record of the parent
    (another disk, a parent that never started) stops after PARENT_RECORD_S instead of holding
    its resources forever."""
    from types import SimpleNamespace

    from ray_xr.errors import ClusterError
    from ray_xr.run import worker

    monkeypatch.setattr(worker, "PARENT_RECORD_S", 0.5)
    w = SimpleNamespace(run=RunDir(tmp_path))  # what wait_for_parent reads: the run folder
    with pytest.raises(ClusterError, match=r"the stage it reads, p1, has neither run nor finished after 0 s"):
        worker.wait_for_parent(w, stage("k1", parent="p1"))
    w.run.write_stage(stage("p2"), "running", {}, git_sha=None)
    # past the deadline
    finisher = threading.Timer(1.5, lambda: w.run.write_stage(stage("p2"), "done", {}, git_sha=None))
    finisher.start()
    worker.wait_for_parent(w, stage("k2", parent="p2"))
    assert w.run.is_done("p2")
