"""MoLA's switches, its oracle imagination and its conditioning, on the tiny preset and the contract's LIBERO-format
synthetic batches (tests/methods/contract.py)."""

from __future__ import annotations

import contract
import pytest
import torch

from foresight.methods.mola import MoLA
from foresight.methods.mola.imagination import FEATURE_NAME, ImaginationError
from foresight.methods.mola.method import ORACLE_LABEL
from foresight.methods.mola.tiny import tiny_config
from foresight.types import feature_key, image_key, target_key

INFO = contract.INFO


def build(**overrides) -> MoLA:
    torch.manual_seed(0)
    return MoLA(tiny_config(**overrides), INFO)


def training_batch(method: MoLA, stage: str, seed: int = 0) -> dict:
    return contract.make_batch(method.data_spec(stage), INFO, training=True, seed=seed)


@pytest.mark.parametrize("experts", [["flow"], ["depth"], ["semantic"], ["flow", "depth"], ["depth", "semantic"]])
def test_switching_an_expert_off_removes_its_parameters_loss_targets_and_tokens(experts):
    full, part = build(), build(experts=experts)
    off = sorted({"flow", "depth", "semantic"} - set(experts))
    names = [n for n, _ in part.named_parameters()]
    for expert in off:
        assert not any(f"moidm.experts.{expert}." in n or f"decoders.modality.{expert}." in n for n in names)
        assert not any(f".{expert}" in n for n in names if n.startswith("policy."))
        assert all(t.name != expert for t in part.data_spec("idm").targets)
    for expert in experts:
        assert any(n.startswith(f"moidm.experts.{expert}.") for n in names)
    per_expert = sum(p.numel() for p in full.moidm.experts["flow"].parameters())
    assert sum(p.numel() for p in full.moidm.parameters()) - sum(p.numel() for p in part.moidm.parameters()) == (
        per_expert * len(off)
    )
    part.train()
    _, logs = part(training_batch(part, "idm"), stage="idm")
    assert {k.split(".")[0] for k in logs if k != "loss"} == set(experts)
    part.eval()
    batch = contract.make_batch(part.data_spec(None), INFO, training=False)
    full.eval()
    queries = full.config.expert.num_queries
    assert full.condition(batch, "svd", (0,)).shape[1] - part.condition(batch, "svd", (0,)).shape[1] == (
        queries * len(off)
    )


def test_no_expert_is_the_frame_feature_baseline_with_one_stage():
    method = build(experts=[])
    assert method.moidm is None and method.decoders is None
    assert [s.name for s in method.stages()] == ["policy"]


def test_frozen_moidm_trains_only_the_head_in_the_policy_stage():
    assert build().stage("policy").trainable == ("moidm", "policy")
    assert build(**{"policy.train_moidm": False}).stage("policy").trainable == ("policy",)
    assert build().stage("idm").trainable == ("moidm", "decoders")


def test_data_specs_follow_the_imagination_backend():
    k = tiny_config().k
    oracle = build(**{"imagination.backend": "oracle", "imagination.eval_backend": "svd"})
    svd, cached = build(**{"imagination.backend": "svd"}), build()
    assert oracle.data_spec("policy").obs_offsets == (0, k) and svd.data_spec("policy").obs_offsets == (0,)
    assert [f.name for f in cached.data_spec("policy").features] == [FEATURE_NAME]
    assert cached.data_spec("policy").features[0].encoder == "mola_svd_tiny"
    assert not svd.data_spec("policy").features and oracle.data_spec(None).obs_offsets == (0,)
    idm = cached.data_spec("idm")
    assert idm.obs_offsets == (0, k) and {t.name: t.offsets for t in idm.targets} == {
        "flow": (0,), "depth": (k,), "semantic": (k,)
    }  # fmt: skip
    assert dict(idm.targets[0].kwargs)["gap"] == k  # the flow over the expert's own transition t -> t+k


def test_with_oracle_imagination_the_condition_changes_with_the_future_frame_and_nothing_else():
    method = build(**{"imagination.backend": "oracle", "imagination.eval_backend": "svd"}).eval()
    spec = method.data_spec("policy")
    view = method.config.views[0]
    batch = training_batch(method, "policy")
    cond = method.condition(batch, "oracle", spec.obs_offsets)
    assert torch.equal(cond, method.condition(batch, "oracle", spec.obs_offsets))  # deterministic
    other_view = dict(batch)
    other_view[image_key("wrist")] = torch.randint(0, 256, batch[image_key(view)].shape, dtype=torch.uint8)
    assert torch.equal(cond, method.condition(other_view, "oracle", spec.obs_offsets))  # a view MoLA does not read
    new_future = dict(batch)
    frames = batch[image_key(view)].clone()
    frames[:, 1] = torch.randint(
        0, 256, frames[:, 1].shape, dtype=torch.uint8, generator=torch.Generator().manual_seed(9)
    )
    new_future[image_key(view)] = frames
    changed = method.condition(new_future, "oracle", spec.obs_offsets)
    per_view = len(method.config.experts) * method.config.expert.num_queries + method.config.policy.frame_tokens
    assert not torch.allclose(changed[:, :per_view], cond[:, :per_view])  # latent actions and frame tokens move
    assert torch.equal(changed[:, per_view:], cond[:, per_view:])  # task and state tokens do not


def test_oracle_cannot_be_evaluated_and_says_what_to_do():
    method = build(**{"imagination.backend": "oracle"}).eval()
    with pytest.raises(ImaginationError, match="eval_backend=svd"):
        method.check_evaluable()
    with pytest.raises(ImaginationError, match="no simulator"):
        method.predict_action_chunk(contract.make_batch(method.data_spec(None), INFO, training=False))
    assert method.result_labels() == (ORACLE_LABEL,)
    evaluable = build(**{"imagination.backend": "oracle", "imagination.eval_backend": "cached"})
    evaluable.check_evaluable()
    assert evaluable.result_labels() == (ORACLE_LABEL,) and build().result_labels() == ()


def test_cached_and_live_imagination_agree_and_the_cache_is_read_when_present():
    method = build().eval()
    view = method.config.views[0]
    batch = contract.make_batch(method.data_spec(None), INFO, training=False)
    live = method.imagination.pairs(batch, "svd", view, (0,))
    computed = method.imagination.pairs(batch, "cached", view, (0,))  # no cached feature: computed the same way
    torch.testing.assert_close(computed[1], live[1])
    assert live[0].shape == live[1].shape == (2, 3, 32, 32) and live[1].min() >= 0 and live[1].max() <= 1
    cached = torch.rand(2, 1, 2, 3, 32, 32)
    read = method.imagination.pairs({**batch, feature_key(FEATURE_NAME, view): cached}, "cached", view, (0,))
    assert torch.equal(read[1], cached[:, 0, 1]) and torch.equal(read[0], cached[:, 0, 0])


def test_missing_teacher_targets_are_computed_and_cached_ones_are_used():
    method = build().train()
    batch = training_batch(method, "idm")
    filled = method.targets.fill(batch)
    view = method.config.views[0]
    shapes = {e: tuple(filled[target_key(e, view)].shape) for e in ("flow", "depth", "semantic")}
    assert shapes == {"flow": (2, 1, 2, 16, 16), "depth": (2, 1, 1, 28, 28), "semantic": (2, 1, 16, 4, 4)}
    given = {**batch, target_key("depth", view): torch.full((2, 1, 1, 28, 28), 7.0, dtype=torch.float16)}
    assert torch.equal(method.targets.fill(given)[target_key("depth", view)], given[target_key("depth", view)])
