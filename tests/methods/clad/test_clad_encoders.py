"""Frozen VLM encoders for CLaD: DecisionNCE (RN50 CLIP via open_clip), CLIP and SigLIP (transformers).

Every model is a tiny random-weight one written to tmp_path and loaded back through the real loading code.
"""

from __future__ import annotations

import pytest
import torch
import torchvision.transforms as T

from foresight.encoders import build_encoder
from foresight.encoders.decisionnce import CLIP_MEAN, CLIP_STD
from foresight.methods.clad.tiny import write_tiny_decisionnce

TEXTS = ["put the bowl in the drawer", "open it"]


def images(n: int = 2, h: int = 48, w: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


# ---------------------------------------------------------------------------------------------- DecisionNCE
@pytest.fixture(scope="module")
def dnce_path(tmp_path_factory):
    return write_tiny_decisionnce(tmp_path_factory.mktemp("dnce") / "DecisionNCE-T.pth")


def test_decisionnce_matches_open_clip_with_decisionnces_preprocessing(dnce_path):
    import open_clip
    from open_clip.model import build_model_from_openai_state_dict

    encoder = build_encoder("decisionnce", checkpoint=str(dnce_path))
    raw = torch.load(dnce_path, weights_only=True)["model"]
    state = {k.removeprefix("model."): v for k, v in raw.items()}
    reference = build_model_from_openai_state_dict(dict(state, logit_scale=torch.tensor(0.0)), cast_dtype=None)
    reference = reference.float()
    reference.load_state_dict(dict(state, logit_scale=torch.tensor(0.0)))
    reference.eval()

    x = images(h=80, w=96)
    # DecisionNCE's transforms_tensor: /255, Resize(short side, bicubic, antialias=None), CenterCrop, Normalize
    prep = T.Compose([T.Resize(64, interpolation=T.InterpolationMode.BICUBIC, antialias=False), T.CenterCrop(64)])
    pixels = T.Normalize(CLIP_MEAN, CLIP_STD)(prep(x.float() / 255))
    with torch.no_grad():
        torch.testing.assert_close(encoder.encode_images(x), reference.encode_image(pixels))
        tokens = open_clip.tokenize(TEXTS, context_length=16)
        torch.testing.assert_close(encoder.encode_text(TEXTS), reference.encode_text(tokens))
    assert encoder.output_dim == 32 and encoder.encode_images(x).shape == (2, 32)


def test_decisionnce_loads_every_checkpoint_layout_with_identical_weights(dnce_path, tmp_path):
    from safetensors.torch import save_file

    reference = build_encoder("decisionnce", checkpoint=str(dnce_path))
    state = torch.load(dnce_path, weights_only=True)["model"]
    bare = {k.removeprefix("model."): v for k, v in state.items()}
    torch.save(bare, tmp_path / "bare.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "dnce.safetensors"))
    x = images()
    for path in (tmp_path / "bare.pth", tmp_path / "dnce.safetensors"):
        other = build_encoder("decisionnce", checkpoint=str(path))
        torch.testing.assert_close(other.encode_images(x), reference.encode_images(x))
        assert other.feature_id.split(":sha256-")[0] == reference.feature_id.split(":sha256-")[0]


def test_decisionnce_is_frozen_and_its_feature_id_follows_the_weights(dnce_path, tmp_path):
    encoder = build_encoder("decisionnce", checkpoint=str(dnce_path))
    assert all(not p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.training and not encoder.model.visual.bn1.training  # batch norms keep their statistics
    retrained = write_tiny_decisionnce(tmp_path / "other.pth", seed=1)
    assert build_encoder("decisionnce", checkpoint=str(retrained)).feature_id != encoder.feature_id


def test_decisionnce_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.pth does not exist.*2toinf/DecisionNCE"):
        build_encoder("decisionnce", checkpoint=str(tmp_path / "missing.pth"))
    torch.save({"model": {"fc.weight": torch.zeros(2, 2)}}, tmp_path / "wrong.pth")
    with pytest.raises(ValueError, match=r"wrong\.pth is not a CLIP-RN state dict: missing .*fc\.weight"):
        build_encoder("decisionnce", checkpoint=str(tmp_path / "wrong.pth"))
    with pytest.raises(ValueError, match="unknown DecisionNCE variant 'DecisionNCE-X'"):
        build_encoder("decisionnce", checkpoint=str(tmp_path / "wrong.pth"), variant="DecisionNCE-X")
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\) uint8"):
        build_encoder("decisionnce", checkpoint=str(write_tiny_decisionnce(tmp_path / "t.pth"))).encode_images(
            torch.zeros(2, 3, 8, 8)
        )


# ------------------------------------------------------------------------------------------- CLIP / SigLIP
def save_tokenizer(folder) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["[PAD]", "[UNK]", "[BOS]", "[EOS]", *sorted({w for t in TEXTS for w in t.split()})]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]"
    ).save_pretrained(folder)


TOWER = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1, "num_attention_heads": 2}


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

    folder = tmp_path_factory.mktemp("clip")
    torch.manual_seed(0)
    text = dict(TOWER, vocab_size=16, max_position_embeddings=64, bos_token_id=2, eos_token_id=3, pad_token_id=0)
    config = CLIPConfig(text_config=text, vision_config=dict(TOWER, image_size=32, patch_size=8), projection_dim=24)
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    save_tokenizer(folder)
    return folder


@pytest.fixture(scope="module")
def siglip_dir(tmp_path_factory):
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    folder = tmp_path_factory.mktemp("siglip")
    torch.manual_seed(0)
    config = SiglipConfig(
        text_config=dict(TOWER, vocab_size=16, max_position_embeddings=64),
        vision_config=dict(TOWER, image_size=32, patch_size=8),
    )
    SiglipModel(config).save_pretrained(folder)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    save_tokenizer(folder)
    return folder


def reference_features(folder, kind: str, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The model card's recipe: processor + tokenizer + get_*_features, straight from transformers."""
    from transformers import AutoImageProcessor, AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(folder).eval()
    pixels = AutoImageProcessor.from_pretrained(folder)(images=list(x), return_tensors="pt")["pixel_values"]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if kind == "siglip":
        tokens = tokenizer(TEXTS, padding="max_length", max_length=64, return_tensors="pt")
        text_inputs = {"input_ids": tokens["input_ids"]}
    else:
        tokens = tokenizer(TEXTS, padding=True, return_tensors="pt")
        text_inputs = {"input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}
    with torch.no_grad():
        image = model.get_image_features(pixel_values=pixels)
        text = model.get_text_features(**text_inputs)
    pooled = [f if isinstance(f, torch.Tensor) else f.pooler_output for f in (image, text)]
    return pooled[0], pooled[1]


@pytest.mark.parametrize("kind", ["clip", "siglip"])
def test_hf_encoders_match_the_model_card_recipe(kind, clip_dir, siglip_dir):
    folder = clip_dir if kind == "clip" else siglip_dir
    encoder = build_encoder(kind, model_path=str(folder))
    x = images()
    ref_image, ref_text = reference_features(folder, kind, x)
    torch.testing.assert_close(encoder.encode_images(x), ref_image)
    torch.testing.assert_close(encoder.encode_text(TEXTS), ref_text)
    assert encoder.output_dim == ref_image.shape[-1] == ref_text.shape[-1]
    assert encoder.feature_id.startswith(f"{kind}:sha256-")
    encoder.train()
    assert not encoder.model.training and all(not p.requires_grad for p in encoder.parameters())


def test_hf_encoder_errors(clip_dir, siglip_dir, tmp_path):
    with pytest.raises(TypeError, match=r"encoder 'clip' needs a folder holding one of \('CLIPModel',\).*SiglipModel"):
        build_encoder("clip", model_path=str(siglip_dir))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_encoder("siglip", model_path=str(tmp_path / "nowhere"))
    with pytest.raises(TypeError, match="list of instructions"):
        build_encoder("clip", model_path=str(clip_dir)).encode_text("open it")


def test_feature_id_changes_when_the_weights_change(clip_dir, tmp_path):
    import shutil

    from transformers import CLIPModel

    copy = tmp_path / "clip"
    shutil.copytree(clip_dir, copy)
    same = build_encoder("clip", model_path=str(copy)).feature_id
    assert same == build_encoder("clip", model_path=str(clip_dir)).feature_id  # the id is content, not path
    model = CLIPModel.from_pretrained(copy)
    with torch.no_grad():
        model.visual_projection.weight.add_(1.0)
    model.save_pretrained(copy)
    assert build_encoder("clip", model_path=str(copy)).feature_id != same
