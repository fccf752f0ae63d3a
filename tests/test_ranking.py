"""LAReQA and Mewsli-X: their readers (XQuAD-R and SQuAD as sentences, Mewsli-X JSONL), the
ranking family (pool, relevance by shared keys, decoding, the dual encoder's loss) and the
synthetic counterpart. Small files are written here in each dataset's published layout."""
from __future__ import annotations

import json

import pytest
import torch
import yaml

from ray_xr.data import readers
from ray_xr.data import synthetic
from ray_xr.tasks.load import load_split
from ray_xr.errors import DataError
from ray_xr.data.examples import Candidate, RankQuery, scored
from ray_xr.data.retrieval import sentence_breaks
from ray_xr.metrics import METRICS
from ray_xr.run.models import train_tokenizer
from ray_xr.tasks.families import FAMILIES, collate
from ray_xr.tasks.ranking import SCALE, DualEncoder
from tests.conftest import REAL_DATA, TINY, needs_real_data, ray_xr

RANKING = FAMILIES["ranking"]


@pytest.fixture(scope="module")
def tokenizer():
    texts = [t.text for lang in synthetic.LANGUAGES for t in synthetic.corpus(lang, 150, 0)]
    return train_tokenizer(texts, 400)


def test_sentence_breaks_by_hand():
    text = 'It rained. "Did it?" she asked!  Yes (twice.) Then 3.5 mm fell 。 好。 end'
    assert [text[a:b] for a, b in sentence_breaks(text)] == [
        "It rained.", '"Did it?"', "she asked!", "Yes (twice.)", "Then 3.5 mm fell 。", "好。", "end"]
    assert sentence_breaks("  one. ") == [(2, 6)]


def xquad_r(lang: str, sentences: list[str], questions: list[tuple[str, str, str]]) -> dict:
    """An XQuAD-R document: one paragraph with its sentence breaks and questions (id, question, answer)."""
    context, breaks = "", []
    for s in sentences:
        start = len(context) + (1 if context else 0)
        context = f"{context} {s}" if context else s
        breaks.append([start, start + len(s)])
    qas = [{"id": qid, "question": q, "answers": [{"text": a, "answer_start": context.index(a)}]}
           for qid, q, a in questions]
    return {"data": [{"title": lang, "paragraphs": [{"context": context, "qas": qas, "sentence_breaks": breaks}]}]}


def write_xquad_r(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "en.json").write_text(json.dumps(xquad_r(
        "en", ["The cat sleeps.", "The dog barks at Tom."], [("q1", "Who barks?", "The dog"),
                                                              ("q2", "Who sleeps?", "The cat")])))
    (folder / "de.json").write_text(json.dumps(xquad_r(
        "de", ["Die Katze schläft.", "Der Hund bellt Tom an."], [("q1", "Wer bellt?", "Der Hund"),
                                                                 ("q2", "Wer schläft?", "Die Katze")])))
    return folder


def test_xquad_r_pool_spans_every_language_file(tmp_path):
    write_xquad_r(tmp_path / "lareqa" / "xquad-r")
    spec = {"source": "local", "sizes": {"test": 0}, "seed": None, "local": {"lareqa": {"dir": str(tmp_path / "lareqa")}}}
    examples = load_split("lareqa", "test", "de", spec)
    assert [e.id for e in scored(examples)] == ["q1_de", "q2_de"]  # the German questions only
    assert sorted(e.id for e in examples if isinstance(e, Candidate)) == ["de_1_0", "de_1_1", "en_1_0", "en_1_1"]
    # the right answers are the answer sentence in every language, numbered as LAReQA does
    assert RANKING.references(examples) == [["de_1_1", "en_1_1"], ["de_1_0", "en_1_0"]]


def test_ranking_decodes_the_nearest_candidates_and_scores_map(tokenizer, tmp_path):
    write_xquad_r(tmp_path / "xquad-r")
    examples = readers.read("squad_sentences", tmp_path / "xquad-r/en.json", language="en") + \
        readers.read("squad_sentences", tmp_path / "xquad-r/de.json", language="en")
    features = RANKING.features(examples, tokenizer, (), 32)
    assert [f.labels for f in features] == [0, 0, 1, 1, 1, 1]  # two queries, then the pool
    # oracle embeddings: a query and its answers share one direction, the other sentences another
    direction = {"q1": torch.tensor([1.0, 0.0]), "q2": torch.tensor([0.0, 1.0])}
    predicted = [direction[examples[f.example].relevant[0]] if f.labels == 0
                 else (direction[examples[f.example].keys[0]] if examples[f.example].keys else torch.tensor([0.6, 0.6]))
                 for f in features]
    ranked = RANKING.decode(examples, features, predicted, (), rank=20)
    assert [set(r[:2]) for r in ranked] == [{"en_1_1", "de_1_1"}, {"en_1_0", "de_1_0"}]
    assert METRICS["map@20"].compute(ranked, RANKING.references(examples))["map@20"] == pytest.approx(100)
    ext, text = RANKING.export(examples, ranked)
    assert ext == "json" and json.loads(text)["q1_en"] == ranked[0]
    batch = collate(features, tokenizer.pad_token_id)
    assert set(batch) == {"input_ids", "attention_mask"}


def test_malformed_sentence_breaks_name_the_file(tmp_path):
    document = xquad_r("en", ["One.", "Two."], [("q1", "What?", "Two")])
    document["data"][0]["paragraphs"][0]["sentence_breaks"] = [[0, 4], [5, 99]]
    path = tmp_path / "en.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"en\.json:1: data\[0\]\.paragraphs\[0\]: sentence_breaks must be"):
        readers.read("squad_sentences", path)


@needs_real_data
def test_real_xquad_read_as_sentences():
    path = REAL_DATA / "xquad/xquad.de.json"
    document = json.loads(path.read_text())
    paragraphs = [p for article in document["data"] for p in article["paragraphs"]]
    examples = readers.read("squad_sentences", path)
    queries = scored(examples)
    assert len(queries) == sum(len(p["qas"]) for p in paragraphs) == 135
    candidates = [e for e in examples if isinstance(e, Candidate)]
    assert len(candidates) == sum(len(sentence_breaks(p["context"])) for p in paragraphs)
    # every question's first answer lies in the sentence that carries its key
    starts = {qa["id"]: (p["context"], qa["answers"][0]["answer_start"]) for p in paragraphs for qa in p["qas"]}
    for c in candidates:
        for key in c.keys:
            context, start = starts[key]
            assert c.context == context and context.index(c.text) <= start < context.index(c.text) + len(c.text)
    assert all(RANKING.references(examples))


# ---------------------------------------------------------------- Mewsli-X

def entity(qid: str, description: str) -> dict:
    return {"entity_id": qid, "title": qid, "description": description, "description_language": "en",
            "description_url": f"https://en.wikipedia.org/wiki/{qid}",
            "sentence_spans": [{"start": 0, "end": len(description)}]}


def context(text: str, language: str, sentences: list[tuple[int, int]]) -> dict:
    return {"document_title": "t", "document_url": "u", "document_id": "d", "language": language, "text": text,
            "sentence_spans": [{"start": a, "end": b} for a, b in sentences]}


def mention(example_id: str, text: str, surface: str, entity_id: str) -> dict:
    start = text.index(surface)
    return {"example_id": example_id, "entity_id": entity_id,
            "mention_span": {"start": start, "end": start + len(surface), "text": surface}}


def write_mewslix(folder):
    folder.mkdir(parents=True, exist_ok=True)
    smith = "Before that, nothing. The verdict came back for Smith, who stepped down as AG of {Fictitious} County."
    berlin = "Der Senat tagte in Berlin."
    news = [{"context": context(smith, "en", [(0, 21), (22, len(smith))]),
             "mentions": [mention("en-1", smith, "Smith", "Q1")]},
            {"context": context(berlin, "de", [(0, len(berlin))]), "mentions": [mention("de-1", berlin, "Berlin", "Q2")]}]
    (folder / "wikinews_mentions-test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in news))
    (folder / "candidate_set_entities.jsonl").write_text("".join(json.dumps(entity(q, d)) + "\n" for q, d in (
        ("Q1", "Smith is a lawyer."), ("Q2", "Berlin is a city."), ("Q3", "Paris is a city."))))
    pair = {"contextual_mention": {"context": context(berlin, "en", [(0, len(berlin))]),
                                   "mention": mention("p-1", berlin, "Berlin", "Q2")},
            "entity": entity("Q2", "Berlin is a city.")}
    for split in ("train", "dev"):
        (folder / f"wikipedia_pairs-{split}.jsonl").write_text(json.dumps(pair) + "\n" + json.dumps(pair) + "\n")
    return folder


def test_mewslix_reader_follows_the_baseline_preprocessing(tmp_path):
    folder = write_mewslix(tmp_path / "mewslix")
    spec = {"source": "local", "sizes": {"train": 0, "test": 0}, "seed": None, "local": {"mewslix": {"dir": str(folder)}}}
    test = load_split("mewslix", "test", "en", spec)
    [query] = scored(test)
    # one sentence of context, the mention marked and prepended, pre-existing braces escaped
    assert query == RankQuery("en-1", "Smith: The verdict came back for { Smith } , who stepped down as AG of "
                                      "(Fictitious) County.", ("Q1",))
    assert [e.id for e in test if isinstance(e, Candidate)] == ["Q1", "Q2", "Q3"]
    assert RANKING.references(test) == [["Q1"]]
    train = load_split("mewslix", "train", "en", spec)
    assert [type(e).__name__ for e in train] == ["RankQuery", "RankQuery", "Candidate"]  # the entity once, last


def test_mewslix_mention_outside_one_sentence_is_an_error(tmp_path):
    text = "One. Two words."
    row = {"context": context(text, "en", [(0, 4), (5, len(text))]), "mentions": [mention("x", text, "One. Two", "Q1")]}
    path = tmp_path / "wikinews_mentions-test.jsonl"
    path.write_text("\n" + json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"wikinews_mentions-test\.jsonl:2: mention 'One. Two' at 0-8 is in "
                                                r"no single sentence"):
        readers.read("mewslix", path)


def test_hub_sweep_reads_mewslix_from_its_local_folder(tmp_path):
    """Mewsli-X has no hub copy: a hub sweep names its folder in data.local, and `data check`
    loads it through the local layout (the hub tasks would need the network, so none here)."""
    folder = write_mewslix(tmp_path / "mewslix")
    sweep = {**TINY, "data": {"source": "hub", "local": {"mewslix": str(folder)}}, "intermediate": ["none"],
             "targets": ["mewslix"], "languages": {"mewslix": ["en", "de"]}}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(sweep))
    result = ray_xr("data", "check", str(path))
    assert result.returncode == 0, result.stderr
    rows = {tuple(line.split()[:3]): line.split()[3] for line in result.stdout.splitlines()[1:]}
    assert rows == {("mewslix", "train", "en"): "2", ("mewslix", "dev", "en"): "2",
                    ("mewslix", "test", "en"): "1", ("mewslix", "test", "de"): "1"}
    shown = ray_xr("data", "show", "mewslix", str(folder / "wikinews_mentions-test.jsonl"),
                   str(folder / "candidate_set_entities.jsonl"), "--lang", "de", "--json")
    assert json.loads(shown.stdout) == {"examples": 1, "labels": {}, "candidates": 3}
    absent = ray_xr("data", "show", "mewslix", str(folder / "wikinews_mentions-test.jsonl"),
                    str(folder / "candidate_set_entities.jsonl"), "--lang", "fr")
    assert absent.returncode == 2 and absent.stderr == (
        f"ray-xr: error: {folder / 'wikinews_mentions-test.jsonl'}: no mentions of language 'fr', expected one of"
        " the languages present: de, en\n")


def test_mewslix_hub_source_says_how_to_get_it():
    with pytest.raises(DataError, match="get-mewsli-x.sh and point data.local.mewslix"):
        load_split("mewslix", "test", "de", {"source": "hub", "sizes": {"test": 0}, "seed": None, "local": {}})


# ---------------------------------------------------------------- training and the synthetic task

def test_train_features_pair_each_query_with_its_answer(tokenizer):
    examples = synthetic.ranking("lareqa", "train", "en", 6, 0, ("en",))
    pairs = RANKING.train_features(examples, tokenizer, (), 32)
    assert len(pairs) == 6
    for p in pairs:
        query, answer = examples[p.example], examples[p.target]
        assert set(query.relevant) & set(answer.keys)
    batch = collate(pairs, tokenizer.pad_token_id)
    assert set(batch) == {"input_ids", "attention_mask", "target_input_ids", "target_attention_mask", "target_index"}


def test_dual_encoder_loss_does_not_count_a_shared_answer_as_negative():
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=40, pad_token_id=1)
    model = DualEncoder(XLMRobertaModel(config, add_pooling_layer=False)).eval()
    q, t = torch.randint(3, 50, (3, 6)), torch.randint(3, 50, (3, 7))
    mask_q, mask_t = torch.ones_like(q), torch.ones_like(t)
    logits = SCALE * model.embed(q, mask_q) @ model.embed(t, mask_t).T
    # rows 0 and 1 answer with the same candidate: each is not the other's negative
    expected = torch.nn.functional.cross_entropy(
        logits.masked_fill(torch.tensor([[False, True, False], [True, False, False], [False] * 3]), float("-inf")),
        torch.arange(3))
    loss = model(q, mask_q, t, mask_t, torch.tensor([7, 7, 9])).loss
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert model(q, mask_q, t, mask_t, torch.tensor([1, 2, 3])).loss.item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits, torch.arange(3)).item(), rel=1e-5)


def test_pool_is_encoded_once_per_loaded_model(tokenizer):
    """Evaluations of one model under two noise levels: the second encodes only its new queries."""
    from types import SimpleNamespace

    from transformers import XLMRobertaConfig, XLMRobertaModel

    from ray_xr.tasks.load import noisy
    from ray_xr.run.evaluate import predict
    from ray_xr.run.meter import Meter

    config = XLMRobertaConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                              intermediate_size=32, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id)
    model = DualEncoder(XLMRobertaModel(config, add_pooling_layer=False))
    encoded = []
    model.encoder.register_forward_pre_hook(lambda module, args, kwargs: encoded.append(len(kwargs["input_ids"])),
                                            with_kwargs=True)
    w = SimpleNamespace(rank=0, world=1, device="cpu", precision="fp32", held={"model": model}, meter=Meter())
    clean = synthetic.ranking("lareqa", "test", "cog", 6, 0, synthetic.LANGUAGES)
    runs = []
    for examples in (clean, noisy(clean, "lareqa", "char", 0.5, "cog", 0)):
        features = RANKING.features(examples, tokenizer, (), 48)
        runs.append((features, predict(w, model, RANKING, features, tokenizer.pad_token_id, 100, {})))
    pool = len(clean) - 6
    assert encoded == [6 + pool, 6]  # one batch of queries and pool, then the noisy queries alone
    fresh = predict(SimpleNamespace(rank=0, world=1, device="cpu", precision="fp32", held={}, meter=Meter()), model,
                    RANKING, runs[1][0], tokenizer.pad_token_id, 100, {})
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(runs[1][1], fresh))


def test_pool_is_tokenized_once_for_every_noise_level(tokenizer, tmp_path):
    from ray_xr.data import cache as features
    from ray_xr.tasks.load import noisy
    from ray_xr.tasks import get_task

    task, cache = get_task("lareqa"), tmp_path / "cache"
    clean = synthetic.ranking("lareqa", "test", "cog", 6, 0, synthetic.LANGUAGES)
    for level in (0, 0.2, 0.5):
        examples = noisy(clean, "lareqa", "char", level, "cog", 0)
        cached = features.features(cache, task, RANKING, examples, tokenizer, 48, {})
        assert cached == RANKING.features(examples, tokenizer, (), 48)  # the same as tokenizing all at once
    assert len(list(cache.glob("lareqa-*.json"))) == 1 + 3  # one pool, the queries at each level


def test_synthetic_lareqa_answers_in_every_language():
    examples = synthetic.ranking("lareqa", "test", "cyr", 5, 0, synthetic.LANGUAGES)
    references = RANKING.references(examples)
    assert len(references) == 5
    assert all(sorted(r.split("_")[0] for r in refs) == sorted(synthetic.LANGUAGES) for refs in references)
    assert synthetic.ranking("lareqa", "test", "cyr", 5, 0, synthetic.LANGUAGES) == examples  # seeded
