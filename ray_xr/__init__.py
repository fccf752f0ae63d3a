"""ray-xr: sweeps of intermediate-task training x zero-shot cross-lingual transfer x noise on Ray.

Layers, each importing only those below it (tests/test_layout.py checks this, that no module
imports itself in a circle, and that the top level holds the bottom layer's modules only):

    cli/                      the `ray-xr` command: parser, commands, data and noise tools; catches
                              errors.RayXRError once
    run/                      driver (Tune), worker loop (Train), evaluation, aggregator actor
    report/                   results, tables, rendering, XTREME-R score, exports, `plan --power`
                              (no torch, no ray)
    plan/                     the sweep and its plan: typed config and its defaults, the stage graph
                              and its keys, cost on GPUs, the smoke sweep, a run's progress
    tasks/                    the task registry, data sources, families (torch only in families)
    noise/                    noise kinds and their engine (standard library only)
    data/                     example types, file formats, the synthetic benchmark, feature cache
    errors, storage, stages,  user-facing errors, local or bucket storage, stage folders and
    metrics                   atomic writes, official metrics
Each subpackage's docstring says what it owns and may import.
"""
