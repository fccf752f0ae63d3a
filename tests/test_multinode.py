"""A real two-node Ray cluster on this machine (`ray start --head`, then a second `ray start
--address` with CPUs of its own), joined as users join one (token authentication). The CHAINS
sweep (conftest) runs on both nodes, and its worker node is killed mid-training (its raylet and its
workers, by PID), then its aggregator actor (by PID) during the evaluations: the lost stage
restarts on the head from its checkpoint, the aggregator restarts and rebuilds itself, and the run
ends with the undisturbed reference's results, byte for byte. The run folder is in a bucket (a
real S3-compatible server on loopback: conftest.s3) and each node has a local cache of its own,
so nothing passes between the nodes through a shared disk: the restarted stage reads its
checkpoint from the bucket, a rerun trains nothing, and the report renders from the bucket.
A third node, whose disk is not the head's, stops a run on a local folder in one line: the
storage probe.

Each node has one CPU and the sweep has two chains, so worker groups run on both nodes (Ray may
otherwise pack every worker group onto one node); each stage record names the node it ran on.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from ray_xr.cli import section
from ray_xr.stages import RunDir
from ray_xr.storage import join
from tests.conftest import (CHAINS, RAY, REPO, add_node, freeze, kill_node, ray_cluster, ray_xr, raylet, seed_stages,
                            write_sweep)
from tests.test_resume import frozen_when, wait_for

@pytest.fixture(scope="module")
def cluster(s3, tmp_path_factory):
    caches = tmp_path_factory.mktemp("node-caches")
    # a cache per node, as on two machines; the GCS declares a node dead after 3 failed health
    # checks 1 s apart, not Ray's default 5 checks 3 s apart: the killed node is found sooner,
    # and is handled the same way
    env = {**s3["env"], "RAY_XR_CACHE": str(caches / "head"), "RAY_health_check_period_ms": "1000",
           "RAY_health_check_failure_threshold": "3"}
    with ray_cluster(env, cpus=1) as head:
        worker_port = add_node(head, {"RAY_XR_CACHE": str(caches / "worker")}, cpus=1)
        yield {**head, "worker_port": worker_port, "caches": caches}


def start_on(cluster: dict, sweep: Path, storage: Path | str) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("ray-xr")
    return subprocess.Popen([str(exe), "run", str(sweep), "--storage", str(storage), "--address", cluster["address"]],
                            cwd=REPO, env=cluster["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def ray_list(cluster: dict, what: str, *args: str) -> list[dict]:
    """Ray's state API, as `ray list` prints it: live and dead, with the node of each."""
    result = subprocess.run([str(RAY), "list", what, "--format", "json", "--limit", "1000", "--address",
                             cluster["address"], *args], capture_output=True, text=True, env=cluster["env"],
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    return write_sweep(tmp_path_factory.mktemp("chains") / "chains.yaml", **CHAINS)


def aggregator_on(head_port: int) -> psutil.Process | None:
    """The run's aggregator actor: a process of the head node's raylet, by its Ray title."""
    for child in raylet(head_port).children(recursive=True):
        try:
            if "Aggregator" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def test_losing_the_worker_node_and_the_aggregator_loses_nothing_in_a_bucket(cluster, s3, sweep, chains_reference,
                                                                             tmp_path, monkeypatch):
    head_node, worker_node = (next(n["node_id"] for n in ray_list(cluster, "nodes") if n["is_head_node"] == head)
                              for head in (True, False))
    storage = join(s3["uri"], tmp_path.name)
    for name, value in {**s3["env"], "RAY_XR_CACHE": str(tmp_path / "observer")}.items():
        monkeypatch.setenv(name, value)  # this test's process: a third machine with the bucket's credentials
    seed_stages(chains_reference, join(storage, "tiny"), ("pretrain",))  # the run starts with the two chains
    proc = start_on(cluster, sweep, storage)
    run = RunDir(join(storage, "tiny"))  # the bucket as a third machine sees it

    def training_on_the_worker_node_with_a_checkpoint():
        return any(s["phase"] in ("intermediate", "target") and s["status"] == "running"
                   and s.get("node") == worker_node and run.bucket.exists(f"stages/{k}/checkpoint/latest.json")
                   for k, s in run.records().items())

    # the worker node stopped once that holds, and asked again: the kill lands mid-training
    frozen_when(training_on_the_worker_node_with_a_checkpoint, lambda: raylet(cluster["worker_port"]), proc,
                "a stage training on the worker node", timeout=600)
    kill_node(cluster["worker_port"])
    wait_for(lambda: any(s["phase"] == "eval" and s["status"] == "done" for s in run.records().values()),
             proc, "the first evaluation", timeout=600)
    aggregator = wait_for(lambda: aggregator_on(cluster["head_port"]), proc, "the aggregator actor")
    freeze(aggregator)  # the run cannot end while it is stopped (its driver waits on it): killed mid-run
    assert proc.poll() is None, "the run ended before its aggregator was stopped"
    aggregator.kill()
    out, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-4000:]
    resumed = [s for s in run.records().values() if s["metrics"].get("resumed_from_step") is not None
               or s["metrics"].get("resumed_from_epoch") is not None]
    assert resumed, "no stage resumed from its checkpoint"
    assert run.read_text("results.jsonl").encode() == (chains_reference / "results.jsonl").read_bytes()
    actors = ray_list(cluster, "actors", "--detail")
    assert {a["node_id"] for a in actors if a["class_name"] == "RayTrainWorker"} == {head_node, worker_node}
    assert list((cluster["caches"] / "worker").glob("runs/*/stages/*"))  # the worker node used its own cache
    assert not any(Path(REPO).glob("s3:*"))
    # one Tune experiment, named after the sweep, with one trial per unfinished group (the chains)
    experiments = [p for p in run.bucket.files("ray") if p.count("/") == 2 and "/experiment_state-" in p]
    assert [p.split("/")[1] for p in experiments] == ["tiny"]
    trials = {p.split("/")[2] for p in run.bucket.files("ray/tiny") if p.split("/")[2].startswith("trial_")}
    assert sorted(t.split("name=")[1].split(",")[0] for t in trials) == ["nli-s1", "none-s1"]
    timing = json.loads(run.read_text("timing.json"))
    assert timing["trials"] == 2 and 0 < timing["fixed_overhead_share"] < 1
    assert {a["node_id"] for a in actors if a["class_name"] == "Aggregator"} == {head_node}

    again = ray_xr("run", str(sweep), "--storage", storage, "--address", cluster["address"], env=cluster["env"])
    assert again.returncode == 0 and "every stage has finished already" in again.stdout, again.stderr[-2000:]
    laptop = ray_xr("report", run.where, env={**s3["env"], "RAY_XR_CACHE": str(tmp_path / "laptop")})
    assert laptop.returncode == 0, laptop.stderr[-2000:]
    scores = [section(p, "Scores") for p in (chains_reference / "report" / "robustness.md",
                                             next((tmp_path / "laptop").glob("runs/*/report/robustness.md")))]
    assert scores[0] == scores[1] and run.bucket.exists("report/robustness.md")


def test_joining_without_the_token_says_how_to_get_it(cluster, sweep, tmp_path):
    env = {k: v for k, v in cluster["env"].items() if k != "RAY_AUTH_MODE"}
    env["RAY_NUM_REDIS_GET_RETRIES"] = "3"  # ray.init gives up after 3 refused attempts, not 20 (20 s)
    result = ray_xr("run", str(sweep), "--storage", str(tmp_path), "--address", cluster["address"], env=env,
                    timeout=300)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ray-xr: error: --address") and "RAY_AUTH_MODE=token" in last
    assert "ray get-auth-token" in last and "Traceback" not in result.stderr


def test_a_run_without_address_beside_a_running_cluster_says_to_join_it(cluster, sweep, tmp_path):
    ray_tmp = {"RAY_TMPDIR": cluster["env"]["RAY_TMPDIR"]}  # where this machine's `ray start` left its address
    assert Path(ray_tmp["RAY_TMPDIR"], "ray", "ray_current_cluster").exists()
    result = ray_xr("run", str(sweep), "--storage", str(tmp_path), timeout=300, env=ray_tmp)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "--address auto" in result.stderr.strip().splitlines()[-1] and "Traceback" not in result.stderr


def test_a_disk_one_node_does_not_share_stops_the_run_in_one_line(cluster, sweep, tmp_path):
    """A third node (no CPUs: only the probe goes there) sees an empty disk of its own where the
    run folder is (a tmpfs in a mount namespace of its own), as a machine without the shared file
    system does: the run ends in one line before any trial starts. Last in the module: once
    killed, the node stays in the cluster's list of nodes, where the kill test looks for "the"
    worker node."""
    disk = tmp_path / "disk"
    disk.mkdir()
    own_disk = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
                'mount -t tmpfs node-disk "$0" && exec "$@"', str(disk))
    if subprocess.run([*own_disk, "true"], capture_output=True).returncode != 0:
        pytest.skip("needs a mount namespace (unshare --mount, as root) for a node with a disk of its own")
    node = add_node(cluster, {}, cpus=0, prefix=own_disk)
    try:
        result = ray_xr("run", str(sweep), "--storage", str(disk / "runs"), "--address", cluster["address"],
                        env=cluster["env"], timeout=300)
    finally:
        kill_node(node)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ray-xr: error: --storage {disk / 'runs' / 'tiny'}: not the same storage on every node")
    assert "a different disk" in last and "shared file system" in last and "Traceback" not in result.stderr
    assert not (disk / "runs" / "tiny" / "ray").exists()  # no Tune experiment started
