"""Encoder registry: decorator registration, building with kwargs, and the errors users see."""

from __future__ import annotations

import hashlib

import pytest
import torch

from foresight.encoders import available_encoders, build_encoder, encoder_class, register_encoder
from foresight.encoders.digest import file_digest, files_digest
from foresight.interfaces import Encoder


@register_encoder("test_registry_scale")
class ScaleEncoder(Encoder):
    output_dim = 2

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.feature_id = f"scale:{scale}"

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        return images.float().mean(dim=(2, 3))[:, :2] * self.scale

    def encode_text(self, texts):
        return torch.tensor([[len(t) * self.scale, 0.0] for t in texts])


def test_build_passes_kwargs_and_lists_the_name():
    encoder = build_encoder("test_registry_scale", scale=3.0)
    assert isinstance(encoder, ScaleEncoder)
    assert encoder.feature_id == "scale:3.0"
    assert encoder.encode_text(["abcd"]).tolist() == [[12.0, 0.0]]
    assert "test_registry_scale" in available_encoders()
    assert encoder_class("test_registry_scale") is ScaleEncoder


def test_builtin_text_encoder_is_discovered_without_importing_it_first():
    assert "minilm" in available_encoders()


def test_unknown_name_suggests_the_close_one():
    with pytest.raises(KeyError, match=r"unknown encoder 'test_registry_scal'.*Did you mean 'test_registry_scale'"):
        build_encoder("test_registry_scal")


def test_wrong_kwarg_names_the_encoder_and_its_signature():
    with pytest.raises(TypeError, match=r"encoder 'test_registry_scale' .*scale.*unexpected keyword argument 'scael'"):
        build_encoder("test_registry_scale", scael=2.0)


def test_registering_a_non_encoder_is_refused():
    with pytest.raises(TypeError, match=r"subclass of foresight\.interfaces\.Encoder"):
        register_encoder("test_registry_bad")(dict)


def test_digest_is_sha256_of_content_not_path(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"weights-1")
    b.write_bytes(b"weights-1")
    assert file_digest(a) == file_digest(b) == hashlib.sha256(b"weights-1").hexdigest()
    before = files_digest([a])
    a.write_bytes(b"weights-2, longer")  # a new size invalidates the memo even within the same mtime tick
    assert files_digest([a]) != before
    with pytest.raises(FileNotFoundError, match=r"missing\.bin"):
        file_digest(tmp_path / "missing.bin")
