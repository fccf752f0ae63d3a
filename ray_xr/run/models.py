"""Tokenizers and XLM-R-architecture models: the embedded tiny one, hub ones, and the encoder
hand-over between phases (keep the encoder, drop the head)."""
from __future__ import annotations

import copy
import importlib
from pathlib import Path
from types import SimpleNamespace
from typing import Iterable

import torch
import transformers
from transformers import AutoModelForMaskedLM, AutoTokenizer, PreTrainedTokenizerFast, XLMRobertaConfig

from ray_xr.errors import SweepError
from ray_xr.stages import atomic_dir
from ray_xr.tasks.hub import too_long

transformers.logging.set_verbosity_error()  # head re-initialisation warnings are expected here
transformers.logging.disable_progress_bar()  # one bar per tiny checkpoint drowns the progress lines

SPECIALS = {"bos_token": "<s>", "pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>",
            "mask_token": "<mask>", "cls_token": "<s>", "sep_token": "</s>"}


def train_tokenizer(texts: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A subword tokenizer with XLM-R's special tokens and pair template, trained on `texts`.

    BPE rather than XLM-R's unigram model: the tokenizers library's unigram trainer sums piece
    scores in hash-map order, so two trainings on the same text differ (measured: 308 of 964
    scores and 2 piece ids, enough to segment noisy words differently and change noisy results
    from run to run). BPE merges go by integer counts: the same text gives the same tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                       show_progress=False))
    bos, eos = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIALS)


def new_masked_lm(emb: dict, tokenizer) -> "SparseMaskedLM":
    # XLM-R numbers positions from pad_token_id + 1, hence the offset
    config = XLMRobertaConfig(
        vocab_size=len(tokenizer), hidden_size=emb["hidden_size"], num_hidden_layers=emb["layers"],
        num_attention_heads=emb["heads"], intermediate_size=emb["intermediate_size"],
        max_position_embeddings=emb["max_positions"] + tokenizer.pad_token_id + 1,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, type_vocab_size=1)
    return SparseMaskedLM(AutoModelForMaskedLM.from_config(config))


def new_encoder(architecture: dict, device: torch.device):
    """An XLM-R encoder of this architecture (config.json values) with random weights, initialised
    where it runs (560M parameters initialise slowly on a CPU)."""
    with device:
        return transformers.AutoModel.from_config(XLMRobertaConfig(**architecture), add_pooling_layer=False)


class SparseMaskedLM(torch.nn.Module):
    """Masked LM that runs the vocabulary projection on the masked positions only.

    The projection is most of a small model's compute, and only ~15% of positions have a label.
    """

    def __init__(self, mlm):
        super().__init__()
        self.mlm = mlm

    @property
    def base_model(self):
        return self.mlm.base_model

    def forward(self, input_ids, attention_mask, labels):
        hidden = self.mlm.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        chosen = labels != -100
        logits = self.mlm.lm_head(hidden[chosen])
        return SimpleNamespace(loss=torch.nn.functional.cross_entropy(logits, labels[chosen]))


def autocast(device: torch.device | str, precision: str):
    """The forward-pass precision: "bf16" autocasts matrix products to bfloat16 (on GPUs the
    tensor cores' rate; weights and optimizer state stay fp32), "fp32" changes nothing."""
    device_type = torch.device(device).type
    return torch.autocast(device_type=device_type, dtype=torch.bfloat16, enabled=precision == "bf16")


def pretrained(name: str, revision: str | None) -> str:
    """Where a hub model's weights are loaded from: at the commit a sweep's lock pins, its folder
    in the HF cache (filled once by `ray-xr data fetch` on storage every node reads; downloaded
    here only if absent); unpinned, the name (the hub's main branch)."""
    if revision is None:
        return name
    from ray_xr.tasks.hub import model_snapshot

    return model_snapshot(name, revision)[0]


def check_length(source: str | Path, max_length: int, name: str, field: str) -> None:
    """Refuse a phase whose sequences are longer than the model's positions take, in one line,
    before the first step."""
    problem = too_long(max_length, transformers.AutoConfig.from_pretrained(str(source)).to_dict(), name, field)
    if problem:
        raise SweepError(problem)


def load_tokenizer(source: str | Path):
    return AutoTokenizer.from_pretrained(str(source))


def load_task_model(source: str | Path, auto_class: str, num_labels: int | None):
    """A task model whose encoder comes from `source`; a head it lacks is freshly initialised.
    `auto_class` names a transformers Auto class, or `module:Class` of our own (the dual encoder)."""
    if ":" in auto_class:
        module, name = auto_class.split(":")
        cls = getattr(importlib.import_module(module), name)
    else:
        cls = getattr(transformers, auto_class)
    kwargs = {"num_labels": num_labels} if num_labels else {}
    return cls.from_pretrained(str(source), **kwargs)


def save_encoder(model, tokenizer, out: Path) -> None:
    """Keep the encoder, drop the head: the next phase starts from these weights.

    The head's label set is dropped too: a head the next phase sizes from the config (span QA's
    start/end) would otherwise inherit the previous task's number of labels."""
    encoder = unwrap(model).base_model
    config = copy.deepcopy(encoder.config)
    config.num_labels = 2  # the transformers default, as in a freshly pretrained checkpoint
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        encoder.save_pretrained(tmp)
        config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def save_model(model, tokenizer, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(out) as tmp:
        unwrap(model).save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)


def unwrap(model):
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model
