"""Phase (iv): zero-shot evaluation of a target model in one language under one noise condition.

Examples are sharded over the workers; the predictions are gathered and scored with the task's
official metric. Results go to the run's aggregator actor, which writes them to results.jsonl
before it acknowledges them.
"""
from __future__ import annotations

import importlib
from array import array

import torch
import torch.distributed as dist

import ray  # [ray] only to reach the aggregator actor
from ray_xr.data import cache
from ray_xr.plan import Stage
from ray_xr.tasks.load import load_split, noise_resources, noisy, published_condition, realised_rate
from ray_xr.data.examples import scored
from ray_xr.metrics import METRICS
from ray_xr.run.aggregator import AGGREGATOR_NAMESPACE, records_of
from ray_xr.run.models import autocast, load_task_model, load_tokenizer, pretrained
from ray_xr.noise import NOISE_KINDS, noise_note
from ray_xr.stages import write_text
from ray_xr.tasks import TaskSpec, get_task, outcomes
from ray_xr.tasks.families import FAMILIES, collate

@torch.inference_mode()
def predict(w, model, family, feats, pad_id: int, batch_size: int, options: dict) -> list:
    """The family's outputs for every feature; each worker runs its share of the batches, then all
    gather. The batches are those a single worker would run (worker r takes every world-th one),
    so every example is evaluated once, in the same company, and any number of workers gives the
    outputs of one, bit for bit.

    A family with `reuse_outputs` (ranking: its pool is the same text at every noise level and in
    every language) keeps the outputs of the loaded evaluation model by input, so a pool of a
    million entities is encoded once per model, not once per evaluation."""
    model.eval()
    memo = w.held.setdefault("outputs", {}) if getattr(family, "reuse_outputs", False) \
        and w.held.get("model") is model else None
    keys = [array("q", f.input_ids).tobytes() for f in feats] if memo is not None else []
    todo = [i for i in range(len(feats)) if memo is None or keys[i] not in memo]
    batches = [todo[start:start + batch_size] for start in range(0, len(todo), batch_size)]
    out = {}
    for idx in batches[w.rank::w.world]:
        batch = {k: v.to(w.device) for k, v in collate([feats[i] for i in idx], pad_id).items()
                 if k in ("input_ids", "attention_mask")}
        with w.meter.forward(int(batch["attention_mask"].sum())), autocast(w.device, w.precision):
            out.update(zip(idx, family.outputs(model, batch, **options)))
    if w.world > 1:
        shards = [None] * w.world
        dist.all_gather_object(shards, out)
        out = {i: p for shard in shards for i, p in shard.items()}
    if memo is None:
        return [out[i] for i in range(len(feats))]
    memo.update((keys[i], p) for i, p in out.items())
    return [memo[k] for k in keys]


def score(w, model, task: TaskSpec, examples, tokenizer, max_length: int, batch_size: int, lang: str,
          options: dict) -> tuple[float, list]:
    """The task's headline metric (0-100) on these examples, and the predictions (one per
    scored example: per query for ranking tasks, whose examples include the pool)."""
    family = FAMILIES[task.family]
    feats = cache.features(w.run.feature_cache, task, family, examples, tokenizer, max_length, options)
    predicted = predict(w, model, family, feats, tokenizer.pad_token_id, batch_size, options)
    preds = family.decode(examples, feats, predicted, task.labels, **options)
    metric = METRICS[task.metric]
    kwargs = {"lang": lang} if metric.by_language else {}
    return metric.compute(preds, family.references(examples, **options), **kwargs)[metric.main], preds


def model_source(run, key: str) -> str:
    """Where a stage's model lives: its folder, or, for the pretraining stage of a hub model
    (nothing trained), the hub name at the commit a lock pinned (`revision`: absent unpinned)."""
    record = run.read_stage(key)
    stage = Stage(key, record["phase"], record["spec"], record["parent"], record["label"])
    if stage.phase == "pretrain" and not stage.trains:
        return pretrained(stage.spec["model"], stage.spec.get("revision"))
    return str(run.fetch_model(key))


def target_model(w, key: str, task: TaskSpec):
    """The model an evaluation loads (the parent's, with the task family's head class), kept in
    memory across the evaluations that share it."""
    auto_class = FAMILIES[task.family].auto_class
    if w.held.get("key") != key or w.held["auto_class"] != auto_class:  # nothing held yet, or another model
        source = model_source(w.run, key)
        model = load_task_model(source, auto_class, None).to(w.device)
        w.held = {"key": key, "auto_class": auto_class, "model": model, "tokenizer": load_tokenizer(source)}
    return w.held["model"], w.held["tokenizer"]


def evaluate_stage(w, stage) -> dict:
    spec = stage.spec
    task = get_task(spec["task"])
    model, tokenizer = target_model(w, stage.parent, task)
    clean = load_split(task.name, "test", spec["language"], spec["data"])
    batch_size = spec["batch_size"]
    options = spec["options"]
    kind = NOISE_KINDS.get(spec["noise"])  # None for "clean"
    noise = {"kind": spec["noise"], "level": spec["level"], "lang": spec["language"], "seed": spec["noise_seed"],
             "resources": noise_resources(w.sweep.noise_resources(), spec["noise"], spec["language"], spec),
             "protect": spec["protect"]}
    preds = None
    if spec["level"] and kind.needs_model:  # the kind evaluates the model itself
        module, name = kind.model_aware.split(":")
        result = getattr(importlib.import_module(module), name)(
            w, model, task, clean, tokenizer, namespace=task.name, max_length=spec["max_length"],
            batch_size=batch_size, **noise)
        value, n, realised, extra = result["value"], result["n"], result["realised_level"], result["extra"]
        examples, preds = clean, result["preds"]
    else:
        if "published" in spec:  # clean and noisy: the published set's aligned examples only
            clean, examples = published_condition(clean, task.name, spec, w.sweep)
        else:
            examples = noisy(clean, task.name, **noise)
        value, preds = score(w, model, task, examples, tokenizer, spec["max_length"], batch_size,
                             spec["language"], options)
        n, realised, extra = len(scored(examples)), realised_rate(clean, examples, spec["language"], spec["noise"]), {}
    result = {"metric": task.metric, "value": value, "n": n, "realised_level": round(realised, 4), **extra,
              **({"chance": 100 * task.chance} if task.chance is not None else {})}
    if task.parallel_for(spec["data"]["source"]):  # the report resamples its items across languages
        result["parallel_test"] = True
    records = records_of(stage.key, stage.cells, result)
    if w.rank == 0:  # per-example outcomes, before the records of the stage that holds them
        outcomes.write(w.run.stage_dir(stage.key), task, examples, preds, spec["language"], options, value)
        if not spec["level"] and "published" not in spec:  # the clean test predictions, in the XTREME submission layout
            ext, text = FAMILIES[task.family].export(clean, preds)
            write_text(w.run.stage_dir(stage.key) / "predictions" / f"test-{spec['language']}.{ext}", text)
        aggregator = ray.get_actor(w.aggregator, namespace=AGGREGATOR_NAMESPACE)  # [ray]
        ray.get(aggregator.record.remote(records))  # [ray] returns once results.jsonl has them
        more = "".join(f", {k} {v}" for k, v in extra.items())
        w.log(f"{stage.label}: {task.metric} {value:.1f} (n={n}, realised level {realised:.2f}{more})")
    note = noise_note(spec["noise"], spec["language"]) if spec["level"] else None
    return {"result": result, **({"noise_note": note} if note else {})}
