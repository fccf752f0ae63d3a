# .venv/bin/python bench/report_scale.py [--out DIR] [--keep]      writes bench/results/report_scale.json
"""The report at full scale: a run folder shaped like sweeps/nli_vs_ner.yaml (its plan's 3,600
evaluations, each with an outcomes.parquet at the real test sizes of tasks/sizes.py: XNLI 5,010
items per language, PAN-X up to 10,000 sentences, UD-POS up to 22,458), rendered by
`ray-xr report` on a quarter, a half and all of its languages, with the wall time and the
peak memory of each (resource.getrusage of the child). Then the aggregator: record() timed
while its live report of the whole folder renders on the actor's thread.

Outcomes are simulated (what the report reads, not how a model makes them): each item has a
difficulty shared by every run, each run (task, seed) an offset per language; accuracy for
XNLI (its ids shared across languages, as translations), per-sentence tp / fp / fn for the
seqeval targets.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ray_xr import plan  # noqa: E402
from ray_xr.plan import config, cost  # noqa: E402
from ray_xr.run.aggregator import CELL_FIELDS, Aggregator  # noqa: E402
from ray_xr.tasks import get_task  # noqa: E402

SHARES = (0.25, 0.5, 1.0)
RECORD_CALLS = 200


def outcomes(rng: np.random.Generator, metric: str, items: np.ndarray, accuracy: float) -> dict[str, np.ndarray]:
    """One evaluation's columns: items [n] their difficulty (shared by every run)."""
    n = len(items)
    right = (items + 0.6 * rng.standard_normal(n)) < np.quantile(items, accuracy)
    if metric == "accuracy":
        return {"score": right.astype(np.float32)}
    gold = 1 + (np.abs(items * 7).astype(int) % 3)
    tp = np.where(right, gold, rng.binomial(gold, 0.5))
    fp = rng.binomial(1, 0.15, n)
    fn = gold - tp
    return {"score": (2 * tp / (2 * tp + fp + fn)).astype(np.float32), "tp": tp.astype(np.int16),
            "fp": fp.astype(np.int16), "fn": fn.astype(np.int16)}


def write_run(root: Path) -> list[dict]:
    """Every evaluation stage of nli_vs_ner's plan, simulated; the records of results.jsonl."""
    p = plan.build(config.load(REPO / "sweeps" / "nli_vs_ner.yaml"))
    rng = np.random.default_rng(0)
    items, offsets, records = {}, {}, []
    for key, stage in p.stages.items():
        if stage.phase != "eval":
            continue
        spec = stage.spec
        task = get_task(spec["task"])
        n = cost.test_examples(stage)
        parallel = task.parallel_for(spec["data"]["source"])
        item_key = spec["task"] if parallel else (spec["task"], spec["language"])
        shared = items.setdefault(item_key, rng.standard_normal(n))[:n]
        for cell in stage.cells:
            run = (cell["intermediate"], cell["seed"], spec["language"])
            offset = offsets.setdefault(run, rng.normal(0, 0.02))
            columns = outcomes(rng, task.metric, shared, 0.75 - 0.4 * spec["level"] + offset)
            path = root / "stages" / key / "outcomes.parquet"
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                ids = [f"test-{i}" for i in range(n)]
                pq.write_table(pa.table({"example_id": ids, **columns}), path)
            tp, fp, fn = (columns[k].sum() if k in columns else 0 for k in ("tp", "fp", "fn"))
            value = 100 * columns["score"].mean() if task.metric == "accuracy" else 100 * 2 * tp / (2 * tp + fp + fn)
            records.append({**cell, "stage": key, "metric": task.metric, "value": float(value), "n": n,
                            **({"parallel_test": True} if parallel else {})})
    return records


def subset(records: list[dict], share: float) -> list[dict]:
    """The records of the first `share` of each target's languages (every task, seed and level)."""
    langs = {}
    for r in records:
        langs.setdefault(r["target"], [])
        if r["language"] not in langs[r["target"]]:
            langs[r["target"]].append(r["language"])
    keep = {(t, lang) for t, ls in langs.items() for lang in ls[:max(2, round(share * len(ls)))]}
    return [r for r in records if (r["target"], r["language"]) in keep]


def timed_report(run_dir: Path) -> dict:
    """`ray-xr report RUN_DIR` in a child process: wall seconds and the child's peak RSS."""
    probe = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
             f"r = subprocess.run([{str(Path(sys.executable).with_name('ray-xr'))!r}, 'report', {str(run_dir)!r}], "
             "stdout=subprocess.DEVNULL); "
             "print(r.returncode, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    code, wall, rss = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                     check=True).stdout.split()
    assert code == "0", f"ray-xr report {run_dir} failed"
    return {"wall_s": round(float(wall), 1), "peak_rss_mib": round(int(rss) / 1024)}


def record_latency(run_dir: Path, records: list[dict]) -> dict:
    """record() of single evaluations, timed while the aggregator's thread renders the live
    report of the whole folder (it starts on the first new record)."""
    cells = {r["stage"]: [] for r in records}
    for r in records:
        cells[r["stage"]].append({k: r[k] for k in CELL_FIELDS})
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[:-RECORD_CALLS]))
    aggregator = Aggregator(str(run_dir), "nli_vs_ner", "en", cells, time.time(), live_every_s=0.5)
    rendering = threading.Event()
    original = aggregator._render

    def render(*args):
        rendering.set()
        return original(*args)

    aggregator._render = render
    aggregator.record(records[-RECORD_CALLS:-RECORD_CALLS + 1])
    rendering.wait()
    started, waits = time.perf_counter(), []
    for r in records[-RECORD_CALLS + 1:]:
        t = time.perf_counter()
        aggregator.record([r])
        waits.append(time.perf_counter() - t)
        time.sleep(0.05)
    during = aggregator.rendering.locked()  # still rendering after the last call
    return {"calls": len(waits), "over_s": round(time.perf_counter() - started, 1),
            "median_ms": round(1000 * float(np.median(waits)), 2),
            "p99_ms": round(1000 * float(np.quantile(waits, 0.99)), 2), "max_ms": round(1000 * max(waits), 2),
            "live_report_still_rendering_at_the_end": during}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="where to write the run folders (default: a temp dir)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    root = Path(args.out or tempfile.mkdtemp(prefix="report-scale-"))
    started = time.perf_counter()
    records = write_run(root / "shared")
    written_s = time.perf_counter() - started
    found = {"evaluations": len({r["stage"] for r in records}), "records": len(records),
             "examples": int(sum(r["n"] for r in records)), "writing_s": round(written_s, 1), "reports": {}}
    for share in SHARES:
        run = root / f"share-{share:g}"
        run.mkdir(parents=True, exist_ok=True)
        if not (run / "stages").exists():
            (run / "stages").symlink_to(root / "shared" / "stages")
        mine = subset(records, share)
        (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in mine))
        found["reports"][f"{share:g}"] = {"evaluations": len({r["stage"] for r in mine}),
                                          "examples": int(sum(r["n"] for r in mine)), **timed_report(run)}
        print(json.dumps({share: found["reports"][f"{share:g}"]}), flush=True)
    found["record_while_rendering"] = record_latency(root / "share-1", records)
    found["machine"] = {"cpus": os.cpu_count(), "load_average_1_5_15": [round(x, 1) for x in os.getloadavg()],
                        "platform": platform.platform(), "python": platform.python_version(),
                        "date": datetime.date.today().isoformat()}
    out = REPO / "bench" / "results" / "report_scale.json"
    out.write_text(json.dumps(found, indent=1) + "\n")
    print(json.dumps(found, indent=1))
    if not args.keep and args.out is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
