"""The ``dreamvla_tiny`` preset's frozen encoders: random-weight CLIP text and MAE ViT models of the real
architectures, written with ``save_pretrained`` under ``$FORESIGHT_CACHE/teachers/tiny/`` on first use and loaded
back through ``from_pretrained`` like a user's own weights. Their outputs mean nothing; smoke runs only::

    python -m foresight.train method=dreamvla_tiny data=demo
"""

from __future__ import annotations

import json
from pathlib import Path

from foresight.teachers.tiny import tiny_model

TINY_IMAGE_SIZE = 32


def _clip_tokenizer_files(folder: Path) -> None:
    """CLIP's BPE (open_clip ships it) as a transformers CLIPTokenizer: same ids as the released tokenizer."""
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    bpe = SimpleTokenizer()
    rename = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {rename.get(token, token): index for token, index in bpe.encoder.items()}
    merges = sorted(bpe.bpe_ranks, key=bpe.bpe_ranks.get)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)


def _clip_text(folder: Path) -> None:
    from transformers import CLIPTextConfig, CLIPTextModel

    folder.mkdir(parents=True)
    _clip_tokenizer_files(folder)
    config = CLIPTextConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2, max_position_embeddings=32
    )
    CLIPTextModel(config).save_pretrained(folder)


def _vit_mae(folder: Path) -> None:
    from transformers import ViTMAEConfig, ViTMAEModel

    config = ViTMAEConfig(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=TINY_IMAGE_SIZE,
        patch_size=8,
        mask_ratio=0.0,
    )
    ViTMAEModel(config).save_pretrained(folder)


BUILDERS = {"clip_text": _clip_text, "vit_mae": _vit_mae}


def tiny_encoder_folder(kind: str) -> Path:
    """The folder of the tiny ``clip_text`` or ``vit_mae`` model, written once (atomically) with a fixed seed."""
    if kind not in BUILDERS:
        raise KeyError(f"no tiny DreamVLA encoder {kind!r}; expected one of {sorted(BUILDERS)}")
    return Path(tiny_model(f"dreamvla_{kind}", BUILDERS[kind]))
