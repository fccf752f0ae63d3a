"""The ranking family (LAReQA, Mewsli-X): a dual encoder fine-tuned with in-batch negatives,
then scored by how it ranks a pool of candidates for each query (mAP@20).

As in XTREME-R's retrieval fine-tuning (run_retrieval_qa.py, run_retrieval_el.py), one shared
encoder embeds queries and candidates; a text is the mean of the last layer's token states.
Training pairs each query with its relevant candidate; the other candidates of the batch are
its negatives (a candidate relevant to both queries is not counted as a negative).
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from types import SimpleNamespace

import torch

from ray_xr.data.examples import Candidate, RankQuery
from ray_xr.noise.perturb import perturb_retrieval
from ray_xr.tasks.heads import SentenceFeature, mean_pool
from ray_xr.tasks.padding import padded_inputs

SCALE = 20.0  # cosine similarities times this are the logits of the in-batch softmax


class DualEncoder(torch.nn.Module):
    """The encoder alone (no head); saved and loaded as a plain encoder checkpoint."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    @classmethod
    def from_pretrained(cls, source: str, **kwargs) -> "DualEncoder":
        from transformers import AutoModel

        # no pooler: it is not trained here, and DDP rejects parameters without gradients
        return cls(AutoModel.from_pretrained(source, add_pooling_layer=False))

    @property
    def base_model(self):
        return self.encoder

    def save_pretrained(self, out) -> None:
        self.encoder.save_pretrained(out)

    def embed(self, input_ids, attention_mask) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return mean_pool(states, attention_mask)

    def forward(self, input_ids, attention_mask, target_input_ids, target_attention_mask, target_index):
        logits = SCALE * self.embed(input_ids, attention_mask) @ self.embed(target_input_ids, target_attention_mask).T
        shared = (target_index[:, None] == target_index[None, :]) & ~torch.eye(len(logits), dtype=torch.bool,
                                                                                device=logits.device)
        logits = logits.masked_fill(shared, float("-inf"))
        return SimpleNamespace(loss=torch.nn.functional.cross_entropy(logits, torch.arange(len(logits),
                                                                                           device=logits.device)))


@dataclass(frozen=True)
class PairFeature:
    """A query and its relevant candidate, for training."""

    input_ids: list[int]
    target_ids: list[int]
    target: int  # the candidate's example index: equal values mark a shared answer
    example: int

    @staticmethod
    def batch(features: list["PairFeature"], pad_id: int) -> dict[str, torch.Tensor]:
        return {**padded_inputs([f.input_ids for f in features], pad_id),
                **padded_inputs([f.target_ids for f in features], pad_id, prefix="target_"),
                "target_index": torch.tensor([f.target for f in features])}


def _split(examples) -> tuple[list[int], list[int]]:
    """Positions of the queries and of the pool's candidates."""
    queries = [i for i, e in enumerate(examples) if isinstance(e, RankQuery)]
    return queries, [i for i, e in enumerate(examples) if isinstance(e, Candidate)]


def _encode(tokenizer, examples, rows: list[int], max_length: int) -> dict[int, list[int]]:
    """Token ids per example: queries alone, candidates with their context as a text pair."""
    out: dict[int, list[int]] = {}
    plain = [i for i in rows if not getattr(examples[i], "context", "")]
    paired = [i for i in rows if getattr(examples[i], "context", "")]
    if plain:
        texts = [getattr(examples[i], "query", None) or examples[i].text for i in plain]
        out.update(zip(plain, tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]))
    if paired:
        enc = tokenizer([examples[i].text for i in paired], [examples[i].context for i in paired],
                        truncation=True, max_length=max_length)
        out.update(zip(paired, enc["input_ids"]))
    return out


class RankingFamily:
    auto_class = "ray_xr.tasks.ranking:DualEncoder"
    feature_types = (SentenceFeature, PairFeature)  # the feature cache rebuilds these
    reuse_outputs = True  # evaluate.predict: the pool is encoded once per loaded model

    def features(self, examples, tokenizer, labels, max_length, **options) -> list[SentenceFeature]:
        """For scoring: every query (label 0) and every candidate (label 1) once."""
        queries, pool = _split(examples)
        ids = _encode(tokenizer, examples, queries + pool, max_length)
        return [SentenceFeature(ids[i], side, i) for side, rows in enumerate((queries, pool)) for i in rows]

    def train_features(self, examples, tokenizer, labels, max_length, **options) -> list[PairFeature]:
        """For training: each query with the first candidate relevant to it (queries without one
        in the pool are left out)."""
        queries, pool = _split(examples)
        first: dict[str, int] = {}
        for i in pool:
            for key in examples[i].keys:
                first.setdefault(key, i)
        pairs = [(q, next((first[k] for k in examples[q].relevant if k in first), None)) for q in queries]
        pairs = [(q, c) for q, c in pairs if c is not None]
        ids = _encode(tokenizer, examples, sorted({i for pair in pairs for i in pair}), max_length)
        return [PairFeature(ids[q], ids[c], c, q) for q, c in pairs]

    def outputs(self, model, batch, **options) -> list:
        embedded = getattr(model, "module", model).embed(batch["input_ids"], batch["attention_mask"])
        return [row.clone() for row in embedded.float().cpu()]  # not views: each pickles alone (all_gather)

    def decode(self, examples, features: list[SentenceFeature], predicted: list, labels, *, rank: int = 20,
               **options) -> list[list[str]]:
        """Per query, the ids of its `rank` most similar candidates, best first."""
        queries = torch.stack([p for f, p in zip(features, predicted) if f.labels == 0])
        pool = torch.stack([p for f, p in zip(features, predicted) if f.labels == 1])
        ids = [examples[f.example].id for f in features if f.labels == 1]
        out = []
        for chunk in queries.split(256):  # a 1M-entity pool (Mewsli-X) would not fit at once
            top = (chunk @ pool.T).topk(min(rank, len(ids)), dim=-1).indices.tolist()
            out += [[ids[j] for j in row] for row in top]
        return out

    def references(self, examples, **options) -> list[list[str]]:
        """Per query, the ids of the candidates relevant to it."""
        by_key = defaultdict(list)
        for e in examples:
            for key in getattr(e, "keys", ()):
                by_key[key].append(e.id)
        return [sorted({c for key in e.relevant for c in by_key[key]}) for e in examples if isinstance(e, RankQuery)]

    def export(self, examples, predictions: list) -> tuple[str, str]:
        """{query id: ranked candidate ids}, as Mewsli-X's prediction files."""
        queries = [e for e in examples if isinstance(e, RankQuery)]
        return "json", json.dumps({e.id: p for e, p in zip(queries, predictions)}, ensure_ascii=False)

    def perturb(self, e, namespace: str, **noise):
        """The query only: the pool is the collection searched, not the user's input."""
        return perturb_retrieval(e, namespace, **noise) if isinstance(e, RankQuery) else e


RANKING = {"ranking": RankingFamily()}
