"""Command line: `ray-xr plan|run|report|export|noise show|data show|data check ...`.

Heavy imports (ray, torch) happen inside the commands that need them, so `plan`, `report` and
`noise show` start fast. User mistakes end in one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_plan(args) -> int:
    from ray_xr import config, plan

    p = plan.build(config.load(args.sweep))
    print(json.dumps(p.summary()) if args.json else plan.describe(p))
    return 0


def cmd_run(args) -> int:
    from ray_xr import config

    sweep = config.load(args.sweep)  # validate before anything heavy starts
    _check_dirs(sweep, args.sweep)
    if sweep.data.source == "local":  # reading local files is cheap: fail before any training
        _check_data(sweep, args.sweep)
    from ray_xr.sweep import run

    return run(sweep, Path(args.storage), args.address)


def cmd_report(args) -> int:
    from ray_xr import report, report_render, xtreme_score

    run_dir = Path(args.run_dir)
    if not (run_dir / "results.jsonl").exists():
        raise report.ReportError(f"{run_dir}: no results.jsonl (is this a run folder?)")
    path = report_render.write_report(run_dir)
    print(path.read_text())
    print(xtreme_score.write(run_dir, report.load_results(run_dir)).read_text())
    print(f"ray-xr: report written to {path}")
    return 0


def cmd_export(args) -> int:
    from ray_xr import export

    files = export.collect(Path(args.run_dir), Path(args.out), args.intermediate, args.seed)
    print(f"ray-xr: {len(files)} prediction files in {args.out} (XTREME submission layout <task>/test-<lang>.<ext>)")
    return 0


def cmd_noise_show(args) -> int:
    """Only the perturbed text on stdout (for scripts); --verbose adds a summary on stderr."""
    from ray_xr import noise

    resources = noise.NoiseResources(typo_files={args.lang: args.typo_file} if args.typo_file else {},
                                     lexicon_files={args.lang: args.lexicon_file} if args.lexicon_file else {})
    field = noise.NOISE_KINDS[args.kind].resource if args.kind in noise.NOISE_KINDS else None
    if field and noise.resource_file(args.kind, args.lang, resources) is None:
        option = "--" + field.removesuffix("_files") + "-file"
        raise noise.NoiseError(f"noise kind {args.kind!r} reads a file: pass {option} PATH")
    protect = None
    if args.protect:
        from ray_xr.perturb import protect_names_and_numbers as protect
    out = noise.perturb_text(args.text, args.kind, args.level, lang=args.lang, seed=args.seed,
                             example_id="show", resources=resources, protect=protect)
    if args.verbose:
        print(noise.show(args.kind, args.level, args.lang, args.seed, args.text, resources), file=sys.stderr)
    print(out)
    return 0


def cmd_data_show(args) -> int:
    from ray_xr import datatools

    print(datatools.show(args.task, args.files, args.lang, args.json))
    return 0


def cmd_data_check(args) -> int:
    from ray_xr import config

    sweep = config.load(args.sweep)
    _check_dirs(sweep, args.sweep)
    print(_check_data(sweep, args.sweep))
    return 0


def _check_dirs(sweep, source: str) -> None:
    from ray_xr.data import DataError

    for task, entry in sweep.data.local.items():
        if not Path(entry.dir).is_dir():
            raise DataError(f"{source}: data.local.{task}.dir: no such directory {entry.dir}")


def _check_data(sweep, source: str) -> str:
    from ray_xr import datatools, plan
    from ray_xr.data import DataError

    table, problems = datatools.check(plan.build(sweep))
    if problems:
        print("\n".join([table] + [f"  {p}" for p in problems]))
        raise DataError(f"{source}: {len(problems)} split(s) missing or malformed; first: {problems[0]}")
    return table


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="ray-xr", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("plan", help="expand the grid and print the stage graph; runs nothing")
    p.add_argument("sweep")
    p.add_argument("--json", action="store_true", help="one JSON object with the stage counts")
    p.set_defaults(func=cmd_plan)
    p = sub.add_parser("run", help="run the sweep on a Ray cluster (a local one by default)")
    p.add_argument("sweep")
    p.add_argument("--storage", default="runs", help="results go to STORAGE/<sweep name>/ (default ./runs)")
    p.add_argument("--address", default=None, help="join a running cluster ('auto'); default: start a local one")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("report", help="re-render the report of a run folder, without Ray")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("export", help="copy one chain's clean test predictions into the XTREME submission layout")
    p.add_argument("run_dir")
    p.add_argument("out")
    p.add_argument("--intermediate", default="none", help="the intermediate task of the chain (default: none)")
    p.add_argument("--seed", type=int, default=None, help="needed when the run has several seeds")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("noise", help="noise tools")
    nsub = p.add_subparsers(dest="noise_command", required=True)
    s = nsub.add_parser("show", help="print TEXT perturbed by one noise kind at one level")
    s.add_argument("--kind", required=True)
    s.add_argument("--level", type=float, required=True)
    s.add_argument("--lang", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--typo-file", help="realworld: `correct<TAB>misspelling` lines for --lang")
    s.add_argument("--lexicon-file", help="codeswitch: MUSE `src tgt` lines for --lang")
    s.add_argument("--protect", action="store_true", help="keep numbers and capitalised non-initial words")
    s.add_argument("-v", "--verbose", action="store_true", help="also describe the edit on stderr")
    s.add_argument("text")
    s.set_defaults(func=cmd_noise_show)
    p = sub.add_parser("data", help="data tools")
    dsub = p.add_subparsers(dest="data_command", required=True)
    s = dsub.add_parser("show", help="parse local files in a task's published format; print counts and examples")
    s.add_argument("task")
    s.add_argument("files", nargs="+", help="the files (Tatoeba: the non-English file, then the English one)")
    s.add_argument("--lang", default=None, help="keep the rows of this language (multi-language files, XNLI)")
    s.add_argument("--json", action="store_true", help='print {"examples": N, "labels": {label: count}}')
    s.set_defaults(func=cmd_data_show)
    s = dsub.add_parser("check", help="load every split and language a sweep needs; fail if any is missing")
    s.add_argument("sweep")
    s.set_defaults(func=cmd_data_check)
    return ap


def _user_errors(command: str) -> tuple[type[Exception], ...]:
    from ray_xr.noise import NoiseError

    if command == "noise":  # starts in well under a second: no pydantic, yaml or task registry
        return (NoiseError,)
    from ray_xr.config import SweepError
    from ray_xr.data import DataError
    from ray_xr.export import ExportError
    from ray_xr.formats import DataError as FileError
    from ray_xr.report import ReportError
    from ray_xr.tasks import UnknownTask

    errors = (SweepError, DataError, ExportError, FileError, NoiseError, ReportError, UnknownTask)
    if command == "run":  # its module is loaded by then; importing it here for others would load Ray
        from ray_xr.sweep import ClusterError

        errors += (ClusterError,)
    return errors


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except _user_errors(args.command) as err:
        print(f"ray-xr: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ray-xr: interrupted; finished stages are kept, run again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
