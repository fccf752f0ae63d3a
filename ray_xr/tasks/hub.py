"""The `hub` data source's references and the table they are checked against, offline.

A task's hub loader reads what its `hub` function (TaskSpec.hub) names for a (split, language):
`Hub` rows (a Hugging Face dataset, config and split) or a `Download` (files at pinned URLs,
fetched through datasets.DownloadManager into the HF cache, as XTREME-R's own download script
gets the data the hub lacks). `check` tells, without the network, whether a reference exists:
hub references against HUB_CONFIGS (each dataset's configs and splits, with the date they
were looked up), downloads against DOWNLOADS. `rows` and `fetch` are the only functions that
touch the network; what they read (the dataset's resolved commit, each file's sha256) is kept
in `READ` for the stage record. `datasets` is imported lazily: the registry stays light.
The table was written down on LOOKED_UP from the datasets' cards and loaders, not queried
live (the registry must work offline); `ray-xr data fetch` meets any config it lacks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
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

# -- what is downloaded: files at URLs that cannot change ------------------------------------

# LASER's Tatoeba files at a fixed commit (XTREME's download_data.sh takes the same folder)
_LASER = "https://raw.githubusercontent.com/facebookresearch/LASER/fec5c7d63daa2bea9d127e8252b10e87278586c0/data/tatoeba/v1"
LASER_TATOEBA = ("aze", "lit", "pol", "ron", "ukr")  # the XTREME-R additions google/xtreme lacks
DOWNLOADS: Mapping[str, dict] = {
    # UD v2.5 (LINDAT handle 11234/1-3105, a fixed release): what XTREME's download_data.sh reads
    "ud-treebanks-v2.5": {"urls": {"tgz": "https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle/11234/1-3105/"
                                          "ud-treebanks-v2.5.tgz"}, "extract": True},
    **{f"laser-tatoeba-{code}": {"urls": {"query": f"{_LASER}/tatoeba.{code}-eng.{code}",
                                          "target": f"{_LASER}/tatoeba.{code}-eng.eng"}, "extract": False}
       for code in LASER_TATOEBA},
    # XQuAD-R with its sentence breaks (the hub copy, xquad_r, drops them)
    "xquad-r": {"urls": {lang: f"https://raw.githubusercontent.com/google-research-datasets/lareqa/master/xquad-r/"
                               f"{lang}.json" for lang in _XQUAD}, "extract": False},
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


def rows(ref: Hub):
    """The rows of a hub split (downloaded into the HF cache on first use)."""
    from datasets import load_dataset  # heavy import, only where the hub is used

    try:
        ds = load_dataset(ref.dataset, ref.config, split=ref.split)
    except (OSError, ConnectionError) as err:  # offline without a cached copy, or the hub lacks it
        raise DataError(f"{ref}: cannot load it ({str(err).splitlines()[0]}); on a machine without internet,"
                        " run `ray-xr data fetch` where there is one and share HF_HOME") from None
    READ[str(ref)] = {"revision": _revision(ds)}
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


@lru_cache(maxsize=None)  # an archive is checked and extracted once per process
def fetch(ref: Download) -> dict[str, str]:
    """Local paths of a download's files (an archive: its extracted folder), fetched once into
    the HF cache; their sha256 go to READ."""
    from datasets import DownloadManager

    spec = DOWNLOADS[ref.name]
    urls = {k: v for k, v in spec["urls"].items() if not ref.files or k in ref.files}
    try:
        paths = download(urls, "on a machine without internet, run `ray-xr data fetch` where there is one and"
                               " share HF_HOME")
    except DataError as err:
        raise DataError(f"{ref}: {err}") from None
    READ[str(ref)] = {k: file_digest(p) for k, p in paths.items()}
    return DownloadManager().extract(paths) if spec["extract"] else paths
