"""The Ray cluster a run uses: the local one `ray-xr run` starts on this machine, or a running
one it joins (--address), with the environment its workers get and Ray's own output kept to
warnings. A cluster that cannot be reached, or asks for a token the user has not given, is one
line (errors.ClusterError).
"""
from __future__ import annotations

import logging
import os
import socket
import sys

import ray

from ray_xr.errors import ClusterError


def _own_address(address: str | None) -> str | None:
    """The GCS address of the cluster this run uses, where it is known before Ray starts: an
    explicit host:port, or for the local cluster a free port chosen here (RAY_GCS_SERVER_PORT,
    which Ray's head node reads); None for `auto`. The port is below the ephemeral range (32768
    up on Linux, 49152 up elsewhere), from which every outgoing connection on the machine takes
    one: none of those takes it in the seconds before the GCS binds it."""
    if address:
        return address if address.rpartition(":")[2].isdigit() and "://" not in address else None
    if os.environ.get("RAY_GCS_SERVER_PORT"):
        return f"127.0.0.1:{os.environ['RAY_GCS_SERVER_PORT']}"
    first = 20000 + os.getpid() % 12000  # concurrent drivers start apart
    for port in (20000 + (first - 20000 + i) % 12000 for i in range(12000)):
        with socket.socket() as s:
            try:
                s.bind(("", port))
            except OSError:
                continue
        os.environ["RAY_GCS_SERVER_PORT"] = str(port)
        return f"127.0.0.1:{port}"
    return None


def _answers(address: str) -> bool:
    """Whether anything listens at an explicit host:port: Ray retries such an address for many
    minutes. Other forms ("auto") are Ray's own lookup, which fails within seconds."""
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        return True
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        return False
    return True


def _worker_env(address: str | None, deterministic: bool) -> dict[str, str]:
    """The environment of this run's Ray workers (and, for what it says of Ray, of the driver)."""
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # with verbose=0: our progress lines, not Tune's boxes
    # Tune's handler ends the experiment and returns as if it had finished (exit 0, a hint to call
    # Tuner.restore); without it Ctrl-C raises KeyboardInterrupt here: exit 130 and our own list
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"
    own = _own_address(address)
    return {
        # Ray Train's preemption watcher is an actor restarted with handles as constructor
        # arguments, which Ray's core logs as an error line once per TorchTrainer; it watches for
        # drained nodes, and a lost node is one of the failures max_failures covers anyway
        "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
        **({"CUBLAS_WORKSPACE_CONFIG": ":4096:8"} if deterministic else {}),  # cuBLAS's deterministic mode
        # Ray's state API in the workers (Ray Train's placement-group cleaner) finds its cluster
        # here, not by scanning the machine for Ray instances, which fails beside another one
        **({"RAY_ADDRESS": own} if own else {}),
    }


class _FailuresListedByUs(logging.Filter):
    """Tune's error records of a failed trial (a traceback of some 50 lines each) and of the trials
    that did not complete: the run lists each failed trial in one line at its end, and the
    traceback stays in the trial's error.txt and Ray's logs (and on the terminal with -v)."""

    LOGGERS = ("ray.tune.execution.tune_controller", "ray.tune.tune")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("Trial task failed", "Trials did not complete"))


def start(address: str | None, deterministic: bool, log, verbose: bool) -> None:
    """Ray, started or joined. Ray's own lines at warning level and above; the workers' lines (and their warnings, in
    the session's log files either way) only with `verbose`."""
    env = _worker_env(address, deterministic)
    if address:
        if not _answers(address):
            raise ClusterError(f"--address {address}: nothing answers there; start the cluster (`ray up`, or"
                               " `ray start --head` on its head node) or check the address")
        try:
            ctx = ray.init(address=address, log_to_driver=verbose, logging_level=logging.WARNING,
                           runtime_env={"env_vars": env})
        except ConnectionError as err:
            hint = "" if os.environ.get("RAY_AUTH_MODE") else (
                "; a cluster started with `ray start --head` (Ray 2.60) requires a token: set RAY_AUTH_MODE=token"
                " and RAY_AUTH_TOKEN to what `ray get-auth-token` prints on its head node")
            raise ClusterError(f"--address {address}: {str(err).splitlines()[0]}{hint}") from None
    else:
        # A trial holds about eight worker processes (trial, controller, workers, helper actors),
        # so the raylet's default of one starting process per CPU warns on every run that it
        # started "4x the maximum expected"; the raylet reads this from the environment
        os.environ.setdefault("RAY_worker_maximum_startup_concurrency", str(4 * (os.cpu_count() or 1)))
        try:
            ctx = ray.init(num_cpus=os.cpu_count(), include_dashboard=True, log_to_driver=verbose,
                           logging_level=logging.WARNING,
                           runtime_env={"env_vars": {"RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.5", **env}})
        except ValueError as err:  # ray.init joins a cluster `ray start` left running on this machine
            if "existing cluster" not in str(err):
                raise
            raise ClusterError("a Ray cluster started with `ray start` is running on this machine: pass"
                               " --address auto to run on it (or stop it with `ray stop`)") from None
    if not verbose:
        for name in _FailuresListedByUs.LOGGERS:
            logging.getLogger(name).addFilter(_FailuresListedByUs())
    board = (f"; watch the trials in its dashboard, http://{ctx.dashboard_url} (sign in with the token"
             " `ray get-auth-token` prints)") if ctx.dashboard_url else ""
    log(f"ray-xr: Ray cluster with {ray.cluster_resources().get('CPU', 0):.0f} CPUs{board}")
    sys.stdout.flush()
