"""The shipped cluster configurations pass Ray's own validation (what `ray up` runs before it
calls the cloud), keep training off the head, scale GPU pools from zero, and install the
versions this checkout pins; the full-scale sweeps ask for what those clusters offer."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from ray_xr.plan import config
from tests.conftest import REPO

CLUSTERS = ["cluster.yaml", "cluster/gcp.yaml"]


def load(name: str) -> dict:
    return yaml.safe_load((REPO / name).read_text())


@pytest.mark.parametrize("name", CLUSTERS)
def test_ray_validates_the_cluster_config_offline(name):
    # tests may use Ray's private modules (ray_xr/ may not): this is the check `ray up` makes
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(load(name)))


@pytest.mark.parametrize("name", CLUSTERS)
def test_the_head_never_trains_and_gpu_pools_start_at_zero(name):
    cluster = load(name)
    types = cluster["available_node_types"]
    head = types[cluster["head_node_type"]]
    # the driver and the aggregator are pinned to the head by this resource; no task may train there
    assert head["resources"] == {"CPU": 0, "GPU": 0}  # it never trains; ray-xr pins its actors there
    assert not re.search(r"spot|preemptible|SPOT", yaml.safe_dump(head["node_config"]))
    pools = {n: t for n, t in types.items() if n != cluster["head_node_type"]}
    assert all(t["min_workers"] == 0 and t["resources"]["GPU"] >= 4 for t in pools.values())
    spot = [n for n, t in pools.items() if re.search(r"spot|SPOT", yaml.safe_dump(t["node_config"]))]
    assert len(spot) == 1 and len(pools) == 2  # an on-demand pool and a spot pool


@pytest.mark.parametrize("name", CLUSTERS)
def test_nodes_install_this_checkout_with_its_pinned_ray(name):
    cluster = load(name)
    setup = "\n".join(cluster["setup_commands"])
    assert "pip install -q /home/ubuntu/ray-xr" in setup  # not -e: a re-sync leaves a running sweep alone
    pinned = re.search(r'"ray\[[^]]*\]==([^"]+)"', (REPO / "pyproject.toml").read_text()).group(1)
    assert f"m.version('ray') == '{pinned}'" in setup
    starts = cluster["head_start_ray_commands"] + cluster["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if "ray start" in c)
    assert cluster["file_mounts"]["/home/ubuntu/.ray/auth_token"] == "~/.ray/auth_token"


@pytest.mark.parametrize("sweep", ["nli_vs_ner", "phang2020"])
def test_full_scale_sweeps_ask_for_gpu_clusters(sweep):
    res = config.load(REPO / "sweeps" / f"{sweep}.yaml").resources
    # nli_vs_ner: one GPU a stage (test_cost: 4 GPUs at batch 32 cost 3.3x the GPU-hours)
    assert res.use_gpu and res.precision == "bf16" and res.workers == {"nli_vs_ner": 1, "phang2020": 4}[sweep]
    assert res.concurrency > 0  # 0 counts the GPUs present at the start: none on an autoscaling cluster
    assert res.checkpoint_every_steps > 0  # spot nodes come and go
    nodes = [t for c in CLUSTERS for n, t in load(c)["available_node_types"].items() if n != "head"]
    assert all(t["resources"]["GPU"] % res.workers == 0 for t in nodes)  # a worker group fits a node
    assert all(t["resources"]["CPU"] >= res.workers * res.cpus_per_worker for t in nodes)


@pytest.mark.parametrize("name", CLUSTERS)
def test_nodes_get_the_checkout_without_its_history_environment_or_run_folders(name, tmp_path):
    """The rsync arguments Ray builds from the config's rsync_exclude and rsync_filter, applied
    to a checkout by rsync itself where it is installed (`ray up` needs it anyway)."""
    from ray.autoscaler._private.command_runner import SSHCommandRunner

    cluster = load(name)
    args = SSHCommandRunner._create_rsync_filter_args(None, {k: cluster.get(k) for k in ("rsync_exclude",
                                                                                         "rsync_filter")})
    assert {".git", ".venv", "runs", "dir-merge,- .gitignore"} <= set(args)
    checkout = tmp_path / "checkout"
    kept, left = ["ray_xr/cli/main.py", "sweeps/local.yaml", "cluster.yaml"], [
        ".git/HEAD", ".venv/bin/python", "runs/tiny/results.jsonl", ".pytest_cache/README.md", "x.egg-info/PKG-INFO"]
    for rel in kept + left:
        (checkout / rel).parent.mkdir(parents=True, exist_ok=True)
        (checkout / rel).write_text(rel)
    shutil.copy(REPO / ".gitignore", checkout / ".gitignore")
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed: the arguments are checked, not their effect")
    subprocess.run(["rsync", "-a", *args, f"{checkout}/", str(tmp_path / "node")], check=True, timeout=60)
    copied = {p.relative_to(tmp_path / "node").as_posix() for p in (tmp_path / "node").rglob("*") if p.is_file()}
    assert copied == set(kept) | {".gitignore"}
