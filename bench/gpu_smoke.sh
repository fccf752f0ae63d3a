#!/usr/bin/env bash
# bash bench/gpu_smoke.sh [--tiny] [--out DIR]      (on a GPU machine, from the repository root)
#
# The GPU check before spending on the study: `ray-xr run --smoke --random-weights` of a sweep
# shaped like sweeps/nli_vs_ner.yaml (XLM-R large's architecture untrained: nothing is
# downloaded; the real-data samples of ../shared/data/real; one GPU a stage, bf16, batch 32),
# once with resources.compile off and once on (one target stage: each compiles anew), then
# bench/bench_gpu.py's step timings (eager and compiled). Designed to take under 10 minutes on
# one H100 (not yet run on a GPU: docs/cluster.md "The GPU check"). Both smoke tables and the
# bench's figures go to DIR/gpu_smoke_<device>.json (default DIR: bench/results).
# --tiny: the script on a CPU for CI (tests/test_gpu_smoke.py): a tiny XLM-R architecture, fp32,
# the loop in each trial's own process, a smaller grid, and no compiled run (inductor's CPU
# compile of even a tiny model takes minutes; test_batching.py compiles one on the CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
tiny=0
out=bench/results
while [ $# -gt 0 ]; do
    case "$1" in
        --tiny) tiny=1 ;;
        --out) out="$2"; shift ;;
        *) echo "usage: bash bench/gpu_smoke.sh [--tiny] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
bin=$(pwd)/.venv/bin
shared=$(cd .. && pwd)/shared/data/real
[ -d "$shared" ] || { echo "gpu_smoke: no $shared (the real-data samples)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$tiny" = 1 ]; then
    model=$work/tiny-xlmr  # a config.json only: --random-weights builds it
    mkdir -p "$model"
    cat > "$model/config.json" <<EOF
{"model_type": "xlm-roberta", "vocab_size": 4000, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
 "intermediate_size": 64, "max_position_embeddings": 514, "type_vocab_size": 1, "pad_token_id": 1,
 "bos_token_id": 0, "eos_token_id": 2}
EOF
    gpu=false precision=fp32 workers=0 cpus=1 bench=(--tiny)
    eager_grid="intermediate: [none, mnli]
targets: [xnli]
languages: {xnli: [de, sw]}"
else
    "$bin/python" -c 'import torch; assert torch.cuda.is_available()' 2> /dev/null \
        || { echo "gpu_smoke: no CUDA device here (bash bench/gpu_smoke.sh --tiny runs on a CPU)" >&2; exit 2; }
    model=xlm-roberta-large gpu=true precision=bf16 workers=1 cpus=4 bench=()
    # WikiANN's English NER stands in for CoNLL-2003 (no local sample of it): the same family
    eager_grid="intermediate: [none, mnli, panx]
targets: [xnli, panx, udpos]
languages: {xnli: [de, sw], panx: [de, fr], udpos: [de, fr, ru, zh]}"
fi
compiled_grid="intermediate: [none]
targets: [xnli]
languages: {xnli: [de, sw]}"

sweep() {  # NAME COMPILE GRID: the sweep file, written into $work
    cat > "$work/$1.yaml" <<EOF
# written by bench/gpu_smoke.sh: sweeps/nli_vs_ner.yaml's settings on the samples of ../shared
name: $1
model: $model
data:
  source: local
  local:
    mnli: {dir: $shared/nli, files: {train: mnli.jsonl, dev: snli.jsonl}}
    xnli: {dir: $shared/xnli, files: {dev: {path: ../nli/snli.jsonl, format: nli_jsonl}}}
    panx: $shared/wikiann
    udpos: {dir: $shared/udpos, files: {dev: en/test.conllu}}
$3
noise: {kinds: [char], levels: [0, 0.1, 0.2, 0.4]}
seeds: [1]
intermediate_training: {epochs: 2, lr: 1.0e-5, batch_size: 32, max_length: 256, warmup: 0.1, length_grouped: true}
target_training: {epochs: 3, lr: 1.0e-5, batch_size: 32, max_length: 128, warmup: 0.1, length_grouped: true}
embedded: {corpus_tasks: [mnli, panx, udpos]}  # the tokenizer built here reads their English text
resources: {workers: $workers, group_by: stage, use_gpu: $gpu, precision: $precision, cpus_per_worker: $cpus,
            compile: $2, checkpoint_every_steps: 2000}
EOF
    echo "$work/$1.yaml"
}

smoke() {  # NAME COMPILE GRID: its smoke run; its table and wall time into $work/NAME.json
    local file start
    file=$(sweep "$@")
    start=$(date +%s)
    # a failed stage still leaves its line in smoke.json; the summary below counts them
    "$bin/ray-xr" run "$file" --smoke --random-weights --storage "$work/runs" || echo "gpu_smoke: $1 exited $?"
    "$bin/python" -c 'import json, sys; rows = json.load(open(sys.argv[1]))
json.dump({**rows, "wall_s": int(sys.argv[2])}, open(sys.argv[3], "w"))' \
        "$work/runs/$1-smoke/smoke.json" "$(($(date +%s) - start))" "$work/$1.json"
}

"$bin/ray-xr" data check "$(sweep gpu_smoke false "$eager_grid")" > /dev/null  # the data, before any cluster
smoke gpu_smoke false "$eager_grid"
[ "$tiny" = 1 ] || smoke gpu_smoke_compiled true "$compiled_grid"
"$bin/python" bench/bench_gpu.py "${bench[@]}" --out "$work/bench_gpu.json"

mkdir -p "$out"
"$bin/python" - "$work" "$out" <<'EOF'
import datetime, json, platform, sys
from importlib import metadata
from pathlib import Path

work, out = Path(sys.argv[1]), Path(sys.argv[2])
bench = json.loads((work / "bench_gpu.json").read_text())
device = bench["device"]
name = "cpu" if device == "cpu" else device.replace("NVIDIA ", "").split()[0].lower()
found = {"device": device, "date": datetime.date.today().isoformat(), "machine": platform.machine(),
         "versions": {p: metadata.version(p) for p in ("ray-xr", "torch", "ray", "transformers")},
         "smoke": {run: json.loads((work / f"{sweep}.json").read_text())
                   for run, sweep in (("eager", "gpu_smoke"), ("compiled", "gpu_smoke_compiled"))
                   if (work / f"{sweep}.json").exists()},
         "bench_gpu": bench}
path = out / f"gpu_smoke_{name}.json"
path.write_text(json.dumps(found, indent=1) + "\n")
failed = [f for run in found["smoke"].values() for f in run["failed"]]
walls = ", ".join(f"{run} {found['smoke'][run]['wall_s']} s" for run in found["smoke"])
print(f"gpu_smoke: {path} (smoke runs: {walls}; {len(failed)} stage(s) failed)")
sys.exit(1 if failed else 0)
EOF
