"""`ray-xr export`: one model chain's clean test predictions in the XTREME submission layout,
`OUT/<task>/test-<lang>.<ext>`, ready for the official evaluation script. No torch, no Ray.

Each file is checked the way google-research/xtreme's `evaluate.py` will read it: the suffix
its `get_suffix` expects for the task, parsed by an equivalent of the task's reader
(`read_tag`, `read_label`, `read_squad`, `read_xcopa`), and, for the tasks whose scorer asserts
equal lengths, one prediction per test item. Test sets capped by `data.test_size` cannot pass
that length check against the full gold files, so export refuses them unless allowed.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from ray_xr.errors import ExportError

# evaluate.py's get_suffix (XTREME-R groups): QA and Mewsli-X are JSON, XCOPA (multi_choice)
# JSON lines, every other task one line per item. LAReQA is not scored by evaluate.py; its file
# takes the Mewsli-X layout ({query id: ranked ids}).
JSON_TASKS = frozenset({"xquad", "mlqa", "tydiqa", "mewslix", "lareqa"})
JSONL_TASKS = frozenset({"xcopa"})
# evaluate_one_task skips the length assertion for these (their files are keyed by id)
UNCHECKED_LENGTH = JSON_TASKS | {"bucc2018"}
TAGGING = frozenset({"panx", "udpos"})


def official_suffix(task: str) -> str:
    return "json" if task in JSON_TASKS else "jsonl" if task in JSONL_TASKS else "tsv"


def read_official(task: str, path: Path) -> list:
    """The items evaluate.py's reader for `task` finds in a file (our equivalent, from its
    published format): sentences of tags, lines, the JSON object's entries, or XCOPA labels.
    A file it would fail on raises ExportError naming the file."""
    text = path.read_text(encoding="utf-8")
    try:
        if task in JSON_TASKS:
            data = json.loads(text)
            return list((data["data"] if "data" in data else data).items())
        if task in JSONL_TASKS:
            return [json.loads(line)["label"] for line in text.splitlines()]
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ExportError(f"{path}: not in the layout evaluate.py reads for {task} ({e})") from None
    if task in TAGGING:  # read_tag: blank lines end sentences, a last sentence may lack one
        sentences, current = [], []
        for line in text.splitlines():
            if line.strip():
                current.append(line.strip())
            else:
                sentences.append(current)
                current = []
        return sentences + ([current] if current else [])
    return [line.strip() for line in text.splitlines()]  # read_label


@dataclass(frozen=True)
class Found:
    source: Path
    seed: int
    task: str
    language: str
    n: int  # test items the evaluation scored
    cap: int  # data.test_size of the evaluation (0: the whole test set)

    @property
    def capped(self) -> bool:
        """Whether the cap cut the test set (a set smaller than its cap was read whole)."""
        return 0 < self.cap <= self.n


def collect(run_dir: Path, out: Path, intermediate: str, seed: int | None,
            allow_capped: bool = False) -> tuple[list[Path], list[str]]:
    """Copy the predictions of every finished clean evaluation after `intermediate` (and seed);
    returns the files written and the `task/lang` pairs whose test sets were capped."""
    if not (run_dir / "stages").is_dir():
        raise ExportError(f"{run_dir}: no such run folder (expected the folder `ray-xr run` writes,"
                          " <storage>/<sweep name>, with stages/ in it)")
    if out.exists() and not out.is_dir():
        raise ExportError(f"{out}: a file, expected a folder for the prediction files (new or existing)")
    found = _find(run_dir, out, intermediate, seed)
    capped = sorted(f"{f.task}/{f.language}" for f in found.values() if f.capped)
    if capped and not allow_capped:
        raise ExportError(f"{run_dir}: test sets capped by data.test_size ({', '.join(capped)}): the official"
                          " scorer would fail its length check on the full gold files; rerun with"
                          " data.test_size: 0, or export anyway with --allow-capped")
    for target, f in sorted(found.items()):
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f.source, target)
        except OSError as err:  # OUT under a file, or a read-only place
            raise ExportError(f"{target}: cannot write ({err.strerror}); expected a writable folder OUT") from None
        check(f.task, target, f.n)
    return sorted(found), capped


def check(task: str, path: Path, n: int) -> None:
    """The file has the suffix evaluate.py expects and its reader's length check would pass."""
    if path.suffix != f".{official_suffix(task)}":
        raise ExportError(f"{path}: evaluate.py reads {task} from test-<lang>.{official_suffix(task)}")
    items = read_official(task, path)
    if task not in UNCHECKED_LENGTH and len(items) != n:
        raise ExportError(f"{path}: {len(items)} predictions for {n} test items")


def _find(run_dir: Path, out: Path, intermediate: str, seed: int | None) -> dict[Path, Found]:
    found: dict[Path, Found] = {}
    present: dict[str, set[int]] = {}  # intermediate -> seeds with clean predictions, for the errors
    for record_path in sorted((run_dir / "stages").glob("*/stage.json")):
        record = json.loads(record_path.read_text())
        spec = record["spec"]
        if record["phase"] != "eval" or record["status"] != "done" or spec["level"]:
            continue
        data = spec.get("data", {})
        cap = 0 if data.get("source") == "synthetic" else data.get("sizes", {}).get("test", 0)
        sources = sorted((record_path.parent / "predictions").glob(f"test-{spec['language']}.*"))
        for cell in record["cells"]:
            if sources:
                present.setdefault(cell["intermediate"], set()).add(cell["seed"])
            if cell["intermediate"] != intermediate or seed not in (None, cell["seed"]):
                continue
            for source in sources:
                target = out / spec["task"] / source.name
                if target in found and found[target].seed != cell["seed"]:
                    raise ExportError(f"{run_dir}: several seeds evaluated {spec['task']}/{spec['language']}"
                                      f" after {intermediate!r}; pick one with --seed (the run has seeds"
                                      f" {_listed(present[intermediate])})")
                metrics = record["metrics"]  # {"result": {..., "n"}}; runs before it: {"n"}
                found[target] = Found(source, cell["seed"], spec["task"], spec["language"],
                                      metrics.get("result", metrics).get("n", 0), cap)
    if not found:
        has = "; ".join(f"{name} (seed {_listed(seeds)})" for name, seeds in sorted(present.items()))
        raise ExportError(f"{run_dir}: no finished clean predictions after intermediate task {intermediate!r}"
                          + (f" with seed {seed}" if seed is not None else "")
                          + (f"; the run has: {has}" if has else "; the run has none yet"))
    return found


def _listed(seeds: set[int]) -> str:
    return ", ".join(str(s) for s in sorted(seeds))
