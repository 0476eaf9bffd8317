"""The frozen VLM's features as CLaD reads them: from the feature cache when the batch has them, else computed on
the fly from pixels by an encoder that lives outside the module tree (never saved, never trained).

Batches follow :mod:`foresight.types`: ``features.<encoder>.<view>`` is ``(B, F, D)`` over the DataSpec's
observation offsets, ``features.<encoder>.instruction`` is ``(B, D)``.
"""

from __future__ import annotations

import torch

from foresight.encoders import build_encoder
from foresight.interfaces import Encoder
from foresight.methods.clad.config import VLMConfig
from foresight.types import INSTRUCTION, Batch, FeatureSpec, feature_key, image_key


def feature_spec(cfg: VLMConfig) -> FeatureSpec:
    """What CLaD asks the data layer to cache: the VLM's embedding of each view and of the instruction."""
    return FeatureSpec(
        name=cfg.encoder,
        encoder=cfg.encoder,
        sources=(*cfg.views, "instruction"),
        kwargs=tuple(sorted(cfg.kwargs.items())),
    )


def normalize_feature(x: torch.Tensor, mode: str) -> torch.Tensor:
    """``rms``: rescale each embedding to unit root-mean-square (``sqrt(D) * x / |x|``).

    Contrastive VLM embeddings carry their meaning in direction, not length (they are compared by cosine), and
    their raw scale differs between models; unit RMS keeps every feature O(1) for the FiLM, the MLPs and the L1
    reconstruction target, whichever VLM is plugged in.
    """
    if mode == "none":
        return x
    if mode == "rms":
        return torch.nn.functional.normalize(x, dim=-1) * x.shape[-1] ** 0.5
    raise ValueError(f"unknown vlm.feature_norm {mode!r}; expected 'rms' or 'none'")


def visual_features(batch: Batch, cfg: VLMConfig) -> torch.Tensor:
    """``(B, F, views * image_dim)``: the normalised image embeddings of every configured view, concatenated."""
    parts = []
    for view in cfg.views:
        key = feature_key(cfg.encoder, view)
        if key not in batch:
            raise KeyError(f"CLaD needs {key!r} (or {image_key(view)!r} to compute it); the batch has {sorted(batch)}")
        x = batch[key].float()
        if x.shape[-1] != cfg.image_dim:
            raise ValueError(f"{key} has width {x.shape[-1]}, but vlm.image_dim={cfg.image_dim}; set it to match")
        parts.append(normalize_feature(x, cfg.feature_norm))
    return torch.cat(parts, dim=-1)


def language_features(batch: Batch, cfg: VLMConfig) -> torch.Tensor:
    """``(B, text_dim)``: the normalised instruction embedding ``l``."""
    key = feature_key(cfg.encoder, "instruction")
    if key not in batch:
        raise KeyError(f"CLaD needs {key!r} (or {INSTRUCTION!r} to compute it); the batch has {sorted(batch)}")
    x = batch[key].float()
    if x.shape[-1] != cfg.text_dim:
        raise ValueError(f"{key} has width {x.shape[-1]}, but vlm.text_dim={cfg.text_dim}; set it to match")
    return normalize_feature(x, cfg.feature_norm)


class OnTheFlyFeatures:
    """Fills missing VLM feature keys of a batch from its pixels and instructions.

    Deliberately not an ``nn.Module``: held by the method as a plain attribute, the encoder stays out of
    ``state_dict`` (checkpoints rebuild it from config), out of ``parameters()`` (no optimizer can see it) and out
    of ``.train()`` (it stays in eval mode). Instruction embeddings are memoised per string: a dataset has a
    handful of instructions, so each is encoded once per process.
    """

    def __init__(self, cfg: VLMConfig) -> None:
        self.cfg = cfg
        self._encoder: Encoder | None = None
        self._text_cache: dict[str, torch.Tensor] = {}

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            encoder = build_encoder(self.cfg.encoder, **self.cfg.kwargs)
            encoder.eval().requires_grad_(False)
            self._encoder = encoder
        return self._encoder

    def use_encoder(self, encoder: Encoder) -> None:
        """Use an already built encoder (tests, notebooks) instead of building one from the config."""
        encoder.eval().requires_grad_(False)
        self._encoder = encoder
        self._text_cache.clear()

    def fill(self, batch: Batch) -> Batch:
        """A shallow copy of ``batch`` with every feature key CLaD reads present."""
        out = dict(batch)
        for view in self.cfg.views:
            key = feature_key(self.cfg.encoder, view)
            if key in out:
                continue
            pixels = out.get(image_key(view))
            if pixels is None:
                raise KeyError(
                    f"CLaD needs {key!r} from the feature cache or {image_key(view)!r} to compute it; the batch has "
                    f"{sorted(out)}. Check vlm.views={list(self.cfg.views)} against the dataset's views."
                )
            out[key] = self._encode_images(pixels)
        text_key = feature_key(self.cfg.encoder, "instruction")
        if text_key not in out:
            if INSTRUCTION not in out:
                raise KeyError(f"CLaD needs {text_key!r} or {INSTRUCTION!r}; the batch has {sorted(out)}")
            device = out[feature_key(self.cfg.encoder, self.cfg.views[0])].device
            out[text_key] = self._encode_texts(list(out[INSTRUCTION]), device)
        return out

    @torch.no_grad()
    def _encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        encoder = self.encoder.to(pixels.device)
        lead = pixels.shape[:-3]
        features = encoder.encode_images(pixels.reshape(-1, *pixels.shape[-3:]))
        return features.reshape(*lead, features.shape[-1])

    @torch.no_grad()
    def _encode_texts(self, texts: list[str], device: torch.device) -> torch.Tensor:
        missing = sorted({t for t in texts if t not in self._text_cache})
        if missing:
            encoder = self.encoder.to(device)
            for text, emb in zip(missing, encoder.encode_text(missing), strict=True):
                self._text_cache[text] = emb.detach()
        return torch.stack([self._text_cache[t].to(device) for t in texts])
