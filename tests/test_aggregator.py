"""The aggregator off the evaluators' path: record() appends and acknowledges, and the live
report comes from a thread of the actor's own (the class runs in-process here, as the driver
runs it when every stage has finished; the pipeline tests run it as a Ray actor)."""
from __future__ import annotations

import time

import numpy as np

from ray_xr.run.aggregator import CELL_FIELDS, Aggregator
from tests.simstudy import Study, write


def _study(tmp_path):
    records = write(tmp_path, Study(examples=200), np.random.default_rng(0))
    (tmp_path / "results.jsonl").unlink()  # the aggregator writes it
    cells = {r["stage"]: [{k: r[k] for k in CELL_FIELDS}] for r in records}
    return records, cells


def test_record_only_appends(tmp_path):
    records, cells = _study(tmp_path)
    aggregator = Aggregator(str(tmp_path), "sim", "en", cells, time.time())
    assert aggregator.record(records[:10]) == 10 and aggregator.record(records[:12]) == 12
    assert len((tmp_path / "results.jsonl").read_text().splitlines()) == 12
    assert not (tmp_path / "report").exists()  # no report on the evaluators' path


def test_the_live_report_is_rendered_by_its_own_thread(tmp_path):
    records, cells = _study(tmp_path)
    aggregator = Aggregator(str(tmp_path), "sim", "en", cells, time.time(), live_every_s=0.1)
    aggregator.record(records)
    report = tmp_path / "report" / "robustness.md"
    deadline = time.monotonic() + 120
    while not report.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "## Comparisons" in report.read_text(encoding="utf-8")
    assert not (tmp_path / "report" / "plots").exists()  # live: tables only
    aggregator.write_report(final=True)
    assert (tmp_path / "report" / "plots").exists() and aggregator.closed
    written = report.stat().st_mtime_ns
    aggregator.record(records)  # nothing new; and no live report after the final one
    time.sleep(0.5)
    assert report.stat().st_mtime_ns == written
