"""The `hub` data source: references, their offline check, and the only code that downloads.

A task's hub loader reads what its `hub` function (TaskSpec.hub) names for a (split, language):
`Hub` rows (a Hugging Face dataset, config and split) or a `Download` (files at fixed URLs,
fetched through datasets.DownloadManager into the HF cache, as XTREME-R's own download script
gets the data the hub lacks). `check` tells, without the network, whether a reference exists,
against the table in hubtable.py. `rows`, `fetch` and `model_snapshot` touch the network; what
they read (the dataset's commit, each file's sha256) is kept in `READ` for the stage record and
the lock file. A hub split is read at the commit a sweep's lock pins (tasks/lock.py), else at
the revision the table names (a script-only repository's parquet conversion, `refs/convert/
parquet`); a download is checked against the sha256 the table and the lock pin before it is read.
Every failure the hub or a download can give is one DataError line naming the source.

RAY_XR_DOWNLOAD_MIRROR (a URL) serves the downloads from a mirror that keeps the original
host and path under it (`{mirror}/lindat.mff.cuni.cz/...`), as HF_ENDPOINT does for the hub;
the checksums still apply. `datasets` and `huggingface_hub` are imported lazily.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from ray_xr.errors import DataError
from ray_xr.noise.tables import file_digest
from ray_xr.tasks.hubtable import CONVERSION, DOWNLOADS, HUB_CONFIGS, LASER_TATOEBA, LOOKED_UP, SOURCES

__all__ = ["CONVERSION", "DOWNLOADS", "HUB_CONFIGS", "LASER_TATOEBA", "SOURCES", "Download", "Hub", "READ",
           "check", "describe", "unverified", "download", "fetch", "model_snapshot", "pin_key", "pinned_by", "rows"]
MIRROR = "RAY_XR_DOWNLOAD_MIRROR"
OFFLINE_HINT = "on a machine without internet, run `ray-xr data fetch` where there is one and share HF_HOME"


@dataclass(frozen=True)
class Hub:
    dataset: str
    config: str | None
    split: str

    def __str__(self) -> str:
        return f"{self.dataset}" + (f" {self.config}" if self.config else "") + f" [{self.split}]"


@dataclass(frozen=True)
class Download:
    name: str  # a key of DOWNLOADS
    files: tuple[str, ...] = ()  # the entries of that download this reference reads
    # "lang split" a release archive is read for: checked against the splits its files lack;
    # not part of the identity (one archive serves every language)
    part: str = field(default="", compare=False)

    def __str__(self) -> str:
        return f"download {self.name}" + (f" ({', '.join(self.files)})" if self.files else "")


Ref = Hub | Download


def check(ref: Ref) -> str | None:
    """What is wrong with a reference, offline; None when the table has it."""
    if isinstance(ref, Download):
        known = DOWNLOADS.get(ref.name)
        if known is None or any(f not in known["urls"] for f in ref.files):
            return f"{ref}: not a known download (ray_xr/tasks/hubtable.py DOWNLOADS)"
        lang, _, split = ref.part.partition(" ")
        if split in known.get("lacks", {}).get(lang, ()):
            return f"{ref}: its files have no {split} split for language {lang!r}"
        return None
    configs = HUB_CONFIGS.get(ref.dataset)
    if configs is None:
        return f"{ref}: dataset {ref.dataset} is not in the hub table (ray_xr/tasks/hubtable.py, looked up {LOOKED_UP})"
    if ref.config not in configs:
        return f"{ref}: {ref.dataset} has no config {ref.config!r} (hub table looked up {LOOKED_UP})"
    if ref.split not in configs[ref.config]:
        return f"{ref}: no split {ref.split!r}; it has {', '.join(configs[ref.config])}"
    return None


# What this process has read: str(ref) -> {"revision": commit} or {file: sha256}, for stage.json.
READ: dict[str, dict] = {}
# A lock file's entries as a loader receives them (tasks/lock.py): pin_key(ref) -> pin
Pins = Mapping[str, Mapping[str, str]]
NO_PINS: Pins = MappingProxyType({})


def pin_key(ref: Ref) -> str:
    """A reference's entry in a lock file: a hub split itself; a download by name, whichever of
    its files a reference reads (its file names are the pin's keys)."""
    return f"download {ref.name}" if isinstance(ref, Download) else str(ref)


def files_of(ref: Download) -> tuple[str, ...]:
    return ref.files or tuple(DOWNLOADS[ref.name]["urls"])


def pinned_by(ref: Ref, pins: Pins) -> str | None:
    """Who pins what a reference reads: "registry" (DOWNLOADS' sha256), "lock", or None."""
    if isinstance(ref, Download) and set(files_of(ref)) <= set(DOWNLOADS[ref.name]["sha256"]):
        return "registry"
    pin = pins.get(pin_key(ref), {})
    covered = set(files_of(ref)) <= set(pin) if isinstance(ref, Download) else "revision" in pin
    return "lock" if covered else None


def describe(ref: Ref, pins: Pins = NO_PINS) -> dict:
    """A reference as `data check --json` lists it: what it reads, at which revision, in what
    form, and whether the table's facts about it were verified."""
    if isinstance(ref, Download):
        spec = DOWNLOADS[ref.name]
        return {"download": ref.name, "config": None, "hub_split": None, "revision": spec["revision"],
                "form": spec["form"], "verified": spec["verified"]}
    source = SOURCES[ref.dataset]
    return {"dataset": ref.dataset, "config": ref.config, "hub_split": ref.split,
            "revision": pins.get(pin_key(ref), {}).get("revision") or source.revision, "form": source.form,
            "verified": source.verified}


def unverified(ref: Ref) -> str | None:
    """Why the table's facts about a reference are not established; None when they are."""
    if isinstance(ref, Download):
        verified, evidence = DOWNLOADS[ref.name]["verified"], DOWNLOADS[ref.name]["evidence"]
    else:
        verified, evidence = SOURCES[ref.dataset].verified, SOURCES[ref.dataset].evidence
    return None if verified else f"{ref}: unverified ({evidence})"


def rows(ref: Hub, pins: Pins = NO_PINS):
    """The rows of a hub split (downloaded into the HF cache on first use), at the commit a lock
    file pins, else at the table's revision; one DataError line for whatever fails."""
    source = SOURCES[ref.dataset]
    pinned = pins.get(pin_key(ref), {}).get("revision")
    revision = pinned or source.revision
    try:
        ds, found = _load(ref, source, pinned or _commit(ref.dataset, revision))
    except DataError:
        raise
    except Exception as err:  # the libraries' many error types: one line each, whatever raised it
        raise DataError(f"{ref} (at {revision}): {_why(err, revision)}") from None
    if pinned and found and found != pinned:  # a cache folder of another commit answered
        raise DataError(f"{ref}: read at revision {found}, but the lock file pins {pinned}")
    READ[str(ref)] = {"revision": found}
    return ds


def _commit(dataset: str, revision: str) -> str:
    """The commit a branch points to now (offline: the branch name, which the cache resolves)."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        return revision
    return HfApi().dataset_info(dataset, revision=revision).sha


def _load(ref: Hub, source, commit: str):
    """(rows, commit read). A conversion's parquet files are fetched by huggingface_hub and read
    by datasets' parquet builder, which finds them again offline; a repository with configs in
    its card is read by load_dataset itself (its cache folder names the commit)."""
    from datasets import load_dataset

    if source.revision != CONVERSION:
        ds = load_dataset(ref.dataset, ref.config, split=ref.split, revision=commit)
        return ds, _revision(ds)
    from huggingface_hub import snapshot_download

    folder = f"{source.folder(ref.config)}/{ref.split}"
    root = Path(snapshot_download(ref.dataset, repo_type="dataset", revision=commit,
                                  allow_patterns=f"{folder}/*.parquet"))
    files = sorted(str(p) for p in (root / folder).glob("*.parquet"))
    if not files:
        raise DataError(f"{ref} (at {commit}): the conversion has no {folder}/*.parquet")
    return load_dataset("parquet", data_files={ref.split: files}, split=ref.split), root.name


def _revision(ds) -> str | None:
    """The dataset commit the rows came from: the datasets cache names its folder by it."""
    for entry in getattr(ds, "cache_files", None) or ():
        found = re.search(r"/([0-9a-f]{40})/", entry.get("filename", ""))
        if found:
            return found.group(1)
    return None


def _why(err: Exception, revision: str) -> str:
    """One line for an error of datasets or huggingface_hub, with what to do where it is clear."""
    from datasets import __version__

    first = (str(err).strip().splitlines() or [""])[0]
    name = type(err).__name__
    if isinstance(err, RuntimeError) and "scripts are no longer supported" in first:
        script = first.rsplit(" ", 1)[-1]
        return (f"{revision} holds only a loading script ({script}), which datasets {__version__} does not run;"
                " read a parquet copy (ray_xr/tasks/hubtable.py SOURCES)")
    if name in ("RepositoryNotFoundError", "GatedRepoError"):  # huggingface_hub's: an HTTP status line first
        return "no such repository on the hub (or it is gated or private)"
    if name == "RevisionNotFoundError":
        return f"the hub has no revision {revision}"
    if isinstance(err, ConnectionError) or name in ("OfflineModeIsEnabled", "ConnectError", "LocalEntryNotFoundError"):
        return f"cannot load it ({first}); {OFFLINE_HINT}"
    return first if name in ("ValueError", "FileNotFoundError", "DatasetNotFoundError") else f"{name}: {first}"


def _mirrored(url: str) -> str:
    mirror = os.environ.get(MIRROR, "").rstrip("/")
    return f"{mirror}/{url.split('://', 1)[1]}" if mirror else url


def download(urls: dict[str, str], hint: str) -> dict[str, str]:
    """Local paths of files at fixed URLs (or their mirror), fetched once into the HF cache under
    hashed names; one line (naming the URLs, then `hint`) when they cannot be fetched."""
    from datasets import DownloadManager  # heavy import, only where the hub is used

    try:
        return DownloadManager().download({k: _mirrored(u) for k, u in urls.items()})
    except Exception as err:  # offline, a 404, a broken connection: one line, whatever raised it
        raise DataError(f"cannot download {', '.join(urls.values())} ({type(err).__name__}); {hint}") from None


def fetch(ref: Download, pins: Pins = NO_PINS) -> dict[str, str]:
    """Local paths of a download's files (an archive: its extracted folder), fetched once into
    the HF cache and checked against the registry's and the lock's sha256; they go to READ."""
    return _fetch(ref, tuple(sorted(pins.get(pin_key(ref), {}).items())))


@lru_cache(maxsize=None)  # an archive is checked and extracted once per process
def _fetch(ref: Download, locked: tuple[tuple[str, str], ...]) -> dict[str, str]:
    from datasets import DownloadManager

    spec = DOWNLOADS[ref.name]
    urls = {k: spec["urls"][k] for k in files_of(ref)}
    try:
        paths = download(urls, OFFLINE_HINT)
    except DataError as err:
        raise DataError(f"{ref}: {err}") from None
    found = {k: file_digest(p) for k, p in paths.items()}
    registry = "ray_xr/tasks/hubtable.py" + ("" if spec["verified"] else f" (unverified: {spec['evidence']})")
    for pinned, by in ((spec["sha256"], registry), (dict(locked), "the lock file")):
        wrong = next((k for k in found if k in pinned and found[k] != pinned[k]), None)
        if wrong:  # before any of it is read or extracted
            raise DataError(f"{ref}: file {wrong} ({urls[wrong]}) has sha256 {found[wrong]}, but {by} pins"
                            f" {pinned[wrong]}; it changed upstream or the download is damaged")
    READ[str(ref)] = found
    if not spec["extract"]:
        return paths
    try:
        return DownloadManager().extract(paths)
    except Exception as err:  # a damaged archive
        raise DataError(f"{ref}: cannot extract it ({type(err).__name__}: {err})") from None


# a model's files a run loads: configuration, tokenizer, and the weights in one format
MODEL_FILES = ["*.json", "*.model", "*.txt", "*.safetensors"]
# RoBERTa-style models number positions from pad_token_id + 1 (transformers'
# create_position_ids_from_input_ids): XLM-R's 514 position embeddings take 512 tokens
OFFSET_POSITIONS = frozenset({"roberta", "xlm-roberta", "xlm-roberta-xl", "camembert"})


def max_tokens(config: dict) -> int | None:
    """The longest sequence a model's position embeddings take, from its config.json; None where
    the config does not say."""
    n = config.get("max_position_embeddings")
    if n is None or config.get("model_type") not in OFFSET_POSITIONS:
        return n
    return n - (config.get("pad_token_id", 1) + 1)


def too_long(max_length: int, config: dict, name: str, field: str) -> str | None:
    """One line if a phase's max_length exceeds what the model takes (else an index error deep
    in the embeddings, after the GPUs started)."""
    limit = max_tokens(config)
    if limit is None or max_length <= limit:
        return None
    return f"{field}: {max_length} tokens, but the model {name} takes at most {limit}; set it to {limit} or less"


def model_snapshot(name: str, revision: str | None = None) -> tuple[str, str]:
    """(local folder, commit) of a hub model's tokenizer and weights at `revision` (a commit; else
    the main branch now), downloaded once into the HF cache; offline, the cache answers."""
    from huggingface_hub import HfApi, constants, snapshot_download

    try:
        patterns = MODEL_FILES
        if not constants.HF_HUB_OFFLINE:
            info = HfApi().model_info(name, revision=revision or "main")
            revision = info.sha
            names = [s.rfilename for s in info.siblings or ()]
            if not any(n.endswith(".safetensors") for n in names):  # an older repository: .bin weights
                patterns = MODEL_FILES + ["*.bin"]
        folder = snapshot_download(name, revision=revision or "main", allow_patterns=patterns)
    except Exception as err:  # as for datasets: one line, whatever raised it
        raise DataError(f"model {name} (at {revision or 'main'}): {_why(err, revision or 'main')}") from None
    return folder, Path(folder).name
