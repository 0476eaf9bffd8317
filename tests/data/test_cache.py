"""Feature cache: same values as encoding on the fly, rebuilt when a key part changes, reused, resumable."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from foresight.data.cache import FeatureCache, ensure_feature_cache, feature_extras, main
from foresight.data.config import DataConfig
from foresight.data.normalize import Normalizer
from foresight.data.source import DataError, EpisodeDataset, info_from_episodes, open_dataset
from foresight.data.windows import WindowDataset
from foresight.encoders import register_encoder
from foresight.interfaces import Encoder
from foresight.types import DataSpec, Episode, FeatureSpec, feature_key, image_key


@register_encoder("test_tiny_conv")
class TinyConv(Encoder):
    """A random-weight conv net with a fixed seed: deterministic, and counts (or fails) its calls."""

    output_dim = 6

    def __init__(self, seed: int = 0, fail_after: int | None = None) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        self.conv = nn.Conv2d(3, 6, 3, stride=2)
        self.words = nn.Embedding(256, 6)
        with torch.no_grad():
            for p in self.parameters():
                p.copy_(torch.randn(p.shape, generator=generator))
        self.fail_after = fail_after
        self.image_calls = 0
        self.text_calls = 0
        self.feature_id = f"test_tiny_conv:seed{seed}"

    def encode_images(self, images: torch.Tensor) -> torch.Tensor:
        if self.fail_after is not None and self.image_calls >= self.fail_after:
            raise KeyboardInterrupt("simulated interruption")
        self.image_calls += 1
        assert images.dtype == torch.uint8
        return torch.relu(self.conv(images.float() / 255)).mean(dim=(2, 3))

    def encode_text(self, texts):
        self.text_calls += 1
        return torch.stack([self.words(torch.tensor(list(t.encode()))).mean(0) for t in texts])


LENGTHS = (5, 7, 4)
INSTRUCTIONS = ("stack the cups", "open the drawer", "stack the cups")


def make_dataset(fingerprint: str = "fp-A", seed: int = 0) -> EpisodeDataset:
    rng = np.random.default_rng(seed)
    episodes = [
        Episode(
            episode_id=f"ep{i}",
            task=text.replace(" ", "_"),
            instruction=text,
            actions=rng.normal(size=(n, 2)).astype(np.float32),
            proprio={"state": rng.normal(size=(n, 3)).astype(np.float32)},
            images={
                "front": rng.integers(0, 256, size=(n, 16, 16, 3), dtype=np.uint8),
                "wrist": rng.integers(0, 256, size=(n, 10, 12, 3), dtype=np.uint8),
            },
        )
        for i, (n, text) in enumerate(zip(LENGTHS, INSTRUCTIONS, strict=True))
    ]
    return EpisodeDataset(episodes, info_from_episodes(episodes), fingerprint, "memory", cache_dir=None)


SPEC = FeatureSpec(name="tiny", encoder="test_tiny_conv", sources=("front", "wrist", "instruction"))


def test_cached_features_equal_on_the_fly(tmp_path):
    ds = make_dataset()
    encoder = TinyConv()
    cache = ensure_feature_cache(ds, SPEC, batch_size=3, encoder=encoder, root=tmp_path, progress=False).bind(ds)
    reference = TinyConv()
    for e, n in enumerate(LENGTHS):
        frames = [n - 1, 0, 2, 2]
        for view in ("front", "wrist"):
            pixels = torch.from_numpy(ds.episodes[e].images[view][frames]).permute(0, 3, 1, 2)
            expected = reference.encode_images(pixels).detach().numpy()
            np.testing.assert_allclose(cache.lookup(e, frames, view), expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(
            cache.instruction(e), reference.encode_text([INSTRUCTIONS[e]]).detach().numpy()[0]
        )
    manifest = json.loads((cache.directory / "manifest.json").read_text())
    assert manifest["sources"]["front"] == {"shape": [6], "dtype": "float32", "complete": True}
    assert manifest["instructions"] == ["stack the cups", "open the drawer"]  # unique, in order of appearance
    assert encoder.image_calls == sum(-(-n // 3) for n in LENGTHS) * 2  # per-episode batches of 3, two views


def test_second_call_reuses_without_encoding(tmp_path):
    ds = make_dataset()
    first = ensure_feature_cache(ds, SPEC, encoder=TinyConv(), root=tmp_path, progress=False)
    again = TinyConv()
    second = ensure_feature_cache(make_dataset(), SPEC, encoder=again, root=tmp_path, progress=False)
    assert (again.image_calls, again.text_calls) == (0, 0)
    assert second.directory == first.directory
    np.testing.assert_array_equal(second.lookup(1, [0, 6], "wrist"), first.lookup(1, [0, 6], "wrist"))


def test_built_from_the_registry_when_no_instance_is_given(tmp_path):
    ds = make_dataset()
    spec = FeatureSpec(name="tiny", encoder="test_tiny_conv", sources=("front",), kwargs=(("seed", 3),))
    cache = ensure_feature_cache(ds, spec, root=tmp_path, progress=False)
    assert cache.key["feature_id"] == "test_tiny_conv:seed3"
    pixels = torch.from_numpy(ds.episodes[0].images["front"][[1]]).permute(0, 3, 1, 2)
    np.testing.assert_allclose(
        cache.lookup(0, [1], "front"), TinyConv(seed=3).encode_images(pixels).detach(), atol=1e-6
    )


def test_rebuilt_after_an_encoder_change(tmp_path):
    ds = make_dataset()
    old = ensure_feature_cache(ds, SPEC, encoder=TinyConv(seed=0), root=tmp_path, progress=False)
    changed = TinyConv(seed=1)
    new = ensure_feature_cache(ds, SPEC, encoder=changed, root=tmp_path, progress=False)
    assert new.directory != old.directory and changed.image_calls > 0
    assert not np.allclose(new.lookup(0, [0], "front"), old.lookup(0, [0], "front"))


def test_rebuilt_after_a_dataset_change(tmp_path):
    old = ensure_feature_cache(make_dataset("fp-A"), SPEC, encoder=TinyConv(), root=tmp_path, progress=False)
    encoder = TinyConv()
    changed = make_dataset("fp-B", seed=5)
    new = ensure_feature_cache(changed, SPEC, encoder=encoder, root=tmp_path, progress=False)
    assert new.directory != old.directory and encoder.image_calls > 0
    pixels = torch.from_numpy(changed.episodes[2].images["front"][[3]]).permute(0, 3, 1, 2)
    np.testing.assert_allclose(new.lookup(2, [3], "front"), TinyConv().encode_images(pixels).detach(), atol=1e-6)


def test_manifest_for_another_key_is_replaced(tmp_path):
    ds = make_dataset()
    cache = ensure_feature_cache(ds, SPEC, encoder=TinyConv(), root=tmp_path, progress=False)
    manifest = json.loads((cache.directory / "manifest.json").read_text())
    manifest["key"]["feature_id"] = "something else"
    (cache.directory / "manifest.json").write_text(json.dumps(manifest))
    encoder = TinyConv()
    rebuilt = ensure_feature_cache(ds, SPEC, encoder=encoder, root=tmp_path, progress=False)
    assert rebuilt.directory == cache.directory and encoder.image_calls > 0
    assert rebuilt.key["feature_id"] == "test_tiny_conv:seed0"


def test_deleted_source_file_is_rebuilt_alone(tmp_path):
    ds = make_dataset()
    cache = ensure_feature_cache(ds, SPEC, batch_size=4, encoder=TinyConv(), root=tmp_path, progress=False)
    before = np.load(cache.directory / "wrist.npy")
    (cache.directory / "wrist.npy").unlink()
    encoder = TinyConv()
    ensure_feature_cache(ds, SPEC, batch_size=4, encoder=encoder, root=tmp_path, progress=False)
    assert (encoder.image_calls, encoder.text_calls) == (2 + 2 + 1, 0)  # wrist only, batches of 4
    np.testing.assert_array_equal(np.load(cache.directory / "wrist.npy"), before)


def test_interrupted_build_resumes_to_identical_results(tmp_path):
    ds = make_dataset()
    reference = ensure_feature_cache(ds, SPEC, batch_size=3, encoder=TinyConv(), root=tmp_path / "a", progress=False)
    with pytest.raises(KeyboardInterrupt):
        ensure_feature_cache(
            ds, SPEC, batch_size=3, encoder=TinyConv(fail_after=4), root=tmp_path / "b", progress=False
        )
    partial = next((tmp_path / "b").iterdir())
    done = np.load(partial / "front.done.npy")
    assert done.tolist() == [True, False, False]  # episode 0 (2 batches) done; episode 1 died after 2 of 3 batches
    resumed_encoder = TinyConv()
    resumed = ensure_feature_cache(ds, SPEC, batch_size=3, encoder=resumed_encoder, root=tmp_path / "b", progress=False)
    assert resumed_encoder.image_calls == (3 + 2) + (2 + 3 + 2)  # front: episodes 1, 2; wrist: all three
    for source in ("front", "wrist", "instruction"):
        np.testing.assert_array_equal(
            np.load(resumed.directory / f"{source}.npy"), np.load(reference.directory / f"{source}.npy")
        )


def test_bad_sources_and_uncacheable_encoders(tmp_path):
    ds = make_dataset()
    with pytest.raises(DataError, match=r"source 'side' is not a view of memory; expected one of \['front', 'wrist'\]"):
        ensure_feature_cache(ds, FeatureSpec("t", "test_tiny_conv", ("side",)), encoder=TinyConv(), root=tmp_path)
    unkeyed = TinyConv()
    unkeyed.feature_id = None
    with pytest.raises(DataError, match="has no feature_id, so its outputs cannot be cached"):
        ensure_feature_cache(ds, SPEC, encoder=unkeyed, root=tmp_path)

    class TextOnly(TinyConv):
        def encode_images(self, images):
            raise TypeError("encoder 'text_only' encodes text only")

    with pytest.raises(DataError, match=r"cannot cache features of view 'front': encoder 'text_only' encodes text"):
        ensure_feature_cache(ds, SPEC, encoder=TextOnly(), root=tmp_path, progress=False)


def test_cache_for_another_dataset_is_refused(tmp_path):
    cache = ensure_feature_cache(make_dataset(), SPEC, encoder=TinyConv(), root=tmp_path, progress=False)
    with pytest.raises(DataError, match="was built for another dataset"):
        cache.bind(make_dataset("fp-other"))
    with pytest.raises(IndexError, match=r"frames \[7\] out of range for episode 0 of length 5"):
        cache.lookup(0, [7], "front")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo")
    cfg = DataConfig(name="demo", format="demo", path=str(path), val_fraction=0.0)
    cfg.demo.episodes_per_task, cfg.demo.length, cfg.demo.image_size = 2, 14, 32
    return open_dataset(cfg)


def test_window_dataset_reads_cached_features_with_clad_offsets(demo, tmp_path):
    """CLaD's spec (obs t-6, t, t+6): cached features at the clamped frames equal encoding the pixel sample."""
    feature = FeatureSpec(name="tiny", encoder="test_tiny_conv", sources=("agentview", "wrist", "instruction"))
    pixel_spec = DataSpec(obs_offsets=(-6, 0, 6), action_offsets=tuple(range(-6, 6)), views=("agentview", "wrist"))
    cached_spec = DataSpec(
        obs_offsets=(-6, 0, 6),
        action_offsets=tuple(range(-6, 6)),
        views=("agentview", "wrist"),
        features=(feature,),
        load_pixels=False,
    )
    norm = Normalizer.from_dataset(demo, pixel_spec, cache=False)
    extras = feature_extras(demo, cached_spec, root=tmp_path, progress=False)
    pixels = WindowDataset(demo, pixel_spec, norm)
    cached = WindowDataset(demo, cached_spec, norm, extras=[pickle.loads(pickle.dumps(e)) for e in extras])
    encoder = TinyConv()
    last = demo.episodes[0].length - 1
    for index in (0, 3, last, last + 2):  # both ends of episode 0 and an anchor in episode 1
        p, c = pixels[index], cached[index]
        assert image_key("agentview") not in c and image_key("agentview") in p
        torch.testing.assert_close(c["observation.is_pad"], p["observation.is_pad"])
        torch.testing.assert_close(c["action"], p["action"])
        for view in ("agentview", "wrist"):
            expected = encoder.encode_images(p[image_key(view)]).detach()
            assert c[feature_key("tiny", view)].shape == (3, 6)
            torch.testing.assert_close(c[feature_key("tiny", view)], expected, rtol=1e-5, atol=1e-6)
        expected_text = encoder.encode_text([p["instruction"]]).detach()[0]
        torch.testing.assert_close(c[feature_key("tiny", "instruction")], expected_text)


def test_command_line_builds_then_reuses(demo, tmp_path, capsys):
    args = [
        "encoder=test_tiny_conv",
        "encoder.seed=2",
        "data=demo",
        f"data.path={demo.source.removeprefix('demo:')}",
        "data.demo.episodes_per_task=2",
        "data.demo.length=14",
        "data.demo.image_size=32",
        f"root={tmp_path}",
        "sources=[agentview,instruction]",
        "batch_size=5",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "4 episodes, 56 frames, sources ['agentview', 'instruction']" in out
    directory = next(tmp_path.iterdir())
    cache = FeatureCache(directory)
    assert cache.key["feature_id"] == "test_tiny_conv:seed2"
    frames = np.load(directory / "agentview.npy", mmap_mode="r")
    assert frames.shape == (56, 6) and not np.isnan(frames).any()
    assert main([*args, "sourcez=[x]"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("foresight data cache: error: unknown key 'sourcez' in cache. Did you mean 'sources'?")
