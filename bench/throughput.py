# .venv/bin/python bench/throughput.py          (or: make bench); writes bench/results/throughput_cpu.json
"""Training throughput: a ray-xr target stage inside a Ray Train worker vs a bare PyTorch loop.

Both train the same XLM-R-architecture classifier (the embedded tiny config, random weights)
on the same synthetic XNLI training set with one CPU thread, and count non-padding tokens the
same way. The ray-xr number is the stage's own measurement (stage.json, tokens_per_s of the
training epochs, dev evaluation excluded); the run's wall time is split into fixed overhead
(Ray start, trials, worker start, imports) and time spent in stages. The figures, the ratio,
the date, the machine and the library versions go to bench/results/throughput_cpu.json.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ray_xr.plan import config  # noqa: E402
from ray_xr.data import synthetic  # noqa: E402
from ray_xr.run.models import new_masked_lm, train_tokenizer  # noqa: E402
from ray_xr.tasks.families import FAMILIES, collate  # noqa: E402
from ray_xr.tasks.specs import NLI_LABELS  # noqa: E402

SWEEP = {
    "name": "bench", "intermediate": ["none"], "targets": ["xnli"], "languages": {"xnli": ["en"]},
    "noise": {"kinds": ["char"], "levels": [0]},
    "embedded": {"corpus_per_language": 300, "train": {"epochs": 1, "batch_size": 128, "max_length": 48}},
    "target_training": {"epochs": 2},
}


def bare_loop(sweep: config.Sweep) -> float:
    """nanoGPT-style: no Ray, no DDP, no checkpoints; tokens per second over the same epochs."""
    torch.set_num_threads(1)
    texts = [t.text for lang in synthetic.LANGUAGES
             for t in synthetic.corpus(lang, sweep.embedded.corpus_per_language, sweep.data.seed)]
    tok = train_tokenizer(texts, sweep.embedded.vocab_size)
    with tempfile.TemporaryDirectory() as d:
        new_masked_lm(sweep.embedded.model_dump(), tok).base_model.save_pretrained(d)
        tok.save_pretrained(d)
        from ray_xr.run.models import load_task_model
        model = load_task_model(d, "AutoModelForSequenceClassification", len(NLI_LABELS))
    phase = sweep.target_training
    examples = synthetic.nli("xnli", "train", "en", sweep.data.train_size, sweep.data.seed)
    feats = FAMILIES["classification"].features(examples, tok, NLI_LABELS, phase.max_length)
    opt = torch.optim.AdamW(model.parameters(), lr=phase.lr)
    model.train()
    tokens, t0 = 0, time.perf_counter()
    for epoch in range(phase.epochs):
        order = torch.randperm(len(feats), generator=torch.Generator().manual_seed(epoch)).tolist()
        for start in range(0, len(order) - phase.batch_size + 1, phase.batch_size):
            batch = collate([feats[i] for i in order[start:start + phase.batch_size]], tok.pad_token_id)
            loss = model(**batch).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            tokens += int(batch["attention_mask"].sum())
    return tokens / (time.perf_counter() - t0)


def ray_xr_stage(sweep: config.Sweep) -> dict:
    from ray_xr.plan import build
    from ray_xr.run.driver import run

    with tempfile.TemporaryDirectory() as storage:
        t0 = time.perf_counter()
        assert run(build(sweep), Path(storage), None, log=lambda *_: None) == 0
        wall = time.perf_counter() - t0
        stages = [json.loads(p.read_text()) for p in Path(storage).glob("bench/stages/*/stage.json")]
    in_stages = sum(s["finished"] - s["started"] for s in stages if s["started"])
    target = next(s for s in stages if s["phase"] == "target")
    return {"wall_s": wall, "in_stages_s": in_stages, "overhead_s": wall - in_stages,
            "tokens_per_s": target["metrics"]["tokens_per_s"]}


def main() -> None:
    sweep = config.parse(SWEEP, "bench")
    # the bare loop runs before and after the stage: on a shared machine the load moves, and the
    # spread of the two says how far a single ratio can be trusted
    before = bare_loop(sweep)
    staged = ray_xr_stage(sweep)
    after = bare_loop(sweep)
    bare = (before + after) / 2
    ratio = staged["tokens_per_s"] / bare
    print(f"bare PyTorch loop     : {bare:10,.0f} tokens/s  (before {before:,.0f}, after {after:,.0f})")
    print(f"ray-xr target stage   : {staged['tokens_per_s']:10,.0f} tokens/s  (ratio {ratio:.3f})")
    print(f"ray-xr run wall time  : {staged['wall_s']:6.1f} s = {staged['in_stages_s']:.1f} s in stages"
          f" + {staged['overhead_s']:.1f} s fixed overhead (Ray start, trials, worker start, imports)")
    out = REPO / "bench" / "results" / "throughput_cpu.json"
    out.write_text(json.dumps({
        "date": datetime.date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "threads": 1, "versions": {p: metadata.version(p) for p in ("ray-xr", "torch", "ray", "transformers")},
        "bare_tokens_per_s": round(bare), "bare_before_after": [round(before), round(after)], "ray_train_tokens_per_s": round(staged["tokens_per_s"]),
        "ratio": round(ratio, 3), **{k: round(v, 1) for k, v in staged.items() if k != "tokens_per_s"}}, indent=1) + "\n")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
