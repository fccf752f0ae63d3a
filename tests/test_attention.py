"""XLM-R attention runs through PyTorch's scaled_dot_product_attention (one fused kernel on
GPUs): transformers picks SDPA for XLM-R by default, and the models ray-xr builds and loads keep
it (an explicit `attn_implementation` or an old config would silently fall back to eager)."""
from __future__ import annotations

from ray_xr.run.models import load_task_model, new_masked_lm, save_encoder, train_tokenizer

EMBEDDED = {"hidden_size": 32, "layers": 1, "heads": 2, "intermediate_size": 64, "max_positions": 32}


def test_built_and_loaded_models_use_sdpa(tmp_path):
    tokenizer = train_tokenizer((f"word{i} other{i % 7} text" for i in range(200)), 120)
    model = new_masked_lm(EMBEDDED, tokenizer)
    assert model.mlm.config._attn_implementation == "sdpa"
    save_encoder(model, tokenizer, tmp_path / "encoder")
    for auto_class in ("AutoModelForSequenceClassification", "AutoModelForTokenClassification",
                       "AutoModelForQuestionAnswering"):
        loaded = load_task_model(tmp_path / "encoder", auto_class, 3 if "Class" in auto_class else None)
        assert loaded.config._attn_implementation == "sdpa", auto_class
