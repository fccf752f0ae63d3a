"""A sweep that asks for more than the cluster offers ends in one line (exit 2) before any trial,
naming what it asked for and what the cluster has, instead of waiting on Ray without end: at
once on the local cluster (this machine, checked before Ray starts), after resources.node_wait_s
on a joined cluster, whose autoscaler is asked for the nodes and may add them."""
from __future__ import annotations

import os

import pytest

from tests.conftest import ray_xr, run_on, write_sweep


def gpus_here() -> int:
    import torch

    return torch.cuda.device_count()


@pytest.mark.parametrize("resources, asked", [
    # one GPU per worker, one worker more than this machine has GPUs
    (lambda: {"workers": gpus_here() + 1, "use_gpu": True}, "x (1 CPU, 1 GPU)"),
    (lambda: {"workers": 1, "cpus_per_worker": (os.cpu_count() or 1) + 1},
     f"1 worker x ({(os.cpu_count() or 1) + 1} CPU)"),
    (lambda: {"workers": 0, "cpus_per_worker": (os.cpu_count() or 1) + 1}, "a trial process on the head node with"),
])
def test_more_than_this_machine_has_ends_in_one_line_before_ray_starts(tmp_path, resources, asked):
    sweep = write_sweep(tmp_path / "big.yaml", resources=resources())
    result = ray_xr("run", str(sweep), "--storage", str(tmp_path / "runs"), timeout=120)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout == "" and result.stderr.count("\n") == 1, result.stdout + result.stderr
    line = result.stderr.strip()
    assert line.startswith("ray-xr: error: resources: the sweep asks for ") and asked in line, line
    assert f"this machine (the local Ray cluster `ray-xr run` starts) has {os.cpu_count()} CPU" in line
    assert not (tmp_path / "runs").exists()  # nothing started, nothing written


no_gpu = pytest.mark.skipif("gpus_here()", reason="the session's cluster has this machine's GPUs")


@no_gpu
def test_a_joined_cluster_is_waited_for_with_a_deadline(local_cluster, tmp_path):
    """The session's cluster has no GPU and no autoscaler: the run says what it waits for and for
    how long, asks for the nodes, and ends in one line at the deadline."""
    sweep = write_sweep(tmp_path / "gpu.yaml", resources={"workers": 2, "use_gpu": True, "node_wait_s": 1})
    result = run_on(local_cluster, sweep, tmp_path / "runs")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    cluster = f"1 node ({os.cpu_count()} CPU, 0 GPU)"
    assert (f"ray-xr: the cluster has {cluster}, not 2 workers x (1 CPU, 1 GPU): asked its autoscaler for them;"
            " waiting up to 1 s (resources.node_wait_s) for nodes to join") in result.stdout
    assert result.stderr.strip() == (
        "ray-xr: error: resources: the sweep asks for 2 workers x (1 CPU, 1 GPU), but after 1 s"
        f" (resources.node_wait_s) the cluster still has {cluster}; set resources.use_gpu: false to train on"
        " CPUs, or run on a cluster with GPU nodes (ray-xr run --address)")
    assert not (tmp_path / "runs" / "tiny" / "ray").exists()  # no Tune experiment started


@no_gpu
def test_a_trial_that_needs_more_than_the_head_node_ends_at_once(local_cluster, tmp_path):
    """With workers = 0 the trial is the worker and runs on the head node, which no autoscaler
    changes: no wait."""
    sweep = write_sweep(tmp_path / "gpu.yaml", resources={"workers": 0, "use_gpu": True})
    result = run_on(local_cluster, sweep, tmp_path / "runs")
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "waiting" not in result.stdout
    assert result.stderr.strip().startswith(
        "ray-xr: error: resources: the sweep asks for a trial process on the head node with 1 CPU, 1 GPU, but the"
        f" cluster's head node has {os.cpu_count()} CPU, 0 GPU; set resources.use_gpu: false")
