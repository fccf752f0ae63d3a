"""The XTREME-R score table: languages (English included), then seeds, then task families."""
from __future__ import annotations

from ray_xr.report import xtreme as xtreme_score


def record(inter, target, lang, value, seed=1, level=0.0):
    return {"intermediate": inter, "target": target, "seed": seed, "noise": "char", "level": level,
            "language": lang, "metric": "m", "value": value, "n": 10}


def test_scores_by_hand():
    records = [
        record("none", "xnli", "en", 80), record("none", "xnli", "de", 60),  # xnli 70
        record("none", "xcopa", "it", 50),  # classification family: (70 + 50) / 2 = 60
        record("none", "panx", "de", 40, seed=1), record("none", "panx", "de", 50, seed=2),  # 45
        record("none", "pawsx", "de", 99),  # XTREME, not XTREME-R: left out
        record("none", "xnli", "de", 30, level=0.2),
    ]
    table = xtreme_score.scores(records)
    assert table[("none", "clean", 0.0)] == (52.5, 3)  # families: classification 60, structured 45
    assert table[("none", "char", 0.2)] == (30.0, 1)
    md = xtreme_score.render(records, "demo")
    assert md.startswith("# XTREME-R score: demo\n\nXTREME-R score over 3 of its 10 tasks (partial")
    # clean averages 3 tasks, char 0.2 one: the cells say so, and the text says why
    assert "| none | 52.5 (3) | 30.0 (1) |" in md and "| Intermediate task | clean | char 0.2 |" in md
    assert "Cells average different numbers of tasks" in md
    same = xtreme_score.render([r for r in records if r["level"] == 0] + [
        record("none", t, "de", 30, level=0.2) for t in ("xnli", "xcopa", "panx")])
    assert "| none | 52.5 | 30.0 |" in same and "different numbers" not in same
