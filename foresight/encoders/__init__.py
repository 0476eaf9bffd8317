"""Frozen pretrained encoders (text, vision-language) behind one registry, so the feature cache and methods
name them by string: ``build_encoder("minilm")``. See :mod:`foresight.encoders.registry`."""

from foresight.encoders.registry import available_encoders, build_encoder, encoder_class, register_encoder

__all__ = ["available_encoders", "build_encoder", "encoder_class", "register_encoder"]
