"""What the README and docs/ quote from the code, checked without running anything heavy: the plan
counts and JSON the command comments quote, the sweep files and defaults they show, the figures
of the first real run. (tests/readme_check.py runs every command block in a fresh clone after
`make demo`; it is too slow for the suite, and .ci/run runs it after it. tests/test_cost.py checks
the cost table of docs/cluster.md, tests/test_pipeline.py the run-directory contract of
docs/architecture.md.)"""
from __future__ import annotations

import re

import pytest
import yaml

from ray_xr.plan import config, cost
from ray_xr.plan import graph as plan
from ray_xr.report import power
from tests import readme_check
from tests.conftest import REPO

DOCUMENTS = {name: (REPO / name).read_text(encoding="utf-8") for name in readme_check.documents(REPO)}
README = DOCUMENTS["README.md"]
PROSE = " ".join(" ".join(DOCUMENTS.values()).split())  # quotes matched across line breaks


def build(sweep: str):
    return plan.build(config.load(REPO / "sweeps" / f"{sweep}.yaml"))


def command_lines():
    """(document, line) for every line of every command block."""
    return [(name, line) for name, text in DOCUMENTS.items()
            for block in readme_check.blocks(text, name) for line in block.lines]


def test_the_docs_are_the_ones_the_readme_points_to():
    linked = set(re.findall(r"\]\((docs/[\w.]+\.md)[#)]", README))
    assert linked == set(DOCUMENTS) - {"README.md"}, "every docs file is linked from the README, and only those"
    assert len(README.splitlines()) <= 205, "the README is a short path; details go to docs/"


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_between_the_documents_resolves():
    """[text](path#anchor) between README, docs and CHANGELOG: the file exists, the heading too."""
    broken = []
    for name, text in {**DOCUMENTS, "CHANGELOG.md": (REPO / "CHANGELOG.md").read_text(encoding="utf-8")}.items():
        for target, anchor in re.findall(r"\]\(([\w./-]*\.md|[\w./-]*\.png)?(?:#([\w-]+))?\)", text):
            path = (REPO / name).parent / target if target else REPO / name
            headings = ({slug(h) for h in re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)}
                        if path.suffix == ".md" and path.is_file() else set())
            if not path.is_file() or (anchor and anchor not in headings):
                broken.append(f"{name}: ({target}#{anchor})")
    assert not broken, broken


def test_the_plan_json_quoted_is_what_plan_prints():
    """Each `ray-xr plan SWEEP --json  # {"key": N, ...}` comment quotes the plan's own counts."""
    checked = 0
    for name, line in command_lines():
        found = re.fullmatch(r"ray-xr plan sweeps/(\w+)\.yaml --json", line.command)
        if not found:
            continue
        summary = build(found.group(1)).summary()
        counts = {**{k: v for k, v in summary.items() if isinstance(v, int)}, **summary["stages"]}
        quoted = dict(readme_check.QUOTED.findall(line.comment))
        assert quoted and {k: counts.get(k) for k in quoted} == {k: int(v) for k, v in quoted.items()}, line
        checked += 1
    assert checked >= 4


def test_the_demo_counts_are_the_ones_quoted():
    demo = build("local").summary()
    found = re.search(r"the demo launches (\d+) worker groups for (\d+) training stages and (\d+) evaluations", PROSE)
    assert found, "docs/architecture.md no longer quotes the demo's worker groups"
    training = sum(n for phase, n in demo["stages"].items() if phase != "eval")
    assert [int(g) for g in found.groups()] == [demo["trials"], training, demo["stages"]["eval"]]


def yaml_blocks(text: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", text, re.S)


@pytest.mark.parametrize("sweep", ["local", "first_run"])
def test_the_sweeps_shown_in_the_readme_are_those_files(sweep):
    assert (REPO / "sweeps" / f"{sweep}.yaml").read_text(encoding="utf-8") in yaml_blocks(README)


def test_the_first_real_runs_figures_are_the_codes():
    """The first real run's comments: 0.3 estimated H100-hours; with the default variances 3
    seeds detect about 5 points and 2 points need 13 to 23 seeds per task."""
    p = build("first_run")
    hours = cost.estimate(p, "h100", cost.GPUS)["gpu_hours"]["total"]
    assert f"# {hours:.1f} estimated H100-hours" in README
    found = power.analyse(p, 2.0, None)
    three = [row[3] for row in found["mdd_by_seeds"].values()]  # by seed count (strings only in --json)
    seeds = sorted(n for row in found["seeds"].values() for n in row.values())
    assert round(min(three)) == round(max(three)) == 5
    assert f"3 seeds detect about 5 points, 2 need {seeds[0]} to {seeds[-1]}" in README


def leaves(value, prefix=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{prefix}{key}.")
    else:
        yield prefix.rstrip("."), value


def test_the_defaults_shown_are_every_default():
    """docs/sweeps.md's defaults block lists every key a sweep may set (but name and targets), each
    with the value config resolves it to."""
    [block] = [b for b in yaml_blocks(DOCUMENTS["docs/sweeps.md"]) if b.startswith("# the defaults")]
    defaults = config.to_dict(config.parse({"name": "x", "targets": ["xnli"]}))
    shown = dict(leaves(yaml.safe_load(block)))
    actual = {k: v for k, v in leaves(defaults) if k.split(".")[0] not in ("name", "targets", "lock", "smoke")}
    wrong = {key: (value, actual.get(key, "no such key")) for key, value in shown.items() if actual.get(key) != value}
    assert not wrong, wrong
    assert set(actual) <= set(shown), sorted(set(actual) - set(shown))


def test_every_command_block_is_run_or_skipped_with_a_reason():
    blocks = {name: readme_check.blocks(text, name) for name, text in DOCUMENTS.items()}
    assert all(block.lines for found in blocks.values() for block in found)
    skipped = {(name, b.lines[0].command.split()[0:3][-1]) for name, found in blocks.items() for b in found if b.skip}
    # the suite (CI runs it), the hub (data fetch), a GPU machine, a cluster, this check itself
    assert skipped == {("README.md", "test"), ("README.md", "fetch"), ("README.md", "sweeps/first_run.yaml"),
                       ("docs/tasks_and_data.md", "fetch"), ("docs/cluster.md", "submit"),
                       ("docs/development.md", "tests/readme_check.py")}, skipped
    [table_block] = [b for found in blocks.values() for b in found
                     if any("prints the table above" in line.comment for line in b.lines)]
    assert table_block.table.startswith("| Intermediate task | xnli clean |")
    assert {line.expected for found in blocks.values() for b in found for line in b.lines} == {0, 2}


@pytest.mark.parametrize("line, split", [
    ('ray-xr noise show --kind char "a # b"  # prints it', ('ray-xr noise show --kind char "a # b"', "prints it")),
    ("make demo   # exits 0", ("make demo", "exits 0")),
    ("ray-xr plan x#y.yaml", ("ray-xr plan x#y.yaml", "")),
])
def test_a_command_and_its_comment(line, split):
    assert readme_check.split_comment(line) == split


def test_indented_blocks_in_lists_are_run_and_skipped_too():
    text = ("1. A step:\n\n   ```bash\n   ray-xr tasks   # exits 0\n   ```\n\n"
            "2. Another:\n\n   <!-- readme-check: skip (a cluster) -->\n   ```bash\n   ray up cluster.yaml\n   ```\n")
    run, skipped = readme_check.blocks(text, "docs/x.md")
    assert [(line.where, line.command) for line in run.lines] == [("docs/x.md:4", "ray-xr tasks")] and not run.skip
    assert skipped.skip == "a cluster" and skipped.lines[0].command == "ray up cluster.yaml"


def test_quoted_paragraphs_are_checked_against_their_file(tmp_path):
    readme = ("<!-- readme-check: numbers in out.md -->\nScores 70.3 and +8.2, 25 of 36.\n\nNot checked: 1.5.\n")
    (tmp_path / "out.md").write_text("70.3 | +8.2 | 25 of 36")
    assert readme_check.check_numbers(readme, tmp_path) == []
    (tmp_path / "out.md").write_text("70.3 | -8.2 | 24 of 36")
    assert readme_check.check_numbers(readme, tmp_path, "docs/x.md") == ["docs/x.md:2: not in out.md: +8.2, 25 of 36"]
