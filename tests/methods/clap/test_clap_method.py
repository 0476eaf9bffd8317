"""The assembled method: Knowledge Matching's frozen reference, the fine-tuning switches, both inference modes, the
pretrained-backbone path, and configuration errors."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest
import torch

from foresight.config import ConfigError, validate
from foresight.methods.clap import CLAP, CLAPConfig, knowledge_matching_kl
from foresight.methods.clap.features import policy_inputs
from foresight.methods.clap.method import RF_KM
from foresight.methods.clap.rf import layer_indices
from foresight.methods.clap.tiny import tiny_config
from foresight.train import configure_trainable, set_stage_modes

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import contract


def build(cfg: CLAPConfig | None = None, seed: int = 0) -> CLAP:
    torch.manual_seed(seed)
    return CLAP(cfg or tiny_config(), contract.INFO)


def train_steps(method: CLAP, stage_name: str, steps: int) -> list[dict[str, float]]:
    """``steps`` optimiser steps of one stage as the trainer takes them (hook, freezing, modes, AdamW)."""
    stage = method.stage(stage_name)
    intended = contract.intended_grad(method)
    method.on_stage_start(stage_name)
    params = configure_trainable(method, stage, intended)
    set_stage_modes(method, stage)
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    logs = []
    for step in range(steps):
        batch = contract.make_batch(method.data_spec(stage_name), contract.INFO, training=True, seed=step)
        loss, log = method(batch, stage=stage_name)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        method.on_optimizer_step(stage_name, step + 1)
        logs.append(log)
    return logs


def perturb(module: torch.nn.Module) -> None:
    """Weights away from the reference's, as a trained NTP stage leaves them."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.05 * torch.randn_like(p))


def test_rf_km_copies_the_ntp_policy_into_a_reference_that_never_changes():
    method = build()
    perturb(method.policy)
    ntp_policy = {k: v.clone() for k, v in method.policy.state_dict().items()}
    logs = train_steps(method, RF_KM, 3)
    reference = method.reference.state_dict()
    assert all(torch.equal(reference[k], v) for k, v in ntp_policy.items())  # the copy is the NTP policy, unchanged
    assert any(not torch.equal(method.policy.state_dict()[k], v) for k, v in ntp_policy.items())  # the policy moved
    assert not any(p.requires_grad for p in method.reference.parameters())
    assert logs[0]["km_kl"] == pytest.approx(0.0, abs=1e-6)  # policy == reference at the first step
    assert logs[-1]["km_kl"] > 0
    assert logs[-1]["loss"] == pytest.approx(logs[-1]["rf"] + 0.005 * logs[-1]["km_kl"], rel=1e-5)


def test_rf_km_kl_is_the_reference_against_the_policy_on_ground_truth_tokens():
    method = build()
    train_steps(method, RF_KM, 1)
    batch = contract.make_batch(method.data_spec(RF_KM), contract.INFO, training=True)
    method.eval()
    codes = method.act_vae.encode(batch["action"])
    prefix = method._prefix(batch)
    logits, _ = method.policy(prefix, codes)
    ref_prefix = method.reference.prefix(*policy_inputs(method.features.fill(batch), method.config.vlm))
    ref_logits, _ = method.reference(ref_prefix, codes)
    torch.manual_seed(0)
    _, logs = method(batch, stage=RF_KM)
    assert logs["km_kl"] == pytest.approx(knowledge_matching_kl(logits, ref_logits, "ref_policy").item(), rel=1e-4)


def test_knowledge_insulation_trains_the_head_only_and_plain_finetuning_has_no_reference():
    cfg = tiny_config()
    insulated = build(dataclasses.replace(cfg, rf=dataclasses.replace(cfg.rf, finetune="insulation")))
    assert insulated.reference is None and insulated.stage(RF_KM).trainable == ("rf_head",)
    before = {k: v.clone() for k, v in insulated.policy.state_dict().items()}
    logs = train_steps(insulated, RF_KM, 2)
    assert all(torch.equal(insulated.policy.state_dict()[k], v) for k, v in before.items())
    assert "km_kl" not in logs[0]
    plain = build(dataclasses.replace(cfg, rf=dataclasses.replace(cfg.rf, finetune="finetune")))
    assert plain.reference is None and plain.stage(RF_KM).trainable == ("policy", "rf_head")
    assert "km_kl" not in train_steps(plain, RF_KM, 1)[0]


@pytest.mark.parametrize("mode", ["rf", "ntp"])
def test_both_inference_modes_return_the_rf_horizon(mode):
    method = build()
    method.set_inference(mode)
    method.eval()
    batch = contract.make_batch(method.data_spec(None), contract.INFO, training=False)
    chunk = method.predict_action_chunk(batch, generator=torch.Generator().manual_seed(0))
    assert chunk.shape == (2, 4, 7) and torch.isfinite(chunk).all()
    if mode == "ntp":  # the greedy codes decoded by the Act-VAE, first rf.horizon actions
        codes = method.policy.generate(method._prefix(batch))
        assert codes.shape == (2, 4) and int(codes.max()) < 16
        torch.testing.assert_close(chunk, method.act_vae.decode(codes)[:, :4])
    with pytest.raises(ValueError, match="rf"):
        method.set_inference("fast")


def test_rf_head_layers_read_evenly_spaced_backbone_layers():
    assert layer_indices(4, None) == [0, 1, 2, 3]  # the code's default: one head layer per backbone layer
    assert layer_indices(36, 3) == [0, 18, 35] and layer_indices(8, 1) == [7]
    with pytest.raises(ValueError, match="exceeds"):
        layer_indices(2, 3)
    method = build()
    assert method.policy.num_prefix == 4  # two views, the instruction, the state
    hidden = method.policy.prefix_states(torch.randn(2, 4, 32))
    cond = method.condition(hidden, 4)
    assert cond.shape == (2, 2 * 4, 32) and torch.equal(cond[:, 4:], hidden[1][:, :4])


def test_a_pretrained_causal_lm_from_a_local_folder_is_the_backbone(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    lm = LlamaForCausalLM(
        LlamaConfig(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=3, num_attention_heads=2,
                    num_key_value_heads=2, max_position_embeddings=64)
    )  # fmt: skip
    lm.save_pretrained(tmp_path / "lm")
    cfg = tiny_config()
    backbone = dataclasses.replace(cfg.policy.backbone, kind="pretrained", path=str(tmp_path / "lm"))
    method = build(dataclasses.replace(cfg, policy=dataclasses.replace(cfg.policy, backbone=backbone)))
    assert type(method.policy.backbone).__name__ == "LlamaModel" and method.policy.num_layers == 3
    assert torch.equal(method.policy.backbone.layers[0].mlp.up_proj.weight, lm.model.layers[0].mlp.up_proj.weight)
    assert len(method.layers) == 3 and len(method.rf_head.noise_net.blocks) == 3
    logs = train_steps(method, "ntp", 1)[0]
    assert logs["ntp"] == pytest.approx(logs["loss"]) and logs["ntp"] > 0
    method.eval()
    chunk = method.predict_action_chunk(contract.make_batch(method.data_spec(None), contract.INFO, training=False))
    assert chunk.shape == (2, 4, 7)


def test_configuration_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"rf\.horizon"):
        validate({"rf": {"horizon": 64}}, CLAPConfig, "method")
    with pytest.raises(ConfigError, match="finetune"):
        validate({"rf": {"finetune": "ki"}}, CLAPConfig, "method")
    method = build()
    batch = contract.make_batch(method.data_spec("vd_vae"), contract.INFO, training=True)
    batch["targets.dinov2_tiny.agentview"] = torch.zeros(2, 2, 16, 4, 4, dtype=torch.float16)
    with pytest.raises(ValueError, match=r"vd_vae\.feature_dim=32"):
        method(batch, stage="vd_vae")
