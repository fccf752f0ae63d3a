"""The blocks of a sweep (phases, data, noise, resources, heads, ...), each a frozen pydantic
model with its defaults; config.Sweep puts them together and checks the grid.

May import what config.py may (the registries it checks names against), never config.py, graph.py or run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ray_xr.data.readers import READERS
from ray_xr.tasks import SPLITS


def shorthand(entries: object, field: str) -> object:
    """{name: "text"} read as {name: {field: "text"}}: a string gives the one field most entries set."""
    if not isinstance(entries, dict):
        return entries
    return {name: {field: v} if isinstance(v, str) else v for name, v in entries.items()}


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Phase(Frozen):
    """Training settings of one phase."""

    epochs: int = Field(3, ge=1)
    lr: float = Field(5e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(64, ge=8)
    warmup: float = Field(0.1, ge=0, le=1)  # fraction of steps
    weight_decay: float = Field(0.01, ge=0)
    # phases ii-iii: keep the epoch with the best English dev score (dev sets hold no test item,
    # see tasks/) or the last (XTREME's own QA scripts); TyDiQA-GoldP keeps its last either way
    model_selection: Literal["dev", "last"] = "dev"
    # examples per optimizer step, reached by accumulating gradients over effective_batch_size /
    # batch_size forward passes of batch_size examples each (0: batch_size, no accumulation)
    effective_batch_size: int = Field(0, ge=0)
    # batches of similar length (still random, run/batching.py): less padding, other numbers;
    # single-task stages (a multi-task stage draws each batch from one task: run/multitask.py)
    length_grouped: bool = False

    @model_validator(mode="after")
    def _accumulates_whole_batches(self) -> "Phase":
        if self.effective_batch_size % self.batch_size:
            raise ValueError(f"effective_batch_size {self.effective_batch_size} is not a multiple of batch_size"
                             f" {self.batch_size}")
        return self

    @property
    def accumulation(self) -> int:
        return max(1, self.effective_batch_size // self.batch_size)


class Variant(Frozen):
    """An intermediate task under a name of its own, `{name: nli_half, task: nli, train_size: 0.5}`:
    the same task with other data sizes or training settings (a data ablation), or, with no
    change, an independent training replicate of it (`nli_copy`: an A/A check). Its name is what
    the tables show; it enters its stages' keys and their training randomness."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    task: str  # a task name, or "a+b" (multi-task)
    # examples (a whole number >= 1), or a fraction (0 < f < 1) of what data.*_size gives (for
    # hub or local data read whole, of the split itself)
    train_size: float | None = Field(None, gt=0)
    dev_size: float | None = Field(None, gt=0)
    intermediate_training: dict[str, object] = {}  # keys of the sweep's intermediate_training to change

    @field_validator("train_size", "dev_size")
    @classmethod
    def _count_or_fraction(cls, size: float | None) -> float | None:
        if size is not None and size >= 1 and size != int(size):
            raise ValueError(f"{size} is neither a whole number of examples nor a fraction below 1")
        return size


class Embedded(Frozen):
    """Phase (i) for the embedded model: tokenizer + tiny XLM-R-architecture masked LM."""

    vocab_size: int = Field(4000, ge=100)
    hidden_size: int = Field(128, ge=8)
    layers: int = Field(2, ge=1)
    heads: int = Field(4, ge=1)
    intermediate_size: int = Field(256, ge=8)
    max_positions: int = Field(128, ge=8)  # longest input any phase may use
    corpus_per_language: int = Field(3000, ge=10)
    # tasks whose English training text (no labels) joins the synthetic corpus, so that the
    # tokenizer and the masked LM have seen real text when a sweep reads real data
    corpus_tasks: tuple[str, ...] = ()
    mask_prob: float = Field(0.15, gt=0, lt=1)
    seed: int = 0
    train: Phase = Phase(epochs=3, lr=2e-3, batch_size=128, max_length=48)

    @model_validator(mode="after")
    def _heads_divide(self) -> "Embedded":
        if self.hidden_size % self.heads:
            raise ValueError(f"hidden_size {self.hidden_size} is not divisible by heads {self.heads}")
        return self


class LocalFile(Frozen):
    """The file(s) one split is read from instead of the task layout's own."""

    path: str  # a path or glob, relative to the task's directory
    format: str | None = None  # a key of readers.READERS; default: the task's own format

    @field_validator("format")
    @classmethod
    def _known_format(cls, fmt: str | None) -> str | None:
        if fmt is not None and fmt not in READERS:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(sorted(READERS))}")
        return fmt


class LocalTask(Frozen):
    """A task's files: a directory in the task's published layout, single splits overridable."""

    # made absolute against the sweep file's folder when it is read; checked to exist by
    # `run` and `data check`, not here: a sweep may name cluster storage its planner lacks
    dir: str
    files: dict[str, LocalFile] = {}  # split -> a path (relative to dir) or {path, format}

    @field_validator("dir", mode="before")
    @classmethod
    def _absolute_dir(cls, value: object) -> object:
        return str(Path(value).expanduser().resolve()) if isinstance(value, str) else value

    @field_validator("files", mode="before")
    @classmethod
    def _path_shorthand(cls, files: object) -> object:
        return shorthand(files, "path")

    @field_validator("files")
    @classmethod
    def _known_splits(cls, files: dict) -> dict:
        for split in files:
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
        return files


class Data(Frozen):
    source: Literal["synthetic", "hub", "local"] = "synthetic"
    seed: int = 0  # seed of the synthetic benchmark
    train_size: int = Field(2000, ge=0)  # synthetic: examples generated; hub: cap (0 = all)
    dev_size: int = Field(300, ge=0)
    test_size: int = Field(300, ge=0)
    source_language: str = "en"
    # task -> its directory (a string) or {dir, files}: with source local, every task's; with
    # another source, the tasks listed read their local files (Mewsli-X has no hub copy)
    local: dict[str, LocalTask] = {}

    @field_validator("local", mode="before")
    @classmethod
    def _dir_shorthand(cls, local: object) -> object:
        return shorthand(local, "dir")

    @model_validator(mode="after")
    def _synthetic_sizes(self) -> "Data":
        if self.source == "synthetic" and 0 in (self.train_size, self.dev_size, self.test_size):
            raise ValueError("synthetic data needs sizes >= 1 (0 means 'all' for hub and local data)")
        return self


class Lock(Frozen):
    """A sweep's lock file (SWEEP.lock.json, see tasks/lock.py): filled by config.load from the
    file beside the sweep, never written in the sweep itself."""

    file: str
    written: str  # when `ray-xr data fetch` wrote it (UTC)
    datasets: str  # the datasets version that resolved the commits
    sources: dict[str, dict[str, str]]  # hub.pin_key(ref) -> {"revision": commit} or {file: sha256}
    model: dict[str, str] | None = None  # {"name": hub model, "revision": commit} the run loads


class Noise(Frozen):
    """Evaluation noise (see ray_xr.noise and ray_xr.noise.perturb)."""

    kinds: tuple[str, ...] = ("char",)
    levels: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
    seed: int = 0  # the same noisy text for every model, so comparisons are paired
    protect_entities: bool = False  # keep named entities and numbers intact (ray_xr.noise.perturb)
    # language -> file, relative to the sweep file or absolute; their contents enter the stage keys
    typo_files: dict[str, str] = {}  # realworld: `correct<TAB>misspelling` per line
    lexicon_files: dict[str, str] = {}  # codeswitch: MUSE `src tgt` per line
    profiles: dict[str, str] = {}  # typo: a profile written by `ray-xr noise fit`
    published: dict[str, dict[str, str]] = {}  # realtypos: task -> lang -> published file (or its folder)

    @field_validator("levels")
    @classmethod
    def _in_unit_interval(cls, levels: tuple[float, ...]) -> tuple[float, ...]:
        for level in levels:
            if not 0 <= level <= 1:
                raise ValueError(f"noise level {level} is outside [0, 1] (fraction of words perturbed)")
        if not levels:
            raise ValueError("needs at least one level (0 = clean)")
        return tuple(sorted(set(levels)))


class TrainNoise(Frozen):
    """Noise on the English training examples of one phase (the dev set stays clean)."""

    kind: str
    level: float = Field(gt=0, le=1)


class Resources(Frozen):
    workers: int = Field(1, ge=0)  # data-parallel workers per training stage; 0 = in-process
    use_gpu: bool = False
    cpus_per_worker: int = Field(1, ge=1)
    concurrency: int = Field(0, ge=0)  # concurrent Tune trials; 0 = as many as the cluster fits
    group_by: Literal["chain", "stage"] = "chain"  # one TorchTrainer per (intermediate, seed) chain or per stage
    max_failures: int = Field(1, ge=0)
    # bf16: forward passes autocast to bfloat16 (weights, gradients, optimizer state stay fp32);
    # part of the stage keys, as it changes the numbers
    precision: Literal["fp32", "bf16"] = "fp32"
    # cuDNN/cuBLAS deterministic kernels and torch.use_deterministic_algorithms (slower on
    # GPUs; CPU runs are deterministic without it); part of the stage keys
    deterministic: bool = False
    # also checkpoint every N optimizer steps within an epoch (0: at epoch ends only), for
    # epochs that last an hour; does not change the numbers, so not part of the keys
    checkpoint_every_steps: int = Field(0, ge=0)
    # GPUs each worker asks Ray for: with workers <= 1, 0.5 puts two stages on a GPU, for models
    # too small to fill one; not part of the keys (the same kernels run)
    gpus_per_worker: float = Field(1.0, gt=0)
    # torch.compile the training model (kernels fused differently: part of the keys)
    compile: bool = False
    # a joined cluster (--address) without nodes for a worker group: how long to wait for its
    # autoscaler to add them before the run ends in one line (run/capacity.py); not in the keys
    node_wait_s: int = Field(900, ge=0)

    @model_validator(mode="after")
    def _one_gpu_per_rank(self) -> "Resources":
        # Ray may place two ranks of one worker group on one GPU, and NCCL refuses a group whose
        # ranks share a device ("Duplicate GPU detected", ray-project/ray#48012)
        if self.use_gpu and self.workers > 1 and self.gpus_per_worker < 1:
            raise ValueError(f"gpus_per_worker {self.gpus_per_worker:g} with workers {self.workers} may put two"
                             " ranks of one NCCL group on one GPU, which NCCL refuses (\"Duplicate GPU detected\"); use"
                             " gpus_per_worker: 1, or workers: 1 to share GPUs between stages")
        return self


class Heads(Frozen):
    """Settings of the QA and retrieval heads (XTREME's values where it fixes them)."""

    qa_stride: float = Field(1 / 3, gt=0, lt=0.5)  # window overlap, fraction of max_length (XTREME: 128/384)
    max_answer_tokens: int = Field(30, ge=1)
    retrieval_layer: int = -1  # hidden state mean-pooled for retrieval (0 = embeddings, -1 = last)


class MultiTask(Frozen):
    """How a multi-task intermediate stage ("mnli+conll2003") draws the task of each batch."""

    sampling: Literal["proportional", "temperature"] = "proportional"  # p_t ~ n_t, or n_t^(1/T)
    temperature: float = Field(2.0, ge=1)


class Smoke(Frozen):
    """What `ray-xr run --smoke` made of a sweep (ray_xr/plan/smoke.py): part of the pretraining key,
    so of every key, and the folder is `<name>-smoke`: a smoke run never mixes with the real one."""

    steps: int = Field(ge=1)  # optimizer steps of each training stage (one epoch of that many batches)
    examples: int = Field(ge=1)  # dev and test examples per (task, language)
    # --random-weights: the model's architecture (config.json values), built untrained here
    random_weights: dict[str, int | float | str | bool | None] | None = None
