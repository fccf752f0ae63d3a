"""Phase (iv): zero-shot evaluation of a target model in one language under one noise condition.

Examples are sharded over the workers; the predictions are gathered and scored with the task's
official metric. Results go to the run's aggregator actor, which writes them to results.jsonl
before it acknowledges them.
"""
from __future__ import annotations

import importlib

import torch
import torch.distributed as dist

import ray  # [ray] only to reach the aggregator actor
from ray_xr.data import load_split, noise_resources, noisy, realised_rate
from ray_xr.metrics import METRICS
from ray_xr.models import load_task_model, load_tokenizer
from ray_xr.noise import NOISE_KINDS
from ray_xr.tasks import TaskSpec, get_task
from ray_xr.tasks.families import FAMILIES, collate

AGGREGATOR_NAMESPACE = "ray-xr"


@torch.inference_mode()
def predict(w, model, feats, pad_id: int, batch_size: int) -> list:
    """Predicted label ids for every feature; each worker runs its shard, then all gather."""
    model.eval()
    mine = list(range(w.rank, len(feats), w.world))
    out = {}
    for start in range(0, len(mine), batch_size):
        idx = mine[start:start + batch_size]
        batch = {k: v.to(w.device) for k, v in collate([feats[i] for i in idx], pad_id).items() if k != "labels"}
        ids = model(**batch).logits.argmax(-1).cpu().tolist()
        out.update(zip(idx, ids))
    if w.world > 1:
        shards = [None] * w.world
        dist.all_gather_object(shards, out)
        out = {i: p for shard in shards for i, p in shard.items()}
    return [out[i] for i in range(len(feats))]


def score(w, model, task: TaskSpec, examples, tokenizer, max_length: int, batch_size: int) -> tuple[float, int]:
    """The task's headline metric (0-100) on these examples, and how many there were."""
    family = FAMILIES[task.family]
    feats = family.features(examples, tokenizer, task.labels, max_length)
    predicted = predict(w, model, feats, tokenizer.pad_token_id, batch_size)
    preds = family.decode(examples, feats, predicted, task.labels)
    metric = METRICS[task.metric]
    return metric.compute(preds, family.references(examples))[metric.main], len(examples)


def target_model(w, key: str):
    """The target model to evaluate, kept in memory across its evaluations."""
    if w.cache.get("key") != key:
        path = w.run.model_dir(key)
        task = get_task(w.run.read_stage(key)["spec"]["task"])
        model = load_task_model(path, FAMILIES[task.family].auto_class, None).to(w.device)
        w.cache = {"key": key, "model": model, "tokenizer": load_tokenizer(path)}
    return w.cache["model"], w.cache["tokenizer"]


def evaluate_stage(w, stage) -> dict:
    spec = stage.spec
    task = get_task(spec["task"])
    model, tokenizer = target_model(w, stage.parent)
    clean = load_split(task.name, "test", spec["language"], spec["data"])
    batch_size = w.sweep["target_training"]["batch_size"] * 2
    kind = NOISE_KINDS.get(spec["noise"])  # None for "clean"
    noise = {"kind": spec["noise"], "level": spec["level"], "lang": spec["language"], "seed": spec["noise_seed"],
             "resources": noise_resources(w.sweep, spec["noise"], spec["language"], spec),
             "protect": spec.get("protect", False)}
    if spec["level"] and kind.needs_model:  # the kind evaluates the model itself
        module, name = kind.model_aware.split(":")
        result = getattr(importlib.import_module(module), name)(
            w, model, task, clean, tokenizer, namespace=task.name, max_length=spec["max_length"],
            batch_size=batch_size, **noise)
        value, n, realised, extra = result["value"], result["n"], result["realised_level"], result["extra"]
    else:
        examples = noisy(clean, task.name, **noise)
        value, n = score(w, model, task, examples, tokenizer, spec["max_length"], batch_size)
        realised, extra = realised_rate(clean, examples), {}
    records = [{**cell, "metric": task.metric, "value": value, "n": n, "realised_level": round(realised, 4), **extra}
               for cell in stage.cells]
    if w.rank == 0:
        aggregator = ray.get_actor(w.aggregator, namespace=AGGREGATOR_NAMESPACE)  # [ray]
        ray.get(aggregator.record.remote(records))  # [ray] returns once results.jsonl has them
        more = "".join(f", {k} {v}" for k, v in extra.items())
        w.log(f"{stage.label}: {task.metric} {value:.1f} (n={n}, realised level {realised:.2f}{more})")
    return {"value": value, "n": n, "realised_level": realised, "records": records}
