"""Report tables from hand-built results.jsonl files, checked against hand-computed numbers."""
from __future__ import annotations

import ast
import csv
import json
import sys
from pathlib import Path

import pytest

from ray_xr import stages
from ray_xr.report import results as report
from ray_xr.report.results import load_results, robustness_rows
from ray_xr.errors import ReportError
from ray_xr.report import summary
from ray_xr.report import xtreme as xtreme_score
from ray_xr.report.render import render_markdown, write_report
from tests.conftest import ray_xr

REPORT_FILES = ["comparisons.csv", "per_language.csv", "plots", "report.html", "robustness.csv", "robustness.md",
                "robustness.tex", "summary.json"]


def row_without_outcomes_has_empty_intervals(table) -> bool:
    return all(r["ci_low"] == "" and r["gain"] == "" for r in table)

# Per-seed, per-language values. Intermediate `squad` comes first in the file, the baseline
# `none` second. English (en) is far off so that including it would show in every mean.
# (intermediate, target) -> level -> seed -> {language: value}
VALUES = {
    ("squad", "xnli"): {
        0.0: {1: {"en": 90.0, "de": 80.0, "fr": 70.0}, 2: {"en": 88.0, "de": 78.0, "fr": 68.0}},
        0.1: {1: {"en": 85.0, "de": 70.0, "fr": 66.0}, 2: {"en": 84.0, "de": 72.0, "fr": 66.0}},
        0.2: {1: {"en": 80.0, "de": 60.0, "fr": 60.0}, 2: {"en": 80.0, "de": 64.0, "fr": 60.0}},
    },
    ("none", "xnli"): {
        0.0: {1: {"en": 85.0, "de": 70.0, "fr": 66.0}, 2: {"en": 83.0, "de": 70.0, "fr": 64.0}},
        0.1: {1: {"en": 80.0, "de": 60.0, "fr": 58.0}, 2: {"en": 79.0, "de": 61.0, "fr": 57.0}},
        0.2: {1: {"en": 75.0, "de": 50.0, "fr": 50.0}, 2: {"en": 75.0, "de": 52.0, "fr": 48.0}},
    },
    ("squad", "wikiann"): {
        0.0: {1: {"en": 95.0, "de": 60.0, "fr": 62.0}, 2: {"en": 95.0, "de": 60.0, "fr": 62.0}},
        0.1: {1: {"en": 90.0, "de": 50.0, "fr": 52.0}, 2: {"en": 90.0, "de": 50.0, "fr": 52.0}},
        0.2: {1: {"en": 85.0, "de": 40.0, "fr": 42.0}, 2: {"en": 85.0, "de": 40.0, "fr": 42.0}},
    },
    ("none", "wikiann"): {
        0.0: {1: {"en": 94.0, "de": 58.0, "fr": 60.0}, 2: {"en": 94.0, "de": 58.0, "fr": 60.0}},
        0.1: {1: {"en": 89.0, "de": 48.0, "fr": 50.0}, 2: {"en": 89.0, "de": 48.0, "fr": 50.0}},
        0.2: {1: {"en": 84.0, "de": 38.0, "fr": 40.0}, 2: {"en": 84.0, "de": 38.0, "fr": 40.0}},
    },
}
METRIC = {"xnli": "accuracy", "wikiann": "f1"}


def make_records(noises=("char",), seeds=(1, 2)) -> list[dict]:
    records = []
    for (intermediate, target), by_level in VALUES.items():
        for noise in noises:
            for level, by_seed in by_level.items():
                for seed in seeds:
                    for language, value in by_seed[seed].items():
                        records.append({
                            "intermediate": intermediate, "target": target, "seed": seed,
                            "noise": noise, "level": 0 if level == 0 else level,
                            "language": language, "metric": METRIC[target], "value": value,
                            "n": 100, "realised_level": level * 0.9,
                        })
    return records


def write_results(run_dir: Path, records: list[dict]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r) for r in records]
    (run_dir / "results.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_dir


def cell(rows, intermediate, target, level, noise="char"):
    [row] = [r for r in rows if (r["intermediate"], r["target"], r["noise"], r["level"])
             == (intermediate, target, noise, level)]
    return row


def test_baseline_row_first_then_file_order():
    rows = robustness_rows(make_records())
    assert [r["intermediate"] for r in rows] == ["none"] * 6 + ["squad"] * 6
    assert [(r["target"], r["level"]) for r in rows[:6]] == [
        ("xnli", 0.0), ("xnli", 0.1), ("xnli", 0.2),
        ("wikiann", 0.0), ("wikiann", 0.1), ("wikiann", 0.2),
    ]


def test_cells_are_seed_means_over_non_source_languages():
    rows = robustness_rows(make_records())
    clean = cell(rows, "squad", "xnli", 0.0)
    # Seed 1: (80 + 70) / 2 = 75, seed 2: (78 + 68) / 2 = 73; English (90, 88) left out.
    assert clean["mean"] == pytest.approx(74.0)
    assert clean["std"] == pytest.approx(2 ** 0.5)
    assert (clean["seeds"], clean["languages"], clean["metric"]) == (2, 2, "accuracy")
    assert clean["source_mean"] == pytest.approx(89.0)
    noisy = cell(rows, "squad", "xnli", 0.1)
    # Seed 1: 68, seed 2: 69.
    assert noisy["mean"] == pytest.approx(68.5)
    assert noisy["std"] == pytest.approx(0.5 ** 0.5)


def test_drop_is_clean_minus_noisy_paired_per_seed():
    rows = robustness_rows(make_records())
    noisy = cell(rows, "squad", "xnli", 0.1)
    # Per-seed drops 75 - 68 = 7 and 73 - 69 = 4.
    assert noisy["drop"] == pytest.approx(5.5)
    assert noisy["drop_std"] == pytest.approx(4.5 ** 0.5)
    # Baseline: clean 68 and 67, level 0.2 50 and 50.
    assert cell(rows, "none", "xnli", 0.2)["drop"] == pytest.approx(17.5)
    clean = cell(rows, "none", "wikiann", 0.0)
    assert (clean["drop"], clean["drop_std"]) == (0.0, 0.0)
    assert cell(rows, "none", "wikiann", 0.2)["drop"] == pytest.approx(20.0)


def test_drop_is_empty_without_clean_results():
    records = [r for r in make_records() if r["level"] != 0]
    rows = robustness_rows(records)
    assert all(r["drop"] is None for r in rows)


def test_single_seed_has_no_std():
    rows = robustness_rows(make_records(seeds=(2,)))
    row = cell(rows, "squad", "xnli", 0.1)
    assert (row["mean"], row["std"], row["drop"], row["drop_std"]) == (69.0, None, 4.0, None)
    markdown = render_markdown(make_records(seeds=(2,)), "run")
    assert "±" not in markdown
    assert "single seed (2)" in markdown


def test_source_language_is_configurable():
    rows = robustness_rows(make_records(), source_language="de")
    row = cell(rows, "squad", "xnli", 0.0)
    # Seed 1: (90 + 70) / 2 = 80, seed 2: (88 + 68) / 2 = 78.
    assert row["mean"] == pytest.approx(79.0)
    assert row["source_mean"] == pytest.approx(79.0)


def test_markdown_tables(tmp_path):
    markdown = render_markdown(make_records(), "demo-run")
    assert markdown.startswith("# Robustness: demo-run\n")
    assert "the 2 non-English target languages (de, fr)" in markdown
    assert "(de, fr) for each seed, then reported as mean ± sample std over 2 seeds." in markdown
    assert "`none` is the baseline without intermediate training." in markdown
    assert "accuracy" in markdown and "f1" in markdown
    scores, drops, source, languages = markdown.split("\n## ")[1:]
    header, _, baseline, squad = scores.strip().split("\n")[2:6]
    assert header == ("| Intermediate task | xnli clean | xnli char 0.1 | xnli char 0.2 "
                      "| wikiann clean | wikiann char 0.1 | wikiann char 0.2 |")
    assert baseline.startswith("| none | 67.5 ± 0.7 | 59.0 ± 0.0 | 50.0 ± 0.0 |")
    # nothing is bold for being largest; without outcome files nothing is marked either
    assert squad.startswith("| squad | 74.0 ± 1.4 | 68.5 ± 0.7 |")
    assert "**" not in markdown and "▲" not in scores
    drop_lines = drops.strip().split("\n")
    assert drop_lines[4].startswith("| Intermediate task | xnli char 0.1 | xnli char 0.2 |")
    assert drop_lines[6].startswith("| none | 8.5 ± 0.7 | 17.5 ± 0.7 |")
    assert drop_lines[7].startswith("| squad | 5.5 ± 2.1 | 13.0 ± 2.8 |")
    assert drop_lines[6].endswith("| 10.0 ± 0.0 | 20.0 ± 0.0 |")
    assert source.startswith("Source language (English)")
    assert "| none | 84.0 ± 1.4 | 94.0 ± 0.0 |" in source
    assert "| squad | 89.0 ± 1.4 | 95.0 ± 0.0 |" in source
    # every language of every condition, the source first, means over the seeds
    assert languages.startswith("Per language\n")
    xnli = languages.split("### xnli")[1].split("###")[0].strip().splitlines()
    assert xnli[0] == "| Intermediate task | condition | en (source) | de | fr |"
    assert xnli[2] == "| none | clean | 84.0 | 70.0 | 65.0 |" and len(xnli) == 2 + 2 * 3


def test_several_noise_kinds_share_one_clean_column_and_get_their_own_levels():
    rows = robustness_rows(make_records(noises=("char", "word")))
    assert len(rows) == 2 * 2 * 2 * 3
    assert cell(rows, "squad", "xnli", 0.1, noise="word")["drop"] == pytest.approx(5.5)
    markdown = render_markdown(make_records(noises=("char", "word")), "run")
    assert "| xnli clean | xnli char 0.1 | xnli char 0.2 | xnli word 0.1 | xnli word 0.2 |" in markdown
    assert "xnli char clean" not in markdown
    source = markdown.split("## Source language")[1]
    assert "| Intermediate task | xnli clean | wikiann clean |" in source


def test_clean_columns_per_kind_when_the_clean_cells_differ():
    records = make_records(noises=("char", "word"))
    records = [{**r, "value": r["value"] + 1} if r["noise"] == "word" and r["level"] == 0 else r for r in records]
    markdown = render_markdown(records, "run")
    assert "| xnli char clean | xnli char 0.1 | xnli char 0.2 | xnli word clean |" in markdown


def test_many_kinds_split_the_tables_by_target():
    kinds = ("char", "keyboard", "word", "realworld", "codeswitch", "attack")
    markdown = render_markdown(make_records(noises=kinds), "run")
    scores = markdown.split("## Scores")[1].split("## Drop")[0]
    assert "### xnli" in scores and "### wikiann" in scores
    for kind in kinds:
        assert f"| xnli {kind} 0.1 |" in markdown or f" xnli {kind} 0.1 |" in markdown


def test_attack_success_rate_gets_its_own_table_and_csv_column(tmp_path):
    records = make_records(noises=("char", "attack"))
    for r in records:
        if r["noise"] == "attack" and r["level"]:
            r["attack_success_rate"] = 40.0 if r["intermediate"] == "none" else 20.0 + (r["seed"] == 2)
    markdown = render_markdown(records, "run")
    attack = markdown.split("## Attack success rate")[1].split("## Source")[0]
    assert "| Intermediate task | xnli attack 0.1 | xnli attack 0.2 |" in attack
    assert "| none | 40.0 | 40.0 |" in attack and "| squad | 20.5 |" in attack
    write_report(write_results(tmp_path / "run", records))
    with open(tmp_path / "run" / "report" / "robustness.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    row = next(r for r in table if (r["intermediate"], r["noise"], r["level"], r["target"])
               == ("squad", "attack", "0.1", "xnli"))
    assert row["attack_success_rate"] == "20.5" and row["realised_level"] == "0.09"
    assert next(r for r in table if r["noise"] == "char")["attack_success_rate"] == ""


def test_write_report_files(tmp_path):
    records = make_records()
    run_dir = write_results(tmp_path / "run-7", records)
    path = write_report(run_dir)
    assert path == run_dir / "report" / "robustness.md"
    assert path.read_text(encoding="utf-8").startswith("# Robustness: run-7\n")

    with open(run_dir / "report" / "robustness.csv", newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == list(report.ROBUSTNESS_COLUMNS + summary.EXTRA_COLUMNS)
    assert row_without_outcomes_has_empty_intervals(table)
    assert len(table) == 2 * 2 * 3
    row = next(r for r in table if (r["intermediate"], r["target"], r["level"]) == ("squad", "xnli", "0.1"))
    assert (row["mean"], row["std"], row["drop"], row["seeds"], row["languages"]) == (
        "68.5", "0.7071", "5.5", "2", "2")

    with open(run_dir / "report" / "per_language.csv", newline="", encoding="utf-8") as handle:
        long = list(csv.DictReader(handle))
    assert len(long) == len(records)
    assert list(long[0]) == list(report.RECORD_KEYS) + ["ci_low", "ci_high", "realised_level"]
    assert (long[0]["intermediate"], long[0]["target"], long[0]["level"], long[0]["seed"],
            long[0]["language"]) == ("none", "xnli", "0", "1", "de")
    assert long[-1]["intermediate"] == "squad" and long[-1]["target"] == "wikiann"
    # Extras are carried unrounded: 0.1 * 0.9 is not 0.09 in floating point.
    assert {r["realised_level"] for r in long} >= {repr(0.1 * 0.9), repr(0.2 * 0.9)}


def test_write_report_reads_sweep_source_language(tmp_path):
    run_dir = write_results(tmp_path / "run", make_records())
    (run_dir / "sweep.json").write_text(json.dumps({"source_language": "de"}), encoding="utf-8")
    markdown = write_report(run_dir, run_name="custom").read_text(encoding="utf-8")
    assert markdown.startswith("# Robustness: custom\n")
    assert "non-`de` target languages (en, fr)" in markdown
    assert "| squad | 79.0 ± 1.4 |" in markdown


def test_writes_leave_no_temp_files_and_keep_old_file_on_failure(tmp_path, monkeypatch):
    run_dir = write_results(tmp_path / "run", make_records())
    write_report(run_dir)
    out = run_dir / "report"
    assert sorted(p.name for p in out.iterdir()) == REPORT_FILES
    before = (out / "robustness.csv").read_bytes()

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(stages.os, "replace", fail)  # the atomic writer every report file goes through
    with pytest.raises(OSError, match="disk full"):
        write_report(run_dir, records=make_records(seeds=(1,)))
    assert sorted(p.name for p in out.iterdir()) == REPORT_FILES
    assert (out / "robustness.csv").read_bytes() == before


def test_malformed_line_names_its_line(tmp_path):
    run_dir = write_results(tmp_path / "run", make_records()[:2])
    with open(run_dir / "results.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"intermediate": "none", \n')
    with pytest.raises(ReportError, match=r"results\.jsonl:3: not valid JSON") as err:
        load_results(run_dir)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(("change", "message"), [
    ({"value": None}, r"results\.jsonl:2: value must be a finite number"),
    ({"value": float("nan")}, r"results\.jsonl:2: value must be a finite number"),
    ({"level": "low"}, r"results\.jsonl:2: level must be a number"),
    ({"language": ""}, r"results\.jsonl:2: language must be a non-empty string"),
])
def test_invalid_field_names_its_line(tmp_path, change, message):
    records = make_records()[:3]
    records[1] = {**records[1], **change}
    run_dir = write_results(tmp_path / "run", records)
    with pytest.raises(ReportError, match=message):
        load_results(run_dir)


def test_missing_key_and_missing_file(tmp_path):
    records = make_records()[:2]
    del records[1]["metric"]
    with pytest.raises(ReportError, match=r"results\.jsonl:2: missing key\(s\) metric"):
        load_results(write_results(tmp_path / "a", records))
    with pytest.raises(ReportError, match="not found"):
        load_results(tmp_path / "nowhere")


def test_duplicate_and_conflicting_records_are_refused():
    records = make_records()
    with pytest.raises(ReportError, match="duplicate result for intermediate=squad, target=xnli, seed=1"):
        robustness_rows(records + [records[0]])
    with pytest.raises(ReportError, match="target xnli has two metrics"):
        robustness_rows(records + [{**records[0], "seed": 3, "metric": "f1"}])


def test_source_table_left_out_without_source_results():
    markdown = render_markdown([r for r in make_records() if r["language"] != "en"], "run")
    assert "## Source language" not in markdown
    assert "## Drop under noise" in markdown


def test_empty_results_give_an_empty_report(tmp_path):
    run_dir = tmp_path / "run"
    path = write_report(run_dir, records=[])
    assert "No results yet." in path.read_text(encoding="utf-8")
    assert (run_dir / "report" / "robustness.csv").read_text().strip() == ",".join(
        report.ROBUSTNESS_COLUMNS + summary.EXTRA_COLUMNS)


def test_report_imports_only_the_standard_library():
    """Besides the standard library, only ray_xr.errors (which imports nothing)."""
    tree = ast.parse(Path(report.__file__).read_text(encoding="utf-8"))
    modules = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    modules |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    outside = {m for m in modules if m.split(".")[0] not in set(sys.stdlib_module_names) | {"__future__"}}
    assert outside <= {"ray_xr.errors"}, outside


def test_reports_are_titled_by_the_sweep_and_say_where_their_numbers_come_from(tmp_path):
    """The title is the sweep's name, not the folder's; robustness.md, xtreme_r.md and
    summary.json carry the sweep, model, git SHA, library versions and dates of the evaluations."""
    run_dir = tmp_path / "copied-folder"
    records = [{**r, "stage": f"k{r['seed']}"} for r in make_records()]
    write_results(run_dir, records)
    (run_dir / "sweep.json").write_text(json.dumps({"name": "demo", "model": "embedded-tiny",
                                                    "intermediate": ["none", "squad"], "targets": ["wikiann", "xnli"]}))
    for seed, sha, finished in ((1, "abc123", 1796169600.0), (2, "abc123", 1796173200.0)):
        stage = run_dir / "stages" / f"k{seed}"
        stage.mkdir(parents=True)
        (stage / "stage.json").write_text(json.dumps({"finished": finished, "provenance": {
            "git_sha": sha, "python": "3.11.7", "versions": {"torch": "2.13.0", "ray": "2.60.0", "datasets": None}}}))
    markdown = write_report(run_dir).read_text(encoding="utf-8")
    assert markdown.startswith("# Robustness: demo\n")
    # the sweep's order of targets, not the order of the records (results.jsonl sorts by name)
    assert "| Intermediate task | wikiann clean |" in markdown and "### wikiann" in markdown.split("### xnli")[0]
    assert markdown.endswith("## Provenance\n\n- Sweep `demo`, model `embedded-tiny`, 2 evaluations.\n"
                             "- Code: ray-xr at git abc123.\n- Libraries: ray 2.60.0, torch 2.13.0; Python 3.11.7.\n"
                             "- Evaluated 2026-12-02 00:00 UTC to 2026-12-02 01:00 UTC.\n")
    xtreme = xtreme_score.write(run_dir, records).read_text(encoding="utf-8")
    assert xtreme.startswith("# XTREME-R score: demo\n\n") and "- Code: ray-xr at git abc123." in xtreme
    found = json.loads((run_dir / "report" / "summary.json").read_text())["provenance"]
    assert found["git_sha"] == ["abc123"] and found["versions"]["torch"] == ["2.13.0"]
    assert found["evaluated"] == ["2026-12-02 00:00 UTC", "2026-12-02 01:00 UTC"]


def test_readme_table_is_the_reports_score_table(tmp_path):
    run_dir = write_results(tmp_path / "run", make_records())
    result = ray_xr("report", str(run_dir), "--readme-table")
    assert result.returncode == 0, result.stderr
    markdown = (run_dir / "report" / "robustness.md").read_text(encoding="utf-8")
    table = markdown.split("## Scores\n\n")[1].split("\n\n## ")[0]
    assert result.stdout == table + "\n" and table.startswith("| Intermediate task | xnli clean |")
    empty = write_results(tmp_path / "empty", [])
    result = ray_xr("report", str(empty), "--readme-table")
    assert result.returncode == 2
    assert result.stderr == f"ray-xr: error: {empty / 'report' / 'robustness.md'}: no 'Scores' section (no results yet?)\n"
