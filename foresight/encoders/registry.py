"""Encoder registry: name -> :class:`foresight.interfaces.Encoder` class.

Built-in encoders live in the modules of this package and register themselves with :func:`register_encoder`
when imported; the registry imports every module of the package on first use
(:class:`foresight.registry.PackageRegistry`), so a new encoder module dropped into ``foresight/encoders/`` needs
no edit here. Out-of-tree packages declare encoders in the ``foresight.encoders`` entry-point group, exactly as
methods and environments are declared.
"""

from __future__ import annotations

from typing import Any

from foresight.interfaces import Encoder
from foresight.registry import PackageRegistry

ENCODER_GROUP = "foresight.encoders"

ENCODERS = PackageRegistry(ENCODER_GROUP, "encoder", __package__, Encoder)

register_encoder = ENCODERS.register
"""Class decorator: make an :class:`Encoder` subclass buildable as ``encoder=<name>``."""

encoder_class = ENCODERS.get
"""The class registered as ``name`` (built-in or from an installed plugin)."""

available_encoders = ENCODERS.names
"""Names that :func:`build_encoder` accepts, sorted."""


def build_encoder(name: str, **kwargs: Any) -> Encoder:
    """Instantiate the encoder registered as ``name`` with ``kwargs`` (checkpoint path, variant, ...)."""
    return ENCODERS.build(name, **kwargs)
