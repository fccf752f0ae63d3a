"""The commands that read a sweep or the task registry: `ray-xr plan [--cost]|run|tasks|data show|check|fetch`.

cli.py imports this module only for these commands (pydantic, yaml and the registry take a
second to import; `ray-xr noise show` must start in a tenth of one). `run` imports Ray and torch
only when it starts the sweep.
"""
from __future__ import annotations

import json
from pathlib import Path

from ray_xr import config, cost, datatools, plan
from ray_xr.errors import DataError, RayXRError
from ray_xr.tasks import TASKS


def cmd_plan(args) -> int:
    p = plan.build(config.load(args.sweep))
    if args.cost:
        table = cost.gpu_table(args.gpu_table)
        found = cost.estimate(p, args.gpu, table)
        print(json.dumps(found) if args.json else cost.describe(p, found, table))
        return 0
    print(json.dumps(p.summary()) if args.json else plan.describe(p))
    return 0


def cmd_run(args) -> int:
    sweep = config.load(args.sweep)  # validate before anything heavy starts
    _check_dirs(sweep, args.sweep)
    if sweep.data.source != "synthetic" or sweep.data.local:
        # cheap: local files are read, hub splits resolved offline; fail before any training
        _check_data(sweep, args.sweep)
    if "://" in args.storage:  # Path() would make "s3://b/runs" a local folder named "s3:"
        raise RayXRError(f"--storage {args.storage}: object storage URIs are not supported yet; mount the bucket"
                         " on every node (s3fs, gcsfuse) or use a shared file system, and pass its path")
    from ray_xr.run.driver import run  # lazy: Ray and torch, only for the command that runs them

    return run(sweep, Path(args.storage), args.address, tuple(args.rerun or ()))


def cmd_tasks(args) -> int:
    for spec in sorted(TASKS.values(), key=lambda t: t.name):
        print(f"{spec.name:14} {spec.family:16} {spec.metric:11} {'/'.join(spec.source_names):22}"
              f" {' '.join(spec.languages)}")
    return 0


def cmd_data_show(args) -> int:
    print(datatools.show(args.task, args.files, args.lang, args.json))
    return 0


def cmd_data_check(args) -> int:
    sweep = config.load(args.sweep)
    _check_dirs(sweep, args.sweep)
    print(_check_data(sweep, args.sweep))
    return 0


def cmd_data_fetch(args) -> int:
    sweep = config.load(args.sweep)
    _check_dirs(sweep, args.sweep)
    _check_data(sweep, args.sweep)  # every source known before the first download
    n = datatools.fetch(plan.build(sweep))
    print(f"ray-xr: {n} hub sources of {sweep.name} are in the Hugging Face cache")
    return 0


def _check_dirs(sweep, source: str) -> None:
    for task, entry in sweep.data.local.items():
        if not Path(entry.dir).is_dir():
            raise DataError(f"{source}: data.local.{task}.dir: no such directory {entry.dir}")


def _check_data(sweep, source: str) -> str:
    table, problems = datatools.check(plan.build(sweep))
    if problems:
        print("\n".join([table] + [f"  {p}" for p in problems]))
        raise DataError(f"{source}: {len(problems)} split(s) missing or malformed; first: {problems[0]}")
    return table
