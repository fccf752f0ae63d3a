"""ray-xr: sweeps of intermediate-task training x zero-shot cross-lingual transfer x noise on Ray.

Kept import-free so that light commands (plan, report, noise show) never load torch or ray.
"""
