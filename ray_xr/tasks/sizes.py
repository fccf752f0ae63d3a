"""How big each task's data is, for `ray-xr plan --cost`: examples per split (the English
training and dev sets, the test set per language) and XLM-R tokens per sequence.

Split sizes are the published ones of the full splits (the dataset cards and papers: GLUE,
XNLI, XTREME, XTREME-R; the row counts of the canonical dataset_infos.json at
huggingface/datasets@d7dfbc83 where the hub copy read differs), written down on `LOOKED_UP`,
not fetched from the hub (this table must work offline); `ray-xr data fetch` compares each split
it reads with them; UD-POS, Tatoeba and
Mewsli-X per-language test sizes vary by language and are rounded estimates (marked
`approx`). Token counts are estimates, not measured (no XLM-R tokenizer ships offline): `tokens`
is the mean of one sequence (special tokens included, XLM-R's sentencepiece fertility of
about 1.4 pieces per English word and more elsewhere), `longest` the typical longest
sequence of a 32-example batch, which is what a padded batch costs. Standard library only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

LOOKED_UP = "2026-12-02"


@dataclass(frozen=True)
class Size:
    train: int
    dev: int
    test: int  # per language, unless `tests` names it
    tokens: int  # mean XLM-R tokens of one sequence (estimate)
    longest: int  # typical longest sequence of a 32-example batch (estimate)
    sequences: int = 1  # sequences per example: one per choice; a query and its candidate
    tests: Mapping[str, int] = field(default_factory=dict)  # per-language test sizes
    pool: int = 0  # ranking: candidates encoded once per evaluated model
    pool_tokens: int = 0
    approx: bool = False  # per-language test sizes rounded

    def examples(self, split: str, lang: str) -> int:
        if split == "test":
            return self.tests.get(lang, self.test)
        return self.train if split == "train" else self.dev


def _panx_tests() -> dict[str, int]:
    """Rahimi et al. (2019) splits of WikiANN: 10,000 / 1,000 / 100 test sentences by language."""
    thousand = "ms tl ml ta te af bn hi mr ur sw kk az".split()
    hundred = "jv yo my qu pa gu".split()
    return {**{lang: 1000 for lang in thousand}, **{lang: 100 for lang in hundred}}


# UD test sentences summed over a language's treebanks, as XTREME reads them (v2.5; v2.7 for lt,
# pl, uk, wo, ro; rounded)
_UDPOS_TESTS = {"af": 425, "ar": 680, "bg": 1116, "de": 22458, "el": 456, "en": 5440, "es": 3147, "et": 3760,
                "eu": 1799, "fa": 600, "fi": 4422, "fr": 9465, "he": 491, "hi": 2684, "hu": 449, "id": 1557,
                "it": 3518, "ja": 2500, "kk": 1047, "ko": 4276, "mr": 47, "nl": 1471, "pt": 2681, "ru": 11336,
                "ta": 120, "te": 146, "th": 1000, "tl": 55, "tr": 4785, "ur": 535, "vi": 800, "yo": 100,
                "zh": 2900, "lt": 740, "pl": 4900, "uk": 890, "ro": 2800, "wo": 470}
_TYDIQA_TESTS = {"en": 440, "ar": 921, "bn": 113, "fi": 782, "id": 565, "ko": 276, "ru": 812, "sw": 499, "te": 669}
_MLQA_TESTS = {"en": 11590, "ar": 5335, "de": 4517, "es": 5253, "hi": 4918, "vi": 5495, "zh": 5137}
_TATOEBA_TESTS = {"jv": 205, "kk": 575, "ka": 746, "ml": 687, "sw": 390, "ta": 307, "te": 234, "tl": 1000,
                  "az": 1000, "lt": 1000, "uk": 1000}

SIZES: dict[str, Size] = {
    "mnli": Size(392702, 9815, 9832, 44, 110),
    "xnli": Size(392702, 2490, 5010, 50, 120),  # trained on MNLI, selected on XNLI en dev
    "panx": Size(20000, 10000, 10000, 22, 60, tests=_panx_tests()),
    "udpos": Size(21253, 3974, 2000, 32, 90, tests=_UDPOS_TESTS, approx=True),
    "conll2003": Size(14041, 3250, 3453, 24, 70),
    "pawsx": Size(49175, 2000, 2000, 60, 130, tests={"ko": 1999}),  # google/xtreme PAWS-X.en, as read
    "copa": Size(400, 100, 100, 20, 32, sequences=2),
    "xcopa": Size(400, 100, 500, 22, 36, sequences=2),
    "siqa": Size(33410, 1954, 1954, 40, 70, sequences=3),
    "squad": Size(87599, 10570, 10570, 180, 400),
    "xquad": Size(87599, 10570, 1190, 200, 420),
    "mlqa": Size(87599, 1148, 5000, 230, 450, tests=_MLQA_TESTS),  # dev: MLQA.en.en validation
    "tydiqa": Size(3696, 440, 500, 220, 500, tests=_TYDIQA_TESTS),
    "tatoeba": Size(0, 0, 1000, 16, 40, sequences=2, tests=_TATOEBA_TESTS, approx=True),
    # a query and its answer sentence (with its paragraph); the pool: XQuAD-R's eleven languages
    "lareqa": Size(87599, 10570, 1190, 100, 256, sequences=2, pool=13400, pool_tokens=180),
    "mewslix": Size(116000, 14000, 2000, 64, 128, sequences=2, pool=1_000_000, pool_tokens=64, approx=True),
    "anli": Size(162865, 3200, 3200, 100, 220),
    "anliplus": Size(1105719, 3200, 3200, 46, 120),  # ANLI + MNLI + SNLI training sets
    "qqp": Size(363846, 40430, 40430, 30, 80),
    "sst2": Size(67349, 872, 872, 13, 50),
    "hellaswag": Size(39905, 10042, 10042, 80, 130, sequences=4),
    "cosmosqa": Size(25262, 2985, 2985, 100, 200, sequences=4),
    "commonsenseqa": Size(9741, 1221, 1221, 22, 40, sequences=5),
}
# synthetic tasks: sizes come from the sweep; their sentences are short
SYNTHETIC = Size(0, 0, 0, 20, 40)


def size_of(task: str) -> Size:
    return SIZES.get(task, SYNTHETIC)
