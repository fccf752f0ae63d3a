"""Tasks: the registry of benchmarks (tasks are data, a declarative spec each) and the families
that train and evaluate them (families are code).

Owns: registry.py (TaskSpec, TASKS, get_task), specs.py + xtreme_r.py + intermediate.py (the
specs; importing this package fills the registry), local.py (the `local` source: published
files under a directory), hub.py (the hub source's references, their offline check, and the
only code that downloads: splits, release files, the model), hubtable.py (what the hub has and
in what form, the downloads XTREME-R's additions need with their sha256, and where each fact was
established), lock.py (a sweep's lock file: the hub commits, checksums and model commit `data
fetch` read), sizes.py (split sizes and
token lengths, for `plan --cost`), published.py (published noisy test sets, noise.published), load.py
(a stage's examples from its data source, noise applied), families.py + heads.py + ranking.py
(features, heads, decoding per family; torch), padding.py (the batch padding every
feature type's `batch` uses; torch), answers.py (QA answer text as XTREME
post-processes it; no torch), outcomes.py (an evaluation's per-example outcomes.parquet).
May import: ray_xr.data, ray_xr.noise, ray_xr.metrics, ray_xr.stages, ray_xr.errors. Must not import: config,
plan, run, report, ray. Importing the package imports no torch (only the family modules do):
`ray-xr plan` and `data check` use the registry.
"""
from ray_xr.tasks import intermediate, specs, xtreme_r  # noqa: F401  (each registers its specs)
from ray_xr.tasks.registry import (FAMILY_OPTIONS, SPLITS, TASKS, UNTRAINED_FAMILIES, LoadContext, TaskSpec,
                                   get_task, register)

__all__ = ["FAMILY_OPTIONS", "SPLITS", "TASKS", "UNTRAINED_FAMILIES", "LoadContext", "TaskSpec", "get_task",
           "register"]
