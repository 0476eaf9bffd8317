"""Frozen CLIP and SigLIP vision-language encoders, loaded through transformers.

These are the drop-in alternatives to DecisionNCE (:mod:`foresight.encoders.decisionnce`) for methods that fuse an
image embedding with an instruction embedding in one shared space (CLaD's semantic state, paper §4.1). Any folder
written by ``save_pretrained`` (model + tokenizer + image processor) or any hub id already in the local cache
loads; nothing here downloads unless the caller's environment allows hub access.

Outputs are the models' projected embeddings (``get_image_features`` / ``get_text_features``), not normalised:
the consumer decides how to normalise, and the raw vectors keep what the feature cache stores independent of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from foresight.encoders.digest import files_digest
from foresight.encoders.registry import register_encoder
from foresight.interfaces import Encoder

_WEIGHT_PATTERNS = ("*.safetensors", "*.bin")
_SIDE_FILES = (
    "config.json",
    "preprocessor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "spiece.model",
)


def resolve_model_dir(model_path: str) -> Path:
    """A local folder for ``model_path``: the folder itself, or the hub cache's snapshot of that repo id.

    The feature id hashes the weight files, so they must be on disk; with ``HF_HUB_OFFLINE=1`` a repo id that is
    not cached fails here with a message that says so rather than deep inside transformers.
    """
    folder = Path(model_path).expanduser()
    if folder.is_dir():
        return folder
    if folder.suffix or model_path.startswith((".", "/", "~")):
        raise FileNotFoundError(f"model folder {folder} does not exist (expected a save_pretrained folder or hub id)")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(model_path))
    except Exception as exc:
        raise FileNotFoundError(
            f"could not find {model_path!r} locally or in the Hugging Face cache ({type(exc).__name__}: {exc}); "
            "download it once with `huggingface-cli download` or pass a save_pretrained folder"
        ) from None


def weight_files(folder: Path) -> list[Path]:
    files = sorted(p for pattern in _WEIGHT_PATTERNS for p in folder.glob(pattern))
    if not files:
        raise FileNotFoundError(f"no weights (*.safetensors or *.bin) in model folder {folder}")
    return files


class HFVisionLanguageEncoder(Encoder):
    """Shared loading, preprocessing and feature-id logic for transformers dual encoders.

    Subclasses name the transformers model class and how the tokenizer pads: SigLIP was trained on text padded to
    a fixed 64 tokens and its text tower expects exactly that, CLIP pads to the longest instruction.
    """

    kind: str = ""
    model_class_names: tuple[str, ...] = ()
    text_padding: str | bool = True
    text_max_length: int | None = None
    pass_attention_mask: bool = True

    def __init__(self, model_path: str) -> None:
        super().__init__()
        from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

        folder = resolve_model_dir(model_path)
        self.model = AutoModel.from_pretrained(str(folder))
        if type(self.model).__name__ not in self.model_class_names:
            raise TypeError(
                f"encoder {self.kind!r} needs a folder holding one of {self.model_class_names}, "
                f"but {folder} holds a {type(self.model).__name__}"
            )
        self.model.eval().requires_grad_(False)
        self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
        self.image_processor = AutoImageProcessor.from_pretrained(str(folder))
        self.output_dim = int(self._projection_dim())
        side = [folder / name for name in _SIDE_FILES if (folder / name).is_file()]
        digest = files_digest([*weight_files(folder), *side])
        self.feature_id = f"{self.kind}:sha256-{digest}:projected"

    def _projection_dim(self) -> int:
        return self.model.config.projection_dim

    def train(self, mode: bool = True) -> HFVisionLanguageEncoder:
        """Stays in eval mode: a frozen encoder's dropout/batch-norm must not change with the caller's mode."""
        return super().train(False)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"encode_images takes (N, 3, H, W) uint8 images, got {tuple(images.shape)} {images.dtype}")
        device = next(self.model.parameters()).device
        pixels = self.image_processor(images=list(images), return_tensors="pt")["pixel_values"]
        return _pooled(self.model.get_image_features(pixel_values=pixels.to(device))).float()

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("encode_text takes a list of instructions, not a single string")
        device = next(self.model.parameters()).device
        tokens = self.tokenizer(
            list(texts),
            padding=self.text_padding,
            max_length=self.text_max_length,
            truncation=True,
            return_tensors="pt",
        )
        kwargs = {"input_ids": tokens["input_ids"].to(device)}
        if self.pass_attention_mask and "attention_mask" in tokens:
            kwargs["attention_mask"] = tokens["attention_mask"].to(device)
        return _pooled(self.model.get_text_features(**kwargs)).float()


def _pooled(output: torch.Tensor | object) -> torch.Tensor:
    """transformers 5 returns the projected embedding as ``pooler_output``; 4.x returned the tensor itself."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


@register_encoder("clip")
class CLIPEncoder(HFVisionLanguageEncoder):
    """OpenAI-style CLIP (e.g. ``openai/clip-vit-base-patch32``): 512-d shared image/text space."""

    kind = "clip"
    model_class_names = ("CLIPModel",)


@register_encoder("siglip")
class SiglipEncoder(HFVisionLanguageEncoder):
    """SigLIP / SigLIP 2 (e.g. ``google/siglip-base-patch16-224``).

    SigLIP's text tower was trained on text padded to 64 tokens without an attention mask (its model card pads
    with ``padding="max_length"``), so it is fed exactly that.
    """

    kind = "siglip"
    model_class_names = ("SiglipModel", "Siglip2Model")
    text_padding = "max_length"
    text_max_length = 64
    pass_attention_mask = False

    def _projection_dim(self) -> int:
        text = self.model.config.text_config
        return getattr(text, "projection_size", None) or text.hidden_size
