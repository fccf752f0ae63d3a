"""Shared helpers: the repository root, a tiny sweep, and running the real CLI."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# Read-only samples of the real datasets beside the checkout (../shared/data/real, PROVENANCE.md
# there); a clone without them runs every other test, and skips those that read them:
# `needs_real_data` marks a test or module, `real_data()` skips from inside a fixture
REAL_DATA = REPO.parent / "shared" / "data" / "real"
NO_REAL_DATA = f"needs the real data samples at {REAL_DATA} (../shared beside the checkout), absent here"
needs_real_data = pytest.mark.skipif(not REAL_DATA.is_dir(), reason=NO_REAL_DATA)


def real_data() -> Path:
    """REAL_DATA, or a skip of the test whose fixture asks for it where it is absent."""
    if not REAL_DATA.is_dir():
        pytest.skip(NO_REAL_DATA)
    return REAL_DATA
RAY = Path(sys.executable).with_name("ray")

# Small enough to train in seconds on 2 cores, big enough that every code path runs.
TINY = {
    "name": "tiny",
    "model": "embedded-tiny",
    "embedded": {"vocab_size": 300, "hidden_size": 32, "layers": 1, "heads": 2, "intermediate_size": 64,
                 "corpus_per_language": 150, "max_positions": 64,
                 "train": {"epochs": 1, "batch_size": 32, "max_length": 32, "lr": 0.002}},
    "data": {"source": "synthetic", "train_size": 64, "dev_size": 16, "test_size": 24},
    "intermediate": ["none", "nli"],
    "targets": ["xnli", "udpos"],
    "languages": {"xnli": ["en", "cog"], "udpos": ["en", "cyr"]},
    "noise": {"kinds": ["char"], "levels": [0, 0.5]},
    "seeds": [1],
    "intermediate_training": {"epochs": 1, "batch_size": 16, "max_length": 48},
    "target_training": {"epochs": 2, "batch_size": 16, "max_length": 48},
    # the loop in each trial's own process: no worker group to start (~20 s a trial here); Ray
    # Train worker groups of 1 and 2 run in test_resume, test_multinode and test_ddp
    "resources": {"workers": 0, "cpus_per_worker": 1},
}


# Two chains (no intermediate task, and NLI) on one Ray Train worker each, whose training lasts
# long enough to be interrupted mid-epoch, with frequent checkpoints: the runs that test_resume
# and test_multinode disturb, each compared byte for byte with `chains_reference`
CHAINS = dict(intermediate=["none", "nli"], targets=["xnli"], languages={"xnli": ["en", "cog"]},
              data={"source": "synthetic", "train_size": 320, "dev_size": 16, "test_size": 48},
              noise={"kinds": ["char"], "levels": [0, 0.5]},
              intermediate_training={"epochs": 2, "batch_size": 16, "max_length": 48},
              target_training={"epochs": 2, "batch_size": 16, "max_length": 48},
              resources={"workers": 1, "cpus_per_worker": 1, "max_failures": 2, "checkpoint_every_steps": 10})


def write_sweep(path: Path, **overrides) -> Path:
    sweep = {**TINY, **overrides}
    path.write_text(yaml.safe_dump(sweep))
    return path


def shipped_sweep(name: str) -> dict:
    """A sweep of sweeps/ as raw YAML with its relative paths made absolute, to be changed and
    written elsewhere (relative paths name folders relative to the sweep file)."""
    from ray_xr.plan import config

    path = REPO / "sweeps" / f"{name}.yaml"
    return config.resolve_paths(yaml.safe_load(path.read_text()), path.parent)


def typo_profile(pairs: Path, lang: str = "en") -> str:
    """A typo profile (`ray-xr noise fit`) fitted to a `correct<TAB>misspelling` file, beside it."""
    from ray_xr.noise import typo
    from ray_xr.noise.profile import Tally

    tally = Tally(lang)
    for line in pairs.read_text(encoding="utf-8").splitlines():
        if line.strip():
            tally.add(*line.split("\t"))
    out = pairs.with_suffix(f".{lang}.profile.json")
    out.write_text(json.dumps(typo.fit(tally, {"pairs_files": [pairs.name]})), encoding="utf-8")
    return str(out)


def ray_xr(*args: str, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """Run the installed command line exactly as a user would."""
    exe = Path(sys.executable).with_name("ray-xr")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=kwargs.pop("cwd", REPO), env={**os.environ, **kwargs.pop("env", {})}, **kwargs)


def other_versions(folder: Path) -> dict:
    """The environment of a machine with other versions of the libraries that enter stage keys
    (plan.KEYED_LIBRARIES): a laptop's CPU build of torch, the nodes' CUDA build. What every
    version lookup of a process started with it answers (a sitecustomize on its PYTHONPATH)."""
    (folder / "sitecustomize.py").write_text(
        "import importlib.metadata as m\n"
        "_real = m.version\n"
        "_other = {'torch': '2.13.0+cu128', 'transformers': '5.24.1', 'tokenizers': '0.23.4'}\n"
        "m.version = lambda name: _other.get(name) or _real(name)\n")
    return {"PYTHONPATH": str(folder)}


@pytest.fixture
def sweep_file(tmp_path):
    return write_sweep(tmp_path / "tiny.yaml")


def ray_start(env: dict, *args: str, prefix: tuple[str, ...] = ()) -> None:
    command = [*prefix, str(RAY), "start", "--node-ip-address", "127.0.0.1", "--disable-usage-stats", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


def processes_with(fragment: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if fragment in " ".join(p.info["cmdline"] or ())]


def raylet(port: int) -> psutil.Process:
    """The raylet of the node started with this --node-manager-port."""
    return next(p for p in psutil.process_iter(["cmdline"])
                if f"--node_manager_port={port}" in " ".join(p.info["cmdline"] or ()))


def freeze(root: psutil.Process) -> list[psutil.Process]:
    """Stop (SIGSTOP) a process and every process under it, the parent first, so that none starts
    another unseen; nothing they do changes the run's files any more. What it stopped."""
    stopped: list[psutil.Process] = []
    while True:
        fresh = [p for p in [root, *_children(root)] if p not in stopped]
        if not fresh:
            return stopped
        for proc in fresh:
            _signal(proc, signal.SIGSTOP)
        stopped += fresh


def thaw(stopped: list[psutil.Process]) -> None:
    for proc in stopped:
        _signal(proc, signal.SIGCONT)


def _children(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal(proc: psutil.Process, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        pass


def kill_node(port: int) -> None:
    """A node dies as a lost machine does: its raylet and every process under it, at once (stopped
    first: a raylet killed after its children were listed has started no other). Any process of
    the node that outlived its raylet goes too (at teardown)."""
    for root in processes_with(f"--node_manager_port={port}"):
        for proc in freeze(root):
            _signal(proc, signal.SIGKILL)


@contextmanager
def ray_cluster(env: dict, cpus: int):
    """A Ray cluster as users start one (`ray start --head`, which asks every client for its token:
    RAY_AUTH_MODE=token), for `ray-xr run --address`: {"address", "env" (what a client needs),
    "head_port"}. Its files (sockets: a short path) and the address file `ray start` leaves for
    ray.init() are in a RAY_TMPDIR of its own, so that runs without --address never join it. Only
    what it started is stopped, by PID: other Ray clusters may share the machine."""
    port, head_port = free_port(), free_port()
    ray_tmp = Path(f"/tmp/rxr{port}")
    env = {**os.environ, **env, "RAY_AUTH_MODE": "token", "RAY_TMPDIR": str(ray_tmp)}
    cluster = {"address": f"127.0.0.1:{port}", "env": env, "head_port": head_port, "node_ports": [head_port]}
    session = None
    try:
        ray_start(env, "--head", "--port", str(port), "--num-cpus", str(cpus), "--node-manager-port", str(head_port),
                  "--dashboard-port", str(free_port()), "--ray-client-server-port", str(free_port()))
        gcs = processes_with(f"--gcs_server_port={port}")[0]
        session = next(a.split("=", 1)[1] for a in gcs.cmdline() if a.startswith("--session-dir="))
        yield cluster
    finally:
        for nm in reversed(cluster["node_ports"]):
            if processes_with(f"--node_manager_port={nm}"):
                kill_node(nm)
        for proc in processes_with(session or f"--gcs_server_port={port}"):  # GCS, dashboard, monitors
            proc.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def add_node(cluster: dict, env: dict, cpus: int, prefix: tuple[str, ...] = ()) -> int:
    """Another node of the cluster, with CPUs of its own (`ray start` run under `prefix`, if
    given); its --node-manager-port."""
    port = free_port()
    cluster["node_ports"].append(port)
    ray_start({**cluster["env"], **env}, "--address", cluster["address"], "--num-cpus", str(cpus),
              "--node-manager-port", str(port), prefix=prefix)
    return port


@pytest.fixture(scope="session")
def local_cluster():
    """One cluster of this machine's CPUs for the runs that only need a cluster, not a cluster of
    their own (each `ray-xr run` without --address starts one: ~9 s a run here). The runs of
    test_resume and test_ddp start their own, as users do."""
    with ray_cluster({}, cpus=os.cpu_count() or 1) as cluster:
        yield cluster


def on_cluster(cluster: dict, storage: Path | str) -> list[str]:
    """The `ray-xr run` options that join the cluster with this storage: a folder on this
    machine's disk is one every node of a cluster on this machine mounts (--storage-shared)."""
    shared = [] if "://" in str(storage) else ["--storage-shared"]
    return ["--storage", str(storage), "--address", cluster["address"], *shared]


def run_on(cluster: dict, sweep: Path, storage: Path | str, *args: str) -> subprocess.CompletedProcess:
    """`ray-xr run` of a sweep on a running cluster, joined as users join one."""
    return ray_xr("run", str(sweep), *on_cluster(cluster, storage), *args, env=cluster["env"])


@pytest.fixture(scope="session")
def chains_reference(tmp_path_factory, local_cluster) -> Path:
    """The CHAINS sweep undisturbed, each trial's stages in its own process (resources.workers =
    0): the same stage keys and numbers as one Ray Train worker, byte for byte. Its run folder."""
    folder = tmp_path_factory.mktemp("chains-reference")
    sweep = write_sweep(folder / "chains.yaml", **{**CHAINS, "resources": {**CHAINS["resources"], "workers": 0}})
    result = run_on(local_cluster, sweep, folder)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder / TINY["name"]


def seed_stages(reference: Path, where: str, phases: tuple[str, ...]) -> None:
    """The reference's finished stages of these phases into another run folder (a path or a
    bucket URI), where they are finished stages (the same keys: a stage folder is the same
    wherever it was made), so that a run of the same sweep spends its time after them."""
    from ray_xr.stages import RunDir

    run = RunDir(where)
    for record in reference.glob("stages/*/stage.json"):
        if json.loads(record.read_text())["phase"] in phases:
            key = record.parent.name
            if run.bucket:
                run.bucket.upload(record.parent, f"stages/{key}")
            else:
                shutil.copytree(record.parent, run.stage_dir(key))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3():
    """A real S3-compatible server (moto's) on loopback with an empty bucket: the `--storage`
    URI of a folder in it, and the environment (credentials) a client needs."""
    import pyarrow.fs as pafs

    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "moto_server did not start"
                time.sleep(0.2)
        env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true"}
        endpoint = f"http://127.0.0.1:{port}"
        pafs.S3FileSystem(access_key="testing", secret_key="testing", endpoint_override=endpoint,
                          region="us-east-1", allow_bucket_creation=True).create_dir("ray-xr")
        yield {"uri": f"s3://ray-xr/runs?endpoint_override={endpoint}&region=us-east-1", "env": env,
               "endpoint": endpoint}
    finally:
        server.terminate()
        server.wait(timeout=30)
