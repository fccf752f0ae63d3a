"""Shared helpers: the repository root, a tiny sweep, and running the real CLI."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = REPO.parent / "shared" / "data" / "real"

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
              data={"source": "synthetic", "train_size": 600, "dev_size": 16, "test_size": 48},
              noise={"kinds": ["char"], "levels": [0, 0.5]},
              intermediate_training={"epochs": 2, "batch_size": 16, "max_length": 48},
              target_training={"epochs": 3, "batch_size": 16, "max_length": 48},
              resources={"workers": 1, "cpus_per_worker": 1, "max_failures": 2, "checkpoint_every_steps": 10})


def write_sweep(path: Path, **overrides) -> Path:
    sweep = {**TINY, **overrides}
    path.write_text(yaml.safe_dump(sweep))
    return path


def shipped_sweep(name: str) -> dict:
    """A sweep of sweeps/ as raw YAML with its relative paths made absolute, to be changed and
    written elsewhere (relative paths name folders relative to the sweep file)."""
    from ray_xr import config

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


@pytest.fixture
def sweep_file(tmp_path):
    return write_sweep(tmp_path / "tiny.yaml")


@pytest.fixture(scope="session")
def chains_reference(tmp_path_factory) -> Path:
    """The CHAINS sweep undisturbed, each trial's stages in its own process (resources.workers =
    0): the same stage keys and numbers as one Ray Train worker, byte for byte. Its run folder."""
    folder = tmp_path_factory.mktemp("chains-reference")
    sweep = write_sweep(folder / "chains.yaml", **{**CHAINS, "resources": {**CHAINS["resources"], "workers": 0}})
    result = ray_xr("run", str(sweep), "--storage", str(folder))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder / TINY["name"]


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
