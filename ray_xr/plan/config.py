"""The sweep configuration: one typed, frozen object; every default is here or in settings.py
(the blocks of a sweep), both in this package.

Unknown keys, wrong types, unknown task names and empty grids fail at once with one line that
names the field (`SweepError`). Names are checked against the registries they name, so this
module sits above them: it may import ray_xr.tasks, ray_xr.noise, ray_xr.data and ray_xr.errors,
and settings.py; never graph.py, run, report, torch or ray.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

import yaml
from pydantic import BaseModel, Discriminator, Field, Tag, ValidationError, model_validator

from ray_xr.errors import NoiseError, SweepError, did_you_mean
from ray_xr.noise import NOISE_FILES, NOISE_KINDS, NoiseResources, resource_file
from ray_xr.plan.settings import (Data, Embedded, Frozen, Heads, LocalFile, LocalTask, Lock, MultiTask, Noise, Phase,
                             Resources, Smoke, TrainNoise, Variant)
from ray_xr.tasks import TASKS, local, lock, published

EMBEDDED_MODEL = "embedded-tiny"
__all__ = ["EMBEDDED_MODEL", "Data", "Embedded", "Heads", "LocalFile", "LocalTask", "Lock", "MultiTask", "Noise",
           "Phase", "Resources", "Smoke", "Sweep", "TrainNoise", "Variant", "load", "parse", "to_dict"]
# An intermediate entry is a task name or a Variant; the tags only pick the member to validate
# (so that an error names the variant's field, not both members), and never show in one
_TAGS = ("task-name", "variant")
Intermediate = Annotated[Union[Annotated[str, Tag(_TAGS[0])], Annotated[Variant, Tag(_TAGS[1])]],
                         Discriminator(lambda v: _TAGS[0] if isinstance(v, str) else _TAGS[1])]


class Sweep(Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    model: str = EMBEDDED_MODEL  # a hub name (xlm-roberta-large), a local directory, or embedded-tiny
    embedded: Embedded = Embedded()
    data: Data = Data()
    # task names ("a+b" trains on a and b at once) or variants ({name, task, train_size, ...})
    intermediate: tuple[Intermediate, ...] = ("none",)
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
    lock: Lock | None = None  # SWEEP.lock.json beside the sweep file, read by load()
    smoke: Smoke | None = None  # set by `ray-xr run --smoke` (smoke.py), never in a sweep file

    @model_validator(mode="after")
    def _check_grid(self) -> "Sweep":
        self._check_tasks()
        self._check_noise_kinds()
        if not self.seeds:
            raise ValueError("seeds: the grid is empty")
        for field in ("seeds", "intermediate", "targets"):
            values = self.arms if field == "intermediate" else getattr(self, field)
            twice = sorted({str(v) for v in values if values.count(v) > 1})
            if twice:  # each would count its cells twice in the tables
                raise ValueError(f"{field}: {', '.join(twice)} listed more than once")
        if not self.name.strip("."):
            raise ValueError(f"name: {self.name!r} is not a folder name (results go to <storage>/<name>/)")
        self._check_lengths_and_languages()
        self._check_noise_files()
        published.check(self.noise.published, self.targets, [k for k in self.noise.kinds if NOISE_KINDS[k].published])
        return self

    @property
    def arms(self) -> tuple[str, ...]:
        """The intermediate entries' names: what the tables compare."""
        return tuple(v if isinstance(v, str) else v.name for v in self.intermediate)

    def variant(self, name: str) -> Variant:
        """The intermediate entry of that name; a plain task name is a variant of no change."""
        entry = self.intermediate[self.arms.index(name)]
        # a plain entry was checked as task names ("mnli+udpos" too), not as a variant's own name
        return Variant.model_construct(name=entry, task=entry) if isinstance(entry, str) else entry

    def intermediate_phase(self, name: str) -> Phase:
        """The intermediate training settings of an entry: the sweep's, with its variant's changes."""
        return Phase.model_validate({**self.intermediate_training.model_dump(),
                                     **self.variant(name).intermediate_training})

    def _check_variants(self) -> None:
        for i, entry in enumerate(self.intermediate):
            if isinstance(entry, str):
                continue
            if entry.name in TASKS or entry.name == "none":
                raise ValueError(f"intermediate.{i}.name: {entry.name!r} is a task's name; a variant needs one of"
                                 " its own")
            try:
                self.intermediate_phase(entry.name)
            except ValidationError as err:
                first = err.errors()[0]
                what = ("unknown key" + did_you_mean(str(first["loc"][-1]), list(Phase.model_fields))
                        if first["type"] == "extra_forbidden" else first["msg"].removeprefix("Value error, "))
                raise ValueError(f"intermediate.{i}.intermediate_training.{'.'.join(map(str, first['loc']))}:"
                                 f" {what}") from None

    def _check_tasks(self) -> None:
        """Every task exists and has the data source the sweep reads it from."""
        self._check_variants()
        tasks = tuple(self.variant(name).task for name in self.arms)
        for field, names in (("intermediate", tasks), ("targets", self.targets)):
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
            if NOISE_KINDS[tn.kind].needs_model or NOISE_KINDS[tn.kind].published:
                raise ValueError(f"train_noise.{phase}.kind: {tn.kind!r} needs a trained model or is a published"
                                 " test set; it is for evaluation only")

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
        for field in NOISE_FILES:
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
        return NoiseResources(**{field: getattr(self.noise, field) for field in NOISE_FILES})

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
        names = local.needed(task, self.data.local[task].files, self.data.local)  # + those dev excludes
        return {name: self.data.local[name].model_dump(mode="json") for name in names}

    def target_languages(self, target: str) -> tuple[str, ...]:
        return self.languages.get(target) or TASKS[target].languages_for(self.source_of(target))


def _one_line(err: ValidationError, source: str) -> str:
    first = err.errors()[0]
    loc = [p for p in first["loc"] if p not in _TAGS]
    where = "".join(f"{p}: " if i == len(loc) - 1 else f"{p}." for i, p in enumerate(loc))
    msg = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        msg = "unknown key" + did_you_mean(str(loc[-1]), _keys_at(loc[:-1]))
    elif first["type"] == "missing":
        msg = "required key is missing"
    elif "input" in first and first["type"] not in ("value_error",):
        msg += f" (got {first['input']!r})"
    more = f" (+{err.error_count() - 1} more)" if err.error_count() > 1 else ""
    return f"{source}: {where}{msg}{more}"


def _keys_at(loc: tuple) -> list[str]:
    """The keys the sweep allows at a location (for "did you mean")."""
    if len(loc) == 2 and loc[0] == "intermediate":  # a variant
        return list(Variant.model_fields)
    model = Sweep
    for part in loc:
        field = model.model_fields.get(str(part))
        inner = getattr(field, "annotation", None) if field else None
        if not (isinstance(inner, type) and issubclass(inner, BaseModel)):
            return []
        model = inner
    return list(model.model_fields)


def parse(data: object, source: str = "<sweep>", base: str | Path | None = None) -> Sweep:
    """Validate a sweep. Every relative path in it (data.local directories, noise files, a
    model directory) is resolved against `base` (the sweep file's folder; default: the current
    directory) and kept absolute, so a sweep means the same from any working directory."""
    if not isinstance(data, dict):
        raise SweepError(f"{source}: expected a YAML mapping at the top level")
    data = resolve_paths(data, Path(base) if base is not None else Path.cwd())
    try:
        return Sweep.model_validate(_listify(data))
    except ValidationError as err:
        raise SweepError(_one_line(err, source)) from None


def resolve_paths(data: dict, base: Path) -> dict:
    """The raw sweep with every relative path made absolute against `base` (a sweep file's
    folder), so that it can be written elsewhere and mean the same."""
    return _resolve_model(_resolve_local_dirs(_resolve_noise_files(data, base), base), base)


def _resolve_noise_files(data: dict, base: Path) -> dict:
    noise = data.get("noise")
    if not isinstance(noise, dict):
        return data
    noise = {k: _absolute(v, base) if k in (*NOISE_FILES, "published") and isinstance(v, dict) else v
             for k, v in noise.items()}
    return {**data, "noise": noise}


def _resolve_local_dirs(data: dict, base: Path) -> dict:
    d = data.get("data")
    local = d.get("local") if isinstance(d, dict) else None
    if not isinstance(local, dict):
        return data
    local = {task: {**entry, "dir": _absolute(entry.get("dir"), base)} if isinstance(entry, dict)
             else _absolute(entry, base) for task, entry in local.items()}
    return {**data, "data": {**d, "local": local}}


def _resolve_model(data: dict, base: Path) -> dict:
    """A model that is a folder (`./xlmr`, `../models/xlmr`, or found beside the sweep) becomes
    its absolute path; anything else is a hub name (`FacebookAI/xlm-roberta-large`)."""
    model = data.get("model")
    if not isinstance(model, str) or model == EMBEDDED_MODEL:
        return data
    if model.startswith((".", "/", "~")) or (base / model).is_dir():
        return {**data, "model": str((base / Path(model).expanduser()).resolve())}
    return data


def _absolute(files, base: Path):  # {lang: path}, or published's {task: {lang: path}}
    if isinstance(files, dict):
        return {key: _absolute(value, base) for key, value in files.items()}
    if not isinstance(files, str) or not files or files == "release" or "://" in files:
        return files  # published.RELEASE, or a mirror's URL
    return str((base / Path(files).expanduser()).resolve())


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
    locked = lock.path_for(path)
    if isinstance(data, dict) and "lock" in data:  # one home for pins: the file data fetch writes
        raise SweepError(f"{path}: lock: not a sweep key; `ray-xr data fetch` writes the pins to {locked}")
    if isinstance(data, dict) and "smoke" in data:
        raise SweepError(f"{path}: smoke: not a sweep key; `ray-xr run {path} --smoke` runs a smoke test of it")
    if isinstance(data, dict) and locked.is_file():
        data = {**data, "lock": lock.read(locked)}
    return parse(data, str(path), path.parent)


def to_dict(sweep: Sweep) -> dict:
    return sweep.model_dump(mode="json")
