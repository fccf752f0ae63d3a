"""Running a sweep: the Tune driver, the Ray Train worker loop, evaluation and the aggregator.

Owns: driver.py (the only module that imports ray.tune: one Tune trial per group of stages,
each launching a TorchTrainer), worker.py (the train_loop_per_worker: it walks a group's stages
and runs each phase), train.py (the one plain training loop of phases i-iii), context.py (the
Worker every phase runs with, and the seeds it derives), batching.py (which features make each
batch: shuffled or length-grouped), evaluate.py (phase iv), attack.py (the model-aware noise
kind), multitask.py, models.py
(tokenizer, tiny XLM-R, encoder hand-over), meter.py (each stage's compute record: device, peak
memory, tokens), aggregator.py (the actor that owns results.jsonl), lease.py (one run at a time
per run folder, from any machine), probe.py (every node that computes sees the run folder),
cluster.py (the Ray cluster started or joined), capacity.py (whether it can hold a worker
group, checked before any trial) and watch.py
(what `ray-xr run` prints: the progress line, the headline, the unfinished stages).
May import everything below it: plan (config, graph, progress, smoke), tasks, noise, data, report,
stages, metrics, errors.
Worker-side Ray lines end in `# [ray]`; nothing imports Ray's private modules. Importing this
package imports nothing (torch and ray come with its modules).
"""
