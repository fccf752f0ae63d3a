"""The training loop of phases (i)-(iii), read top to bottom: set up (model, batch order,
optimizer, the checkpoint to resume from), then per epoch the micro-batches and optimizer steps,
the epoch's metrics, dev selection, a checkpoint and Ray Train's report. The phases in
worker.py build the model and features and call it; it knows no task.
"""
from __future__ import annotations

import contextlib
import copy
import json
import tempfile
import time
from pathlib import Path
from typing import Callable

import torch

import ray.train  # [ray]
from ray_xr.plan import Stage
from ray_xr.plan.settings import Phase
from ray_xr.run import batching, checkpoints
from ray_xr.run.context import Worker, derived_seed
from ray_xr.run.meter import non_embedding_params
from ray_xr.run.models import autocast, unwrap
from ray_xr.tasks.families import collate


def train_loop(w: Worker, stage: Stage, model, feats, phase: Phase, pad_id: int, prepare, dev_score,
               schedule=None):
    """One plain data-parallel training loop; returns the model selected on dev and its metrics.

    Each optimizer step accumulates gradients over `accumulation` micro-batches (the phase's
    effective_batch_size); batches are drawn by `schedule` (default: run/batching.py, shuffled or
    length-grouped), a function of (stage, epoch) only. It checkpoints into the stage's folder at
    every epoch end (and every resources.checkpoint_every_steps steps) and, when the stage was
    interrupted, continues from the last checkpoint exactly where it stopped: the same batches,
    random state and schedule, so a resumed stage ends with the numbers of an undisturbed one."""
    model = prepared(w, model)
    per_worker, accumulation = max(1, phase.batch_size // w.world), phase.accumulation
    steps_per_epoch = max(1, len(feats) // (per_worker * w.world * accumulation))
    schedule = schedule or batch_order(feats, phase)
    opt, sched = optimizer(w, model, phase, steps_per_epoch * phase.epochs)
    at, best_state, resumed = resume(w, stage, model, opt, sched)
    every, seed = w.sweep.resources.checkpoint_every_steps, derived_seed(stage.key, "order")
    # a checkpoint written after the last epoch resumes straight to the end: its metrics say so too
    metrics: dict = {**at.extra, **resumed}
    for epoch in range(at.epoch, phase.epochs):
        model.train()
        t0 = time.perf_counter()
        batches = schedule(len(feats), per_worker, w.rank, w.world, seed + epoch, steps_per_epoch * accumulation)
        for step in range(at.step if epoch == at.epoch else 0, steps_per_epoch):
            for micro in range(step * accumulation, (step + 1) * accumulation):
                batch = collate([feats[i] for i in batches[micro]], pad_id)
                batch = prepare(batch, (epoch, micro)) if prepare else batch
                batch = {k: v.to(w.device) for k, v in batch.items()}
                last = micro == (step + 1) * accumulation - 1
                # gradients are averaged across workers on the last micro-batch only (DDP's all-reduce)
                with model.no_sync() if w.world > 1 and not last else contextlib.nullcontext():
                    with autocast(w.device, w.precision):
                        loss = model(**batch).loss
                    (loss / accumulation if accumulation > 1 else loss).backward()
                real, padded = batching.padding(batch)
                # .item() waits for the micro-batch to finish: once per micro-batch, for the epoch's loss
                at.tokens, at.padded, at.loss_sum = at.tokens + real, at.padded + padded, at.loss_sum + loss.item()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            if every and (step + 1) % every == 0 and step + 1 < steps_per_epoch:
                at.epoch, at.step = epoch, step + 1
                save_checkpoint(w, stage, model, opt, sched, at, best_state)
        metrics = epoch_metrics(w, stage, model, at, epoch, time.perf_counter() - t0, accumulation, resumed,
                                steps_per_epoch * accumulation)
        if dev_score is not None:
            metrics["dev_score"] = dev_score(model)
            if at.best is None or metrics["dev_score"] > at.best:
                at.best, best_state = metrics["dev_score"], copy.deepcopy(unwrap(model).state_dict())
            metrics["best_dev_score"] = at.best
        log_epoch(w, stage, phase, metrics)
        at = checkpoints.Position(epoch + 1, 0, 0.0, 0, 0, at.best, metrics)
        save_checkpoint(w, stage, model, opt, sched, at, best_state)
        report_epoch(w, stage, metrics)
    if best_state is not None:
        unwrap(model).load_state_dict(best_state)
    return model, metrics


def prepared(w: Worker, model):
    """The model on the worker's device, wrapped for data parallelism (Ray Train's prepare_model:
    DDP), and compiled where resources.compile asks for it."""
    ddp = {"find_unused_parameters": getattr(model, "find_unused_parameters", False)}  # multi-task heads
    model = w.prepare(model, parallel_strategy_kwargs=ddp)
    if w.sweep.resources.compile:
        # in place (Module.compile): the module, its state_dict keys and DDP wrapper stay as they
        # are, so checkpoints and saved models are those of an uncompiled run; shapes that change
        # from batch to batch are compiled as dynamic after the first recompilation
        model.compile()
    return model


def batch_order(feats, phase: Phase) -> Callable:
    """Which features make each batch (run/batching.py): of similar lengths where the phase asks
    for it, else shuffled."""
    if phase.length_grouped:
        return batching.length_grouped([batching.feature_length(f) for f in feats])
    return batching.shuffled


def optimizer(w: Worker, model, phase: Phase, total: int):
    """AdamW (weight decay on matrices only) and a linear warmup over phase.warmup of the `total`
    steps, then a linear decay to 0."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
    # fused: one kernel for all parameters on GPUs (15% faster steps for XLM-R large, bench_gpu.py)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": phase.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=phase.lr,
                            fused=True if w.device.type == "cuda" else None)
    warmup = max(1, int(phase.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    return opt, sched


def resume(w: Worker, stage: Stage, model, opt, sched) -> tuple[checkpoints.Position, dict | None, dict]:
    """Where the loop starts: the stage's last checkpoint (its model, optimizer, schedule and
    random state loaded into these), its best dev weights and the metrics that say it resumed; or
    the beginning."""
    w.run.pull_checkpoint(stage.key)  # from a bucket, onto this node (storage.py)
    restored = checkpoints.load(w.run.checkpoint_dir(stage.key), w.rank, unwrap(model), opt, sched)
    if not restored:
        return checkpoints.Position(), None, {}
    at, best_state = restored
    w.log(f"{stage.label}: resuming from its checkpoint at epoch {at.epoch + 1}, step {at.step}")
    return at, best_state, {"resumed_from_epoch": at.epoch, "resumed_from_step": at.step}


def epoch_metrics(w: Worker, stage: Stage, model, at: checkpoints.Position, epoch: int, seconds: float,
                  accumulation: int, resumed: dict, micro_batches: int) -> dict:
    """An epoch's loss and throughput (tokens per second of every worker, the share of padding);
    collective: every worker's counts travel to every worker."""
    counts = w.gather([at.tokens, at.padded, seconds])
    return {"stage": stage.key, "phase": stage.phase, "epoch": epoch + 1,
            "loss": at.loss_sum / micro_batches, "tokens_per_s": at.tokens * w.world / seconds,
            "tokens_per_s_per_worker": [round(t / s) for t, _, s in counts],
            "padding_ratio": 1 - sum(c[0] for c in counts) / max(1, sum(c[1] for c in counts)),
            "accumulation": accumulation, "train_seconds": seconds,
            "non_embedding_params": non_embedding_params(unwrap(model)),  # for the smoke table's MFU
            **resumed}


def log_epoch(w: Worker, stage: Stage, phase: Phase, metrics: dict) -> None:
    w.log(f"{stage.label}: epoch {metrics['epoch']}/{phase.epochs} loss {metrics['loss']:.3f}"
          + (f" dev {metrics['dev_score']:.1f}" if "dev_score" in metrics else "")
          + f" ({metrics['tokens_per_s']:,.0f} tok/s, {100 * metrics['padding_ratio']:.0f}% padding)")


def save_checkpoint(w: Worker, stage: Stage, model, opt, sched, at, best_state) -> None:
    checkpoints.save(w.run.checkpoint_dir(stage.key), w.rank, w.gather, unwrap(model), opt, sched,
                     at, best_state)
    if w.rank == 0:
        w.run.push_checkpoint(stage.key)  # to a bucket: what a restart on another node resumes


def report_epoch(w: Worker, stage: Stage, metrics: dict) -> None:
    """Every worker reports the epoch's metrics, which Tune shows per trial. Rank 0 attaches a
    checkpoint that is only a pointer (Ray Train keeps the metrics that come with one); the
    stage's own checkpoint is what resuming reads."""
    with tempfile.TemporaryDirectory() as d:
        checkpoint = None
        if w.rank == 0:
            Path(d, "stage.json").write_text(json.dumps({"stage": stage.key, "epoch": metrics["epoch"]}))
            checkpoint = ray.train.Checkpoint.from_directory(d)  # [ray]
        w.report(metrics, checkpoint=checkpoint)
