"""The frozen encoders (real transformers loading path, CLIP's tokenizer ids, MAE patches in a fixed order), the
parameter count at the paper's size, gradient checkpointing, and the pretraining stage's spec."""

from __future__ import annotations

import pytest
import torch
from dreamvla_fixtures import batch, build, node

from foresight.config import ConfigError, validate
from foresight.methods.dreamvla.config import DreamVLAConfig, EncoderConfig
from foresight.methods.dreamvla.encoders import FrozenEncoders
from foresight.methods.dreamvla.knowledge import Knowledge
from foresight.methods.dreamvla.tiny import tiny_encoder_folder


def test_the_tiny_tokenizer_gives_clips_ids():
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_encoder_folder("clip_text"))
    text = "put the black bowl in the bottom drawer"
    assert tokenizer(text)["input_ids"] == [49406, *SimpleTokenizer().encode(text), 49407]


def test_mae_tokens_are_deterministic_and_in_raster_order():
    encoders = FrozenEncoders(EncoderConfig(text="foresight-tiny", image="foresight-tiny"))
    pixels = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    first, second = encoders.encode_images(pixels), encoders.encode_images(pixels)
    assert first.shape == (2, 1 + 16, 32) and torch.equal(first, second)  # MAE's own masking would shuffle
    changed = pixels.clone()
    changed[:, :, :8, :8] = 255 - changed[:, :, :8, :8]  # the top-left 8x8 patch only
    moved = (encoders.encode_images(changed) - first).abs().amax(-1)[0]  # one layer: a patch token mixes little
    assert moved[1] == moved[1:].max()  # token 1 (after [CLS]) is the top-left patch
    texts = encoders.encode_text(["open the drawer", "open the drawer", "close it"], torch.device("cpu"))
    assert texts.shape == (3, 32) and torch.equal(texts[0], texts[1]) and not torch.equal(texts[0], texts[2])


def test_the_paper_size_gpt2_is_gpt2_medium_without_its_token_table():
    from transformers import GPT2Config, GPT2Model

    from foresight.methods.dreamvla.params import breakdown, report

    rows = {r.name.strip(): r.params for r in breakdown(DreamVLAConfig())}
    with torch.device("meta"):
        medium = GPT2Model(GPT2Config(n_embd=1024, n_layer=24, n_head=16))
    # the same model but a one-row token table (vocab_size=1: inputs_embeds never reads it)
    assert rows["backbone.gpt (GPT-2 medium)"] == sum(p.numel() for p in medium.parameters()) - 50256 * 1024
    assert rows["trained"] > 500e6 and "345" in report(DreamVLAConfig())


def test_gradient_checkpointing_changes_memory_not_results():
    plain = build({**node(), "pretrain": False}).train()
    checkpointed = build({**node(backbone={"gradient_checkpointing": True}), "pretrain": False}).train()
    checkpointed.load_state_dict(plain.state_dict())
    data = batch(plain)
    out = []
    for model in (plain, checkpointed):
        torch.manual_seed(0)
        loss, _ = model.compute_loss(data, "finetune")
        loss.backward()
        out.append((loss.detach(), model.backbone.gpt.h[0].attn.c_attn.weight.grad.clone()))
    assert checkpointed.backbone.gpt.gradient_checkpointing and not plain.backbone.gpt.gradient_checkpointing
    assert torch.allclose(out[0][0], out[1][0]) and torch.allclose(out[0][1], out[1][1], atol=1e-6)


def test_pretraining_reads_no_teacher_and_no_instruction():
    method = build(node())
    assert [s.name for s in method.stages()] == ["pretrain", "finetune"]
    assert method.data_spec("pretrain").targets == () and method.data_spec("finetune").targets
    data = batch(method, "pretrain")
    torch.manual_seed(0)
    a = method.losses(data, "pretrain")
    torch.manual_seed(0)
    b = method.losses({**data, "instruction": ["something else"] * 2}, "pretrain")
    assert set(a) == {"action", "dynamic"} and all(torch.equal(a[k], b[k]) for k in a)


def test_teacher_specs_carry_the_configured_paths_and_bad_knowledge_is_one_clear_error():
    cfg = DreamVLAConfig()
    spec = build(node()).data_spec("finetune")
    assert {t.name: t.teacher for t in spec.targets} == {"motion": "raft_tiny", "sam": "sam_tiny"}
    assert "path" not in dict(spec.targets[0].kwargs)  # the tiny teachers need none
    paper = Knowledge("depth", cfg.knowledge).teacher(("agentview",), (3,), (0,))
    assert dict(paper.kwargs) == {"path": "depth-anything/Depth-Anything-V2-Small-hf", "resolution": (56, 56)}
    with pytest.raises(ConfigError, match=r"unknown \['depht'\]; expected a subset of \['dynamic', 'depth'"):
        validate({"knowledge": {"types": ["depht"]}}, DreamVLAConfig, "method")
