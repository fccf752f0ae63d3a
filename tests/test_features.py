"""The feature cache: one file per distinct (tokenizer, task, examples, max length, options),
shared by separately loaded copies of the same tokenizer, never by different inputs."""
from __future__ import annotations

import shutil

from ray_xr.data import cache as features
from ray_xr.data import synthetic
from ray_xr.tasks.load import noisy
from ray_xr.run.models import load_tokenizer, train_tokenizer
from ray_xr.tasks import TASKS
from ray_xr.tasks.families import FAMILIES


def test_cache_is_shared_and_keyed_by_content(tmp_path):
    texts = [t.text for lang in synthetic.LANGUAGES for t in synthetic.corpus(lang, 100, 0)]
    train_tokenizer(texts, 300).save_pretrained(tmp_path / "a")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # another model folder, the same tokenizer
    train_tokenizer(texts, 250).save_pretrained(tmp_path / "c")
    task, cache = TASKS["udpos"], tmp_path / "cache"
    family = FAMILIES[task.family]
    examples = synthetic.tagging("udpos", "test", "cog", 20, 0, "upos")
    first = features.features(cache, task, family, examples, load_tokenizer(tmp_path / "a"), 32, {})
    assert first == family.features(examples, load_tokenizer(tmp_path / "a"), task.labels, 32)
    [path] = cache.iterdir()
    stamp = path.stat().st_mtime_ns
    again = features.features(cache, task, family, examples, load_tokenizer(tmp_path / "b"), 32, {})
    assert again == first and path.stat().st_mtime_ns == stamp and len(list(cache.iterdir())) == 1
    features.features(cache, task, family, examples, load_tokenizer(tmp_path / "c"), 32, {})
    features.features(cache, task, family, examples, load_tokenizer(tmp_path / "a"), 24, {})
    perturbed = noisy(examples, "udpos", "char", 0.5, "cog", 0)
    features.features(cache, task, family, perturbed, load_tokenizer(tmp_path / "a"), 32, {})
    assert len(list(cache.iterdir())) == 4  # another tokenizer, max length or text: another entry
    assert not list(cache.glob(".*"))  # no temporary file left behind
