"""The `hub` data source's references and the table they are checked against, offline.

A task's hub loader reads what its `hub` function (TaskSpec.hub) names for a (split, language):
`Hub` rows (a Hugging Face dataset, config and split) or a `Download` (files at fixed URLs,
fetched through datasets.DownloadManager into the HF cache, as XTREME-R's own download script
gets the data the hub lacks). `check` tells, without the network, whether a reference exists:
hub references against HUB_CONFIGS (each dataset's configs and splits, with the date they
were looked up), downloads against DOWNLOADS. `rows` and `fetch` are the only functions that
touch the network; what they read (the dataset's resolved commit, each file's sha256) is kept
in `READ` for the stage record. A download's files are checked against the sha256 DOWNLOADS
pins and those a sweep's lock file pins (tasks/lock.py), a hub split is read at the commit the
lock pins: a file changed upstream is refused before it is read, not silently used.
`datasets` is imported lazily: the registry stays light.
The table was written down on LOOKED_UP from the datasets' cards and loaders, not queried
live (the registry must work offline); `ray-xr data fetch` meets any config it lacks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from ray_xr.errors import DataError
from ray_xr.noise.tables import file_digest

LOOKED_UP = "2026-12-02"


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

    def __str__(self) -> str:
        return f"download {self.name}" + (f" ({', '.join(self.files)})" if self.files else "")


Ref = Hub | Download

# -- what the hub has: configs and their splits ----------------------------------------------

_TVT = ("train", "validation", "test")
_TV = ("train", "validation")
_XTREME_PANX = ("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko "
                "th sw yo my zh kk tr et fi hu").split()
_XTREME_UDPOS = ("Afrikaans Arabic Basque Bulgarian Chinese Dutch English Estonian Finnish French German Greek "
                 "Hebrew Hindi Hungarian Indonesian Italian Japanese Kazakh Korean Marathi Persian Portuguese "
                 "Russian Spanish Tagalog Tamil Telugu Thai Turkish Urdu Vietnamese Yoruba").split()
_XTREME_TATOEBA = ("afr ara ben bul cmn deu ell est eus fin fra heb hin hun ind ita jav jpn kat kaz kor mal mar "
                   "nld pes por rus spa swh tam tel tgl tha tur urd vie").split()
_MLQA = "ar de en es hi vi zh".split()
_XQUAD = "ar de el en es hi ru th tr vi zh".split()


def _xtreme() -> dict[str, tuple[str, ...]]:
    """google/xtreme's 183 configs (its parquet conversion, one config per task and language)."""
    configs = {f"PAN-X.{lang}": _TVT for lang in _XTREME_PANX}
    configs |= {f"udpos.{name}": _TVT for name in _XTREME_UDPOS}
    configs |= {f"tatoeba.{code}": ("validation",) for code in _XTREME_TATOEBA}
    configs |= {f"MLQA.{a}.{b}": ("validation", "test") for a in _MLQA for b in _MLQA}
    configs |= {f"XQuAD.{lang}": ("validation",) for lang in _XQUAD}
    configs |= {f"PAWS-X.{lang}": _TVT for lang in "de en es fr ja ko zh".split()}
    configs |= {f"bucc18.{lang}": ("validation", "test") for lang in "de fr ru zh".split()}
    return configs | {"XNLI": ("validation", "test"), "tydiqa": _TV, "SQuAD": _TV}


_WIKIANN = ("ace af als am an ang ar arc arz as ast ay az ba bar bat-smg be be-x-old bg bh bn bo br bs ca "
            "cbk-zam cdo ce ceb ckb co crh cs csb cv cy da de diq dv el eml en eo es et eu ext fa fi fiu-vro "
            "fo fr frr fur fy ga gan gd gl gn gu hak he hi hr hsb hu hy ia id ig ilo io is it ja jbo jv ka kk "
            "km kn ko ksh ku ky la lb li lij lmo ln lt lv map-bms mg mhr mi min mk ml mn mr ms mt mwl my mzn "
            "nap nds ne nl nn no nov oc or os pa pdc pl pms pnb ps pt qu rm ro ru rw sa sah scn sco sd sh si "
            "simple sk sl so sq sr su sv sw szl ta te tg th tk tl tr tt ug uk ur uz vec vep vi vls vo wa war "
            "wuu xmf yi yo zea zh zh-classical zh-min-nan zh-yue").split()
_GLUE = {"cola": ("train", "validation", "test"), "sst2": _TVT, "mrpc": _TVT, "qqp": _TVT, "stsb": _TVT,
         "mnli": ("train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched"),
         "qnli": _TVT, "rte": _TVT, "wnli": _TVT, "ax": ("test",)}
_ANLI = tuple(f"{s}_r{r}" for r in (1, 2, 3) for s in ("train", "dev", "test"))

# dataset -> {config (None: the default) -> splits}
HUB_CONFIGS: Mapping[str, Mapping[str | None, tuple[str, ...]]] = {
    "google/xtreme": _xtreme(),
    "facebook/xnli": {lang: _TVT for lang in "ar bg de el en es fr hi ru sw th tr ur vi zh all_languages".split()},
    "unimelb-nlp/wikiann": {lang: _TVT for lang in _WIKIANN},
    "nyu-mll/glue": _GLUE,
    "eriktks/conll2003": {None: _TVT},
    "rajpurkar/squad": {None: _TV},
    "aps/super_glue": {"copa": _TVT},
    "cambridgeltl/xcopa": {lang: ("validation", "test") for lang in "et ht id it qu sw ta th tr vi zh".split()},
    "facebook/anli": {None: _ANLI},
    "stanfordnlp/snli": {None: _TVT},
    "Rowan/hellaswag": {None: _TVT},
    "allenai/cosmos_qa": {None: _TVT},
    "tau/commonsense_qa": {None: _TVT},
    "allenai/social_i_qa": {None: _TV},
}

# -- what is downloaded: files at URLs that cannot change, and their SHA-256 -----------------

# LASER's Tatoeba files at a fixed commit (XTREME's download_data.sh takes the same folder); the
# checksums are of that commit's blobs (github:facebookresearch/LASER, read 2026-12-02)
_LASER_COMMIT = "fec5c7d63daa2bea9d127e8252b10e87278586c0"
_LASER = f"https://raw.githubusercontent.com/facebookresearch/LASER/{_LASER_COMMIT}/data/tatoeba/v1"
_LASER_SHA256 = {  # code -> (tatoeba.{code}-eng.{code}, tatoeba.{code}-eng.eng)
    "aze": ("b0daccaaebeaa60ad24dcf42597a93afd238d8c263618db7c5ed6babe7d663e6",
            "7c428a247940252ddf75ee6de0172dc1cb6df922e7382412fc330590084c20a9"),
    "lit": ("1fa3d054d66dae6ffa69e5d23e1860f17d6c32cee4bdc4c2eafe9b3c4a37a481",
            "5dfc3ef9437f0a8495f39249a1010237e7503ca6803fd6e73a2621b5165b79cc"),
    "pol": ("93e1378a66dfc83fcab4cf115f3eaa2635b42648e4746478f83f71cc6291cbfd",
            "d21cca6c6c28a9df7e8ecdc923672311ca3395241b58a5749b34854d6c65df8f"),
    "ron": ("ad5c4a9f4920718203534d1f8271e27021b9af54b2c908dec66851d4dc681fd4",
            "1064c638220dc9de0868baee327e091ae815214674295b62b13448ef442c448d"),
    "ukr": ("7d11ce1654600e3a3a2a84ce06aff213e22903d9e75f9f5eec09f85ce85abf2a",
            "f0df48c6911ca71b315a5df5a78438bda23129f375fe50dc7ebf6a0f66bd05e0"),
}
LASER_TATOEBA = tuple(_LASER_SHA256)  # the XTREME-R additions google/xtreme lacks
# XQuAD-R at the lareqa repository's head (github:google-research-datasets/lareqa, read 2026-12-02;
# its master branch moves, a commit does not)
_LAREQA_COMMIT = "9bc8c7fb6dd8d01d72a05a93c2cb96882b0d299c"
_XQUAD_R_SHA256 = {
    "ar": "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d",
    "de": "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
    "el": "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6",
    "en": "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
    "es": "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de",
    "hi": "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872",
    "ru": "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1",
    "th": "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
    "tr": "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94",
    "vi": "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995",
    "zh": "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed",
}
# name -> {"urls": {file: url}, "extract": bool, "sha256": {file: digest}}; a file without a
# digest is pinned only by a sweep's lock file (tasks/lock.py)
DOWNLOADS: Mapping[str, dict] = {
    # UD v2.5 (LINDAT handle 11234/1-3105, a fixed release): what XTREME's download_data.sh reads.
    # Not pinned here: the archive could not be read where this table was written
    "ud-treebanks-v2.5": {"urls": {"tgz": "https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle/11234/1-3105/"
                                          "ud-treebanks-v2.5.tgz"}, "extract": True, "sha256": {}},
    **{f"laser-tatoeba-{code}": {"urls": {"query": f"{_LASER}/tatoeba.{code}-eng.{code}",
                                          "target": f"{_LASER}/tatoeba.{code}-eng.eng"}, "extract": False,
                                 "sha256": {"query": query, "target": target}}
       for code, (query, target) in _LASER_SHA256.items()},
    # XQuAD-R with its sentence breaks (the hub copy, xquad_r, drops them)
    "xquad-r": {"urls": {lang: f"https://raw.githubusercontent.com/google-research-datasets/lareqa/{_LAREQA_COMMIT}/"
                               f"xquad-r/{lang}.json" for lang in _XQUAD}, "extract": False,
                "sha256": _XQUAD_R_SHA256},
}


def check(ref: Ref) -> str | None:
    """What is wrong with a reference, offline; None when the table has it."""
    if isinstance(ref, Download):
        known = DOWNLOADS.get(ref.name)
        missing = [f for f in ref.files if known is not None and f not in known["urls"]]
        return (None if known is not None and not missing
                else f"{ref}: not a known download (ray_xr/tasks/hub.py DOWNLOADS)")
    configs = HUB_CONFIGS.get(ref.dataset)
    if configs is None:
        return f"{ref}: dataset {ref.dataset} is not in the hub table (ray_xr/tasks/hub.py, looked up {LOOKED_UP})"
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


def rows(ref: Hub, pins: Pins = NO_PINS):
    """The rows of a hub split (downloaded into the HF cache on first use), at the commit a lock
    file pins, else at the dataset's current revision."""
    from datasets import load_dataset  # heavy import, only where the hub is used

    pinned = pins.get(pin_key(ref), {}).get("revision")
    try:
        ds = load_dataset(ref.dataset, ref.config, split=ref.split, revision=pinned)
    except (OSError, ConnectionError) as err:  # offline without a cached copy, or the hub lacks it
        raise DataError(f"{ref}: cannot load it ({str(err).splitlines()[0]}); on a machine without internet,"
                        " run `ray-xr data fetch` where there is one and share HF_HOME") from None
    found = _revision(ds)
    if pinned and found and found != pinned:  # a cache folder of another commit answered
        raise DataError(f"{ref}: read at revision {found}, but the lock file pins {pinned}")
    READ[str(ref)] = {"revision": found}
    return ds


def _revision(ds) -> str | None:
    """The dataset commit the rows came from: the datasets cache names its folder by it."""
    for entry in getattr(ds, "cache_files", None) or ():
        found = re.search(r"/([0-9a-f]{40})/", entry.get("filename", ""))
        if found:
            return found.group(1)
    return None


def download(urls: dict[str, str], hint: str) -> dict[str, str]:
    """Local paths of files at fixed URLs, fetched once into the HF cache; one line (naming the
    URLs, then `hint`) when they cannot be fetched."""
    from datasets import DownloadManager  # heavy import, only where the hub is used

    try:
        return DownloadManager().download(urls)
    except (OSError, ConnectionError) as err:  # offline, or the server lacks the file
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
        paths = download(urls, "on a machine without internet, run `ray-xr data fetch` where there is one and"
                               " share HF_HOME")
    except DataError as err:
        raise DataError(f"{ref}: {err}") from None
    found = {k: file_digest(p) for k, p in paths.items()}
    for pinned, by in ((spec["sha256"], "ray_xr/tasks/hub.py"), (dict(locked), "the lock file")):
        wrong = next((k for k in found if k in pinned and found[k] != pinned[k]), None)
        if wrong:  # before any of it is read or extracted
            raise DataError(f"{ref}: file {wrong} ({urls[wrong]}) has sha256 {found[wrong]}, but {by} pins"
                            f" {pinned[wrong]}; it changed upstream or the download is damaged")
    READ[str(ref)] = found
    return DownloadManager().extract(paths) if spec["extract"] else paths
