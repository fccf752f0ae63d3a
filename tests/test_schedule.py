"""The dependency-driven searcher of the single Tune experiment (run/schedule.py), asked as Tune
asks it, and the timing it feeds into timing.json."""
from __future__ import annotations

from ray.tune.search import Searcher

from ray_xr import plan
from ray_xr.plan import config
from ray_xr.plan import Group
from ray_xr.run import schedule
from tests.conftest import write_sweep


def groups(*names):
    return [Group(n, 0, (n,), {}) for n in names]


# pretrain -> two chains; chain "b" -> its own later group "b2"
NEEDS = {"pre": set(), "a": {"pre"}, "b": {"pre"}, "b2": {"b"}}


def test_each_group_starts_once_when_its_parents_are_done():
    s = schedule.Dependencies(groups("pre", "a", "b", "b2"), NEEDS, set())
    assert s.suggest("t1")["group"]["name"] == "pre"
    assert s.suggest("t2") is None  # nothing else can start, and "pre" is not computing
    s.on_trial_complete("t1")
    assert {s.suggest("t3")["group"]["name"], s.suggest("t4")["group"]["name"]} == {"a", "b"}
    assert s.suggest("t5") is None
    done = "t3" if s._running["t3"] == "b" else "t4"
    s.on_trial_complete(done)  # b finishes while a still trains: b2 starts now, not after a
    assert s.suggest("t6")["group"]["name"] == "b2"
    assert s.suggest("t7") is None
    s.on_trial_complete("t4" if done == "t3" else "t3")
    s.on_trial_complete("t6")
    assert s.suggest("t8") == Searcher.FINISHED


def test_a_failed_group_holds_back_only_what_reads_it():
    failed = []
    s = schedule.Dependencies(groups("pre", "a", "b", "b2"), NEEDS, {"pre"}, on_failure=failed.append)
    first, _ = s.suggest("t1")["group"]["name"], s.suggest("t2")["group"]["name"]
    trial_of_b = "t1" if first == "b" else "t2"
    s.on_trial_complete(trial_of_b, error=True)
    assert failed == ["b"] and s.failed == {"b"}
    assert s.suggest("t3") is None  # a still runs; b2 never starts
    s.on_trial_complete("t2" if trial_of_b == "t1" else "t1")
    assert s.suggest("t4") == Searcher.FINISHED


def test_a_group_starts_early_only_beside_a_parent_that_computes():
    computing = set()
    s = schedule.Dependencies(groups("pre", "a"), {"pre": set(), "a": {"pre"}}, set(),
                              computing=lambda name: name in computing)
    assert s.suggest("t1")["group"]["name"] == "pre"
    assert s.suggest("t2") is None  # "pre" may still wait for resources: a child must not take them
    computing.add("pre")
    assert s.suggest("t3")["group"]["name"] == "a"  # its start-up overlaps pre's training
    assert s.times["a"]["released"] < s.times["pre"].get("ended", float("inf"))


def test_after_follows_the_stage_graph(tmp_path):
    p = plan.build(config.load(write_sweep(tmp_path / "s.yaml", resources={"workers": 1, "cpus_per_worker": 1,
                                                                          "group_by": "stage"})))
    after = schedule.after(p)
    by_name = {g.name: g for g in p.groups}
    assert after["pretrain"] == set()
    for g in p.groups:
        for key in g.stages:
            parent = p.stages[key].parent
            if parent and parent not in g.stages:
                assert any(parent in by_name[n].stages for n in after[g.name])
    assert any(len(after[g.name] - {"pretrain"}) == 1 for g in p.groups)  # targets after their intermediate


def test_timing_counts_wall_time_in_which_nothing_computes():
    t0 = 1000.0
    records = [{"phase": "pretrain", "started": t0 + 10, "finished": t0 + 40},
               {"phase": "target", "started": t0 + 60, "finished": t0 + 90},
               {"phase": "target", "started": t0 + 70, "finished": t0 + 100},  # overlaps the one before
               {"phase": "eval", "started": t0 + 100, "finished": t0 + 110},
               {"phase": "target", "started": t0 - 500, "finished": t0 - 400}]  # an earlier invocation's
    times = {"pre": {"ready": t0 + 2, "released": t0 + 2, "ended": t0 + 42},
             "a": {"ready": t0 + 42, "released": t0 + 30, "ended": t0 + 112}}
    got = schedule.timing(t0, t0 + 120, 2.0, 5.0, records, times, 2)
    assert got["wall_s"] == 120 and got["training_s"] == 70 and got["evaluation_s"] == 10
    assert got["fixed_overhead_s"] == 120 - 80 - 5 and got["fixed_overhead_share"] == round(35 / 120, 4)
    assert got["waiting_for_resources_s"] == 0  # "a" started early, before it was ready
    assert got["idle_s"] == 2 * 110 - (40 + 82) and got["trials"] == 2
