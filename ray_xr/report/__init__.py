"""Reports: results.jsonl read back, tables, rendering, the XTREME-R score and exports.

Owns: results.py (loading and aggregation of result records), render.py (markdown and CSV,
`write_report`, which writes every file), stats.py (the test over training runs, bootstrap,
permutation test, Holm, minimum detectable difference and seeds needed, robustness measures;
numpy and scipy), analysis.py (score tensors and intervals from the evaluations'
outcomes.parquet files, read with pyarrow), compare.py (comparisons of intermediate tasks, the
test each uses, and the headline), summary.py (interval columns, summary.json), sections.py (the
statistical markdown sections), tex.py (booktabs), plots.py (PNG, matplotlib Agg), html.py
(the self-contained report.html), xtreme.py (the XTREME-R score per intermediate task and
noise level), provenance.py (sweep, model, git SHA, versions and dates behind a report),
export.py (clean test predictions in the XTREME submission layout), power.py (`ray-xr plan
--power`: the seeds the report's test needs, before launch).
May import: ray_xr.metrics, ray_xr.stages, ray_xr.errors; numpy, scipy, threadpoolctl, pyarrow, matplotlib;
power.py alone also the plan layer (ray_xr.plan, and through it tasks), whose sweep it sizes.
Must not import: torch, ray, run, cli, and (but for power.py) tasks or plan: `ray-xr report
RUN_DIR` renders a finished run anywhere.
"""
