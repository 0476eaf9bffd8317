"""LeRobot reader on tiny v3.0 and v2.1 datasets written here in the official layout.

Layout and keys follow huggingface/lerobot ``src/lerobot/datasets/utils.py`` (v3.0 paths and episode metadata
columns) and ``scripts/convert_dataset_v21_to_v30.py`` (the v2.1 layout it converts from). Frames carry a
coloured block in their top-left corner whose colour encodes the frame's position in its video, so a decoded
frame identifies itself (within codec tolerance) and any flip moves the block.
"""

from __future__ import annotations

import gc
import io
import json
import multiprocessing
from pathlib import Path

import av
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from foresight.data import lerobot_media
from foresight.data.config import DataConfig
from foresight.data.lerobot import read_lerobot
from foresight.data.normalize import Normalizer
from foresight.data.options import LeRobotConfig
from foresight.data.source import DataError, open_dataset
from foresight.data.windows import WindowDataset
from foresight.types import DataSpec, image_key

FPS = 10
H, W = 48, 64
TASKS = ["put the bowl on the plate", "open the top drawer"]
LENGTHS = [7, 5, 6]  # three episodes
EP_TASK = [0, 1, 0]
TOL = 8  # uint8 levels: yuv420 + lossy codec on a flat block (measured max 4.2); neighbours differ by >= 15


def block_colour(position: int) -> np.ndarray:
    return np.array([40 + 20 * position % 200, 220 - 15 * position % 180, 60 + 35 * position % 190], dtype=np.uint8)


def make_frame(position: int) -> np.ndarray:
    frame = np.full((H, W, 3), 128, dtype=np.uint8)
    frame[: H // 2, : W // 2] = block_colour(position)
    return frame


def top_left(img: np.ndarray) -> np.ndarray:
    return img[4 : H // 2 - 4, 4 : W // 2 - 4].reshape(-1, 3).mean(0)


def top_right(img: np.ndarray) -> np.ndarray:
    return img[4 : H // 2 - 4, W // 2 + 4 : -4].reshape(-1, 3).mean(0)


def write_video(path: Path, frames: list[np.ndarray], codec: str, options: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for frame in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())


def action(ep: int, t: int) -> list[float]:
    return [ep * 100 + t + 0.01 * d for d in range(7)]


def state(ep: int, t: int) -> list[float]:
    return [-(ep * 100 + t) - 0.1 * d for d in range(8)]


def frame_columns(episodes: list[int], first_index: int, action_key: str, state_key: str, vector) -> dict:
    rows = [(ep, t) for ep in episodes for t in range(LENGTHS[ep])]
    return {
        action_key: pa.array([action(e, t) for e, t in rows], type=vector(7)),
        state_key: pa.array([state(e, t) for e, t in rows], type=vector(8)),
        "timestamp": pa.array([t / FPS for _, t in rows], type=pa.float32()),
        "frame_index": pa.array([t for _, t in rows], type=pa.int64()),
        "episode_index": pa.array([e for e, _ in rows], type=pa.int64()),
        "index": pa.array(range(first_index, first_index + len(rows)), type=pa.int64()),
        "task_index": pa.array([EP_TASK[e] for e, _ in rows], type=pa.int64()),
    }


def camera(dtype: str) -> dict:
    return {"dtype": dtype, "shape": [H, W, 3], "names": ["height", "width", "channels"]}


def vector_feature(n: int) -> dict:
    return {"dtype": "float32", "shape": [n], "names": None}


def index_features() -> dict:
    return {
        "timestamp": {"dtype": "float32", "shape": [1], "names": None},
        **{
            k: {"dtype": "int64", "shape": [1], "names": None}
            for k in ("frame_index", "episode_index", "index", "task_index")
        },
    }


def write_v30(root: Path) -> Path:
    """Episodes 0 and 1 share data and video file 000; episode 2 is in file 001 (v3.0 packs many per file)."""
    cams = ["observation.images.image", "observation.images.image2"]
    info = {
        "codebase_version": "v3.0",
        "robot_type": "panda",
        "total_episodes": 3,
        "total_frames": sum(LENGTHS),
        "total_tasks": 2,
        "chunks_size": 1000,
        "data_files_size_in_mb": 100,
        "video_files_size_in_mb": 200,
        "fps": FPS,
        "splits": {"train": "0:3"},
        "data_path": "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet",
        "video_path": "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4",
        "features": {
            **{k: camera("video") for k in cams},
            "observation.state": vector_feature(8),
            "action": vector_feature(7),
            **index_features(),
        },
    }
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    pq.write_table(pa.table({"task_index": [0, 1], "task": TASKS}), root / "meta" / "tasks.parquet")
    files = {0: [0, 1], 1: [2]}
    rows: dict[str, list] = {}
    first_index = 0
    for file_index, eps in files.items():
        columns = frame_columns(eps, first_index, "action", "observation.state", lambda n: pa.list_(pa.float32(), n))
        path = root / f"data/chunk-000/file-{file_index:03d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path)
        offset = 0
        for ep in eps:
            for key in cams:
                rows.setdefault(f"videos/{key}/chunk_index", []).append(0)
                rows.setdefault(f"videos/{key}/file_index", []).append(file_index)
                rows.setdefault(f"videos/{key}/from_timestamp", []).append(offset / FPS)
                rows.setdefault(f"videos/{key}/to_timestamp", []).append((offset + LENGTHS[ep]) / FPS)
            for key, value in (
                ("episode_index", ep),
                ("tasks", [TASKS[EP_TASK[ep]]]),
                ("length", LENGTHS[ep]),
                ("data/chunk_index", 0),
                ("data/file_index", file_index),
                ("dataset_from_index", first_index),
                ("dataset_to_index", first_index + LENGTHS[ep]),
                ("meta/episodes/chunk_index", 0),
                ("meta/episodes/file_index", 0),
                ("stats/action/mean", [0.0] * 7),
            ):
                rows.setdefault(key, []).append(value)
            offset += LENGTHS[ep]
            first_index += LENGTHS[ep]
        frames = [make_frame(p) for p in range(offset)]
        for cam_number, key in enumerate(cams):
            # camera 2 shows the mirror image, so a swapped camera mapping is caught
            cam_frames = frames if cam_number == 0 else [f[:, ::-1] for f in frames]
            path = root / f"videos/{key}/chunk-000/file-{file_index:03d}.mp4"
            write_video(path, cam_frames, "libsvtav1", {"g": "2", "crf": "30"})  # lerobot's default encoder
    (root / "meta/episodes/chunk-000").mkdir(parents=True)
    pq.write_table(pa.table(rows), root / "meta/episodes/chunk-000/file-000.parquet")
    return root


def png(frame: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="PNG")
    return buffer.getvalue()


def write_v21(root: Path) -> Path:
    """physical-intelligence/libero-style keys: ``image`` in parquet (PNG), ``wrist_image`` as video."""
    info = {
        "codebase_version": "v2.1",
        "robot_type": "panda",
        "total_episodes": 3,
        "total_frames": sum(LENGTHS),
        "total_tasks": 2,
        "total_videos": 3,
        "total_chunks": 1,
        "chunks_size": 1000,
        "fps": FPS,
        "splits": {"train": "0:3"},
        "data_path": "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet",
        "video_path": "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4",
        "features": {
            "image": camera("image"),
            "wrist_image": camera("video"),
            "state": vector_feature(8),
            "actions": vector_feature(7),
            **index_features(),
        },
    }
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps(info, indent=4))
    (root / "meta" / "tasks.jsonl").write_text(
        "".join(json.dumps({"task_index": i, "task": t}) + "\n" for i, t in enumerate(TASKS))
    )
    (root / "meta" / "episodes.jsonl").write_text(
        "".join(
            json.dumps({"episode_index": e, "tasks": [TASKS[EP_TASK[e]]], "length": n}) + "\n"
            for e, n in enumerate(LENGTHS)
        )
    )
    (root / "meta" / "episodes_stats.jsonl").write_text(
        "".join(json.dumps({"episode_index": e, "stats": {}}) + "\n" for e in range(3))
    )
    first_index = 0
    for ep, n in enumerate(LENGTHS):
        columns = frame_columns([ep], first_index, "actions", "state", lambda _n: pa.list_(pa.float32()))
        image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        columns["image"] = pa.array(
            [{"bytes": png(make_frame(t)), "path": f"frame_{t:06d}.png"} for t in range(n)], image_type
        )
        path = root / f"data/chunk-000/episode_{ep:06d}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(columns), path)
        write_video(
            root / f"videos/chunk-000/wrist_image/episode_{ep:06d}.mp4",
            [make_frame(t)[:, ::-1] for t in range(n)],
            "libx264",
            {"crf": "10"},
        )
        first_index += n
    return root


@pytest.fixture(scope="module")
def v30(tmp_path_factory) -> Path:
    return write_v30(tmp_path_factory.mktemp("lerobot") / "v30")


@pytest.fixture(scope="module")
def v21(tmp_path_factory) -> Path:
    return write_v21(tmp_path_factory.mktemp("lerobot") / "v21")


def test_v30_vectors_tasks_and_views(v30):
    ds = open_dataset(DataConfig(name="t", format="auto", path=str(v30)))
    assert ds.meta["codebase_version"] == "v3.0"
    assert [ep.length for ep in ds.episodes] == LENGTHS
    assert [ep.instruction for ep in ds.episodes] == [TASKS[i] for i in EP_TASK]
    assert ds.info.tasks == tuple(TASKS) and ds.info.fps == FPS
    assert ds.info.image_shapes == {"agentview": (3, H, W), "wrist": (3, H, W)}
    assert ds.info.proprio_dims == {"state": 8} and ds.info.action_dim == 7
    assert ds.info.view_roles == {"primary": "agentview", "wrist": "wrist"}
    assert ds.info.proprio_roles == {"arm": "state", "gripper": "state", "eef": "state"}  # one packed vector
    ep = ds.episodes[2]  # the episode in data file 001
    np.testing.assert_allclose(ep.actions[[0, 5]], np.array([action(2, 0), action(2, 5)], dtype=np.float32))
    np.testing.assert_allclose(ep.proprio["state"][3], np.array(state(2, 3), dtype=np.float32))


@pytest.mark.parametrize("episode,frames", [(0, [0, 6, 3, 3]), (1, [4, 0]), (2, [5, 0, 2])])
def test_v30_video_frames_are_the_right_ones(v30, episode, frames):
    _, episodes = read_lerobot(v30, LeRobotConfig())
    ep = episodes[episode]
    offset = {0: 0, 1: LENGTHS[0], 2: 0}[episode]  # position inside its video file
    agent, wrist = ep.images["agentview"][frames], ep.images["wrist"][frames]
    assert agent.shape == (len(frames), H, W, 3) and agent.dtype == np.uint8
    for got_a, got_w, t in zip(agent, wrist, frames, strict=True):
        expected = block_colour(offset + t).astype(float)
        np.testing.assert_allclose(top_left(got_a), expected, atol=TOL)
        np.testing.assert_allclose(top_right(got_w), expected, atol=TOL)  # the mirrored camera
        np.testing.assert_allclose(top_right(got_a), 128, atol=TOL)


def test_libero_orientation_option_reverses_columns(v30):
    """LIBERO conversions store the OpenGL frame rotated by 180 degrees: upright = columns reversed."""
    _, plain = read_lerobot(v30, LeRobotConfig())
    _, libero = read_lerobot(v30, LeRobotConfig(image_convention="opengl", rotated_180=True))
    np.testing.assert_array_equal(libero[1].images["agentview"][[2]], plain[1].images["agentview"][[2]][:, :, ::-1])


def test_v21_with_parquet_images_and_video(v21):
    ds = open_dataset(DataConfig(name="t", format="lerobot", path=str(v21), image_size=[24, 32]))
    assert ds.meta["codebase_version"] == "v2.1"
    assert set(ds.info.image_shapes) == {"agentview", "wrist"} and ds.info.image_shapes["agentview"] == (3, 24, 32)
    ep = ds.episodes[1]
    np.testing.assert_allclose(ep.actions[4], np.array(action(1, 4), dtype=np.float32))
    np.testing.assert_allclose(ep.proprio["state"][0], np.array(state(1, 0), dtype=np.float32))
    full = read_lerobot(v21, LeRobotConfig())[1][1]
    np.testing.assert_array_equal(full.images["agentview"][[3, 1]], np.stack([make_frame(3), make_frame(1)]))  # PNG
    wrist = full.images["wrist"][[4, 0]]
    np.testing.assert_allclose(top_right(wrist[0]), block_colour(4).astype(float), atol=TOL)
    np.testing.assert_allclose(top_right(wrist[1]), block_colour(0).astype(float), atol=TOL)
    assert ep.images["agentview"][[0]].shape == (1, 24, 32, 3)


def test_views_option_and_fingerprint(v21):
    base = open_dataset(DataConfig(name="t", format="lerobot", path=str(v21)))
    renamed = open_dataset(DataConfig(name="t", format="lerobot", path=str(v21), views={"front": "image"}))
    assert list(renamed.episodes[0].images) == ["front"]
    assert renamed.fingerprint != base.fingerprint
    assert open_dataset(DataConfig(name="t", format="lerobot", path=str(v21))).fingerprint == base.fingerprint
    with pytest.raises(DataError, match=r"info\.json: data\.views\.front='top' is not a camera feature.*'image'"):
        open_dataset(DataConfig(name="t", format="lerobot", path=str(v21), views={"front": "top"}))


def _edit_info(root: Path, edit) -> None:
    path = root / "meta" / "info.json"
    info = json.loads(path.read_text())
    edit(info)
    path.write_text(json.dumps(info))


def test_missing_info_json(tmp_path):
    (tmp_path / "meta").mkdir()
    with pytest.raises(DataError, match=r"meta/info\.json is missing: .* is not a LeRobot dataset folder"):
        read_lerobot(tmp_path, LeRobotConfig())


def test_unsupported_codebase_version(tmp_path):
    root = write_v21(tmp_path / "ds")
    _edit_info(root, lambda info: info.update(codebase_version="v1.6"))
    with pytest.raises(DataError, match=r"info\.json: codebase_version 'v1\.6' is not supported.*'v2\.1', 'v3\.0'"):
        read_lerobot(root, LeRobotConfig())


def test_missing_action_feature(tmp_path):
    root = write_v21(tmp_path / "ds")
    _edit_info(root, lambda info: info["features"].pop("actions"))
    with pytest.raises(DataError, match=r"info\.json: no action feature; expected one of \('action', 'actions'\)"):
        read_lerobot(root, LeRobotConfig())


def test_missing_column_and_mismatched_length(tmp_path):
    root = write_v21(tmp_path / "ds")
    path = root / "data/chunk-000/episode_000001.parquet"
    pq.write_table(pq.read_table(path).drop(["state"]), path)
    with pytest.raises(DataError, match=r"episode_000001\.parquet: missing columns \['state'\]"):
        read_lerobot(root, LeRobotConfig())
    root = write_v21(tmp_path / "ds2")
    lines = (root / "meta/episodes.jsonl").read_text().replace('"length": 5', '"length": 9')
    (root / "meta/episodes.jsonl").write_text(lines)
    with pytest.raises(DataError, match=r"episode_000001\.parquet: episode 1 has 5 rows.*says length 9"):
        read_lerobot(root, LeRobotConfig())


def test_missing_video_file(tmp_path):
    root = write_v21(tmp_path / "ds")
    (root / "videos/chunk-000/wrist_image/episode_000002.mp4").unlink()
    with pytest.raises(DataError, match=r"episode_000002\.mp4 is missing \(camera 'wrist_image', episode 2\)"):
        read_lerobot(root, LeRobotConfig())


def test_hub_id_while_offline_says_to_set_data_path():
    # tests/conftest.py sets HF_HUB_OFFLINE=1 and nothing here downloads datasets, so the snapshot is not cached
    with pytest.raises(DataError, match=r"cannot get hub dataset 'lerobot/libero'.*set data\.path=DIR"):
        open_dataset(DataConfig(name="t", format="lerobot", repo_id="lerobot/libero"))


def _decode_every_frame(path: str) -> None:
    """What a DataLoader worker does: open its own container through the process cache, decode, and at some point
    collect garbage (a container is in a reference cycle with its streams, so only the collector frees it)."""
    for _ in lerobot_media._containers.get(path).decode(video=0):
        pass
    gc.collect()


def test_a_forked_worker_never_frees_the_parents_av1_decoders(tmp_path):
    """Freeing an inherited AV1 container in a forked child joins libdav1d threads that do not exist there: the
    worker hung forever (seen in random test order, when AV1 frames had been decoded before a DataLoader fork)."""
    path = tmp_path / "av1.mp4"
    write_video(path, [make_frame(p) for p in range(30)], "libsvtav1", {})  # long GOP: decoder threads stay busy
    container = lerobot_media._containers.get(str(path))
    next(iter(container.decode(container.streams.video[0])))  # this process now runs the decoder's threads
    del container
    child = multiprocessing.get_context("fork").Process(target=_decode_every_frame, args=(str(path),))
    child.start()
    child.join(timeout=30)  # it decodes in about a second; the bug hangs forever
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    assert not hung and child.exitcode == 0


def test_forked_dataloader_workers_decode_the_same_frames(v30):
    """Decoders opened in the parent are not reused after the fork; workers open their own."""
    ds = open_dataset(DataConfig(name="t", format="lerobot", path=str(v30)))
    spec = DataSpec(obs_offsets=(-1, 0, 2), action_offsets=(0,), views=("agentview", "wrist"))
    windows = WindowDataset(ds, spec, Normalizer.from_dataset(ds, spec, cache=False))
    serial = [windows[i] for i in range(len(windows))]  # fills this process's decoder cache first
    loader = DataLoader(windows, batch_size=4, num_workers=2, multiprocessing_context="fork")
    parallel = [batch for batch in loader]
    for key in (image_key("agentview"), image_key("wrist"), "action"):
        torch.testing.assert_close(torch.cat([b[key] for b in parallel]), torch.stack([s[key] for s in serial]))
