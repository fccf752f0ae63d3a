"""Command line: `ray-xr plan|run|report|status|export|noise show|stats|fit|data show|check|fetch ...`.

The parser, the one `except RayXRError` boundary, and the light commands: `noise show`, `noise
kinds`, `report`, `status` and `export` run from here; the commands that read a sweep or the task
registry live in commands.py (noise.py for `noise stats|fit`), imported only for them, so that
`noise show` starts in a tenth of a second. User mistakes (errors.RayXRError) end in one line on
stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from importlib import metadata
from pathlib import Path

from ray_xr import noise
from ray_xr.errors import NoiseError, RayXRError, ReportError
from ray_xr.noise import languages
from ray_xr.noise.perturb import protect_names_and_numbers
from ray_xr.report import export, results, xtreme
from ray_xr.stages import RunDir


def _run_dir(location: str) -> RunDir:
    """A run folder named on the command line; a bucket that cannot be reached is one line."""
    run = RunDir(location, option="", reader=True)
    if run.bucket:
        run.bucket.check()
    return run


def cmd_report(args) -> int:
    run = _run_dir(args.run_dir)
    run.pull()  # a bucket's records, outcomes and results, into this machine's copy of the folder
    run_dir = run.root
    if not (run_dir / "results.jsonl").exists():
        raise ReportError(f"{args.run_dir}: no results.jsonl (is this a run folder?)")
    from ray_xr.report import render  # lazy: numpy and pyarrow, which `noise show` does without

    path = render.write_report(run_dir, progress=_progress(run))
    scores = xtreme.write(run_dir, results.load_results(run_dir))
    if args.publish:  # over the live report the run keeps in the bucket
        run.push("report")
    if args.readme_table:  # the README's demo table is this output, pasted, never typed
        print(section(path, "Scores"))
        return 0
    print(path.read_text())
    print(scores.read_text())
    where = run.show(f"report/{path.name}") if args.publish else path
    kept = " (this machine's copy; the run's report in the bucket is unchanged: --publish replaces it)"
    print(f"ray-xr: report written to {where}{kept if run.bucket and not args.publish else ''}")
    return 0


def section(path: Path, heading: str) -> str:
    """The body of the `## heading` section of a markdown report, without its heading."""
    for part in path.read_text(encoding="utf-8").split("\n## ")[1:]:
        title, _, body = part.partition("\n")
        if title == heading:
            return body.strip()
    raise ReportError(f"{path}: no '{heading}' section (no results yet?)")


def _progress(run: RunDir) -> dict | None:
    from ray_xr.plan import progress  # lazy: pydantic and the task registry, as load_sweep

    try:
        return progress.status(run)
    except RayXRError:  # a results.jsonl without the sweep beside it still has a report
        return None


def cmd_status(args) -> int:
    from ray_xr.plan import progress  # lazy: pydantic and the task registry, as load_sweep

    found = progress.status(_run_dir(args.run_dir))
    print(json.dumps(found) if args.json else progress.table(found))
    return 0


def cmd_export(args) -> int:
    run = _run_dir(args.run_dir)
    run.pull()
    files, capped = export.collect(run.root, Path(args.out), args.intermediate, args.seed,
                                   args.allow_capped)
    print(f"ray-xr: {len(files)} prediction files in {args.out} (XTREME submission layout <task>/test-<lang>.<ext>)"
          + (f"; capped test sets, not scorable against the full gold files: {', '.join(capped)}" if capped else ""))
    return 0


LOCKED = ("fail (exit 2) when a hub source is pinned neither by the registry nor by SWEEP.lock.json"
          " (written by `ray-xr data fetch`)")
_FILE_OPTIONS = {"typo_files": "--typo-file", "lexicon_files": "--lexicon-file", "profiles": "--profile"}


def cmd_noise_show(args) -> int:
    """Only the perturbed text on stdout (for scripts); --verbose adds a summary on stderr."""
    lang = languages.check(args.lang)
    given = {"typo_files": args.typo_file, "lexicon_files": args.lexicon_file, "profiles": args.profile}
    resources = noise.NoiseResources(**{field: {lang: path} for field, path in given.items() if path})
    field = noise.NOISE_KINDS[args.kind].resource if args.kind in noise.NOISE_KINDS else None
    if field and noise.resource_file(args.kind, lang, resources) is None:
        raise NoiseError(f"noise kind {args.kind!r} reads a file: pass {_FILE_OPTIONS[field]} PATH")
    protect = protect_names_and_numbers if args.protect else None
    out, summary = noise.shown(args.kind, args.level, lang, args.seed, args.text, resources, protect)
    if args.verbose:  # the same call as stdout's, so -v describes the perturbation printed
        print(summary, file=sys.stderr)
    print(out)
    return 0


def cmd_noise_kinds(args) -> int:
    for kind in noise.NOISE_KINDS.values():
        print(f"{kind.name:11} {kind.summary}")
    return 0


def cmd_noise_stats(args) -> int:
    from ray_xr.cli.noise import stats  # lazy: the task registry and readers
    from ray_xr.noise.profile import describe

    found = stats(args)
    print(json.dumps(found) if args.json else describe(found))
    return 0


def cmd_noise_fit(args) -> int:
    from ray_xr.cli.noise import fit, write_profile  # lazy, as cmd_noise_stats
    from ray_xr.noise.profile import describe

    doc = fit(args)
    write_profile(doc, args.output)
    print(describe(doc["profile"]))
    print(f"ray-xr: typo profile for {doc['lang']} written to {args.output} (noise kind `typo`,"
          f" noise.profiles.{doc['lang']} in a sweep)")
    return 0


def _sweep_command(name: str):
    def call(args) -> int:
        from ray_xr.cli import commands  # lazy: see commands.py

        return getattr(commands, name)(args)
    return call


def _noise_file_args(s: argparse.ArgumentParser) -> None:
    """The files some kinds read, for --lang (the same as a sweep's noise.<field>)."""
    s.add_argument("--typo-file", help="realworld: `correct<TAB>misspelling` lines for --lang")
    s.add_argument("--lexicon-file", help="codeswitch: MUSE `src tgt` lines for --lang")
    s.add_argument("--profile", help="typo: a profile written by `ray-xr noise fit` for --lang")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ray-xr", description=__doc__.splitlines()[0],
                                 epilog="`ray-xr tasks` lists the tasks, `ray-xr noise kinds` the noise kinds.")
    ap.add_argument("--version", action="version", version=f"ray-xr {metadata.version('ray-xr')}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("tasks", help="list the tasks: family, metric, data sources, languages")
    p.set_defaults(func=_sweep_command("cmd_tasks"))
    _sweep_commands(sub)
    _run_folder_commands(sub)
    _noise_commands(sub)
    _data_commands(sub)
    return ap


def _sweep_commands(sub) -> None:
    """`plan` and `run`: they read a sweep (commands.py)."""
    p = sub.add_parser("plan", help="expand the grid and print the stage graph; runs nothing")
    p.add_argument("sweep")
    p.add_argument("--json", action="store_true", help="one JSON object with the stage counts")
    p.add_argument("--cost", action="store_true", help="estimate tokens, GPU-hours and money per phase instead")
    p.add_argument("--gpu", default="h100", help="--cost: the GPU type (h200, h100, a100, a10g, l4; default h100)")
    p.add_argument("--gpu-table", help="--cost: YAML/JSON {gpu: {usd_per_hour, speed}} over the built-in table")
    p.add_argument("--power", action="store_true",
                   help="seeds per intermediate task the report's test needs (80%% power, after its Holm correction)")
    p.add_argument("--mdd", type=float, help="--power: the difference to detect, in points")
    p.add_argument("--pilot", help="--power: a finished run folder whose seed and example variances to use")
    p.set_defaults(func=_sweep_command("cmd_plan"))
    p = sub.add_parser("run", help="run the sweep on a Ray cluster (a local one by default)")
    p.add_argument("sweep")
    p.add_argument("--storage", default="runs", help="results go to STORAGE/<sweep name>/ (default ./runs)")
    p.add_argument("--address", default=None, help="join a running cluster ('auto'); default: start a local one")
    p.add_argument("--storage-shared", action="store_true",
                   help="with --address: every node mounts the --storage path, though it is not on a network file"
                        " system (a cluster on one machine); each node checks that it sees the run folder")
    p.add_argument("--rerun", action="append", choices=("eval", "target", "intermediate", "pretrain", "all"),
                   help="run the finished stages of this phase again, and everything that depends on them"
                        " (repeatable)")
    p.add_argument("--locked", action="store_true", help=LOCKED)
    p.add_argument("--smoke", action="store_true",
                   help="every stage on a few examples and optimizer steps, into STORAGE/<name>-smoke; ends with a"
                        " table of each stage's node, device, seconds, tokens/s, peak memory and MFU")
    p.add_argument("--random-weights", action="store_true",
                   help="--smoke only: build the model's architecture (xlm-roberta-base/large, or a folder's"
                        " config.json) untrained, with a tokenizer trained here: no download")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="also print each epoch and evaluation (the workers' lines), Ray's and the whole report")
    p.set_defaults(func=_sweep_command("cmd_run"))


def _run_folder_commands(sub) -> None:
    """`report`, `status` and `export`: they read a run folder, without Ray."""
    p = sub.add_parser("report", help="re-render the report of a run folder, without Ray")
    p.add_argument("run_dir")
    p.add_argument("--readme-table", action="store_true",
                   help="print only the score table (with intervals and marks), as the README shows it")
    p.add_argument("--publish", action="store_true",
                   help="a run in a bucket: upload this report over the run's own report/ there")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("status", help="stages done / running / failed / to do per phase and the time left, without Ray")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true",
                   help='{"phases": {phase: {done, running, interrupted, failed, todo, total}}, "eta_s", "run"}')
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("export", help="copy one chain's clean test predictions into the XTREME submission layout")
    p.add_argument("run_dir")
    p.add_argument("out")
    p.add_argument("--intermediate", default="none", help="the intermediate task of the chain (default: none)")
    p.add_argument("--seed", type=int, default=None, help="needed when the run has several seeds")
    p.add_argument("--allow-capped", action="store_true",
                   help="export test sets capped by data.test_size too (refused by default)")
    p.set_defaults(func=cmd_export)


def _noise_commands(sub) -> None:
    p = sub.add_parser("noise", help="noise tools")
    nsub = p.add_subparsers(dest="noise_command", required=True)
    s = nsub.add_parser("show", help="print TEXT perturbed by one noise kind at one level")
    s.add_argument("--kind", required=True)
    s.add_argument("--level", type=float, required=True)
    s.add_argument("--lang", required=True)
    s.add_argument("--seed", type=int, default=0)
    _noise_file_args(s)
    s.add_argument("--protect", action="store_true", help="keep numbers and capitalised non-initial words")
    s.add_argument("-v", "--verbose", action="store_true", help="also describe the edit on stderr")
    s.add_argument("text")
    s.set_defaults(func=cmd_noise_show)
    s = nsub.add_parser("stats", help="the edit profile of a noisy file against its clean original, or of a kind")
    s.add_argument("--task", required=True, help="the task whose reader reads the files (panx, xnli, ...)")
    s.add_argument("--lang", required=True)
    s.add_argument("--clean", required=True, help="the clean file")
    s.add_argument("--noisy", help="its noisy version (e.g. a published real-noise set)")
    s.add_argument("--kind", help="or: a noise kind applied to the clean file")
    s.add_argument("--level", type=float)
    s.add_argument("--seed", type=int, default=0)
    _noise_file_args(s)
    s.add_argument("--json", action="store_true", help="the numbers as one JSON object")
    s.set_defaults(func=cmd_noise_stats)
    s = nsub.add_parser("fit", help="fit a typo profile to real (clean, misspelled) pairs")
    s.add_argument("pairs", nargs="*", help="`correct<TAB>misspelling` files (or use --task/--clean/--noisy)")
    s.add_argument("--task")
    s.add_argument("--clean")
    s.add_argument("--noisy")
    s.add_argument("--lang", required=True)
    s.add_argument("-o", "--output", required=True, help="the profile JSON to write")
    s.set_defaults(func=cmd_noise_fit)
    s = nsub.add_parser("kinds", help="list the noise kinds")
    s.set_defaults(func=cmd_noise_kinds)


def _data_commands(sub) -> None:
    p = sub.add_parser("data", help="data tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("show", help="parse local files in a task's published format; print counts and examples")
    s.add_argument("task")
    s.add_argument("files", nargs="+", help="the files (Tatoeba: the non-English file, then the English one)")
    s.add_argument("--lang", default=None, help="keep the rows of this language (multi-language files, XNLI)")
    s.add_argument("--json", action="store_true", help='print {"examples": N, "labels": {label: count}}')
    s.set_defaults(func=_sweep_command("cmd_data_show"))
    s = dsub.add_parser("check", help="load every split and language a sweep needs; fail if any is missing")
    s.add_argument("sweep")
    s.add_argument("--locked", action="store_true", help=LOCKED)
    s.add_argument("--json", action="store_true",
                   help='print {"references": [{task, split, language, dataset|download, config, hub_split, revision,'
                        ' form, verified}], "problems": [...]}')
    s.set_defaults(func=_sweep_command("cmd_data_check"))
    s = dsub.add_parser("fetch", help="the preflight of a real run: download every hub split and the model a sweep"
                                      " reads into the HF cache, check them, pin them in SWEEP.lock.json")
    s.add_argument("sweep")
    s.set_defaults(func=_sweep_command("cmd_data_fetch"))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except RayXRError as err:
        print(f"ray-xr: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ray-xr report RUN | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 141
    except KeyboardInterrupt:
        print("ray-xr: interrupted; finished stages are kept, run again to resume", file=sys.stderr)
        return 130

