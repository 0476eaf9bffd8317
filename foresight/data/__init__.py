"""Datasets for foresight: readers that yield Episodes, windowed samples, normalisation and augmentation.

Typical use (what the trainer does)::

    cfg = load_data_config(["data=libero_10", "data.path=/data/libero_10"])
    ds = open_dataset(cfg)
    norm = Normalizer.from_dataset(ds, spec)
    train_idx, val_idx = split_episodes(len(ds.episodes), cfg.val_fraction, seed)
    train = WindowDataset(ds, spec, norm, episode_indices=train_idx, augment=Augment.from_config(cfg.augment))

Check a dataset before training with ``python -m foresight.data.inspect data=NAME data.path=...``.

The exports are loaded lazily: a simulator worker imports :mod:`foresight.data.orientation` alone, and must not
pay for torch, which the readers and windows import.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Augment": "foresight.data.augment",
    "AugmentConfig": "foresight.data.config",
    "DataConfig": "foresight.data.config",
    "DataError": "foresight.data.source",
    "DemoConfig": "foresight.data.config",
    "EpisodeDataset": "foresight.data.source",
    "FORMATS": "foresight.data.source",
    "Normalizer": "foresight.data.normalize",
    "WindowDataset": "foresight.data.windows",
    "info_from_episodes": "foresight.data.source",
    "load_data_config": "foresight.data.config",
    "open_dataset": "foresight.data.source",
    "register_format": "foresight.data.source",
    "split_episodes": "foresight.data.windows",
    "to_upright": "foresight.data.orientation",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'foresight.data' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
