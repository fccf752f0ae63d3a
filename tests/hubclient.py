"""The loading side of the loopback-hub tests, in a fresh interpreter: huggingface_hub and
datasets read HF_ENDPOINT, HF_HOME and HF_HUB_OFFLINE once, when they are imported, so the
process that loads must start with them set (tests/test_data_hub.py starts it so).

Reads a job as JSON on stdin and prints one JSON line, a result per step:
  {"downloads": {name: {file: sha256}},   # the registry's pins for the served stand-ins
   "sources": {dataset: {field: value}},  # hubtable.SOURCES entries changed (a wrong table)
   "sizes": {task: {field: value}},       # tasks/sizes.py entries for the served splits
   "steps": [{"load": [task, split, language, data]},   -> {"examples": [...]} or {"error": line}
             {"cli": [argument, ...]},                  -> {"rc", "stdout", "stderr"}
             {"model": [name, revision]}]}              -> {"folder", "vocabulary"}
Only the registry's tables are replaced; the code under test (ray_xr's loaders, datasets,
huggingface_hub) runs unmodified.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import sys


def load(task: str, split: str, lang: str, data: dict) -> dict:
    from ray_xr.errors import DataError
    from ray_xr.tasks.load import load_split

    try:
        examples = load_split(task, split, lang, data)
    except DataError as err:
        return {"error": str(err)}
    return {"examples": [{"type": type(e).__name__, **dataclasses.asdict(e)} for e in examples]}


def cli(*args: str) -> dict:
    from ray_xr.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    return {"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue()}


def model(name: str, revision: str) -> dict:
    from ray_xr.run.models import load_tokenizer, pretrained

    folder = pretrained(name, revision)
    return {"folder": folder, "vocabulary": len(load_tokenizer(folder))}


def main() -> None:
    job = json.load(sys.stdin)
    from ray_xr.tasks import hub, sizes

    for name, pins in job.get("downloads", {}).items():
        hub.DOWNLOADS[name]["sha256"] = pins
    for dataset, changes in job.get("sources", {}).items():
        hub.SOURCES[dataset] = dataclasses.replace(hub.SOURCES[dataset], **changes)
    for task, size in job.get("sizes", {}).items():
        sizes.SIZES[task] = dataclasses.replace(sizes.SIZES[task], **size)
    steps = {"load": load, "cli": cli, "model": model}
    results = [steps[kind](*args) for step in job["steps"] for kind, args in step.items()]
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
