"""What a worker runs with: the Worker (its run folder, the typed sweep, its rank among the
group's workers, its device, Ray Train's report and prepare_model), and the seeds every phase
derives its randomness from. The Ray lines are marked `# [ray]`.
"""
from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from typing import Callable

import torch
import torch.distributed as dist

import ray.train  # [ray]
import ray.train.torch  # [ray]
from ray_xr.plan import config
from ray_xr.plan.config import Sweep
from ray_xr.run.meter import Meter
from ray_xr.stages import RunDir


@dataclass
class Worker:
    run: RunDir
    sweep: Sweep
    aggregator: str
    rank: int
    world: int
    device: torch.device
    git_sha: str | None  # the driver's commit, recorded with every stage (stages.git_sha)
    held: dict = field(default_factory=dict)  # the last trained/loaded target model, for its evaluations
    meter: Meter = field(default_factory=Meter)  # the stage's `compute` record (run/meter.py)
    report: Callable = ray.train.report  # [ray] epoch metrics (and a checkpoint) to Ray Train
    prepare: Callable = ray.train.torch.prepare_model  # [ray] device placement + DDP

    @property
    def precision(self) -> str:
        return self.sweep.resources.precision  # see models.autocast

    @property
    def resolved(self) -> dict:
        """The resolved sweep as plain data, recorded with every stage."""
        return config.to_dict(self.sweep)

    def log(self, msg: str) -> None:
        # sys.stdout, not print: Ray Train patches print into a logger that echoes it twice
        if self.rank == 0:
            sys.stdout.write(f"[ray-xr] {msg}\n")
            sys.stdout.flush()

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def gather(self, value: object) -> list:
        """`value` of every worker, in rank order (a collective: every worker calls it)."""
        if self.world == 1:
            return [value]
        out: list = [None] * self.world
        dist.all_gather_object(out, value)
        return out


def derived_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "big")
