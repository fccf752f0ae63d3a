"""The worker loop: what every Ray Train worker runs for one group of stages.

`run_group` is the TorchTrainer's train_loop_per_worker; `run_in_trial` runs the same loop in
the Tune trial's own process (resources.workers = 0). It walks its stages in order, skips the
finished ones, and for each runs phase (i) pretraining, (ii)/(iii) fine-tuning (each builds its
model and features and hands them to train.py's loop) or (iv) evaluation (evaluate.py). The
Ray-specific lines are few and marked `# [ray]`; ray.tune is never imported.
"""
from __future__ import annotations

import logging
import time
from typing import Callable

import torch

import ray  # [ray]
import ray.train  # [ray]
import ray.train.torch  # [ray]
from ray_xr.data import cache, synthetic
from ray_xr.data.examples import Text
from ray_xr.data.examples import texts as example_texts
from ray_xr.errors import ClusterError
from ray_xr.plan import Stage, config
from ray_xr.run import multitask
from ray_xr.run.context import Worker, derived_seed
from ray_xr.run.evaluate import evaluate_stage, model_source, score
from ray_xr.run.meter import non_embedding_params
from ray_xr.run.models import (check_length, load_task_model, load_tokenizer, new_encoder, new_masked_lm, save_encoder,
                               save_model, train_tokenizer, unwrap)
from ray_xr.run.multitask import MultiTaskModel, TaskFeature
from ray_xr.run.probe import probe_node
from ray_xr.run.train import train_loop
from ray_xr.stages import RunDir
from ray_xr.tasks import get_task
from ray_xr.tasks.families import FAMILIES, mask_tokens
from ray_xr.tasks.load import data_sources, load_split, noise_resources, noisy, realised_rate


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
    """`loop` is what the driver sends (driver._payload): the run folder, the resolved sweep as
    JSON (rebuilt and validated here into the typed Sweep), the aggregator's name, the driver's
    git SHA and the stages;
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
    w = Worker(RunDir(loop["run_dir"]), sweep, loop["aggregator"], rank, world, device, loop["git_sha"], **calls)
    node = ray.get_runtime_context().get_node_id()  # [ray] recorded with each stage
    node_ip = ray.util.get_node_ip_address()  # [ray]
    for raw in loop["stages"]:
        stage = Stage(**raw)
        if w.run.is_done(stage.key):
            continue
        wait_for_parent(w, stage)
        started = time.time()
        if w.rank == 0:
            w.run.write_stage(stage, "running", w.resolved, started=started, node=node, git_sha=w.git_sha)
        w.meter.begin(w.device)
        metrics = RUNNERS[stage.phase](w, stage)
        metrics |= data_sources(stage.spec, sweep.data.source_language)  # hub commits and checksums read
        metrics["compute"] = w.meter.record(w.device, w.precision, w.world, node_ip, w.gather)
        if w.rank == 0:
            w.run.write_stage(stage, "done", w.resolved, metrics, started, node, git_sha=w.git_sha)
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
                        resources=noise_resources(w.sweep.noise_resources(), tn["kind"], lang, tn),
                        protect=tn["protect"], namespace=f"train/{task}")
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
    check_length(source, phase.max_length, w.sweep.model, f"{stage.phase}_training.max_length")
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
    check_length(source, phase.max_length, w.sweep.model, f"{stage.phase}_training.max_length")
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


RUNNERS = {"pretrain": pretrain, "intermediate": intermediate, "target": finetune, "eval": evaluate_stage}
