"""`ray-xr export`: one model chain's clean test predictions in the XTREME submission layout,
`OUT/<task>/test-<lang>.<ext>`, ready for the official evaluation script. No torch, no Ray."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from ray_xr.errors import ExportError


def collect(run_dir: Path, out: Path, intermediate: str, seed: int | None) -> list[Path]:
    """Copy the predictions of every finished clean evaluation after `intermediate` (and seed)."""
    found: dict[Path, tuple[Path, int]] = {}
    for record_path in sorted((run_dir / "stages").glob("*/stage.json")):
        record = json.loads(record_path.read_text())
        spec = record["spec"]
        if record["phase"] != "eval" or record["status"] != "done" or spec["level"]:
            continue
        for cell in record["cells"]:
            if cell["intermediate"] == intermediate and seed in (None, cell["seed"]):
                for source in (record_path.parent / "predictions").glob(f"test-{spec['language']}.*"):
                    target = out / spec["task"] / source.name
                    if target in found and found[target][1] != cell["seed"]:
                        raise ExportError(f"{run_dir}: several seeds evaluated {spec['task']}/{spec['language']}"
                                          " after this intermediate task; pick one with --seed")
                    found[target] = (source, cell["seed"])
    if not found:
        raise ExportError(f"{run_dir}: no finished clean predictions after intermediate task {intermediate!r}"
                          + (f" with seed {seed}" if seed is not None else ""))
    for target, (source, _) in sorted(found.items()):
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return sorted(found)
