"""Input noise: a registry of kinds, the word-level engine and noise on typed examples.

Owns: engine.py (the registry NOISE_KINDS and the engine every kind runs through), base.py
(shared small types), edits.py (character and word edits), tables.py (typo and lexicon files),
keyboards.py (layouts), perturb.py (noise on typed examples, labels kept correct), typo.py (the
calibrated kind), profile.py (edit scripts and edit profiles), align.py (a noisy set against its
clean original), graphemes.py (grapheme clusters), languages.py (the languages it knows).
May import: ray_xr.errors, ray_xr.data.examples, and `regex` (lazily, in graphemes.py only).
Must not import: tasks, config, run, torch, ray, pydantic, yaml: `ray-xr noise show` imports
this package and starts in a tenth of a second.
The model-aware kind (`attack`) is named here by where its evaluation lives (ray_xr.run.attack),
never imported.
"""
from ray_xr.noise.base import NOISE_FILES, NoiseResources
from ray_xr.noise.engine import (NOISE_KINDS, NoiseKind, Perturbation, candidates, join_words, noise_note,
                                 perturb_text, perturb_words, resource_file, shown, split_words)

__all__ = ["NOISE_FILES", "NOISE_KINDS", "NoiseKind", "NoiseResources", "Perturbation", "candidates", "join_words",
           "noise_note", "perturb_text", "perturb_words", "resource_file", "shown", "split_words"]
