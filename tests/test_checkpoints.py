"""A checkpoint holds every rank's random state, whatever node each rank ran on: a real 2-process
gloo group whose ranks have separate node caches of one bucket folder (moto's S3 server on
loopback) saves through the worker's own save_checkpoint; each rank, on a node that has never
seen the run, resumes its own random state from the bucket. (The two-node kill of a worker group
spanning nodes is in tests/test_multinode.py.)"""
from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ray_xr.plan import Stage
from ray_xr.run import checkpoints
from ray_xr.stages import RunDir
from ray_xr.storage import join
from tests.conftest import free_port

STAGE = Stage(key="k", phase="target", spec={}, parent=None, label="target k")


def small_model():
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    return model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)


def save_on_rank(rank: int, where: str, port: int, tmp: str, env: dict) -> None:
    """One rank of the group, on a "node" of its own (RAY_XR_CACHE): trains a step, draws a
    rank-specific number of random values, saves; writes the random state it saved to a file."""
    from ray_xr.run.context import Worker
    from ray_xr.run.train import save_checkpoint

    os.environ.update({**env, "RAY_XR_CACHE": os.path.join(tmp, f"node-{rank}")})
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        torch.manual_seed(0)
        model, opt, sched = small_model()
        torch.rand(10 + rank)  # the ranks' states differ, as their dropout masks make them do
        w = Worker(RunDir(where), None, "", rank, 2, torch.device("cpu"), git_sha=None)
        expected = torch.get_rng_state()
        save_checkpoint(w, STAGE, model, opt, sched, checkpoints.Position(epoch=1), None)
        with open(os.path.join(tmp, f"expected-{rank}"), "wb") as f:
            f.write(expected.numpy().tobytes())
    finally:
        dist.destroy_process_group()


def test_every_ranks_random_state_reaches_the_bucket_from_separate_nodes(s3, tmp_path, monkeypatch):
    where = join(s3["uri"], tmp_path.name)
    mp.spawn(save_on_rank, args=(where, free_port(), str(tmp_path), s3["env"]), nprocs=2)
    for k, v in s3["env"].items():
        monkeypatch.setenv(k, v)
    saved = torch.get_rng_state()
    try:
        for rank in (0, 1):  # each resumes on a node that never saw the run
            monkeypatch.setenv("RAY_XR_CACHE", str(tmp_path / f"resume-{rank}"))
            run = RunDir(where)
            run.pull_checkpoint(STAGE.key)
            torch.manual_seed(1234)  # anything but the saved state
            position, _ = checkpoints.load(run.checkpoint_dir(STAGE.key), rank, *small_model())
            assert position.epoch == 1
            assert torch.get_rng_state().numpy().tobytes() == (tmp_path / f"expected-{rank}").read_bytes()
    finally:
        torch.set_rng_state(saved)
