"""Simulated studies written as run folders, for the report's statistics to be tested where they
are used: results.jsonl and one outcomes.parquet per evaluation, read back by the report's own
code (summary.gather, which `ray-xr report` calls).

    python -m tests.simstudy --studies 300 [--seeds 3] [--planted 3] [--seed-sd 1.5] [--untranslated]

prints the share of studies in which a comparison of nli and ner is marked significant (the
figures of docs/statistics.md; tests/test_report_sim.py runs small versions).

A study: arms (intermediate tasks), each trained with `seeds` seeds; every training run has its
own offset per language, drawn with s.d. `seed_sd` points (the seed variance), and arm `nli` is
`planted` points better. An example's outcome is correct when a uniform below the run's accuracy:
the uniform mixes an item effect shared by every run (difficulty: runs agree on most items, as
trained models do) with noise of the run's own. Languages' test sets are translations of the
same items (`parallel`: the item effect is shared across languages, the records say so) or not.
"""
from __future__ import annotations

import argparse
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.special import ndtr

LEVEL_NOISE = 0.3  # what changes in a run's outcomes from one noise level to another


@dataclass(frozen=True)
class Study:
    arms: tuple[str, ...] = ("nli", "ner")
    seeds: int = 3
    seed_sd: float = 1.5  # points, per run and language
    languages: tuple[str, ...] = ("de", "fr", "ru", "sw", "zh")
    examples: int = 1000
    levels: tuple[float, ...] = (0.0, 0.2)
    clean: float = 70.0  # expected accuracy of every arm, clean
    loss: float = 10.0  # points lost at the top level (linearly)
    planted: float = 0.0  # arm nli's advantage, points
    item_weight: float = 0.8  # share of an outcome's latent that is the item's (runs' agreement)
    parallel: bool = True


def write(run_dir: Path, study: Study, rng: np.random.Generator) -> list[dict]:
    """One simulated study as a run folder; its records."""
    n, records = study.examples, []
    shared = rng.standard_normal(n)
    items = {lang: shared if study.parallel else rng.standard_normal(n) for lang in study.languages}
    own = math.sqrt(1 - study.item_weight ** 2)
    for arm in study.arms:
        for seed in range(1, study.seeds + 1):
            for lang in study.languages:
                offset = rng.normal(0, study.seed_sd) + (study.planted if arm == "nli" else 0.0)
                latent = study.item_weight * items[lang] + own * rng.standard_normal(n)
                for level in study.levels:
                    accuracy = study.clean - study.loss * level / max(study.levels) + offset
                    # low latent = easy item: correct where its uniform (a normal's CDF, the level's
                    # own noise added) falls below the accuracy
                    uniform = ndtr((latent + LEVEL_NOISE * rng.standard_normal(n)) / math.sqrt(1 + LEVEL_NOISE ** 2))
                    correct = (uniform < accuracy / 100).astype(float)
                    key = f"eval-{arm}-{seed}-{level}-{lang}"
                    path = run_dir / "stages" / key / "outcomes.parquet"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    pq.write_table(pa.table({"example_id": [f"test-{i}" for i in range(n)], "score": correct}), path)
                    records.append({"intermediate": arm, "target": "xnli", "seed": seed, "noise": "char",
                                    "level": level, "language": lang, "metric": "accuracy",
                                    "value": 100 * float(correct.mean()), "n": n, "stage": key,
                                    **({"parallel_test": True} if study.parallel else {})})
    (run_dir / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return records


def marked(run_dir: Path, records: list[dict], n_boot: int, n_perm: int) -> dict:
    """What the report marks in a study: any nli-vs-ner row significant, and the rows."""
    from ray_xr.report import summary

    found = summary.gather(run_dir, records, "en", n_boot=n_boot, n_perm=n_perm)
    rows = [r for r in found.comparisons if {r["a"], r["b"]} == {"nli", "ner"}]
    return {"any": any(r["significant"] for r in rows), "rows": rows, "headline": found.headline}


def rate(study: Study, studies: int, seed: int = 0, n_boot: int = 200, n_perm: int = 200) -> dict:
    """Share of studies with a significant nli-vs-ner row, and of rows whose interval covers the
    planted difference."""
    rng = np.random.default_rng(seed)
    hits = covered = rows = 0
    for _ in range(studies):
        with tempfile.TemporaryDirectory() as tmp:
            found = marked(Path(tmp), write(Path(tmp), study, rng), n_boot, n_perm)
        hits += found["any"]
        for r in found["rows"]:
            truth = study.planted if r["a"] == "nli" else -study.planted
            covered += r["ci_low"] <= truth <= r["ci_high"]
            rows += 1
    return {"studies": studies, "any_marked": hits / studies, "coverage": covered / max(rows, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--planted", type=float, default=0.0)
    ap.add_argument("--seed-sd", type=float, default=1.5)
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--untranslated", action="store_true", help="each language's test items its own")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--n-perm", type=int, default=1000)
    args = ap.parse_args()
    study = Study(seeds=args.seeds, planted=args.planted, seed_sd=args.seed_sd, examples=args.examples,
                  parallel=not args.untranslated)
    print(json.dumps({"study": study.__dict__, **rate(study, args.studies, n_boot=args.n_boot, n_perm=args.n_perm)}))


if __name__ == "__main__":
    main()
