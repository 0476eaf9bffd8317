"""The video model MoLA imagines with (§3.2): Stable Video Diffusion through diffusers, one denoising step.

:class:`SVDImaginer` is a frozen :class:`~foresight.interfaces.Encoder` (``encoder=mola_svd``): for each current frame
it returns the pair MoIDM reads, ``(2, 3, size, size)`` in [0, 1]: the frame itself, resized, and the imagined
frame at ``t + k`` (frame ``frame_index`` of the generated clip). Being an encoder is what makes the ``cached``
backend free: the data layer's feature cache computes it once per dataset frame and training reads it back, and
evaluation computes it on the fly through the same call (docs/methods/mola.md, "Imagination").

The noise of the one denoising step is drawn per frame from ``seed`` (one generator per row), so an imagined frame
is a function of its input frame alone: the cached and the live (``svd``) backends give the same frames, whatever
the batch. ``path`` is a local folder written by ``StableVideoDiffusionPipeline.save_pretrained`` (a fine-tuned
model, or ``stabilityai/stable-video-diffusion-img2vid`` downloaded beforehand); nothing is downloaded here.

``mola_svd_tiny`` is the same pipeline with about 1.5 million random weights (UNet, temporal VAE, CLIP image encoder),
written with ``save_pretrained`` under ``$FORESIGHT_CACHE/teachers/tiny/mola_svd`` on first use and loaded from there
like a user's own folder: tests and the ``mola_tiny`` preset exercise the real loading and sampling path.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from foresight.encoders.digest import file_digest
from foresight.encoders.registry import register_encoder
from foresight.interfaces import Encoder
from foresight.teachers.tiny import tiny_model


class ImaginerError(ValueError):
    """A video model that cannot be loaded or used; the message says what to change."""


def _weights_digest(folder: Path) -> str:
    """A digest over every weight file of the pipeline folder: new weights, new cache key."""
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".safetensors", ".bin"})
    if not files:
        raise ImaginerError(f"{folder} holds no .safetensors / .bin weights: is it a save_pretrained folder?")
    return "-".join(file_digest(p)[:8] for p in files)


@register_encoder("mola_svd")
class SVDImaginer(Encoder):
    """``(N, 3, H, W)`` uint8 frames -> ``(N, 2, 3, size, size)`` float: [current frame, imagined frame at t + k].

    ``num_inference_steps`` = 1 is the paper's (§3.2, Table 10); ``num_frames`` the clip length the model generates
    (Table 7b: 16 in pretraining); ``frame_index`` which generated frame stands for ``t + k`` (default: the last).
    ``size`` is the side the pair is returned at (the experts' input; SVD itself runs at ``model_size``).
    """

    def __init__(
        self,
        path: str,
        size: int = 128,
        model_size: int | None = None,
        num_frames: int = 16,
        frame_index: int = -1,
        num_inference_steps: int = 1,
        seed: int = 0,
        device: str | None = None,
    ) -> None:
        super().__init__()
        from diffusers import StableVideoDiffusionPipeline

        folder = Path(os.path.expanduser(path))
        if not (folder / "model_index.json").is_file():
            raise ImaginerError(
                f"imagination path {path!r} is not a diffusers pipeline folder (no model_index.json): save one with "
                "StableVideoDiffusionPipeline.save_pretrained, or download stabilityai/stable-video-diffusion-img2vid "
                "on a machine with network and give its folder"
            )
        if num_inference_steps < 1 or num_frames < 1 or not -num_frames <= frame_index < num_frames:
            raise ImaginerError(
                f"need num_inference_steps >= 1, num_frames >= 1 and frame_index in [-num_frames, num_frames); got "
                f"{num_inference_steps}, {num_frames}, {frame_index}"
            )
        self.pipe = StableVideoDiffusionPipeline.from_pretrained(str(folder))
        self.pipe.set_progress_bar_config(disable=True)
        for module in (self.pipe.unet, self.pipe.vae, self.pipe.image_encoder):
            module.eval().requires_grad_(False)
        # registered as submodules so .to(device) moves them; never saved with a method (built from config)
        self.unet, self.vae, self.image_encoder = self.pipe.unet, self.pipe.vae, self.pipe.image_encoder
        self.size = int(size)
        scale = self.pipe.vae_scale_factor
        self.model_size = int(model_size or self.pipe.unet.config.sample_size * scale)
        self.num_frames, self.frame_index = int(num_frames), int(frame_index)
        self.num_inference_steps, self.seed = int(num_inference_steps), int(seed)
        self.output_dim = 2 * 3 * self.size * self.size
        self.feature_id = (
            f"mola_svd:{_weights_digest(folder)}:size={self.size}:model={self.model_size}:frames={self.num_frames}"
            f":index={self.frame_index}:steps={self.num_inference_steps}:seed={self.seed}"
        )
        if device is not None:
            self.to(device)

    @property
    def device(self) -> torch.device:
        return next(self.unet.parameters()).device

    @torch.no_grad()
    def imagine(self, frames: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` uint8 -> ``(N, 3, size, size)`` float in [0, 1]: the imagined frame at ``t + k``."""
        device = self.device
        images = frames.to(device).float() / 255.0
        # the pipeline hands a tensor to its CLIP image encoder unresized (and resizes it itself for the VAE)
        clip = self.image_encoder.config.image_size
        images = F.interpolate(images, size=(clip, clip), mode="bilinear", antialias=True)
        generators = [torch.Generator(device=device).manual_seed(self.seed) for _ in range(len(images))]
        video = self.pipe(
            images.clamp(0, 1),
            height=self.model_size,
            width=self.model_size,
            num_frames=self.num_frames,
            num_inference_steps=self.num_inference_steps,
            min_guidance_scale=1.0,  # no classifier-free guidance: one network evaluation per step
            max_guidance_scale=1.0,
            decode_chunk_size=self.num_frames,
            generator=generators,
            output_type="pt",
        ).frames  # (N, F, 3, h, w) in [0, 1]
        future = video[:, self.frame_index].float()
        return F.interpolate(future, size=(self.size, self.size), mode="bilinear", antialias=True).clamp(0, 1)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        current = F.interpolate(
            images.to(self.device).float() / 255.0, size=(self.size, self.size), mode="bilinear", antialias=True
        )
        return torch.stack([current.clamp(0, 1), self.imagine(images)], dim=1)

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        """SVD is conditioned on the image only: instructions add nothing (an empty embedding per row)."""
        return torch.zeros(len(texts), 0)


# ------------------------------------------------------------------------------------------- tiny random model


def _write_tiny_svd(folder: Path) -> None:
    """A StableVideoDiffusionPipeline in the released layout, about 1.5 million random weights (16x16, 2 frames)."""
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    unet = UNetSpatioTemporalConditionModel(
        sample_size=8,
        in_channels=8,
        out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        block_out_channels=(32, 64),
        layers_per_block=1,
        cross_attention_dim=16,
        num_attention_heads=(2, 4),
        transformer_layers_per_block=1,
        projection_class_embeddings_input_dim=3 * 8,
        addition_time_embed_dim=8,
    )
    vae = AutoencoderKLTemporalDecoder(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        block_out_channels=(32, 32),
        layers_per_block=1,
        latent_channels=4,
    )
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=16,
            projection_dim=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            image_size=32,
            patch_size=16,
        )
    )
    scheduler = EulerDiscreteScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        prediction_type="v_prediction",
        interpolation_type="linear",
        use_karras_sigmas=True,
        sigma_min=0.002,
        sigma_max=700.0,
        timestep_spacing="leading",
        timestep_type="continuous",
        final_sigmas_type="zero",
    )
    processor = CLIPImageProcessor(crop_size=32, size={"shortest_edge": 32})
    StableVideoDiffusionPipeline(
        vae=vae, image_encoder=encoder, unet=unet, scheduler=scheduler, feature_extractor=processor
    ).save_pretrained(folder)


@register_encoder("mola_svd_tiny")
class TinySVDImaginer(SVDImaginer):
    """:class:`SVDImaginer` on the tiny random pipeline (16x16, 2 frames): shapes and plumbing, no meaning."""

    def __init__(self, size: int = 32, num_frames: int = 2, seed: int = 0, device: str | None = None) -> None:
        folder = tiny_model("mola_svd", _write_tiny_svd)
        super().__init__(folder, size=size, num_frames=num_frames, seed=seed, device=device)
