"""A real multi-node Ray cluster on this machine, shaped as the shipped cluster.yaml: a head node
that offers no CPU (`ray start --head --num-cpus 0`), on which the driver, the aggregator, every
trial's own actor and Ray Train's controllers must still be scheduled, and two worker nodes with
one CPU each; joined as users join one (token authentication).

- A worker group of two ranks spanning both worker nodes (one chain of the CHAINS sweep, conftest)
  loses rank 0's node mid-epoch; a new node joins and the group resumes from the bucket's
  checkpoint; the aggregator actor is killed (by PID) during the evaluations and rebuilds
  itself; a second driver on the same bucket folder ends in one line meanwhile; the run ends
  with the results of an undisturbed run, byte for byte.
- The run's status and report, read on a "laptop" with other library versions, show its true
  progress and leave the bucket's report alone unless told to publish.
- A node whose disk is not the head's stops a run on a local folder in one line: at the start
  (the driver's probe) and when it joins later (its worker group's probe).

The run folders are in a bucket (a real S3-compatible server on loopback: conftest.s3) and each
node has a local cache of its own, so nothing passes between nodes through a shared disk.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ray_xr.cli.main import section
from ray_xr.stages import RunDir
from ray_xr.storage import join
from tests.conftest import (CHAINS, RAY, REPO, add_node, freeze, kill_node, on_cluster, other_versions, ray_cluster,
                            ray_xr, raylet, seed_stages, thaw, write_sweep)
from tests.test_resume import wait_for

# One chain whose target stage trains on two ranks, one on each worker node (one CPU each); two
# dev batches of 16, one a rank (dev scoring through the DDP wrapper needs as many on each rank)
SPANNING = {**CHAINS, "intermediate": ["none"], "data": {**CHAINS["data"], "dev_size": 32},
            "resources": {**CHAINS["resources"], "workers": 2, "max_failures": 3}}


@pytest.fixture(scope="module", autouse=True)
def bucket_credentials(s3):
    """This process reads and seeds the bucket too, as a machine with its credentials."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in s3["env"].items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def cluster(s3, tmp_path_factory):
    caches = tmp_path_factory.mktemp("node-caches")
    # a cache per node, as on separate machines; the GCS declares a node dead after 3 failed
    # health checks 1 s apart, not Ray's default 5 checks 3 s apart: the killed node is found
    # sooner, and is handled the same way
    env = {**s3["env"], "RAY_XR_CACHE": str(caches / "head"), "RAY_health_check_period_ms": "1000",
           "RAY_health_check_failure_threshold": "3"}
    with ray_cluster(env, cpus=0) as head:  # as cluster.yaml's head: resources {CPU: 0, GPU: 0}
        head["caches"] = caches
        for _ in range(2):
            worker_node(head)
        yield head


def worker_node(cluster: dict, cpus: int = 1, prefix: tuple[str, ...] = ()) -> int:
    """A worker node with a cache of its own (a new machine); its --node-manager-port."""
    n = len(cluster["node_ports"])
    return add_node(cluster, {"RAY_XR_CACHE": str(cluster["caches"] / f"node{n}")}, cpus=cpus, prefix=prefix)


def node_id(port: int) -> str:
    """The Ray node id of the node started with this --node-manager-port."""
    return next(a.split("=", 1)[1] for a in raylet(port).cmdline() if a.startswith("--node_id="))


def start_on(cluster: dict, sweep: Path, storage: Path | str, env: dict | None = None) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("ray-xr")
    return subprocess.Popen([str(exe), "run", str(sweep), *on_cluster(cluster, storage)], cwd=REPO,
                            env={**cluster["env"], **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def ray_list(cluster: dict, what: str, *args: str) -> list[dict]:
    """Ray's state API, as `ray list` prints it: live and dead, with the node of each."""
    result = subprocess.run([str(RAY), "list", what, "--format", "json", "--limit", "1000", "--address",
                             cluster["address"], *args], capture_output=True, text=True, env=cluster["env"],
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    return [] if result.stdout.startswith("No resource") else json.loads(result.stdout)


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


def head_actors_ask_for_no_cpu(cluster: dict) -> set[str]:
    """The classes of every actor placed on the head node, each of which asked for no CPU or GPU
    (the head offers none: an actor that asked would never have been scheduled)."""
    head = next(n["node_id"] for n in ray_list(cluster, "nodes") if n["is_head_node"])
    on_head = [a for a in ray_list(cluster, "actors", "--detail") if a.get("node_id") == head]
    asking = [a["class_name"] for a in on_head
              if any((a.get("required_resources") or {}).get(r) for r in ("CPU", "GPU"))]
    assert not asking, asking
    return {a["class_name"] for a in on_head}


@pytest.fixture(scope="module")
def spanning(cluster, s3, chains_reference, tmp_path_factory) -> dict:
    """The SPANNING sweep and its undisturbed run in the bucket (the pretraining seeded from the
    reference: its key does not depend on the workers)."""
    folder = tmp_path_factory.mktemp("spanning")
    sweep = write_sweep(folder / "spanning.yaml", **SPANNING)
    storage = join(s3["uri"], folder.name)
    seed_stages(chains_reference, join(storage, "tiny"), ("pretrain",))
    result = ray_xr("run", str(sweep), *on_cluster(cluster, storage), env=cluster["env"])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = RunDir(join(storage, "tiny"), reader=True)
    (folder / "robustness.md").write_bytes(run.bucket.read("report/robustness.md"))  # as the run wrote it
    return {"sweep": sweep, "run": run, "folder": folder}


def test_losing_a_node_of_a_worker_group_spanning_two_and_the_aggregator_loses_nothing(cluster, s3, spanning,
                                                                                        chains_reference, tmp_path,
                                                                                        monkeypatch):
    """Rank 0's node is lost mid-epoch, after a checkpoint; a new node joins (as an autoscaler's
    would) and the group resumes on it and the survivor, every rank's random state coming from
    the bucket; then the aggregator actor is killed during the evaluations. Meanwhile a second
    driver on the same bucket folder, from another machine, ends in one line. The run ends with
    the undisturbed run's results, byte for byte, and a rerun trains nothing."""
    storage = join(s3["uri"], tmp_path.name)
    monkeypatch.setenv("RAY_XR_CACHE", str(tmp_path / "observer"))  # this process: a machine of its own
    seed_stages(chains_reference, join(storage, "tiny"), ("pretrain",))
    workers = {node_id(port): port for port in cluster["node_ports"][1:] if raylet_alive(port)}
    assert len(workers) == 2
    proc = start_on(cluster, spanning["sweep"], storage)
    run = RunDir(join(storage, "tiny"))  # the bucket as this machine sees it

    def mid_epoch():  # the target stage, with a checkpoint taken within an epoch: rank 0's node
        for key, s in run.records().items():
            latest = run.read_text(f"stages/{key}/checkpoint/latest.json") if s["phase"] == "target" else None
            if s["status"] == "running" and latest and not json.loads(latest)["folder"].endswith("-s0"):
                return s["node"]
        return None

    while True:  # both worker nodes stopped once that holds, and asked again: the kill lands mid-epoch
        wait_for(mid_epoch, proc, "a checkpoint within an epoch", timeout=600)
        stopped = [p for port in workers.values() for p in freeze(raylet(port))]
        lost = mid_epoch()
        if lost:
            break
        thaw(stopped)
    kill_node(workers[lost])
    thaw(stopped)  # the survivor goes on
    # the group cannot start again before a node joins: meanwhile a second driver tries the folder
    second = ray_xr("run", str(spanning["sweep"]), *on_cluster(cluster, storage),
                    env={**cluster["env"], "RAY_XR_CACHE": str(tmp_path / "second-machine")}, timeout=300)
    new = node_id(worker_node(cluster))
    wait_for(lambda: any(s["phase"] == "eval" and s["status"] == "done" for s in run.records().values()),
             proc, "the first evaluation", timeout=600)
    aggregator = wait_for(lambda: aggregator_on(cluster["head_port"]), proc, "the aggregator actor")
    freeze(aggregator)  # the run cannot end while it is stopped (its driver waits on it): killed mid-run
    assert proc.poll() is None, "the run ended before its aggregator was stopped"
    aggregator.kill()
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, out[-3000:] + err[-3000:]
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1, second.stderr[-2000:]
    assert "another `ray-xr run` is using this run folder (run " in second.stderr
    target = next(s for s in run.records().values() if s["phase"] == "target")
    assert target["metrics"].get("resumed_from_epoch") is not None and target["node"] != lost, target
    print(f"resumed at epoch {target['metrics']['resumed_from_epoch'] + 1},"
          f" step {target['metrics']['resumed_from_step']}")
    assert run.read_text("results.jsonl") == spanning["run"].read_text("results.jsonl")
    weights = f"stages/{target['key']}/model/model.safetensors"  # scores at chance: the weights tell a wrong resume
    assert run.bucket.read(weights) == spanning["run"].bucket.read(weights)
    actors = ray_list(cluster, "actors", "--detail")
    assert {a["node_id"] for a in actors if a["class_name"] == "RayTrainWorker"} == set(workers) | {new}
    # the driver's, Tune's and Train's actors all ran on the head, which offers no CPU
    assert {"Aggregator", "TrainController", "ImplicitFunc"} <= head_actors_ask_for_no_cpu(cluster)
    assert not any(Path(REPO).glob("s3:*"))
    # one Tune experiment, named after the sweep, with one trial per unfinished group
    experiments = [p for p in run.bucket.files("ray") if p.count("/") == 2 and "/experiment_state-" in p]
    assert [p.split("/")[1] for p in experiments] == ["tiny"]
    trials = {p.split("/")[2] for p in run.bucket.files("ray/tiny") if p.split("/")[2].startswith("trial_")}
    assert [t.split("name=")[1].split(",")[0] for t in trials] == ["none-s1"]
    timing = json.loads(run.read_text("timing.json"))
    assert timing["trials"] == 1 and 0 < timing["fixed_overhead_share"] < 1
    again = ray_xr("run", str(spanning["sweep"]), *on_cluster(cluster, storage), env=cluster["env"])
    assert again.returncode == 0 and "every stage has finished already" in again.stdout, again.stderr[-2000:]


def test_status_and_report_from_a_laptop_with_other_versions_read_the_run_and_leave_its_report(s3, spanning,
                                                                                            tmp_path):
    run = spanning["run"]
    laptop = {**s3["env"], **other_versions(tmp_path), "RAY_XR_CACHE": str(tmp_path / "laptop")}
    rebuilt = ray_xr("plan", str(spanning["sweep"]), env=laptop)  # the laptop's own keys are other keys
    assert rebuilt.returncode == 0 and not set(run.records()) & set(rebuilt.stdout.split())
    status = ray_xr("status", run.where, "--json", env=laptop)
    assert status.returncode == 0, status.stderr[-2000:]
    phases = json.loads(status.stdout)["phases"]
    assert phases and all(c["done"] == c["total"] > 0 for c in phases.values()), phases
    before = run.bucket.files("report")  # every object's size and modification time
    report = ray_xr("report", run.where, env=laptop)
    assert report.returncode == 0, report.stderr[-2000:]
    assert "the run's report in the bucket is unchanged: --publish replaces it" in report.stdout
    assert run.bucket.files("report") == before
    laptop_copy = next((tmp_path / "laptop").glob("runs/*/report/robustness.md"))
    assert section(laptop_copy, "Scores") == section(spanning["folder"] / "robustness.md", "Scores")
    published = ray_xr("report", run.where, "--publish", env=laptop)
    assert published.returncode == 0 and run.bucket.files("report")["report/robustness.md"] != before[
        "report/robustness.md"]


def test_joining_without_the_token_says_how_to_get_it(cluster, sweep, tmp_path):
    env = {k: v for k, v in cluster["env"].items() if k != "RAY_AUTH_MODE"}
    env["RAY_NUM_REDIS_GET_RETRIES"] = "3"  # ray.init gives up after 3 refused attempts, not 20 (20 s)
    result = ray_xr("run", str(sweep), *on_cluster(cluster, tmp_path), env=env, timeout=300)
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


def own_disk(disk: Path) -> tuple[str, ...]:
    """A command prefix under which `disk` is an empty disk of its own (a tmpfs in a mount
    namespace of its own), as on a machine without the shared file system."""
    disk.mkdir()
    prefix = ("unshare", "--mount", "--propagation", "private", "sh", "-c",
              'mount -t tmpfs node-disk "$0" && exec "$@"', str(disk))
    if subprocess.run([*prefix, "true"], capture_output=True).returncode != 0:
        pytest.skip("needs a mount namespace (unshare --mount, as root) for a node with a disk of its own")
    return prefix


def test_a_disk_one_node_does_not_share_stops_the_run_in_one_line(cluster, sweep, tmp_path):
    """A node without CPUs (only the driver's probe goes there) whose disk is not the head's: the
    run ends in one line before any trial starts."""
    disk = tmp_path / "disk"
    node = add_node(cluster, {}, cpus=0, prefix=own_disk(disk))
    try:
        result = ray_xr("run", str(sweep), *on_cluster(cluster, disk / "runs"), env=cluster["env"], timeout=300)
    finally:
        kill_node(node)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ray-xr: error: --storage {disk / 'runs' / 'tiny'}: not the same storage on every node")
    assert "a different disk" in last and "shared file system" in last and "Traceback" not in result.stderr
    assert not (disk / "runs" / "tiny" / "ray").exists()  # no Tune experiment started


def test_a_node_that_joins_later_without_the_disk_stops_the_run_in_one_line_holding_nothing(cluster, sweep,
                                                                                           tmp_path):
    """The worker nodes go; the run starts on the CPU-less head alone, whose probe passes, and
    waits for a node that can hold a worker group (as for an autoscaler's, run/capacity.py); the
    node that joins does not see the run folder: its worker group's probe ends the run in one
    line (exit 2, as the driver's probe does: the storage, not a stage, is wrong) at once, not
    after Ray Train's retries, and nothing of the run stays on the cluster. Last in the module:
    it leaves no worker node."""
    for port in cluster["node_ports"][1:]:
        if raylet_alive(port):
            kill_node(port)
    deadline = time.monotonic() + 120
    while [n for n in ray_list(cluster, "nodes") if n["state"] == "ALIVE" and not n["is_head_node"]]:
        assert time.monotonic() < deadline, "the killed nodes are still alive"
        time.sleep(0.5)
    disk = tmp_path / "disk"
    prefix = own_disk(disk)
    log = tmp_path / "run.out"
    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("ray-xr")), "run", str(sweep),
                                 *on_cluster(cluster, disk / "runs")], cwd=REPO, env=cluster["env"], stdout=out,
                                stderr=subprocess.PIPE, text=True)
    # the driver's probe has passed (the head's) once the run waits for nodes
    wait_for(lambda: "waiting up to" in log.read_text(), proc, "the wait for a node", timeout=300)
    worker_node(cluster, prefix=prefix)
    joined = time.monotonic()
    _, err = proc.communicate(timeout=300)
    ended = time.monotonic() - joined
    assert proc.returncode == 2, log.read_text()[-3000:] + err[-3000:]
    [line] = [line for line in err.splitlines() if line.startswith("ray-xr: error:")]  # among Ray's own lines
    assert line.startswith(f"ray-xr: error: --storage {disk / 'runs' / 'tiny'}: not the same storage on every node"
                           " (node "), line
    assert "a different disk" in line and 'ray_xr/' not in err  # no traceback of ours, from any node
    print(f"the run ended {ended:.1f} s after the node without the disk joined")
    alive = [a["class_name"] for a in ray_list(cluster, "actors", "--filter", "state=ALIVE")]
    assert not set(alive) & {"Aggregator", "ImplicitFunc", "TrainController", "RayTrainWorker"}, alive
    assert not [g for g in ray_list(cluster, "placement-groups") if g["state"] != "REMOVED"]


def raylet_alive(port: int) -> bool:
    try:
        raylet(port)
    except StopIteration:
        return False
    return True
