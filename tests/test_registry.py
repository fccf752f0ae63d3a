"""The task registry as a whole: every XTREME-R target and Phang et al. intermediate task is one
entry wired to a family, a metric and its data sources; sweeps/phang2020.yaml plans. (The hub
loaders run against a loopback hub in test_data_hub.py.)"""
from __future__ import annotations

import json

from ray_xr.data.readers import READERS
from ray_xr.metrics import METRICS, TASK_FAMILIES
from ray_xr.tasks import TASKS
from ray_xr.tasks.families import FAMILIES
from ray_xr.tasks.registry import From
from tests.conftest import ray_xr

XTREME_R = ("xnli", "xcopa", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba", "lareqa", "mewslix")
INTERMEDIATE = ("mnli", "conll2003", "squad", "anli", "anliplus", "qqp", "sst2", "hellaswag", "cosmosqa",
                "commonsenseqa")


def test_every_task_is_wired():
    for name, spec in TASKS.items():
        assert spec.family in FAMILIES and spec.metric in METRICS, name
        assert spec.encoder_task is None or spec.encoder_task in TASKS, name
        if spec.local is not None:
            assert spec.local.format in READERS, name
            assert all(f.task in TASKS for f in spec.local.files.values() if isinstance(f, From)), name
    for name in XTREME_R + ("pawsx",) + INTERMEDIATE:
        assert "hub" in TASKS[name].sources, name
    # the score's families know the task names used here
    assert set(XTREME_R) == {t for tasks in TASK_FAMILIES.values() for t in tasks}


def test_xtreme_r_language_lists():
    sizes = {"xnli": 15, "xcopa": 11, "udpos": 38, "panx": 48, "xquad": 12, "mlqa": 7, "tydiqa": 9, "tatoeba": 41,
             "lareqa": 11, "mewslix": 11}
    assert {name: len(set(TASKS[name].languages)) for name in sizes} == sizes
    assert "en" not in TASKS["tatoeba"].languages  # English is the side searched


def test_plan_phang2020():
    result = ray_xr("plan", "sweeps/phang2020.yaml", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    seeds, inters = 3, 9  # none + the eight of Phang et al.'s nine intermediate tasks there are data for
    targets = XTREME_R + ("pawsx",)
    languages = sum(len(TASKS[t].languages) for t in targets)
    # clean + three noisy levels per language; Tatoeba's encoder is a SQuAD target model, and
    # XCOPA's training continues a SocialIQA model: one more target stage per chain
    assert summary["stages"] == {"pretrain": 1, "intermediate": 8 * seeds,
                                 "target": inters * seeds * (len(targets) + 1),
                                 "eval": inters * seeds * languages * 4}
    assert summary["cells"] == inters * seeds * len(targets) * 4
