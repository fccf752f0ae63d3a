"""What a sweep's worker groups ask of the cluster against what its nodes offer, checked before
the first trial: a sweep the cluster cannot place ends in one line (exit 2) instead of waiting
without end on Ray's "No available node types can fulfill resource request".

A worker group is `resources.workers` bundles of one worker's CPUs and GPUs, each on any node;
with workers = 0 the trial process is the one worker and lives on the head node, which no
autoscaler changes. A local cluster (no --address) is this machine and never grows: it is
checked before it starts, in a second. A joined cluster may grow, but Ray 2.60 has no public
API for an autoscaler's node types (only the private ray._private.state reads the GCS's
ClusterConfig), so whether one could ever hold the group is not known here: the run asks the
autoscaler for the bundles (ray.autoscaler.sdk.request_resources, public), says so, and waits
up to resources.node_wait_s for nodes to join before it ends in one line.
"""
from __future__ import annotations

import math
import time

from ray_xr.errors import ClusterError

POLL_S = 5.0
# every Ray node has a resource named by its id; the head node also this one (Ray Train pins its
# own state actor with it)
HEAD_RESOURCE = "node:__internal_head__"


def per_worker(res: dict) -> dict:
    """What one worker holds (with workers = 0, the trial that is the worker): a sweep's resources."""
    return {"CPU": res["cpus_per_worker"], **({"GPU": res["gpus_per_worker"]} if res["use_gpu"] else {})}


def ask(bundle: dict[str, float], workers: int) -> str:
    """`2 workers x (4 CPU, 1 GPU)`, or the one trial process on the head node."""
    shape = _shape(bundle)
    if not workers:
        return f"a trial process on the head node with {shape}"
    return f"{workers} worker{'s' if workers > 1 else ''} x ({shape})"


def _shape(resources: dict[str, float]) -> str:
    return ", ".join(f"{resources.get(r, 0):g} {r}" for r in ("CPU", "GPU") if r in resources or r == "CPU")


def _offers(node: dict) -> str:
    return _shape({"CPU": node.get("CPU", 0), "GPU": node.get("GPU", 0)})


def held(bundle: dict[str, float], workers: int, nodes: list[dict]) -> bool:
    """Whether these nodes ({resource: amount, "head": bool}) hold the worker group at once."""
    def fits(node: dict) -> int:  # bundles of this shape the node holds
        return min((math.floor(node.get(r, 0) / v + 1e-9) for r, v in bundle.items() if v), default=1)

    if not workers:
        return any(n.get("head") and fits(n) >= 1 for n in nodes)
    return sum(fits(n) for n in nodes) >= workers


def describe(nodes: list[dict]) -> str:
    """`1 node (2 CPU, 0 GPU)`, or `3 nodes: 2 x (16 CPU, 1 GPU), 1 x (8 CPU, 0 GPU)`."""
    shapes: dict[str, int] = {}
    for n in nodes:
        shape = _offers(n)
        shapes[shape] = shapes.get(shape, 0) + 1
    if len(nodes) == 1:
        return f"1 node ({next(iter(shapes))})"
    return f"{len(nodes)} nodes: " + ", ".join(f"{k} x ({shape})" for shape, k in shapes.items())


def _hint(bundle: dict[str, float], nodes: list[dict]) -> str:
    if bundle.get("GPU") and not any(n.get("GPU") for n in nodes):
        return ("set resources.use_gpu: false to train on CPUs, or run on a cluster with GPU nodes"
                " (ray-xr run --address)")
    return "lower resources.workers or resources.cpus_per_worker / gpus_per_worker, or add nodes that offer them"


def refuse(bundle: dict[str, float], workers: int, nodes: list[dict], has: str) -> ClusterError:
    """`has`: what the cluster offers, in words."""
    return ClusterError(f"resources: the sweep asks for {ask(bundle, workers)}, but {has}; {_hint(bundle, nodes)}")


def local(bundle: dict[str, float], workers: int, cpus: int) -> None:
    """The local cluster that `ray-xr run` starts (this machine's CPUs and GPUs), before it starts."""
    node = {"CPU": cpus, "GPU": local_gpus(bundle), "head": True}
    if not held(bundle, workers, [node]):
        raise refuse(bundle, workers, [node], f"this machine (the local Ray cluster `ray-xr run` starts) has"
                                              f" {_offers(node)}")


def local_gpus(bundle: dict[str, float]) -> int:
    """The GPUs of this machine that the workers' torch sees, looked for (torch imported) only
    when the sweep asks for GPUs."""
    if not bundle.get("GPU"):
        return 0
    import torch

    return torch.cuda.device_count()


def live_nodes() -> list[dict]:
    import ray

    return [{**n["Resources"], "head": HEAD_RESOURCE in n["Resources"]} for n in ray.nodes() if n["Alive"]]


def joined(bundle: dict[str, float], workers: int, wait_s: float, log) -> None:
    """A cluster joined with --address: at once, or once nodes joined (see the module docstring)."""
    nodes = live_nodes()
    if held(bundle, workers, nodes):
        return
    if not workers:  # the trial is the worker, on the head node: no autoscaler adds one
        head = [n for n in nodes if n["head"]]
        raise refuse(bundle, workers, head, f"the cluster's head node has {_offers(head[0]) if head else 'nothing'}")
    from ray.autoscaler.sdk import request_resources

    log(f"ray-xr: the cluster has {describe(nodes)}, not {ask(bundle, workers)}: asked its autoscaler for"
        f" them; waiting up to {wait_s:.0f} s (resources.node_wait_s) for nodes to join")
    request_resources(bundles=[bundle] * workers)  # asked now: no trial is pending yet
    deadline = time.monotonic() + wait_s
    try:
        while not held(bundle, workers, nodes := live_nodes()):
            if time.monotonic() > deadline:
                raise refuse(bundle, workers, nodes, f"after {wait_s:.0f} s (resources.node_wait_s) the cluster still"
                                                     f" has {describe(nodes)}")
            time.sleep(POLL_S)
    finally:
        request_resources(bundles=[])  # the trials' own demand holds the nodes from here
    log(f"ray-xr: nodes joined; the cluster has {describe(nodes)}")
