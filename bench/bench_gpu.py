# python bench/bench_gpu.py --out bench_gpu.json          (on a GPU machine; --tiny: a CPU smoke run)
"""Real-size XLM-R (large: 24 layers, 1024 wide, 250k vocabulary; random weights, nothing is
downloaded) through ray-xr's own families, batching and dual encoder, on one GPU:

- training-step throughput of each head family at XTREME's lengths, fp32 vs bf16 autocast
  (models.autocast, what `resources.precision: bf16` turns on), AdamW and clipping as train.py,
  and (on a GPU) the classification step compiled as `resources.compile: true` compiles it;
- the ranking evaluation's encoding rate (RankingFamily.outputs, bf16), i.e. how long a
  Mewsli-X pool of ~1M entity descriptions takes to embed once per model;
- one DDP (NCCL) step of the dual encoder, which runs the shared encoder twice per forward.

Imports no Ray: the Ray Train path around these loops is measured by throughput.py.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import transformers

from ray_xr.run.models import autocast
from ray_xr.plan.smoke import ARCHITECTURES
from ray_xr.tasks.families import FAMILIES, Feature, collate
from ray_xr.tasks.heads import SpanFeature
from ray_xr.tasks.ranking import DualEncoder, PairFeature

LARGE = ARCHITECTURES["xlm-roberta-large"]  # the published config.json's values
TINY = {**LARGE, "vocab_size": 1000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
        "intermediate_size": 64}


def ids(gen, n: int, vocab: int) -> list[int]:
    return [0] + torch.randint(3, vocab, (n - 2,), generator=gen).tolist() + [2]


def batches(family: str, batch: int, vocab: int, gen) -> list:
    """Features as the families build them (random tokens at XTREME's lengths)."""
    if family == "classification":
        return [Feature(ids(gen, 128, vocab), i % 3, i) for i in range(batch)]
    if family == "tagging":
        return [Feature(ids(gen, 128, vocab), [-100] + [i % 7] * 126 + [-100], i) for i in range(batch)]
    if family == "qa":
        return [SpanFeature(ids(gen, 384, vocab), (200, 204), i, ()) for i in range(batch)]
    return [PairFeature(ids(gen, 96, vocab), ids(gen, 256, vocab), i, i) for i in range(batch)]  # ranking


def model_for(family: str, config):
    auto = FAMILIES[family].auto_class
    if ":" in auto:  # the dual encoder
        return DualEncoder(transformers.AutoModel.from_config(config, add_pooling_layer=False))
    labels = {"classification": 3, "tagging": 7, "qa": 2}[family]
    return getattr(transformers, auto).from_config(transformers.XLMRobertaConfig(**{**config.to_dict(),
                                                                                   "num_labels": labels}))


def train_rate(model, feats, device, precision: str, steps: int, ddp: bool = False, fused: bool = False,
               compile: bool = False) -> dict:
    model.to(device).train()
    if compile:  # as resources.compile does (run/train.py: prepared); the 3 untimed steps compile it
        model.compile()
    if ddp:
        model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.index is not None
                                                          else None)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01, fused=fused or None)
    batch = {k: v.to(device) for k, v in collate(feats, 1).items()}
    tokens = sum(int(v.sum()) for k, v in batch.items() if k.endswith("attention_mask"))
    times, passes = [], []
    for step in range(3 + steps):
        sync(device)
        t0 = time.perf_counter()
        with autocast(device, precision):
            loss = model(**batch).loss
        loss.backward()
        sync(device)
        t1 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sync(device)
        if step >= 3:
            times.append(time.perf_counter() - t0)
            passes.append(t1 - t0)
    seconds, forward_backward = sorted(times)[len(times) // 2], sorted(passes)[len(passes) // 2]
    return {"tokens_per_s": round(tokens / seconds), "step_s": round(seconds, 4),
            "forward_backward_s": round(forward_backward, 4), "loss": round(loss.item(), 3)}


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def encode_rate(config, device, batch: int, steps: int) -> dict:
    """RankingFamily.outputs on 64-token entity descriptions (Mewsli-X's length), bf16."""
    with device:
        model = DualEncoder(transformers.AutoModel.from_config(config, add_pooling_layer=False)).eval()
    gen = torch.Generator().manual_seed(1)
    ids_ = torch.stack([torch.tensor(ids(gen, 64, config.vocab_size)) for _ in range(batch)]).to(device)
    mask = torch.ones_like(ids_)
    family = FAMILIES["ranking"]
    times = []
    with torch.inference_mode():
        for step in range(2 + steps):
            sync(device)
            t0 = time.perf_counter()
            with autocast(device, "bf16"):
                rows = family.outputs(model, {"input_ids": ids_, "attention_mask": mask})
            sync(device)
            if step >= 2:
                times.append(time.perf_counter() - t0)
    per_s = batch / sorted(times)[len(times) // 2]
    return {"entities_per_s": round(per_s), "million_entities_min": round(1e6 / per_s / 60, 2), "rows": len(rows)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench_gpu.json")
    ap.add_argument("--tiny", action="store_true", help="a small config, for a CPU smoke run")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    config = transformers.XLMRobertaConfig(**(TINY if args.tiny else LARGE))
    steps, gen = (2 if args.tiny else 10), torch.Generator().manual_seed(0)
    result = {"device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "torch": torch.__version__, "transformers": transformers.__version__, "train": {}}
    runs = [("classification", 32, "fp32", False), ("classification", 32, "bf16", False),
            ("classification", 32, "bf16", True), ("classification", 128, "bf16", True), ("tagging", 32, "bf16", True),
            ("qa", 32, "bf16", True), ("ranking", 32, "bf16", True)]
    # compiled (resources.compile): on GPUs only, inductor's CPU compile takes minutes
    runs += [] if args.tiny else [("classification", 32, "bf16", True, True)]
    for family, batch, precision, fused, *compiled in runs:
        torch.manual_seed(0)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        with device:  # initialised where it runs: 560M parameters initialise slowly on the CPU
            model = model_for(family, config)
        rate = train_rate(model, batches(family, batch, config.vocab_size, gen), device, precision, steps,
                          fused=fused and device.type == "cuda", compile=bool(compiled))
        if device.type == "cuda":
            rate["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
        name = (f"{family} batch {batch} {precision}" + (" fused AdamW" if fused else "")
                + (" compiled" if compiled else ""))
        result["train"][name] = rate
        print(name, rate, flush=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
    result["encode"] = encode_rate(config, device, 256 if args.tiny else 1024, steps)
    print("encode", result["encode"], flush=True)
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29533")
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=0, world_size=1)
    with device:
        model = model_for("ranking", config)
    result["ddp_ranking_bf16"] = train_rate(model, batches("ranking", 16, config.vocab_size, gen), device, "bf16", 2,
                                            ddp=True)
    print("ddp", result["ddp_ranking_bf16"], flush=True)
    torch.distributed.destroy_process_group()
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
