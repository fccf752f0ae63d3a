"""The families beyond classification and tagging: multiple choice, extractive span QA and
retrieval by mean-pooled encoder states. Same interface as families.py: features, outputs,
decode, references, perturb; `options` are the sweep's `heads` settings the family uses
(tasks.FAMILY_OPTIONS).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import torch

from ray_xr.data.examples import MultipleChoice, RetrievalPair, SpanQA
from ray_xr.noise import perturb_text
from ray_xr.noise.perturb import perturb_retrieval, perturb_span_qa, text_protector
from ray_xr.tasks import answers
from ray_xr.tasks.padding import padded_inputs


def mean_pool(states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """A text's embedding: the mean of its token states (padding left out), unit length, so that
    a dot product is the cosine similarity (XTREME's retrieval and XTREME-R's dual encoder)."""
    mask = attention_mask.unsqueeze(-1).to(states.dtype)
    pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
    return torch.nn.functional.normalize(pooled, dim=-1)


def _noisy(text: str, field: str, eid: str, noise: dict) -> str:
    guard = text_protector(noise["protect"])
    return perturb_text(text, field=field, example_id=eid, **{**noise, "protect": guard})


# ---------------------------------------------------------------- multiple choice


@dataclass(frozen=True)
class ChoiceFeature:
    input_ids: list[list[int]]  # one sequence per choice
    labels: int
    example: int

    @staticmethod
    def batch(features: list["ChoiceFeature"], pad_id: int) -> dict[str, torch.Tensor]:
        n_choices = len(features[0].input_ids)
        inputs = padded_inputs([seq for f in features for seq in f.input_ids], pad_id)
        return {**{k: v.view(len(features), n_choices, -1) for k, v in inputs.items()},
                "labels": torch.tensor([f.labels for f in features])}


class MultipleChoiceFamily:
    """Each choice is encoded with the premise: (premise, question + choice); one score each."""

    auto_class = "AutoModelForMultipleChoice"
    feature_types = (ChoiceFeature,)  # the feature cache rebuilds these

    def features(self, examples: list[MultipleChoice], tokenizer, labels, max_length, **options) -> list[ChoiceFeature]:
        out = []
        for n, e in enumerate(examples):
            seconds = [f"{e.question} {choice}".strip() for choice in e.choices]
            enc = tokenizer([e.premise] * len(seconds), seconds, truncation=True, max_length=max_length)
            out.append(ChoiceFeature(enc["input_ids"], e.label, n))
        return out

    def outputs(self, model, batch, **options) -> list:
        return model(**batch).logits.argmax(-1).tolist()

    def decode(self, examples, features: list[ChoiceFeature], predicted: list, labels, **options) -> list[int]:
        preds = [-1] * len(examples)
        for f, choice in zip(features, predicted):
            preds[f.example] = choice
        return preds

    def references(self, examples: list[MultipleChoice], **options) -> list[int]:
        return [e.label for e in examples]

    def export(self, examples, predictions: list[int]) -> tuple[str, str]:
        """XTREME-R's XCOPA file: one JSON object `{"label": i}` per line (evaluate.py reads
        `test-<lang>.jsonl` with `read_xcopa`, not the classification layout)."""
        return "jsonl", "".join(json.dumps({"label": p}) + "\n" for p in predictions)

    def perturb(self, e: MultipleChoice, namespace: str, **noise) -> MultipleChoice:
        eid = f"{namespace}/{e.id}"
        choices = tuple(_noisy(c, f"choice{i}", eid, noise) for i, c in enumerate(e.choices))
        return replace(e, premise=_noisy(e.premise, "premise", eid, noise), choices=choices)


# ---------------------------------------------------------------- extractive QA


@dataclass(frozen=True)
class SpanFeature:
    """One window of (question, context); offsets map context tokens back to characters."""

    input_ids: list[int]
    labels: tuple[int, int]  # start and end token of the answer; (0, 0) = not in this window
    example: int
    offsets: tuple[tuple[int, int] | None, ...]  # per token: its context characters, None if not context

    @staticmethod
    def batch(features: list["SpanFeature"], pad_id: int) -> dict[str, torch.Tensor]:
        return {**padded_inputs([f.input_ids for f in features], pad_id),
                "start_positions": torch.tensor([f.labels[0] for f in features]),
                "end_positions": torch.tensor([f.labels[1] for f in features])}


class SpanQAFamily:
    """SQuAD-style: long contexts become overlapping windows, each starting `qa_stride` x
    max_length tokens after the previous one (XTREME's doc_stride 128 at length 384); the
    answer is the best-scoring valid span over all windows, as XTREME post-processes it."""

    auto_class = "AutoModelForQuestionAnswering"
    feature_types = (SpanFeature,)  # the feature cache rebuilds these

    def features(self, examples: list[SpanQA], tokenizer, labels, max_length, *, qa_stride: float,
                 max_query_fraction: float = 0.5, **options) -> list[SpanFeature]:
        out = []
        for n, e in enumerate(examples):
            question, n_query = _truncate(tokenizer, e.question, int(max_length * max_query_fraction))
            room = max_length - n_query - tokenizer.num_special_tokens_to_add(pair=True)
            enc = tokenizer(question, e.context, truncation="only_second", max_length=max_length,
                            stride=max(0, room - max(1, int(max_length * qa_stride))),  # the overlap
                            return_overflowing_tokens=True, return_offsets_mapping=True)
            for w, ids in enumerate(enc["input_ids"]):
                seq = enc.sequence_ids(w)
                offsets = tuple(tuple(o) if s == 1 else None for o, s in zip(enc["offset_mapping"][w], seq))
                out.append(SpanFeature(ids, _answer_tokens(offsets, e.answers[0]) if e.answers else (0, 0), n, offsets))
        return out

    def outputs(self, model, batch, **options) -> list:
        out = model(**batch)
        lengths = batch["attention_mask"].sum(-1).tolist()
        return [(s[:n], e[:n]) for s, e, n in zip(out.start_logits.tolist(), out.end_logits.tolist(), lengths)]

    def decode(self, examples: list[SpanQA], features: list[SpanFeature], predicted: list, labels, *,
               max_answer_tokens: int, n_best: int = 20, **options) -> list[str]:
        """XTREME's run_squad.py post-processing (tasks.answers): the best-scoring valid span over
        the windows, starting at a token in the window where it has the most context, as
        whole whitespace tokens narrowed by get_final_text."""
        home = _max_context(features)
        best: dict[int, tuple[float, int, int, int]] = {}  # example -> (score, feature, start, end)
        for k, (f, (starts, ends)) in enumerate(zip(features, predicted)):
            top_s = sorted(range(len(starts)), key=starts.__getitem__, reverse=True)[:n_best]
            top_e = sorted(range(len(ends)), key=ends.__getitem__, reverse=True)[:n_best]
            for s in top_s:
                if f.offsets[s] is None or home[f.example, f.offsets[s]] != k:
                    continue
                for e in top_e:
                    if f.offsets[e] is None or not 0 <= e - s < max_answer_tokens:
                        continue
                    score = starts[s] + ends[e]
                    if f.example not in best or score > best[f.example][0]:
                        best[f.example] = (score, k, s, e)
        out = [""] * len(examples)
        for n, (_, k, s, e) in best.items():
            context, offsets = examples[n].context, features[k].offsets
            out[n] = answers.answer_text(context, answers.doc_tokens(context), offsets[s][0], offsets[e][1])
        return out

    def references(self, examples: list[SpanQA], **options) -> list[list[str]]:
        return [[a.text for a in e.answers] for e in examples]

    def export(self, examples, predictions: list[str]) -> tuple[str, str]:
        """SQuAD's prediction file: {question id: answer text}."""
        return "json", json.dumps({e.id: p for e, p in zip(examples, predictions)}, ensure_ascii=False, indent=1)

    def perturb(self, e: SpanQA, namespace: str, **noise) -> SpanQA:
        return perturb_span_qa(e, namespace, **noise)  # answer offsets follow the perturbed context


def _max_context(features: list[SpanFeature]) -> dict[tuple[int, tuple[int, int]], int]:
    """(example, token's characters) -> the window where the token has the most context:
    min(tokens left, tokens right) + 0.01 x window length, the first window on ties (as the
    reference's _check_is_max_context)."""
    home: dict[tuple[int, tuple[int, int]], tuple[float, int]] = {}
    for k, f in enumerate(features):
        context = [o for o in f.offsets if o is not None]
        for j, o in enumerate(context):
            score = min(j, len(context) - 1 - j) + 0.01 * len(context)
            if (f.example, o) not in home or score > home[f.example, o][0]:
                home[f.example, o] = (score, k)
    return {key: k for key, (_, k) in home.items()}


def _truncate(tokenizer, text: str, max_tokens: int) -> tuple[str, int]:
    """The text cut after its first max_tokens tokens (XTREME's max_query_length), and its length."""
    offsets = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(offsets) <= max_tokens:
        return text, len(offsets)
    return text[:offsets[max_tokens - 1][1]], max_tokens


def _answer_tokens(offsets: tuple, answer) -> tuple[int, int]:
    """Token positions of the answer's first and last characters, (0, 0) if outside the window."""
    first, last = answer.start, answer.start + len(answer.text)
    tokens = [i for i, o in enumerate(offsets) if o is not None]
    if not tokens or offsets[tokens[0]][0] > first or offsets[tokens[-1]][1] < last:
        return 0, 0
    start = next(i for i in tokens if offsets[i][1] > first)
    end = next(i for i in reversed(tokens) if offsets[i][0] < last)
    return start, max(start, end)


# ---------------------------------------------------------------- retrieval


@dataclass(frozen=True)
class SentenceFeature:
    input_ids: list[int]
    labels: int  # 0: a query, 1: a candidate target
    example: int

    @staticmethod
    def batch(features: list["SentenceFeature"], pad_id: int) -> dict[str, torch.Tensor]:
        return padded_inputs([f.input_ids for f in features], pad_id)


class RetrievalFamily:
    """No head: sentences are mean-pooled hidden states of one encoder layer, compared by cosine
    similarity (Tatoeba). The search runs as XTREME's third_party/evaluate_retrieval.py does it:
    the index holds the non-English sentences (`query`, the side noise perturbs) and each English
    sentence (`target`) looks up its nearest one, which should be its translation. Nothing is
    trained for it (tasks.UNTRAINED_FAMILIES); ranking a pool with a trained dual encoder
    (LAReQA, Mewsli-X) is the ranking family (ranking.py)."""

    auto_class = "AutoModel"
    feature_types = (SentenceFeature,)  # the feature cache rebuilds these

    def features(self, examples: list[RetrievalPair], tokenizer, labels, max_length, **options) -> list[SentenceFeature]:
        out = []
        for side, texts in enumerate(([e.query for e in examples], [e.target for e in examples])):
            enc = tokenizer(texts, truncation=True, max_length=max_length)
            out += [SentenceFeature(ids, side, n) for n, ids in enumerate(enc["input_ids"])]
        return out

    def outputs(self, model, batch, *, retrieval_layer: int, **options) -> list:
        states = model(**batch, output_hidden_states=True).hidden_states[retrieval_layer]
        return mean_pool(states, batch["attention_mask"]).tolist()

    def decode(self, examples: list[RetrievalPair], features: list[SentenceFeature], predicted: list, labels,
               **options) -> list[str]:
        """Per example, in file order: the id of the non-English sentence nearest its English one."""
        queries = torch.tensor([p for f, p in zip(features, predicted) if f.labels == 0])
        targets = torch.tensor([p for f, p in zip(features, predicted) if f.labels == 1])
        ids = [e.id for e in examples]
        return [ids[i] for i in (targets @ queries.T).argmax(-1).tolist()]

    def references(self, examples: list[RetrievalPair], **options) -> list[str]:
        return [e.id for e in examples]

    def export(self, examples, predictions: list[str]) -> tuple[str, str]:
        """XTREME's Tatoeba file: a line per English sentence in the order of the sorted English
        file (utils_preprocess.py sorts it, so the gold lines are the original indices), each the
        index of the non-English sentence found for it."""
        index = {e.id: i for i, e in enumerate(examples)}
        order = sorted(range(len(examples)), key=lambda i: examples[i].target.strip())  # stable, as sorted()
        return "tsv", "".join(f"{index[predictions[i]]}\n" for i in order)

    def perturb(self, e: RetrievalPair, namespace: str, **noise) -> RetrievalPair:
        return perturb_retrieval(e, namespace, **noise)  # the query side only


HEADS = {"multiple_choice": MultipleChoiceFamily(), "qa": SpanQAFamily(), "retrieval": RetrievalFamily()}
