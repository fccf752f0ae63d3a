"""The report's plots, read back as pixels: each intermediate task has the same colour in every
plot (its place in the sweep's list), and the score plot draws the target's chance level where
its records give one."""
from __future__ import annotations

import io
import json

from PIL import Image  # pillow comes with matplotlib

from ray_xr.report import plots
from ray_xr.report.render import write_report
from ray_xr.report.results import robustness_rows
from tests.test_report_stats import _planted, write_run

# matplotlib's first three line colours: C0, C1, C2
BLUE, ORANGE, GREEN = (31, 119, 180), (255, 127, 14), (44, 160, 44)
GREY = (115, 115, 115)  # the chance line's "0.45" (dotted, anti-aliased: near it)


def pixels(png: bytes, rgb: tuple[int, int, int], tolerance: int = 6) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return sum(n for n, c in image.getcolors(maxcolors=1 << 24) if all(abs(a - b) <= tolerance for a, b in zip(c, rgb)))


def test_each_intermediate_task_has_one_colour_in_every_plot(tmp_path):
    """The sweep lists none, nli, ner (a variant, named in a block of its own): none is blue, nli
    orange, ner green in the score plot, and in the gain plot too, which has no line for none
    (nli was blue there when colours went by the plot's own order)."""
    write_run(tmp_path, _planted())
    write_run(tmp_path, {("ner", lv, lang): [1, 1, 1, 0] * 100 for lv in (0.0, 0.3) for lang in ("de", "fr")})
    arms = ["none", "nli", {"name": "ner", "task": "ner", "train_size": 0.5}]
    (tmp_path / "sweep.json").write_text(json.dumps({"name": "colours", "intermediate": arms}))
    write_report(tmp_path)
    score, gain = ((tmp_path / "report" / "plots" / f"{kind}_xnli.png").read_bytes() for kind in ("score", "gain"))
    assert all(pixels(score, colour) > 200 for colour in (BLUE, ORANGE, GREEN))
    assert pixels(gain, ORANGE) > 200 and pixels(gain, GREEN) > 200 and pixels(gain, BLUE) == 0


def test_the_chance_level_is_drawn_where_the_target_has_one(tmp_path):
    records = write_run(tmp_path, _planted())
    rows = robustness_rows(records)
    colours = plots.palette(["none", "nli"])
    without = plots.score_plot(rows, "xnli", colours, plots.chance_levels(records).get("xnli"))
    with_chance = plots.score_plot(rows, "xnli", colours,
                                   plots.chance_levels([{**r, "chance": 100 / 3} for r in records]).get("xnli"))
    assert pixels(with_chance, GREY, tolerance=20) > pixels(without, GREY, tolerance=20) + 150
