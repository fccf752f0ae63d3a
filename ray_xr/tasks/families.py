"""Task families: the code behind the specs. Example -> features -> batch -> predictions.

A family knows how to tokenize its examples, which Hugging Face head to put on the encoder,
how to turn logits back into per-example predictions, and how noise applies to its text.
The training and evaluation loops only ever call these methods.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ray_xr.data.examples import Classification, Tagging, Text
from ray_xr.noise.perturb import perturb_classification, perturb_tagging
from ray_xr.tasks.heads import HEADS  # multiple choice, QA, retrieval
from ray_xr.tasks.padding import pad, padded_inputs
from ray_xr.tasks.ranking import RANKING  # LAReQA, Mewsli-X


@dataclass(frozen=True)
class Feature:
    input_ids: list[int]
    labels: list[int] | int  # per token (-100 = ignored) or one per sequence
    example: int  # index of the example it came from
    words: tuple[int, ...] = ()  # tagging: the word index each labelled position belongs to

    @staticmethod
    def batch(features: list["Feature"], pad_id: int) -> dict[str, torch.Tensor]:
        batch = padded_inputs([f.input_ids for f in features], pad_id)
        if isinstance(features[0].labels, int):
            batch["labels"] = torch.tensor([f.labels for f in features])
        else:  # per token, as wide as the inputs; -100: ignored by the loss
            batch["labels"] = pad([f.labels for f in features], -100, batch["input_ids"].shape[1])
        return batch


def collate(features: list, pad_id: int) -> dict[str, torch.Tensor]:
    """A batch of a family's features: each feature type knows its tensors."""
    return type(features[0]).batch(features, pad_id)


def argmax_outputs(model, batch, **options) -> list:
    """The predicted label id per sequence (or per token)."""
    return model(**batch).logits.argmax(-1).tolist()


class ClassificationFamily:
    auto_class = "AutoModelForSequenceClassification"
    feature_types = (Feature,)  # the feature cache rebuilds these
    outputs = staticmethod(argmax_outputs)

    def features(self, examples: list[Classification], tokenizer, labels, max_length, **options) -> list[Feature]:
        index = {label: i for i, label in enumerate(labels)}
        enc = tokenizer([e.text_a for e in examples], [e.text_b for e in examples]
                        if examples and examples[0].text_b is not None else None,
                        truncation=True, max_length=max_length)
        return [Feature(ids, index[e.label], i) for i, (ids, e) in enumerate(zip(enc["input_ids"], examples))]

    def decode(self, examples, features: list[Feature], predicted: list, labels, **options) -> list[str]:
        preds = [""] * len(examples)
        for f, label_id in zip(features, predicted):
            preds[f.example] = labels[label_id]
        return preds

    def references(self, examples: list[Classification], **options) -> list[str]:
        return [e.label for e in examples]

    def export(self, examples, predictions: list[str]) -> tuple[str, str]:
        """XTREME's submission file: one predicted label per line."""
        return "tsv", "".join(f"{p}\n" for p in predictions)

    def perturb(self, e: Classification, namespace: str, **noise) -> Classification:
        return perturb_classification(e, namespace, **noise)


class TaggingFamily:
    """First sub-token of each word carries its tag; long sentences are split into windows."""

    auto_class = "AutoModelForTokenClassification"
    feature_types = (Feature,)  # the feature cache rebuilds these
    outputs = staticmethod(argmax_outputs)

    def features(self, examples: list[Tagging], tokenizer, labels, max_length, **options) -> list[Feature]:
        index = {label: i for i, label in enumerate(labels)}
        out = []
        for n, e in enumerate(examples):
            pieces = tokenizer(list(e.words), add_special_tokens=False)["input_ids"]
            pieces = [p or [tokenizer.unk_token_id] for p in pieces]  # a word must keep its tag
            for start, stop in _windows([len(p) for p in pieces], max_length - 2):
                ids, tags, words = [tokenizer.cls_token_id], [-100], []
                for w in range(start, stop):
                    ids += pieces[w]
                    tags += [index[e.tags[w]]] + [-100] * (len(pieces[w]) - 1)
                    words.append(w)
                out.append(Feature(ids + [tokenizer.sep_token_id], tags + [-100], n, tuple(words)))
        return out

    def decode(self, examples, features: list[Feature], predicted: list, labels, **options) -> list[list[str]]:
        preds = [["O"] * len(e.words) for e in examples]
        for f, ids in zip(features, predicted):
            positions = [i for i, t in enumerate(f.labels) if t != -100]
            for pos, word in zip(positions, f.words):
                preds[f.example][word] = labels[ids[pos]]
        return preds

    def references(self, examples: list[Tagging], **options) -> list[list[str]]:
        return [list(e.tags) for e in examples]

    def export(self, examples, predictions: list[list[str]]) -> tuple[str, str]:
        """XTREME's submission file: one tag per line per token, a blank line after each sentence."""
        return "tsv", "".join("".join(f"{t}\n" for t in tags) + "\n" for tags in predictions)

    def perturb(self, e: Tagging, namespace: str, **noise) -> Tagging:
        return perturb_tagging(e, namespace, **noise)


def _windows(lengths: list[int], budget: int) -> list[tuple[int, int]]:
    """Consecutive word ranges whose sub-tokens fit the budget (a longer word gets its own)."""
    spans, start, used = [], 0, 0
    for w, n in enumerate(lengths):
        if used + n > budget and w > start:
            spans.append((start, w))
            start, used = w, 0
        used += n
    return spans + [(start, len(lengths))] if lengths else [(0, 0)]


class MaskedLMFamily:
    """Phase (i): masked-LM pretraining on unlabelled text."""

    auto_class = "AutoModelForMaskedLM"
    feature_types = (Feature,)  # the feature cache rebuilds these

    def features(self, examples: list[Text], tokenizer, labels, max_length) -> list[Feature]:
        enc = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)
        return [Feature(ids, [], i) for i, ids in enumerate(enc["input_ids"])]


def mask_tokens(batch: dict, tokenizer, prob: float, generator: torch.Generator) -> dict:
    """BERT masking (80% <mask>, 10% random, 10% kept) with an explicit generator."""
    ids = batch["input_ids"].clone()
    special = (ids == tokenizer.pad_token_id) | (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id)
    chosen = (torch.rand(ids.shape, generator=generator) < prob) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = torch.rand(ids.shape, generator=generator)
    ids[chosen & (roll < 0.8)] = tokenizer.mask_token_id
    random_ids = torch.randint(len(tokenizer), ids.shape, generator=generator)
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    ids[swap] = random_ids[swap]
    return {"input_ids": ids, "attention_mask": batch["attention_mask"], "labels": labels}


FAMILIES = {"classification": ClassificationFamily(), "tagging": TaggingFamily(), "mlm": MaskedLMFamily(), **HEADS,
            **RANKING}
