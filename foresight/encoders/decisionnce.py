"""Frozen DecisionNCE encoder (Li et al., ICML 2024): the vision-language model CLaD uses (paper §4.1, §5.1).

DecisionNCE is OpenAI CLIP **RN50** (ModifiedResNet image tower, 12-layer text transformer, 1024-d joint space,
~102M parameters: the paper's "VLM: 0.1B") fine-tuned on EpicKitchen-100 with an implicit-preference objective.
Its weights are not on a model hub; the user downloads them once and passes the file:

* ``DecisionNCE-T`` (the variant the CLaD development fork loads) and ``DecisionNCE-P`` are linked from the
  "Model Zoo" table of https://github.com/2toinf/DecisionNCE (Google Drive files ``14wn2R5ZDNujSq9Tsaeuy6fJNr6zM5l7E``
  and ``1LmDHaKMZCv9QT89dWubZ8dRo6qwpVMYo``). The file is a ``torch.save`` of the state dict of DecisionNCE's
  ``CLIPBasedEncoder`` (keys ``model.visual.*``, ``model.transformer.*``, ...; optionally wrapped in
  ``{"model": ...}``), which :func:`torch.load` reads with ``weights_only=True``. A ``.safetensors`` re-save of
  the same keys loads too.

The RN50 architecture and the CLIP BPE tokenizer come from ``open_clip`` (``pip install open_clip_torch``), which
rebuilds an OpenAI-layout CLIP from its state dict, so no OpenAI ``clip`` package or download is needed.
Preprocessing is DecisionNCE's tensor path: bicubic resize of the short side to the model's input resolution,
centre crop, CLIP mean/std normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch
from torchvision.transforms.v2 import functional as TF

from foresight.encoders.digest import file_digest
from foresight.encoders.registry import register_encoder
from foresight.interfaces import Encoder

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
VARIANTS = ("DecisionNCE-T", "DecisionNCE-P")
_PREFIXES = ("module.model.", "model.", "module.")


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The OpenAI-layout CLIP state dict inside a DecisionNCE checkpoint, prefixes stripped.

    DecisionNCE loads its file with ``strict=False``, which would silently keep random or OpenAI weights if the
    keys did not match; here a file without the expected keys is an error that names what it does hold.
    """
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("model"), dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"DecisionNCE checkpoint {path} holds a {type(state).__name__}, not a state dict")
    cleaned: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for prefix in _PREFIXES:
            if key.startswith(prefix):
                key = key[len(prefix) :]
                break
        cleaned[key] = value
    required = ("visual.attnpool.positional_embedding", "token_embedding.weight", "text_projection")
    missing = [k for k in required if k not in cleaned]
    if missing:
        sample = sorted(state)[:5]
        raise ValueError(
            f"DecisionNCE checkpoint {path} is not a CLIP-RN state dict: missing {missing}; its first keys are "
            f"{sample}. Expected the file linked from github.com/2toinf/DecisionNCE (DecisionNCE-T or -P)."
        )
    # DecisionNCE deletes CLIP's logit temperature; open_clip's CLIP has one, and it plays no part in encoding.
    cleaned.setdefault("logit_scale", torch.tensor(math.log(1 / 0.07)))
    return cleaned


@register_encoder("decisionnce")
class DecisionNCEEncoder(Encoder):
    """DecisionNCE image and instruction embeddings (1024-d for the released RN50 checkpoints)."""

    def __init__(self, checkpoint: str, variant: str = "DecisionNCE-T") -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"unknown DecisionNCE variant {variant!r}; expected one of {VARIANTS}")
        path = Path(checkpoint).expanduser()
        if not path.is_file():
            raise FileNotFoundError(
                f"DecisionNCE checkpoint {path} does not exist. Download {variant} from the Model Zoo of "
                "https://github.com/2toinf/DecisionNCE and pass its path as checkpoint=..."
            )
        try:
            from open_clip import tokenizer as oc_tokenizer
            from open_clip.model import build_model_from_openai_state_dict
        except ImportError:
            raise ImportError(
                "encoder 'decisionnce' needs open_clip for the RN50 architecture: pip install open_clip_torch"
            ) from None
        state = read_state_dict(path)
        if "visual.proj" in state:
            raise ValueError(f"{path} holds a ViT CLIP; DecisionNCE releases are RN50 (ModifiedResNet) models")
        model = build_model_from_openai_state_dict(dict(state), cast_dtype=torch.float32).float()
        # open_clip loads into a half-precision model (OpenAI's own files are fp16); DecisionNCE's weights are fp32,
        # so they are loaded again into the float model to keep every bit, as DecisionNCE's own loader does.
        model.load_state_dict(state)
        self.model = model.eval().requires_grad_(False)
        self._tokenize = oc_tokenizer.tokenize
        self.context_length = int(state["positional_embedding"].shape[0])
        self.image_size = int(self.model.visual.image_size)
        self.output_dim = int(state["text_projection"].shape[1])
        self.feature_id = (
            f"decisionnce:{variant}:sha256-{file_digest(path)[:16]}:rn-clip:bicubic{self.image_size}-centercrop"
        )

    def train(self, mode: bool = True) -> DecisionNCEEncoder:
        """Stays in eval mode: the RN50 tower has batch norms whose statistics must not move."""
        return super().train(False)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """DecisionNCE's ``transforms_tensor``: /255, bicubic resize (short side), centre crop, CLIP normalise."""
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"encode_images takes (N, 3, H, W) uint8 images, got {tuple(images.shape)} {images.dtype}")
        x = images.float() / 255.0
        x = TF.resize(x, [self.image_size], interpolation=TF.InterpolationMode.BICUBIC, antialias=False)
        x = TF.center_crop(x, [self.image_size, self.image_size])
        return TF.normalize(x, CLIP_MEAN, CLIP_STD)

    @torch.no_grad()
    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        device = self.model.token_embedding.weight.device
        return self.model.encode_image(self.preprocess(images.to(device))).float()

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("encode_text takes a list of instructions, not a single string")
        device = self.model.token_embedding.weight.device
        tokens = self._tokenize(list(texts), context_length=self.context_length)
        return self.model.encode_text(tokens.to(device)).float()
