"""The command line: `ray-xr ...` (the console script `ray_xr.cli:main`).

Owns: main.py (the parser, the light commands `noise show|kinds`, `report`, `status`, `export`,
and the one place that catches errors.RayXRError: one line, exit 2), commands.py (the commands
that read a sweep or the task registry: `plan [--cost] [--power]`, `run`, `tasks`, `data
show|check|fetch`), data.py (what `data show|check|fetch` do), noise.py (`noise stats|fit`).
May import everything below it: plan, report, run (only inside `run`, which starts Ray and
torch), tasks, noise, data, stages, storage, errors. Importing this package imports main.py
only, which imports no torch, ray, pydantic, yaml or task registry: `ray-xr noise show` starts in
a tenth of a second, and the heavier modules are imported inside the commands that need them.
"""
from ray_xr.cli.main import main

__all__ = ["main"]
