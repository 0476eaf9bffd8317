"""The registered method: stages, data specs, stage-2 conditioning variants (Figure 3), evaluation, configs."""

from __future__ import annotations

import pytest
import torch
from clad_fixtures import INFO, build, config, inference_batch, stage2_batch

from foresight.config import ConfigError, load_group
from foresight.factory import method_config
from foresight.methods.clad import CLaD, CLaDConfig
from foresight.methods.clad.params import PAPER_BILLIONS, breakdown, config_from_args
from foresight.registry import get_method
from foresight.types import ACTION, ACTION_IS_PAD, ForesightOutput

H = 64


def test_registered_and_the_preset_selects_it():
    assert get_method("clad") is CLaD
    cls, cfg = method_config(load_group("method", "clad"))
    assert cls is CLaD and cfg == CLaDConfig()


def test_a_misspelled_key_names_the_valid_one():
    with pytest.raises(ConfigError, match=r"mask_ratoi.*Did you mean 'mask_ratio'"):
        method_config({"name": "clad", "dynamics": {"mask_ratoi": 0.9}})
    with pytest.raises(ConfigError, match="'p_to_s'"):
        method_config({"name": "clad", "dynamics": {"attention": "p2s"}})


def test_stages_and_data_specs_follow_the_paper():
    model = build()
    dynamics, policy = model.stages()
    assert (dynamics.name, dynamics.trainable, policy.name, policy.trainable) == (
        "dynamics",
        ("dynamics",),
        "policy",
        ("policy",),
    )
    paper = CLaDConfig()
    d, p = paper.dynamics.budget, paper.policy.budget
    assert (d.steps, d.batch_size, p.steps, p.batch_size) == (25_000, 128, 200_000, 128)
    assert (dynamics.budget, policy.budget) == (model.config.dynamics.budget, model.config.policy.budget)
    assert (d.warmup, p.warmup) == (2000, 2000)  # the fork's WARM_STEPS at the paper's budgets
    s1, s2, ev = model.data_spec("dynamics"), model.data_spec("policy"), model.data_spec(None)
    assert s1.obs_offsets == (-6, 0, 6) and s1.action_offsets == (-6, -5, -4, -3, -2, -1)
    assert s2.obs_offsets == (-6, 0) and s2.action_offsets == tuple(range(-6, 6))
    assert ev == s2  # evaluation reads what stage 2 trains on: the runner supplies the executed a_{t-τ:t}
    for spec in (s1, s2, ev):
        assert spec.proprio_keys == ("joint_states", "gripper_states") and spec.views == ("agentview",)
        (feature,) = spec.features
        assert feature.name == "decisionnce" and feature.sources == ("agentview", "instruction")
    with pytest.raises(KeyError, match=r"no stage 'planner'.*'dynamics', 'policy'"):
        model.data_spec("planner")


def test_unknown_view_is_a_clear_error():
    with pytest.raises(ConfigError, match=r"asks for view 'front'.*views: \['agentview', 'wrist'\]"):
        CLaD(config(vlm={"views": ("front",)}), INFO)


@pytest.mark.parametrize(
    ("foresight", "film_input", "cond_dim"),
    [
        ("both", "joint", 2 * 2 * H),  # [g_p; g_s], each FiLM([ẑ_p; ẑ_s], o)
        ("proprio", "joint", 2 * H),
        ("semantic", "joint", 2 * H),
        ("both", "per_modality", 2 * H),  # [FiLM(ẑ_p, o_p); FiLM(ẑ_s, o_s)]
        ("proprio", "per_modality", H + 64),  # [FiLM(ẑ_p, o_p); o_s]
        ("none", "joint", 2 * 64),  # [o_p; o_s]
    ],
)
def test_figure3_variants_condition_on_what_they_say(foresight, film_input, cond_dim):
    model = build(policy={"foresight": foresight, "film_input": film_input})
    assert model.policy.cond_dim == cond_dim
    batch = stage2_batch(size=3)
    loss, _ = model(batch, stage="policy")
    assert loss.ndim == 0 and torch.isfinite(loss)
    if foresight == "none":
        assert model.dynamics is None and [s.name for s in model.stages()] == ["policy"]
        assert model.data_spec(None).obs_offsets == (0,) and model.data_spec(None).action_offsets == tuple(range(6))


@pytest.mark.parametrize("film_input", ["joint", "per_modality"])
@pytest.mark.parametrize("foresight", ["both", "proprio", "semantic"])
def test_figure3_variants_read_the_foresight_they_name_and_ignore_the_other(foresight, film_input):
    """A switch is tested by perturbing the input it says is ignored: ``semantic`` conditioning on ẑ_p (or the
    other way round) has the right width and would pass a shape test, but not this one."""
    model = build(policy={"foresight": foresight, "film_input": film_input})
    for film in model.policy.films.values():  # trained FiLMs: the observation modulates the foresight
        torch.nn.init.normal_(film.fc2.weight, std=0.1)
    batch = stage2_batch(size=3)
    g = torch.Generator().manual_seed(0)
    z = {name: torch.randn(3, H, generator=g) for name in ("proprio", "semantic")}
    cond = model.policy.condition(batch, ForesightOutput(embeddings=z))
    used = {"both": {"proprio", "semantic"}, "proprio": {"proprio"}, "semantic": {"semantic"}}[foresight]
    for name in ("proprio", "semantic"):
        perturbed = dict(z, **{name: z[name] + 1.0})
        moved = model.policy.condition(batch, ForesightOutput(embeddings=perturbed))
        if name in used:
            assert not torch.allclose(moved, cond), f"policy.foresight={foresight} ignores ẑ_{name}"
        else:
            torch.testing.assert_close(moved, cond, msg=f"policy.foresight={foresight} reads ẑ_{name}")


def test_semantic_only_condition_is_the_semantic_foresight_before_training():
    """With identity FiLMs (zero-initialised) the condition is the selected foresight itself, by hand."""
    batch = stage2_batch(size=2)
    z = {"proprio": torch.randn(2, H), "semantic": torch.randn(2, H)}
    joint = build(policy={"foresight": "semantic", "film_input": "joint"}).policy
    torch.testing.assert_close(joint.condition(batch, ForesightOutput(embeddings=z)), torch.cat([z["semantic"]] * 2, 1))
    per = build(policy={"foresight": "semantic", "film_input": "per_modality"}).policy
    obs = per.observations(batch)
    torch.testing.assert_close(
        per.condition(batch, ForesightOutput(embeddings=z)), torch.cat([obs["proprio"], z["semantic"]], 1)
    )


def test_film_starts_as_identity_so_the_condition_is_the_foresight_itself():
    """Eq. 21 with a zero-initialised FiLM: g_p = g_s = ẑ^{t+τ} = [ẑ_p; ẑ_s] before any training."""
    model = build()
    batch = stage2_batch(size=2)
    foresight = ForesightOutput(embeddings={"proprio": torch.randn(2, H), "semantic": torch.randn(2, H)})
    joint = torch.cat([foresight.embeddings["proprio"], foresight.embeddings["semantic"]], dim=-1)
    cond = model.policy.condition(batch, foresight)
    torch.testing.assert_close(cond, torch.cat([joint, joint], dim=-1))
    # and the observation does modulate it once the FiLM has weights
    torch.nn.init.normal_(model.policy.films["proprio"].fc2.weight)
    assert not torch.allclose(model.policy.condition(batch, foresight)[:, : 2 * H], joint)


def test_stage2_loss_is_eq22_on_the_chunk_a_t_to_t_plus_tau_with_padding_masked():
    model = build()
    model.dynamics.eval()
    batch = stage2_batch(size=4)
    batch[ACTION_IS_PAD][:, -2:] = True  # the chunk's last 2 actions lie beyond the episode end
    torch.manual_seed(0)
    loss, _ = model(batch, stage="policy")

    torch.manual_seed(0)
    cond = model.policy.condition(batch, model.dynamics(batch))
    expected = model.policy.head.loss(cond, batch[ACTION][:, 6:], ~batch[ACTION_IS_PAD][:, 6:])
    torch.testing.assert_close(loss, expected)

    # the first τ rows are a_{t-τ:t}: they reach the policy through the foresight only
    past_changed = dict(batch, **{ACTION: batch[ACTION].clone()})
    past_changed[ACTION][:, :6] = 0.0
    torch.manual_seed(0)
    assert model(past_changed, stage="policy")[0].item() != loss.item()


def test_planning_and_acting_are_separate_calls():
    """Table 3's planning time is model.plan; Table 2's rate covers plan + act (the reverse diffusion)."""
    model = build().eval()
    batch = model.prepare_inference_batch(inference_batch(stage2_batch(size=2)))
    plan = model.plan(batch)
    assert set(plan.embeddings) == {"proprio", "semantic"} and plan.extras["z_dyn"].shape == (2, H)
    chunk = model.act(batch, plan, generator=torch.Generator().manual_seed(0))
    again = model.act(batch, plan, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(chunk, again)  # sampling is reproducible from the generator
    assert chunk.shape == (2, 6, 7) and not torch.equal(chunk, model.act(batch, plan))


def test_param_counts_at_paper_defaults_match_section_5_1():
    rows = {row.name: row.params for row in breakdown(CLaDConfig())}
    for name in ("CLaD dynamics (stage 1)", "policy (stage 2)"):
        assert rows[name] / 1e9 == pytest.approx(PAPER_BILLIONS[name], rel=0.05), name
    if rows["VLM (frozen)"]:
        assert rows["VLM (frozen)"] / 1e9 == pytest.approx(0.102, abs=0.001)  # CLIP RN50


def test_params_command_takes_method_overrides():
    cfg = config_from_args(["dynamics.hidden_dim=512", "method.policy.head_blocks=3"])
    assert cfg.dynamics.hidden_dim == 512 and cfg.policy.head_blocks == 3
    with pytest.raises(ConfigError, match="hiden_dim"):
        config_from_args(["dynamics.hiden_dim=512"])


def test_ablations_build_no_module_that_would_never_get_a_gradient():
    no_recon = build(dynamics={"use_recon": False}).dynamics
    assert no_recon.proprio_decoder is None and no_recon.semantic_decoder is None
    action_free = build(dynamics={"action_free": True}).dynamics
    assert action_free.action_encoder is None and action_free.action_step_embedding is None
    rows = {row.name: row.params for row in breakdown(config(dynamics={"action_free": True, "use_recon": False}))}
    assert rows["CLaD dynamics (stage 1)"] > 0
