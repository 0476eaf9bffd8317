"""The ``clap_tiny`` preset (configs/method/clap_tiny.yaml) as a :class:`CLAPConfig`, for tests and benchmarks.

For smoke runs use the preset by name, never for results::

    python -m foresight.train method=clap_tiny data=demo

Its frozen models are random-weight files written to the cache on first use: ``decisionnce_tiny`` for the
policy's encoder and ``dinov2_tiny`` for the VD-VAE's features, so the real loading paths run.
"""

from __future__ import annotations

from foresight.config import load_group, validate
from foresight.methods.clap.config import CLAPConfig


def tiny_config() -> CLAPConfig:
    """The preset: chunk 8, 4 codes of 16, width-32 one-layer VAEs, a 2-layer GPT-2 backbone, horizon 4."""
    values = load_group("method", "clap_tiny")
    values.pop("name")
    return validate(values, CLAPConfig, "method")
