"""The worker loop: what every Ray Train worker runs for one group of stages.

`run_group` is the TorchTrainer's train_loop_per_worker; `run_in_trial` runs the same loop in
the Tune trial's own process (resources.workers = 0). It walks its stages in order, skips the
finished ones, and for each runs phase (i) pretraining, (ii)/(iii) fine-tuning or (iv)
evaluation. The Ray-specific lines are few and marked `# [ray]`; ray.tune is never imported.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist

import ray.train  # [ray]
import ray.train.torch  # [ray]
from ray_xr.plan import config
from ray_xr.plan.config import Sweep
from ray_xr.plan.settings import Phase
from ray_xr.data import cache, synthetic
from ray_xr.run import batching, checkpoints, multitask
from ray_xr.run.meter import Meter, non_embedding_params
from ray_xr.tasks.load import data_sources, load_split, noise_resources, noisy, realised_rate
from ray_xr.data.examples import Text
from ray_xr.data.examples import texts as example_texts
from ray_xr.run.evaluate import evaluate_stage, model_source, score
from ray_xr.run.models import (autocast, load_task_model, load_tokenizer, new_encoder, new_masked_lm, save_encoder,
                               save_model, train_tokenizer, unwrap)
from ray_xr.run.multitask import MultiTaskModel, TaskFeature
from ray_xr.run.probe import probe_node
from ray_xr.errors import ClusterError
from ray_xr.plan import Stage
from ray_xr.stages import RunDir
from ray_xr.tasks import get_task
from ray_xr.tasks.families import FAMILIES, collate, mask_tokens


@dataclass
class Worker:
    run: RunDir
    sweep: Sweep
    aggregator: str
    rank: int
    world: int
    device: torch.device
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


# A parent stage that runs has written its record within seconds of its trial's start: a
# trial starts early only when its parents run (schedule.Dependencies)
PARENT_RECORD_S = 60.0


def run_group(loop: dict) -> None:
    """The TorchTrainer's train_loop_per_worker: one worker of the group's worker group."""
    ctx = ray.train.get_context()  # [ray]
    if ctx.get_local_rank() == 0:  # [ray] one rank per node: each node the group runs on sees the run folder
        probe_node(loop["run_dir"], loop["run_id"], loop["aggregator"])
    run_stages(loop, ctx.get_world_rank(), ctx.get_world_size(), ray.train.torch.get_device())  # [ray]


def run_in_trial(loop: dict, report: Callable) -> None:
    """The loop as one worker in the calling process, without a worker group (Ray Train refuses
    its own local mode inside a Tune trial: ray-project/ray#49454); `report` takes the epoch metrics."""
    device = torch.device("cuda" if loop["sweep"]["resources"]["use_gpu"] else "cpu")
    probe_node(loop["run_dir"], loop["run_id"], loop["aggregator"])
    run_stages(loop, 0, 1, device, report=report, prepare=lambda model, **_: model.to(device))


def run_stages(loop: dict, rank: int, world: int, device: torch.device, **calls) -> None:
    """`loop` is what the driver sends (driver.payload): the run folder, the resolved sweep as
    JSON (rebuilt and validated here into the typed Sweep), the aggregator's name and the stages;
    `calls` replace Ray Train's report and prepare_model where the loop runs without it."""
    sweep = config.parse(loop["sweep"], "the sweep sent to the worker")
    # Ray Train logs every report at INFO under a logger named by its file path, which its
    # LoggingConfig does not reach; such a logger has no level of its own and follows the root's.
    # Our progress lines say the same.
    logging.getLogger().setLevel(logging.WARNING)
    torch.set_num_threads(sweep.resources.cpus_per_worker)
    if sweep.resources.deterministic:  # GPUs: deterministic kernels (CPU runs are deterministic without)
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    w = Worker(RunDir(loop["run_dir"]), sweep, loop["aggregator"], rank, world, device, **calls)
    node = ray.get_runtime_context().get_node_id()  # [ray] recorded with each stage
    node_ip = ray.util.get_node_ip_address()  # [ray]
    for raw in loop["stages"]:
        stage = Stage(**raw)
        if w.run.is_done(stage.key):
            continue
        wait_for_parent(w, stage)
        started = time.time()
        if w.rank == 0:
            w.run.write_stage(stage, "running", w.resolved, started=started, node=node)
        w.meter.begin(w.device)
        metrics = RUNNERS[stage.phase](w, stage)
        metrics |= data_sources(stage.spec, sweep.data.source_language)  # hub commits and checksums read
        metrics["compute"] = w.meter.record(w.device, w.precision, w.world, node_ip, lambda v: gather(w, v))
        if w.rank == 0:
            w.run.write_stage(stage, "done", w.resolved, metrics, started, node)
            w.run.clear_checkpoint(stage.key)  # the stage's result is on disk: nothing to resume
        w.barrier()  # the next stage may read this one's files


def wait_for_parent(w: Worker, stage: Stage) -> None:
    """A trial may start while the group it reads from still trains (schedule.Dependencies
    fills a slot that would idle with it, so its start-up overlaps that training): wait for the
    parent's model, or end if the parent's trial failed, or if the parent shows no sign of
    running within PARENT_RECORD_S (this node would hold its resources for nothing)."""
    began = time.monotonic()
    while stage.parent and (record := w.run.read_stage(stage.parent) or {}).get("status") != "done":
        if w.run.has_failed(stage.parent):
            raise RuntimeError(f"{stage.label}: the stage it reads, {stage.parent}, failed")
        if record.get("status") != "running" and time.monotonic() - began > PARENT_RECORD_S:
            raise ClusterError(f"{stage.label}: the stage it reads, {stage.parent}, has neither run nor finished"
                               f" after {PARENT_RECORD_S:.0f} s as this node sees {w.run.shown}")
        time.sleep(0.5)


def derived_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:4], "big")


def init_seed(spec: dict, task: str) -> int:
    """The seed of a stage's head and dropout: an intermediate variant's name enters it, so that a
    copy of a task (`nli_copy`) is an independent training run, not the same one again."""
    return derived_seed(spec["seed"], task, "init", *([spec["variant"]] if "variant" in spec else []))


def pretrain(w: Worker, stage: Stage) -> dict:
    """Phase (i) for the embedded model: a tokenizer and a tiny masked LM on the synthetic corpus
    (and the English training text of the sweep's embedded.corpus_tasks). With `run --smoke
    --random-weights`, the same tokenizer and the hub model's architecture, untrained."""
    emb, out = stage.spec["embedded"], w.run.model_dir(stage.key)
    texts = [t for lang in synthetic.LANGUAGES
             for t in synthetic.corpus(lang, emb["corpus_per_language"], stage.spec["corpus_seed"])]
    lang = w.sweep.data.source_language
    texts += [Text(f"{task}-{e.id}-{i}", t) for task, data in stage.spec["corpus"].items()
              for e in load_split(task, "train", lang, data) for i, t in enumerate(example_texts(e))]
    tok_dir = f"stages/{stage.key}/tokenizer"
    if w.rank == 0:
        train_tokenizer((t.text for t in texts), emb["vocab_size"]).save_pretrained(w.run.root / tok_dir)
        w.run.push(tok_dir)  # to a bucket, for workers on other nodes
    w.barrier()
    tokenizer = load_tokenizer(w.run.fetch(tok_dir))
    if stage.random_weights is not None:
        torch.manual_seed(derived_seed(emb["seed"], "random-weights"))
        model = new_encoder(stage.random_weights, w.device)
        if w.rank == 0:
            save_encoder(model, tokenizer, out)
        return {"random_weights": True, "non_embedding_params": non_embedding_params(model)}
    phase = stage.training
    torch.manual_seed(derived_seed(emb["seed"], "pretrain"))
    model = new_masked_lm(emb, tokenizer)
    feats = FAMILIES["mlm"].features(texts, tokenizer, (), phase.max_length)

    def prepare(batch: dict, at: tuple[int, int]) -> dict:
        # a generator per (worker, epoch, step): the masks of a resumed epoch are those it had
        gen = torch.Generator().manual_seed(derived_seed(emb["seed"], "masking", w.rank, *at))
        return mask_tokens(batch, tokenizer, emb["mask_prob"], gen)

    model, metrics = train_loop(w, stage, model, feats, phase, tokenizer.pad_token_id, prepare, None)
    if w.rank == 0:
        save_encoder(model, tokenizer, out)
    return metrics


def noisy_training_data(w: Worker, stage: Stage, task: str, train: list) -> tuple[list, float | None]:
    """The English training examples under the stage's train_noise (if any) and the realised
    rate; the dev set stays clean."""
    if stage.spec["train_noise"] is None:
        return train, None
    tn, lang = stage.spec["train_noise"], w.sweep.data.source_language
    noisy_train = noisy(train, task, tn["kind"], tn["level"], lang, tn["noise_seed"],
                        resources=noise_resources(w.sweep.noise_resources(), tn["kind"], lang, tn), protect=tn["protect"],
                        namespace=f"train/{task}")
    realised = realised_rate(train, noisy_train, lang, tn["kind"])
    w.log(f"{stage.label}: {tn['kind']} noise on the {task} training data, level {tn['level']}"
          f" (realised {realised:.2f})")
    return noisy_train, realised


def finetune(w: Worker, stage: Stage) -> dict:
    """Phases (ii) and (iii): train a task head on English, select on the English dev set (or
    keep the last epoch: the phase's model_selection)."""
    spec, task = stage.spec, get_task(stage.spec["task"])
    family, phase = FAMILIES[task.family], stage.training
    source, lang = model_source(w.run, stage.parent), w.sweep.data.source_language
    tokenizer = load_tokenizer(source)
    torch.manual_seed(init_seed(spec, task.name))
    model = load_task_model(source, family.auto_class, len(task.labels))
    train, realised = noisy_training_data(w, stage, task.name, load_split(task.name, "train", lang, spec["data"]))
    select = phase.model_selection == "dev"  # else keep the last epoch, read no dev set
    dev = load_split(task.name, "dev", lang, spec["data"]) if select else None
    options = spec["options"]
    feats = cache.features(w.run.feature_cache, task, family, train, tokenizer, phase.max_length, options, train=True)

    def dev_score(m) -> float:
        # the module DDP wraps: a DDP forward may broadcast buffers, and a rank that gets no dev
        # batch never joins that collective (an NCCL hang)
        return score(w, unwrap(m), task, dev, tokenizer, phase.max_length, phase.batch_size, lang, options)[0]

    model, metrics = train_loop(w, stage, model, feats, phase, tokenizer.pad_token_id, None,
                                dev_score if select else None)
    if realised is not None:
        metrics = {**metrics, "train_noise_realised_level": realised}
    if w.rank == 0:
        (save_encoder if stage.phase == "intermediate" else save_model)(model, tokenizer, w.run.model_dir(stage.key))
    if stage.phase == "target":
        w.held = {"key": stage.key, "auto_class": family.auto_class, "model": unwrap(model), "tokenizer": tokenizer}
    return metrics


def finetune_multitask(w: Worker, stage: Stage) -> dict:
    """Phase (ii) on several tasks at once: one encoder, a head per task, batches drawn per task;
    selected on the mean of the tasks' dev scores."""
    spec, phase = stage.spec, stage.training
    tasks = [get_task(name) for name in spec["tasks"]]
    source, lang = model_source(w.run, stage.parent), w.sweep.data.source_language
    tokenizer = load_tokenizer(source)
    torch.manual_seed(init_seed(spec, spec["task"]))
    model = MultiTaskModel([load_task_model(source, FAMILIES[t.family].auto_class, len(t.labels)) for t in tasks])
    feats, devs = [], []
    for i, task in enumerate(tasks):
        setting = spec["tasks"][task.name]
        train, _ = noisy_training_data(w, stage, task.name, load_split(task.name, "train", lang, setting["data"]))
        devs.append(load_split(task.name, "dev", lang, setting["data"]) if "dev" in setting["data"]["sizes"] else [])
        feats.append([TaskFeature(i, f) for f in cache.features(
            w.run.feature_cache, task, FAMILIES[task.family], train, tokenizer, phase.max_length,
            setting["options"], train=True)])

    def dev_score(m) -> float:
        return sum(score(w, unwrap(m).heads[i], task, devs[i], tokenizer, phase.max_length, phase.batch_size,
                         lang, spec["tasks"][task.name]["options"])[0]
                   for i, task in enumerate(tasks)) / len(tasks)

    sizes = [len(f) for f in feats]
    batches = multitask.schedule(sizes, multitask.probabilities(sizes, **spec["sampling"]))
    select = phase.model_selection == "dev"
    model, metrics = train_loop(w, stage, model, [f for fs in feats for f in fs], phase, tokenizer.pad_token_id,
                                None, dev_score if select else None, batches)
    if w.rank == 0:
        save_encoder(model, tokenizer, w.run.model_dir(stage.key))
    return metrics


def intermediate(w: Worker, stage: Stage) -> dict:
    return (finetune_multitask if "tasks" in stage.spec else finetune)(w, stage)


def train_loop(w: Worker, stage: Stage, model, feats, phase: Phase, pad_id: int, prepare, dev_score,
               schedule=None):
    """One plain data-parallel training loop; returns the model selected on dev and its metrics.

    Each optimizer step accumulates gradients over `accumulation` micro-batches (the phase's
    effective_batch_size); batches are drawn by `schedule` (default: run/batching.py, shuffled or
    length-grouped), a function of (stage, epoch) only. It checkpoints into the stage's folder at
    every epoch end (and every resources.checkpoint_every_steps steps) and, when the stage was
    interrupted, continues from the last checkpoint exactly where it stopped: the same batches,
    random state and schedule, so a resumed stage ends with the numbers of an undisturbed one."""
    ddp = {"find_unused_parameters": getattr(model, "find_unused_parameters", False)}
    model = w.prepare(model, parallel_strategy_kwargs=ddp)
    if w.sweep.resources.compile:
        # in place (Module.compile): the module, its state_dict keys and DDP wrapper stay as they
        # are, so checkpoints and saved models are those of an uncompiled run; shapes that change
        # from batch to batch are compiled as dynamic after the first recompilation
        model.compile()
    per_worker = max(1, phase.batch_size // w.world)
    accumulation = phase.accumulation
    steps_per_epoch = max(1, len(feats) // (per_worker * w.world * accumulation))
    if schedule is None:
        schedule = (batching.length_grouped([batching.feature_length(f) for f in feats])
                    if phase.length_grouped else batching.shuffled)
    total = steps_per_epoch * phase.epochs
    decay = [p for n, p in model.named_parameters() if p.ndim > 1]
    rest = [p for n, p in model.named_parameters() if p.ndim <= 1]
    # fused: one kernel for all parameters on GPUs (15% faster steps for XLM-R large, bench_gpu.py)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": phase.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=phase.lr,
                            fused=True if w.device.type == "cuda" else None)
    warmup = max(1, int(phase.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    w.run.pull_checkpoint(stage.key)  # from a bucket, onto this node (storage.py)
    restored = checkpoints.load(w.run.checkpoint_dir(stage.key), w.rank, unwrap(model), opt, sched)
    at, best_state = restored or (checkpoints.Position(), None)
    resumed = {"resumed_from_epoch": at.epoch, "resumed_from_step": at.step} if restored else {}
    if restored:
        w.log(f"{stage.label}: resuming from its checkpoint at epoch {at.epoch + 1}, step {at.step}")
    every = w.sweep.resources.checkpoint_every_steps
    seed = derived_seed(stage.key, "order")
    # a checkpoint written after the last epoch resumes straight to the end: its metrics say so too
    metrics: dict = {**at.extra, **resumed}
    params = non_embedding_params(unwrap(model))  # for the smoke table's MFU
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
                at.tokens, at.padded = at.tokens + real, at.padded + padded
                at.loss_sum += loss.item()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            if every and (step + 1) % every == 0 and step + 1 < steps_per_epoch:
                at.epoch, at.step = epoch, step + 1
                save_checkpoint(w, stage, model, opt, sched, at, best_state)
        seconds = time.perf_counter() - t0
        counts = gather(w, [at.tokens, at.padded, seconds])  # every worker's, for its own throughput
        metrics = {"stage": stage.key, "phase": stage.phase, "epoch": epoch + 1,
                   "loss": at.loss_sum / (steps_per_epoch * accumulation), "tokens_per_s": at.tokens * w.world / seconds,
                   "tokens_per_s_per_worker": [round(t / s) for t, _, s in counts],
                   "padding_ratio": 1 - sum(c[0] for c in counts) / max(1, sum(c[1] for c in counts)),
                   "accumulation": accumulation, "train_seconds": seconds, "non_embedding_params": params,
                   **resumed}
        if dev_score is not None:
            metrics["dev_score"] = dev_score(model)
            if at.best is None or metrics["dev_score"] > at.best:
                at.best, best_state = metrics["dev_score"], copy.deepcopy(unwrap(model).state_dict())
            metrics["best_dev_score"] = at.best
        w.log(f"{stage.label}: epoch {epoch + 1}/{phase.epochs} loss {metrics['loss']:.3f}"
              + (f" dev {metrics['dev_score']:.1f}" if dev_score else "")
              + f" ({metrics['tokens_per_s']:,.0f} tok/s, {100 * metrics['padding_ratio']:.0f}% padding)")
        at = checkpoints.Position(epoch + 1, 0, 0.0, 0, 0, at.best, metrics)
        save_checkpoint(w, stage, model, opt, sched, at, best_state)
        report_epoch(w, stage, metrics)
    if best_state is not None:
        unwrap(model).load_state_dict(best_state)
    return model, metrics


def save_checkpoint(w: Worker, stage: Stage, model, opt, sched, at, best_state) -> None:
    checkpoints.save(w.run.checkpoint_dir(stage.key), w.rank, lambda value: gather(w, value), unwrap(model), opt, sched,
                     at, best_state)
    if w.rank == 0:
        w.run.push_checkpoint(stage.key)  # to a bucket: what a restart on another node resumes


def gather(w: Worker, value: list) -> list[list]:
    """`value` of every worker, in rank order (a collective: every worker calls it)."""
    if w.world == 1:
        return [value]
    out: list = [None] * w.world
    dist.all_gather_object(out, value)
    return out


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


RUNNERS = {"pretrain": pretrain, "intermediate": intermediate, "target": finetune, "eval": evaluate_stage}
