"""Data as the tasks read it: typed examples, the published file formats, the embedded synthetic
benchmark and the tokenized-feature cache.

Owns: examples.py (the example types), formats.py + conllu.py + retrieval.py (readers of the real datasets'
files; readers.py is their registry), synthetic.py (the offline benchmark), cache.py (features
keyed by tokenizer and content).
May import: ray_xr.errors, ray_xr.stages. Must not import: tasks, noise, config, run, report,
torch or ray (the task registry and `ray-xr data show` import this without them).
"""
