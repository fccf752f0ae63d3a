"""The storage probe: every node that computes must see the driver's run folder.

The driver probes the nodes alive when the run starts (`probe_storage`: one actor per node), and
every worker group probes the nodes it runs on before its first stage (`probe_node`: one rank
per node), because an autoscaling cluster adds its GPU nodes later: a node that cannot see the
run folder (a head-local path, a shared disk whose mount failed, a bucket without credentials)
would otherwise wait forever for records it can never read. A node sees the folder when it finds
the driver's lease there (run/lease.py) and can write beside it. A worker group's probe that
fails tells the run's aggregator, whose answer stops the whole run in the driver (driver.py), and
fails its trial at once instead of waiting for Ray Train's retries. Its own module, light on
imports (no torch): each probe actor imports the module that defines its class.
"""
from __future__ import annotations

import time

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ray_xr.errors import ClusterError, RayXRError
from ray_xr.run import lease
from ray_xr.stages import RunDir
from ray_xr.storage import is_uri, redact

STOPPED_WITHIN_S = 60.0  # the driver asks the aggregator every second


def check(where: str, node: str, run_id: str) -> str | None:
    """What is wrong with the run folder as this node sees it; None when it is the driver's."""
    try:
        run = RunDir(where)
        found = lease.holder(run)
        if found is None:
            return "the run folder is not there (a different disk)"
        if found.get("run_id") != run_id:
            return "another run holds the run folder there"
        run.write_text(f".probe/{node}", run_id)
    except OSError as err:  # a disk, or a bucket's endpoint or credentials
        return f"{type(err).__name__}: {err.strerror or str(err).splitlines()[0]}"
    except RayXRError as err:  # a storage URI this node cannot open
        return str(err)
    return None


def problem(where: str, node: str, answer: str) -> str:
    """The one line that ends the run."""
    fix = ("give every node the bucket's credentials and endpoint (the AWS_* or GOOGLE_* environment)"
           if is_uri(where) else "give a shared file system mounted at the same path on all nodes")
    return f"--storage {redact(where)}: not the same storage on every node (node {node[:8]}: {answer}); {fix}"


class _Probe:
    def check(self, where: str, node: str, run_id: str) -> str | None:
        return check(where, node, run_id)


def probe_storage(run: RunDir, run_id: str) -> None:
    """Every node alive now sees the run folder, and the driver sees what they wrote. (Actors,
    killed when done: an idle task worker can abort noisily when Ray reaps it.)"""
    nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    actors = [ray.remote(num_cpus=0)(_Probe).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False)).remote() for n in nodes]
    answers = [_answer(a.check.remote(run.where, n, run_id)) for a, n in zip(actors, nodes)]
    for actor in actors:
        ray.kill(actor)
    bad = [(n, a) for n, a in zip(nodes, answers) if a]
    if not bad and any(run.read_text(f".probe/{n}") != run_id for n, a in zip(nodes, answers) if a is not None):
        bad = [(nodes[0], "the driver cannot read what the nodes wrote")]
    run.clear(".probe")
    if bad:
        raise ClusterError(problem(run.where, *bad[0]))


def _answer(ref) -> str | None:
    """A probe's answer: '' for a node that sees the run folder, None for a node that died
    meanwhile (a spot node going away; one that comes back is probed by its worker groups)."""
    try:
        return ray.get(ref) or ""
    except ray.exceptions.RayActorError:
        return None


def probe_node(where: str, run_id: str, aggregator: str) -> None:  # [ray] worker side
    """This node sees the run folder, or the run stops: the aggregator (on the head, reached
    through Ray, not through the storage) passes the line to the driver, which stops every
    trial within seconds. Meanwhile this worker waits rather than fail: a failed worker group
    would be started again (Ray Train's max_failures), each time on a node that cannot work."""
    from ray_xr.run.aggregator import AGGREGATOR_NAMESPACE  # the worker loop has imported it already

    node = ray.get_runtime_context().get_node_id()
    answer = check(where, node, run_id)
    if answer is None:
        return
    line = problem(where, node, answer)
    ray.get(ray.get_actor(aggregator, namespace=AGGREGATOR_NAMESPACE).stop.remote(line))
    time.sleep(STOPPED_WITHIN_S)
    raise ClusterError(line)  # the driver did not stop the run: fail the trial instead
