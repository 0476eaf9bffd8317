"""The ``mola_tiny`` preset (configs/method/mola_tiny.yaml) as a :class:`MoLAConfig`, for tests and benchmarks.

For smoke runs use the preset by name, never for results::

    python -m foresight.train method=mola_tiny data=demo data.demo.image_size=128

Its frozen models are random-weight files in the real layouts, written under ``$FORESIGHT_CACHE`` on first use:
the video model ``mola_svd_tiny`` (:mod:`foresight.methods.mola.svd`) and the ``*_tiny`` teachers.
"""

from __future__ import annotations

from typing import Any

from omegaconf import OmegaConf

from foresight.config import load_group, validate
from foresight.methods.mola.config import MoLAConfig


def tiny_config(**overrides: Any) -> MoLAConfig:
    """The preset with dotted ``overrides``, as on the command line: ``tiny_config(**{"policy.horizon": 2})``."""
    values = load_group("method", "mola_tiny")
    values.pop("name")
    node = OmegaConf.create(values)
    for key, value in overrides.items():
        OmegaConf.update(node, key, value, merge=False)
    return validate(OmegaConf.to_container(node), MoLAConfig, "method")
