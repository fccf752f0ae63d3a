"""The task registry: TaskSpec (what a benchmark is, as data), TASKS and their lookup.

A spec names its family, labels, metric, languages and a loader per data source; the `local`
source comes from its `local` layout (`Local`: which published file holds which split and
language, read by tasks.local). Standard library and ray_xr.data only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

from ray_xr.data import synthetic
from ray_xr.data.examples import Example
from ray_xr.errors import UnknownTask, did_you_mean

SPLITS = ("train", "dev", "test")

# A loader returns the examples of one split in one language.
Loader = Callable[[str, str, "LoadContext"], Sequence[Example]]

# Families with no head to train: they are evaluated from an encoder (the intermediate or
# pretrained one, or the one fine-tuned on the task's `encoder_task`).
UNTRAINED_FAMILIES = frozenset({"retrieval"})
# The sweep's `heads` settings each family reads (features, outputs, decoding).
FAMILY_OPTIONS = {"qa": ("qa_stride", "max_answer_tokens"), "retrieval": ("retrieval_layer",)}


Pattern = str | tuple[str, ...]  # one path, or the aligned paths of one example set (Tatoeba)


@dataclass(frozen=True)
class From:
    """This split is another task's split (the English training source of a target task)."""

    task: str
    split: str
    format: str | None = None  # read the borrowed file with this format (LAReQA: SQuAD as sentences)


@dataclass(frozen=True)
class Local:
    format: str  # the task's own published format, a key of readers.READERS
    files: Mapping[str, tuple[Pattern, ...] | From]  # split -> candidate patterns, or a borrowed split
    names: Mapping[str, str] = field(default_factory=dict)  # language code -> {name} in patterns
    by_language: bool = False  # one file holds every language: pass language= to the reader

    @property
    def arity(self) -> int:
        """Files per reader call: 2 for aligned bitext (Tatoeba), else 1."""
        for spec in self.files.values():
            if not isinstance(spec, From):
                return 1 if isinstance(spec[0], str) else len(spec[0])
        return 1


@dataclass(frozen=True)
class LoadContext:
    """What a loader may depend on besides (split, language); part of every stage key."""

    seed: int = 0  # seed of the synthetic benchmark
    sizes: Mapping[str, int] = field(default_factory=dict)  # examples per split (synthetic) or a cap
    local: Mapping[str, Mapping] = field(default_factory=dict)  # task -> {dir, files}: the sweep's data.local
    pins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # hub sources a lock file pins (tasks/lock.py)


@dataclass(frozen=True)
class TaskSpec:
    name: str
    family: str  # a key of families.FAMILIES
    metric: str  # a key of metrics.METRICS
    labels: tuple[str, ...]
    languages: tuple[str, ...]  # for the hub source: the benchmark's language list
    sources: Mapping[str, Loader]  # data source name -> loader (besides `local`, which `local` gives)
    description: str = ""
    local: Local | None = None  # the layout of its published files: gives it the `local` source
    options: Mapping[str, object] = field(default_factory=dict)  # fixed family options (rank=20: mAP@20)
    encoder_task: str | None = None  # untrained families: evaluate the encoder fine-tuned on this task
    # data source -> a task trained first, whose model (head included) this task's training
    # continues (XTREME-R trains XCOPA after SocialIQA); sources without an entry train directly
    after: Mapping[str, str] = field(default_factory=dict)
    # (task, language) whose test items (same id or context) its dev split leaves out, so that
    # model selection never sees a test item (SQuAD v1.1 dev holds XQuAD's paragraphs)
    dev_excludes: tuple[tuple[str, str], ...] = ()
    # "last": no English dev set apart from its test set; its models keep the last epoch
    model_selection: str | None = None
    # (split, language) -> what its hub loader reads (tasks.hub.Hub / Download references), so
    # that `data check` resolves a hub sweep offline and `data fetch` knows what to download
    hub: Callable[[str, str], tuple] | None = None
    # the expected score (0-1) of a uniform random guess, where the metric has one (accuracy
    # over K labels or choices: 1/K); the report's score plots draw it
    chance: float | None = None
    # data sources whose test sets are translations of the same items in every language, under
    # the same example ids (XNLI's 5,010 pairs): the report resamples such an item once for all
    # its translations. The synthetic source always is (each item is realised in every language)
    parallel_test: tuple[str, ...] = ()

    @property
    def trains(self) -> bool:
        """Whether a target stage fine-tunes a head for this task itself."""
        return self.family not in UNTRAINED_FAMILIES

    @property
    def source_names(self) -> tuple[str, ...]:
        """The data sources it can be read from."""
        return tuple(self.sources) + (("local",) if self.local is not None else ())

    def parallel_for(self, source: str) -> bool:
        return source == "synthetic" or source in self.parallel_test

    def languages_for(self, source: str) -> tuple[str, ...]:
        return synthetic.LANGUAGES if source == "synthetic" else self.languages


TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    if spec.name in TASKS:
        raise ValueError(f"task {spec.name!r} registered twice")
    TASKS[spec.name] = spec
    return spec


def get_task(name: str) -> TaskSpec:
    try:
        return TASKS[name]
    except KeyError:
        raise UnknownTask(f"unknown task {name!r}{did_you_mean(name, TASKS)}; known: {', '.join(sorted(TASKS))}") from None
