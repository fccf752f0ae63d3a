"""A training stage's checkpoint, kept in the stage's own folder and so found by its key.

`RUN_DIR/stages/<key>/checkpoint/latest.json` names the newest complete checkpoint folder
beside it; a checkpoint is written into a temporary folder, renamed, and only then named by
latest.json (atomic: an interrupted write leaves the previous checkpoint in force), and older
folders are removed, so none pile up. Tensors are safetensors and everything else JSON: loading
a checkpoint from shared storage runs no code (no pickle, no torch.load).

A checkpoint holds what resuming needs to continue exactly where the stage stopped: model,
optimizer and scheduler state, the best dev score and its weights, the position (epoch, step
within the epoch, the epoch's running loss and token count) and every worker's random state.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from safetensors.torch import save as save_bytes

from ray_xr.stages import write_json


@dataclass
class Position:
    """Where training stands: `step` optimizer steps into `epoch` (0-based)."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    tokens: int = 0
    padded: int = 0  # positions in the padded batches (tokens of them are real)
    best: float | None = None
    extra: dict = field(default_factory=dict)  # the last finished epoch's metrics


def _tensors(state: dict) -> dict[str, torch.Tensor]:
    # cloned: safetensors refuses tensors that share memory (XLM-R ties its embeddings to the LM head)
    return {k: v.detach().cpu().clone().contiguous() for k, v in state.items()}


def _split_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, plain = {}, {"param_groups": state["param_groups"], "state": {}}
    for pid, entries in state["state"].items():
        plain["state"][str(pid)] = {}
        for name, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{pid}/{name}"] = value
            else:
                plain["state"][str(pid)][name] = value
    return _tensors(tensors), plain


def _join_optimizer(tensors: dict[str, torch.Tensor], plain: dict) -> dict:
    state = {int(pid): dict(entries) for pid, entries in plain["state"].items()}
    for name, value in tensors.items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def rng_state() -> dict[str, torch.Tensor]:
    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def save(folder: Path, rank: int, gather, model, opt, sched, position: Position, best_state: dict | None) -> None:
    """Rank 0 writes the checkpoint, with every rank's random state; collective (`gather(value)`:
    every rank's value, in rank order). The states travel to rank 0 rather than each rank
    writing its own: ranks on other nodes have folders of their own (a bucket run's node caches),
    and only rank 0's goes to the run folder."""
    states = gather(save_bytes(rng_state()))
    if rank == 0:
        name = f"e{position.epoch}-s{position.step}"
        tmp = folder / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)  # left by an attempt that died while writing it
        tmp.mkdir(parents=True)
        for r, state in enumerate(states):
            (tmp / f"rng-{r}.safetensors").write_bytes(state)
        save_file(_tensors(model.state_dict()), tmp / "model.safetensors")
        tensors, plain = _split_optimizer(opt.state_dict())
        save_file(tensors, tmp / "optimizer.safetensors")
        if best_state is not None:
            save_file(_tensors(best_state), tmp / "best.safetensors")
        meta = {"optimizer": plain, "scheduler": sched.state_dict(), "position": position.__dict__}
        (tmp / "state.json").write_text(json.dumps(meta))
        shutil.rmtree(folder / name, ignore_errors=True)
        tmp.rename(folder / name)
        write_json(folder / "latest.json", {"folder": name})
        for old in folder.iterdir():
            if old.is_dir() and old.name != name:
                shutil.rmtree(old, ignore_errors=True)
    gather(None)  # no rank goes on before the checkpoint is complete


def load(folder: Path, rank: int, model, opt, sched) -> tuple[Position, dict | None] | None:
    """Restore the latest checkpoint into model, optimizer, scheduler and this rank's random
    state; returns the position and the best weights, or None when there is none."""
    try:
        name = json.loads((folder / "latest.json").read_text())["folder"]
    except FileNotFoundError:
        return None
    here = folder / name
    meta = json.loads((here / "state.json").read_text())
    model.load_state_dict(load_file(here / "model.safetensors"))
    opt.load_state_dict(_join_optimizer(load_file(here / "optimizer.safetensors"), meta["optimizer"]))
    sched.load_state_dict(meta["scheduler"])
    rng = load_file(here / f"rng-{rank}.safetensors")
    torch.set_rng_state(rng["torch"])
    if "cuda" in rng and torch.cuda.is_available():
        torch.cuda.set_rng_state(rng["cuda"])
    best_path = here / "best.safetensors"
    best_state = load_file(best_path) if best_path.exists() else None
    return Position(**meta["position"]), best_state
