"""What the README quotes without running anything heavy: the stage counts `ray-xr plan` prints,
the demo sweep file and the defaults it shows. (tests/readme_check.py runs every command block in
a fresh clone after `make demo`; it is too slow for the suite, and .ci/run runs it after it.)"""
from __future__ import annotations

import re

import pytest
import yaml

from ray_xr import plan
from ray_xr.plan import config
from tests import readme_check
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")
PROSE = " ".join(README.split())  # quotes matched across line breaks


def counts(sweep: str) -> dict:
    return plan.build(config.load(REPO / "sweeps" / f"{sweep}.yaml")).summary()


def number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_full_sweeps_plan_counts_are_the_ones_quoted():
    found = re.search(r"`ray-xr plan sweeps/nli_vs_ner.yaml` shows its (\d+) \+ (\d+) \+ (\d+) training stages"
                      r" and ([\d,]+) evaluations", PROSE)
    stages = counts("nli_vs_ner")["stages"]
    assert found, "the README no longer quotes nli_vs_ner's plan"
    assert [number(g) for g in found.groups()] == [
        stages["pretrain"], stages["intermediate"], stages["target"], stages["eval"]]
    found = re.search(r"`sweeps/phang2020.yaml`.*?`ray-xr plan` shows ([\d,]+) intermediate, ([\d,]+) target"
                      r" and ([\d,]+) evaluation stages", PROSE)
    stages = counts("phang2020")["stages"]
    assert found, "the README no longer quotes phang2020's plan"
    assert [number(g) for g in found.groups()] == [stages["intermediate"], stages["target"], stages["eval"]]


def test_the_demo_counts_are_the_ones_quoted():
    demo = counts("local")
    found = re.search(r"the demo launches (\d+) worker groups for (\d+) training stages and (\d+) evaluations", PROSE)
    assert found, "the README no longer quotes the demo's worker groups"
    training = sum(n for phase, n in demo["stages"].items() if phase != "eval")
    assert [int(g) for g in found.groups()] == [demo["trials"], training, demo["stages"]["eval"]]
    assert f'"trials": {demo["trials"]},' in README.split("Where the time goes")[1]  # the quoted timing.json


def yaml_blocks() -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", README, re.S)


def test_the_sweep_shown_as_sweeps_local_yaml_is_that_file():
    assert (REPO / "sweeps/local.yaml").read_text(encoding="utf-8") in yaml_blocks()


def leaves(value, prefix=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), value


def test_the_defaults_shown_are_the_defaults():
    [block] = [b for b in yaml_blocks() if b.startswith("# the defaults")]
    defaults = config.to_dict(config.parse({"name": "x", "targets": ["xnli"]}))
    shown = dict(leaves(yaml.safe_load(block)))
    actual = dict(leaves(defaults))
    assert shown, block
    wrong = {key: (value, actual.get(key, "no such key")) for key, value in shown.items() if actual.get(key) != value}
    assert not wrong, wrong


def test_every_command_block_is_run_or_skipped_with_a_reason():
    blocks = readme_check.blocks(README)
    assert blocks and all(block.lines for block in blocks)
    # the cluster steps are a list, not run; a lock is written online
    assert [b.lines[0].command for b in blocks if b.skip] == ["make test", "ray-xr data fetch sweeps/nli_vs_ner.yaml"]
    [table_block] = [b for b in blocks if any("prints the table above" in line.comment for line in b.lines)]
    assert table_block.table.startswith("| Intermediate task | xnli clean |")
    assert {line.expected for b in blocks for line in b.lines} == {0, 2}


@pytest.mark.parametrize("line, split", [
    ('ray-xr noise show --kind char "a # b"  # prints it', ('ray-xr noise show --kind char "a # b"', "prints it")),
    ("make demo   # exits 0", ("make demo", "exits 0")),
    ("ray-xr plan x#y.yaml", ("ray-xr plan x#y.yaml", "")),
])
def test_a_command_and_its_comment(line, split):
    assert readme_check.split_comment(line) == split


def test_quoted_paragraphs_are_checked_against_their_file(tmp_path):
    readme = ("<!-- readme-check: numbers in out.md -->\nScores 70.3 and +8.2, 25 of 36.\n\nNot checked: 1.5.\n")
    (tmp_path / "out.md").write_text("70.3 | +8.2 | 25 of 36")
    assert readme_check.check_numbers(readme, tmp_path) == []
    (tmp_path / "out.md").write_text("70.3 | -8.2 | 24 of 36")
    assert readme_check.check_numbers(readme, tmp_path) == ["README.md:2: not in out.md: +8.2, 25 of 36"]
