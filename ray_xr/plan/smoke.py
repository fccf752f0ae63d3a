"""`ray-xr run SWEEP --smoke`: every stage of the real sweep, through the same plan, driver and
worker code on the same resources and cluster, on a few examples and a few optimizer steps, in
a run folder of its own (`<name>-smoke`); then one table of what each stage cost.

`transform` makes the smoke sweep from the resolved sweep: data sizes capped (training: STEPS
batches of the largest phase batch; dev and test: EXAMPLES per language), one epoch per phase,
and a `smoke` block that enters the pretraining key, so that every stage key differs from the
real run's. `--random-weights` builds the model's architecture untrained (ARCHITECTURES: the
published config.json values, or a model folder's config.json) with the embedded model's BPE
tokenizer, for a GPU box without the hub. `table` renders the stage records the workers wrote
(their `compute` block: node, device, precision, workers, peak memory, forward tokens).
May import: config.py (never run, report, torch or ray).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ray_xr.plan import config
from ray_xr.plan.config import EMBEDDED_MODEL, Sweep
from ray_xr.data.synthetic import LANGUAGES
from ray_xr.errors import SweepError

STEPS = 3  # optimizer steps of each training stage, at its own batch size
EXAMPLES = 8  # dev and test examples per (task, language); a ranking pool stays whole

# FacebookAI/xlm-roberta-{base,large} config.json as published on the hub (architecture fields)
_XLMR = {"model_type": "xlm-roberta", "vocab_size": 250002, "max_position_embeddings": 514, "type_vocab_size": 1,
         "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
         "initializer_range": 0.02, "layer_norm_eps": 1e-05, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
         "position_embedding_type": "absolute"}
ARCHITECTURES = {
    "xlm-roberta-base": {**_XLMR, "hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12,
                         "intermediate_size": 3072},
    "xlm-roberta-large": {**_XLMR, "hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16,
                          "intermediate_size": 4096},
}
ARCHITECTURES.update({f"FacebookAI/{name}": arch for name, arch in list(ARCHITECTURES.items())})

# Peak dense (no sparsity) FLOP/s per GPU from NVIDIA's datasheets, for the MFU estimate: bf16
# on tensor cores; fp32 on CUDA cores (PyTorch's default fp32 matmul uses no TF32). First match
# of the name in the device's name wins.
PEAK_FLOPS = {"H200": {"bf16": 989e12, "fp32": 67e12}, "H100 PCIe": {"bf16": 756e12, "fp32": 51e12},
              "H100 NVL": {"bf16": 835e12, "fp32": 60e12}, "H100": {"bf16": 989e12, "fp32": 67e12},
              "A100": {"bf16": 312e12, "fp32": 19.5e12}, "L4": {"bf16": 121e12, "fp32": 30.3e12}}


def architecture(model: str) -> dict:
    """The architecture `--random-weights` builds for `model`: a known hub name, or a model
    folder's config.json (its XLM-R fields)."""
    if model == EMBEDDED_MODEL:
        raise SweepError(f"--random-weights: model {EMBEDDED_MODEL} is built here anyway; random weights are for"
                         f" hub models ({', '.join(sorted(ARCHITECTURES))})")
    path = Path(model) / "config.json"
    if path.is_file():
        found = json.loads(path.read_text())
        if found.get("model_type") != "xlm-roberta":
            raise SweepError(f"--random-weights: {path}: model_type {found.get('model_type')!r}; expected"
                             " 'xlm-roberta'")
        return {k: found[k] for k in ARCHITECTURES["xlm-roberta-base"] if k in found}
    if model not in ARCHITECTURES:
        raise SweepError(f"--random-weights: no known architecture for model {model!r}; known: "
                         f"{', '.join(sorted(ARCHITECTURES))}, or a folder with a config.json")
    return ARCHITECTURES[model]


def _cap(size: int, most: int) -> int:
    return min(size, most) if size else most  # 0 means the whole split


def transform(sweep: Sweep, random_weights: bool = False) -> Sweep:
    """The smoke sweep of a resolved sweep (see the module docstring); validated like any sweep."""
    phases = (sweep.intermediate_training, sweep.target_training)
    train = STEPS * max(p.batch_size * p.accumulation for p in phases)
    emb = sweep.embedded
    # the embedded pretraining's synthetic corpus: about STEPS batches of its own
    corpus = max(10, math.ceil(STEPS * emb.train.batch_size * emb.train.accumulation / len(LANGUAGES)))
    data = config.to_dict(sweep)
    d = sweep.data
    data.update(
        name=f"{sweep.name}-smoke",
        data={**data["data"], "train_size": _cap(d.train_size, train), "dev_size": _cap(d.dev_size, EXAMPLES),
              "test_size": _cap(d.test_size, EXAMPLES)},
        intermediate_training={**data["intermediate_training"], "epochs": 1},
        target_training={**data["target_training"], "epochs": 1},
        embedded={**data["embedded"], "corpus_per_language": min(emb.corpus_per_language, corpus),
                  "train": {**data["embedded"]["train"], "epochs": 1}},
        smoke={"steps": STEPS, "examples": EXAMPLES,
               "random_weights": architecture(sweep.model) if random_weights else None})
    return config.parse(data, f"{sweep.name} --smoke")


def _peak(device: str, precision: str) -> float | None:
    for name, peaks in PEAK_FLOPS.items():
        if name in device:
            return peaks[precision]
    return None


def _row(label: str, records: list[dict], params: int | None) -> dict:
    """One line of the table: a training stage, or the evaluations of one model."""
    compute = [r["metrics"].get("compute", {}) for r in records]
    first = compute[0]
    seconds = sum((r["finished"] or 0) - (r["started"] or 0) for r in records)
    if records[0]["phase"] == "eval":  # forward passes only: 2 FLOPs a parameter a token
        forward_s = sum(c.get("forward_s", 0.0) for c in compute)
        rate, flops = (sum(c.get("forward_tokens", 0) for c in compute) / forward_s if forward_s else None), 2
    else:  # training steps (dev passes excluded): forward and backward, 6 FLOPs
        rate, flops = records[0]["metrics"].get("tokens_per_s"), 6
    workers = first.get("workers", 1)
    peak = _peak(first.get("device", "cpu"), first.get("precision", "fp32"))
    mfu = flops * params * rate / (peak * workers) if rate and params and peak else None
    nodes = sorted({f"{c.get('node_ip', '?')}/{(r.get('node') or '?')[:6]}" for c, r in zip(compute, records)})
    return {"stage": label, "node": nodes[0] if len(nodes) == 1 else f"{len(nodes)} nodes",
            "device": first.get("device"), "precision": first.get("precision"), "workers": workers,
            "seconds": round(seconds, 3), "tokens_per_s": round(rate) if rate else None,
            "peak_memory_gib": round(max(c.get("peak_memory", 0) for c in compute) / 2**30, 2),
            "memory": first.get("memory"), "non_embedding_params": params,
            "mfu": round(mfu, 4) if mfu is not None else None}


def table(plan, records: dict[str, dict], failures: list[str]) -> tuple[str, dict]:
    """The smoke run's table (text) and its rows (smoke.json): a line per training stage and per
    model's evaluations, then a line per stage that did not finish."""
    done = {k: r for k, r in records.items() if k in plan.stages and r.get("status") == "done"}
    params = {k: r["metrics"].get("non_embedding_params") for k, r in done.items()}
    evals: dict[str, list[dict]] = {}
    for key, stage in plan.stages.items():
        if key in done and stage.phase == "eval":
            evals.setdefault(stage.parent, []).append(done[key])
    rows = []
    for key, stage in plan.stages.items():  # each model, then its evaluations
        if key in done and stage.phase != "eval" and (stage.trains or key in evals):
            rows += [_row(stage.label, [done[key]], params.get(key))] if stage.trains else []
            if key in evals:
                rows.append(_row(f"  + its {len(evals[key])} evaluations", evals[key], params.get(key)))
    trial_errors = dict(f.split(": ", 1) for f in failures if ": " in f)
    group_of = {k: g.name for g in plan.groups for k in g.stages}
    why = {k: trial_errors.get(group_of.get(k), "did not finish") for k in plan.stages if k not in done}
    failed = [f"{s.label}: {why[s.key]}" for s in plan.stages.values() if s.key in why and s.trains]
    unevaluated: dict[str, list[str]] = {}  # a model's evaluations: one line for all of them
    for s in plan.stages.values():
        if s.key in why and s.phase == "eval":
            unevaluated.setdefault(s.parent, []).append(s.key)
    failed += [f"{len(keys)} evaluations of {plan.stages[parent].label}: {why[keys[0]]}"
               for parent, keys in unevaluated.items()]
    header = ("stage", "node", "device", "precision", "workers", "seconds", "tokens/s", "peak memory", "MFU")
    lines = [[r["stage"], r["node"], r["device"], r["precision"], str(r["workers"]), f"{r['seconds']:.1f}",
              f"{r['tokens_per_s']:,}" if r["tokens_per_s"] else "-", f"{r['peak_memory_gib']:.2f} GiB",
              f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "-"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
    text = [f"ray-xr: smoke run of {plan.sweep.name}: {len(done)} of {len(plan.stages)} stages done"]
    text += ["  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [header, *lines]]
    text += [f"FAILED {line}" for line in failed]
    text.append("peak memory: torch.cuda.max_memory_allocated on a GPU, the process's max RSS on a CPU; tokens/s:"
                " training steps (dev passes excluded), evaluation forward passes")
    text.append("MFU: 6 (training) or 2 (evaluation) x non-embedding parameters x tokens/s / (workers x peak dense"
                " TFLOP/s, bf16/fp32: " + ", ".join(f"{n} {p['bf16'] / 1e12:g}/{p['fp32'] / 1e12:g}"
                                                    for n, p in PEAK_FLOPS.items()) + ")")
    return "\n".join(text), {"rows": rows, "failed": failed, "peak_flops": PEAK_FLOPS}
