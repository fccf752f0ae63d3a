"""The sweep configuration: one typed, frozen object with every default in this file.

Unknown keys, wrong types, unknown task names and empty grids fail at once with one line that
names the field (`SweepError`). Names are checked against the registries they name, so this
module sits above them: it may import ray_xr.tasks, ray_xr.noise, ray_xr.data and ray_xr.errors,
never plan, run, report, torch or ray.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ray_xr.data.readers import READERS
from ray_xr.errors import NoiseError, SweepError, did_you_mean
from ray_xr.noise import NOISE_KINDS, NoiseResources, resource_file
from ray_xr.tasks import SPLITS, TASKS, local

EMBEDDED_MODEL = "embedded-tiny"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Phase(_Frozen):
    """Training settings of one phase."""

    epochs: int = Field(3, ge=1)
    lr: float = Field(5e-4, gt=0)
    batch_size: int = Field(32, ge=1)
    max_length: int = Field(64, ge=8)
    warmup: float = Field(0.1, ge=0, le=1)  # fraction of steps
    weight_decay: float = Field(0.01, ge=0)


class Embedded(_Frozen):
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


class LocalFile(_Frozen):
    """The file(s) one split is read from instead of the task layout's own."""

    path: str  # a path or glob, relative to the task's directory
    format: str | None = None  # a key of readers.READERS; default: the task's own format

    @field_validator("format")
    @classmethod
    def _known_format(cls, fmt: str | None) -> str | None:
        if fmt is not None and fmt not in READERS:
            raise ValueError(f"unknown format {fmt!r}; known: {', '.join(sorted(READERS))}")
        return fmt


class LocalTask(_Frozen):
    """A task's files: a directory in the task's published layout, single splits overridable."""

    # made absolute against the working directory when the sweep is read; checked to exist by
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
        if not isinstance(files, dict):
            return files
        return {split: {"path": v} if isinstance(v, str) else v for split, v in files.items()}

    @field_validator("files")
    @classmethod
    def _known_splits(cls, files: dict) -> dict:
        for split in files:
            if split not in SPLITS:
                raise ValueError(f"unknown split {split!r}; known: {', '.join(SPLITS)}")
        return files


class Data(_Frozen):
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
        if not isinstance(local, dict):
            return local
        return {task: {"dir": v} if isinstance(v, str) else v for task, v in local.items()}

    @model_validator(mode="after")
    def _synthetic_sizes(self) -> "Data":
        if self.source == "synthetic" and 0 in (self.train_size, self.dev_size, self.test_size):
            raise ValueError("synthetic data needs sizes >= 1 (0 means 'all' for hub and local data)")
        return self


class Noise(_Frozen):
    """Evaluation noise (see ray_xr.noise and ray_xr.noise.perturb)."""

    kinds: tuple[str, ...] = ("char",)
    levels: tuple[float, ...] = (0.0, 0.1, 0.2, 0.4)
    seed: int = 0  # the same noisy text for every model, so comparisons are paired
    protect_entities: bool = False  # keep named entities and numbers intact (ray_xr.noise.perturb)
    # language -> file, relative to the sweep file or absolute; their contents enter the stage keys
    typo_files: dict[str, str] = {}  # realworld: `correct<TAB>misspelling` per line
    lexicon_files: dict[str, str] = {}  # codeswitch: MUSE `src tgt` per line

    @field_validator("levels")
    @classmethod
    def _in_unit_interval(cls, levels: tuple[float, ...]) -> tuple[float, ...]:
        for level in levels:
            if not 0 <= level <= 1:
                raise ValueError(f"noise level {level} is outside [0, 1] (fraction of words perturbed)")
        if not levels:
            raise ValueError("needs at least one level (0 = clean)")
        return tuple(sorted(set(levels)))


class TrainNoise(_Frozen):
    """Noise on the English training examples of one phase (the dev set stays clean)."""

    kind: str
    level: float = Field(gt=0, le=1)


class Resources(_Frozen):
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


class Heads(_Frozen):
    """Settings of the QA and retrieval heads (XTREME's values where it fixes them)."""

    qa_stride: float = Field(1 / 3, gt=0, lt=0.5)  # window overlap, fraction of max_length (XTREME: 128/384)
    max_answer_tokens: int = Field(30, ge=1)
    retrieval_layer: int = -1  # hidden state mean-pooled for retrieval (0 = embeddings, -1 = last)


class MultiTask(_Frozen):
    """How a multi-task intermediate stage ("mnli+conll2003") draws the task of each batch."""

    sampling: Literal["proportional", "temperature"] = "proportional"  # p_t ~ n_t, or n_t^(1/T)
    temperature: float = Field(2.0, ge=1)


class Sweep(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model: str = EMBEDDED_MODEL  # a hub name (xlm-roberta-large), a local directory, or embedded-tiny
    embedded: Embedded = Embedded()
    data: Data = Data()
    intermediate: tuple[str, ...] = ("none",)  # task names; "a+b" trains on a and b at once
    targets: tuple[str, ...]
    languages: dict[str, tuple[str, ...]] = {}  # per target; default: all the target has
    noise: Noise = Noise()
    # optional noise augmentation per training phase: {intermediate: {kind, level}, target: {...}}
    train_noise: dict[Literal["intermediate", "target"], TrainNoise] = {}
    seeds: tuple[int, ...] = (1,)
    intermediate_training: Phase = Phase()
    target_training: Phase = Phase()
    heads: Heads = Heads()
    multitask: MultiTask = MultiTask()
    resources: Resources = Resources()

    @model_validator(mode="after")
    def _check_grid(self) -> "Sweep":
        self._check_tasks()
        self._check_noise_kinds()
        if not self.seeds:
            raise ValueError("seeds: the grid is empty")
        for field in ("seeds", "intermediate", "targets"):
            values = getattr(self, field)
            twice = sorted({str(v) for v in values if values.count(v) > 1})
            if twice:  # each would count its cells twice in the tables
                raise ValueError(f"{field}: {', '.join(twice)} listed more than once")
        if not self.name.strip("."):
            raise ValueError(f"name: {self.name!r} is not a folder name (results go to <storage>/<name>/)")
        self._check_lengths_and_languages()
        self._check_noise_files()
        return self

    def _check_tasks(self) -> None:
        """Every task exists and has the data source the sweep reads it from."""
        for field, names in (("intermediate", self.intermediate), ("targets", self.targets)):
            if not names:
                raise ValueError(f"{field}: the grid is empty")
            if field == "intermediate":
                names = self._multitask_parts(names)
            for name in names:
                if name != "none" and name not in TASKS or (name == "none" and field == "targets"):
                    raise ValueError(f"{field}: unknown task {name!r}{did_you_mean(name, TASKS)};"
                                     f" known: {', '.join(sorted(TASKS))}")
                for task in (name, TASKS[name].encoder_task) if name != "none" else ():
                    if task and self.source_of(task) not in TASKS[task].source_names:
                        raise ValueError(f"{field}: task {task!r} has no {self.source_of(task)!r} data source;"
                                         f" it has: {', '.join(TASKS[task].source_names)}")
                if name != "none" and self.source_of(name) == "local":
                    self._check_local(name)
        for name in self.embedded.corpus_tasks:
            if name not in TASKS or self.source_of(name) not in TASKS[name].source_names:
                raise ValueError(f"embedded.corpus_tasks: {name!r} is not a task with a {self.source_of(name)!r} source")
            if self.source_of(name) == "local":
                self._check_local(name)

    def _check_noise_kinds(self) -> None:
        """Evaluation and training noise name known kinds, each where it applies."""
        for kind in self.noise.kinds:
            if kind not in NOISE_KINDS:
                raise ValueError(f"noise.kinds: unknown kind {kind!r}{did_you_mean(kind, NOISE_KINDS)};"
                                 f" known: {', '.join(sorted(NOISE_KINDS))}")
            families = NOISE_KINDS[kind].families
            wrong = [t for t in self.targets if families is not None and TASKS[t].family not in families]
            if wrong and any(level for level in self.noise.levels):
                raise ValueError(f"noise.kinds: {kind!r} applies to {' and '.join(families)} tasks, not to "
                                 f"{', '.join(f'{t} ({TASKS[t].family})' for t in wrong)}")
        for phase, tn in self.train_noise.items():
            if tn.kind not in NOISE_KINDS:
                raise ValueError(f"train_noise.{phase}.kind: unknown kind {tn.kind!r};"
                                 f" known: {', '.join(sorted(NOISE_KINDS))}")
            if NOISE_KINDS[tn.kind].needs_model:
                raise ValueError(f"train_noise.{phase}.kind: {tn.kind!r} needs a trained model; it is for evaluation only")

    def _check_lengths_and_languages(self) -> None:
        if self.model == EMBEDDED_MODEL:
            for field in ("intermediate_training", "target_training"):
                if getattr(self, field).max_length > self.embedded.max_positions:
                    raise ValueError(f"{field}.max_length exceeds embedded.max_positions"
                                     f" ({self.embedded.max_positions})")
        for target, langs in self.languages.items():
            if target not in self.targets:
                raise ValueError(f"languages: {target!r} is not one of the targets")
            known = TASKS[target].languages_for(self.source_of(target))
            bad = [lang for lang in langs if lang not in known]
            if bad or not langs:
                raise ValueError(f"languages.{target}: {bad or 'empty'} not among {', '.join(known)}")

    def _check_noise_files(self) -> None:
        """Every file exists and parses, and every kind that reads one has it for every
        language it runs in: evaluation languages, and the source language for train_noise."""
        for field in ("typo_files", "lexicon_files"):
            for lang, path in getattr(self.noise, field).items():
                if not Path(path).is_file():
                    raise ValueError(f"noise.{field}.{lang}: no such file: {path}")
        needs: dict[str, set[str]] = {}
        if any(self.noise.levels):
            langs = {lang for target in self.targets for lang in self.target_languages(target)}
            for kind in self.noise.kinds:
                needs.setdefault(kind, set()).update(langs)
        for tn in self.train_noise.values():
            needs.setdefault(tn.kind, set()).add(self.data.source_language)
        resources = self.noise_resources()
        for kind, langs in needs.items():
            field = NOISE_KINDS[kind].resource
            if field is None:
                continue
            for lang in sorted(langs):
                if resource_file(kind, lang, resources) is None:
                    raise ValueError(f"noise.{field}: no file for language {lang!r}, which noise kind"
                                     f" {kind!r} runs in")
                try:
                    NOISE_KINDS[kind].setup(lang, resources)  # reads and checks the file
                except NoiseError as err:
                    raise ValueError(f"noise.{field}.{lang}: {err}") from None

    def noise_resources(self) -> NoiseResources:
        return NoiseResources(typo_files=self.noise.typo_files, lexicon_files=self.noise.lexicon_files)

    @staticmethod
    def _multitask_parts(names: tuple[str, ...]) -> list[str]:
        """The single tasks of the intermediate grid, combinations ("a+b") split into theirs."""
        out = []
        for name in names:
            parts = name.split("+")
            if len(parts) > 1 and ("none" in parts or len(set(parts)) < len(parts)):
                raise ValueError(f"intermediate: {name!r} must combine distinct tasks, without 'none'")
            out += parts
        return out

    def _check_local(self, task: str) -> None:
        files = self.data.local[task].files if task in self.data.local else {}
        for name in local.needed(task, files):
            if name not in self.data.local:
                why = "" if name == task else f" (task {task!r} reads its English training data from it)"
                raise ValueError(f"data.local: no directory for task {name!r}{why}")

    def source_of(self, task: str) -> str:
        """Where a task's data comes from: its data.local entry overrides the sweep's source."""
        return "local" if task in self.data.local else self.data.source

    def local_entries(self, task: str) -> dict:
        """The data.local entries a task reads, as plain data (part of its stages' keys)."""
        if self.source_of(task) != "local":
            return {}
        names = local.needed(task, self.data.local[task].files)
        return {name: self.data.local[name].model_dump(mode="json") for name in names}

    def target_languages(self, target: str) -> tuple[str, ...]:
        return self.languages.get(target) or TASKS[target].languages_for(self.source_of(target))


def _one_line(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    where = "".join(f"{p}: " if i == len(first["loc"]) - 1 else f"{p}." for i, p in enumerate(first["loc"]))
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key" + did_you_mean(str(first["loc"][-1]), _keys_at(first["loc"][:-1]))
    elif first["type"] == "missing":
        msg = "required key is missing"
    elif "input" in first and first["type"] not in ("value_error",):
        msg += f" (got {first['input']!r})"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {where}{msg}{more}"


def _keys_at(loc: tuple) -> list[str]:
    """The keys the sweep allows at a location (for "did you mean")."""
    model = Sweep
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = getattr(field, "annotation", None) if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return list(model.model_fields)


def parse(data: object, source: str = "<sweep>", base: str | Path | None = None) -> Sweep:
    """Validate a sweep; relative noise file paths are resolved against `base` (the sweep
    file's folder; default: the current directory) and kept absolute."""
    if not isinstance(data, dict):
        raise SweepError(f"{source}: expected a YAML mapping at the top level")
    data = _resolve_noise_files(data, Path(base) if base is not None else Path.cwd())
    try:
        return Sweep.model_validate(_listify(data))
    except ValidationError as err:
        raise SweepError(_one_line(err, source)) from None


def _resolve_noise_files(data: dict, base: Path) -> dict:
    noise = data.get("noise")
    if not isinstance(noise, dict):
        return data
    noise = dict(noise)
    for field in ("typo_files", "lexicon_files"):
        files = noise.get(field)
        if isinstance(files, dict):
            noise[field] = {lang: str((base / path).resolve()) if isinstance(path, str) and path else path
                            for lang, path in files.items()}
    return {**data, "noise": noise}


def _listify(value):
    # strict mode wants tuples for tuple fields; YAML gives lists
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_listify(v) for v in value)
    return value


def load(path: str | Path) -> Sweep:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise SweepError(f"{path}: no such sweep file") from None
    except OSError as err:
        raise SweepError(f"{path}: cannot read the sweep file ({err.strerror}); expected a YAML file") from None
    except UnicodeDecodeError:
        raise SweepError(f"{path}: not UTF-8 text; expected a YAML sweep file") from None
    except yaml.YAMLError as err:
        raise SweepError(f"{path}: not valid YAML: {str(err).splitlines()[0]}") from None
    return parse(data, str(path), path.parent)


def to_dict(sweep: Sweep) -> dict:
    return sweep.model_dump(mode="json")
