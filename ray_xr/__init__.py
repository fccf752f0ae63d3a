"""ray-xr: sweeps of intermediate-task training x zero-shot cross-lingual transfer x noise on Ray.

Layers, each importing only those below it (tests/test_layout.py checks this and that no
module imports itself in a circle):

    cli, datatools, power     the `ray-xr` command; catches errors.RayXRError once; `plan --power`
    run/                      driver (Tune), worker loop (Train), evaluation, aggregator actor
    report/                   results, tables, rendering, XTREME-R score, exports (no torch, no ray)
    plan, cost, smoke         the stage graph and its keys; what it would cost on GPUs; the smoke sweep
    config                    the typed sweep, checked against the registries below
    tasks/                    the task registry, data sources, families (torch only in families)
    noise/                    noise kinds and their engine (standard library only)
    data/                     example types, file formats, the synthetic benchmark, feature cache
    errors, storage, stages,  user-facing errors, local or bucket storage, stage folders and
    metrics                   atomic writes, official metrics
"""
