"""Published noisy test sets (noise.published, the `realtypos` kind): which file holds the noisy
version of a target's test set in a language, and the level its name states. A sibling of
local.py: the files are read through the task's own local format (data/realnoise.py recognises
the published layouts). Cheap to import: no torch; `datasets` only where a release is fetched.

A set is a local file (or a directory holding it), or `release`: the authors' GitHub release,
pinned to a commit and checked against the checksums below, downloaded through
`datasets.DownloadManager` into the Hugging Face cache (as LAReQA's XQuAD-R is). A URL in its
place names a mirror of `paper_data/` (same file names, same checksums).
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ray_xr.data import realnoise
from ray_xr.errors import DataError
from ray_xr.noise.tables import file_digest
from ray_xr.tasks import hub
from ray_xr.tasks.registry import get_task

RELEASE = "release"
RELEASE_COMMIT = "0f3d07319f23e99d20b26433947b89586a48a179"  # the repository's head, read 2026-12-02
RELEASE_URL = ("https://raw.githubusercontent.com/amazon-science/multilingual-robust-contrastive-pretraining/"
               f"{RELEASE_COMMIT}/paper_data")
# (task, language) -> (file under paper_data/<task>/, its SHA-256 at RELEASE_COMMIT)
RELEASE_FILES = {
    ("panx", "de"): ("test_de_typos_0.2.jsonl", "3abdd1d59c69d50df0bdc0db16e59e17dfc264a9d478daab995b757134f2e840"),
    ("panx", "es"): ("test_es_typos_0.1.jsonl", "3614427e7229428a4923aa618c9991217fbbebbfc774fd23923e75d490e407a8"),
    ("panx", "fr"): ("test_fr_typos_0.1.jsonl", "c9748eda7e29eaf2dc4217546830ebfd8c0a4da6f3a043624499aa863d745643"),
    ("panx", "hi"): ("test_hi_typos_0.05.jsonl", "f60bbfd72e05d801c903ef1480d6c4aedd992c07891cdeb7c828481b1602502c"),
    ("panx", "tr"): ("test_tr_typos_0.1.jsonl", "e45e94ecf6e9c2706d7c350300853ff8e61e15f89606d69409b1b8a76ea472d7"),
    ("xnli", "de"): ("test_de_typos_0.05.tsv", "53214ce36b30e254dacd12953f0e4fa53fa7855d870e8bf70b75508c34d089a4"),
    ("xnli", "en"): ("test_en_typos_0.05.tsv", "e5e5692447c21fc6e29f7c9a2c4f74be66d5042ea82e31120692507adfe559db"),
    ("xnli", "es"): ("test_es_typos_0.05.tsv", "f23c47fd4a8329ddde2f85db5f5e450e3471c2ac0c26099ba1e7510853815e3e"),
    ("xnli", "fr"): ("test_fr_typos_0.05.tsv", "8404d9ffac7a0333f56b8e998e5a17a727d25b132c8042a2cb67f8469d6e4b0f"),
    ("xnli", "hi"): ("test_hi_typos_0.05.tsv", "798357308e902b83ce467dca46d53fffedb9c07cf1ab279afa18feaa394590e7"),
    ("xnli", "tr"): ("test_tr_typos_0.05.tsv", "ebc29f1aba0f7ebbf925550ef33ec7412b074ea49443a338538f5559766fbd3a"),
}


def _remote(where: str) -> bool:
    return where == RELEASE or where.startswith(("http://", "https://"))


def _release_file(task: str, lang: str) -> tuple[str, str]:
    try:
        return RELEASE_FILES[task, lang]
    except KeyError:
        have = ", ".join(f"{t}/{l}" for t, l in RELEASE_FILES)
        raise DataError(f"the published release has no {task} set in {lang!r} (it has {have})") from None


def find(published: Mapping[str, Mapping[str, str]], task: str, lang: str) -> tuple[str, float] | None:
    """(file or URL, stated level) of a task's published noisy set in a language, None if none is
    named. Nothing is downloaded: a release's level is in its file's name."""
    where = published.get(task, {}).get(lang)
    if where is None:
        return None
    if _remote(where):
        name, _ = _release_file(task, lang)
        base = RELEASE_URL if where == RELEASE else where.rstrip("/")
        return f"{base}/{task}/{name}", realnoise.stated(name)[1]
    path, level = realnoise.find(where, task, lang)
    return str(path), level


def digest(published: Mapping[str, Mapping[str, str]], task: str, lang: str) -> str:
    """The SHA-256 a stage key records: the pinned one of a release, else the file's own."""
    location, _ = find(published, task, lang)
    if _remote(published[task][lang]):
        return _release_file(task, lang)[1]
    return file_digest(location)


def fetch(published: Mapping[str, Mapping[str, str]], task: str, lang: str) -> str:
    """A local path to the set: the file itself, or the release downloaded (cached) and verified."""
    location, _ = find(published, task, lang)
    if not _remote(published[task][lang]):
        return location
    path = hub.download({"set": location}, "on a machine without internet, clone paper_data/ and name the"
                                           " file or its folder instead")["set"]
    expected = _release_file(task, lang)[1]
    got = file_digest(path)
    if got != expected:
        raise DataError(f"{location}: SHA-256 {got[:12]}…, expected {expected[:12]}… (the file of commit"
                        f" {RELEASE_COMMIT[:12]}); a mirror must hold the release's files unchanged")
    return path


def check(published: Mapping[str, Mapping[str, str]], targets: Sequence[str], kinds: Sequence[str]) -> None:
    """Each named set belongs to a target with a published noisy layout and is found, and the
    published `kinds` the sweep evaluates have a set; ValueError (a sweep field's message) otherwise."""
    if kinds and not published:
        raise ValueError(f"noise.kinds: {kinds[0]!r} reads published noisy test sets: name them in"
                         " noise.published: {task: {lang: FILE_OR_DIR | release}}")
    for task, langs in published.items():
        layout = get_task(task).local if task in targets else None
        if layout is None or layout.format not in realnoise.PUBLISHED_FORMATS:
            raise ValueError(f"noise.published.{task}: not a target with a published noisy test set (panx, xnli)")
        for lang in langs:
            try:
                find(published, task, lang)
            except DataError as err:
                raise ValueError(f"noise.published.{task}.{lang}: {err}") from None
