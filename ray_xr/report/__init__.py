"""Reports: results.jsonl read back, tables, rendering, the XTREME-R score and exports.

Owns: results.py (loading and aggregation of result records), render.py (markdown and CSV,
`write_report`), xtreme.py (the XTREME-R score per intermediate task and noise level),
export.py (clean test predictions in the XTREME submission layout).
May import: ray_xr.metrics, ray_xr.stages, ray_xr.errors. Must not import: torch, ray, tasks,
run: `ray-xr report RUN_DIR` renders a finished run anywhere, without either.
"""
