"""Issue #14 item 8: choice fields validated from Python, the per-dimension loss balance, Figure 3's independence
of the switched-off modality, and z_p's inputs (eq. 7)."""

from __future__ import annotations

import pytest
import torch
from clad_fixtures import build, inference_batch, stage1_batch, stage2_batch

from foresight.methods.clad.config import DynamicsConfig, PolicyConfig, VLMConfig
from foresight.methods.clad.dynamics import modality_weights
from foresight.methods.clad.features import visual_features
from foresight.methods.clad.tiny import TINY_EMBED_DIM
from foresight.types import ACTION, STATE, ForesightOutput

H = 64


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: DynamicsConfig(semantic_query="Current"), "dynamics.semantic_query='Current': expected one of"),
        (lambda: DynamicsConfig(attention="p2s"), "dynamics.attention='p2s': expected one of 'p_to_s', 's_to_p'"),
        (lambda: DynamicsConfig(mask_unit="frame"), "dynamics.mask_unit='frame'"),
        (lambda: DynamicsConfig(loss_reduction="max"), "dynamics.loss_reduction='max'"),
        (lambda: DynamicsConfig(modality_weighting="per_dimension"), "dynamics.modality_weighting="),
        (lambda: PolicyConfig(foresight="all"), "policy.foresight='all': expected one of 'both'"),
        (lambda: PolicyConfig(film_input="concat"), "policy.film_input='concat'"),
        (lambda: VLMConfig(feature_norm="l2"), "vlm.feature_norm='l2': expected one of 'rms', 'none'"),
    ],
)
def test_choice_fields_are_checked_when_built_from_python(make, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        make()


def test_per_dim_weighting_needs_summed_norms():
    with pytest.raises(ValueError, match="loss_reduction=mean every dimension already weighs alike"):
        DynamicsConfig(modality_weighting="per_dim", loss_reduction="mean")


def test_modality_weights_by_hand():
    assert modality_weights({"p": 9, "s": 1024}, "sum") == {"p": 1.0, "s": 1.0}
    weights = modality_weights({"p": 9, "s": 1024}, "per_dim")
    assert weights == pytest.approx({"p": 516.5 / 9, "s": 516.5 / 1024})
    # at equal per-dimension error e the pair totals the same as "sum" and each modality gives half of it
    e = 0.3
    assert weights["p"] * 9 * e == pytest.approx(weights["s"] * 1024 * e)
    assert weights["p"] * 9 * e + weights["s"] * 1024 * e == pytest.approx((9 + 1024) * e)
    with pytest.raises(ValueError, match="modality_weighting 'x'"):
        modality_weights({"p": 9}, "x")


def test_per_dim_stage1_loss_is_recomputed_from_the_modules():
    model = build(dynamics={"modality_weighting": "per_dim", "lambda_recon": 0.1})
    dyn = model.dynamics.eval()
    batch = stage1_batch(size=5)
    losses = dyn.loss(batch)
    out = dyn.encode(batch)
    p_next, v_next = batch[STATE][:, 2], visual_features(batch, model.config.vlm)[:, 2]
    d_p, d_v = p_next.shape[-1], v_next.shape[-1]
    assert (d_p, d_v) == (9, TINY_EMBED_DIM)
    mean = (d_p + d_v) / 2
    recon_p = (dyn.proprio_decoder(out["proprio"]) - p_next).abs().sum(-1).mean() * mean / d_p
    recon_s = (dyn.semantic_decoder(out["semantic"]) - v_next).abs().sum(-1).mean() * mean / d_v
    torch.testing.assert_close(losses["recon_proprio"], recon_p)
    torch.testing.assert_close(losses["recon_semantic"], recon_s)
    torch.testing.assert_close(losses["loss"], losses["latent"] + 0.1 * (recon_p + recon_s))
    # the latent terms have equal widths (H): per_dim leaves them as written
    plain = build(dynamics={"lambda_recon": 0.1}).dynamics.eval().loss(batch)
    torch.testing.assert_close(losses["latent"], plain["latent"])
    assert not torch.allclose(losses["recon"], plain["recon"])


def _foresight(seed: int) -> ForesightOutput:
    g = torch.Generator().manual_seed(seed)
    return ForesightOutput(
        embeddings={"proprio": torch.randn(3, H, generator=g), "semantic": torch.randn(3, H, generator=g)}
    )


@pytest.mark.parametrize("film_input", ["joint", "per_modality"])
@pytest.mark.parametrize(("variant", "switched_off"), [("semantic", "proprio"), ("proprio", "semantic")])
def test_figure3_variant_ignores_the_foresight_it_switches_off(variant, switched_off, film_input):
    model = build(policy={"foresight": variant, "film_input": film_input}).eval()
    for film in model.policy.films.values():  # trained-like FiLMs, not the identity they start as
        torch.nn.init.normal_(film.fc2.weight, std=0.5)
    batch = stage2_batch(size=3)
    base = _foresight(0)
    other = ForesightOutput(embeddings={**base.embeddings, switched_off: base.embeddings[switched_off] * -3 + 5})
    kept = ForesightOutput(embeddings={**base.embeddings, variant: base.embeddings[variant] * -3 + 5})
    torch.testing.assert_close(model.policy.condition(batch, other), model.policy.condition(batch, base))
    assert not torch.allclose(model.policy.condition(batch, kept), model.policy.condition(batch, base))


def test_both_depends_on_each_foresight():
    model = build(policy={"foresight": "both"}).eval()
    batch = stage2_batch(size=3)
    base = _foresight(0)
    for name in ("proprio", "semantic"):
        moved = ForesightOutput(embeddings={**base.embeddings, name: base.embeddings[name] + 1})
        assert not torch.allclose(model.policy.condition(batch, moved), model.policy.condition(batch, base)), name


def _z_p(model, batch) -> torch.Tensor:
    """The output of eq. 7's transition (``z_p``), captured from the full model's forward pass."""
    captured = {}
    handle = model.dynamics.proprio_transition.register_forward_hook(lambda m, i, o: captured.setdefault("z", o))
    try:
        model.dynamics.encode(batch)
    finally:
        handle.remove()
    return captured["z"]


def test_z_p_depends_on_p_t_p_t_minus_tau_and_the_actions():
    model = build().eval()
    batch = inference_batch(stage2_batch(size=4))
    base = _z_p(model, batch)
    torch.testing.assert_close(_z_p(model, batch), base)  # deterministic in eval mode

    def changed(key, index):
        moved = dict(batch)
        moved[key] = batch[key].clone()
        moved[key][index] += 0.5
        return _z_p(model, moved)

    for what, key, index in [
        ("p^{t-τ}", STATE, (slice(None), 0)),
        ("p^t", STATE, (slice(None), 1)),
        ("a_{t-τ}", ACTION, (slice(None), 0)),
        ("a_{t-1}", ACTION, (slice(None), 5)),
    ]:
        assert (changed(key, index) - base).abs().max() > 1e-4, what
    # and not on the semantic stream: eq. 7 reads proprio tokens and actions only
    moved = dict(batch)
    moved_key = next(k for k in batch if k.startswith("features.") and k.endswith("agentview"))
    moved[moved_key] = batch[moved_key] + 1.0
    torch.testing.assert_close(_z_p(model, moved), base)


def test_balance_report_at_paper_dimensions_is_consistent():
    from foresight.methods.clad.balance import main, terms

    rows = {(r["state"], r["setting"]): r for r in terms(batch=32)}
    plain, per_dim = rows[("unfitted", "modality_weighting=sum")], rows[("unfitted", "modality_weighting=per_dim")]
    mean = rows[("unfitted", "loss_reduction=mean")]
    assert per_dim["recon_p"] == pytest.approx(plain["recon_p"] * (9 + 1024) / 2 / 9)
    assert per_dim["recon_s"] == pytest.approx(plain["recon_s"] * (9 + 1024) / 2 / 1024)
    assert mean["latent_p"] == pytest.approx(plain["latent_p"] / 1024)
    assert plain["latent_p"] == pytest.approx(2.0, abs=0.2)  # |a - b|^2 of independent unit vectors
    assert plain["s:p recon"] > 100 and 0.5 < per_dim["s:p recon"] < 2  # the imbalance the switch removes
    assert main(["batch=8"]) == 0 and main(["batches=8"]) == 2
