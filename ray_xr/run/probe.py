"""The storage probe that `ray-xr run` sends to every node before the first trial. Its own
module, light on imports (no torch), because each probe actor imports the module that defines
its class, and the probe sits on the path to the first stage.
"""
from __future__ import annotations

import os
import time

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ray_xr.errors import ClusterError
from ray_xr.stages import RunDir


class _Probe:
    """Runs on one node: reads the driver's file in the run folder and writes one beside it."""

    def check(self, where: str, node: str, token: str) -> str | None:
        run = RunDir(where)
        try:
            if run.read_text(".probe/driver") != token:
                return "it holds another file under that name (a different disk)"
            run.write_text(f".probe/{node}", token)
        except OSError as err:  # a disk, or a bucket's endpoint or credentials
            return f"{type(err).__name__}: {err.strerror or str(err).splitlines()[0]}"
        return None


def probe_storage(run: RunDir) -> None:
    """Every node can read what the driver wrote into the run folder and write beside it: a
    node without the shared disk, or without access to the bucket, would otherwise fail deep
    inside its first stage. (An actor, killed when done: an idle task worker can abort noisily
    when Ray reaps it.)"""
    token = f"{os.getpid()}-{time.time_ns()}"
    run.write_text(".probe/driver", token)
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    actors = [ray.remote(num_cpus=0)(_Probe).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote() for n in nodes]
    answers = ray.get([a.check.remote(run.where, n, token) for a, n in zip(actors, nodes)])
    for actor in actors:
        ray.kill(actor)
    bad = [f"node {n[:8]}: {a}" for n, a in zip(nodes, answers) if a]
    if not bad and any(run.read_text(f".probe/{n}") != token for n in nodes):
        bad = ["the driver cannot read what the nodes wrote"]
    run.clear(".probe")
    if bad:
        fix = ("give every node the bucket's credentials and endpoint (the AWS_* or GOOGLE_* environment)"
               if run.bucket else "give a shared file system mounted at the same path on all nodes")
        raise ClusterError(f"--storage {run.where}: not the same storage on every node ({bad[0]}); {fix}")
