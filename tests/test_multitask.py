"""Multi-task batch sampling: task probabilities and a schedule of single-task batches."""
from __future__ import annotations

from collections import Counter

import pytest

from ray_xr.run.multitask import probabilities, schedule


def test_proportional_and_temperature_probabilities():
    assert probabilities([300, 100], "proportional", 2.0) == [0.75, 0.25]
    # T = 2: p ~ sqrt(n), so 900 vs 100 examples give 3:1 instead of 9:1
    assert probabilities([900, 100], "temperature", 2.0) == pytest.approx([0.75, 0.25])


def test_schedule_draws_single_task_batches_at_the_given_rates():
    sizes = [30, 10]  # task 0 owns indices 0-29, task 1 indices 30-39
    batches = schedule(sizes, [0.75, 0.25])(40, 4, 0, 1, seed=7, steps=400)
    assert len(batches) == 400 and all(len(b) == 4 for b in batches)
    owners = [{i >= 30 for i in b} for b in batches]
    assert all(len(o) == 1 for o in owners)  # never mixed
    share = Counter(o.pop() for o in owners)[True] / 400
    assert 0.2 < share < 0.3
    # two workers see the same task at each step and split its examples between them
    first, second = (schedule(sizes, [0.5, 0.5])(40, 2, rank, 2, seed=1, steps=50) for rank in (0, 1))
    for a, b in zip(first, second):
        assert {i >= 30 for i in a} == {i >= 30 for i in b} and not set(a) & set(b)
