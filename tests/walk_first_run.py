"""README "Your first real run", step by step and offline, against the loopback hub.

    .venv/bin/python -m tests.walk_first_run OUT_DIR     (about 7 minutes on 2 cores)

sweeps/first_run.yaml with what this machine has instead of a GPU and the hub: the loopback hub's
tiny XLM-R (tests/hubrepos.py) for xlm-roberta-base, the languages the served samples hold,
`use_gpu: false`, small caps, two seeds. Each README command runs as a subprocess, as written;
`data fetch` runs in tests/hubclient.py (the served stand-ins are not the real splits' sizes, so
their sizes are marked approximate there). The sweep first keeps the README's max_length of 128,
more than the tiny model takes: `data fetch` names it, the sweep is fixed as the line says, and
the walk goes on. Every step's command, exit code, time and output go to OUT_DIR/walk.log; one
line a step on the terminal. Not a test of the suite (it takes minutes): a check to run by hand
after a change to the first run's path (docs/development.md)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from tests import hubrepos
from tests.conftest import REPO
from tests.hubserver import Hub

SWAPS = [("model: xlm-roberta-base", f"model: {hubrepos.MODEL}"),
         ("languages: {xnli: [en, de, ru, sw, zh, ar], panx: [en, de, ru, sw, zh, ar]}",
          "languages: {xnli: [en, de, sw], panx: [en, de]}"),
         ("use_gpu: true, precision: bf16, cpus_per_worker: 4", "use_gpu: false, precision: fp32, cpus_per_worker: 1"),
         ("train_size: 20000, dev_size: 2000", "train_size: 200, dev_size: 50"), ("seeds: [1, 2, 3]", "seeds: [1, 2]")]


def served(work: Path) -> Hub:
    """The loopback hub, with the XNLI and MNLI splits the sweep reads that its tests do not."""
    hub = Hub()
    hubrepos.build(hub)
    hubrepos.model(hub, work)
    mnli = hubrepos.mnli_pairs()
    hubrepos.card_repo(hub, "facebook/xnli", {
        "en": {"validation": hubrepos.nli_rows(mnli[:60]), "test": hubrepos.nli_rows(mnli[60:160])},
        "de": {"test": hubrepos.nli_rows(hubrepos.xnli_pairs("de"))},
        "sw": {"test": hubrepos.nli_rows(hubrepos.xnli_pairs("sw"))}})
    hubrepos.card_repo(hub, "nyu-mll/glue", {"mnli": {"train": hubrepos.nli_rows(mnli),
                                                      "validation_matched": hubrepos.nli_rows(mnli[:60])}})
    return hub


def main(out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    server = served(out).serve()
    text = (REPO / "sweeps" / "first_run.yaml").read_text()
    for old, new in SWAPS:
        assert old in text, f"sweeps/first_run.yaml no longer has {old!r}: update SWAPS"
        text = text.replace(old, new)
    sweep = out / "first_run.yaml"
    sweep.write_text(text)
    base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    online = {**base, "HF_ENDPOINT": server.url, "HF_HOME": str(out / "hf"), "PYTHONPATH": str(REPO)}
    offline = {**base, "HF_HOME": str(out / "hf"), "HF_HUB_OFFLINE": "1"}  # step 3's export; no endpoint at all
    exe = str(Path(sys.executable).with_name("ray-xr"))
    log = (out / "walk.log").open("w")

    def step(title: str, args: list[str], env: dict, stdin: str | None = None) -> str:
        began = time.time()
        r = subprocess.run(args, env=env, cwd=out, capture_output=True, text=True, input=stdin)
        rc, stdout, stderr = r.returncode, r.stdout, r.stderr
        if stdin is not None:  # tests/hubclient.py: the command's own exit code and output, its last line
            found = json.loads(r.stdout.splitlines()[-1])[0]
            rc, stdout, stderr = found["rc"], found["stdout"], found["stderr"]
        line = f"{title}: exit {rc} in {time.time() - began:.1f} s"
        print(line, flush=True)
        log.write(f"== {line}\n$ {' '.join(args)}\n{stdout}\n--- stderr\n{stderr}\n")
        log.flush()
        return stdout

    step("2 plan --json", [exe, "plan", str(sweep), "--json"], offline)
    step("2 plan --cost", [exe, "plan", str(sweep), "--cost", "--gpu", "h100"], offline)
    step("2 plan --power", [exe, "plan", str(sweep), "--power", "--mdd", "2"], offline)
    step("2 data check", [exe, "data", "check", str(sweep)], offline)
    sizes = {t: {"approx": True} for t in ("xnli", "panx", "mnli", "conll2003")}
    fetch = json.dumps({"sizes": sizes, "steps": [{"cli": ["data", "fetch", str(sweep)]}]})
    hubclient = [sys.executable, "-m", "tests.hubclient"]
    for line in step("3 data fetch", hubclient, online, fetch).splitlines():
        if line.startswith("problem: "):
            print(f"  {line}")
    sweep.write_text(sweep.read_text().replace("max_length: 128", "max_length: 64"))  # as the problem line says
    step("3 data fetch, fixed", hubclient, online, fetch)
    gpu = out / "gpu.yaml"
    gpu.write_text(sweep.read_text().replace("use_gpu: false", "use_gpu: true"))
    step("4 run, use_gpu on a machine without one", [exe, "run", str(gpu)], offline)
    step("4 run --smoke", [exe, "run", str(sweep), "--smoke"], offline)
    step("4 run", [exe, "run", str(sweep)], offline)
    step("5 status", [exe, "status", "runs/first_run"], offline)
    step("6 report", [exe, "report", "runs/first_run"], offline)
    step("6 plan --power --pilot", [exe, "plan", str(sweep), "--power", "--pilot", "runs/first_run", "--mdd", "2"],
         offline)
    server.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]).resolve())
