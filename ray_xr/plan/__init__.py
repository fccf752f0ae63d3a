"""The sweep and its plan: the typed configuration, the stage graph and what can be said of a run
without running anything (its cost, its smoke version, where it stands).

Owns: settings.py (the blocks of a sweep, each a frozen pydantic model with its defaults),
config.py (the typed, frozen `Sweep` that puts them together, checked against the registries;
`load`, `parse`, `to_dict`), graph.py (the stage graph: stages, keys, trials, `build`, VERSIONS),
cost.py (`ray-xr plan --cost`), smoke.py (the sweep `run --smoke` makes), progress.py (`ray-xr
status`: where a run stands, read from its folder).
Defaults live in settings.py and config.py only, both here: everything downstream (graph, the
worker, the report) reads the typed Sweep or the stage specs built from it, never a default of
its own.
May import: ray_xr.tasks, ray_xr.noise, ray_xr.data, ray_xr.stages, ray_xr.errors; pydantic, yaml,
psutil. Must not import: run, report, cli, torch or ray: `ray-xr plan` runs on a laptop.
Modules here import their siblings by module (`ray_xr.plan.graph`), never this package's names.
"""
from ray_xr.plan.graph import (KEYED_LIBRARIES, PHASES, VERSIONS, Group, Plan, Stage, build, describe, noise_options,
                               recorded, stage_key)

__all__ = ["KEYED_LIBRARIES", "PHASES", "VERSIONS", "Group", "Plan", "Stage", "build", "describe", "noise_options",
           "recorded", "stage_key"]
