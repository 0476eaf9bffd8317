"""Windowed training samples: what a method's DataSpec asks for around each anchor frame.

A sample is anchored at frame ``t`` of one episode and holds, for every observation offset ``o`` in
``spec.obs_offsets``, the frame ``t + o`` (images of ``spec.views`` and the concatenated ``spec.proprio_keys``),
and for every action offset ``a`` in ``spec.action_offsets`` the action at ``t + a``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from foresight.data.augment import Augment, sample_seed
from foresight.data.normalize import Normalizer
from foresight.data.source import DataError, EpisodeDataset
from foresight.types import (
    ACTION,
    ACTION_IS_PAD,
    INSTRUCTION,
    OBS_IS_PAD,
    STATE,
    TASK_INDEX,
    DataSpec,
    image_key,
)

SampleExtra = Callable[[int, np.ndarray], Mapping[str, torch.Tensor]]
"""``extra(episode_index, obs_frames) -> {batch key: tensor}``: adds keys to each sample (e.g. the feature cache's
``features.<encoder>.<view>``), given the clamped frame index of every observation offset."""


def split_episodes(num_episodes: int, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Hold out ``round(num_episodes * val_fraction)`` whole episodes (at least one when the fraction is positive).

    Split by episode, never by frame, so no validation window shares frames with a training window. The result is
    a pure function of the three arguments; both lists are sorted.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    num_val = round(num_episodes * val_fraction)
    if val_fraction > 0 and num_val == 0:
        num_val = 1
    if num_val >= num_episodes and num_val > 0:
        raise ValueError(
            f"cannot hold out {num_val} of {num_episodes} episodes for validation and keep any for training; "
            "lower data.val_fraction or use more episodes"
        )
    order = np.random.default_rng(seed).permutation(num_episodes)
    return sorted(int(i) for i in order[num_val:]), sorted(int(i) for i in order[:num_val])


class WindowDataset(Dataset):
    """Map-style dataset of windowed, normalised samples over selected episodes.

    **Anchors.** Every frame ``t = 0 .. T-1`` of every selected episode is an anchor, in episode order, so
    ``len(self) == sum(T)``. Sample ``i`` is anchor ``t`` of episode ``e`` as given by :meth:`locate`.

    **Episode ends.** An offset that lands outside ``[0, T-1]`` is clamped to the nearest edge frame (the first
    frame before the start, the last frame after the end) and flagged ``True`` in ``observation.is_pad`` /
    ``action_is_pad``. The values are real frames, not zeros, so encoders see ordinary inputs; losses use the
    flags to ignore padded actions.

    **Sample keys** (unbatched; see :mod:`foresight.types`): ``action`` ``(A, action_dim)`` float32 normalised,
    ``action_is_pad`` ``(A,)`` bool, ``observation.state`` ``(O, proprio_dim)`` float32 normalised (only when the
    spec reads proprio keys), ``observation.images.<view>`` ``(O, 3, H, W)`` uint8 upright (only when
    ``spec.load_pixels``), ``observation.is_pad`` ``(O,)`` bool, ``instruction`` str, ``task_index`` int64,
    plus whatever ``extras`` add. ``torch.utils.data.default_collate`` turns a list of samples into a Batch.

    **Augmentation** is deterministic: sample ``i`` in epoch ``e`` draws its crop from ``(seed, e, i)`` only, so
    a resumed run (call :meth:`set_epoch`) sees the same images as an uninterrupted one, whatever the workers.
    """

    def __init__(
        self,
        dataset: EpisodeDataset,
        spec: DataSpec,
        normalizer: Normalizer,
        episode_indices: Sequence[int] | None = None,
        augment: Augment | None = None,
        *,
        seed: int = 0,
        extras: Sequence[SampleExtra] = (),
    ) -> None:
        self.dataset = dataset
        self.spec = spec
        self.normalizer = normalizer
        self.augment = augment
        self.seed = seed
        self.epoch = 0
        self.extras = tuple(extras)
        info = dataset.info
        if spec.load_pixels:
            missing = [v for v in spec.views if v not in info.image_shapes]
            if missing:
                raise DataError(
                    f"views {missing} are not in {dataset.describe_source()}; it has {sorted(info.image_shapes)}"
                )
        info.proprio_dim(spec.proprio_keys)  # KeyError naming the available keys
        for key in (ACTION, STATE) if spec.proprio_keys else (ACTION,):
            normalizer.mode(key)  # KeyError naming the keys the normalizer knows
        indices = range(len(dataset.episodes)) if episode_indices is None else episode_indices
        self.episode_indices = np.asarray(list(indices), dtype=np.int64)
        if self.episode_indices.size and (
            self.episode_indices.min() < 0 or self.episode_indices.max() >= len(dataset.episodes)
        ):
            raise IndexError(f"episode_indices must lie in [0, {len(dataset.episodes)}), got {list(indices)}")
        lengths = np.array([dataset.episodes[e].length for e in self.episode_indices], dtype=np.int64)
        self._ends = np.cumsum(lengths)
        self._obs_offsets = np.asarray(spec.obs_offsets, dtype=np.int64)
        self._action_offsets = np.asarray(spec.action_offsets, dtype=np.int64)
        self._task_index = {task: i for i, task in enumerate(info.tasks)}

    def __len__(self) -> int:
        return int(self._ends[-1]) if self._ends.size else 0

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation draws are used (call before iterating each epoch)."""
        self.epoch = int(epoch)

    def locate(self, index: int) -> tuple[int, int]:
        """Sample index -> (episode index in the dataset, anchor frame t)."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample index {index} out of range for {len(self)} samples")
        position = int(np.searchsorted(self._ends, index, side="right"))
        start = int(self._ends[position - 1]) if position else 0
        return int(self.episode_indices[position]), index - start

    def __getitem__(self, index: int) -> dict[str, Any]:
        episode_index, t = self.locate(int(index))
        episode = self.dataset.episodes[episode_index]
        last = episode.length - 1
        obs_raw = t + self._obs_offsets
        act_raw = t + self._action_offsets
        obs_frames = np.clip(obs_raw, 0, last)
        act_frames = np.clip(act_raw, 0, last)
        actions = torch.from_numpy(np.asarray(episode.actions[act_frames], dtype=np.float32))
        sample: dict[str, Any] = {
            ACTION: self.normalizer.normalize(ACTION, actions),
            ACTION_IS_PAD: torch.from_numpy((act_raw < 0) | (act_raw > last)),
            OBS_IS_PAD: torch.from_numpy((obs_raw < 0) | (obs_raw > last)),
            INSTRUCTION: episode.instruction,
            TASK_INDEX: torch.tensor(self._task_index[episode.task], dtype=torch.int64),
        }
        if self.spec.proprio_keys:
            state = np.concatenate(
                [np.asarray(episode.proprio[k][obs_frames], dtype=np.float32) for k in self.spec.proprio_keys], axis=-1
            )
            sample[STATE] = self.normalizer.normalize(STATE, torch.from_numpy(state))
        if self.spec.load_pixels and self.spec.views:
            images = {
                view: torch.from_numpy(np.ascontiguousarray(episode.images[view][obs_frames])).permute(0, 3, 1, 2)
                for view in self.spec.views
            }
            if self.augment is not None:
                images = self.augment(images, sample_seed(self.seed, self.epoch, int(index)))
            for view, frames in images.items():
                sample[image_key(view)] = frames.contiguous()
        for extra in self.extras:
            sample.update(extra(episode_index, obs_frames))
        return sample
