"""The XTREME-R score of every (intermediate task, noise condition): each task's headline
metric averaged over all its evaluated languages (English included, as the official script
averages a submission), over seeds, then metrics.xtreme_r_score over the task families.

Standard library only, like results.py. With fewer than the ten XTREME-R tasks in a sweep the
score is partial (it averages the families present) and the table says how many tasks it has;
where cells average different numbers of tasks (a run still going, or a failed stage), each
cell shows its count.
"""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Sequence

from ray_xr.metrics import TASK_FAMILIES, xtreme_r_score
from ray_xr.report import provenance
from ray_xr.report.results import in_sweep_order
from ray_xr.stages import write_text

XTREME_R_TASKS = frozenset(t for tasks in TASK_FAMILIES.values() for t in tasks)


def scores(records: Sequence[dict]) -> dict[tuple[str, str, float], tuple[float, int]]:
    """(intermediate, noise, level) -> (XTREME-R score, number of XTREME-R tasks behind it)."""
    by_seed: dict[tuple, list[float]] = defaultdict(list)
    for r in records:
        if r["target"] in XTREME_R_TASKS:
            noise = "clean" if not r["level"] else r["noise"]
            by_seed[r["intermediate"], r["target"], noise, float(r["level"]), r["seed"]].append(r["value"])
    tasks: dict[tuple, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for (inter, target, noise, level, _seed), values in by_seed.items():
        tasks[inter, noise, level][target].append(fmean(values))  # languages, then seeds
    return {cell: (xtreme_r_score({t: fmean(v) for t, v in per_task.items()}, partial=True), len(per_task))
            for cell, per_task in tasks.items()}


def render(records: Sequence[dict], name: str = "", origin: dict | None = None) -> str:
    """A markdown table: one row per intermediate task, one column per noise condition, under a
    heading naming the sweep; `origin` (provenance.gather) adds the provenance section."""
    title = f"# XTREME-R score: {name}" if name else "# XTREME-R score"
    tail = "".join(f"\n{part}\n" for part in provenance.markdown(origin)) if origin is not None else ""
    table = scores(records)
    if not table:
        return f"{title}\n\nNo XTREME-R target task in this sweep.\n{tail}"
    # the baseline first, then the intermediate tasks in order of first appearance
    inters = sorted(dict.fromkeys(r["intermediate"] for r in records), key=lambda i: i != "none")
    conditions = sorted({(n, lv) for _, n, lv in table}, key=lambda c: (c[0] != "clean", c[0], c[1]))
    counts = {n for _, n in table.values()}
    n_tasks = max(counts)
    head = ["Intermediate task"] + ["clean" if n == "clean" else f"{n} {lv:g}" for n, lv in conditions]
    lines = [title, "", f"XTREME-R score over {n_tasks} of its {len(XTREME_R_TASKS)} tasks"
             + (" (partial: not comparable with published scores)" if n_tasks < len(XTREME_R_TASKS) else "")
             + "; each task averaged over all its languages, English included."
             + (" Cells average different numbers of tasks (a stage failed or has not run yet): the count"
                " is in parentheses, and cells with fewer tasks are not comparable with the others."
                if len(counts) > 1 else ""), "",
             "| " + " | ".join(head) + " |", "|:---" + "|---:" * len(conditions) + "|"]
    for inter in inters:
        cells = [table.get((inter, n, lv)) for n, lv in conditions]
        lines.append(f"| {inter} | " + " | ".join(_cell(c, len(counts) > 1) for c in cells) + " |")
    return "\n".join(lines) + "\n" + tail


def _cell(cell: tuple[float, int] | None, with_count: bool) -> str:
    if cell is None:
        return "–"
    return f"{cell[0]:.1f} ({cell[1]})" if with_count else f"{cell[0]:.1f}"


def write(run_dir: Path, records: Sequence[dict]) -> Path:
    """RUN_DIR/report/xtreme_r.md, beside render.py's files (written atomically)."""
    origin = provenance.gather(Path(run_dir), records)
    records = in_sweep_order(records, provenance.sweep_doc(Path(run_dir)))
    path = Path(run_dir) / "report" / "xtreme_r.md"
    write_text(path, render(records, origin["sweep"], origin))
    return path
