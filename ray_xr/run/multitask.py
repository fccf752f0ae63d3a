"""Multi-task intermediate training: one encoder shared by several task heads, each step a batch
of one task drawn by size-proportional or temperature sampling (p_t ~ n_t^(1/T), Arivazhagan et
al. 2019), so small tasks are not drowned by large ones."""
from __future__ import annotations

from dataclasses import dataclass

import torch


def probabilities(sizes: list[int], sampling: str, temperature: float) -> list[float]:
    power = 1.0 if sampling == "proportional" else 1.0 / temperature
    weights = [n ** power for n in sizes]
    return [x / sum(weights) for x in weights]


@dataclass(frozen=True)
class TaskFeature:
    """A feature of one of the tasks: batches are never mixed, and carry the task index."""

    task: int
    feature: object

    @staticmethod
    def batch(features: list["TaskFeature"], pad_id: int) -> dict[str, torch.Tensor]:
        inner = [f.feature for f in features]
        return {**type(inner[0]).batch(inner, pad_id), "task_id": torch.tensor([f.task for f in features])}


class MultiTaskModel(torch.nn.Module):
    """Task models (each with its own head) whose encoders are one and the same module."""

    find_unused_parameters = True  # DDP: the heads of the tasks not in a batch get no gradient

    def __init__(self, models: list):
        super().__init__()
        shared = models[0].base_model
        for model in models[1:]:
            setattr(model, model.base_model_prefix, shared)
        self.heads = torch.nn.ModuleList(models)

    @property
    def base_model(self):
        return self.heads[0].base_model

    def forward(self, task_id, **batch):
        return self.heads[int(task_id[0])](**batch)


def schedule(sizes: list[int], probs: list[float]):
    """The batch schedule for train_loop: each step draws a task, then takes the next examples of
    that task's own shuffled order (reshuffled when used up); every rank draws the same tasks."""
    starts = [sum(sizes[:t]) for t in range(len(sizes))]

    def batches(n: int, per_worker: int, rank: int, world: int, seed: int, steps: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(seed)
        tasks = torch.multinomial(torch.tensor(probs), steps, replacement=True, generator=gen).tolist()
        orders: dict[int, list[int]] = {}
        out = []
        for t in tasks:
            chunk = []
            while len(chunk) < per_worker * world:
                if not orders.get(t):
                    orders[t] = (torch.randperm(sizes[t], generator=gen) + starts[t]).tolist()
                chunk.append(orders[t].pop())
            out.append(chunk[rank::world])
        return out
    return batches
