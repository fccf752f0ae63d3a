"""bench/gpu_smoke.sh, the GPU check before spending, in its CPU mode (--tiny): `ray-xr run
--smoke --random-weights` of a sweep of nli_vs_ner's settings on the real-data samples, with a
tiny XLM-R architecture built untrained from a config.json, then bench_gpu.py --tiny; the
figures land in --out. (The GPU mode needs CUDA and is not run here.)"""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import REAL_DATA, REPO, needs_real_data

pytestmark = [needs_real_data, pytest.mark.bench]  # .ci/run: make bench-check


def test_the_gpu_smoke_script_runs_on_a_cpu_with_a_tiny_architecture(tmp_path):
    result = subprocess.run(["bash", str(REPO / "bench" / "gpu_smoke.sh"), "--tiny", "--out", str(tmp_path)],
                            capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    found = json.loads((tmp_path / "gpu_smoke_cpu.json").read_text())
    assert found["device"] == "cpu" and set(found["smoke"]) == {"eager"}
    smoke = found["smoke"]["eager"]
    assert smoke["failed"] == [] and smoke["wall_s"] > 0
    labels = [row["stage"] for row in smoke["rows"]]
    assert labels[0].startswith("pretrain ") and labels[0].endswith("tiny-xlmr")  # built untrained, no download
    assert {"intermediate mnli seed 1", "target xnli <- none seed 1", "target xnli <- mnli seed 1"} <= set(labels)
    # 2 layers of 32 (the config.json the script writes): attention 4 x (32 x 32 + 32), feed-forward
    # 32 x 64 + 64 + 64 x 32 + 32, two layer norms of 2 x 32
    assert smoke["rows"][0]["non_embedding_params"] == 2 * (4 * (32 * 32 + 32) + 32 * 64 + 64 + 64 * 32 + 32 + 4 * 32)
    assert all(row["device"] == "cpu" and row["precision"] == "fp32" for row in smoke["rows"])
    assert "classification batch 32 bf16 fused AdamW" in found["bench_gpu"]["train"]
    assert "smoke runs: eager" in result.stdout
