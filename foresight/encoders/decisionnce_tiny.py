"""``decisionnce_tiny``: a random-weight DecisionNCE for CPU smoke runs (``method=clad_tiny``), never for results.

Offline there is no pretrained vision-language model, yet a smoke run should go through the real loading path
(:class:`~foresight.encoders.decisionnce.DecisionNCEEncoder`: state-dict checks, preprocessing, feature cache
keyed on the file's digest). So the first use writes a tiny CLIP-RN (ModifiedResNet of width 8, one text layer,
32-d joint space) in the exact layout of a released DecisionNCE file to ``$FORESIGHT_CACHE/encoders``, and every
later use, on any machine, rebuilds the same bytes from the seed: a checkpoint trained with it names only
``encoder: decisionnce_tiny``, no path, and still evaluates elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from foresight.encoders.decisionnce import DecisionNCEEncoder
from foresight.encoders.registry import register_encoder
from foresight.fileio import atomic_write

TINY_EMBED_DIM = 32
TINY_IMAGE_SIZE = 64


def write_tiny_decisionnce(path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Save a random CLIP-RN as a DecisionNCE checkpoint (``{"model": {"model.<key>": ...}}``) at ``path``.

    The text tower keeps CLIP's 49,408-token vocabulary so open_clip's bundled tokenizer applies unchanged. The
    weights come from a private RNG stream, so writing the file on first use inside a training run does not shift
    the run's random numbers (an interrupted run resumes exactly whether or not it wrote the file). The file
    appears under its name only once complete, so concurrent processes never read half a file.
    """
    from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = CLIP(
            TINY_EMBED_DIM,
            vision_cfg=CLIPVisionCfg(layers=(1, 1, 1, 1), width=8, image_size=TINY_IMAGE_SIZE),
            text_cfg=CLIPTextCfg(context_length=16, vocab_size=49408, width=64, heads=1, layers=1),
            quick_gelu=True,
        )
    state = {f"model.{k}": v for k, v in model.state_dict().items() if k != "logit_scale"}

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:  # a file object, not a name: torch.save names the archive after a path's stem
            torch.save({"model": state}, f)

    return atomic_write(path, save)


def tiny_decisionnce_path(seed: int = 0) -> Path:
    """Where the tiny model of ``seed`` is cached (``$FORESIGHT_CACHE/encoders``)."""
    from foresight.data.config import cache_root

    return cache_root() / "encoders" / f"tiny-decisionnce-seed{seed}.pth"


@register_encoder("decisionnce_tiny")
class TinyDecisionNCEEncoder(DecisionNCEEncoder):
    """The DecisionNCE encoder on :func:`write_tiny_decisionnce`'s file for ``seed``, written on first use."""

    def __init__(self, seed: int = 0, variant: str = "DecisionNCE-T") -> None:
        path = tiny_decisionnce_path(seed)
        if not path.is_file():
            write_tiny_decisionnce(path, seed)
        super().__init__(str(path), variant)
