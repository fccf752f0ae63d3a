"""Task registry: tasks are data (a declarative spec each); families are code (families.py).

A spec names its family, labels, metric, languages and where each split comes from for every
data source. Nothing in the training or evaluation loop names a task: they ask the registry.
Importing this package must stay cheap (no torch): `ray-xr plan` uses it.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Callable, Mapping, Sequence

from ray_xr.examples import Example

SPLITS = ("train", "dev", "test")

# A loader returns the examples of one split in one language.
Loader = Callable[[str, str, "LoadContext"], Sequence[Example]]


# Families with no head to train: they are evaluated from an encoder (the intermediate or
# pretrained one, or the one fine-tuned on the task's `encoder_task`).
UNTRAINED_FAMILIES = frozenset({"retrieval"})
# The sweep's `heads` settings each family reads (features, outputs, decoding).
FAMILY_OPTIONS = {"qa": ("qa_stride", "max_answer_tokens"), "retrieval": ("retrieval_layer",)}


@dataclass(frozen=True)
class LoadContext:
    """What a loader may depend on besides (split, language); part of every stage key."""

    seed: int = 0  # seed of the synthetic benchmark
    sizes: Mapping[str, int] = field(default_factory=dict)  # examples per split (synthetic) or a cap
    local: Mapping[str, Mapping] = field(default_factory=dict)  # task -> {dir, files}: the sweep's data.local


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str  # a key of families.FAMILIES
    metric: str  # a key of metrics.METRICS
    labels: tuple[str, ...]
    languages: tuple[str, ...]  # for the hub source: the benchmark's language list
    sources: Mapping[str, Loader]  # data source name -> loader
    description: str = ""
    local: "Local | None" = None  # the layout of its published files: gives it the `local` source
    options: Mapping[str, object] = field(default_factory=dict)  # fixed family options (rank=20: mAP@20)
    encoder_task: str | None = None  # untrained families: evaluate the encoder fine-tuned on this task
    # data source -> a task trained first, whose model (head included) this task's training
    # continues (XTREME-R trains XCOPA after SocialIQA); sources without an entry train directly
    after: Mapping[str, str] = field(default_factory=dict)

    @property
    def trains(self) -> bool:
        """Whether a target stage fine-tunes a head for this task itself."""
        return self.family not in UNTRAINED_FAMILIES

    def languages_for(self, source: str) -> tuple[str, ...]:
        if source == "synthetic":
            from ray_xr.synthetic import LANGUAGES
            return LANGUAGES
        return self.languages


TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in TASKS:
        raise ValueError(f"task {spec.name!r} registered twice")
    if spec.local is not None:
        spec = replace(spec, sources={**spec.sources, "local": partial(_load_local, spec.name)})
    TASKS[spec.name] = spec
    return spec


def _load_local(task: str, split: str, lang: str, ctx: LoadContext) -> Sequence[Example]:
    return local.load(task, split, lang, ctx.local, ctx.sizes.get(split, 0))


class UnknownTask(LookupError):
    """A task name that is not in the registry (a user mistake: one line, exit 2)."""


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTask(f"unknown task {name!r}; known: {', '.join(sorted(TASKS))}") from None


from ray_xr.tasks import local  # noqa: E402
from ray_xr.tasks.local import Local  # noqa: E402,F401  (the type of TaskSpec.local)
from ray_xr.tasks import specs as _specs  # noqa: E402,F401  (fills the registry)
from ray_xr.tasks import xtreme_r as _xtreme_r  # noqa: E402,F401
from ray_xr.tasks import intermediate as _intermediate  # noqa: E402,F401
