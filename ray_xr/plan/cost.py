"""What a sweep costs before it runs (`ray-xr plan --cost`): tokens, GPU-hours and money per
phase, from the plan's unique stages, the data sizes of tasks/sizes.py and a GPU table.

Step-time model (one GPU, XLM-R large): a training step takes `fixed + s_per_token * tokens`
seconds, where `tokens` is the padded batch one GPU computes (batch / workers examples, each
padded to the batch's longest sequence, capped by max_length); fixed and per-token times are
fitted to this project's own H200 measurements (bench/results/bench_gpu_h200.json: bf16 with
fused AdamW; fp32 steps are that file's fp32/bf16 ratio slower), so small per-GPU batches cost
what they do, mostly fixed time. Evaluation and dev passes run forward only: the per-token time
of encoding the Mewsli-X pool, with a third of the training step's fixed time. Other GPUs scale
every time by `speed` (peak dense BF16 tensor throughput relative to H100/H200, rounded; not
measured) and prices are on-demand cloud list prices per GPU-hour. Both are overridable
(`--gpu-table FILE`). Not counted: pretraining a hub model (there is none), Ray start-up, data
download, tokenization, the `attack` kind's search (one pass is counted), data-parallel
communication.
May import: config.py, graph.py, settings.py, tasks (never run, report, torch or ray).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from ray_xr.plan.config import EMBEDDED_MODEL
from ray_xr.errors import SweepError
from ray_xr.plan.graph import Plan, Stage
from ray_xr.plan.settings import Frozen
from ray_xr.tasks import get_task
from ray_xr.tasks.sizes import LOOKED_UP, size_of

# bench/results/bench_gpu_h200.json (tests/test_cost.py checks these against it): bf16, fused AdamW
MEASURED = {"device": "NVIDIA H200", "classification": (4096, 0.0911), "classification_large": (16384, 0.1133),
            "tagging": (4096, 0.1017), "qa": (12288, 0.1049), "ranking": (11264, 0.1299),
            "fp32_step": 0.1912, "bf16_step": 0.1047, "encode_tokens_per_s": 8977 * 64}
_S_PER_TOKEN = ((MEASURED["classification_large"][1] - MEASURED["classification"][1])
                / (MEASURED["classification_large"][0] - MEASURED["classification"][0]))
# a step's fixed time per family (multiple choice was not measured: classification's)
FIXED_S = {family: MEASURED[key][1] - MEASURED[key][0] * _S_PER_TOKEN
           for family, key in (("classification", "classification"), ("multiple_choice", "classification"),
                               ("tagging", "tagging"), ("qa", "qa"), ("ranking", "ranking"))}
FP32_FACTOR = MEASURED["fp32_step"] / MEASURED["bf16_step"]
# per-token compute relative to XLM-R large (layers x hidden^2); unknown models count as large
MODEL_SCALE = {"xlm-roberta-large": 1.0, "FacebookAI/xlm-roberta-large": 1.0,
               "xlm-roberta-base": 0.27, "FacebookAI/xlm-roberta-base": 0.27}


class GPU(Frozen):
    usd_per_hour: float = Field(gt=0)  # on-demand price of one GPU for an hour
    speed: float = Field(1.0, gt=0)  # every time divided by this (H200 as measured = 1)


# AWS on-demand list prices (us-east-1, instance price / GPUs: p5en, p5, p4d, g5.12xlarge, g6.12xlarge)
GPUS = {"h200": GPU(usd_per_hour=7.9, speed=1.0), "h100": GPU(usd_per_hour=6.9, speed=0.9),
        "a100": GPU(usd_per_hour=4.1, speed=0.4), "a10g": GPU(usd_per_hour=1.42, speed=0.1),
        "l4": GPU(usd_per_hour=1.15, speed=0.1)}
PHASES = ("intermediate", "target", "eval")


def gpu_table(path: str | None) -> dict[str, GPU]:
    """The built-in table, with the rows of a YAML or JSON file ({gpu: {usd_per_hour, speed}})
    merged over it (a file may add GPUs or change single fields)."""
    table = dict(GPUS)
    if path is None:
        return table
    try:
        text = Path(path).read_text()
        rows = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    except OSError as err:
        raise SweepError(f"--gpu-table {path}: cannot read it ({err.strerror})") from None
    except (ValueError, yaml.YAMLError) as err:
        raise SweepError(f"--gpu-table {path}: not valid YAML/JSON: {str(err).splitlines()[0]}") from None
    if not isinstance(rows, dict):
        raise SweepError(f"--gpu-table {path}: expected a mapping {{gpu: {{usd_per_hour, speed}}}}")
    for name, row in rows.items():
        base = table[name].model_dump() if name in table else {}
        try:
            table[str(name)] = GPU.model_validate({**base, **row} if isinstance(row, dict) else row)
        except ValidationError as err:
            first = err.errors()[0]
            raise SweepError(f"--gpu-table {path}: {name}.{'.'.join(map(str, first['loc']))}: {first['msg']}") from None
    return table


def _padded(task: str, max_length: int, options: dict, grouped: bool = False) -> tuple[int, float]:
    """(length one sequence is padded to in a batch, sequences per example): a random batch's
    longest, or about the mean when batches are length-grouped; QA contexts longer than
    max_length are split into windows overlapping by qa_stride of it."""
    size = size_of(task)
    sequences = float(size.sequences)
    if get_task(task).family == "qa" and size.tokens > max_length:
        overlap = options["qa_stride"] * max_length
        sequences *= 1 + math.ceil((size.tokens - max_length) / (max_length - overlap))
    return min(max_length, size.tokens if grouped else size.longest), sequences


def _examples(task: str, split: str, lang: str, data: dict) -> int:
    cap = data["sizes"].get(split, 0)
    if data["source"] == "synthetic":
        return cap
    n = size_of(task).examples(split, lang)
    return min(n, cap) if cap else round(n * data.get("fractions", {}).get(split, 1))


def test_examples(stage: Stage) -> int:
    """The test examples an evaluation stage reads (its language's, capped by data.test_size)."""
    return _examples(stage.spec["task"], "test", stage.spec["language"], stage.spec["data"])


def _forward_s(tokens: float, batches: float) -> float:
    return batches * FIXED_S["classification"] / 3 + tokens / MEASURED["encode_tokens_per_s"]


def _training(stage: Stage, lang: str, workers: int | None = None) -> tuple[float, float]:
    """(tokens, GPU-seconds on the measured GPU) of a training stage: its epochs over the
    training set, and a dev pass per epoch when it selects on dev; on `workers` GPUs (default:
    the stage's own)."""
    spec, phase = stage.spec, stage.spec["training"]
    workers = workers or spec["workers"]
    tokens = seconds = 0.0
    for task, setting in spec.get("tasks", {spec["task"]: spec}).items():
        grouped = phase.get("length_grouped", False) and "tasks" not in spec  # multi-task: its own batches
        length, seqs = _padded(task, phase["max_length"], setting.get("options", {}), grouped)
        n = _examples(task, "train", lang, setting["data"])
        steps = phase["epochs"] * math.ceil(n / phase["batch_size"])
        per_gpu = phase["batch_size"] / workers * seqs * length
        tokens += phase["epochs"] * n * seqs * length
        seconds += steps * workers * (FIXED_S[get_task(task).family] + _S_PER_TOKEN * per_gpu)
        if "dev" in setting["data"]["sizes"]:  # dev batches are not length-grouped
            dev_length = _padded(task, phase["max_length"], setting.get("options", {}))[0]
            dev = phase["epochs"] * _examples(task, "dev", lang, setting["data"]) * seqs * dev_length
            tokens += dev
            seconds += _forward_s(dev, phase["epochs"] * math.ceil(dev / (2 * phase["batch_size"] * dev_length)))
    return tokens, seconds


def _evaluation(stage: Stage, pools: set) -> tuple[float, float]:
    """(tokens, GPU-seconds) of one evaluation: its test queries, and a ranking pool the first
    time its model meets it (the pool is encoded once per model, for every language and level)."""
    spec = stage.spec
    length, seqs = _padded(spec["task"], spec["max_length"], spec.get("options", {}))
    tokens = _examples(spec["task"], "test", spec["language"], spec["data"]) * seqs * length
    size = size_of(spec["task"])
    if size.pool and (stage.parent, spec["task"]) not in pools:
        pools.add((stage.parent, spec["task"]))
        tokens += size.pool * min(spec["max_length"], size.pool_tokens)
    return tokens, _forward_s(tokens, math.ceil(tokens / (spec["batch_size"] * length)))


def estimate(plan: Plan, gpu: str, table: dict[str, GPU], workers: int | None = None) -> dict:
    """{"tokens": {phase, total}, "gpu_hours": {intermediate, target, eval, total}, "gpu", "usd"};
    `workers`: GPUs per training stage instead of the sweep's."""
    if gpu not in table:
        raise SweepError(f"--gpu {gpu}: not in the GPU table; known: {', '.join(sorted(table))}")
    sweep = plan.sweep
    factor = MODEL_SCALE.get(sweep.model, 1.0) * (FP32_FACTOR if sweep.resources.precision == "fp32" else 1.0)
    tokens = dict.fromkeys(PHASES, 0.0)
    seconds = dict.fromkeys(PHASES, 0.0)
    pools: set = set()
    for stage in plan.stages.values():
        if stage.phase == "pretrain":
            continue  # a hub model comes pretrained; the embedded one trains in a minute on a CPU
        t, s = (_evaluation(stage, pools) if stage.phase == "eval"
                else _training(stage, sweep.data.source_language, workers))
        tokens[stage.phase] += t
        seconds[stage.phase] += s
    hours = {p: seconds[p] * factor / table[gpu].speed / 3600 for p in PHASES}
    hours["total"] = sum(hours.values())
    return {"tokens": {**{p: round(tokens[p]) for p in PHASES}, "total": round(sum(tokens.values()))},
            "gpu_hours": {p: round(h, 2) for p, h in hours.items()}, "gpu": gpu,
            "usd": round(hours["total"] * table[gpu].usd_per_hour, 2)}


# tokens in one GPU's step below which its fixed time outweighs its time per token (~46k)
SMALL_STEP_TOKENS = FIXED_S["classification"] / _S_PER_TOKEN


def cheaper_layout(plan: Plan, gpu: str, table: dict[str, GPU]) -> dict | None:
    """For a sweep whose training stages are data parallel at a small per-GPU batch (a step of
    mostly fixed time: below SMALL_STEP_TOKENS), what one GPU a stage costs: the same global
    batch, `workers` times the concurrency. None for any other sweep."""
    res = plan.sweep.resources
    phases = (plan.sweep.intermediate_training, plan.sweep.target_training)
    per_gpu = max(p.batch_size / max(1, res.workers) * p.max_length for p in phases)
    if res.workers <= 1 or per_gpu >= SMALL_STEP_TOKENS:
        return None
    one = estimate(plan, gpu, table, workers=1)
    return {"workers": 1, "concurrency": res.concurrency * res.workers, "per_gpu_tokens": round(per_gpu),
            "gpu_hours": one["gpu_hours"], "usd": one["usd"]}


def describe(plan: Plan, found: dict, table: dict[str, GPU]) -> str:
    gpu = table[found["gpu"]]
    lines = [f"sweep {plan.sweep.name}: estimated cost on {found['gpu']} (${gpu.usd_per_hour:.2f}/GPU-hour,"
             f" speed {gpu.speed:g} x the measured {MEASURED['device']})",
             f"  {'phase':13}{'stages':>8}{'tokens':>18}{'GPU-hours':>12}{'USD':>12}"]
    for phase in (*PHASES, "total"):
        n = len(plan.stages) - plan.count("pretrain") if phase == "total" else plan.count(phase)
        hours = found["gpu_hours"][phase]
        lines.append(f"  {phase:13}{n:>8,}{found['tokens'][phase]:>18,}{hours:>12,.1f}"
                     f"{hours * gpu.usd_per_hour:>12,.0f}")
    cheaper = found.get("cheaper_layout")
    if cheaper:
        res = plan.sweep.resources
        lines.append(f"  cheaper layout: each of the {res.workers} GPUs of a stage computes at most"
                     f" {cheaper['per_gpu_tokens']:,} tokens a step, mostly fixed time (below"
                     f" {SMALL_STEP_TOKENS:,.0f}); one GPU a stage (workers: 1,"
                     f" concurrency: {cheaper['concurrency']}, the same batches) would take"
                     f" {cheaper['gpu_hours']['total']:,.1f} GPU-hours (${cheaper['usd']:,.0f}) instead of"
                     f" {found['gpu_hours']['total']:,.1f}")
    model = plan.sweep.model
    if model not in MODEL_SCALE:
        lines.append(f"  note: step times are XLM-R large's; {model!r}"
                     + (" is the CPU demo model" if model == EMBEDDED_MODEL else " is counted as that size"))
    lines.append(f"  tokens include padding to each batch's longest sequence; data sizes as of {LOOKED_UP}"
                 " (ray_xr/tasks/sizes.py), token lengths estimated; model in ray_xr/plan/cost.py")
    return "\n".join(lines)
