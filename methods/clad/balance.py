"""Magnitudes of the four terms of CLaD's stage-1 loss (eq. 17-19) at the paper's dimensions.

    python -m foresight.methods.clad.balance [batch=128] [seed=0]

Eq. 17-18 are norms summed over features, so the semantic reconstruction (D_v = 1024, DecisionNCE) and the
proprioceptive one (D_p = 9 on LIBERO) differ in size by their widths at equal per-dimension error. This prints
each term, as the trainer computes it (:func:`latent_loss`, :func:`recon_loss`, :func:`modality_weights`), under
``dynamics.modality_weighting=sum`` (the paper as written), ``per_dim`` and ``loss_reduction=mean``, in two
states: *unfitted*, every prediction and reconstruction a random unit-norm vector (what the decoders emit before
they fit, once outputs reach unit norm); *fitted*, reconstructions off by Gaussian noise of std 0.1 per dimension.
Targets follow the data layer: proprio min-max normalised to [-1, 1] (uniform here), VLM embeddings at unit RMS
(``vlm.feature_norm=rms``; Gaussian here). Random vectors stand in for real features: the ratios, not the exact
values, are the point.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F

from foresight.config import ConfigError, parse_value
from foresight.methods.clad.config import CLaDConfig
from foresight.methods.clad.dynamics import latent_loss, modality_weights, recon_loss

PROPRIO_DIM = 9  # LIBERO joint_states (7) + gripper_states (2): CLaD's default proprio_keys


def unit(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=generator, dtype=torch.float64), dim=-1)


def terms(batch: int = 128, seed: int = 0) -> list[dict[str, object]]:
    """One row per (state, weighting): the latent and λ-weighted reconstruction terms and their ratio."""
    cfg = CLaDConfig()
    hidden, visual_dim, lam = cfg.dynamics.hidden_dim, cfg.vlm.image_dim, cfg.dynamics.lambda_recon
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(batch, PROPRIO_DIM, generator=g, dtype=torch.float64) * 2 - 1
    v = torch.randn(batch, visual_dim, generator=g, dtype=torch.float64)
    v = v / v.pow(2).mean(-1, keepdim=True).sqrt()  # unit RMS
    pred_p, pred_s = unit((batch, hidden), g), unit((batch, hidden), g)
    target_p, target_s = unit((batch, hidden), g), unit((batch, hidden), g)
    states = {
        "unfitted": (unit((batch, PROPRIO_DIM), g), unit((batch, visual_dim), g)),
        "fitted": (
            p + 0.1 * torch.randn(p.shape, generator=g, dtype=torch.float64),
            v + 0.1 * torch.randn(v.shape, generator=g, dtype=torch.float64),
        ),
    }
    rows = []
    for state, (recon_p, recon_s) in states.items():
        for weighting, reduction in (("sum", "sum"), ("per_dim", "sum"), ("sum", "mean")):
            w_lat = modality_weights({"p": hidden, "s": hidden}, weighting)
            w_rec = modality_weights({"p": PROPRIO_DIM, "s": visual_dim}, weighting)
            row = {
                "state": state,
                "setting": f"modality_weighting={weighting}" if reduction == "sum" else "loss_reduction=mean",
                "latent_p": w_lat["p"] * latent_loss(pred_p, target_p, False, reduction).item(),
                "latent_s": w_lat["s"] * latent_loss(pred_s, target_s, False, reduction).item(),
                "recon_p": lam * w_rec["p"] * recon_loss(recon_p, p, reduction).item(),
                "recon_s": lam * w_rec["s"] * recon_loss(recon_s, v, reduction).item(),
            }
            row["s:p recon"] = row["recon_s"] / row["recon_p"]
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = {}
    for item in sys.argv[1:] if argv is None else argv:
        key, _, raw = item.partition("=")
        if key not in ("batch", "seed") or not raw:
            print(f"error: unknown argument {item!r}; use batch=N seed=N", file=sys.stderr)
            return 2
        args[key] = parse_value(key, raw)
    try:
        rows = terms(**args)
    except (ConfigError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    cfg = CLaDConfig()
    print(
        f"H={cfg.dynamics.hidden_dim}, D_v={cfg.vlm.image_dim}, D_p={PROPRIO_DIM}, λ_recon={cfg.dynamics.lambda_recon}"
    )
    print(
        f"{'state':<9} {'setting':<27} {'latent_p':>9} {'latent_s':>9} {'λ·recon_p':>10} {'λ·recon_s':>10} {'s:p':>7}"
    )
    for r in rows:
        print(
            f"{r['state']:<9} {r['setting']:<27} {r['latent_p']:>9.3f} {r['latent_s']:>9.3f} {r['recon_p']:>10.4f} "
            f"{r['recon_s']:>10.4f} {r['s:p recon']:>7.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
