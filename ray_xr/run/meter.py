"""How each stage computed, recorded in its stage.json as `compute` (the smoke table reads it:
ray_xr/plan/smoke.py): device, precision, workers, the node, peak memory and the tokens and seconds
of its evaluation forward passes. Peak memory is, on a GPU, torch.cuda.max_memory_allocated
since the stage began (the largest over the workers); on a CPU, the largest worker process's
maximum resident set so far (getrusage: it cannot be reset, so a later stage shows at least an
earlier one's).
"""
from __future__ import annotations

import resource
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch


@dataclass
class Meter:
    tokens: int = 0  # real tokens of this worker's evaluation batches since begin()
    forward_s: float = 0.0  # and the seconds they took

    def begin(self, device: torch.device) -> None:
        self.tokens, self.forward_s = 0, 0.0
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    @contextmanager
    def forward(self, tokens: int):
        """Times a forward pass whose outputs the body brings to the CPU (so it has finished)."""
        t0 = time.perf_counter()
        yield
        self.tokens += tokens
        self.forward_s += time.perf_counter() - t0

    def record(self, device: torch.device, precision: str, world: int, node_ip: str, gather) -> dict:
        """The stage's `compute` block; collective (`gather(value)`: every worker's, in rank order)."""
        if device.type == "cuda":
            peak, memory = torch.cuda.max_memory_allocated(device), "cuda_max_allocated"
        else:  # Linux reports KiB
            peak, memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "max_rss"
        found = gather([peak, self.tokens, self.forward_s])
        return {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                "precision": precision, "workers": world, "node_ip": node_ip, "memory": memory,
                "peak_memory": max(f[0] for f in found), "forward_tokens": sum(f[1] for f in found),
                "forward_s": round(max(f[2] for f in found), 4)}


def non_embedding_params(model) -> int:
    """Parameters outside the embedding tables (what the 6 x N x tokens FLOP estimate counts)."""
    return sum(p.numel() for name, p in model.named_parameters() if "embeddings." not in name)
