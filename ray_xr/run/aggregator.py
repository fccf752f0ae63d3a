"""The aggregator: one named Ray actor per run that owns results.jsonl and the robustness tables.

Evaluation workers send it their records; it appends each new record to results.jsonl (fsync)
before acknowledging, so an acknowledged result is never lost. Records are keyed by grid cell,
so a stage re-run after a crash does not duplicate them. The class is plain Python: the driver
turns it into an actor with ray.remote.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ray_xr.report import render, results, xtreme

KEY_FIELDS = ("intermediate", "target", "seed", "noise", "level", "language")
RENDER_EVERY_S = 10.0  # live tables for someone watching the run folder


def record_key(record: dict) -> tuple:
    return tuple(record[k] for k in KEY_FIELDS)


class Aggregator:
    def __init__(self, run_dir: str, run_name: str, source_language: str = "en"):
        self.run_dir, self.run_name, self.source = Path(run_dir), run_name, source_language
        self.path = self.run_dir / "results.jsonl"
        self.records: dict[tuple, dict] = {}
        if self.path.exists():
            self._repair_tail()
            self.records = {record_key(r): r for r in results.load_results(self.run_dir)}
        self.last_render = 0.0

    def _repair_tail(self) -> None:
        # A crash mid-append can leave half a line; it was never acknowledged, so drop it.
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])

    def record(self, records: list[dict]) -> int:
        new = [r for r in records if record_key(r) not in self.records]
        if new:
            with open(self.path, "a") as f:
                f.writelines(json.dumps(r, sort_keys=True) + "\n" for r in new)
                f.flush()
                os.fsync(f.fileno())
            self.records.update((record_key(r), r) for r in new)
        if time.monotonic() - self.last_render > RENDER_EVERY_S:
            self.write_report()
        return len(self.records)

    def table(self) -> list[dict]:
        return results.robustness_rows(list(self.records.values()), self.source)

    def write_report(self) -> str:
        self.last_render = time.monotonic()
        records = list(self.records.values())
        path = render.write_report(self.run_dir, records, self.run_name, self.source)
        xtreme.write(self.run_dir, records)
        return str(path)

    def markdown(self) -> str:
        return render.render_markdown(list(self.records.values()), self.run_name, self.source)
