"""What the hub source reads, as data, with where each fact was established (hub.py reads it).

- HUB_CONFIGS: each hub dataset's configs and their splits.
- SOURCES: in what form each dataset is on the hub and which revision is read. datasets>=4
  refuses a repository whose main branch holds only a loading script ("Dataset scripts are no
  longer supported"); such a dataset is read from the hub's parquet conversion of it
  (`refs/convert/parquet`: one folder per config, `{config}/{split}/NNNN.parquet`), pinned by
  commit in a sweep's lock file.
- DOWNLOADS: files at fixed URLs XTREME-R's own download script reads (the UD releases, LASER's
  Tatoeba files, XQuAD-R), with their SHA-256.

The table was written down on LOOKED_UP from evidence outside this project: the canonical
loading scripts and their dataset_infos.json in huggingface/datasets at d7dfbc83 (the last commit
that had them), the hub's dataset pages and commit histories (quoted in `evidence`), and
google-research/xtreme at 838c13b. What could not be seen there is `verified=False`, and
`ray-xr data check` says so for every reference that rests on it. Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

LOOKED_UP = "2026-12-06"
CONVERSION = "refs/convert/parquet"  # the hub's parquet conversion branch
D7 = "huggingface/datasets@d7dfbc83"


@dataclass(frozen=True)
class Source:
    """How a hub dataset is read."""

    form: str  # what its main branch holds
    evidence: str  # where that (and the conversion, if read) was seen
    verified: bool = True
    revision: str = "main"  # the branch read when no lock pins a commit
    folders: Mapping[str | None, str] = field(default_factory=dict)  # conversion: config -> its folder

    def folder(self, config: str | None) -> str:
        return self.folders.get(config, config or "default")


def _converted(script: str, evidence: str, verified: bool = True, **folders: str) -> Source:
    return Source(f"script-only main ({script}); read from its parquet conversion", evidence, verified,
                  CONVERSION, {None: next(iter(folders.values()))} if folders else {})


SOURCES: Mapping[str, Source] = {
    "google/xtreme": Source("parquet, configs in its card", "hub commit ad6339ca 'Add XQuAD.vi data files'"
                            " ({config}/{split}-*.parquet, configs in README)"),
    "google/xquad": Source("parquet, configs in its card", "hub page google/xquad (Formats: parquet; config"
                           " xquad.ro, split validation)"),
    "facebook/xnli": Source("parquet, configs in its card", "hub commit b8dd5d7 'Convert dataset to Parquet"
                            " (#10)' (deletes the loading script)"),
    "unimelb-nlp/wikiann": Source("parquet, configs in its card", "hub page unimelb-nlp/wikiann (Formats:"
                                  " parquet)"),
    "nyu-mll/glue": Source("parquet, configs in its card", "hub commit a3f3ab7 'Convert dataset to Parquet"
                           " (#16)' (mnli/train-00000-of-00001.parquet)"),
    "rajpurkar/squad": Source("parquet, configs in its card", "not seen: the hub pages of rajpurkar/squad"
                              " were not among those read", verified=False),
    "aps/super_glue": Source("parquet, configs in its card", "hub tree of main at 3de24cf 'Convert dataset to"
                             " Parquet (#16)' (a copa folder)"),
    "cambridgeltl/xcopa": Source("parquet, configs in its card", "hub commit e3864f3 'Convert dataset to"
                                 " Parquet' (et/test-00000-of-00001.parquet)"),
    "facebook/anli": Source("parquet, configs in its card", "hub tree plain_text at 8e4813d 'Convert dataset"
                            " to Parquet (#5)'"),
    "stanfordnlp/snli": Source("parquet, configs in its card", "hub page stanfordnlp/snli (Formats: parquet)"),
    "tau/commonsense_qa": Source("parquet, configs in its card", "hub commit 34986e8 'Convert dataset to"
                                 " Parquet' (data/test-00000-of-00001.parquet)"),
    # script-only: datasets 5.2 raises "Dataset scripts are no longer supported" on their main
    "eriktks/conll2003": _converted("conll2003.py", f"main: conll2003.py ({D7} datasets/conll2003, config"
                                    " 'conll2003'); conversion: hub commits of refs/convert/parquet (ce85b39"
                                    " 'Update parquet files'); dspy reads the copy lhoestq/conll2003",
                                    config="conll2003"),
    "Rowan/hellaswag": _converted("hellaswag.py", "main: hellaswag.py (its Parquet PR #7, commit 9c75cc0,"
                                  " is unmerged; the script's URL, github rowanz/hellaswag, is blocked);"
                                  " conversion: hub commits of refs/convert/parquet/default/test (b0a1b0b"
                                  " 'Update parquet files', 50441ce)", config="default"),
    "allenai/social_i_qa": _converted("social_i_qa.py", "main: social_i_qa.py at 6db3dce (its Parquet PR #3 is"
                                      " unmerged); conversion: hub tree refs/convert/parquet/default/train"
                                      " (537a2ec 'Update parquet files'); lm-evaluation-harness 7575f6e reads"
                                      " the copy lighteval/siqa", config="default"),
    "allenai/cosmos_qa": _converted("cosmos_qa.py", "main: its card has no `configs` (2024-01-18), as a script"
                                    " repository's; its conversion was not seen", verified=False,
                                    config="default"),
}

# -- configs and splits ----------------------------------------------------------------------

_TVT = ("train", "validation", "test")
_TV = ("train", "validation")
_XTREME_PANX = ("ar he vi id jv ms tl eu ml ta te af nl en de el bn hi mr ur fa fr it pt es bg ru ja ka ko "
                "th sw yo my zh kk tr et fi hu").split()
# google/xtreme's udpos configs (not read: they take every treebank whose folder names the
# language, ancient ones included); Kazakh has no validation split, three have a test split only
_XTREME_UDPOS = ("Afrikaans Arabic Basque Bulgarian Chinese Dutch English Estonian Finnish French German Greek "
                 "Hebrew Hindi Hungarian Indonesian Italian Japanese Korean Marathi Persian Portuguese "
                 "Russian Spanish Tamil Telugu Turkish Urdu Vietnamese").split()
_XTREME_TATOEBA = ("afr ara ben bul cmn deu ell est eus fin fra heb hin hun ind ita jav jpn kat kaz kor mal mar "
                   "nld pes por rus spa swh tam tel tgl tha tur urd vie").split()
_MLQA = "ar de en es hi vi zh".split()
_XQUAD = "ar de el en es hi ru th tr vi zh".split()


def _xtreme() -> dict[str, tuple[str, ...]]:
    """google/xtreme's 183 configs and their splits (datasets/xtreme/dataset_infos.json at d7dfbc83)."""
    configs = {f"PAN-X.{lang}": _TVT for lang in _XTREME_PANX}
    configs |= {f"udpos.{name}": _TVT for name in _XTREME_UDPOS}
    configs |= {"udpos.Kazakh": ("train", "test"), **{f"udpos.{n}": ("test",) for n in ("Tagalog", "Thai", "Yoruba")}}
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
_GLUE = {"cola": _TVT, "sst2": _TVT, "mrpc": _TVT, "qqp": _TVT, "stsb": _TVT,
         "mnli": ("train", "validation_matched", "validation_mismatched", "test_matched", "test_mismatched"),
         "qnli": _TVT, "rte": _TVT, "wnli": _TVT, "ax": ("test",)}
_ANLI = tuple(f"{s}_r{r}" for r in (1, 2, 3) for s in ("train", "dev", "test"))

# dataset -> {config (None: the default) -> splits}
HUB_CONFIGS: Mapping[str, Mapping[str | None, tuple[str, ...]]] = {
    "google/xtreme": _xtreme(),
    "google/xquad": {f"xquad.{lang}": ("validation",) for lang in _XQUAD + ["ro"]},
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

# -- downloads: files at URLs that cannot change, and their SHA-256 --------------------------

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
# XTREME's download_data.sh (838c13b, download_treebank): UD v2.5 for XTREME's languages, v2.7
# for XTREME-R's (lt pl uk wo ro). The archives' SHA-256 are those pyconll's test registry
# records for the LINDAT files (its `zip_hash`); its code never compares them with a download
# and the archives could not be read here: unverified until a `data fetch` sees the bytes.
_LINDAT = "https://lindat.mff.cuni.cz/repository/xmlui/bitstream/handle"
_UD_EVIDENCE = ("google-research/xtreme@838c13b scripts/download_data.sh:61-92 (URLs at 65 and 69, ISO prefix"
                " at 84); sha256 from pyconll's test registry, not compared with the file")


def _ud(version: str, handle: str, sha256: str, lacks: dict[str, tuple[str, ...]]) -> dict:
    return {"urls": {"tgz": f"{_LINDAT}/{handle}/ud-treebanks-v{version}.tgz"}, "extract": True,
            "sha256": {"tgz": sha256}, "revision": f"hdl:{handle}", "form": f"UD v{version} release archive (tgz)",
            "evidence": _UD_EVIDENCE, "verified": False, "lacks": lacks}


# name -> {"urls": {file: url}, "extract", "sha256": {file: digest}, "revision", "form",
# "evidence", "verified", "lacks": {language: splits the files lack}}
DOWNLOADS: Mapping[str, dict] = {
    # lacks: the splits google/xtreme's udpos configs lack for the same treebanks (its dataset_infos.json)
    "ud-treebanks-v2.5": _ud("2.5", "11234/1-3105", "5ff973e44345a5f69b94cc1427158e14e851c967d58773cc2ac5a1d3adaca409",
                             {"kk": ("dev",), **{lang: ("train", "dev") for lang in ("tl", "th", "yo")}}),
    "ud-treebanks-v2.7": _ud("2.7", "11234/1-3424", "ee61f186ac5701440f9d2889ca26da35f18d433255b5a188b0df30bc1525502b",
                             {}),
    **{f"laser-tatoeba-{code}": {"urls": {"query": f"{_LASER}/tatoeba.{code}-eng.{code}",
                                          "target": f"{_LASER}/tatoeba.{code}-eng.eng"}, "extract": False,
                                 "sha256": {"query": query, "target": target}, "revision": _LASER_COMMIT,
                                 "form": "LASER Tatoeba text files", "verified": True,
                                 "evidence": "blobs of github:facebookresearch/LASER at the commit"}
       for code, (query, target) in _LASER_SHA256.items()},
    # XQuAD-R with its sentence breaks (the hub copy, xquad_r, drops them)
    "xquad-r": {"urls": {lang: f"https://raw.githubusercontent.com/google-research-datasets/lareqa/{_LAREQA_COMMIT}/"
                               f"xquad-r/{lang}.json" for lang in _XQUAD}, "extract": False,
                "sha256": _XQUAD_R_SHA256, "revision": _LAREQA_COMMIT, "form": "XQuAD-R JSON files",
                "verified": True, "evidence": "blobs of github:google-research-datasets/lareqa at the commit"},
}
