"""Per-example outcomes of one evaluation: `stages/<key>/outcomes.parquet`, what the report's
confidence intervals and paired tests resample (ray_xr.report.stats).

One row per scored example (per query for ranking tasks): `example_id` (the example's id, the
same under every model and noise level of a test set, so two evaluations pair up by it) and
the columns of the task metric's `outcomes` (ray_xr.metrics): `score` always (accuracy: 0/1;
QA: the question's F1 in 0-1, beside `exact`; ranking: the query's AP@20), and for seqeval F1
the sentence's `tp`, `fp`, `fn`, from which corpus F1 is recomputed on any resample. The file's
metadata holds the metric and its value as recorded in results.jsonl; `metrics.from_outcomes`
on the columns gives that value back.
"""
from __future__ import annotations

import io
from collections import Counter

from ray_xr.data.examples import scored
from ray_xr.metrics import METRICS
from ray_xr.stages import write_bytes

OUTCOMES_FILE = "outcomes.parquet"


def example_ids(examples) -> list[str]:
    """The scored examples' ids, a repeated id made unique by its occurrence (`id#2`): the
    order of a test set is the same under every model and noise level, so these still pair."""
    seen: Counter = Counter()
    out = []
    for e in scored(examples):
        seen[e.id] += 1
        out.append(e.id if seen[e.id] == 1 else f"{e.id}#{seen[e.id]}")
    return out


def outcome_columns(task, examples, predictions, lang: str, options: dict | None = None) -> dict[str, list]:
    """{column: values} for one evaluation: example_id first, then the metric's outcomes."""
    from ray_xr.tasks.families import FAMILIES  # lazy: torch, which reading outcomes does without

    metric = METRICS[task.metric]
    references = FAMILIES[task.family].references(examples, **(options or {}))
    kwargs = {"lang": lang} if metric.by_language else {}
    columns = metric.outcomes(predictions, references, **kwargs)
    return {"example_id": example_ids(examples), **columns}


def write(stage_dir, task, examples, predictions, lang: str, options: dict | None = None,
          value: float | None = None):
    """Write the evaluation's outcomes.parquet atomically; return its path."""
    import pyarrow as pa  # lazy: only evaluation stages write outcomes
    import pyarrow.parquet as pq

    columns = outcome_columns(task, examples, predictions, lang, options)
    metadata = {"metric": task.metric, "language": lang}
    if value is not None:
        metadata["value"] = repr(float(value))
    table = pa.table(columns).replace_schema_metadata(metadata)
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    path = stage_dir / OUTCOMES_FILE
    write_bytes(path, buffer.getvalue())
    return path
