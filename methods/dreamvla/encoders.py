"""DreamVLA's frozen input encoders: CLIP text (instruction -> one embedding) and MAE ViT (frame -> [CLS] + patch
tokens), loaded with transformers from a ``save_pretrained`` folder or a hub id already in the local cache.

They live outside the module tree (a plain attribute of the method, like CLaD's on-the-fly VLM): never saved in a
checkpoint (rebuilt from the config's paths), never seen by an optimizer, always in eval mode. ``foresight-tiny``
names random-weight models of the real architectures, written on first use (:mod:`.tiny`).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F

from foresight.encoders.clip import resolve_model_dir
from foresight.methods.dreamvla.config import EncoderConfig

TINY = "foresight-tiny"
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _folder(path: str, kind: str) -> Path:
    if path == TINY:
        from foresight.methods.dreamvla.tiny import tiny_encoder_folder

        return tiny_encoder_folder(kind)
    return resolve_model_dir(path)


def _normalization(folder: Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The folder's image mean / std (``preprocessor_config.json``), ImageNet's when it has none (MAE's own)."""
    file = folder / "preprocessor_config.json"
    if file.is_file():
        cfg = json.loads(file.read_text())
        return tuple(cfg.get("image_mean", IMAGENET_MEAN)), tuple(cfg.get("image_std", IMAGENET_STD))
    return IMAGENET_MEAN, IMAGENET_STD


class FrozenEncoders:
    """Builds the two frozen models lazily; instruction embeddings are memoised (a dataset has few)."""

    def __init__(self, cfg: EncoderConfig) -> None:
        self.cfg = cfg
        self._text = None
        self._image = None
        self._text_cache: dict[str, torch.Tensor] = {}

    # ---------------------------------------------------------------------------------------------- text
    def _text_model(self):
        if self._text is None:
            from transformers import AutoTokenizer, CLIPTextModel

            folder = _folder(self.cfg.text, "clip_text")
            model = CLIPTextModel.from_pretrained(folder).eval().requires_grad_(False)
            self._text = (AutoTokenizer.from_pretrained(folder), model)
        return self._text

    @property
    def text_dim(self) -> int:
        return self._text_model()[1].config.hidden_size

    @torch.no_grad()
    def encode_text(self, texts: list[str], device: torch.device) -> torch.Tensor:
        """``(B, text_dim)``: CLIP's pooled (end-of-text) embedding of each instruction."""
        missing = sorted({t for t in texts if t not in self._text_cache})
        if missing:
            tokenizer, model = self._text_model()
            model.to(device)
            max_len = model.config.max_position_embeddings
            tokens = tokenizer(missing, padding=True, truncation=True, max_length=max_len, return_tensors="pt")
            pooled = model(**{k: v.to(device) for k, v in tokens.items()}).pooler_output
            for text, emb in zip(missing, pooled, strict=True):
                self._text_cache[text] = emb.detach()
        return torch.stack([self._text_cache[t].to(device) for t in texts])

    # --------------------------------------------------------------------------------------------- images
    def _image_model(self):
        if self._image is None:
            from transformers import ViTMAEModel

            folder = _folder(self.cfg.image, "vit_mae")
            # mask_ratio 0: every patch is kept (MAE's random masking is a pretraining device, not an encoder's)
            model = ViTMAEModel.from_pretrained(folder, mask_ratio=0.0).eval().requires_grad_(False)
            mean, std = _normalization(folder)
            self._image = (model, torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1))
        return self._image

    @property
    def image_dim(self) -> int:
        return self._image_model()[0].config.hidden_size

    @torch.no_grad()
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """``(..., 3, H, W)`` uint8 -> ``(..., 1 + patches, image_dim)``: MAE's [CLS] and patch tokens, in order."""
        model, mean, std = self._image_model()
        model.to(pixels.device)
        lead = pixels.shape[:-3]
        x = pixels.reshape(-1, *pixels.shape[-3:]).float() / 255.0
        size = model.config.image_size
        if x.shape[-2:] != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        x = (x - mean.to(x.device)) / std.to(x.device)
        patches = (size // model.config.patch_size) ** 2
        # MAE orders patches by argsort(noise): an increasing noise keeps them in raster order.
        noise = torch.arange(patches, device=x.device, dtype=x.dtype).expand(x.shape[0], patches)
        tokens = model(pixel_values=x, noise=noise).last_hidden_state
        return tokens.reshape(*lead, *tokens.shape[1:])
