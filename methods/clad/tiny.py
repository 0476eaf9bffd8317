"""The ``clad_tiny`` preset (configs/method/clad_tiny.yaml) as a :class:`CLaDConfig`, for tests and benchmarks.

For smoke runs use the preset by name, never for results::

    python -m foresight.train method=clad_tiny data=demo

Its frozen VLM is ``decisionnce_tiny`` (:mod:`foresight.encoders.decisionnce_tiny`): a random-weight model in the
exact layout of a released DecisionNCE file, written to the cache on first use, so the real loading path runs.
"""

from __future__ import annotations

import dataclasses
import os

from foresight.config import load_group, validate
from foresight.encoders.decisionnce_tiny import TINY_EMBED_DIM, TINY_IMAGE_SIZE, write_tiny_decisionnce
from foresight.methods.clad.config import CLaDConfig

__all__ = ["TINY_EMBED_DIM", "TINY_IMAGE_SIZE", "tiny_config", "write_tiny_decisionnce"]


def tiny_config(checkpoint: str | os.PathLike[str] | None = None) -> CLaDConfig:
    """The preset (H = 64, one layer per attention stack, a 2-block width-64 noise network, 10 diffusion steps).

    With ``checkpoint``, the VLM is the ``decisionnce`` encoder on that file instead of the cached tiny one.
    """
    values = load_group("method", "clad_tiny")
    values.pop("name")
    cfg = validate(values, CLaDConfig, "method")
    if checkpoint is not None:
        cfg.vlm = dataclasses.replace(cfg.vlm, encoder="decisionnce", kwargs={"checkpoint": str(checkpoint)})
    return cfg
