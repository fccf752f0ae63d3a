"""The commands that read a sweep or the task registry: `ray-xr plan [--cost] [--power]|run|tasks|data
show|check|fetch`.

main.py imports this module only for these commands (pydantic, yaml and the registry take a
second to import; `ray-xr noise show` must start in a tenth of one). `run` imports Ray and torch
only when it starts the sweep.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
import urllib.error
import urllib.request
from pathlib import Path

from ray_xr import plan
from ray_xr.cli import data
from ray_xr.plan import config, cost, smoke
from ray_xr.report import power
from ray_xr.errors import DataError, SweepError
from ray_xr.run import capacity
from ray_xr.storage import Bucket, check_shared, is_uri
from ray_xr.tasks import TASKS, hub, lock


def cmd_plan(args) -> int:
    p = plan.build(config.load(args.sweep))
    if args.power:
        _plan_power(p, args)
    elif args.cost:
        table = cost.gpu_table(args.gpu_table)
        found = {**cost.estimate(p, args.gpu, table), "cheaper_layout": cost.cheaper_layout(p, args.gpu, table)}
        print(json.dumps(found) if args.json else cost.describe(p, found, table))
    else:
        print(json.dumps(p.summary()) if args.json else plan.describe(p))
    _warn_one_seed(p, args.sweep)
    return 0


def _warn_one_seed(p, source: str, stream=sys.stderr) -> None:
    """After the command's own output (a mistake stays one line): a sweep comparing
    intermediate tasks with one seed can only speak of these trained models."""
    warning = power.one_seed_warning(p, source)
    if warning:
        print(warning, file=stream, flush=True)


def _plan_power(p, args) -> None:
    if args.mdd is not None and not args.mdd > 0:
        raise SweepError(f"--mdd {args.mdd:g}: a difference in points, greater than 0")
    if args.cost and args.mdd is None:
        raise SweepError("--power --cost prices the seeds that a stated difference needs: give --mdd POINTS")
    found = power.analyse(p, args.mdd, args.pilot)
    if args.cost:
        found.update(power.priced(p, found, args.gpu, cost.gpu_table(args.gpu_table), args.pilot))
    print(json.dumps(found) if args.json else power.describe(p, found))


def cmd_run(args) -> int:
    sweep = config.load(args.sweep)  # validate before anything heavy starts
    if args.random_weights and not args.smoke:  # never a "real" run of an untrained model
        raise SweepError("--random-weights: only with --smoke (a run of untrained weights measures, it finds nothing)")
    if args.smoke:
        sweep = smoke.transform(sweep, args.random_weights)
    if is_uri(args.storage):  # before anything heavy: a bad scheme, option or endpoint is one line
        Bucket(args.storage).check()
    elif args.address and not args.storage_shared:  # the GPU nodes a cluster adds later must see it too
        check_shared(args.storage)
    _check_dirs(sweep, args.sweep)
    p = plan.build(sweep)  # once: a full-scale plan takes a second
    _require_hub(p, args.sweep, model=not args.random_weights)
    if sweep.data.source != "synthetic" or sweep.data.local:
        # cheap: local files are read, hub splits resolved offline; fail before any training
        _check_data(p, args.sweep)
    _check_pins(p, args.sweep, args.locked, warn=True)
    # Tune warns whenever handling one trial result takes over 0.5 s, as the load of a busy
    # machine makes it, which no user can act on; Tune reads this when it is imported (below)
    os.environ.setdefault("TUNE_WARN_THRESHOLD_S", "10")
    if not args.address:  # the local cluster is this machine: checked in a second, before Ray starts
        res = sweep.resources
        capacity.local(capacity.per_worker(res.model_dump()), res.workers, os.cpu_count() or 1)
    _warn_one_seed(p, args.sweep, sys.stdout)  # every check passed: among the run's own lines
    from ray_xr.run.driver import run  # lazy: Ray and torch, only for the command that runs them

    try:
        return run(p, args.storage, args.address, tuple(args.rerun or ()), verbose=args.verbose)
    except KeyboardInterrupt:  # the driver has listed the unfinished stages
        print(f"ray-xr: interrupted; finished stages are kept. Resume with: {_resume_command(args)}", file=sys.stderr)
        return 130


def _resume_command(args) -> str:
    """The command that resumes this run: the same sweep, storage and cluster (without --rerun,
    whose stages to run again are marked already)."""
    words = ["ray-xr", "run", args.sweep] + (["--storage", args.storage] if args.storage != "runs" else [])
    words += (["--address", args.address] if args.address else []) + (["--locked"] if args.locked else [])
    return shlex.join(words)


def cmd_tasks(args) -> int:
    for spec in sorted(TASKS.values(), key=lambda t: t.name):
        print(f"{spec.name:14} {spec.family:16} {spec.metric:11} {'/'.join(spec.source_names):22}"
              f" {' '.join(spec.languages)}")
    return 0


def cmd_data_show(args) -> int:
    print(data.show(args.task, args.files, args.lang, args.json))
    return 0


def cmd_data_check(args) -> int:
    sweep = config.load(args.sweep)
    _check_dirs(sweep, args.sweep)
    p = plan.build(sweep)
    if args.json:  # hub splits are resolved offline: no network needed
        table, problems = data.check(p)
        print(json.dumps({"references": data.references(p), "problems": problems}))
        return 2 if problems else 0
    print(_check_data(p, args.sweep))
    unverified = data.unverified(p)
    if unverified:  # facts the hub table could not establish: said, not refused
        print("\n" + "\n".join([f"unverified ({len(unverified)} hub sources):"] + [f"  {u}" for u in unverified]))
    pins = _check_pins(p, args.sweep, args.locked)
    if pins:
        print(f"\n{pins}")
    return 0


def cmd_data_fetch(args) -> int:
    sweep = config.load(args.sweep)
    _check_dirs(sweep, args.sweep)
    p = plan.build(sweep)
    _check_data(p, args.sweep)  # every source known before the first download
    _require_hub(p, args.sweep)
    refs, problems, model = data.fetch(p)
    if refs or model:  # what was read is pinned; a pin of a source that failed now is kept
        before = sweep.lock.sources if sweep.lock else {}
        wanted = {hub.pin_key(r) for r in data.hub_sources(p)}
        sources = {k: v for k, v in before.items() if k in wanted} | lock.entries(refs)
        written = lock.write(lock.path_for(args.sweep), dict(sorted(sources.items())),
                             model or (sweep.lock.model if sweep.lock else None))
        print(f"ray-xr: {len(refs)} hub sources of {sweep.name}" + (f" and the model {model['name']}" if model else "")
              + f" are in the Hugging Face cache ({_hf_home()}), pinned in {written}")
        if sweep.lock is None:  # the pins enter the stage keys (plan._data_spec): say so where they appear
            print("ray-xr: its stage keys now include these pins; a run folder made before them computes its hub"
                  f" stages again (delete {written} to keep reading the hub's current revisions)")
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        raise DataError(f"{args.sweep}: {len(problems)} problem(s) in the data or the model (listed above, one a"
                        " line); fix them before a run")
    return 0


def _hf_home() -> str:
    from huggingface_hub import constants  # where the cache every node must read is

    return constants.HF_HOME


def _check_dirs(sweep, source: str) -> None:
    for task, entry in sweep.data.local.items():
        if not Path(entry.dir).is_dir():
            raise DataError(f"{source}: data.local.{task}.dir: no such directory {entry.dir}")


def _check_data(p, source: str) -> str:
    table, problems = data.check(p)
    if problems:
        print("\n".join([table] + [f"  {p}" for p in problems]))
        raise DataError(f"{source}: {len(problems)} split(s) missing or malformed; first: {problems[0]}")
    return table


def _check_pins(p, source: str, strict: bool, warn: bool = False) -> str:
    """What pins the sweep's hub sources: the lock file's summary and each source neither it nor
    the registry pins. Unpinned sources are read at the hub's current revision: an error with
    --locked, else listed (`data check`) or one warning (`run`, warn=True)."""
    refs, loose = data.hub_sources(p), data.unpinned(p)
    found = p.sweep.lock
    fix = f"`ray-xr data fetch {source}` writes {lock.path_for(source)}"
    if loose and strict:
        raise DataError(f"{source}: {len(loose)} of {len(refs)} hub sources are not pinned (first: {loose[0]});"
                        f" {fix}, or run without --locked")
    model = data.unpinned_model(p)
    if model and strict:
        raise DataError(f"{source}: the model {model} is not pinned (the lock names no commit of it); {fix}, or run"
                        " without --locked")
    if loose and warn:
        more = f", +{len(loose) - 3} more" if len(loose) > 3 else ""
        print(f"ray-xr: warning: {len(loose)} of {len(refs)} hub sources are read at the hub's current revision,"
              f" not pinned: {'; '.join(map(str, loose[:3]))}{more} ({fix})", file=sys.stderr)
    if model and warn:
        print(f"ray-xr: warning: the model {model} is loaded at the hub's current revision, not pinned ({fix})",
              file=sys.stderr)
    lines = [f"lock: {found.file} (written {found.written}, datasets {found.datasets})" if found else
             f"lock: none ({fix} once online)"] if refs or model else []
    if loose:
        lines += [f"not pinned ({len(loose)} of {len(refs)} hub sources):"] + [f"  {r}" for r in loose]
    if model:
        lines += [f"model not pinned: {model}"]
    return "\n".join(lines)


HUB = "https://huggingface.co"
_PROBE_TIMEOUT_S = 5  # a reachable hub answers in well under a second
_OFFLINE = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")  # huggingface_hub's and datasets' switches


def _require_hub(p, source: str, model: bool = True) -> None:
    """One line, at once, when the sweep reads the Hugging Face hub and it cannot be reached:
    unreachable, `datasets` retries every file for minutes (dozens of 'Retrying in 8s' lines).
    With HF_HUB_OFFLINE set the cache answers instead, and a missing file fails fast there."""
    if any(os.environ.get(v, "").lower() in ("1", "true", "yes", "on") for v in _OFFLINE):
        return
    sweep = p.sweep
    reads = sorted({task for task, *_, spec in data.needed_splits(p) if spec["source"] == "hub"})
    what = [f"the data of {', '.join(reads)}"] if reads else []
    if model and sweep.model != config.EMBEDDED_MODEL and not Path(sweep.model).is_dir():
        what.append(f"the model {sweep.model}")
    if not what:
        return
    endpoint = os.environ.get("HF_ENDPOINT") or HUB
    try:
        urllib.request.urlopen(urllib.request.Request(endpoint, method="HEAD"), timeout=_PROBE_TIMEOUT_S)
    except urllib.error.HTTPError:
        pass  # the server answered: the hub is there, whatever it thinks of a HEAD on its root
    except (OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        raise DataError(f"{source}: the Hugging Face hub ({endpoint}) cannot be reached ({reason}) and this sweep"
                        f" reads {' and '.join(what)} from it; run where it is reachable, set HF_ENDPOINT to a"
                        " mirror, or fill the cache once online (`ray-xr data fetch SWEEP`) and set"
                        " HF_HUB_OFFLINE=1") from None
