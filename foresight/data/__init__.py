"""Datasets for foresight: readers that yield Episodes, windowed samples, normalisation and augmentation.

Typical use (what the trainer does)::

    cfg = load_data_config(["data=libero_10", "data.path=/data/libero_10"])
    ds = open_dataset(cfg)
    norm = Normalizer.from_dataset(ds, spec)
    train_idx, val_idx = split_episodes(len(ds.episodes), cfg.val_fraction, seed)
    train = WindowDataset(ds, spec, norm, episode_indices=train_idx, augment=Augment.from_config(cfg.augment))

Check a dataset before training with ``python -m foresight.data.inspect data=NAME data.path=...``.
"""

from foresight.data.augment import Augment
from foresight.data.config import AugmentConfig, DataConfig, DemoConfig, load_data_config
from foresight.data.normalize import Normalizer
from foresight.data.orientation import to_upright
from foresight.data.source import (
    FORMATS,
    DataError,
    EpisodeDataset,
    info_from_episodes,
    open_dataset,
    register_format,
)
from foresight.data.windows import WindowDataset, split_episodes

__all__ = [
    "FORMATS",
    "Augment",
    "AugmentConfig",
    "DataConfig",
    "DataError",
    "DemoConfig",
    "EpisodeDataset",
    "Normalizer",
    "WindowDataset",
    "info_from_episodes",
    "load_data_config",
    "open_dataset",
    "register_format",
    "split_episodes",
    "to_upright",
]
